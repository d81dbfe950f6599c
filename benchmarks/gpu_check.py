"""`make gpu-check`: the GPU checks of the study, on a GPU host, in one command, in order of value.

a. tests: the CUDA tests (`pytest -m cuda`: the CUDA-graph capture, the leases, pinning, amp at 224).
b. bench: `make bench`'s training part on the GPU, ResNet-18 at batch 16 and 32: the sources' loop, our DataLoader loop,
   resident + CUDA graph; medians of interleaved repeats, MFU against the matmul peak measured in the same run.
c. as_run: source 001's Question 2 row 1 (Fashion-MNIST, ResNet-18, batch 16, Adam, 1e-3, 5 epochs) as its code ran it
   (224x224, amp, 1ch, its split, test set and normalisation) through snakemake with the resident loader: its test
   accuracy beside source 001's published one.
d. as_run_dataloader: the same row with the sources' DataLoader loop, `--timing-epochs` of its epochs (its epochs take
   alike): the training time per epoch x its epochs beside source 001's, on a T4.
e. ours_28: the same row at 28x28 as ours (fp32, pooled split) with the resident loop (its epochs: the accuracy beside
   ours) and the DataLoader loop (`--timing-epochs`).
f. slots: `--slots-runs` (4) such 28x28 runs (seeds 0, 1, ..., DataLoader loop, `--timing-epochs`, on `--slots-subset`
   images) at gpu_slots 4 against one at a time: the grid's wall time each way.
g. projection: every CUDA run of the default config on this GPU, from the per-image times measured in c-f at the
   faster slot count, scheduled as `make plan` schedules them (timed runs alone, the rest on the GPU slots).

`--budget S`: a part starts only if its estimate fits in what is left of S seconds, a running part is stopped at the
budget, and the command ends before it, saying which parts it skipped and why. The estimates (`--dry` prints them
for this device without running anything) come from the sources' T4 figures and the FLOP counts on CUDA, and from the
cost model's CPU rates on a CPU. Writes benchmarks/results/gpu-check-<date>.json (device, torch, CUDA, date, and
each part as soon as it ends) and a .log beside it with every table; both are rewritten as each part ends, so that a
time limit keeps what was done. On a host without CUDA it stops, unless `--device cpu` (the tests run the machinery
that way, on fixture data, fp32 for amp).

    make gpu-check BUDGET=480                        # a-g as far as 480 s go
    make gpu-check ARGS='--dry' BUDGET=480           # each part's expected time on the GPU host, nothing run
    make gpu-check ARGS='--configfile dist/gpu-bundle/offline.yaml'   # the data from a bundle
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow/scripts"))

import torch  # noqa: E402

from ablation.data.split import part_sizes  # noqa: E402
from ablation.ops.cost import DEFAULT_GPU_STEPS_PER_S, STARTUP_S, images_per_s, macs_per_image  # noqa: E402
from ablation.ops.plan import hours, wall_time  # noqa: E402
from ablation.study.config import load_config, resnet_runs, validate_config  # noqa: E402

SOURCE001_ROWS = REPO / "report/seeds/seed001_dl_ablation_results.jsonl"
# In order of value.
CHECK_PARTS = ("tests", "bench", "as_run", "as_run_dataloader", "ours_28", "slots", "projection")
LETTERS = dict(zip(CHECK_PARTS, "abcdefg", strict=True))
OUR_28_ACCURACY = 90.16  # the study's own run of the row at 28x28 (pooled split, fp32), beside source 001's
AS_RUN = "seed001_q2_as_run"
# Ours at 28x28: the factors our studies train with, in place of the source's protocol.
OURS_28 = {"input_size": 28, "stem": "1ch", "precision": "fp32", "split": "pooled", "normalisation": "train_stats"}


def versions(device: str) -> dict:
    info = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "device": device,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if device == "cuda" else None,
    }
    info["device_name"] = torch.cuda.get_device_name(0) if device == "cuda" else "CPU"
    return info


def cuda_test_files() -> list[str]:
    """The test files with CUDA tests: only they are collected, so that a venv without the browser tools (the GPU
    host's bundle) collects no module it cannot import."""
    return sorted(str(p.relative_to(REPO)) for p in (REPO / "tests").glob("test_*.py") if "mark.cuda" in p.read_text())


def run_tests(check=None) -> dict:
    """`pytest -m cuda`, counted from its summary line."""
    start = time.perf_counter()
    # In one process: a worker per core (the suite's default) would initialise CUDA once per worker.
    command = [sys.executable, "-m", "pytest", *cuda_test_files(), "-m", "cuda", "-q", "-n", "0"]
    if check:
        proc = check.run(command, REPO)
        returncode, output = proc["returncode"], proc["output"]
    else:
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        returncode, output = done.returncode, done.stdout + done.stderr
    lines = [line for line in output.strip().splitlines() if line.strip()]
    summary = lines[-1] if lines else "no output"
    counts = {
        k.strip(" ="): int(n)
        for n, k in (w.split()[:2] for w in summary.strip("= ").split(", ") if w[:1].isdigit() and len(w.split()) > 1)
    }
    if check is None:
        print(f"CUDA tests: {summary}")
    return {
        "returncode": returncode,
        "summary": summary,
        "counts": counts,
        "seconds": time.perf_counter() - start,
        "output_tail": output[-4000:],
    }


def run_bench(out: Path) -> dict:
    path = out.with_name(out.stem + "-bench.json")
    subprocess.run(
        [sys.executable, str(REPO / "benchmarks/bench.py"), "--skip", "grid", "overhead", "timing", "--out", str(path)],
        cwd=REPO,
        check=True,
    )
    return json.loads(path.read_text())


def summary(record: dict) -> dict:
    history = record["history"]
    interval = record.get("conditions", {}).get("interval_unix", [None, None])
    eval_s = sum(h.get("eval_time_s", 0.0) for h in history) + (record.get("test_time_s") or 0.0)
    return {
        "params": record["params"],
        "status": record["status"],
        "test_accuracy": record["test_accuracy"],
        "train_time_s": record["train_time_s"],
        "eval_time_s": eval_s,
        "split": record["split"],
        "attempt_s": interval[1] - interval[0] if None not in interval else None,
        "gpu_name": record["provenance"].get("gpu_name"),
    }


def published(params: dict) -> dict | None:
    """Source 001's committed row for this run's factors (Fashion-MNIST), or None."""
    for line in SOURCE001_ROWS.read_text().splitlines():
        row = json.loads(line)
        if (
            row["dataset"],
            row["model"],
            row["batch_size"],
            row["optimizer"],
            row["learning_rate"],
            row["epochs"],
            row["pin_memory"],
        ) == (
            "FashionMNIST",
            params["model"],
            params["batch_size"],
            params["optimizer"],
            params["lr"],
            params["epochs"],
            params["pin_memory"],
        ):
            return row
    return None


def measured_rates(runs: list[dict]) -> dict:
    """Seconds per training image and per evaluated image, by (model, batch, input size, loader, precision)."""
    rates = {}
    for run in runs:
        if run["status"] != "ok":
            continue
        p, split = run["params"], run["split"]
        key = (p["model"], p["batch_size"], p["input_size"], p["loader"], p["precision"])
        train_s = run["train_time_s"] / (p["epochs"] * split["train"])
        eval_s = run["eval_time_s"] / (p["epochs"] * split["val"] + split["test"])
        rates.setdefault(key, []).append((train_s, eval_s))
    return {key: tuple(statistics.median(v[i] for v in values) for i in range(2)) for key, values in rates.items()}


def project(by_slots: dict, say=print) -> dict:
    """Every CUDA run of the default config on this GPU: per-image times measured in parts c-f at the faster
    slot count (matched on model, batch size, input size, loader and precision; the 3ch stem costs 4.5% more MACs and is
    counted as 1ch), scheduled as `make plan` does. Runs without a measured match are listed, not estimated."""
    best = min(by_slots, key=lambda s: by_slots[s]["wall_s"])
    runs = by_slots[best]["runs"]
    rates = measured_rates(runs)
    overheads = [r["attempt_s"] - r["train_time_s"] - r["eval_time_s"] for r in runs if r["attempt_s"]]
    overhead_s = statistics.median(overheads) if overheads else 0.0
    config = load_config(REPO / "config/config.yaml")
    planned, _ = resnet_runs(config, cuda_visible=True)
    cuda = planned[planned["device"] == "cuda"].copy()
    fractions = config["data"]["split"]
    estimates, unmatched = [], []
    for run in cuda.to_dict("records"):
        key = (run["model"], run["batch_size"], run["input_size"], run["loader"], run["precision"])
        if key not in rates:
            unmatched.append(key)
            estimates.append(None)
            continue
        total = 60_000 if run["split"] != "pooled" else 70_000
        sizes = part_sizes(total, fractions)
        test = 10_000 if run["split"] == "seed001" else sizes["test"]
        train_s, eval_s = rates[key]
        estimates.append(
            overhead_s + run["epochs"] * sizes["train"] * train_s + (run["epochs"] * sizes["val"] + test) * eval_s
        )
    cuda["estimate_s"] = estimates
    matched = cuda.dropna(subset=["estimate_s"])
    wall_s = wall_time(matched, cpu_slots=1, gpu_slots=int(best))
    result = {
        "best_slots": int(best),
        "overhead_s_per_run": overhead_s,
        "cuda_runs": len(cuda),
        "projected_runs": len(matched),
        "compute_s": float(matched["estimate_s"].sum()),
        "wall_s": wall_s,
        "timed_alone_s": float(matched.loc[matched["exclusive"].astype(bool), "estimate_s"].sum()),
        "unmatched": sorted({str(k) for k in unmatched}),
        "rates": {str(k): {"train_s_per_image": v[0], "eval_s_per_image": v[1]} for k, v in rates.items()},
    }
    say(
        f"\nProjection (from parts c-f at gpu_slots {best}): {len(matched)} of {len(cuda)} CUDA runs of the "
        f"default config, {hours(result['compute_s'])} of compute, {hours(wall_s)} wall at {best} slot(s) "
        f"({hours(result['timed_alone_s'])} of it timed runs alone); {overhead_s:.1f} s start-up per run. "
        f"Not projected (no measured match): {len(cuda) - len(matched)} runs, keys {result['unmatched']}"
    )
    return result


# The estimates on CUDA, from the sources' T4 and the FLOP counts. An eager step (the sources' loop, our DataLoader
# loop) is bound by the host's per-kernel launches at 28x28: the sources' T4 took 1 / DEFAULT_GPU_STEPS_PER_S per
# ResNet-18 step there, and the GPU host is assumed no faster at issuing them. Source 001's row at 224 (amp, batch 16)
# took T4_ROW_S for its 5 x 42,000 images: what it took beyond that launch cost is its arithmetic, at a FLOP rate that
# scales with the matrix-multiply peak (the T4's fp16 tensor peak against the one measured on the GPU host). A CUDA
# graph replays without the host, at the arithmetic and a floor of some 300 kernels of a few microseconds each.
T4_ROW_S, T4_ROW_IMAGES = 407.906, 5 * 42_000
T4_PEAK_FLOPS, HOST_PEAK_FLOPS = 65e12, 785e12
GRAPH_STEP_FLOOR_S = 1e-3
# A snakemake part's own start: the DAG, then the job's imports, data loading and thop (STARTUP_S).
SNAKEMAKE_START_S = 10.0
# The bench's set-up per loop and repeat: a model onto the device, a loader, a graph's capture.
BUILD_S = 1.0
# The CUDA tests: their graph captures, leases and amp steps, each a few seconds, in one process.
TESTS_S = {"cuda": 60.0, "cpu": 30.0}
# What the command keeps for itself at the end: the last JSON and log.
MARGIN_S = 5.0


def step_seconds(device: str, model: str, batch: int, size: int, loader: str) -> float:
    """One training step's expected seconds (forward, backward, optimizer)."""
    flops = 6 * macs_per_image(model, size) * batch
    if device == "cpu":
        return batch / images_per_s({}, "cpu", model, batch, size)
    launch_s = 1 / DEFAULT_GPU_STEPS_PER_S[model]
    t4_arith_s = T4_ROW_S / T4_ROW_IMAGES * 16 - 1 / DEFAULT_GPU_STEPS_PER_S["resnet18"]
    flop_rate = 6 * macs_per_image("resnet18", 224) * 16 / t4_arith_s * HOST_PEAK_FLOPS / T4_PEAK_FLOPS
    if loader == "resident":
        return max(flops / flop_rate, GRAPH_STEP_FLOOR_S)
    return launch_s + flops / flop_rate


def run_seconds(device, model, batch, size, loader, epochs, sizes) -> float:
    """A run's expected seconds: start-up, training, and the validation and test passes (a third of a step each)."""
    step = step_seconds(device, model, batch, size, loader)
    evaluated = epochs * sizes["val"] + sizes["test"]
    return STARTUP_S + step * (epochs * sizes["train"] + evaluated / 3) / batch


def row_sizes(split: str, subset) -> dict:
    """The train/val/test images of a run of the row: source 001's split of the 60,000 with the official test set, or
    ours of the 70,000; `--subset` overrides."""
    if subset:
        return dict(zip(("train", "val", "test"), subset, strict=True))
    if split == "seed001":
        return {**part_sizes(60_000, {"train": 0.7, "val": 0.1, "test": 0.2}), "test": 10_000}
    return part_sizes(70_000, {"train": 0.7, "val": 0.1, "test": 0.2})


def plan_parts(args) -> dict:
    """Each part of the check: what it runs and its expected seconds on `args.device`."""
    row = first_row(args)
    epochs, timing_epochs = row["epochs"], min(args.timing_epochs, row["epochs"])
    big, small = args.sizes
    as_run, ours = row_sizes("seed001", args.subset), row_sizes("pooled", args.subset)
    slots_sizes = dict(zip(("train", "val", "test"), args.slots_subset, strict=True))
    prec = "amp" if args.device == "cuda" else "fp32"

    def run(size, loader, ep, sizes):
        return run_seconds(args.device, row["model"], row["batch_size"], size, loader, ep, sizes)

    def bench_s():
        per = 0.0
        for batch in args.bench_batch_sizes:
            eager = step_seconds(args.device, row["model"], batch, 28, "dataloader")
            graph = step_seconds(args.device, row["model"], batch, 28, "resident")
            per += 2 * (args.bench_steps + 2) * eager + args.bench_steps * graph + 3 * BUILD_S
        return SNAKEMAKE_START_S + args.bench_repeats * per

    prepare = SNAKEMAKE_START_S + 15.0  # the data verified and split, once, before the first part that trains
    return {
        "tests": {"what": "pytest -m cuda", "estimate_s": TESTS_S[args.device]},
        "bench": {
            "what": (
                f"{row['model']} at batch {'/'.join(map(str, args.bench_batch_sizes))}, three loops, "
                f"{args.bench_repeats} interleaved repeats of {args.bench_steps} steps"
            ),
            "estimate_s": prepare + bench_s(),
        },
        "as_run": {
            "what": f"{big}x{big} {prec}, resident, {epochs} epochs",
            "estimate_s": SNAKEMAKE_START_S + run(big, "resident", epochs, as_run),
        },
        "as_run_dataloader": {
            "what": f"{big}x{big} {prec}, the sources' DataLoader loop, {timing_epochs} epoch(s)",
            "estimate_s": SNAKEMAKE_START_S + run(big, "dataloader", timing_epochs, as_run),
        },
        "ours_28": {
            "what": f"{small}x{small} fp32, resident {epochs} epochs + DataLoader {timing_epochs}",
            "estimate_s": (
                SNAKEMAKE_START_S
                + 15.0
                + run(small, "resident", epochs, ours)
                + run(small, "dataloader", timing_epochs, ours)
            ),
        },
        "slots": {
            "what": f"{args.slots_runs} runs of {args.slots_subset[0]} images, gpu_slots 4 against 1",
            "estimate_s": (
                2 * (SNAKEMAKE_START_S + 15.0)
                + args.slots_runs * run(small, "dataloader", timing_epochs, slots_sizes) * 1.5
            ),
        },
        "projection": {"what": "the default config's CUDA runs from c-f", "estimate_s": 1.0},
    }


def print_estimates(plan: dict, budget, say) -> None:
    say(f"{'part':<22}{'expected s':>11}{'cumulative s':>14}  what")
    total = 0.0
    for name, part in plan.items():
        total += part["estimate_s"]
        say(f"{LETTERS[name]}. {name:<19}{part['estimate_s']:>11.0f}{total:>14.0f}  {part['what']}")
    first_five = sum(plan[p]["estimate_s"] for p in CHECK_PARTS[:5])
    if budget:
        verdict = "fit" if first_five <= budget - MARGIN_S else "do not fit"
        say(f"a-e: {first_five:.0f} s expected, {verdict} in the budget of {budget:g} s")


def first_row(args) -> dict:
    """Source 001's Question 2 row 1 of the models asked for, its epochs capped by --epochs-cap."""
    config = load_config(REPO / "config/config.yaml")
    rows = [r for r in config["resnet_studies"][AS_RUN]["runs"] if r["model"] in args.models]
    if not rows:
        sys.exit(f"gpu-check: source 001's Question 2 has no row of {' '.join(args.models)}: name one of its models")
    row = dict(rows[0])
    if args.epochs_cap:
        row["epochs"] = min(row["epochs"], args.epochs_cap)
    return row


class Check:
    """The parts' shared state: the budget's clock, the JSON and the log, rewritten as each part ends."""

    def __init__(self, args, out: Path):
        self.args, self.out, self.log = args, out, out.with_suffix(".log")
        self.start = time.monotonic()
        self.result = {}
        self.skipped = []
        self.log.write_text("")

    def say(self, text: str = "") -> None:
        print(text, flush=True)
        with open(self.log, "a") as log:
            log.write(text + "\n")

    def left_s(self) -> float:
        if not self.args.budget:
            return float("inf")
        return self.args.budget - MARGIN_S - (time.monotonic() - self.start)

    def save(self) -> None:
        self.result["elapsed_s"] = time.monotonic() - self.start
        self.result["skipped"] = self.skipped
        self.out.write_text(json.dumps(self.result, indent=2, default=str) + "\n")

    def run(self, command: list, cwd: Path) -> dict:
        """A subprocess stopped (with its children) when the budget runs out; its output goes to the log."""
        timeout = None if self.left_s() == float("inf") else max(self.left_s(), 1.0)
        proc = subprocess.Popen(
            command,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            output, _ = proc.communicate(timeout=timeout)
            stopped = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                output, _ = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                output, _ = proc.communicate()
            stopped = True
        with open(self.log, "a") as log:
            log.write(f"$ {' '.join(map(str, command))}\n{output}\n")
        return {"returncode": proc.returncode, "stopped_at_budget": stopped, "output": output}


def study_overlay(outdir: Path, args, studies: dict, slots: int, seeds=(0,), subset=None) -> dict:
    overlay = {
        "outdir": str(outdir),
        "gpu": args.device == "cuda",
        "gpu_slots": slots,
        "seeds": list(seeds),
        "resnet_studies": studies,
        "svm_studies": {},
        "report": {"tables": {"q2": list(studies), "part_a": [], "q1": [], "pin_memory": [], "epochs": [], "svm": []}},
    }
    subset = subset or args.subset
    if subset:
        train, val, test = subset
        overlay["data"] = {"subset": {"train": train, "val": val, "test": test}}
    return overlay


def snakemake_study(check: Check, work: Path, name: str, studies: dict, slots=1, seeds=(0,), subset=None) -> dict:
    """One part's study through snakemake in `work` (data and splits first, outside the timed wall): its wall time
    and every run's record."""
    args = check.args
    outdir = work / "results"
    path = work / f"{name}.yaml"
    work.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(study_overlay(outdir, args, studies, slots, seeds, subset)))
    # Greedy: the few jobs of a part need no ILP scheduler (the GPU host's bundle leaves pulp out).
    workflow_files = ["-s", str(REPO / "Snakefile"), "-d", str(work), "--configfile", *args.configfile, str(path)]
    command = [sys.executable, "-m", "snakemake", "--cores", str(args.cores), "--scheduler", "greedy", *workflow_files]
    prepared = check.run([*command, "--until", "split_dataset"], work)
    if prepared["returncode"] != 0:
        return {
            "returncode": prepared["returncode"],
            "stopped_at_budget": prepared["stopped_at_budget"],
            "runs": [],
            "error": "the data and splits failed: " + prepared["output"][-2000:],
        }
    start = time.perf_counter()
    proc = check.run([*command, "--until", "train_resnet"], work)
    wall_s = time.perf_counter() - start
    runs = []
    for metrics in sorted((outdir / "runs/resnet").rglob("metrics.json")):
        record = json.loads(metrics.read_text())
        if studies_match(record["params"], studies):
            runs.append(summary(record))
    return {
        "wall_s": wall_s,
        "returncode": proc["returncode"],
        "stopped_at_budget": proc["stopped_at_budget"],
        "runs": runs,
        "output_tail": proc["output"][-3000:],
    }


def studies_match(params: dict, studies: dict) -> bool:
    """Whether a run is one of these studies' (the part's own runs, not another part's in the same outdir).
    pin_memory is left out: a run where pinning does nothing (off CUDA, the resident loop) is trained as False."""
    keys = ("model", "batch_size", "optimizer", "lr", "epochs")
    for study in studies.values():
        in_grid = all(params.get(k) in v for k, v in study["grid"].items() if k in params)
        if in_grid and any(all(params.get(k) == run[k] for k in keys) for run in study["runs"]):
            return True
    return False


def row_study(args, row: dict, size: int, loaders, epochs: int, ours: bool) -> dict:
    """The row as one study: source 001's protocol (as run) or ours at 28x28, with these loaders and epochs."""
    study = load_config(REPO / "config/config.yaml")["resnet_studies"][AS_RUN]
    grid = {**study["grid"], "input_size": [size], "device": [args.device], "loader": list(loaders)}
    if args.device != "cuda":
        grid["precision"] = ["fp32"]  # amp is CUDA-only
    if ours:
        grid = {**grid, **{k: [v] for k, v in OURS_28.items()}, "input_size": [size]}
    return {"grid": grid, "runs": [{**row, "epochs": epochs}]}


def print_runs(check: Check, runs: list[dict], row: dict) -> None:
    """Each run beside source 001's published row: accuracy, training time, and its time per epoch x the row's
    epochs (for a run of fewer epochs than the row)."""
    keys = ("model", "batch_size", "optimizer", "lr", "pin_memory")
    rows = load_config(REPO / "config/config.yaml")["resnet_studies"][AS_RUN]["runs"]
    uncapped = next(r for r in rows if all(r[k] == row[k] for k in keys))
    seed, scale_epochs = published(uncapped), uncapped["epochs"]
    check.say(
        f"{'size':>5}{'prec':>6}{'loader':>11}{'ep':>4}{'acc %':>8}{'train s':>9}{'x row ep s':>11}"
        f"{'seed001 acc':>12}{'seed001 s':>10}"
    )
    for run in runs:
        p = run["params"]
        accuracy = f"{100 * run['test_accuracy']:.2f}" if run["test_accuracy"] is not None else "—"
        scaled = run["train_time_s"] / p["epochs"] * (scale_epochs or p["epochs"])
        check.say(
            f"{p['input_size']:>5}{p['precision']:>6}{p['loader']:>11}{p['epochs']:>4}{accuracy:>8}"
            f"{run['train_time_s']:>9.1f}{scaled:>11.1f}{seed['test_accuracy'] if seed else '—':>12}"
            f"{seed['train_time_ms'] / 1000 if seed else float('nan'):>10.1f}"
        )


def part_tests(check: Check) -> dict:
    result = run_tests(check)
    check.say(f"CUDA tests: {result['summary']}")
    return result


def data_files(work: Path) -> Path | None:
    """The verified Fashion-MNIST files the workflow fetched into `work`."""
    found = sorted(work.glob("resources/data/fashion_mnist*/train-images-idx3-ubyte"))
    return found[0].parent if found else None


def part_bench(check: Check, work: Path, row: dict) -> dict:
    args = check.args
    # The data first: the bench trains on the verified Fashion-MNIST files the row's runs use.
    study = {"gpu_check_data": row_study(args, row, args.sizes[1], ["resident"], 1, ours=True)}
    path = work / "data.yaml"
    work.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(study_overlay(work / "results", args, study, 1)))
    workflow_files = ["-s", str(REPO / "Snakefile"), "-d", str(work), "--configfile", *args.configfile, str(path)]
    command = [sys.executable, "-m", "snakemake", "--cores", str(args.cores), "--scheduler", "greedy", *workflow_files]
    fetched = check.run([*command, "--until", "split_dataset"], work)
    data = data_files(work)
    if fetched["returncode"] != 0 or data is None:
        return {"error": "the data could not be fetched: " + fetched["output"][-2000:]}
    bench_out = check.out.with_name(check.out.stem + "-bench.json")
    bench = [sys.executable, str(REPO / "benchmarks/bench.py"), "--skip", "grid", "overhead", "timing"]
    table = ["--models", row["model"], "--batch-sizes", *map(str, args.bench_batch_sizes), "--data", str(data)]
    repeats = ["--steps", str(args.bench_steps), "--repeats", str(args.bench_repeats)]
    proc = check.run([*bench, *table, *repeats, "--out", str(bench_out)], REPO)
    print(proc["output"].strip(), flush=True)  # the log has it already, under its command
    if proc["returncode"] != 0 or not bench_out.exists():
        return {"returncode": proc["returncode"], "stopped_at_budget": proc["stopped_at_budget"]}
    result = json.loads(bench_out.read_text())
    bench_out.unlink()  # its figures are in the check's JSON: one JSON, one log
    return result


