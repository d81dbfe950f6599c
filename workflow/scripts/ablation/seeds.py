"""The seeds' own measured numbers (report/seeds/, each file with its source in the README there) as tables of runs in
runs.csv's columns, so that seed 000's claims can be tested on each seed's data exactly as on ours.

What each row ran comes from its seed's code (ablation.fidelity): 224x224 with mixed precision on a GPU, seed 000 with
the 3-channel stem and its split, seed 001 with the 1-channel stem and the official test set; seed 000's Question 2
in fp32 with SGD without momentum. Repeated rows of the same factors are told apart by `seed` (their order), so they
pair with each other as replicates do in ours. No validation curves were published: claim 5 has no data there.
"""

import csv
import json
from pathlib import Path

import pandas as pd

from .aggregate import RUN_COLUMNS, typed
from .names import SEEDS_GPU

SEEDS_DIR = Path(__file__).resolve().parents[3] / "report" / "seeds"
DATASETS = {"MNIST": "mnist", "FashionMNIST": "fashion_mnist"}
SEED_NAMES = {"seed000": "seed 000's own numbers", "seed001": "seed 001's own numbers"}


def _resnet(dataset, model, batch_size, optimizer, lr, epochs, pin_memory, device, accuracy_pct, time_ms, **protocol):
    optimizer = optimizer.lower()
    return {
        "kind": "resnet", "status": "ok", "note": "", "dataset": DATASETS[dataset], "model": model.lower(),
        "batch_size": int(batch_size), "optimizer": optimizer, "lr": float(lr), "epochs": int(epochs),
        "pin_memory": pin_memory, "device": device, "loader": "dataloader", "input_size": 224,
        "test_accuracy": float(accuracy_pct) / 100, "train_time_s": float(time_ms) / 1000 if time_ms else None,
        **protocol, "momentum": protocol.get("momentum", 0.9) if optimizer == "sgd" else 0.0,
    }  # fmt: skip


def _numbered(rows: list[dict]) -> pd.DataFrame:
    """Rows as a runs table: repeats of the same factors numbered by `seed`, and a run_id each."""
    frame = pd.DataFrame(rows)
    factors = [c for c in frame.columns if c not in ("test_accuracy", "train_time_s", "fit_time_s", "note", "status")]
    frame["seed"] = frame.groupby(factors, dropna=False).cumcount()
    frame["run_id"] = [f"{kind}-{i}" for i, kind in enumerate(frame["kind"])]
    return typed(frame.reindex(columns=RUN_COLUMNS))


def seed001_runs() -> pd.DataFrame:
    """Its 89 ResNet rows (results/dl_ablation_results.jsonl) and 4 SVM rows (results/svm_results.jsonl)."""
    protocol = {"stem": "1ch", "precision": "amp", "split": "seed001", "normalisation": "half", "test_images": 10_000}
    rows = []
    for line in (SEEDS_DIR / "seed001_dl_ablation_results.jsonl").read_text().splitlines():
        r = json.loads(line)
        rows.append({
            **_resnet(r["dataset"], r["model"], r["batch_size"], r["optimizer"], r["learning_rate"], r["epochs"],
                      r["pin_memory"], r["device"], r["test_accuracy"], r["train_time_ms"], **protocol),
            "flops": int(round(2 * r["flops"]["GFLOPs"] * 1e9)),  # its "GFLOPs" are thop's MACs at 28x28
        })  # fmt: skip
    for line in (SEEDS_DIR / "seed001_svm_results.jsonl").read_text().splitlines():
        r = json.loads(line)
        rows.append({
            "kind": "svm", "status": "ok", "note": "", "dataset": DATASETS[r["dataset"]], "kernel": r["kernel"],
            "train_samples": r["train_samples"], "protocol": "seed001", "test_accuracy": r["test_accuracy"] / 100,
            "fit_time_s": r["train_time_ms"] / 1000, "test_images": 10_000,
        })  # fmt: skip
    return _numbered(rows)


def seed000_runs() -> pd.DataFrame:
    """Its Question 1 (results_csv/*.csv and the notebook's MNIST ResNet-18 cell), the pin_memory pair and the CPU
    against GPU rows. Its SVM rows are training accuracies (scored on the images fitted on), so they are left out of
    the claims: no test accuracy of its SVM exists."""
    protocol = {"stem": "3ch", "precision": "amp", "split": "seed000", "normalisation": "half", "test_images": 12_000,
                "gpu_name": SEEDS_GPU}  # fmt: skip
    rows = []
    # The notebook's figures first: its pin_memory pair (the only rows with times) pairs as seed 0.
    for r in csv.DictReader((SEEDS_DIR / "seed000_notebook_figures.csv").open()):
        if r["table"] in ("q1", "pin_memory"):
            rows.append(_resnet(r["dataset"], r["model"], r["batch_size"], r["optimizer"], r["lr"], r["epochs"],
                                r["pin_memory"] == "True", "cuda", r["test_accuracy_pct"], r["time_ms"] or None,
                                **protocol))  # fmt: skip
    for path in sorted((SEEDS_DIR / "seed000_results_csv").glob("*_part*.csv")) + [
        SEEDS_DIR / "seed000_results_csv/mnist_resnet50_results.csv"
    ]:
        if path.name.startswith("q2_"):
            continue
        for r in csv.DictReader(path.open()):
            rows.append(_resnet(r["Dataset"], r["Model"], r["Batch Size"], r["Optimizer"], r["LR"], 10, True, "cuda",
                                r["Test Accuracy (%)"], None, **protocol))  # fmt: skip
    q2 = {**protocol, "precision": "fp32", "momentum": 0.0}
    for r in csv.DictReader((SEEDS_DIR / "seed000_results_csv/q2_part4_gpu_adam.csv").open(), skipinitialspace=True):
        device = "cpu" if r["Compute"] == "CPU" else "cuda"
        on_device = {**q2, "gpu_name": SEEDS_GPU if device == "cuda" else None}
        rows.append({**_resnet("FashionMNIST", r["Model"], r["Batch_Size"], r["Optimizer"], r["Learning_Rate"], 5,
                               False, device, r["Accuracy"], r["Time"], **on_device),
                     "flops": int(round(2 * float(r["FLOPs"])))})  # fmt: skip
    return _numbered(rows)


def seed_runs() -> dict[str, pd.DataFrame]:
    return {"seed000": seed000_runs(), "seed001": seed001_runs()}


def seed_files() -> list[Path]:
    """The data files the seeds' tables are read from (the report depends on them)."""
    return sorted(p for p in SEEDS_DIR.rglob("*") if p.suffix in (".csv", ".jsonl"))
