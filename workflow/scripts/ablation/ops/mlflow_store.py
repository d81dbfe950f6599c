"""`make mlflow`: every run of a finished study in an MLflow tracking store; `make mlflow-ui`: the store's UI.

The store is derived from the study's runs.csv, the source of truth, and can be deleted and rebuilt: one experiment
per outdir, one MLflow run per row (ResNet and SVM runs, and runs left out of the plan), named by its point (model or
kind, dataset, and the factors that vary). Its factors are params; its epochs, metric steps; its test metrics, times,
MACs, FLOPs and parameter count, metrics; its provenance, conditions and status (ok, diverged, not run), tags; its
metrics.json and log, artifacts.

A run's identity is its path (the tag `ablation.run_path`). Writing again adds the runs trained since, replaces a run
whose row or metrics.json changed (trained again, or trained where it had been left out), removes the runs no longer
in runs.csv, and leaves every other run as it is: a second call with nothing new writes nothing.
"""

import argparse
import csv
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ablation.outputs import paths
from ablation.report.aggregate import CONDITIONS, HISTORY_FIELDS, METRICS, PROVENANCE, STATUS_NOT_RUN
from ablation.study.config import ConfigError, load_config

# MLflow reports usage to its makers unless told not to; a study's store is nobody else's business.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

RUN_PATH_TAG = "ablation.run_path"
# A digest of the run's row and metrics.json: a run whose digest differs from its row's now is written again.
DIGEST_TAG = "ablation.digest"
STATUS_NAMES = {"ok": "ok", "diverged": "diverged", STATUS_NOT_RUN: "not run"}
# MLflow's own run status, beside the tag that says the study's: a diverged run failed; a run left out never ran.
MLFLOW_STATUS = {"ok": "FINISHED", "diverged": "FAILED", STATUS_NOT_RUN: "KILLED"}
# The SQL store takes at most this many metrics, or 100 params and tags, in one log_batch call.
METRICS_PER_BATCH = 1000
PARAMS_PER_BATCH = 100


class StoreError(RuntimeError):
    """A store that cannot be written or served as asked; the message says what and how to fix it."""


@dataclass
class Store:
    """Where a study's runs go: the tracking URI, the experiment's name, its artifact location (None: a tracking
    server's own) and the default store's database file."""

    tracking_uri: str
    experiment: str
    artifact_location: str | None
    local_file: Path | None = None


@dataclass
class Written:
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    renamed: list[str] = field(default_factory=list)
    unchanged: int = 0


# Tracking URIs of a server, which keeps the artifacts where it is set to; any other store (a database named by its
# URI) keeps them beside the study's results, not in MLflow's default, a folder of whatever directory it ran in.
SERVER_SCHEMES = ("http", "https", "databricks")


def store_of(config: dict) -> Store:
    """The config's store: `mlflow.tracking_uri`, or by default a SQLite database beside the study's results."""
    outdir = Path(config["outdir"]).resolve()
    uri = config["mlflow"]["tracking_uri"]
    if uri and uri.split(":", 1)[0] in SERVER_SCHEMES:
        return Store(uri, str(outdir), None)
    database = Path(paths.mlflow_database(outdir))
    artifacts = Path(paths.mlflow_artifacts(outdir)).as_uri()
    return (
        Store(uri, str(outdir), artifacts) if uri else Store(f"sqlite:///{database}", str(outdir), artifacts, database)
    )


def read_rows(outdir: Path) -> list[dict[str, str]]:
    runs_csv = Path(paths.aggregated(outdir)["runs"])
    if not runs_csv.exists():
        raise StoreError(
            f"{runs_csv} does not exist: the study has no aggregated runs yet. Run the study first (`make run "
            "CONFIG=...`, or `make demo` for the demo), then `make mlflow` with the same CONFIG."
        )
    with open(runs_csv, newline="") as f:
        return list(csv.DictReader(f))


def run_files(outdir: Path, row: dict) -> dict[str, Path]:
    """The run's metrics.json and log, those that exist (a run left out of the plan has neither)."""
    kind, point = row["run_id"].split("/", 1)
    files = {
        "metrics": Path(paths.run_metrics(outdir, kind, point)),
        "log": Path(paths.run_log(outdir, kind, point)),
    }
    return {name: path for name, path in files.items() if path.is_file()}


def digest(row: dict, files: dict[str, Path]) -> str:
    text = json.dumps(row, sort_keys=True) + (files["metrics"].read_text() if "metrics" in files else "")
    return hashlib.sha256(text.encode()).hexdigest()