def part_row(check: Check, work: Path, name: str, row: dict, runs: list[tuple]) -> dict:
    """The row's runs of one part, `runs` (size, loader, epochs, ours), in one snakemake."""
    studies = {f"gpu_check_{name}_{i}": row_study(check.args, row, *run) for i, run in enumerate(runs)}
    result = snakemake_study(check, work, name, studies)
    print_runs(check, result["runs"], row)
    if any(ours for *_, ours in runs):
        check.say(f"ours at 28x28 (pooled split, fp32), the study's run of this row: {OUR_28_ACCURACY}%")
    if "error" in result:
        check.say(result["error"])
    return result


def part_slots(check: Check, work: Path, row: dict) -> dict:
    """`--slots-runs` runs of the row at 28x28 (seeds 0, 1, ..., the DataLoader loop) at gpu_slots 4 and one at a
    time."""
    args = check.args
    epochs = min(args.timing_epochs, row["epochs"])
    study = {"gpu_check_slots": row_study(args, row, args.sizes[1], ["dataloader"], epochs, ours=True)}
    study["gpu_check_slots"]["timing"] = "shared"  # side by side is the point
    result = {}
    for slots in (4, 1):
        result[slots] = snakemake_study(
            check,
            work / f"slots{slots}",
            f"slots{slots}",
            study,
            slots,
            seeds=range(args.slots_runs),
            subset=args.slots_subset,
        )
        check.say(
            f"{args.slots_runs} runs at gpu_slots {slots}: {len(result[slots]['runs'])} trained in "
            f"{result[slots]['wall_s']:.1f} s wall (snakemake exit {result[slots]['returncode']})"
        )
        if result[slots]["stopped_at_budget"]:
            break
    if len(result) == 2 and result[1]["wall_s"] and result[4]["wall_s"]:
        result["speedup"] = result[1]["wall_s"] / result[4]["wall_s"]
        check.say(f"gpu_slots 4 against one at a time: {result['speedup']:.2f}x the grid's wall time")
    return result


