"""`make gpu-check`'s parts without a GPU: a run set beside source 001's published row, the estimates and the budget,
and the projection of the default config's CUDA runs. Every part run end to end on the CPU is test_bundle's rehearsal;
the GPU figures themselves need a GPU host."""

import json
import subprocess
import sys

import pytest

from ablation.ops.plan import wall_time
from ablation.study.config import load_config, resnet_runs
from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
from gpu_check import project, published  # noqa: E402


def test_a_run_is_set_beside_source_001s_committed_row():
    run = {"model": "resnet18", "batch_size": 16, "optimizer": "adam", "lr": 0.001, "epochs": 5, "pin_memory": True}
    row = published(run)
    assert row["dataset"] == "FashionMNIST" and row["device"] == "cuda" and row["use_amp"]
    assert (row["test_accuracy"], round(row["train_time_ms"])) == (92.07, 407906)  # its README's Question 2 row
    assert published({**run, "epochs": 1}) is None


def test_without_cuda_gpu_check_stops_and_says_where_to_run_it():
    proc = subprocess.run([sys.executable, "benchmarks/gpu_check.py"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 1 and "torch sees no CUDA device here" in proc.stderr and "--device cpu" in proc.stderr


def test_the_dry_estimate_gives_each_parts_time_on_the_gpu_host_and_a_to_e_fit_in_480_s():
    """From the sources' T4 figures and the FLOP counts, nothing run: each part's expected seconds, their running sum,
    and the verdict on a-e against the budget, all of one arithmetic."""
    proc = subprocess.run(
        [sys.executable, "benchmarks/gpu_check.py", "--dry", "--budget", "480"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines() if line[:2] in {f"{c}." for c in "abcdefg"}]
    assert [r[1] for r in rows] == ["tests", "bench", "as_run", "as_run_dataloader", "ours_28", "slots", "projection"]
    seconds = [float(r[2]) for r in rows]
    assert all(s > 0 for s in seconds) and [float(r[3]) for r in rows][-1] == pytest.approx(sum(seconds), abs=4)
    (verdict,) = [line for line in proc.stdout.splitlines() if line.startswith("a-e:")]
    assert float(verdict.split()[1]) == pytest.approx(sum(seconds[:5]), abs=3) and float(verdict.split()[1]) <= 475
    assert verdict.endswith("fit in the budget of 480 s")
    # The arithmetic is the device's: at 224 the resident graph row takes less than the sources' eager loop.
    assert seconds[2] < seconds[3]


def test_a_budget_too_short_for_any_part_ends_at_once_naming_every_part_skipped(tmp_path):
    out = tmp_path / "check.json"
    command = [sys.executable, "benchmarks/gpu_check.py", "--device", "cpu", "--budget", "6"]
    proc = subprocess.run(
        [*command, "--out", str(out), "--workdir", str(tmp_path / "work")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert [s["part"] for s in result["skipped"]] == [
        "a. tests",
        "b. bench",
        "c. as_run",
        "d. as_run_dataloader",
        "e. ours_28",
        "f. slots",
        "g. projection",
    ]
    (line,) = [line for line in proc.stdout.splitlines() if line.startswith("skipped: a. tests (expected")]
    assert line in out.with_suffix(".log").read_text() and not (tmp_path / "work").exists()
    too_short = subprocess.run(
        [sys.executable, "benchmarks/gpu_check.py", "--budget", "5", "--dry"], cwd=REPO, capture_output=True, text=True
    )
    assert (
        too_short.returncode == 1 and "--budget 5 leaves no time for a part: give it more than 5 s" in too_short.stderr
    )


def measured_run(train_time_s: float, eval_time_s: float, attempt_s: float) -> dict:
    """A finished run of parts c-f (ResNet-18, batch 16, 28x28, the DataLoader loop, fp32) on 1,000 training, 100
    validation and 200 test images, one epoch, as gpu_check's summary records it."""
    params = {
        "model": "resnet18",
        "batch_size": 16,
        "input_size": 28,
        "loader": "dataloader",
        "precision": "fp32",
        "epochs": 1,
    }
    return {
        "params": params,
        "status": "ok",
        "split": {"train": 1000, "val": 100, "test": 200},
        "train_time_s": train_time_s,
        "eval_time_s": eval_time_s,
        "attempt_s": attempt_s,
    }


def test_the_projection_scales_each_default_cuda_run_by_the_rates_measured_at_the_fastest_slot_count():
    """At 2 slots (the shorter wall time) a run took 2 ms per training image (2 s / 1,000), 0.5 ms per evaluated
    image (0.15 s / 300) and 2.85 s besides; at 1 slot twice as long. Each default-config CUDA run of that key is
    projected at 2.85 s + its training images x 2 ms + its evaluated images x 0.5 ms, on its split's sizes (pooled:
    49,000 / 7,000 / 14,000 of 70,000; the sources' 42,000 / 6,000 of 60,000, tested on 10,000 or 12,000)."""
    by_slots = {
        "1": {"wall_s": 100.0, "runs": [measured_run(4.0, 0.3, 10.0)]},
        "2": {"wall_s": 60.0, "runs": [measured_run(2.0, 0.15, 5.0)]},
    }
    result = project(by_slots)
    planned, _ = resnet_runs(load_config(REPO / "config/config.yaml"), cuda_visible=True)
    key = ("resnet18", 16, 28, "dataloader", "fp32")
    cuda = planned[planned["device"] == "cuda"]
    matched_on = ["model", "batch_size", "input_size", "loader", "precision"]
    keys = [tuple(r) for r in cuda[matched_on].itertuples(index=False)]
    matched = cuda[[k == key for k in keys]].copy()
    sizes = {"pooled": (49_000, 7_000, 14_000), "seed001": (42_000, 6_000, 10_000), "seed000": (42_000, 6_000, 12_000)}
    matched["estimate_s"] = [
        2.85 + epochs * sizes[split][0] * 0.002 + (epochs * sizes[split][1] + sizes[split][2]) * 0.0005
        for epochs, split in zip(matched["epochs"], matched["split"])
    ]
    assert result["best_slots"] == 2 and result["overhead_s_per_run"] == pytest.approx(2.85)
    assert result["cuda_runs"] == len(cuda) and result["projected_runs"] == len(matched) > 0
    assert result["compute_s"] == pytest.approx(matched["estimate_s"].sum())
    assert result["timed_alone_s"] == pytest.approx(matched.loc[matched["exclusive"].astype(bool), "estimate_s"].sum())
    assert result["wall_s"] == pytest.approx(wall_time(matched, cpu_slots=1, gpu_slots=2))
    assert result["rates"][str(key)] == pytest.approx({"train_s_per_image": 0.002, "eval_s_per_image": 0.0005})
    assert result["unmatched"] == sorted(str(k) for k in set(keys) - {key})
