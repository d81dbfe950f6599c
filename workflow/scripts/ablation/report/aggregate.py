"""Merging the per-run metrics JSONs into one table of runs (runs.csv) and one of epochs (history.csv).

Every planned run gets a row, whatever became of it: `ok`, `diverged` (with the epoch) or `not_run` (left out of the
plan, e.g. a CUDA run on a host without GPU), so no table built from it can show a silent gap.
"""

import time
from pathlib import Path

import pandas as pd

from ablation.outputs import paths
from ablation.outputs.records import read_json, validate_metrics
from ablation.study.config import serves_any
from ablation.study.factors import RESNET_FACTORS, SVM_FACTORS, complete_factors, factors_of_type

STATUS_NOT_RUN = "not_run"
NOT_RUN_NO_GPU = "not run: no GPU"

# The factors of either kind, in one column set (SVM rows leave the ResNet-only ones empty, and back).
FACTORS = list(dict.fromkeys(RESNET_FACTORS + SVM_FACTORS))
METRICS = [
    "test_accuracy",
    "val_accuracy",
    "test_loss",
    "train_time_s",
    # Validation passes and the test pass (null where not recorded), and the time a table shows: train_time_s, plus
    # eval_time_s for a run whose study times evaluation too (`time_covers`).
    "eval_time_s",
    "time_taken_s",
    "epochs_completed",
    "diverged_epoch",
    "macs",
    "flops",
    "params_count",
    "fit_time_s",
    "predict_time_s",
    "n_support_vectors",
    # An SVM's accuracy on the images it was fitted on: recorded under the `seed000` protocol, which published it.
    "train_accuracy",
    "test_images",
]
# Where and with what each number was produced; the whole record stays in the run's metrics.json.
PROVENANCE = [
    "git_commit",
    "git_dirty",
    "hostname",
    "cpu_model",
    "cpu_count",
    "threads",
    "gpu_name",
    "cuda_version",
    # torch's full build (e.g. 2.11.0+cu128) and whether it was the venv's or the host's own (TORCH=system).
    "torch_build",
    "torch_from",
    "slurm_job_id",
    "data_source",
    "started_at",
    "finished_at",
]
# The conditions the times were measured under (ablation.outputs.conditions); empty for runs recorded before them.
CONDITIONS = [
    "exclusive",
    "device_name",
    "device_index",
    "gpu_other_runs_start",
    "gpu_other_runs_end",
    "load_average_start",
    "load_average_end",
    "cpu_utilisation",
    "deterministic_algorithms",
    "cudnn_benchmark",
]
RUN_COLUMNS = [
    *["run_id", "kind", "status", "note", "studies", "time_covers", *FACTORS, *METRICS, *PROVENANCE, *CONDITIONS],
    *["interval_start", "interval_end", "torch", "metrics_path"],
]
HISTORY_FIELDS = ["train_loss", "train_accuracy", "val_loss", "val_accuracy", "epoch_time_s", "data_time_s"]
HISTORY_COLUMNS = ["run_id", "epoch", *HISTORY_FIELDS]

# Column types once read back from CSV (a column with gaps would otherwise come back as float or object): the
# factors' as their schema entries say.
INT_COLUMNS = [*factors_of_type("integer"), "epochs_completed", "diverged_epoch", "macs", "flops", "params_count"]
INT_COLUMNS += ["n_support_vectors", "cpu_count", "threads", "gpu_other_runs_start", "gpu_other_runs_end"]
BOOL_COLUMNS = [*factors_of_type("boolean"), "git_dirty", "exclusive", "deterministic_algorithms", "cudnn_benchmark"]
FLOAT_COLUMNS = [*factors_of_type("number"), *METRICS, "load_average_start", "load_average_end", "cpu_utilisation"]
FLOAT_COLUMNS += ["interval_start", "interval_end"]


def run_id(kind: str, factors: list[str], point: dict) -> str:
    """The run's directory below runs/, as the Paramspace names it: resnet/dataset~mnist/.../seed~0."""
    return f"{kind}/{paths.point(point, factors)}"