def milliseconds(timestamp: str) -> int | None:
    return int(datetime.fromisoformat(timestamp).timestamp() * 1000) if timestamp else None


def number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def params_of(row: dict) -> dict[str, str]:
    """The run's factors, as its path names them (`dataset~mnist/model~resnet18/...`), and its kind."""
    kind, *parts = row["run_id"].split("/")
    return {"kind": kind, **dict(part.split("~", 1) for part in parts)}


def run_names(rows: list[dict]) -> dict[str, str]:
    """Each run's name, by its path: its model (or `svm`) and dataset, then the factors that vary among the runs of
    its kind (`resnet18 mnist optimizer=adam seed=1`). The path, whole, is its tag `ablation.run_path`."""
    points = {row["run_id"]: params_of(row) for row in rows}
    names = {}
    for kind in {point["kind"] for point in points.values()}:
        of_kind = {path: point for path, point in points.items() if point["kind"] == kind}
        factors = [f for f in next(iter(of_kind.values())) if f not in ("kind", "model", "dataset")]
        varying = [f for f in factors if len({point.get(f) for point in of_kind.values()}) > 1]
        for path, point in of_kind.items():
            head = [point.get("model", kind), point["dataset"]]
            names[path] = " ".join([*head, *(f"{f}={point[f]}" for f in varying)])
    return names


def tags_of(row: dict, run_digest: str) -> dict[str, str]:
    """Status, studies, provenance and the conditions of the measurement, as text; empty cells left out."""
    tags = {
        RUN_PATH_TAG: row["run_id"],
        DIGEST_TAG: run_digest,
        "status": STATUS_NAMES.get(row["status"], row["status"]),
        **{key: row[key] for key in ("note", "studies", "time_covers", "torch", *PROVENANCE, *CONDITIONS)},
    }
    if row["exclusive"]:
        tags["timing"] = "alone" if row["exclusive"] == "True" else "shared"
    if row["git_commit"]:
        tags["mlflow.source.git.commit"] = row["git_commit"]
    if row["note"]:
        tags["mlflow.note.content"] = row["note"]
    return {key: value for key, value in tags.items() if value != ""}


def metrics_of(row: dict, record: dict | None, run_id: str, start_ms: int | None):
    """Each epoch's training and validation loss and accuracy (and times) at its step, and the run's test metrics,
    times, MACs, FLOPs and parameter count at step 0."""
    from mlflow.entities import Metric

    start_ms = start_ms or 0
    metrics, elapsed_s = [], 0.0
    for epoch in (record or {}).get("history", []):
        elapsed_s += epoch["epoch_time_s"]
        stamp = start_ms + int(elapsed_s * 1000)
        for key in [*HISTORY_FIELDS, "eval_time_s"]:
            if epoch.get(key) is not None:
                metrics.append(Metric(key, float(epoch[key]), stamp, epoch["epoch"], run_id=run_id))
    per_epoch = {metric.key for metric in metrics}
    for key in METRICS:
        value = number(row[key])
        if value is not None and key not in per_epoch:
            metrics.append(Metric(key, value, start_ms, 0, run_id=run_id))
    return metrics


def write_run(client, experiment_id: str, row: dict, name: str, files: dict[str, Path], run_digest: str) -> None:
    from mlflow.entities import Param

    record = json.loads(files["metrics"].read_text()) if "metrics" in files else None
    provenance = (record or {}).get("provenance", {})
    start_ms = milliseconds(provenance.get("started_at", ""))
    run = client.create_run(experiment_id, start_time=start_ms, tags=tags_of(row, run_digest), run_name=name)
    run_id = run.info.run_id
    params = [Param(key, value) for key, value in params_of(row).items()]
    for i in range(0, len(params), PARAMS_PER_BATCH):
        client.log_batch(run_id, params=params[i : i + PARAMS_PER_BATCH])
    metrics = metrics_of(row, record, run_id, start_ms)
    for i in range(0, len(metrics), METRICS_PER_BATCH):
        client.log_batch(run_id, metrics=metrics[i : i + METRICS_PER_BATCH])
    if "metrics" in files:
        client.log_artifact(run_id, str(files["metrics"]))
    if "log" in files:  # under one name for every run: the file's own is the last factor of its path
        client.log_text(run_id, files["log"].read_text(errors="replace"), "run.log")
    end_ms = milliseconds(provenance.get("finished_at", ""))
    client.set_terminated(run_id, status=MLFLOW_STATUS.get(row["status"], "FINISHED"), end_time=end_ms)


