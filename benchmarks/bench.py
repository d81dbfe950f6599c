"""`make bench`: the fast path, the grid's parallelism and the workflow's overhead, measured side by side.

1. Training images/s of ResNet-18/50 at batch 16 and 32 for three loops, interleaved and repeated (medians):
   (a) the sources' naive loop: torchvision's MNIST dataset (PIL, ToTensor, Normalize per sample), DataLoader, eager;
   (b) our DataLoader path (ablation.train.dataloader.train_one_epoch); (c) our resident path (ablation.train.resident).
   All three use the same device and thread count; ratios are against (a). MFU: achieved training FLOP/s (3 x forward
   FLOPs per image) over the matrix-multiply peak measured in the same run.
2. Grid throughput on CPU: a small grid through the workflow at its defaults (1 thread per run, --cores all) against
   the same grid one job at a time with all threads, each in its own outdir. Refused (ImpossibleMeasurement) unless
   every run of each trained in its measurement, and each wall time is at least (runs / cores) x the shortest run.
3. Workflow overhead: `snakemake -n` on a generated 1,000-run grid; aggregating 1,000 metrics files; `make status`
   on the 1,000-run plan.
4. Timing noise: one timed run repeated alone on the machine (`timing: exclusive`) and as often beside a concurrent
   grid (`timing: shared`), through the workflow: the coefficient of variation of its epoch time each way
   (`make bench-timing` runs this part alone).

Runs on CUDA unchanged where present (the training table then measures the GPU). Prints a table, writes JSON.
"""

import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow/scripts"))

import torch  # noqa: E402
import torchvision  # noqa: E402
import yaml  # noqa: E402

from ablation.data.idx import FILES  # noqa: E402
from ablation.data.split import load_pooled  # noqa: E402
from ablation.ops.calibrate import measure  # noqa: E402
from ablation.ops.cost import MACS  # noqa: E402
from ablation.train.models import build_model  # noqa: E402