def _note(status: str, diverged_epoch) -> str:
    if status == "diverged":
        return f"diverged at epoch {diverged_epoch}"
    return ""


def run_row(kind: str, planned: dict, metrics_path) -> tuple[dict, list[dict]]:
    """One run's row of runs.csv and its rows of history.csv, from its plan entry and its metrics.json."""
    record = read_json(metrics_path)
    try:
        validate_metrics(record)
    except Exception as err:  # name the file: the schema error alone does not say which of hundreds
        raise ValueError(f"{metrics_path}: not a valid metrics record: {err}") from err
    factors = RESNET_FACTORS if kind == "resnet" else SVM_FACTORS
    # A run recorded before the fidelity factors trained with their legacy values.
    if kind == "resnet":
        params = complete_factors(record["params"], record.get("training"))
    else:
        params = complete_factors(record["params"], kind="svm")
    mismatch = {f: (planned[f], params[f]) for f in factors if str(planned[f]) != str(params[f])}
    if record["kind"] != kind or mismatch:
        raise ValueError(f"{metrics_path}: its params do not match the planned run (planned, recorded): {mismatch}")
    rid = run_id(kind, factors, planned)
    history = record.get("history", [])
    provenance = record["provenance"]
    conditions = record.get("conditions", {})
    interval = conditions.get("interval_unix", [None, None])
    row = {
        "run_id": rid,
        "kind": kind,
        "status": record["status"],
        "note": _note(record["status"], record.get("diverged_epoch")),
        "studies": planned["studies"],
        **{f: params[f] for f in factors},
        **{m: record.get(m) for m in METRICS},
        "val_accuracy": history[-1]["val_accuracy"] if history else None,
        # The images test_accuracy is over (claim 6 compares two accuracies by their binomial errors).
        "test_images": record.get("test_samples") if kind == "svm" else record.get("split", {}).get("test"),
        **times_taken(kind, record, planned.get("time_covers", "training")),
        "epochs_completed": len(history) if kind == "resnet" else None,
        **{p: provenance.get(p) for p in PROVENANCE},
        **{c: conditions.get(c) for c in CONDITIONS},
        "threads": conditions.get("threads", provenance.get("threads")),
        "interval_start": interval[0],
        "interval_end": interval[1],
        "torch": provenance.get("packages", {}).get("torch"),
        "metrics_path": str(metrics_path),
    }
    return row, [{"run_id": rid, "epoch": h["epoch"], **{k: h[k] for k in HISTORY_FIELDS}} for h in history]


def times_taken(kind: str, record: dict, time_covers: str) -> dict:
    """eval_time_s (every validation pass and the test pass; None where a run did not record them) and the time its
    tables show: training alone, or with evaluation where its study times that too."""
    if kind != "resnet":
        return {"time_covers": None, "eval_time_s": None, "time_taken_s": None}
    passes = [h.get("eval_time_s") for h in record["history"]] + [record.get("test_time_s")]
    eval_time_s = sum(passes) if None not in passes else None
    train = record["train_time_s"]
    if time_covers == "training":
        taken = train
    else:
        taken = train + eval_time_s if eval_time_s is not None else None
    return {"time_covers": time_covers, "eval_time_s": eval_time_s, "time_taken_s": taken}


def left_out_row(planned: dict, reason: str = NOT_RUN_NO_GPU) -> dict:
    return {
        "run_id": run_id("resnet", RESNET_FACTORS, planned),
        "kind": "resnet",
        "status": STATUS_NOT_RUN,
        "note": reason,
        "studies": planned["studies"],
        "time_covers": planned.get("time_covers", "training"),
        **{f: planned[f] for f in RESNET_FACTORS},
    }


class UnusableMetrics(Exception):
    """Metrics files that cannot be read as their run's record: [(path, why)]."""

    def __init__(self, files: list[tuple[str, str]]):
        super().__init__(f"{len(files)} metrics file(s) could not be used")
        self.files = files


