"""The real workflow, through the snakemake command line: the plan of the default config, bad config, a tiny run."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ablation.outputs.records import validate_metrics
from conftest import CPU_ONLY_RUNS, FEW_IMAGES, REPO, checkout_copy, read_json, run_snakemake, tiny_grid, write_config


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run, as {rule: count}."""
    table = output.split("Job stats:", 1)[1]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.MULTILINE)}


# A tiny study of two runs (SGD, which reads the momentum, and Adam, which does not) on the few images.
TINY = {"grid": tiny_grid(optimizer=["sgd", "adam"])}


@pytest.fixture(scope="module")
def trained_tiny(fixture_data, tmp_path_factory) -> Path:
    """The tiny study trained once (`--until train_resnet`) in a working directory whose outdir is relative to it, so
    that a copy of the directory (its .snakemake records included) is the same study, finished, at a new place."""
    work = tmp_path_factory.mktemp("trained_tiny")
    config = write_config(
        work / "config.yaml", fixture_data, subset=FEW_IMAGES, outdir="results", resnet_studies={"tiny": TINY}
    )
    workflow_files = ["-s", str(REPO / "Snakefile"), "-d", str(work), "--configfile", str(config)]
    run_snakemake("--cores", "2", *workflow_files, "--until", "train_resnet")
    return work


def copy_of(trained: Path, destination: Path) -> Path:
    shutil.copytree(trained, destination, symlinks=True)
    return destination


