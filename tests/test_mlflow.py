"""`make mlflow` and `make mlflow-ui` on a finished tiny study (conftest's finished_tiny_study): every row of runs.csv
one MLflow run in a real SQLite store, with its factors, epochs, metrics, tags and artifacts; a second write changes
nothing and adds what was trained since; MLflow's own UI, served as `make mlflow-ui` serves it, in Debian's chromium
lists the runs and draws a run's epoch curve."""

import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
import yaml

from ablation.ops import mlflow_store
from ablation.study.config import load_config
from conftest import CHROMIUM, REPO

mlflow = pytest.importorskip("mlflow", reason="MLflow is the optional extra: `make test` installs it (`make mlflow`)")
pytestmark = pytest.mark.slow


def read_csv(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def study(finished_tiny_study, tmp_path_factory) -> dict:
    """A copy of the finished study, and its config with the outdir made absolute (the CLI's working directory is
    the checkout's, as under make)."""
    work = shutil.copytree(finished_tiny_study, tmp_path_factory.mktemp("mlflow") / "study", symlinks=True)
    config = yaml.safe_load((work / "config.yaml").read_text())
    config["outdir"] = str(work / "results")
    (work / "absolute.yaml").write_text(yaml.safe_dump(config))
    return {"config": str(work / "absolute.yaml"), "results": work / "results"}


@pytest.fixture(scope="module")
def store(study) -> dict:
    """The store written three times: from runs.csv as it was before its SVM run was trained and before another study
    shared its trained ResNet run (its `studies` cell), from runs.csv as it is, and again with nothing new; each
    write's counts."""
    runs_csv = study["results"] / "runs.csv"
    rows = read_csv(runs_csv)
    trained = next(row["run_id"] for row in rows if row["kind"] == "resnet" and row["status"] == "ok")
    earlier = [
        {**row, "studies": "earlier"} if row["run_id"] == trained else row for row in rows if row["kind"] != "svm"
    ]
    whole = runs_csv.read_text()
    write_csv(runs_csv, earlier)
    config = load_config(study["config"])
    before = mlflow_store.write_store(config)
    runs_csv.write_text(whole)
    writes = [before, mlflow_store.write_store(config), mlflow_store.write_store(config)]
    client = mlflow.MlflowClient(mlflow_store.store_of(config).tracking_uri)
    experiment = client.get_experiment_by_name(str(study["results"]))
    return {"writes": writes, "client": client, "experiment": experiment, "rows": rows, "changed": trained, **study}


def write_csv(path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def runs_by_path(store) -> dict:
    runs = store["client"].search_runs([store["experiment"].experiment_id])
    return {run.data.tags[mlflow_store.RUN_PATH_TAG]: run for run in runs}


def test_every_row_of_runs_csv_is_one_mlflow_run_with_its_factors_epochs_metrics_and_tags(store):
    rows = {row["run_id"]: row for row in store["rows"]}
    runs = runs_by_path(store)
    assert sorted(runs) == sorted(rows) and {row["status"] for row in rows.values()} == {"ok", "not_run"}
    history = read_csv(store["results"] / "history.csv")
    client = store["client"]
    for path, run in runs.items():
        row = rows[path]
        kind, *factors = path.split("/")
        assert run.data.params == {"kind": kind, **dict(factor.split("~", 1) for factor in factors)}
        assert run.data.params["dataset"] in run.info.run_name
        assert run.data.tags["status"] == {"ok": "ok", "not_run": "not run"}[row["status"]]
        assert run.info.status == {"ok": "FINISHED", "not_run": "KILLED"}[row["status"]]
        if row["status"] == "not_run":
            assert run.data.metrics == {} and run.data.tags["note"] == row["note"] == "not run: no GPU"
            continue
        assert run.data.metrics["test_accuracy"] == float(row["test_accuracy"])
        assert run.data.tags["mlflow.source.git.commit"] == row["git_commit"]
        assert run.data.tags["hostname"] == row["hostname"] and run.data.tags["device_name"] == row["device_name"]
        assert run.data.tags["timing"] == {"True": "alone", "False": "shared"}[row["exclusive"]]
        epochs = [h for h in history if h["run_id"] == path]
        curve = client.get_metric_history(run.info.run_id, "val_accuracy")
        assert [(m.step, m.value) for m in curve] == [(int(h["epoch"]), float(h["val_accuracy"])) for h in epochs]
        if kind == "resnet":
            assert len(curve) == int(row["epochs"]) == 2
            assert run.data.metrics["macs"] == float(row["macs"]) and run.data.tags["torch"] == row["torch"]
        else:
            assert run.data.metrics["fit_time_s"] == float(row["fit_time_s"])


def test_each_run_carries_its_metrics_json_and_its_log(store, tmp_path):
    for path, run in runs_by_path(store).items():
        artifacts = sorted(a.path for a in store["client"].list_artifacts(run.info.run_id))
        if run.data.tags["status"] == "not run":
            assert artifacts == []
            continue
        assert artifacts == ["metrics.json", "run.log"]
        assert (store["results"] / "mlflow-artifacts" / run.info.run_id / "artifacts/run.log").is_file()
        local = mlflow.artifacts.download_artifacts(
            run_id=run.info.run_id, dst_path=str(tmp_path / run.info.run_id), tracking_uri=store["client"].tracking_uri
        )
        run_dir = store["results"] / "runs" / path
        assert json.loads((tmp_path / local / "metrics.json").read_text()) == json.loads(
            (run_dir / "metrics.json").read_text()
        )
        assert (tmp_path / local / "run.log").read_text() == (store["results"] / "logs" / f"{path}.log").read_text()


def test_a_second_write_changes_nothing_and_a_run_trained_since_is_added(store):
    """The write after the SVM run was trained and another study shared the ResNet run adds the one and writes the
    other anew; the next write changes nothing."""
    before, after_training, again = store["writes"]
    paths = [row["run_id"] for row in store["rows"]]
    (svm,) = [path for path in paths if path.startswith("svm/")]
    assert sorted(before.added) == sorted(set(paths) - {svm})
    assert (after_training.added, after_training.replaced, after_training.removed) == ([svm], [store["changed"]], [])
    assert after_training.unchanged == len(paths) - 2 and after_training.renamed == []
    assert (again.added, again.replaced, again.removed, again.renamed) == ([], [], [], [])
    assert again.unchanged == len(paths)
    studies = next(row["studies"] for row in store["rows"] if row["run_id"] == store["changed"])
    assert runs_by_path(store)[store["changed"]].data.tags["studies"] == studies != "earlier"
    # A run written anew replaces its earlier one, which MLflow keeps as deleted (until `mlflow gc`).
    every = store["client"].search_runs([store["experiment"].experiment_id], run_view_type=mlflow.entities.ViewType.ALL)
    assert len(every) == len(paths) + 1


def test_make_mlflow_before_the_study_has_run_or_without_its_config_says_what_to_do(tmp_path, capsys):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"outdir": str(tmp_path / "results"), "resnet_studies": {}, "svm_studies": {}}))
    assert mlflow_store.main(["--configfile", str(config)]) == 1
    error = capsys.readouterr().err
    assert f"{tmp_path}/results/runs.csv does not exist" in error and "make run" in error and "make mlflow" in error
    assert not (tmp_path / "results").exists()
    assert mlflow_store.main(["--configfile", str(config), "--ui"]) == 1
    assert "write the runs into it first with `make mlflow`" in capsys.readouterr().err
    assert mlflow_store.main(["--configfile", str(tmp_path / "mine.yaml")]) == 1
    assert f"the config {tmp_path}/mine.yaml does not exist" in capsys.readouterr().err


