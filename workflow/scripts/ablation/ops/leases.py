"""GPU leases: each CUDA job on a host sees exactly one GPU, and no GPU runs more than `gpu_slots` jobs at once.

Snakemake caps how many CUDA jobs run (the `gpu` resource, set to GPUs x slots) but cannot say which GPU a job gets
(snakemake issue #281), so every job would see all GPUs and train on GPU 0. A job therefore takes a lease first: one
of GPUs x slots lock files, held with `fcntl.flock` for the life of the process. The kernel drops the lock when the
process ends however it ends (SIGKILL, an out-of-memory kill, a crash), so a dead job never keeps its GPU. The job
then sets CUDA_VISIBLE_DEVICES to its GPU before anything initialises CUDA.

Where SLURM gave the job its GPUs (SLURM_JOB_ID and CUDA_VISIBLE_DEVICES both set), SLURM's choice stands.
"""

import fcntl
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


def default_lease_dir() -> Path:
    """Shared by every workflow of this user on this host: two studies in two directories share the same GPUs."""
    return Path(tempfile.gettempdir()) / f"ablation-gpu-leases-{os.getuid()}"


@dataclass
class Lease:
    gpu: int | None  # the index among the GPUs the host shows; None where SLURM chose
    slot: int | None
    visible_devices: str  # what CUDA_VISIBLE_DEVICES is set to
    waited_s: float
    _handle: object = None
    slots: int | None = None
    lease_dir: Path | None = None

    def others_on_gpu(self) -> int | None:
        """Other jobs of the workflow leasing this GPU now; None where SLURM chose the GPU (its jobs are unknown)."""
        if self.gpu is None:
            return None
        return holders(self.gpu, self.slots, self.lease_dir) - 1

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the file drops the flock
            self._handle = None


def physical_ids(gpus: int, environ=os.environ) -> list[str]:
    """The device ids behind the host's GPU indices 0..gpus-1: the parent's CUDA_VISIBLE_DEVICES list where it narrows
    them (a job must see the same GPU the planner counted), else the indices themselves."""
    parent = environ.get("CUDA_VISIBLE_DEVICES")
    ids = [i.strip() for i in parent.split(",")] if parent else []
    return ids[:gpus] if len(ids) >= gpus else [str(i) for i in range(gpus)]


def try_lease(gpus: int, slots: int, lease_dir: Path) -> tuple[int, int, object] | None:
    """The first free (gpu, slot), filling every GPU's first slot before any second one; None when all are held."""
    lease_dir.mkdir(parents=True, exist_ok=True)
    for slot in range(slots):
        for gpu in range(gpus):
            handle = open(lease_dir / f"gpu{gpu}.slot{slot}.lock", "a+")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}\n")  # who holds it, for a person looking; the lock is what counts
            handle.flush()
            return gpu, slot, handle
    return None


def holders(gpu: int, slots: int, lease_dir) -> int:
    """How many of a GPU's slots are leased now (the caller's own lease included). Each slot is probed with a shared,
    non-blocking lock on a file handle of its own: a held lease refuses it; a free slot is released at once."""
    held = 0
    for slot in range(slots):
        path = Path(lease_dir) / f"gpu{gpu}.slot{slot}.lock"
        if not path.exists():
            continue
        with open(path) as probe:
            try:
                fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                held += 1
    return held


def acquire(gpus: int, slots: int, lease_dir=None, environ=os.environ, poll_s: float = 0.5, log=None) -> Lease:
    """A lease on one GPU slot, waiting for one to free up; sets CUDA_VISIBLE_DEVICES in `environ` to that GPU."""
    if environ.get("SLURM_JOB_ID") and environ.get("CUDA_VISIBLE_DEVICES"):
        return Lease(None, None, environ["CUDA_VISIBLE_DEVICES"], 0.0)
    if gpus < 1 or slots < 1:
        raise ValueError(f"a GPU lease needs at least one GPU and one slot (gpus={gpus}, gpu_slots={slots})")
    lease_dir = Path(lease_dir) if lease_dir else default_lease_dir()
    ids = physical_ids(gpus, environ)
    start = time.perf_counter()
    said = False
    while (found := try_lease(gpus, slots, lease_dir)) is None:
        if log and not said:
            print(f"waiting for a free GPU slot ({gpus} GPU(s) x {slots} slot(s), {lease_dir})", file=log, flush=True)
            said = True
        time.sleep(poll_s)
    gpu, slot, handle = found
    environ["CUDA_VISIBLE_DEVICES"] = ids[gpu]
    return Lease(gpu, slot, ids[gpu], time.perf_counter() - start, handle, slots, lease_dir)
