"""The sources' own measured numbers (report/seeds/, each file with its source in the README there) as tables of runs in
runs.csv's columns, so that source 000's claims can be tested on each source's data exactly as on ours.

What each row ran comes from its source's code (report.fidelity): 224x224 with mixed precision on a GPU, source 000 with
the 3-channel stem and its split, source 001 with the 1-channel stem and the official test set; source 000's Question 2
in fp32 with SGD without momentum. Repeated rows of the same factors are told apart by `seed` (their order), so they
pair with each other as replicates do in ours. No validation curves were published: claim 5 has no data there.
"""

import csv
import json
from pathlib import Path

import pandas as pd

from ablation.report.aggregate import RUN_COLUMNS, typed
from ablation.study.names import DASH, FACTOR_HEADERS, SOURCES_GPU

SOURCES_DIR = Path(__file__).resolve().parents[4] / "report" / "seeds"
DATASETS = {"MNIST": "mnist", "FashionMNIST": "fashion_mnist"}
SOURCE_NAMES = {"seed000": "source 000's own numbers", "seed001": "source 001's own numbers"}


def _resnet(dataset, model, batch_size, optimizer, lr, epochs, pin_memory, device, accuracy_pct, time_ms, **protocol):
    optimizer = optimizer.lower()
    return {
        "kind": "resnet",
        "status": "ok",
        "note": "",
        "dataset": DATASETS[dataset],
        "model": model.lower(),
        "batch_size": int(batch_size),
        "optimizer": optimizer,
        "lr": float(lr),
        "epochs": int(epochs),
        "pin_memory": pin_memory,
        "device": device,
        "loader": "dataloader",
        "input_size": 224,
        "test_accuracy": float(accuracy_pct) / 100,
        "train_time_s": float(time_ms) / 1000 if time_ms else None,
        **protocol,
        "momentum": protocol.get("momentum", 0.9) if optimizer == "sgd" else 0.0,
    }


def _numbered(rows: list[dict]) -> pd.DataFrame:
    """Rows as a runs table: repeats of the same factors numbered by `seed`, and a run_id each."""
    frame = pd.DataFrame(rows)
    factors = [c for c in frame.columns if c not in ("test_accuracy", "train_time_s", "fit_time_s", "note", "status")]
    frame["seed"] = frame.groupby(factors, dropna=False).cumcount()
    frame["run_id"] = [f"{kind}-{i}" for i, kind in enumerate(frame["kind"])]
    return typed(frame.reindex(columns=RUN_COLUMNS))


def source001_runs() -> pd.DataFrame:
    """Its 89 ResNet rows (results/dl_ablation_results.jsonl) and 4 SVM rows (results/svm_results.jsonl)."""
    protocol = {"stem": "1ch", "precision": "amp", "split": "seed001", "normalisation": "half", "test_images": 10_000}
    rows = []
    for line in (SOURCES_DIR / "seed001_dl_ablation_results.jsonl").read_text().splitlines():
        r = json.loads(line)
        factors = [r[k] for k in ("dataset", "model", "batch_size", "optimizer", "learning_rate", "epochs")]
        run = _resnet(*factors, r["pin_memory"], r["device"], r["test_accuracy"], r["train_time_ms"], **protocol)
        # its "GFLOPs" are thop's MACs at 28x28
        rows.append({**run, "flops": int(round(2 * r["flops"]["GFLOPs"] * 1e9))})
    for line in (SOURCES_DIR / "seed001_svm_results.jsonl").read_text().splitlines():
        r = json.loads(line)
        rows.append(
            {
                "kind": "svm",
                "status": "ok",
                "note": "",
                "dataset": DATASETS[r["dataset"]],
                "kernel": r["kernel"],
                "train_samples": r["train_samples"],
                "protocol": "seed001",
                "test_accuracy": r["test_accuracy"] / 100,
                "fit_time_s": r["train_time_ms"] / 1000,
                "test_images": 10_000,
            }
        )
    return _numbered(rows)


