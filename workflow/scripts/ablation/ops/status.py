"""`make status`: how far the study is, per study, and when it will end.

For every run of the plan: done (its metrics.json says ok), diverged, running (a progress file a live training run
keeps beside its checkpoint: epoch and step), failed (an attempt ended with an exception and none is running), or
pending. The ETA is the cost model's estimate of what is left (pending runs, and the rest of each running one),
corrected by how this host's finished runs compare with the model (their training and evaluation times, summed over
every attempt, against the model's estimate of those), scheduled as `make plan` schedules the study.
Reads files only: no torch, no snakemake.

    python -m ablation.ops.status [--configfile config/config.yaml] [--cores N]
"""

import argparse
import json
import os
import time
from pathlib import Path

import pandas as pd

from ablation.data.split import split_sizes
from ablation.ops.cost import compute_seconds, estimate_seconds, load_throughput, svm_compute_seconds, svm_seconds
from ablation.ops.gpus import cuda_visible, host_gpus
from ablation.ops.plan import THROUGHPUT_PATH, hours, local_jobs, wall_time
from ablation.outputs import paths
from ablation.outputs.progress import live_progress
from ablation.study.config import load_config, resnet_runs, svm_runs
from ablation.study.factors import RESNET_FACTORS, SVM_FACTORS

STATES = ["done", "running", "pending", "failed", "diverged"]


def run_state(outdir: Path, kind: str, point: str, now: float) -> dict:
    """One run's state, with its epoch and step while running and its measured training time once done."""
    metrics = Path(paths.run_metrics(outdir, kind, point))
    if metrics.exists():
        try:
            record = json.loads(metrics.read_text())
        except ValueError:
            return {"state": "failed", "why": "its metrics.json cannot be read"}
        return {
            "state": "done" if record.get("status") == "ok" else "diverged",
            "measured_s": measured_seconds(record),
            "epochs_done": len(record.get("history", [])),
        }
    checkpoint = Path(paths.checkpoint(outdir, kind, point))
    running = live_progress(checkpoint.with_name(paths.PROGRESS), now)
    if running:
        return {"state": "running", **running}
    attempts = checkpoint.with_name(paths.ATTEMPTS)
    if attempts.exists() and "the attempt failed" in attempts.read_text()[-20_000:]:
        return {"state": "failed", "why": f"see {attempts}"}
    return {"state": "pending"}


def measured_seconds(record: dict) -> float | None:
    """A finished run's own training and evaluation seconds, summed over all its attempts (a resumed run's epochs
    from before its last attempt included), which the cost model's `compute_seconds` estimates; None where the record
    lacks one of them. Not the attempt's interval: it covers the last attempt only. An SVM's fit and predict; a
    `seed000` SVM run also scores its training images, untimed, so it has none."""
    if record.get("kind") == "svm":
        if record.get("params", {}).get("protocol") == "seed000":
            return None
        return record["fit_time_s"] + record["predict_time_s"]
    evaluation = [h.get("eval_time_s") for h in record.get("history", [])] + [record.get("test_time_s")]
    if record.get("train_time_s") is None or None in evaluation:
        return None
    return record["train_time_s"] + sum(evaluation)


def run_rows(config: dict, throughput: dict, now: float) -> list[dict]:
    """Each planned run's state, studies, device and estimated seconds (whole, and of training and evaluation)."""
    outdir = Path(config["outdir"])
    sizes = split_sizes(config)
    planned, _ = resnet_runs(config, cuda_visible(config))
    rows = []
    for kind, table, factors in (("resnet", planned, RESNET_FACTORS), ("svm", svm_runs(config), SVM_FACTORS)):
        for run in table.to_dict("records"):
            state = run_state(outdir, kind, paths.point(run, factors), now)
            if kind == "resnet":
                estimate, compute = estimate_seconds(run, sizes, throughput), compute_seconds(run, sizes, throughput)
            else:
                estimate = svm_seconds(run["train_samples"], run["protocol"])
                compute = svm_compute_seconds(run["train_samples"], run["protocol"])
            rows.append(
                {
                    **state,
                    "kind": kind,
                    "studies": run["studies"],
                    "device": run.get("device", "cpu"),
                    "exclusive": run["exclusive"],
                    "estimate_s": estimate,
                    "compute_s": compute,
                    "epochs": run.get("epochs"),
                    "point": paths.point(run, factors),
                }
            )
    return rows


def study_status(config: dict, cores: int, throughput: dict, now: float | None = None) -> dict:
    """Counts per study and state, the running runs, and the ETA with its arithmetic."""
    rows = run_rows(config, throughput, time.time() if now is None else now)
    runs = pd.DataFrame(rows)
    # The cost model, corrected by this host: the finished runs' measured training and evaluation time against the
    # model's estimate of it.
    done = runs[(runs["state"] == "done") & runs["measured_s"].notna()] if "measured_s" in runs else runs.iloc[:0]
    correction = float(done["measured_s"].sum() / done["compute_s"].sum()) if len(done) else 1.0
    left = runs[runs["state"].isin(["pending", "running", "failed"])].copy()
    running = left["state"] == "running"
    if "epoch" in left:
        share_done = ((left["epoch"].fillna(1) - 1) / left["epochs"].fillna(1)).where(running, 0)
    else:
        share_done = 0.0
    # What is left of each run: its start-up unless it is running, and its share of training and evaluation not done.
    startup_s = (left["estimate_s"] - left["compute_s"]).where(~running, 0.0)
    left["estimate_s"] = startup_s + correction * left["compute_s"] * (1 - share_done)
    jobs, cpu_slots, gpus, gpu_slots = local_jobs(
        config, left[left["kind"] == "resnet"], left[left["kind"] == "svm"], cores
    )
    eta_s = wall_time(jobs, cpu_slots, gpus * gpu_slots) if len(jobs) else 0.0
    per_study = {}
    for row in rows:
        for study in row["studies"].split(","):
            per_study.setdefault(study, dict.fromkeys(STATES, 0))[row["state"]] += 1
    running = [r for r in rows if r["state"] == "running"]
    return {
        "per_study": per_study,
        "running": running,
        "eta_s": eta_s,
        "correction": correction,
        "finished_timed": len(done),
        "totals": {s: int((runs["state"] == s).sum()) for s in STATES},
    }


def render(status: dict) -> str:
    width = max([24, *(len(s) for s in status["per_study"])])
    lines = [f"{'study':<{width}} " + " ".join(f"{s:>8}" for s in STATES)]
    for study, counts in status["per_study"].items():
        lines.append(f"{study:<{width}} " + " ".join(f"{counts[s]:>8}" for s in STATES))
    lines.append(f"{'distinct runs':<{width}} " + " ".join(f"{status['totals'][s]:>8}" for s in STATES))
    for run in status["running"]:
        lines.append(
            f"running: epoch {run['epoch']}/{run['epochs']}, step {run['step']}/{run['steps']}: {run['point']}"
        )
    lines.append(
        f"ETA: {hours(status['eta_s'])} from now (the cost model x {status['correction']:.2f}, this host's measured "
        f"over estimated training and evaluation time of {status['finished_timed']} finished run(s); what is left, "
        "scheduled as make plan does)"
    )
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configfile", default="config/config.yaml")
    parser.add_argument("--cores", type=int, default=os.cpu_count())
    parser.add_argument("--throughput", default=str(THROUGHPUT_PATH))
    args = parser.parse_args(argv)
    config = load_config(args.configfile)
    config["gpus"] = host_gpus(config)
    print(render(study_status(config, args.cores, load_throughput(args.throughput))))


if __name__ == "__main__":
    main()
