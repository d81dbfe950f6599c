"""The progress file a training run keeps beside its checkpoint (epoch and step), written by training and read by
`make status`: the one place that knows its format (its name is outputs.paths.PROGRESS). Light: the standard
library and an atomic write."""

import json
import os
import time
from pathlib import Path

from ablation.outputs.records import atomic_write_bytes

# A progress file not updated for this long belongs to a run that is no longer alive.
STALE_AFTER_S = 15 * 60


def write_progress(path, epoch: int, epochs: int, step: int, steps: int) -> None:
    """What a training run is doing (replaced whole, so a reader never sees half of it; not synced, as the next one
    follows in seconds)."""
    record = {"epoch": epoch, "epochs": epochs, "step": step, "steps": steps, "pid": os.getpid(), "at": time.time()}
    atomic_write_bytes(path, json.dumps(record).encode(), durable=False)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def live_progress(path, now: float) -> dict | None:
    """The record of a run training now: its progress file, fresh and written by a process that is alive; else None
    (no file, an unreadable one, or a run that ended without removing it)."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
    except ValueError:
        return None
    if record and now - record["at"] < STALE_AFTER_S and _alive(record["pid"]):
        return record
    return None
