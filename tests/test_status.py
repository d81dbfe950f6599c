"""`make status` on a fixture run: a finished run, one training now (its progress file), one whose attempt failed,
and one not started; counts per study, the running run's epoch and step, and an ETA."""

from ablation.config import RESNET_FACTORS, load_config, resnet_runs
from ablation.status import PROGRESS, point_path, render, study_status, write_progress
from conftest import REPO, run_snakemake, write_config


def test_status_counts_done_running_failed_and_pending_runs_and_gives_an_eta(fixture_data, tmp_path):
    study = {"grid": {"dataset": ["mnist"], "model": ["resnet18"], "batch_size": [64], "optimizer": ["adam"],
                      "lr": [0.01, 0.003, 0.001, 0.0003], "epochs": [2]}}  # fmt: skip
    path = write_config(tmp_path / "config.yaml", fixture_data, resnet_studies={"tiny": study})
    config = load_config(path)
    results = tmp_path / "results"
    # Finish one run for real.
    planned, _ = resnet_runs(config, cuda_visible=False)
    runs = {row["lr"]: point_path(row, RESNET_FACTORS) for row in planned.to_dict("records")}
    run_snakemake(str(results / "runs/resnet" / runs[0.01] / "metrics.json"), "--cores", "2", "-s",
                  str(REPO / "Snakefile"), "-d", str(tmp_path), "--configfile", str(path))  # fmt: skip
    # One training now (this process is alive), one whose attempt failed.
    running = results / "checkpoints/resnet" / runs[0.003]
    running.mkdir(parents=True)
    write_progress(running / PROGRESS, epoch=2, epochs=2, step=3, steps=7)
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
