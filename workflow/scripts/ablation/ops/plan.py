"""`make plan`: what a config will run and what it will cost, before launching anything.

python -m ablation.ops.plan [--configfile config/config.yaml] [--cores N] [--gpu auto|true|false]
"""

import argparse
import heapq
import os
import sys
from pathlib import Path

import pandas as pd

from ablation.data.split import split_sizes
from ablation.ops.cost import estimate_seconds, load_throughput, svm_seconds
from ablation.ops.gpus import cuda_visible, host_gpus
from ablation.ops.migrate import pending
from ablation.study.config import load_config, resnet_runs, serves_any, svm_runs

THROUGHPUT_PATH = Path("resources/throughput.json")


def makespan(durations: list[float], slots: int) -> float:
    """Wall time of independent jobs on `slots` parallel slots, longest first (how snakemake fills free cores)."""
    if not durations:
        return 0.0
    finish = [0.0] * max(1, slots)
    for d in sorted(durations, reverse=True):
        heapq.heapreplace(finish, finish[0] + d)
    return max(finish)


def wall_time(jobs: pd.DataFrame, cpu_slots: int, gpu_slots: int) -> float:
    """Wall time of a plan's jobs (device, exclusive, estimate_s) on this host: the exclusive ones one after another,
    alone on the machine; the rest on `cpu_slots` CPU slots beside `gpu_slots` GPU slots (SVM fits take a CPU slot)."""
    exclusive = jobs["exclusive"].astype(bool)
    rest = jobs[~exclusive]
    cpu = makespan(rest.loc[rest["device"] == "cpu", "estimate_s"].tolist(), cpu_slots)
    gpu = makespan(rest.loc[rest["device"] == "cuda", "estimate_s"].tolist(), gpu_slots)
    return jobs.loc[exclusive, "estimate_s"].sum() + max(cpu, gpu)


