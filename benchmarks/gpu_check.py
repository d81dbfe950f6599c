"""`make gpu-check`: the GPU checks of the study, on a GPU host, in one command.

1. tests: the CUDA tests (`pytest -m cuda`: the CUDA-graph capture, the leases, pinning, amp at 224).
2. bench: `make bench`'s training part on the GPU: the seeds' loop (a), our DataLoader loop (b), resident + CUDA graph
   (c), ResNet-18/50 at batch 16 and 32, medians of interleaved repeats, MFU against the matmul peak of the same run.
3. slice: a full-size slice of the study through snakemake: seed 001's Question 2 CUDA rows (`seed001_q2_as_run` of
   config/config.yaml) as its code ran them (224x224, amp, 1ch, its split, test set and normalisation) and at 28x28
   as ours (fp32, pooled split), each with the seeds' DataLoader loop and with the resident loop, at each of
   `--slots` (1 and 4): every run's time and test accuracy beside seed 001's published row, and the grid's wall time
   per slot count.
4. projection: every CUDA run of the default config on this GPU, from the per-image times measured in 3 at the best
   slot count, scheduled as `make plan` schedules them (timed runs alone, the rest on the GPU slots).

Writes benchmarks/results/gpu-check-<date>.json (device, torch, CUDA, date, and each part as soon as it ends, so that
a time limit keeps what was done) and prints a table per part. On a host without CUDA it stops, unless `--device cpu`
(the tests run the machinery that way, on fixture data, with fp32 for amp).

    make gpu-check                                   # everything
    make gpu-check ARGS='--parts slice projection --models resnet18 --epochs 5'   # the ResNet-18 rows first
    make gpu-check ARGS='--configfile dist/bundle/offline.yaml'                   # the data from a bundle
"""

import argparse
import json
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

from ablation.config import load_config, resnet_runs, validate_config  # noqa: E402
from ablation.plan import hours, wall_time  # noqa: E402
from ablation.split import part_sizes  # noqa: E402

SEED001_ROWS = REPO / "report/seeds/seed001_dl_ablation_results.jsonl"
PARTS = ("tests", "bench", "slice", "projection")
AS_RUN = "seed001_q2_as_run"
# Ours at 28x28: the factors our studies train with, in place of the seed's protocol.
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