def set_aside(files: list[tuple[str, str]]) -> str:
    """Renames each unusable metrics file (kept, with the time) so that snakemake trains its run anew; returns the
    message that names each and the fix."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    lines = [f"{len(files)} metrics file(s) could not be used, and were set aside (kept, renamed):"]
    for path, why in files:
        kept = Path(path).with_name(f"{Path(path).name}.unusable-{stamp}")
        Path(path).rename(kept)
        lines.append(f"  - {path}: {why}; kept as {kept.name}")
    lines.append("Run the same command again: their runs are trained anew, and nothing else is.")
    return "\n".join(lines)


def discard_resume_state(checkpoints) -> int:
    """Removes what aggregated ResNet runs kept to resume (the last epoch's checkpoint, the attempts file beside it):
    once a run is in runs.csv, snakemake has recorded its job as done, so nothing will resume it. Returns the number
    of files removed. A run trained again later (a changed weight decay, --forcerun) then starts from scratch."""
    removed = 0
    for checkpoint in map(Path, checkpoints):
        for path in (checkpoint, checkpoint.with_name(paths.ATTEMPTS)):
            if path.exists():
                path.unlink()
                removed += 1
    return removed


def collect_runs(resnet, svm, left_out) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, history). `resnet` and `svm` are (plan row, metrics path) pairs; `left_out` plan rows of ResNet runs
    left out of the plan (CUDA runs without a GPU)."""
    rows, history, unusable = [], [], []
    for kind, pairs in (("resnet", resnet), ("svm", svm)):
        for planned, path in pairs:
            try:
                row, epochs = run_row(kind, planned, path)
            except (OSError, ValueError, KeyError, TypeError) as err:  # unreadable, not JSON, or not its record
                unusable.append((str(path), str(err).removeprefix(f"{path}: ")))
                continue
            rows.append(row)
            history.extend(epochs)
    if unusable:
        raise UnusableMetrics(unusable)
    rows.extend(left_out_row(planned) for planned in left_out)
    runs = pd.DataFrame.from_records(rows, columns=RUN_COLUMNS)
    return typed(runs), pd.DataFrame.from_records(history, columns=HISTORY_COLUMNS)


def typed(runs: pd.DataFrame) -> pd.DataFrame:
    """Nullable integer and boolean columns, so that gaps (an SVM row's batch size) stay gaps, not NaN floats."""
    runs = runs.copy()
    for column in INT_COLUMNS:
        runs[column] = pd.array(runs[column], dtype="Int64")
    for column in BOOL_COLUMNS:
        runs[column] = runs[column].map(_as_bool, na_action="ignore").astype("boolean")
    for column in FLOAT_COLUMNS:
        if column not in INT_COLUMNS:
            runs[column] = pd.to_numeric(runs[column], errors="coerce").astype(float)
    return runs


def _as_bool(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def read_runs(path) -> pd.DataFrame:
    text_columns = (
        "note",
        "studies",
        "time_covers",
        "gpu_name",
        "cuda_version",
        "torch_build",
        "torch_from",
        "slurm_job_id",
        "torch",
        "device_name",
        "device_index",
    )
    text_columns = {c: "string" for c in text_columns}
    runs = pd.read_csv(path, dtype=text_columns, keep_default_na=True)
    # A runs.csv written before a column existed reads it as empty (the workflow writes it anew when the code changes).
    runs = runs.reindex(columns=[*RUN_COLUMNS, *(c for c in runs.columns if c not in RUN_COLUMNS)])
    return typed(runs).fillna({"note": "", "studies": ""})


def read_history(path) -> pd.DataFrame:
    return pd.read_csv(path)


def write_runs(runs: pd.DataFrame, history: pd.DataFrame, runs_csv, history_csv) -> None:
    Path(runs_csv).parent.mkdir(parents=True, exist_ok=True)
    runs.to_csv(runs_csv, index=False)
    history.to_csv(history_csv, index=False)


def in_studies(runs: pd.DataFrame, studies: list[str]) -> pd.DataFrame:
    """The runs that serve any of `studies` (a run lists its studies comma-separated)."""
    return runs[serves_any(runs["studies"].fillna(""), set(studies))]
