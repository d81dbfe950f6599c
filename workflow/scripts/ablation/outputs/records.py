"""Run records: the metrics JSON each run writes, validated against its schema and written atomically."""

import functools
import json
import os
import tempfile
from pathlib import Path

import jsonschema
import yaml

from ablation.outputs.diskspace import reporting_full_disk

METRICS_SCHEMA_PATH = Path(__file__).resolve().parents[3] / "schemas" / "metrics.schema.yaml"


def metrics_schema() -> dict:
    return yaml.safe_load(METRICS_SCHEMA_PATH.read_text())


@functools.cache
def _metrics_validator():
    # Built once per process: aggregation validates thousands of records, and parsing the schema dominates otherwise.
    schema = metrics_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def validate_metrics(record: dict) -> None:
    """Raises jsonschema.ValidationError naming the offending field."""
    error = jsonschema.exceptions.best_match(_metrics_validator().iter_errors(record))
    if error is not None:
        raise error


def atomic_write_bytes(path, data: bytes, durable: bool = True) -> None:
    """Write beside the target, then rename: a killed job leaves either the old file or none, never half of one, and
    a full disk the same, with DiskFull saying so. `durable`: on disk before the rename (fsync), for what a run
    resumes from or a later rule reads."""
    path = Path(path)
    with reporting_full_disk(path, len(data)):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                if durable:
                    os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def write_metrics(path, record: dict) -> None:
    validate_metrics(record)
    atomic_write_bytes(path, (json.dumps(record, indent=2, allow_nan=False) + "\n").encode())


def read_json(path) -> dict:
    with open(path) as f:
        return json.load(f)
