"""`make status` on a fixture run: a finished run, one training now (its progress file), one whose attempt failed,
and one not started; counts per study, the running run's epoch and step, and an ETA."""

import json

import pytest

from ablation.ops.cost import DEFAULT_CPU_IMAGES_PER_S, STARTUP_S
from ablation.ops.status import render, study_status
from ablation.outputs import paths
from ablation.outputs.progress import write_progress
from ablation.study.config import load_config, resnet_runs
from ablation.study.factors import RESNET_FACTORS
from conftest import FEW_IMAGES, REPO, run_snakemake, tiny_grid, write_config


def test_status_counts_done_running_failed_and_pending_runs_and_gives_an_eta(fixture_data, tmp_path):
    study = {"grid": tiny_grid(lr=[0.01, 0.003, 0.001, 0.0003], epochs=[2])}
    path = write_config(tmp_path / "config.yaml", fixture_data, subset=FEW_IMAGES, resnet_studies={"tiny": study})
    config = load_config(path)
    results = tmp_path / "results"
    # Finish one run for real.
    planned, _ = resnet_runs(config, cuda_visible=False)
    runs = {row["lr"]: paths.point(row, RESNET_FACTORS) for row in planned.to_dict("records")}
    args = ["-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "--configfile", str(path)]
    run_snakemake(str(results / "runs/resnet" / runs[0.01] / "metrics.json"), "--cores", "2", *args)
    # One training now (this process is alive), one whose attempt failed.
    running = results / "checkpoints/resnet" / runs[0.003]
    running.mkdir(parents=True)
    write_progress(running / paths.PROGRESS, epoch=2, epochs=2, step=3, steps=7)
    failed = results / "checkpoints/resnet" / runs[0.001]
    failed.mkdir(parents=True)
    (failed / "attempts.log").write_text("--- attempt started ---\nthe attempt failed:\nTraceback ...\n")
    status = study_status(config, cores=2, throughput={})
    assert status["per_study"]["tiny"] == {"done": 1, "running": 1, "pending": 1, "failed": 1, "diverged": 0}
    (now,) = status["running"]
    assert (now["epoch"], now["step"], now["steps"]) == (2, 3, 7) and now["point"] == runs[0.003]
    assert status["finished_timed"] == 1 and status["eta_s"] > 0
    text = render(status)
    assert "running: epoch 2/2, step 3/7" in text and "ETA:" in text


def test_the_eta_is_what_is_left_corrected_by_the_finished_runs_summed_training_and_evaluation_times(
    fixture_data, tmp_path
):
    """Three runs of one study, as their files say: one finished after a resume (its last attempt trained only its
    second epoch and tested), one running in its second and last epoch, one pending. The correction is the finished
    run's training and evaluation seconds over all attempts against the cost model's; on one core the ETA is the
    rest of each run, one after another."""
    study = {"grid": tiny_grid(lr=[0.01, 0.003, 0.001], epochs=[2])}
    config = load_config(write_config(tmp_path / "config.yaml", fixture_data, resnet_studies={"tiny": study}))
    results = tmp_path / "results"
    planned, _ = resnet_runs(config, cuda_visible=False)
    runs = {row["lr"]: paths.point(row, RESNET_FACTORS) for row in planned.to_dict("records")}
    history = [
        {"epoch": 1, "epoch_time_s": 30.0, "eval_time_s": 2.0},
        {"epoch": 2, "epoch_time_s": 40.0, "eval_time_s": 3.0},
    ]
    # Its conditions' interval is its last attempt's: epoch 2 and the test.
    finished = {
        "kind": "resnet",
        "status": "ok",
        "history": history,
        "train_time_s": 70.0,
        "test_time_s": 5.0,
        "conditions": {"interval_unix": [1000.0, 1050.0]},
    }
    measured_s = 70.0 + 2.0 + 3.0 + 5.0
    metrics = results / "runs/resnet" / runs[0.01] / "metrics.json"
    metrics.parent.mkdir(parents=True)
    metrics.write_text(json.dumps(finished))
    running = results / "checkpoints/resnet" / runs[0.003]
    running.mkdir(parents=True)
    write_progress(running / paths.PROGRESS, epoch=2, epochs=2, step=0, steps=766)

    status = study_status(config, cores=1, throughput={})
    # The cost model's training and evaluation seconds of each run: 2 epochs of the 49,000 training and 7,000
    # validation images and one pass over the 14,000 test images, evaluation at a third of a training image's cost,
    # at the documented CPU rate of ResNet-18.
    model_s = (2 * 49_000 + (2 * 7_000 + 14_000) / 3) / DEFAULT_CPU_IMAGES_PER_S["resnet18"]
    assert status["finished_timed"] == 1 and status["correction"] == pytest.approx(measured_s / model_s)
    # Left: half of the running run (its second of two epochs) and all of the pending one with its start-up.
    assert status["eta_s"] == pytest.approx(0.5 * measured_s + STARTUP_S + measured_s)