def test_the_store_is_beside_the_results_unless_the_config_names_a_tracking_server(tmp_path):
    def store_for(uri):
        return mlflow_store.store_of({"outdir": str(tmp_path / "results"), "mlflow": {"tracking_uri": uri}})

    default = store_for(None)
    assert default.tracking_uri == f"sqlite:///{tmp_path}/results/mlflow.db"
    assert default.artifact_location == (tmp_path / "results/mlflow-artifacts").as_uri()
    database = store_for(f"sqlite:///{tmp_path}/shared.db")
    assert (database.tracking_uri, database.artifact_location) == (
        f"sqlite:///{tmp_path}/shared.db",
        default.artifact_location,
    )
    server = store_for("http://localhost:5000")
    assert (server.tracking_uri, server.artifact_location) == ("http://localhost:5000", None)
    assert default.experiment == database.experiment == server.experiment == str(tmp_path / "results")
    with pytest.raises(mlflow_store.StoreError, match="on the tracking server http://localhost:5000"):
        mlflow_store.ui_command(
            {"outdir": str(tmp_path / "results"), "mlflow": {"tracking_uri": server.tracking_uri}}, 5000
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ui(store):
    """The store's UI as `make mlflow-ui` starts it, and the URL it says; stopped (its process group) at the end."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "ablation.ops.mlflow_store",
        "--configfile",
        store["config"],
        "--ui",
        "--port",
        str(port),
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO / "workflow/scripts")}
    server = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        said = server.stdout.readline()
        url = said.split(": ", 1)[1].split()[0]
        assert url == f"http://127.0.0.1:{port}", said
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=5)
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "the MLflow UI did not start"
                time.sleep(0.2)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


@pytest.mark.skipif(
    CHROMIUM is None, reason="needs Debian's chromium (`apt-get install chromium` as root; .ci/run does)"
)
def test_the_ui_lists_the_studys_runs_and_draws_a_runs_epoch_curve(store, ui, browser):
    runs = runs_by_path(store)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(ui)
    page.get_by_text("Model training", exact=True).click()  # MLflow 3 opens on its view of generative AI traces
    page.get_by_role("link", name=str(store["results"])).click()  # the experiment, named by the study's outdir
    from playwright.sync_api import expect

    page.get_by_text(f"{len(runs)} matching runs").wait_for()
    links = page.locator("a[href*='/runs/']")
    # The count shows before the table's rows do: wait for the rows, then read them (a loaded machine draws late).
    expect(links).to_have_count(len(runs))
    assert sorted(links.all_inner_texts()) == sorted(run.info.run_name for run in runs.values())

    path, run = next((p, r) for p, r in runs.items() if p.startswith("resnet/") and r.data.tags["status"] == "ok")
    links.filter(has_text=run.info.run_name).click()
    page.get_by_role("tab", name="Model metrics").click()
    page.get_by_placeholder("Search metric charts").fill("val_accuracy")
    card = page.locator(
        '[data-testid="experiment-view-compare-runs-card"]', has=page.locator('h4[title="val_accuracy"]')
    )
    plot = card.locator(".js-plotly-plot")
    plot.wait_for()
    curve = plot.evaluate("e => e.data.map(trace => [Array.from(trace.x), Array.from(trace.y)])")
    epochs = [h for h in read_csv(store["results"] / "history.csv") if h["run_id"] == path]
    assert [int(h["epoch"]) for h in epochs] == [1, 2]
    expected = [[int(h["epoch"]) for h in epochs], [float(h["val_accuracy"]) for h in epochs]]
    assert curve and all(trace == expected for trace in curve), curve  # its line, and its points over it
    page.close()