def by_slots_of(result: dict) -> dict:
    """The runs of c-f for the projection, by slot count: c-e ran one at a time; f's at both counts."""
    single = [r for p in ("as_run", "as_run_dataloader", "ours_28") for r in (result.get(p) or {}).get("runs", [])]
    slots = result.get("slots", {})
    if 1 in slots and 4 in slots:
        return {s: {"wall_s": slots[s]["wall_s"], "runs": single + slots[s]["runs"]} for s in (1, 4)}
    return {1: {"wall_s": 1.0, "runs": single + slots.get(1, slots.get(4, {})).get("runs", [])}}


def run_check(args, out: Path, work: Path) -> None:
    check = Check(args, out)
    check.result = versions(args.device)
    r = check.result
    check.say(
        f"gpu-check on {r['device_name']}: torch {r['torch']}, CUDA {r['cuda']}, {r['date']}"
        + (f"; budget {args.budget:g} s" if args.budget else "")
    )
    plan = plan_parts(args)
    check.result["estimates_s"] = {name: part["estimate_s"] for name, part in plan.items()}
    print_estimates(plan, args.budget, check.say)
    row = first_row(args)
    big, small = args.sizes
    timing_epochs = min(args.timing_epochs, row["epochs"])
    runners = {
        "tests": lambda: part_tests(check),
        "bench": lambda: part_bench(check, work / "bench", row),
        "as_run": lambda: part_row(check, work / "row", "as_run", row, [(big, ["resident"], row["epochs"], False)]),
        "as_run_dataloader": lambda: part_row(
            check, work / "row", "as_run_dataloader", row, [(big, ["dataloader"], timing_epochs, False)]
        ),
        "ours_28": lambda: part_row(
            check,
            work / "row",
            "ours_28",
            row,
            [(small, ["resident"], row["epochs"], True), (small, ["dataloader"], timing_epochs, True)],
        ),
        "slots": lambda: part_slots(check, work / "slots", row),
        "projection": lambda: project(by_slots_of(check.result), say=check.say),
    }
    for name in CHECK_PARTS:
        if name not in args.parts:
            continue
        letter, estimate = LETTERS[name], plan[name]["estimate_s"]
        if estimate > check.left_s():
            check.skipped.append({"part": f"{letter}. {name}", "estimate_s": estimate, "left_s": check.left_s()})
            continue
        check.say(f"\n{letter}. {name} ({plan[name]['what']}; expected {estimate:.0f} s, {check.left_s():.0f} s left)")
        began = time.monotonic()
        check.result[name] = runners[name]()
        check.result[name]["seconds"] = time.monotonic() - began
        check.save()
    if args.budget:
        left = ", ".join(
            f"{s['part']} (expected {s['estimate_s']:.0f} s, {max(s['left_s'], 0):.0f} s left)" for s in check.skipped
        )
        check.say(f"\nskipped: {left or 'nothing'}; {time.monotonic() - check.start:.0f} s of {args.budget:g} s used")
    check.save()
    check.say(f"wrote {out} and {check.log}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", choices=CHECK_PARTS, default=list(CHECK_PARTS))
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--budget", type=float, help="seconds for the whole check (parts that do not fit are skipped)")
    parser.add_argument("--dry", action="store_true", help="print each part's expected time on --device, run nothing")
    parser.add_argument("--models", nargs="+", default=["resnet18", "resnet34", "resnet50"])
    parser.add_argument("--epochs-cap", type=int, help="train at most this many epochs per row (a quick look)")
    parser.add_argument(
        "--timing-epochs", type=int, default=1, help="epochs of the DataLoader-loop runs (d, e, f), timed per epoch"
    )
    parser.add_argument("--slots-runs", type=int, default=4, help="part f: runs each way (4 fill the 4 slots)")
    parser.add_argument(
        "--slots-subset",
        type=int,
        nargs=3,
        default=[10_000, 1_000, 1_000],
        metavar=("TRAIN", "VAL", "TEST"),
        help="part f's data.subset",
    )
    parser.add_argument("--sizes", nargs=2, type=int, default=[224, 28], metavar=("AS_RUN", "OURS"))
    parser.add_argument("--subset", type=int, nargs=3, metavar=("TRAIN", "VAL", "TEST"), help="data.subset")
    parser.add_argument("--bench-steps", type=int, default=100, help="b: timed steps per measurement")
    parser.add_argument("--bench-repeats", type=int, default=3, help="b: interleaved repeats")
    parser.add_argument("--bench-batch-sizes", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--cores", type=int, default=16)
    parser.add_argument("--configfile", nargs="*", default=[], help="config overlays, e.g. a bundle's offline.yaml")
    parser.add_argument("--out", help="default: benchmarks/results/gpu-check-<date>.json (and .log)")
    parser.add_argument("--workdir", help="the parts' snakemake outputs (default: results/gpu_check/<date>)")
    args = parser.parse_args(argv)
    if args.budget is not None and args.budget <= MARGIN_S:
        sys.exit(f"gpu-check: --budget {args.budget:g} leaves no time for a part: give it more than {MARGIN_S:g} s")
    if args.dry:
        print(
            f"Expected seconds per part on {args.device}"
            + (
                " (the GPU host: the sources' T4 figures scaled by the FLOP counts and the peaks)"
                if args.device == "cuda"
                else " (the cost model's CPU rates)"
            )
        )
        print_estimates(plan_parts(args), args.budget, print)
        return
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit(
            "gpu-check: torch sees no CUDA device here. Run it on a GPU host (see docs/gpu-check.md"
            " for setting one up without network); `--device cpu` runs the machinery on the CPU."
        )
    validate_config(yaml.safe_load((REPO / "config/config.yaml").read_text()))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    out = Path(args.out or REPO / f"benchmarks/results/gpu-check-{stamp}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(args.workdir or REPO / "results/gpu_check" / stamp)
    run_check(args, out, work)


if __name__ == "__main__":
    main()
