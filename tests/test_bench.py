"""`make bench`'s grid and overhead measurements run end to end (tiny sizes; the figures themselves are the bench's)."""

import importlib.util
import math

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench", REPO / "benchmarks/bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_grid_bench_trains_the_grid_both_ways(bench, fixture_data):
    root, sums = fixture_data
    data = {"sources": ["local_dir"], "local_dir": str(root), "sha256": sums}
    grid = bench.bench_grid(cores=2, runs=2, batch_size=16, train_images=64, data=data)
    assert set(grid["wall_s"]) == {"serial_all_threads", "parallel_1_thread"}
    assert all(len(times) == 2 and min(times) > 0 for times in grid["train_time_s"].values())
    assert math.isclose(grid["speedup"], grid["wall_s"]["serial_all_threads"] / grid["wall_s"]["parallel_1_thread"])
    # Each variant's wall time holds its two training jobs and snakemake's own start, nothing run beforehand.
    for label, wall in grid["wall_s"].items():
        assert wall > grid["snakemake_startup_s"] and wall > max(grid["train_time_s"][label])


def test_overhead_bench_plans_and_aggregates_1000_runs(bench):
    overhead = bench.bench_overhead()
    assert overhead["planned_runs"] == 1000 and overhead["n_metrics"] == 1000
    assert overhead["dry_run_s"] > 0 and overhead["aggregate_s"] > 0 and overhead["status_s"] > 0


def test_timing_bench_repeats_the_timed_run_alone_and_beside_the_grid(bench, fixture_data):
    root, sums = fixture_data
    data = {"sources": ["local_dir"], "local_dir": str(root), "sha256": sums}
    timing = bench.bench_timing(cores=2, repeats=2, grid_runs=2, train_images=64, epochs=2, rounds=2, data=data)
    alone, shared = timing["variants"]["exclusive"], timing["variants"]["shared"]
    for variant in (alone, shared):
        assert len(variant["epoch_time_s"]) == 2 * 2 * 2 and variant["epoch_time_cv"] >= 0
        assert len(variant["wall_s"]) == 2
    assert all(alone["exclusive"]) and not any(shared["exclusive"])
    # Alone means alone: no other job of the workflow ran beside a timed run at any moment.
    assert alone["share_beside_others"] == [0.0] * 4


def test_share_beside_others_counts_overlapping_time_once(bench):
    assert bench.share_beside_others([0, 10], []) == 0
    assert bench.share_beside_others([0, 10], [[5, 20], [8, 30]]) == 0.5
    assert bench.share_beside_others([0, 10], [[-5, 2], [4, 6], [10, 12]]) == 0.4
