"""Stopping a training run on a signal without losing its epoch.

SIGTERM (a SLURM time limit, which the cluster profile asks to be sent ahead with `--signal`, a preemption, `kill`) and
SIGINT (Ctrl-C) ask the run to stop after the step in progress. The training loop then returns where it stands (its
position in the epoch's permutation and the epoch's partial sums), the run saves a mid-epoch checkpoint with it and
exits, and the next attempt continues from that step to the same final metrics. Evaluation passes are not cut: a
signal during one stops the run once the pass and its checkpoint are done. A second signal stops at once (the last
checkpoint stays as it was: checkpoints are replaced whole).
"""

import random
import signal
import sys
from dataclasses import dataclass, field

import numpy as np
import torch

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopRequest:
    """`with StopRequest() as stop:` true once a stop signal came; the handlers are put back on leaving."""

    def __init__(self):
        self.signum = None

    def __bool__(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    def _handle(self, signum, frame):
        if self:
            raise KeyboardInterrupt(f"a second {signal.Signals(signum).name}: stopping at once")
        self.signum = signum

    def __enter__(self):
        self._previous = {s: signal.signal(s, self._handle) for s in STOP_SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)


@dataclass
class EpochState:
    """Where a training pass stands in its epoch: the steps done, their partial sums and times. Both loops start from
    one (a fresh epoch's zeros, or where an interrupted pass stopped) and return one when they stop early; the run adds
    the epoch, the CPU time so far and the steps at which attempts stopped, and saves it in a mid-epoch checkpoint."""

    step: int = 0
    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0
    epoch_time_s: float = 0.0
    data_time_s: float = 0.0
    epoch: int = 0
    cpu_time_s: float = 0.0
    stopped_at_steps: list[int] = field(default_factory=list)


def exit_on(stop: StopRequest, where: str, checkpoint_path, log) -> None:
    """Ends an attempt a signal stopped, once its checkpoint is saved: the exit status says which signal (128 + its
    number, as a shell reports a process it killed), so snakemake and SLURM count the attempt as failed and run it
    again, and the next attempt continues from `where`."""
    message = (
        f"{stop.name}: stopped {where}; checkpoint saved in {checkpoint_path}. Run the same command again to continue "
        "from there (the cluster profile retries the job by itself)."
    )
    print(message, file=log, flush=True)
    print(message, file=sys.stderr, flush=True)
    raise SystemExit(128 + stop.signum)


def rng_states(device: str) -> dict:
    """Every random generator a run could draw from, for a checkpoint."""
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if device == "cuda" else None,
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }


def set_rng_states(states: dict | None) -> None:
    """Puts back what rng_states saved (a checkpoint from before they were saved has none)."""
    if not states:
        return
    torch.set_rng_state(states["torch"])
    if states["cuda"] is not None:
        torch.cuda.set_rng_state_all(states["cuda"])
    np.random.set_state(states["numpy"])
    random.setstate(states["python"])
