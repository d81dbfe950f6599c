"""Disk space: what a run will write, checked before it trains, and a full disk reported as such wherever it is hit.

A ResNet run writes its checkpoint after every epoch (weights and optimizer state; the atomic replace keeps the old
and the new one on disk at once), a progress file, and its metrics at the end; the split rule writes the split. A
filesystem without room for them stops the run before its first step, and ENOSPC on any of those writes ends it with
the same message (DiskFull): the path, what is free there, what was needed, and what to do. Neither touches a finished
run. Imports no torch: the writers of records and splits use it, and the Snakefile imports those while it parses.
"""

import errno
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

MIB = 2**20
# Per tensor in torch.save's archive: its zip entry (local header, central directory record, alignment to 64 bytes)
# and its pickled description; measured at 330 to 430 bytes on a ResNet-18's, the rest of the checkpoint included.
TENSOR_OVERHEAD_BYTES = 1024
# What a checkpoint holds besides tensors (the random generators' states, the run's identity, the epochs' history:
# some 10 KB), and the small files beside it (the progress file, the attempts log).
CHECKPOINT_EXTRA_BYTES = MIB
# The metrics JSON: about 3 KB for a run of one epoch and under 0.5 KB more per epoch; with room, as a file takes whole
# blocks.
METRICS_BASE_BYTES = 64 * 1024
METRICS_EPOCH_BYTES = 1024


class DiskFull(SystemExit):
    """A write that cannot fit: the message says where, how much, and what to do. A SystemExit, as nothing should go
    on after it, and the message, not a traceback, is what the log and the terminal then show."""


def human(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.1f} GiB" if n_bytes >= 2**30 else f"{n_bytes / MIB:.1f} MiB"


def existing_parent(path) -> Path:
    """The nearest directory at or above `path` that exists: where its filesystem can be asked before it is made."""
    path = Path(path).absolute()
    while not path.is_dir():
        path = path.parent
    return path


def free_bytes(path) -> int:
    return shutil.disk_usage(existing_parent(path)).free


def no_space_message(path, free: int, needed: int, what: str) -> str:
    return (
        f"Not enough disk space for {path}: {human(free)} free on its filesystem, {human(needed)} needed ({what}). "
        "Nothing is half-written: the files there are as they were before, and finished runs are untouched. Free "
        "space on that filesystem, or set `outdir` in the config to one with room, and run the same command again."
    )


@contextmanager
def reporting_full_disk(path, needed: int):
    """Turns ENOSPC from the writes inside into DiskFull for `path`, which needed `needed` bytes. The writer must have
    removed what it half-wrote by then (records.atomic_write_bytes does)."""
    try:
        yield
    except OSError as err:
        if err.errno != errno.ENOSPC:
            raise
        raise DiskFull(no_space_message(path, free_bytes(path), needed, "to write it")) from None


def require_space(needs: list[tuple[Path, int, str]]) -> None:
    """Stops with DiskFull unless every filesystem has room for what `needs` ((path, bytes, what) each) puts on it;
    what goes on one filesystem adds up."""
    by_filesystem: dict[int, list] = {}
    for path, n_bytes, what in needs:
        by_filesystem.setdefault(os.stat(existing_parent(path)).st_dev, []).append((path, n_bytes, what))
    for on_one in by_filesystem.values():
        first, total = on_one[0][0], sum(n_bytes for _, n_bytes, _ in on_one)
        free = free_bytes(first)
        if free < total:
            raise DiskFull(no_space_message(first, free, total, ", plus ".join(what for _, _, what in on_one)))


def optimizer_states_per_parameter(optimizer) -> int:
    """The tensors the size of a parameter an optimizer keeps for it once it has stepped (it keeps none before), by
    its first parameter group: the study's optimizers have one."""
    group = optimizer.param_groups[0]
    kind = type(optimizer).__name__
    if kind in ("Adam", "AdamW"):
        return 3 if group["amsgrad"] else 2
    if kind == "SGD":
        return 1 if group["momentum"] else 0
    raise ValueError(f"no checkpoint size known for the {kind} optimizer")


def checkpoint_bytes(model, optimizer) -> int:
    """An upper bound of the size of the run's checkpoint (train.checkpoint.Checkpoint.save), from the model and
    optimizer before the first step: the state dict's tensors, the optimizer's states of each parameter, and what
    torch.save adds. Adam also keeps a step count per parameter: a tensor of one element, within the overhead."""
    tensors = list(model.state_dict().values())
    parameters = list(model.parameters())
    states = optimizer_states_per_parameter(optimizer)
    tensor_bytes = sum(t.numel() * t.element_size() for t in tensors)
    state_bytes = states * sum(p.numel() * p.element_size() for p in parameters)
    n_tensors = len(tensors) + (states + 1) * len(parameters)
    return tensor_bytes + state_bytes + n_tensors * TENSOR_OVERHEAD_BYTES + CHECKPOINT_EXTRA_BYTES


def metrics_bytes(epochs: int) -> int:
    return METRICS_BASE_BYTES + epochs * METRICS_EPOCH_BYTES


def require_run_space(checkpoint_path, metrics_path, model, optimizer, epochs: int, epochs_done: int) -> None:
    """Stops a ResNet run before it trains where its files would not fit: its checkpoint twice while a first one is
    replaced by the next (once where one is already on disk, or where one save is left), and its metrics."""
    one_checkpoint = checkpoint_bytes(model, optimizer)
    twice = not Path(checkpoint_path).exists() and epochs - epochs_done > 1
    what = f"the run's checkpoint of {human(one_checkpoint)}" + (", twice while it is replaced" if twice else "")
    require_space(
        [
            (Path(checkpoint_path), (2 if twice else 1) * one_checkpoint, what),
            (Path(metrics_path), metrics_bytes(epochs), "its metrics"),
        ]
    )