def test_dry_run_of_the_default_config_lists_every_run_once(tmp_path):
    args = ["-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "--configfile", str(REPO / "config/config.yaml")]
    proc = run_snakemake("-n", *args, "--config", "gpu=false")
    counts = job_counts(proc.stdout + proc.stderr)
    assert counts["train_resnet"] == CPU_ONLY_RUNS
    # The pooled split of both datasets, source 000's split of Fashion-MNIST for its Question 2 CPU run as run, and
    # source 001's of both for the sources' SVMs as run (its test part is the official test set).
    assert counts["fetch_data"] == 2 and counts["split_dataset"] == 5
    assert counts["train_svm"] == 30 + 22  # the fit-time series under both SVC implementations
    assert "CUDA run(s) left out" in proc.stderr


def test_a_bad_config_stops_before_any_job_with_one_clear_message(tmp_path):
    config = (REPO / "config/config.yaml").read_text().replace("optimizer: [sgd, adam]", "optimizer: [sgd, adamw]", 1)
    (tmp_path / "bad.yaml").write_text(config)
    args = ["-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "--configfile", str(tmp_path / "bad.yaml")]
    proc = run_snakemake("-n", *args, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "resnet_studies.seed000_q1.grid.optimizer[1]" in output
    assert "'adamw' is not one of ['sgd', 'adam']" in output
    assert "bad.yaml" in output
    assert not (tmp_path / "results").exists()


def planned_jobs(output: str, rule: str) -> list[str]:
    """The `optimizer~...` of each job of `rule` in a dry run's listing."""
    blocks = re.split(r"\n(?=(?:local)?rule \w+:)", output)
    return [re.search(r"optimizer~(\w+)", b)[1] for b in blocks if re.match(rf"(?:local)?rule {rule}:", b.strip())]


@pytest.mark.slow
def test_a_hyperparameter_outside_the_grid_reruns_only_the_runs_that_read_it(fixture_data, trained_tiny, tmp_path):
    work = copy_of(trained_tiny, tmp_path / "work")
    args = ["-s", str(REPO / "Snakefile"), "-d", str(work), "--until", "train_resnet"]

    def changed(factor_defaults=None, **training) -> list[str]:
        other = tmp_path / "changed.yaml"
        overrides = {"training": training} | ({"factor_defaults": factor_defaults} if factor_defaults else {})
        write_config(
            other, fixture_data, subset=FEW_IMAGES, outdir="results", resnet_studies={"tiny": TINY}, **overrides
        )
        proc = run_snakemake("-n", *args, "--configfile", str(other))
        return sorted(planned_jobs(proc.stdout, "train_resnet"))

    assert changed() == [], "the same config reruns nothing"
    # Momentum is a factor: 0.8 is a new SGD run at its own path; the Adam run, which reads none, stands.
    assert changed(factor_defaults={"momentum": 0.8}) == ["sgd"], "Adam does not read the momentum"
    assert changed(weight_decay=0.01) == ["adam", "sgd"]
    assert changed(eval_batch_size=500, num_workers=1) == [], "neither changes a result"


@pytest.mark.slow
def test_each_local_cuda_job_takes_a_gpu_lease_before_torch_sees_a_gpu(fixture_data, tmp_path):
    """Two declared GPUs on this CPU host: every CUDA job leases one (and then stops, as there is no CUDA here). Three
    jobs, at most two at once (the `gpu` resource is GPUs x slots): the first two lease different GPUs."""
    study = {"grid": tiny_grid(batch_size=[16, 32, 64], device=["cuda"])}
    config = write_config(
        tmp_path / "config.yaml",
        fixture_data,
        gpu=True,
        gpus=2,
        gpu_lease_dir=str(tmp_path / "leases"),
        resnet_studies={"gpu": study},
    )
    args = ["-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "--configfile", str(config), "--until", "train_resnet"]
    proc = run_snakemake("--cores", "6", "--keep-going", *args, check=False)  # 2 threads per CUDA job
    assert proc.returncode != 0
    logs = sorted((tmp_path / "results/logs/resnet").rglob("*.log"))
    assert len(logs) == 3
    for log in logs:
        text = log.read_text()
        assert re.search(r"GPU lease: CUDA_VISIBLE_DEVICES=[01] \(GPU [01], slot 0, waited", text), text
        assert "torch sees no CUDA device" in text
    assert sorted(p.name for p in (tmp_path / "leases").iterdir()) == ["gpu0.slot0.lock", "gpu1.slot0.lock"]


def overlaps(a: list[float], b: list[float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


@pytest.mark.slow
def test_timed_runs_train_alone_and_a_pin_memory_true_cpu_run_is_trained_once(fixture_data, tmp_path):
    """A timed ResNet study and a timed SVM series beside shared ones, at --cores 3: every timed run's recorded
    interval overlaps no other run's; each records that it ran alone, with all 3 cores as torch threads. The timed
    study asks for pin_memory False and True on the CPU: one run each."""
    base = {"dataset": ["mnist"], "model": ["resnet18"], "batch_size": [64], "lr": [0.001], "epochs": [1]}
    resnet = {
        "timed": {"timing": "exclusive", "grid": {**base, "optimizer": ["sgd", "adam"], "pin_memory": [False, True]}},
        "grid": {"grid": {**base, "dataset": ["mnist", "fashion_mnist"], "optimizer": ["adam"], "lr": [0.01]}},
    }
    svm = {
        "fit_times": {
            "timing": "exclusive",
            "grid": {"dataset": ["mnist"], "kernel": ["rbf"], "train_samples": [50, 100]},
        },
        "accuracy": {"grid": {"dataset": ["fashion_mnist"], "kernel": ["rbf", "poly"], "train_samples": [100]}},
    }
    config = write_config(
        tmp_path / "config.yaml", fixture_data, subset=FEW_IMAGES, resnet_studies=resnet, svm_studies=svm
    )
    args = ["-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "--configfile", str(config)]
    run_snakemake("--cores", "3", *args, "--until", "train_resnet", "train_svm")

    records = {path: read_json(path) for path in (tmp_path / "results/runs").rglob("metrics.json")}
    resnet_paths = [p for p in records if "/resnet/" in str(p)]
    assert len(resnet_paths) == 4 and not any("pin_memory~True" in str(p) for p in resnet_paths)
    assert len(records) == 4 + 4
    timed = {p: r for p, r in records.items() if r["conditions"]["exclusive"]}
    assert len(timed) == 2 + 2, "the timed study's two runs and the timed SVM series"
    for path, record in timed.items():
        conditions = record["conditions"]
        assert conditions["threads"] == (3 if record["kind"] == "resnet" else 1)
        for other_path, other in records.items():
            if other_path != path:
                assert not overlaps(conditions["interval_unix"], other["conditions"]["interval_unix"]), (
                    f"{path} overlapped {other_path}"
                )
    for record in records.values():
        if not record["conditions"]["exclusive"]:
            assert record["conditions"]["threads"] == 1


@pytest.mark.slow
def put_back_in_the_first_layout(results: Path, metrics: Path, suffix: str) -> dict[Path, Path]:
    """Moves a run recorded under `results` (its metrics.json, its log) and the pooled split to the first layout, as
    an earlier version of the workflow left them: the run's files end at seed~0 (the directories of `suffix` gone),
    the split is splits/mnist.*, the params lack the new factors and the SGD momentum is in the record's `training`
    (config `training.momentum` of then). Returns each file's new path and its path in the first layout."""
    record = read_json(metrics)
    point = metrics.parents[6]
    log_dir, relative = results / "logs/resnet", point.relative_to(results / "runs/resnet")
    old = {
        metrics: point / "metrics.json",
        log_dir / relative / f"{suffix}.log": log_dir / f"{relative}.log",
        results / "splits/pooled/mnist.npz": results / "splits/mnist.npz",
        results / "splits/pooled/mnist.json": results / "splits/mnist.json",
    }
    for new, earlier in old.items():
        new.rename(earlier)
    for factor in ("input_size", "stem", "precision", "split", "normalisation", "momentum"):
        del record["params"][factor]
    record["training"]["momentum"] = 0.9
    (point / "metrics.json").write_text(json.dumps(record))
    os.utime(point / "metrics.json", (metrics_mtime := old[metrics].stat().st_mtime, metrics_mtime))
    return old


def ablation_command(module: str, config: Path, cwd: Path) -> subprocess.CompletedProcess:
    """`python -m ablation.<module> --configfile <config>`, as the Makefile runs it."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "workflow/scripts")}
    command = [sys.executable, "-m", f"ablation.{module}", "--configfile", str(config)]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)


def test_runs_recorded_before_the_fidelity_factors_move_to_their_paths_and_are_not_trained_again(
    trained_tiny, tmp_path
):
    """A run and its split in the first layout, from before input_size, stem, precision, split, normalisation and
    momentum were factors (as an earlier version of the workflow left them): the workflow and `make plan` stop and
    name `make migrate`, which moves them and keeps their times; then the workflow finds nothing to do. The SGD run
    of the tiny study is put back in that layout; the Adam run stays where it is."""
    work = copy_of(trained_tiny, tmp_path / "work")
    config = work / "config.yaml"
    args = ["-s", str(REPO / "Snakefile"), "-d", str(work), "--configfile", str(config), "--until", "train_resnet"]
    results = work / "results"
    (metrics,) = (results / "runs/resnet").rglob("optimizer~sgd/**/metrics.json")
    suffix = "input_size~28/stem~1ch/precision~fp32/split~pooled/normalisation~train_stats/momentum~0.9"
    assert str(metrics.parent).endswith(suffix)
    old = put_back_in_the_first_layout(results, metrics, suffix)
    command = f"`make migrate CONFIG={config}` (nothing is trained again), then run the same command again"
    for stopped in (run_snakemake("-n", *args, check=False), ablation_command("ops.plan", config, work)):
        said = stopped.stdout + stopped.stderr
        assert stopped.returncode != 0 and "4 file(s) under" in said and command in said, said[-2000:]
        assert "train_resnet" not in said, "parsing stops before the plan"
    assert all(earlier.exists() and not new.exists() for new, earlier in old.items()), "parsing only looks"

    moved = ablation_command("ops.migrate", config, work)
    assert moved.returncode == 0, moved.stderr
    assert "Moved 4 file(s) of runs recorded before some of their factors existed" in moved.stdout
    assert "input_size 28, stem 1ch, precision fp32, split pooled, normalisation train_stats" in moved.stdout
    assert all(new.exists() and not earlier.exists() for new, earlier in old.items())
    dry = run_snakemake("-n", *args)
    output = dry.stdout + dry.stderr
    assert re.search(r"^total\s+0$", output, re.MULTILINE), f"nothing is trained again: {output[-2000:]}"
    # The aggregation reads the moved record's missing factors as the values it trained with.
    workflow_files = ["-s", str(REPO / "Snakefile"), "-d", str(work), "--configfile", str(config)]
    run_snakemake("results/runs.csv", "--cores", "1", *workflow_files)
    assert "split~pooled" in (results / "runs.csv").read_text()


@pytest.mark.slow
def test_make_run_runs_its_configs_study_then_nothing_and_after_an_edit_of_the_code_only_the_report(
    fixture_data, tmp_path
):
    """`make run CONFIG=...` in a copy of the checkout: the plan it prints and the study it runs are the config's (one
    CPU run per dataset; the CUDA runs are left out on this host), not the default study's; the same command again
    has nothing to do; after an edit of the code the report is redrawn and no run trains again (the profiles' rerun
    triggers leave finished runs alone, hours each, and every run records its git commit)."""
    venv = Path(sys.executable).parents[1]
    if not (venv / ".installed").exists():
        pytest.skip(f"the tests run outside a venv `make venv` built ({venv}), which make would build anew")
    study = {"grid": tiny_grid(dataset=["mnist", "fashion_mnist"], device=["best", "cuda"])}
    config = write_config(tmp_path / "tiny.yaml", fixture_data, subset=FEW_IMAGES, resnet_studies={"tiny": study})
    copy = checkout_copy(tmp_path / "checkout")

    def make_run() -> str:
        proc = subprocess.run(
            ["make", "-C", str(copy), "run", f"CONFIG={config}", f"VENV={venv}", "CORES=2"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return proc.stdout + proc.stderr

    said = make_run()
    assert f"Plan for {config}" in said and re.search(r"^tiny +2 +2 ", said, re.MULTILINE), said[-3000:]
    runs = sorted((tmp_path / "results/runs/resnet").rglob("metrics.json"))
    assert len(runs) == 2, "one CPU run per dataset; the CUDA runs are left out on this host"
    for path in runs:
        record = read_json(path)
        validate_metrics(record)
        assert record["params"]["device"] == "cpu"
        assert f"dataset~{record['params']['dataset']}/" in str(path)
    split = read_json(tmp_path / "results/splits/pooled/mnist.json")
    assert split["sizes"] == FEW_IMAGES, "the config's data.subset of its data"
    assert read_json(runs[0])["provenance"]["split_checksum"] in {
        read_json(tmp_path / f"results/splits/pooled/{d}.json")["checksum"] for d in ("mnist", "fashion_mnist")
    }
    assert (tmp_path / "results/report/README.md").exists()
    assert not (copy / "results").exists(), "nothing of the default study's outdir"

    assert "Nothing to be done" in make_run()

    for script in ("workflow/scripts/train_resnet.py", "workflow/scripts/ablation/report/tables.py"):
        with open(copy / script, "a") as f:
            f.write("\n# an edit\n")
    planned = job_counts(run_snakemake("-n", "--configfile", str(config), cwd=copy).stdout)
    assert "train_resnet" not in planned, "a finished run is not trained again for an edit of the code"
    assert planned["aggregate"] == 1 and planned["render_report"] == 1