def source000_runs() -> pd.DataFrame:
    """Its Question 1 (results_csv/*.csv and the notebook's MNIST ResNet-18 cell), the pin_memory pair and the CPU
    against GPU rows. Its SVM rows are training accuracies (scored on the images fitted on), so they are left out of
    the claims: no test accuracy of its SVM exists."""
    protocol = {
        "stem": "3ch",
        "precision": "amp",
        "split": "seed000",
        "normalisation": "half",
        "test_images": 12_000,
        "gpu_name": SOURCES_GPU,
    }
    rows = []
    # The notebook's figures first: its pin_memory pair (the only rows with times) pairs as seed 0.
    for r in csv.DictReader((SOURCES_DIR / "seed000_notebook_figures.csv").open()):
        if r["table"] in ("q1", "pin_memory"):
            factors = [r[k] for k in ("dataset", "model", "batch_size", "optimizer", "lr", "epochs")]
            pinned = r["pin_memory"] == "True"
            rows.append(_resnet(*factors, pinned, "cuda", r["test_accuracy_pct"], r["time_ms"] or None, **protocol))
    for path in sorted((SOURCES_DIR / "seed000_results_csv").glob("*_part*.csv")) + [
        SOURCES_DIR / "seed000_results_csv/mnist_resnet50_results.csv"
    ]:
        if path.name.startswith("q2_"):
            continue
        for r in csv.DictReader(path.open()):
            factors = [r[k] for k in ("Dataset", "Model", "Batch Size", "Optimizer", "LR")]
            rows.append(_resnet(*factors, 10, True, "cuda", r["Test Accuracy (%)"], None, **protocol))
    q2 = {**protocol, "precision": "fp32", "momentum": 0.0}
    for r in csv.DictReader((SOURCES_DIR / "seed000_results_csv/q2_part4_gpu_adam.csv").open(), skipinitialspace=True):
        device = "cpu" if r["Compute"] == "CPU" else "cuda"
        on_device = {**q2, "gpu_name": SOURCES_GPU if device == "cuda" else None}
        factors = [r[k] for k in ("Model", "Batch_Size", "Optimizer", "Learning_Rate")]
        run = _resnet("FashionMNIST", *factors, 5, False, device, r["Accuracy"], r["Time"], **on_device)
        rows.append({**run, "flops": int(round(2 * float(r["FLOPs"])))})
    return _numbered(rows)


def source_runs() -> dict[str, pd.DataFrame]:
    return {"seed000": source000_runs(), "seed001": source001_runs()}


def source_files() -> list[Path]:
    """The data files the sources' tables are read from (the report depends on them)."""
    return sorted(p for p in SOURCES_DIR.rglob("*") if p.suffix in (".csv", ".jsonl"))


# Source 001's README tables as published (report/seeds/seed001_readme_tables.csv), each beside our runs of the same
# points: the runs made as its code ran them where there are any, else ours at 28x28, the protocol difference named.
SOURCE001_PROTOCOL = {"input_size": 224, "stem": "1ch", "precision": "amp", "split": "seed001", "normalisation": "half"}
SOURCE001_TABLES = {
    "part_a": ("Source 001, Part A (MNIST)", ["model", "batch_size", "optimizer", "lr", "epochs", "pin_memory"]),
    "svm": ("Source 001, Part B: SVM", ["dataset", "kernel", "train_samples"]),
    "q2": (
        "Source 001, Question 2 (Fashion-MNIST)",
        ["model", "batch_size", "optimizer", "lr", "epochs", "pin_memory"],
    ),
}


def source001_published() -> pd.DataFrame:
    counts = dict.fromkeys(["batch_size", "epochs", "train_samples"], "Int64")
    return pd.read_csv(SOURCES_DIR / "seed001_readme_tables.csv", dtype={"pin_memory": "boolean", **counts})