DATA = REPO / "resources/data/mnist"


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def matmul_peak_flops(device: str, n: int = 2048, repeats: int = 10, samples: int = 3) -> float:
    """The fastest of `samples` timings of `repeats` n x n multiplies, in FLOP/s. A peak is the best the device
    does: another process on the same cores slows some samples down, and a single timing would count that against
    the peak (an MFU over it could then exceed 1). Each sample times several multiplies between two syncs, so that a
    GPU's launch and sync costs do not count as its arithmetic."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b
    sync(device)
    fastest = math.inf
    for _ in range(samples):
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        sync(device)
        fastest = min(fastest, time.perf_counter() - start)
    return 2 * n**3 * repeats / fastest


def naive_loop(model_name, batch_size, steps, device, mnist_root) -> float:
    """(a) As the sources wrote it: torchvision MNIST with per-sample transforms, a shuffling DataLoader, eager."""
    transform = torchvision.transforms.Compose(
        [torchvision.transforms.ToTensor(), torchvision.transforms.Normalize((0.1307,), (0.3081,))]
    )
    dataset = torchvision.datasets.MNIST(mnist_root, train=True, download=False, transform=transform)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True)
    model = build_model(model_name).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = torch.nn.CrossEntropyLoss()
    model.train()
    running_loss, start = 0.0, None
    for step, (x, y) in enumerate(loader):
        if step == 2:  # two warm-up steps
            sync(device)
            start = time.perf_counter()
        if step == steps + 2:
            break
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        running_loss += loss.item()
    sync(device)
    return steps * batch_size / (time.perf_counter() - start)


def bench_training(
    device, steps, repeats, threads, models=("resnet18", "resnet50"), batch_sizes=(16, 32), data=DATA, matmul_n=2048
) -> tuple[list[dict], float]:
    """The training table's rows (one per model and batch size), and the matrix-multiply peak FLOP/s (for MFU, of
    `matmul_n` x `matmul_n` matrices). `data`: a directory of the four raw IDX files (MNIST's, or Fashion-MNIST's: the
    same format and names)."""
    data = Path(data)
    torch.set_num_threads(threads)
    images, labels = load_pooled(data)
    images, labels = torch.from_numpy(images[:60_000].copy()), torch.from_numpy(labels[:60_000].astype("int64"))
    # torchvision's MNIST wants its raw files under <root>/MNIST/raw: link the verified ones there.
    mnist_root = Path(tempfile.mkdtemp(prefix="bench-mnist-"))
    (mnist_root / "MNIST/raw").mkdir(parents=True)
    for name in FILES.values():
        (mnist_root / "MNIST/raw" / name).symlink_to(data / name)
    peak = matmul_peak_flops(device, matmul_n)
    rows = []
    for model_name in models:
        for batch_size in batch_sizes:
            rates = {"naive": [], "dataloader": [], "resident": []}
            capture = []
            for _ in range(repeats):  # interleaved: each repeat measures all three, so drift hits all alike
                rates["naive"].append(naive_loop(model_name, batch_size, steps, device, mnist_root))
                rate, _ = measure("dataloader", model_name, batch_size, steps, device, images, labels)
                rates["dataloader"].append(rate)
                rate, capture_s = measure("resident", model_name, batch_size, steps, device, images, labels)
                rates["resident"].append(rate)
                capture.append(capture_s)
            medians = {k: statistics.median(v) for k, v in rates.items()}
            flops_per_image = 3 * 2 * MACS[model_name]
            rows.append(
                {
                    "model": model_name,
                    "batch_size": batch_size,
                    "device": device,
                    "threads": threads,
                    "images_per_s": medians,
                    "samples": rates,
                    "ratio_vs_naive": {k: medians[k] / medians["naive"] for k in medians},
                    "mfu": {k: medians[k] * flops_per_image / peak for k in medians},
                    "capture_time_s": statistics.median(capture),
                    "epoch_49k_s": {k: 49_000 / medians[k] for k in medians},
                }
            )
            print_training_row(rows[-1])
    shutil.rmtree(mnist_root)
    return rows, peak


def print_training_row(row):
    r, m = row["images_per_s"], row["ratio_vs_naive"]
    print(
        f"{row['model']:<9} {row['batch_size']:>5} {r['naive']:>10.1f} {r['dataloader']:>10.1f} {r['resident']:>10.1f}"
        f" {m['dataloader']:>7.2f}x {m['resident']:>7.2f}x {100 * row['mfu']['resident']:>7.2f}%"
        f" {row['epoch_49k_s']['resident']:>9.1f}",
        flush=True,
    )


def snakemake(*args, cwd):
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stdout[-2000:] + proc.stderr[-2000:])
    return time.perf_counter() - start, proc.stdout + proc.stderr


def grid_config(outdir, cpu_threads, runs, batch_size, train_images, data=None) -> dict:
    data = data or {"local_dir": str(REPO / "resources/data")}
    return {
        "outdir": str(outdir),
        "gpu": False,
        "data": {**data, "subset": {"train": train_images, "val": 500, "test": 1000}},
        "training": {"cpu_threads": cpu_threads},
        "resnet_studies": {
            "bench": {
                "grid": {
                    "dataset": ["mnist"],
                    "model": ["resnet18"],
                    "batch_size": [batch_size],
                    "optimizer": ["adam"],
                    "lr": [0.001],
                    "epochs": [1],
                }
            }
        },
        "seeds": list(range(runs)),
    }


class ImpossibleMeasurement(RuntimeError):
    """A figure the bench cannot have measured (runs that did not train, a wall time shorter than their training): an
    error, not a result."""


def grid_workflow(work: Path, label: str, threads: int, cores: int, runs, batch_size, train_images, data=None):
    """The grid of one variant in its own outdir, `work/label/results`: its runs, logs and checkpoints are its own, so
    that no run of it continues a run of the other variant (a finished run's checkpoint stays until aggregation, and a
    run that finds one only redoes its test pass). Returns `workflow(*snakemake_args) -> seconds` and the outdir."""
    outdir = work / label / "results"
    config = work / f"{label}.yaml"
    config.write_text(yaml.safe_dump(grid_config(outdir, threads, runs, batch_size, train_images, data)))

    def workflow(*args) -> float:
        workflow_files = ["-s", str(REPO / "Snakefile"), "-d", str(work), "--configfile", str(config)]
        return snakemake("--cores", str(cores), *workflow_files, *args, cwd=work)[0]

    return workflow, outdir


def run_log(outdir: Path, metrics: Path) -> Path:
    """The log of the run whose metrics are `metrics` (rule train_resnet's `log:`)."""
    pattern = metrics.parent.relative_to(outdir / "runs/resnet")
    return outdir / "logs/resnet" / f"{pattern}.log"


def why_not_trained(record: dict, log_text: str, window: tuple[float, float]) -> str | None:
    """Why a run's record does not show a run trained within `window` (unix seconds), or None: its log's last attempt
    must train every epoch and continue nothing, and its training time must fit in its own interval, inside the
    window."""
    attempt = log_text.split("--- attempt started")[-1]
    missing = [e for e in range(1, record["params"]["epochs"] + 1) if f"epoch {e}: train loss" not in attempt]
    start, end = record["conditions"]["interval_unix"]
    if missing:
        return f"its log's last attempt trained no epoch {', '.join(map(str, missing))}"
    if "resuming" in attempt:
        return "its log's last attempt continued a checkpoint"
    if not window[0] <= start <= end <= window[1]:
        return f"it ran from {start:.1f} to {end:.1f}, outside the measurement ({window[0]:.1f} to {window[1]:.1f})"
    if record["train_time_s"] > end - start:
        return f"its training time {record['train_time_s']:.1f} s exceeds its own run of {end - start:.1f} s"
    return None


def trained_records(label: str, outdir: Path, runs: int, window: tuple[float, float]) -> list[dict]:
    """The records of a variant's `runs` runs, each of which trained within `window`; ImpossibleMeasurement
    otherwise."""
    records = []
    for metrics in sorted(outdir.glob("runs/resnet/**/metrics.json")):
        record = json.loads(metrics.read_text())
        refused = why_not_trained(record, run_log(outdir, metrics).read_text(), window)
        if refused:
            raise ImpossibleMeasurement(
                f"{label}: the run {metrics.parent} did not train in this measurement: {refused}"
            )
        records.append(record)
    if len(records) != runs:
        raise ImpossibleMeasurement(f"{label}: {len(records)} runs recorded in {outdir}, {runs} planned")
    return records


def require_possible_wall(label: str, wall_s: float, train_times: list[float], cores: int) -> None:
    """At most `cores` runs train at once, so the runs cannot end before (runs / cores) x the shortest one's training
    time: a wall time below it is refused."""
    floor = len(train_times) / cores * min(train_times)
    if wall_s < floor:
        raise ImpossibleMeasurement(
            f"{label}: a wall time of {wall_s:.1f} s for {len(train_times)} runs on {cores} cores that trained "
            f"{min(train_times):.1f} s or more each is impossible: at least {floor:.1f} s"
        )


def time_variant(label: str, workflow, outdir: Path, runs: int, cores: int) -> dict:
    """The wall time of a variant's training jobs and each run's own training time, once they are shown to be a
    measurement of training (trained_records, require_possible_wall). With the host's 1-minute load average before and
    after: other work on the host slows a run of several threads more than one of one thread, which waits for none."""
    start, load_before = time.time(), os.getloadavg()[0]
    wall_s = workflow("--until", "train_resnet")
    records = trained_records(label, outdir, runs, (start, time.time()))
    train_s = sorted(r["train_time_s"] for r in records)
    require_possible_wall(label, wall_s, train_s, cores)
    return {"wall_s": wall_s, "train_time_s": train_s, "load_average": [load_before, os.getloadavg()[0]]}


def bench_grid(cores, runs, batch_size, train_images, data=None, work=None) -> dict:
    """The grid's training jobs at the workflow's defaults (1 thread per run, all cores) and one at a time with all
    threads, each variant in its own outdir. The data are fetched and split beforehand and the report is not built:
    those steps are the same for both and do not grow with the grid, so they are timed apart rather than diluting the
    ratio. `work`: where to run (kept; a temporary folder, removed after, where None)."""
    scratch = work is None
    work = Path(tempfile.mkdtemp(prefix="bench-grid-")) if scratch else Path(work)
    threads = {"serial_all_threads": cores, "parallel_1_thread": 1}
    variants = {
        label: grid_workflow(work, label, n, cores, runs, batch_size, train_images, data)
        for label, n in threads.items()
    }
    prepare_s = {label: workflow("--until", "split_dataset") for label, (workflow, _) in variants.items()}
    # snakemake's own start and DAG, paid once per variant
    startup_s = variants["parallel_1_thread"][0]("-n", "--until", "train_resnet")
    measured = {
        label: time_variant(label, workflow, outdir, runs, cores) for label, (workflow, outdir) in variants.items()
    }
    if scratch:
        shutil.rmtree(work)
    walls = {label: m["wall_s"] for label, m in measured.items()}
    # Each run's own training time, to tell thread scaling apart from the per-job costs in the wall times.
    train_s = {label: m["train_time_s"] for label, m in measured.items()}
    speedup = walls["serial_all_threads"] / walls["parallel_1_thread"]
    return {
        "runs": runs,
        "cores": cores,
        "batch_size": batch_size,
        "train_images": train_images,
        "wall_s": walls,
        "speedup": speedup,
        "prepare_s": prepare_s,
        "snakemake_startup_s": startup_s,
        "train_time_s": train_s,
        "load_average": {label: m["load_average"] for label, m in measured.items()},
    }


def timing_config(outdir, timing, repeats, grid_runs, train_images, epochs, data=None) -> dict:
    """One timed point repeated `repeats` times (its seeds) beside a grid of `grid_runs` other runs; `timing` decides
    whether the timed runs train alone. Both ways the timed run trains on one thread, so that exclusivity is all that
    differs."""
    data = data or {"local_dir": str(REPO / "resources/data")}
    point = {"dataset": ["mnist"], "model": ["resnet18"], "batch_size": [16], "optimizer": ["adam"], "epochs": [epochs]}
    return {
        "outdir": str(outdir),
        "gpu": False,
        "timing": timing,
        "data": {**data, "subset": {"train": train_images, "val": 100, "test": 100}},
        "training": {"cpu_threads": 1, "timing_cpu_threads": 1},
        "resnet_studies": {
            "timed": {"timing": "exclusive", "grid": {**point, "lr": [0.001], "seed": list(range(repeats))}},
            "grid": {"grid": {**point, "lr": [0.01], "seed": list(range(grid_runs))}},
        },
    }


def coefficient_of_variation(values) -> float:
    return statistics.stdev(values) / statistics.mean(values)


def share_beside_others(interval, others) -> float:
    """The share of `interval` during which at least one of the `others` intervals was running."""
    start, end = interval
    cuts = sorted({start, end, *(t for o in others for t in o if start < t < end)})
    covered = sum(b - a for a, b in zip(cuts, cuts[1:]) if any(o[0] < b and a < o[1] for o in others))
    return covered / (end - start)


def round_order(variants, round_: int) -> list:
    """The order of the ways in a round: as given in even rounds, reversed in odd ones, so that neither way always
    runs first on a host that is still warming up or slowing down."""
    return list(variants)[:: 1 if round_ % 2 == 0 else -1]


def bench_timing(cores, repeats, grid_runs, train_images, epochs, rounds=3, data=None) -> dict:
    """The same timed run repeated alone on the machine (`timing: exclusive`) and beside a concurrent grid (`timing:
    shared`), both through the workflow at --cores `cores`: the spread (coefficient of variation) of its epoch times
    each way, and how much of each run had another job beside it. The two ways alternate over `rounds` rounds of
    `repeats` runs each, so that a drift of the host's speed (a shared VM) weighs on both alike."""
    work = Path(tempfile.mkdtemp(prefix="bench-timing-"))
    result = {
        "cores": cores,
        "repeats": repeats,
        "rounds": rounds,
        "grid_runs": grid_runs,
        "train_images": train_images,
        "epochs": epochs,
        "variants": {},
    }
    variants = {"exclusive": "by_study", "shared": "shared"}
    runs = {label: [] for label in variants}
    walls = {label: [] for label in variants}
    for round_ in range(rounds):
        for label in round_order(variants, round_):
            outdir = work / f"{label}-{round_}"
            config = work / f"{label}-{round_}.yaml"
            spec = timing_config(outdir, variants[label], repeats, grid_runs, train_images, epochs, data)
            config.write_text(yaml.safe_dump(spec))
            workflow_files = ["-s", str(REPO / "Snakefile"), "-d", str(work), "--configfile", str(config)]
            wall_s, _ = snakemake("--cores", str(cores), *workflow_files, "--until", "train_resnet", cwd=work)
            walls[label].append(wall_s)
            records = [json.loads(p.read_text()) for p in outdir.glob("runs/resnet/**/metrics.json")]
            intervals = [r["conditions"]["interval_unix"] for r in records]
            for record in records:
                if record["params"]["lr"] == 0.001:  # the timed point
                    interval = record["conditions"]["interval_unix"]
                    others = [i for i in intervals if i != interval]
                    runs[label].append((record, share_beside_others(interval, others)))
    for label in variants:
        epoch_times = [h["epoch_time_s"] for record, _ in runs[label] for h in record["history"]]
        result["variants"][label] = {
            "wall_s": walls[label],
            "epoch_time_s": epoch_times,
            "epoch_time_mean_s": statistics.mean(epoch_times),
            "epoch_time_cv": coefficient_of_variation(epoch_times),
            "exclusive": [record["conditions"]["exclusive"] for record, _ in runs[label]],
            "share_beside_others": [share for _, share in runs[label]],
            "load_average_start": [record["conditions"]["load_average_start"] for record, _ in runs[label]],
        }
    shutil.rmtree(work)
    return result


def bench_overhead(n_runs=1000) -> dict:
    """`snakemake -n` on a generated grid of n_runs runs, and aggregating n_runs metrics files."""
    work = Path(tempfile.mkdtemp(prefix="bench-overhead-"))
    grid = {
        "dataset": ["mnist", "fashion_mnist"],
        "model": ["resnet18", "resnet34", "resnet50"],
        "batch_size": [16, 32, 64, 128, 256],
        "optimizer": ["sgd", "adam"],
        "lr": [0.1, 0.01, 0.001, 0.0001],
        "epochs": [5, 10],
        "seed": [0, 1],
    }
    # 2*3*5*2*4*2*2 = 960 points, plus 40 more seeds of one point: 1,000 runs.
    extra = {**{k: v[:1] for k, v in grid.items()}, "seed": list(range(2, 42))}
    config = {
        "outdir": str(work / "results"),
        "gpu": False,
        "resnet_studies": {"big": {"grid": grid}, "extra": {"grid": extra}},
    }
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    dry_s, output = snakemake(
        "-n", "-s", str(REPO / "Snakefile"), "-d", str(work), "--configfile", str(work / "config.yaml"), cwd=work
    )
    planned = int(re.search(r"^train_resnet\s+(\d+)$", output, re.MULTILINE)[1])
    aggregate_s = time_aggregation(work, n_runs)
    status_s = time_status(work / "config.yaml")
    shutil.rmtree(work)
    return {
        "dry_run_s": dry_s,
        "planned_runs": planned,
        "aggregate_s": aggregate_s,
        "n_metrics": n_runs,
        "status_s": status_s,
    }


def time_status(config_path: Path) -> float:
    """Seconds of `make status` (a fresh process, as a user runs it) on the plan of `config_path`."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "ablation.ops.status", "--configfile", str(config_path), "--cores", "2"],
        cwd=config_path.parent,
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "workflow/scripts")},
    )
    return time.perf_counter() - start


def synthetic_record(point: dict, epochs: int = 10) -> dict:
    """A schema-valid ResNet metrics record (the aggregation reads and validates every field it needs)."""
    epoch = {
        "train_loss": 0.1,
        "train_accuracy": 0.97,
        "val_loss": 0.08,
        "val_accuracy": 0.98,
        "epoch_time_s": 60.0,
        "data_time_s": 1.0,
    }
    provenance = {
        "git_commit": "0" * 40,
        "git_dirty": False,
        "python": "3.11",
        "packages": {"torch": "2.14.1"},
        "cpu_model": "bench",
        "hostname": "bench",
        "data_source": "npm",
        "data_sha256": {name: "0" * 64 for name in FILES.values()},
        "split_checksum": "0" * 64,
        "seed": point["seed"],
        "started_at": "2026-01-01T00:00:00+00:00",
        "finished_at": "2026-01-01T00:10:00+00:00",
    }
    return {
        "kind": "resnet",
        "params": point,
        "status": "ok",
        "diverged_epoch": None,
        "test_accuracy": 0.98,
        "test_loss": 0.07,
        "train_time_s": 600.0,
        "history": [{"epoch": e + 1, **epoch} for e in range(epochs)],
        "macs": MACS["resnet18"],
        "flops": 2 * MACS["resnet18"],
        "params_count": 11_175_370,
        "provenance": provenance,
    }


def time_aggregation(work: Path, n_runs: int) -> float:
    """Seconds for ablation.report.aggregate to read, validate and merge n_runs metrics files written here first."""
    from ablation.report.aggregate import collect_runs
    from ablation.study.factors import RESNET_FACTORS, complete_factors

    pairs = []
    for i in range(n_runs):
        point = complete_factors(
            {
                "dataset": "mnist",
                "model": "resnet18",
                "batch_size": 32,
                "optimizer": "adam",
                "lr": 0.001,
                "epochs": 10,
                "pin_memory": False,
                "device": "cpu",
                "loader": "dataloader",
                "seed": i,
            }
        )
        path = work / "runs" / "/".join(f"{f}~{point[f]}" for f in RESNET_FACTORS) / "metrics.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(synthetic_record(point)))
        pairs.append(({**point, "studies": "bench"}, path))
    start = time.perf_counter()
    runs, history = collect_runs(resnet=pairs, svm=[], left_out=[])
    elapsed = time.perf_counter() - start
    assert len(runs) == n_runs and len(history) == 10 * n_runs
    return elapsed


def print_timing(timing: dict) -> None:
    alone, shared = timing["variants"]["exclusive"], timing["variants"]["shared"]
    print(
        f"\nTiming noise: one ResNet-18 run (batch 16, {timing['train_images']} images, {timing['epochs']} epochs, "
        f"1 thread) {timing['repeats']} times per round each way, {timing['rounds']} alternating rounds, "
        f"beside a grid of {timing['grid_runs']} runs per round, --cores {timing['cores']}"
    )
    print(f"{'':<34} {'alone (exclusive)':>18} {'beside the grid':>16}")
    rows = [
        ("epoch time, mean (s)", lambda v: f"{v['epoch_time_mean_s']:.2f}"),
        ("epoch time, coefficient of var.", lambda v: f"{100 * v['epoch_time_cv']:.1f}%"),
        ("epoch time, min - max (s)", lambda v: f"{min(v['epoch_time_s']):.2f} - {max(v['epoch_time_s']):.2f}"),
        ("time beside another job, mean", lambda v: f"{100 * statistics.mean(v['share_beside_others']):.0f}%"),
        ("load average at start, mean", lambda v: f"{statistics.mean(v['load_average_start']):.2f}"),
        ("workflow wall time per round (s)", lambda v: f"{statistics.mean(v['wall_s']):.1f}"),
    ]
    for label, text in rows:
        print(f"{label:<34} {text(alone):>18} {text(shared):>16}")


def print_grid(grid: dict, cores: int) -> None:
    train = {label: statistics.median(times) for label, times in grid["train_time_s"].items()}
    print(
        f"\nGrid of {grid['runs']} ResNet-18 runs (batch {grid['batch_size']}, {grid['train_images']} images, "
        f"1 epoch) on {cores} cores, training jobs only: 1 thread per run in parallel "
        f"{grid['wall_s']['parallel_1_thread']:.1f} s, one at a time with {cores} threads "
        f"{grid['wall_s']['serial_all_threads']:.1f} s: {grid['speedup']:.2f}x\n"
        f"  training time per run, median: {train['parallel_1_thread']:.1f} s "
        f"with 1 thread beside another run, {train['serial_all_threads']:.1f} s "
        f"alone with {cores} threads\n"
        f"  before each, not in the ratio: fetch and split "
        f"{' s, '.join(f'{t:.1f}' for t in grid['prepare_s'].values())} s; in each wall time: "
        f"snakemake's start and DAG {grid['snakemake_startup_s']:.1f} s\n"
        f"  host load average (1 min) before and after: "
        + "; ".join(f"{label} {a:.2f}, {b:.2f}" for label, (a, b) in grid["load_average"].items())
    )


def arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="results/bench/bench.json")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per measurement (CPU 20, CUDA 200)")
    parser.add_argument(
        "--repeats", type=int, default=5, help="interleaved repeats (single CPU measurements vary by up to 20%%)"
    )
    parser.add_argument("--grid-runs", type=int, default=4)
    parser.add_argument("--grid-batch-size", type=int, default=16, help="the sources' most common batch size")
    parser.add_argument("--grid-train-images", type=int, default=3000)
    parser.add_argument("--timing-repeats", type=int, default=2, help="repeats of the timed run per round, each way")
    parser.add_argument("--timing-rounds", type=int, default=3, help="rounds, alternating alone and beside the grid")
    parser.add_argument("--timing-grid-runs", type=int, default=3, help="other runs of the grid, per round")
    parser.add_argument("--timing-train-images", type=int, default=640)
    parser.add_argument("--timing-epochs", type=int, default=2)
    parser.add_argument("--skip", nargs="*", default=[], choices=["training", "grid", "overhead", "timing"])
    parser.add_argument("--models", nargs="+", default=["resnet18", "resnet50"], help="the training table's models")
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[16, 32])
    parser.add_argument("--data", default=str(DATA), help="the training table's raw IDX files (default: MNIST's)")
    return parser.parse_args(argv)


def main(argv=None):
    args = arguments(argv)
    if "training" not in args.skip and not (Path(args.data) / FILES["train_images"]).exists():
        sys.exit(
            f"bench: no {FILES['train_images']} in {args.data}: fetch the data first (make bench does), or name"
            " a directory of the four raw IDX files with --data"
        )
    device = "cuda" if torch.cuda.is_available() else "cpu"
    cores = os.cpu_count()
    steps = args.steps or (200 if device == "cuda" else 20)
    result = {"device": device, "cores": cores, "torch": torch.__version__, "steps": steps, "repeats": args.repeats}
    if device == "cuda":
        result["gpu_name"] = torch.cuda.get_device_name(0)
    if "training" not in args.skip:
        print(f"Training images/s on {device} ({cores} threads; medians of {args.repeats}, {steps} steps each)")
        print(
            f"{'model':<9} {'batch':>5} {'(a) naive':>10} {'(b) ours':>10} {'(c) res.':>10} {'b/a':>8} {'c/a':>8}"
            f" {'MFU (c)':>8} {'epoch (c)':>9}"
        )
        result["training"], result["matmul_peak_flops"] = bench_training(
            device, steps, args.repeats, cores, args.models, args.batch_sizes, args.data
        )
        print(f"matrix-multiply peak measured: {result['matmul_peak_flops'] / 1e9:.1f} GFLOP/s")
    if "grid" not in args.skip and device == "cpu":
        grid = bench_grid(cores, args.grid_runs, args.grid_batch_size, args.grid_train_images)
        result["grid"] = grid
        print_grid(grid, cores)
    if "overhead" not in args.skip:
        overhead = bench_overhead()
        result["overhead"] = overhead
        print(
            f"\nWorkflow overhead: snakemake -n on {overhead['planned_runs']} runs {overhead['dry_run_s']:.1f} s; "
            f"aggregating {overhead['n_metrics']} metrics files {overhead['aggregate_s']:.2f} s; "
            f"make status on the same plan {overhead['status_s']:.2f} s"
        )
    if "timing" not in args.skip:
        timing = bench_timing(
            cores,
            args.timing_repeats,
            args.timing_grid_runs,
            args.timing_train_images,
            args.timing_epochs,
            args.timing_rounds,
        )
        result["timing"] = timing
        print_timing(timing)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
