"""Recovery without a manual step, through the real workflow: a kill -9 leaves a stale lock that the same command clears
(and a live run's lock is left alone), every attempt of a run stays in its log, and metrics files that cannot be read
are set aside and their runs trained anew; a run asked to train again trains again, while one whose metrics snakemake
deleted only redoes its test pass."""

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import FEW_IMAGES, REPO, SNAKEMAKE, run_snakemake, tiny_grid, without_times, write_config

# Two epochs: a kill once the first epoch's checkpoint is on disk lands in the second, and the rerun resumes there.
EPOCHS = 2
STUDY = {"grid": tiny_grid(batch_size=[16], epochs=[EPOCHS])}


def workflow(tmp_path, fixture_data, study=STUDY) -> list[str]:
    config = write_config(tmp_path / "config.yaml", fixture_data, subset=FEW_IMAGES, resnet_studies={"tiny": study})
    return ["--cores", "1", "-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "--configfile", str(config)]


def wait_for(predicate, timeout=300, process=None):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert process is None or process.poll() is None, "the workflow ended before it could be interrupted"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.slow
def test_a_workflow_killed_mid_training_restarts_with_the_same_command_and_its_log_keeps_every_attempt(
    fixture_data, tmp_path
):
    args = workflow(tmp_path, fixture_data)
    first = subprocess.Popen(
        [*SNAKEMAKE, *args, "--until", "train_resnet"],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    checkpoints = tmp_path / "results/checkpoints"
    wait_for(lambda: any(checkpoints.rglob("checkpoint.pt")), process=first)
    (progress,) = checkpoints.rglob("progress.json")  # what `make status` reads while the run trains
    assert json.loads(progress.read_text())["epochs"] == EPOCHS
    os.killpg(first.pid, signal.SIGKILL)  # the workflow and its job, as a power loss would
    first.wait()
    assert any((tmp_path / ".snakemake/locks").glob("*.lock")), "snakemake's lock is left behind"

    again = run_snakemake(*args, "--until", "train_resnet")  # the same command, nothing by hand
    assert "Cleared a stale snakemake lock" in again.stderr
    (log,) = (tmp_path / "results/logs/resnet").rglob("*.log")
    text = log.read_text()
    assert text.count("--- attempt started") == 2 and "earlier attempts above" in text
    first_attempt, second_attempt = text.split("--- attempt started")[1:]
    assert "epoch 1:" in first_attempt and "resuming after epoch" in second_attempt
    assert f"epoch {EPOCHS}:" in second_attempt
    assert not list(checkpoints.rglob("progress.json")), "a finished run is no longer in progress"
    # Its resume state stays until the run is aggregated (a rerun of a job whose metrics snakemake deleted as incomplete
    # would resume from it), then goes.
    assert list(checkpoints.rglob("attempts.log")) and list(checkpoints.rglob("checkpoint.pt"))
    run_snakemake(*args, "--until", "aggregate")
    assert not list(checkpoints.rglob("attempts.log")) and not list(checkpoints.rglob("checkpoint.pt"))
    assert "removed 2 checkpoint and attempts file(s)" in (tmp_path / "results/logs/report/aggregate.log").read_text()


@pytest.mark.slow
def test_a_live_runs_lock_is_left_alone_and_its_run_named(fixture_data, tmp_path):
    args = workflow(tmp_path, fixture_data)
    first = subprocess.Popen(
        [*SNAKEMAKE, *args, "--until", "train_resnet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    # Once the first holds both locks, this workflow's and snakemake's own; it then still fetches, splits and trains.
    run_lock, locks = tmp_path / ".snakemake/ablation-run.lock", tmp_path / ".snakemake/locks"
    wait_for(lambda: run_lock.exists() and "pid" in run_lock.read_text() and any(locks.glob("*.lock")), process=first)
    second = run_snakemake(*args, "--until", "train_resnet", check=False)
    assert second.returncode != 0, "snakemake's own lock stops the second run"
    assert f"Another snakemake of this workflow is running in this directory (pid {first.pid}," in second.stderr
    assert "Cleared" not in second.stderr
    assert first.wait(timeout=300) == 0, "the live run was not disturbed"


@pytest.mark.slow
def test_metrics_that_cannot_be_read_are_named_set_aside_and_trained_anew(finished_tiny_study, tmp_path):
    """In a copy of a finished study (conftest's finished_tiny_study): a ResNet run's metrics truncated, an SVM run's
    edited by hand."""
    work = shutil.copytree(finished_tiny_study, tmp_path / "study", symlinks=True)
    args = ["--cores", "2", "-s", str(REPO / "Snakefile"), "-d", str(work), "--configfile", str(work / "config.yaml")]
    (resnet,) = (work / "results/runs/resnet").rglob("metrics.json")
    (svm,) = (work / "results/runs/svm").rglob("metrics.json")
    resnet.write_text(resnet.read_text()[:100])  # truncated: a full disk, a copy gone wrong
    record = json.loads(svm.read_text())
    record["test_accuracy"] = "high"  # hand-edited
    svm.write_text(json.dumps(record))

    failed = run_snakemake(*args, "--until", "aggregate", check=False)
    assert failed.returncode != 0
    message = (work / "results/logs/report/aggregate.log").read_text()
    assert "2 metrics file(s) could not be used" in message and "Traceback" not in message
    for path in (resnet, svm):
        assert str(path.relative_to(work)) in message and not path.exists()  # the outdir is relative to the workdir
        (kept,) = path.parent.glob("metrics.json.unusable-*")
        assert kept.stat().st_size > 0, "the file is kept as it was"
    assert "Run the same command again" in message

    run_snakemake(*args, "--until", "aggregate")
    assert resnet.exists() and svm.exists()
    assert json.loads(svm.read_text())["test_accuracy"] != "high"


def copy_of_workflow(directory) -> Path:
    """The workflow's files in `directory`, to edit there, never in the checkout."""
    for part in ("Snakefile", "workflow", "report", "profiles", "config", "envs"):
        source = REPO / part
        (shutil.copytree if source.is_dir() else shutil.copy)(source, directory / part)
    return directory / "Snakefile"


@pytest.mark.slow
def test_a_run_asked_to_train_again_trains_and_one_whose_metrics_were_deleted_only_redoes_its_test_pass(
    fixture_data, tmp_path
):
    """A study stopped before aggregation (`--until train_resnet`) keeps each run's final checkpoint. With the same
    code, a run whose metrics snakemake deleted (a kill before it recorded the job's end) only redoes its test pass;
    asked to train again (`training.retrain`), or after a change of the training code, it trains again. On a copy of
    the workflow, whose training code is edited."""
    snakefile = copy_of_workflow(tmp_path)
    study = {"grid": {**STUDY["grid"], "batch_size": [64], "epochs": [1]}}
    config = write_config(tmp_path / "config.yaml", fixture_data, subset=FEW_IMAGES, resnet_studies={"tiny": study})
    copied = ["-s", str(snakefile), "-d", str(tmp_path)]
    args = ["--cores", "1", *copied, "--until", "train_resnet", "--configfile", str(config)]
    run_snakemake(*args)
    (metrics,) = (tmp_path / "results/runs/resnet").rglob("metrics.json")
    (log,) = (tmp_path / "results/logs/resnet").rglob("*.log")
    (checkpoint,) = (tmp_path / "results/checkpoints").rglob("checkpoint.pt")
    first = json.loads(metrics.read_text())

    def rerun(*extra) -> tuple[dict, str]:
        run_snakemake(*args, *extra)
        return json.loads(metrics.read_text()), log.read_text().split("--- attempt started")[-1]

    metrics.unlink()  # as snakemake deletes the metrics of a job it did not see end
    again, attempt = rerun()
    assert "resuming after epoch 1" in attempt and "epoch 1: train loss" not in attempt, "only the test pass"
    assert again["history"] == first["history"] and again["train_time_s"] == first["train_time_s"]

    retrained, attempt = rerun("--forcerun", "train_resnet", "--config", "training={retrain: true}")
    assert "holds finished training, and the run was asked to train again" in attempt
    assert "epoch 1: train loss" in attempt and "resuming" not in attempt
    assert retrained["train_time_s"] != first["train_time_s"]
    assert without_times(retrained) == without_times(first), "the same code trains the same run"

    with open(snakefile.parent / "workflow/scripts/ablation/train/resnet.py", "a") as f:
        f.write("\nEDITED = True  # a change of the training code\n")
    changed, attempt = rerun("--forcerun", "train_resnet")
    assert f"checkpoint {checkpoint} was made by other training code" in attempt
    assert "epoch 1: train loss" in attempt and "resuming" not in attempt
    assert changed["train_time_s"] not in (first["train_time_s"], retrained["train_time_s"])
    assert changed["provenance"]["training_code"] != first["provenance"]["training_code"]
    assert len(list(checkpoint.parent.glob("checkpoint.pt.set-aside-*"))) == 2, "both kept for a look"