def _matching(row, runs: pd.DataFrame, factors: list[str]) -> tuple[pd.DataFrame, str]:
    """Our finished runs of a published row's point, and how they were made: as source 001's code ran (its protocol, on
    CUDA), else under our protocol at 28x28 (on CUDA with its pin_memory where run there, else on the CPU)."""
    kind = "svm" if row["table"] == "svm" else "resnet"
    same = runs[(runs["kind"] == kind) & (runs["status"] == "ok") & (runs["dataset"] == row["dataset"])]
    for factor in factors:
        if factor in ("dataset", "pin_memory"):
            continue  # the dataset above; pinning per protocol below (it acts on CUDA only)
        if factor in ("model", "optimizer", "kernel"):
            same = same[same[factor] == row[factor]]
        else:
            same = same[same[factor].astype(float) == float(row[factor])]
    if kind == "svm":
        for protocol, how in (
            ("seed001", "as its code ran"),
            ("stratified", "our stratified sample (not its protocol)"),
        ):
            found = same[(same["protocol"] == protocol) & (same["backend"].fillna("sklearn") == "sklearn")]
            if len(found):
                return found, how
        return same.iloc[:0], ""
    as_run = same[(same["device"] == "cuda") & (same["pin_memory"] == row["pin_memory"])]
    for factor, value in SOURCE001_PROTOCOL.items():
        as_run = as_run[as_run[factor] == value]
    if len(as_run):
        return as_run, "as its code ran (224x224, amp, its split, CUDA)"
    ours = same[(same["input_size"] == 28) & (same["split"] == "pooled")]
    on_cuda = ours[(ours["device"] == "cuda") & (ours["pin_memory"] == row["pin_memory"])]
    if len(on_cuda):
        return on_cuda, "ours at 28x28 on CUDA (not its protocol)"
    on_cpu = ours[ours["device"] == "cpu"]
    return on_cpu, "ours at 28x28 on the CPU (not its protocol)" if len(on_cpu) else ""


def source001_beside_ours(runs: pd.DataFrame) -> list[dict]:
    """Each of source 001's published tables with its rows and columns, our figure beside each of its figures and the
    difference: accuracy in points (ours - theirs), time as a ratio (ours / theirs) with the hardware of each side."""
    # Imported here: the Snakefile imports this module while it parses (source_files), and report.tables brings scipy.
    from ablation.report.tables import show

    tables = []
    published = source001_published()
    for key, (title, factors) in SOURCE001_TABLES.items():
        rows = []
        timed = published.loc[published["table"] == key, "time_ms"].notna().any()
        time_key = "fit_time_s" if key == "svm" else "train_time_s"
        for _, row in published[published["table"] == key].iterrows():
            ours, how = _matching(row, runs, factors)
            theirs_acc = float(row["test_accuracy_pct"])
            cells = [show(f, row[f]) for f in factors] + [f"{theirs_acc:.2f}"]
            if len(ours):
                acc = 100 * ours["test_accuracy"].mean()
                cells += [f"{acc:.2f}", f"{acc - theirs_acc:+.2f}"]
            else:
                cells += [DASH, DASH]
            if timed:
                theirs_ms = float(row["time_ms"])
                ours_ms = 1000 * ours[time_key].mean() if len(ours) else None
                hardware = ", ".join(dict.fromkeys(ours["device_name"].dropna().astype(str))) if len(ours) else ""
                cells += [
                    f"{theirs_ms:,.0f}",
                    f"{ours_ms:,.0f}" if ours_ms else DASH,
                    f"{ours_ms / theirs_ms:.2f}x" if ours_ms else DASH,
                    hardware or DASH,
                ]
            cells.append(f"{len(ours)} run(s), {how}" if len(ours) else "not run here")
            rows.append(cells)
        headers = {**FACTOR_HEADERS, "kernel": "Kernel", "train_samples": "Train Samples"}
        columns = [headers[f] for f in factors] + ["Source 001 (%)", "Ours (%)", "Difference (points)"]
        if timed:
            columns += ["Source 001 time (ms)", "Ours (ms)", "Ours / source 001", "Our hardware"]
        columns.append("Our runs")
        theirs_hardware = "its CPU" if key == "svm" else "its CUDA GPU, amp, 224x224"
        tables.append({"title": title, "columns": columns, "rows": rows, "theirs_hardware": theirs_hardware})
    return tables