def run_tests() -> dict:
    """`pytest -m cuda`, counted from its summary line."""
    start = time.perf_counter()
    proc = subprocess.run(
        # In one process: a worker per core (the suite's default) would initialise CUDA once per worker.
        [sys.executable, "-m", "pytest", "-m", "cuda", "-q", "-n", "0"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-500:]
    counts = {k: int(n) for n, k in (w.split()[:2] for w in summary.strip("= ").split(", ") if w[0].isdigit())}
    print(f"CUDA tests: {summary}")
    return {
        "returncode": proc.returncode,
        "summary": summary,
        "counts": counts,
        "seconds": time.perf_counter() - start,
        "output_tail": proc.stdout[-4000:],
    }


def run_bench(out: Path) -> dict:
    path = out.with_name(out.stem + "-bench.json")
    subprocess.run(
        [sys.executable, str(REPO / "benchmarks/bench.py"), "--skip", "grid", "overhead", "timing", "--out", str(path)],
        cwd=REPO,
        check=True,
    )
    return json.loads(path.read_text())


def slice_studies(config: dict, args) -> dict:
    """The slice's studies: seed 001's Question 2 rows as run and at 28x28 as ours, each with both loops, narrowed
    to `--models` and `--epochs` (the rows' epochs)."""
    study = config["resnet_studies"][AS_RUN]
    rows = [r for r in study["runs"] if r["model"] in args.models and (not args.epochs or r["epochs"] in args.epochs)]
    if args.epochs_cap:
        rows = [{**r, "epochs": min(r["epochs"], args.epochs_cap)} for r in rows]
    as_run = {
        **{k: v for k, v in study["grid"].items()},
        "input_size": args.sizes[:1],
        "device": [args.device],
        "loader": ["dataloader", "resident"],
    }
    if args.device != "cuda":
        as_run["precision"] = ["fp32"]  # amp is CUDA-only
    ours = {**as_run, **{k: [v] for k, v in OURS_28.items()}, "input_size": args.sizes[1:]}
    return {"slice_as_run": {"grid": as_run, "runs": rows}, "slice_28": {"grid": ours, "runs": rows}}


def run_slice(args, out_root: Path) -> dict:
    """The slice at each slot count: wall time, and every run's record."""
    config = load_config(REPO / "config/config.yaml")
    studies = slice_studies(config, args)
    result = {"studies": studies, "by_slots": {}}
    for slots in args.slots:
        outdir = out_root / f"slots{slots}"
        overlay = {
            "outdir": str(outdir),
            "gpu": args.device == "cuda",
            "gpu_slots": slots,
            "seeds": [0],
            "resnet_studies": studies,
            "svm_studies": {},
            "report": {
                "tables": {"q2": list(studies), "part_a": [], "q1": [], "pin_memory": [], "epochs": [], "svm": []}
            },
        }
        if args.subset:
            train, val, test = args.subset
            overlay["data"] = {"subset": {"train": train, "val": val, "test": test}}
        path = out_root / f"slots{slots}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(overlay))
        configfiles = [*args.configfile, str(path)]
        # Data and splits first, outside the timed wall: the grid's wall is its training.
        # Its own working directory: the slice's data, snakemake's records and locks stay beside its outputs.
        command = [sys.executable, "-m", "snakemake", "--cores", str(args.cores), "-s", str(REPO / "Snakefile"),
                   "-d", str(out_root), "--configfile", *configfiles]  # fmt: skip
        prepared = subprocess.run([*command, "--until", "split_dataset"], cwd=out_root, capture_output=True, text=True)
        if prepared.returncode != 0:
            sys.exit(f"gpu-check: the slice's data and splits failed:\n{prepared.stderr[-3000:]}")
        start = time.perf_counter()
        proc = subprocess.run([*command, "--until", "train_resnet"], cwd=out_root, capture_output=True, text=True)
        wall_s = time.perf_counter() - start
        runs = [json.loads(p.read_text()) for p in sorted((outdir / "runs/resnet").rglob("metrics.json"))]
        result["by_slots"][slots] = {
            "wall_s": wall_s,
            "returncode": proc.returncode,
            "runs": [summary(r) for r in runs],
            "stderr_tail": proc.stderr[-3000:],
        }
        print(
            f"\nslice at gpu_slots {slots}: {len(runs)} runs in {wall_s:.0f} s wall (snakemake exit {proc.returncode})"
        )
        print_slice(result["by_slots"][slots]["runs"])
    return result


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
    """Seed 001's committed row for this run's factors (Fashion-MNIST), or None."""
    for line in SEED001_ROWS.read_text().splitlines():
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


def print_slice(runs: list[dict]) -> None:
    print(
        f"{'model':<9}{'batch':>6}{'opt':>5}{'lr':>8}{'ep':>4}{'pin':>6}{'size':>5}{'prec':>6}{'loader':>11}"
        f"{'acc %':>8}{'train s':>9}{'seed001 acc':>12}{'seed001 s':>10}"
    )
    for run in runs:
        p, seed = run["params"], published(run["params"])
        accuracy = f"{100 * run['test_accuracy']:.2f}" if run["test_accuracy"] is not None else "—"
        print(
            f"{p['model']:<9}{p['batch_size']:>6}{p['optimizer']:>5}{p['lr']:>8g}{p['epochs']:>4}"
            f"{str(p['pin_memory']):>6}{p['input_size']:>5}{p['precision']:>6}{p['loader']:>11}{accuracy:>8}"
            f"{run['train_time_s']:>9.1f}{seed['test_accuracy'] if seed else '—':>12}"
            f"{seed['train_time_ms'] / 1000 if seed else float('nan'):>10.1f}"
        )


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


def project(by_slots: dict) -> dict:
    """Every CUDA run of the default config on this GPU: per-image times measured in the slice at its best slot
    count (matched on model, batch size, input size, loader and precision; the 3ch stem costs 4.5% more MACs and is
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
    print(
        f"\nProjection (from the slice at gpu_slots {best}): {len(matched)} of {len(cuda)} CUDA runs of the "
        f"default config, {hours(result['compute_s'])} of compute, {hours(wall_s)} wall at {best} slot(s) "
        f"({hours(result['timed_alone_s'])} of it timed runs alone); {overhead_s:.1f} s start-up per run. "
        f"Not projected (no measured match): {len(cuda) - len(matched)} runs, keys {result['unmatched']}"
    )
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--models", nargs="+", default=["resnet18", "resnet34", "resnet50"])
    parser.add_argument("--epochs", nargs="+", type=int, help="only the rows of these epochs (default: all)")
    parser.add_argument("--epochs-cap", type=int, help="train at most this many epochs per row (a quick look)")
    parser.add_argument("--slots", nargs="+", type=int, default=[1, 4])
    parser.add_argument("--sizes", nargs=2, type=int, default=[224, 28], metavar=("AS_RUN", "OURS"))
    parser.add_argument("--subset", type=int, nargs=3, metavar=("TRAIN", "VAL", "TEST"), help="data.subset")
    parser.add_argument("--cores", type=int, default=16)
    parser.add_argument("--configfile", nargs="*", default=[], help="config overlays, e.g. a bundle's offline.yaml")
    parser.add_argument("--out", help="default: benchmarks/results/gpu-check-<date>.json")
    parser.add_argument("--workdir", help="the slice's outputs (default: results/gpu_check/<date>)")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit(
            "gpu-check: torch sees no CUDA device here. Run it on a GPU host (see README, 'The host's own torch'"
            " for setting one up without network); `--device cpu` runs the machinery on the CPU."
        )
    validate_config(yaml.safe_load((REPO / "config/config.yaml").read_text()))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    out = Path(args.out or REPO / f"benchmarks/results/gpu-check-{stamp}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    result = versions(args.device)
    print(f"gpu-check on {result['device_name']}: torch {result['torch']}, CUDA {result['cuda']}, {result['date']}")

    def save():
        out.write_text(json.dumps(result, indent=2, default=str) + "\n")

    if "tests" in args.parts:
        result["tests"] = run_tests()
        save()
    if "bench" in args.parts:
        result["bench"] = run_bench(out)
        save()
    if "slice" in args.parts or "projection" in args.parts:
        result["slice"] = run_slice(args, Path(args.workdir or REPO / "results/gpu_check" / stamp))
        save()
    if "projection" in args.parts:
        result["projection"] = project(result["slice"]["by_slots"])
        save()
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