def plan_table(config: dict, visible: bool, throughput: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(planned, left_out) ResNet runs, each with its estimated seconds."""
    sizes = split_sizes(config)
    planned, left_out = resnet_runs(config, visible)
    for table in (planned, left_out):
        table["estimate_s"] = [estimate_seconds(r, sizes, throughput) for r in table.to_dict("records")]
    return planned, left_out


def hours(seconds: float) -> str:
    return f"{seconds / 3600:,.1f} h" if seconds >= 3600 else f"{seconds / 60:,.1f} min"


def render(config: dict, source: str, cores: int, visible: bool, throughput: dict, throughput_source: str) -> str:
    planned, left_out = plan_table(config, visible, throughput)
    svm = svm_runs(config)
    svm["estimate_s"] = [svm_seconds(n, p) for n, p in zip(svm["train_samples"], svm["protocol"])]
    lines = [f"Plan for {source} (gpu: {config['gpu']}; CUDA visible here: {'yes' if visible else 'no'})"]
    lines.append(f"Throughputs: {throughput_source}")
    lines.append("")
    w = max(24, *(len(name) for kind in ("resnet_studies", "svm_studies") for name in config[kind]))
    lines.append(f"{'study':<{w}} {'runs':>6} {'left out (no GPU)':>18} {'compute':>12}")
    studies = list(config["resnet_studies"])
    for study in studies:
        mine = planned[serves_any(planned["studies"], {study})]
        out = left_out[serves_any(left_out["studies"], {study})]
        lines.append(f"{study:<{w}} {len(mine):>6} {len(out):>18} {hours(mine['estimate_s'].sum()):>12}")
    for study in config["svm_studies"]:
        mine = svm[serves_any(svm["studies"], {study})]
        lines.append(f"{study:<{w}} {len(mine):>6} {'(SVM)':>18} {hours(mine['estimate_s'].sum()):>12}")
    lines.append(f"{'distinct ResNet runs':<{w}} {len(planned):>6} {len(left_out):>18}")
    lines.append(f"{'distinct SVM runs':<{w}} {len(svm):>6} {'':>18} {hours(svm['estimate_s'].sum()):>12}")
    lines.append("")
    lines.append(f"{'device':<8} {'runs':>6} {'compute':>12}")
    for device in ("cpu", "cuda"):
        mine = planned[planned["device"] == device]
        lines.append(f"{device:<8} {len(mine):>6} {hours(mine['estimate_s'].sum()):>12}")
    lines.append(f"{'svm':<8} {len(svm):>6} {hours(svm['estimate_s'].sum()):>12}")
    if len(left_out):
        lines.append(f"{'(cuda, left out)':<8} {len(left_out):>6} {hours(left_out['estimate_s'].sum()):>12}")
    jobs, cpu_slots, gpus, gpu_slots = local_jobs(config, planned, svm, cores)
    shared_wall = wall_time(jobs.assign(exclusive=False), cpu_slots, gpus * gpu_slots)
    wall = wall_time(jobs, cpu_slots, gpus * gpu_slots)
    timed = jobs[jobs["exclusive"].astype(bool)]
    lines.append("")
    lines.append(
        f"Local wall time at --cores {cores}: {hours(wall)} "
        f"({cpu_slots} CPU run(s) at a time with {config['training']['cpu_threads']} thread(s) each"
        + (f", {gpu_slots} GPU run(s) at a time on each of {gpus} GPU(s))" if (jobs["device"] == "cuda").any() else ")")
    )
    if len(timed):
        # A timed CPU run has every core, but is estimated at one thread's throughput: an upper bound.
        lines.append(
            f"  of which {len(timed)} timed run(s), one at a time alone on the machine (timing: exclusive): "
            f"{hours(timed['estimate_s'].sum())}. With `timing: shared` the plan would take {hours(shared_wall)}: "
            f"exclusivity costs {hours(wall - shared_wall)} (at most; timed CPU runs use all cores)."
        )
    return "\n".join(lines)


def local_jobs(config: dict, planned: pd.DataFrame, svm: pd.DataFrame, cores: int):
    """(jobs with device, exclusive and estimate_s; CPU slots; GPUs; slots per GPU) of the plan on this host."""
    cpu_slots = max(1, cores // config["training"]["cpu_threads"])
    # GPUs x gpu_slots CUDA runs at a time, as the workflow's GPU leases allow (one GPU assumed where none is seen).
    gpus, gpu_slots = max(1, host_gpus(config)), config["gpu_slots"]
    columns = ["device", "exclusive", "estimate_s"]
    return pd.concat([planned[columns], svm.assign(device="cpu")[columns]]), cpu_slots, gpus, gpu_slots


# `make run` asks before starting a plan longer than this on a host without a GPU.
CONFIRM_ABOVE_S = 24 * 3600


def confirm(config: dict, cores: int, visible: bool, throughput: dict, yes: bool, stdin=sys.stdin) -> bool:
    """Whether `make run` goes on: yes unless the plan takes over a day on a host without a GPU, and a person at a
    terminal, asked, says no. YES=1 (`yes`) and no terminal go on."""
    planned, _ = plan_table(config, visible, throughput)
    svm = svm_runs(config)
    svm["estimate_s"] = [svm_seconds(n, p) for n, p in zip(svm["train_samples"], svm["protocol"])]
    jobs, cpu_slots, gpus, gpu_slots = local_jobs(config, planned, svm, cores)
    wall = wall_time(jobs, cpu_slots, gpus * gpu_slots)
    if wall <= CONFIRM_ABOVE_S or (planned["device"] == "cuda").any():
        return True
    question = (
        f"This plan takes about {hours(wall)} on this host, which has no GPU. Alternatives: `make demo` (the same "
        "pipeline in minutes), a GPU host (docs/gpu.md), or a cluster (`make run ARGS='--profile "
        "profiles/slurm'`)."
    )
    if yes:
        print(f"{question} YES=1: starting it.")
        return True
    if not stdin.isatty():
        print(f"{question} No terminal to ask: starting it.")
        return True
    print(f"{question} Start it anyway? [y/N] ", end="", flush=True)
    return stdin.readline().strip().lower() in ("y", "yes")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configfile", default="config/config.yaml")
    parser.add_argument("--cores", type=int, default=os.cpu_count())
    parser.add_argument("--gpu", choices=["auto", "true", "false"], help="override the config's gpu key")
    parser.add_argument("--throughput", default=str(THROUGHPUT_PATH))
    parser.add_argument("--confirm", action="store_true", help="`make run`: ask before a plan of over a day on a CPU")
    parser.add_argument("--yes", action="store_true", help="with --confirm: do not ask (YES=1)")
    args = parser.parse_args(argv)
    config = load_config(args.configfile)
    if note := pending(config["outdir"], args.configfile):
        sys.exit(note)
    if args.gpu:
        config["gpu"] = args.gpu if args.gpu == "auto" else args.gpu == "true"
    throughput = load_throughput(args.throughput)
    source = f"measured on this host ({args.throughput})" if throughput else "documented defaults (make calibrate)"
    config["gpus"] = host_gpus(config)  # counted once (nvidia-smi), for the plan and the GPU wall time
    visible = cuda_visible(config)
    print(render(config, args.configfile, args.cores, visible, throughput, source))
    if args.confirm and not confirm(config, args.cores, visible, throughput, args.yes):
        sys.exit("Not started. `make demo` runs the same pipeline in minutes.")


if __name__ == "__main__":
    main()