# MLflow's UI shows an experiment of this kind as training runs (a table of runs, their metrics' charts), not as
# traces of a generative AI application.
EXPERIMENT_TAGS = {"mlflow.experimentKind": "custom_model_development"}


def experiment_id_of(client, store: Store) -> str:
    experiment = client.get_experiment_by_name(store.experiment)
    if experiment is None:
        return client.create_experiment(store.experiment, store.artifact_location, tags=EXPERIMENT_TAGS)
    if experiment.lifecycle_stage == "deleted":
        client.restore_experiment(experiment.experiment_id)
    return experiment.experiment_id


def stored_runs(client, experiment_id: str) -> dict[str, object]:
    """The experiment's runs by their path, every page of them."""
    found, token = {}, None
    while True:
        page = client.search_runs([experiment_id], max_results=1000, page_token=token)
        found.update({run.data.tags[RUN_PATH_TAG]: run for run in page if RUN_PATH_TAG in run.data.tags})
        token = page.token
        if not token:
            return found


def write_store(config: dict, log=print) -> Written:
    """Brings the config's store in line with its outdir's runs.csv; returns what changed."""
    from mlflow import MlflowClient

    outdir = Path(config["outdir"])
    rows = read_rows(outdir)
    store = store_of(config)
    client = MlflowClient(tracking_uri=store.tracking_uri)
    experiment_id = experiment_id_of(client, store)
    stored = stored_runs(client, experiment_id)
    names = run_names(rows)
    written = Written()
    for row in rows:
        files = run_files(outdir, row)
        run_digest = digest(row, files)
        earlier = stored.pop(row["run_id"], None)
        if earlier is not None and earlier.data.tags.get(DIGEST_TAG) == run_digest:
            if earlier.info.run_name != names[row["run_id"]]:  # a run added since varies a factor this one does not
                client.update_run(earlier.info.run_id, name=names[row["run_id"]])
                written.renamed.append(row["run_id"])
            else:
                written.unchanged += 1
            continue
        if earlier is not None:
            client.delete_run(earlier.info.run_id)
        write_run(client, experiment_id, row, names[row["run_id"]], files, run_digest)
        (written.replaced if earlier is not None else written.added).append(row["run_id"])
    for path, run in stored.items():
        client.delete_run(run.info.run_id)
        written.removed.append(path)
    log(
        f"MLflow: {len(written.added)} run(s) added, {len(written.replaced)} replaced (changed since), "
        f"{len(written.removed)} removed (no longer in runs.csv), {len(written.renamed)} renamed, "
        f"{written.unchanged} unchanged; experiment {store.experiment!r} in {store.tracking_uri}"
    )
    return written


def ui_command(config: dict, port: int, host: str = "127.0.0.1") -> list[str]:
    """The command that serves the config's store (not a tracking server's: that one serves itself)."""
    store = store_of(config)
    if store.artifact_location is None:
        raise StoreError(
            f"This config's runs are on the tracking server {store.tracking_uri} (`mlflow.tracking_uri`): open it "
            "there; `make mlflow-ui` serves a store without a server of its own, as the default SQLite file."
        )
    if store.local_file is not None and not store.local_file.exists():
        raise StoreError(f"{store.local_file} does not exist yet: write the runs into it first with `make mlflow`.")
    return [
        *[sys.executable, "-m", "mlflow", "server", "--backend-store-uri", store.tracking_uri],
        *["--default-artifact-root", store.artifact_location],
        *["--host", host, "--port", str(port), "--workers", "1"],
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configfile", default="config/config.yaml")
    parser.add_argument("--ui", action="store_true", help="serve the store's UI instead of writing it")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args(argv)
    if not Path(args.configfile).is_file():
        print(
            f"Error: the config {args.configfile} does not exist: name a study's config (CONFIG=...)", file=sys.stderr
        )
        return 1
    try:
        config = load_config(args.configfile)
        if not args.ui:
            write_store(config)
            return 0
        command = ui_command(config, args.port)
    except (ConfigError, StoreError) as err:
        print(f"Error: {err}", file=sys.stderr)
        return 1
    print(f"MLflow UI of {store_of(config).experiment}: http://127.0.0.1:{args.port} (Ctrl-C stops it)", flush=True)
    # The server's job runner serves MLflow's generative AI features (judges, trace rollups), which a study's runs
    # do not use: without it the UI starts in less time, with fewer processes.
    os.environ.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    os.execv(command[0], command)


if __name__ == "__main__":
    sys.exit(main())
