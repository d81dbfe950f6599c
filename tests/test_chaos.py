"""The chaos test: a small real study on fixture data, through the real workflow, killed with SIGKILL at seeded random
moments (the workflow and its jobs together, as a power loss or an OOM killer would) and restarted each time with the
same plain command, then stopped once with SIGTERM in the middle of an epoch (a SLURM time limit, a preemption) and
restarted again. Nothing is done by hand in between. The final metrics of every run equal those of an uninterrupted
run of the same study, to the last bit (times aside)."""

import json
import os
import random
import signal
import subprocess
import time

import pandas as pd
import pytest

from conftest import FEW_IMAGES, REPO, SNAKEMAKE, run_snakemake, tiny_grid, without_times, write_config

pytestmark = pytest.mark.slow

# Two runs of three epochs, 7 steps each (batch 16 on FEW_IMAGES of the fixture's pooled split): enough steps for every
# moment below to land inside a run, few enough that the eight starts cost mostly start-up.
STUDY = {"grid": tiny_grid(batch_size=[16], optimizer=["sgd", "adam"], lr=[0.01], epochs=[3])}
SEED = int(os.environ.get("CHAOS_SEED", 20261124))
TARGET = "aggregate"  # runs.csv: every run's metrics merged


def written_since(directory, name: str, since: float) -> bool:
    return any(p.stat().st_mtime > since for p in (directory / "results").rglob(name))


def snakemake_locked(directory) -> bool:
    """Whether snakemake's own lock files are there: written once it has parsed the workflow, removed as it ends."""
    return any((directory / ".snakemake/locks").glob("*.lock"))


# Where the SIGKILLs land: each restart waits for its moment (something it did since it started, observed on disk or
# in its output, never a delay alone: a loaded machine starts slower), then a seeded random delay, then kills. Between
# them they hit snakemake's start and the data jobs, a run mid-epoch before any checkpoint, just after an epoch's
# checkpoint, just after a run's metrics, and the aggregation.
KILLS = [
    ("as snakemake starts", lambda d, since, said: snakemake_locked(d), (0.0, 1.0)),
    ("in a run's first epoch", lambda d, since, said: written_since(d, "progress.json", since), (0.0, 1.0)),
    ("after an epoch's checkpoint", lambda d, since, said: written_since(d, "checkpoint.pt", since), (0.0, 0.5)),
    ("after a run's metrics", lambda d, since, said: written_since(d, "metrics.json", since), (0.0, 0.5)),
    ("in the aggregation", lambda d, since, said: "rule aggregate:" in said(), (0.0, 0.3)),
]


def study(directory, fixture_data) -> list[str]:
    directory.mkdir()
    config = write_config(directory / "config.yaml", fixture_data, subset=FEW_IMAGES, resnet_studies={"chaos": STUDY})
    # The target before --configfile, which takes every argument after it.
    return [TARGET, "--cores", "2", "-s", str(REPO / "Snakefile"), "-d", str(directory), "--configfile", str(config)]


def start(args, output) -> subprocess.Popen:
    # Its own process group: a signal to the group reaches snakemake and every job it started, as on a real host.
    with open(output, "w") as log:
        return subprocess.Popen([*SNAKEMAKE, *args], start_new_session=True, stdout=log, stderr=log, cwd=REPO)


def wait_until(moment, workflow, timeout_s=120):
    deadline = time.monotonic() + timeout_s
    while not moment():
        assert workflow.poll() is None, "the workflow ended before the moment came"
        assert time.monotonic() < deadline, "the moment did not come"
        time.sleep(0.01)


def final_metrics(directory) -> dict:
    runs = directory / "results/runs/resnet"
    return {str(p.relative_to(runs)): without_times(json.loads(p.read_text())) for p in runs.rglob("metrics.json")}


def reached(directory) -> str:
    """How far the study had come when it was killed, for the test's output."""
    results = directory / "results"
    split = "done" if any(results.glob("splits/**/*.npz")) else "not done"
    count = {name: len(list(results.rglob(name))) for name in ("checkpoint.pt", "metrics.json")}
    return f"split {split}, {count['checkpoint.pt']} checkpoint(s), {count['metrics.json']} metrics file(s)"


def test_kill_9_at_random_moments_and_a_sigterm_mid_epoch_end_in_the_metrics_of_an_uninterrupted_run(
    fixture_data, tmp_path
):
    began = time.monotonic()
    reference = study(tmp_path / "uninterrupted", fixture_data)
    run_snakemake(*reference)

    directory = tmp_path / "chaos"
    args = study(directory, fixture_data)
    rng = random.Random(SEED)
    kills, left_locks = [], []
    for k, (where, moment, delay_s) in enumerate(KILLS):
        output, since = tmp_path / f"attempt-{k}.log", time.time()
        workflow = start(args, output)
        wait_until(lambda: moment(directory, since, output.read_text), workflow)  # noqa: B023 (called at once)
        delay = rng.uniform(*delay_s)
        time.sleep(delay)
        assert workflow.poll() is None, f"the workflow finished before the kill {where}"
        os.killpg(workflow.pid, signal.SIGKILL)
        workflow.wait()
        # Nearly always the kill leaves snakemake's lock, for the next start to clear; a kill that lands as snakemake
        # is ending, after it removed its lock, leaves none.
        left_locks.append(snakemake_locked(directory))
        kills.append(f"{where} (+{delay:.2f} s: {reached(directory)})")
        if k == 1:
            # Once, SIGTERM instead, as a run trains (a SLURM time limit, a preemption): the run saves its place in the
            # epoch and exits, snakemake waits for it and ends.
            since = time.time()
            workflow = start(args, tmp_path / "attempt-sigterm.log")
            wait_until(lambda: written_since(directory, "progress.json", since), workflow)  # noqa: B023
            os.killpg(workflow.pid, signal.SIGTERM)
            assert workflow.wait(timeout=120) != 0, "a stopped run is an unfinished run"
    stopped = [
        p for p in (directory / "results/logs/resnet").rglob("*.log") if "SIGTERM: stopped in epoch" in p.read_text()
    ]
    assert stopped, "the run saved its place in the epoch and said so in its log"

    finished = run_snakemake(*args)  # the same plain command, one last time
    said = "".join(p.read_text() for p in tmp_path.glob("attempt-*.log")) + finished.stderr
    assert said.count("Cleared a stale snakemake lock") == sum(left_locks), "after each SIGKILL that left one, only"
    assert sum(left_locks) >= len(KILLS) - 1, f"the kills landed while snakemake held its lock: {kills}"
    chaos = final_metrics(directory)
    assert chaos == final_metrics(tmp_path / "uninterrupted")
    assert len(chaos) == 2 and all(len(m["history"]) == 3 for m in chaos.values())
    merged = pd.read_csv(directory / "results/runs.csv")
    assert sorted(merged["test_accuracy"]) == sorted(
        pd.read_csv(tmp_path / "uninterrupted/results/runs.csv")["test_accuracy"]
    )
    assert not list((directory / "results/checkpoints").rglob("checkpoint.pt")), "aggregated runs need no resume state"
    # Every attempt stays in the stopped run's log, the stop and the resumption mid-epoch included.
    text = stopped[0].read_text()
    assert "resuming in epoch" in text and text.count("--- attempt started") >= 2
    print("SIGKILL at", "; ".join(kills), f"after each start; the whole test took {time.monotonic() - began:.0f} s")
