"""A run on a disk that fills, on a real filesystem that does: a tmpfs of a few MB (mounting one needs root)."""

import hashlib
import io
import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from ablation.data.split import load_split, save_split
from ablation.outputs.diskspace import DiskFull, checkpoint_bytes, metrics_bytes
from ablation.outputs.records import read_json
from ablation.outputs.runlog import RunLog
from ablation.train.checkpoint import Checkpoint, run_identity
from ablation.train.models import build_model, build_model_and_optimizer
from ablation.train.precision import Precision
from ablation.train.resnet import complete_run, run_resnet
from conftest import RUN, TRAINING, train_args

MIB = 2**20


def mebibytes(message: str, label: str) -> float:
    """The figure a message gives before ` MiB <label>`."""
    found = re.search(rf"([\d.]+) MiB {label}", message)
    assert found, f"no '... MiB {label}' in: {message}"
    return float(found.group(1))


@pytest.fixture
def small_disk(tmp_path):
    """`small_disk(size_mib)`: an empty directory that is a tmpfs of that size, unmounted at the end of the test."""
    mounted = []

    def mount(size_mib: int):
        if os.geteuid() != 0:
            pytest.skip("mounting a tmpfs needs root")
        point = tmp_path / f"disk{len(mounted)}"
        point.mkdir()
        mounting = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_mib}m", "tmpfs", str(point)], capture_output=True, text=True
        )
        if mounting.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {mounting.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in reversed(mounted):
        # Lazily where a file is still open on it: the test's failure, not a mount left behind, is what to see.
        if subprocess.run(["umount", str(point)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "--lazy", str(point)], check=True)


def test_a_run_whose_checkpoint_cannot_fit_stops_before_training_saying_where_how_much_and_what_to_do(
    prepared_split, small_disk
):
    outdir = small_disk(60)
    log = io.StringIO()
    with pytest.raises(SystemExit) as stopped:
        run_resnet(**train_args(prepared_split, outdir), log=log)
    message = str(stopped.value)
    assert "epoch 1" not in log.getvalue(), "it stopped before training"
    assert [p for p in outdir.rglob("*") if p.is_file()] == [], "nothing written"
    assert str(outdir / "checkpoint" / "checkpoint.pt") in message
    free = shutil.disk_usage(outdir).free
    assert mebibytes(message, "free") == pytest.approx(free / MIB, abs=0.1)
    # Adam's checkpoint holds the weights three times (theirs and two states each), and the old and the new one are on
    # disk at once while it is replaced.
    weights = sum(t.numel() * t.element_size() for t in build_model(RUN["model"]).state_dict().values())
    assert mebibytes(message, "needed") >= 2 * 3 * weights / MIB
    assert "finished runs are untouched" in message and "outdir" in message


def fill(filler: Path, leave: int = 0) -> None:
    """Another job's file, taking all but `leave` bytes of what is free on its filesystem."""
    with open(filler, "wb") as f:
        os.posix_fallocate(f.fileno(), 0, shutil.disk_usage(filler.parent).free - leave)


def contents(directory: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.rglob("*")) if p.is_file()}


