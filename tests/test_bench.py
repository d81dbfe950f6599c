"""`make bench`'s grid and overhead measurements run end to end (tiny sizes; the figures themselves are the bench's)."""

import importlib.util
import math
import shutil
import statistics

import pytest
import torch

from ablation.ops.cost import MACS
from conftest import REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench", REPO / "benchmarks/bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GRID = {"cores": 2, "runs": 2, "batch_size": 16, "train_images": 64}


@pytest.fixture(scope="module")
def grid_data(fixture_data):
    root, sums = fixture_data
    return {"sources": ["local_dir"], "local_dir": str(root), "sha256": sums}


@pytest.fixture(scope="module")
def grid_bench(bench, grid_data, tmp_path_factory):
    """The grid bench at tiny sizes, and the folder it ran in (kept, for the test that reruns a variant there)."""
    work = tmp_path_factory.mktemp("bench-grid")
    return bench.bench_grid(**GRID, data=grid_data, work=work), work


def test_grid_bench_trains_the_grid_both_ways(grid_bench):
    grid, _ = grid_bench
    assert set(grid["wall_s"]) == {"serial_all_threads", "parallel_1_thread"}
    serial, parallel = grid["train_time_s"]["serial_all_threads"], grid["train_time_s"]["parallel_1_thread"]
    # Each variant's runs trained: training times of their own, none of them the other variant's.
    assert not set(serial) & set(parallel), "a variant's runs resumed the other's training"
    assert all(len(times) == 2 and min(times) > 0 for times in (serial, parallel))
    assert math.isclose(grid["speedup"], grid["wall_s"]["serial_all_threads"] / grid["wall_s"]["parallel_1_thread"])
    for label, wall in grid["wall_s"].items():
        times = grid["train_time_s"][label]
        # Two cores train two runs at a time at most: no wall time below (runs / cores) x the shortest run.
        assert wall >= len(times) / GRID["cores"] * min(times)
        # Each variant's wall time holds its two training jobs and snakemake's own start, nothing run beforehand.
        assert wall > grid["snakemake_startup_s"] and wall > max(times)


def test_grid_bench_refuses_a_variant_whose_runs_did_not_train(bench, grid_bench, grid_data):
    """A variant measured again where its runs' checkpoints are kept (runs, logs and benchmarks deleted, as the bench
    once did between its variants) only redoes the runs' test passes: the bench says so instead of a wall time."""
    _, work = grid_bench
    label = "parallel_1_thread"
    workflow, outdir = bench.grid_workflow(work, label, 1, **GRID, data=grid_data)
    for produced in ("runs", "logs", "benchmarks"):
        shutil.rmtree(outdir / produced / "resnet")
    assert list(outdir.glob("checkpoints/resnet/**/checkpoint.pt")), "the finished runs' checkpoints are kept"
    with pytest.raises(bench.ImpossibleMeasurement, match="did not train in this measurement"):
        bench.time_variant(label, workflow, outdir, GRID["runs"], GRID["cores"])


def test_a_wall_time_shorter_than_the_runs_training_is_refused(bench):
    # Four runs of 21.6-24.7 s of training each cannot all end within 18.9 s on two cores.
    with pytest.raises(bench.ImpossibleMeasurement, match="impossible: at least 43.2 s"):
        bench.require_possible_wall("parallel_1_thread", 18.9, [21.6, 22.0, 23.1, 24.7], cores=2)
    bench.require_possible_wall("parallel_1_thread", 43.2, [21.6, 22.0, 23.1, 24.7], cores=2)


def test_overhead_bench_plans_and_aggregates_1000_runs(bench):
    overhead = bench.bench_overhead()
    assert overhead["planned_runs"] == 1000 and overhead["n_metrics"] == 1000
    assert overhead["dry_run_s"] > 0 and overhead["aggregate_s"] > 0 and overhead["status_s"] > 0


def test_timing_bench_repeats_the_timed_run_alone_and_beside_the_grid(bench, fixture_data):
    root, sums = fixture_data
    data = {"sources": ["local_dir"], "local_dir": str(root), "sha256": sums}
    # One round (the order of the ways over rounds has a test of its own); one timed run of two epochs each way, beside
    # one grid run in the shared way (on two cores, it starts both at once).
    repeats, epochs, rounds = 1, 2, 1
    timing = bench.bench_timing(
        cores=2, repeats=repeats, grid_runs=1, train_images=64, epochs=epochs, rounds=rounds, data=data
    )
    alone, shared = timing["variants"]["exclusive"], timing["variants"]["shared"]
    for variant in (alone, shared):
        assert len(variant["epoch_time_s"]) == repeats * epochs * rounds and variant["epoch_time_cv"] >= 0
        assert len(variant["wall_s"]) == rounds
    assert all(alone["exclusive"]) and not any(shared["exclusive"])
    # Alone means alone: no other job of the workflow ran beside a timed run at any moment. Shared means beside the
    # grid: two cores, one thread a run, so the timed run trains while a grid run does.
    assert alone["share_beside_others"] == [0.0] * repeats * rounds
    assert len(shared["share_beside_others"]) == repeats * rounds and all(
        0 < share <= 1 for share in shared["share_beside_others"]
    )


def test_the_ways_alternate_which_goes_first_from_round_to_round(bench):
    variants = {"exclusive": "by_study", "shared": "shared"}
    orders = [bench.round_order(variants, round_) for round_ in range(4)]
    assert orders == [["exclusive", "shared"], ["shared", "exclusive"]] * 2


def test_share_beside_others_counts_overlapping_time_once(bench):
    assert bench.share_beside_others([0, 10], []) == 0
    assert bench.share_beside_others([0, 10], [[5, 20], [8, 30]]) == 0.5
    assert bench.share_beside_others([0, 10], [[-5, 2], [4, 6], [10, 12]]) == 0.4


def test_the_training_bench_rates_each_loop_against_the_naive_one_with_an_mfu_below_one(bench, fixture_data):
    """One model and batch size on the fixture's MNIST files, one short measurement a loop: the rates are the medians
    of the samples, the ratios each loop's rate over the naive loop's, the MFU the achieved training FLOP/s (3 x the
    forward pass's 2 x thop MACs per image) over the measured matrix-multiply peak: above 0, below 1."""
    root, _ = fixture_data
    threads = torch.get_num_threads()
    try:
        rows, peak = bench.bench_training(
            "cpu",
            steps=1,
            repeats=1,
            threads=1,
            data=root / "mnist",
            models=("resnet18",),
            batch_sizes=(16,),
            matmul_n=1024,
        )
    finally:
        torch.set_num_threads(threads)
    (row,) = rows
    assert (row["model"], row["batch_size"], row["threads"]) == ("resnet18", 16, 1)
    assert set(row["samples"]) == {"naive", "dataloader", "resident"}
    assert all(len(rates) == 1 and min(rates) > 0 for rates in row["samples"].values())
    medians = {loop: statistics.median(rates) for loop, rates in row["samples"].items()}
    assert row["images_per_s"] == medians
    assert row["ratio_vs_naive"] == pytest.approx({loop: rate / medians["naive"] for loop, rate in medians.items()})
    assert row["ratio_vs_naive"]["naive"] == 1.0
    assert row["mfu"] == pytest.approx({loop: rate * 3 * 2 * MACS["resnet18"] / peak for loop, rate in medians.items()})
    assert all(0 < mfu < 1 for mfu in row["mfu"].values()), row["mfu"]
    assert row["epoch_49k_s"] == pytest.approx({loop: 49_000 / rate for loop, rate in medians.items()})
