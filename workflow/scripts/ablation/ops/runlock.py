"""Whether a snakemake of this workflow is alive in this directory, and clearing the lock a dead one left.

snakemake locks a working directory with files under .snakemake/locks and removes them when it ends; a snakemake
killed with SIGKILL (or a power loss) leaves them, and the next run stops with a LockException until someone runs
`--unlock`. Every snakemake of this workflow also holds an flock on .snakemake/ablation-run.lock for its whole life
(the Snakefile takes it while it parses); the kernel releases an flock when its process dies, however it dies. So
when that flock can be taken, no snakemake of this workflow is alive here, and any snakemake lock files are stale:
they are removed, and the output says so. When it cannot be taken, another one is running: nothing is touched, and
the output names it.
"""

import fcntl
import os
import shutil
import time
from pathlib import Path

RUN_LOCK = "ablation-run.lock"
_held = []  # the open lock file, kept for the life of the process (closing it would release the flock)


def hold_run_lock(snakemake_dir=".snakemake") -> str:
    """Takes the run lock for the rest of this process and clears stale snakemake locks; returns what the user
    should read (empty when there is nothing to say)."""
    snakemake_dir = Path(snakemake_dir)
    snakemake_dir.mkdir(exist_ok=True)
    handle = open(snakemake_dir / RUN_LOCK, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "a process"
        handle.close()
        return (
            f"Another snakemake of this workflow is running in this directory ({holder}): nothing was unlocked. "
            "A command that runs jobs stops at snakemake's lock until it ends; wait for it, or stop it."
        )
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}")
    handle.flush()
    _held.append(handle)
    locks = snakemake_dir / "locks"
    stale = sorted(locks.glob("*.lock")) if locks.is_dir() else []
    if not stale:
        return ""
    shutil.rmtree(locks)
    return (
        f"Cleared a stale snakemake lock ({len(stale)} lock file(s) in {locks}) left by a snakemake that is no longer "
        "running (killed, or the machine went down); finished runs are kept and interrupted ones resume."
    )