def fill_once_saved(checkpoint: Path, filler: Path, done: threading.Event, deadline_s: float = 300) -> None:
    """Another job's file: once the run has saved its first checkpoint, it takes all but half a checkpoint of what is
    free, so that the run's next save runs out of space halfway through."""
    deadline = time.monotonic() + deadline_s
    while not checkpoint.exists():
        if time.monotonic() > deadline:
            return
        time.sleep(0.005)
    fill(filler, leave=checkpoint.stat().st_size // 2)
    done.set()


def test_a_disk_filled_after_the_check_ends_the_run_saying_so_and_leaves_every_earlier_file_whole(
    prepared_split, small_disk
):
    # SGD without momentum keeps no state: the smallest checkpoint (the weights), to keep the filesystem small.
    sgd = {"optimizer": "sgd", "momentum": 0.0}
    disk = small_disk(160)
    run_resnet(**train_args(prepared_split, disk / "finished", **sgd, epochs=1), log=io.StringIO())
    finished = contents(disk / "finished")
    assert (disk / "finished" / "metrics.json").stat().st_size <= metrics_bytes(1)

    args = train_args(prepared_split, disk / "running", **sgd, epochs=2)
    checkpoint = Path(args["files"].checkpoint)
    filled = threading.Event()
    filler = threading.Thread(target=fill_once_saved, args=(checkpoint, disk / "other-job", filled), daemon=True)
    filler.start()
    with pytest.raises(SystemExit) as stopped:
        run_resnet(**args, log=io.StringIO())
    filler.join()
    assert filled.is_set(), "the disk filled before the run's second save"
    message = str(stopped.value)
    assert str(checkpoint) in message and "finished runs are untouched" in message
    assert mebibytes(message, "free") == pytest.approx(shutil.disk_usage(disk).free / MIB, abs=0.1)
    assert mebibytes(message, "needed") >= checkpoint.stat().st_size / MIB - 0.1
    assert not list(disk.rglob("*.partial")), "the half-written checkpoint is removed"
    assert len(torch.load(checkpoint, weights_only=False)["history"]) == 1, "the epoch-1 checkpoint is whole"
    assert not Path(args["files"].metrics).exists()
    assert contents(disk / "finished") == finished


@pytest.mark.parametrize("optimizer, momentum", [("adam", 0.0), ("sgd", 0.9), ("sgd", 0.0)])
def test_the_checkpoint_estimate_bounds_a_saved_checkpoint_closely(optimizer, momentum, tmp_path):
    run = complete_run({**RUN, "optimizer": optimizer, "momentum": momentum})
    model, optimizer = build_model_and_optimizer(run, TRAINING)
    estimate = checkpoint_bytes(model, optimizer)  # as the run makes it: before the optimizer has any state
    # One real step: the optimizer's states exist from the first.
    nn.functional.cross_entropy(model(torch.rand(2, 1, 28, 28)), torch.tensor([0, 1])).backward()
    optimizer.step()
    checkpoint = tmp_path / "checkpoint.pt"
    history = [{"epoch": 1, "train_loss": 1.0, "val_loss": 1.0}]
    identity = run_identity(run, TRAINING, split_checksum="0" * 64)
    Checkpoint(checkpoint, identity, model, optimizer, Precision("fp32", "cpu"), io.StringIO()).save(history, "now")
    saved = checkpoint.stat().st_size
    assert saved <= estimate < 3 * saved


def test_a_split_that_cannot_fit_is_not_written_and_the_message_says_where(prepared_split, small_disk):
    disk = small_disk(1)
    parts, meta = load_split(prepared_split["split_npz"]), read_json(prepared_split["split_json"])
    fill(disk / "other-job", leave=prepared_split["split_npz"].stat().st_size // 2)
    npz = disk / "splits" / "pooled" / "mnist.npz"
    with pytest.raises(DiskFull) as stopped:
        save_split(parts, meta, npz, npz.with_suffix(".json"))
    assert str(npz) in str(stopped.value) and "finished runs are untouched" in str(stopped.value)
    assert [p.name for p in disk.rglob("*") if p.is_file()] == ["other-job"]


def test_a_log_on_a_full_disk_loses_its_ending_not_the_message_that_ended_the_attempt(small_disk):
    disk = small_disk(1)
    log_path = disk / "run.log"
    with pytest.raises(DiskFull) as stopped:
        with RunLog(log_path, disk / "attempts.log") as log:
            fill(disk / "other-job")
            print("epoch 1: " + "x" * 8192, file=log)  # more than the log's last block has room for
    assert str(log_path) in str(stopped.value)
    assert log_path.read_text().startswith("--- attempt started"), "what was written before is kept"
