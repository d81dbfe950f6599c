"""A run's checkpoint: everything it needs to go on after its last finished epoch, or mid-epoch where a signal stopped
it, and the check that a checkpoint is this run's, trained by this code, before it is continued."""

import io
import time
from dataclasses import asdict
from pathlib import Path

import torch

from ablation.outputs import provenance
from ablation.outputs.records import atomic_write_bytes
from ablation.train.interrupt import EpochState, rng_states, set_rng_states


def run_identity(run: dict, training: dict, split_checksum: str) -> dict:
    """What a checkpoint must have trained for a run to go on from it: every factor, the weight decay, the split, and
    the training code (ablation.outputs.provenance.training_code)."""
    return {
        **run,
        "weight_decay": training["weight_decay"],
        "split_checksum": split_checksum,
        "training_code": provenance.training_code(),
    }


def why_not_continued(state: dict, identity: dict, retrain: bool) -> str | None:
    """Why a checkpoint must not be continued by the run of `identity` (run_identity), or None: it trained another
    run; or it was made by other training code, whose epochs would pass for this code's in the run's record; or it
    holds finished training and the run was asked to train again (`retrain`)."""
    code, ours = state.get("identity", {}).get("training_code"), identity["training_code"]
    other_code = f"was made by other training code ({(code or 'not recorded')[:12]}, this code's {ours[:12]})"
    if "identity" in state:
        if code != ours:
            return other_code
        saved, expected = state["identity"], identity
    else:  # a checkpoint from before identities were saved: its optimizer says what it trained with
        group = state["optimizer"]["param_groups"][0]
        saved = {"lr": group["lr"], "momentum": group.get("momentum", 0.0)}  # Adam's groups have no momentum
        expected = {"lr": identity["lr"], "momentum": identity["momentum"]}
    if saved != expected:
        differ = "; ".join(f"{k} {saved.get(k)}, this run's {v}" for k, v in expected.items() if saved.get(k) != v)
        return f"trained another run ({differ})"
    if "identity" not in state:
        return other_code
    if retrain and state.get("position") is None and len(state["history"]) >= identity["epochs"]:
        return "holds finished training, and the run was asked to train again (training.retrain)"
    return None


def set_aside(checkpoint_path: Path, reason: str, log) -> Path:
    """Renames a checkpoint the run cannot continue from (kept, with the time, for a look) and says so in the log."""
    kept = checkpoint_path.with_name(f"{checkpoint_path.name}.set-aside-{time.strftime('%Y%m%dT%H%M%S')}")
    checkpoint_path.rename(kept)
    print(f"checkpoint {checkpoint_path} {reason}: kept as {kept.name}; the run starts over", file=log, flush=True)
    return kept


class Checkpoint:
    """The checkpoint file of the run of `identity`, holding the state of its model, optimizer and precision (the
    GradScaler), with the run's history, first start and position."""

    def __init__(self, path, identity: dict, model, optimizer, precision, log):
        self.path, self.identity, self.log = Path(path), identity, log
        self.model, self.optimizer, self.precision = model, optimizer, precision

    def resume(self, started_at: str, retrain: bool = False) -> tuple[list[dict], str, EpochState | None]:
        """Loads the checkpoint, where there is one, into the model, optimizer and precision, puts back the random
        generators' states, and returns the history and start time saved with them and the position in the next
        epoch of a run stopped mid-epoch (None at an epoch's end); without one, a fresh run's ([], started_at, None).
        A checkpoint that cannot be read, or that `why_not_continued` refuses, is set aside and the run starts over.
        Same run, same code: continued, so that a run whose metrics snakemake deleted after a kill only redoes its
        test pass."""
        fresh = [], started_at, None
        if not self.path.exists():
            return fresh
        device = next(self.model.parameters()).device
        try:
            state = torch.load(self.path, map_location=device, weights_only=False)
        except Exception as err:  # truncated or corrupted: torch raises several kinds
            set_aside(self.path, f"cannot be read ({type(err).__name__}: {err})", self.log)
            return fresh
        refused = why_not_continued(state, self.identity, retrain)
        if refused:
            set_aside(self.path, refused, self.log)
            return fresh
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.precision.load_state_dict(state.get("scaler"))
        set_rng_states(state.get("rng"))
        position = EpochState(**state["position"]) if state.get("position") else None
        history = state["history"]
        where = f"in epoch {position.epoch} at step {position.step}" if position else f"after epoch {len(history)}"
        print(f"resuming {where} from {self.path}", file=self.log, flush=True)
        return history, state["started_at"], position

    def save(self, history: list[dict], started_at: str, position: EpochState | None = None) -> None:
        """Everything `resume` needs to continue after the last finished epoch, or from `position` in the next one (a
        run stopped mid-epoch). Written whole or not at all (atomic replace), so a run killed while saving still finds
        the previous checkpoint."""
        buffer = io.BytesIO()
        torch.save(
            {
                "identity": self.identity,
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scaler": self.precision.state_dict(),
                "rng": rng_states(next(self.model.parameters()).device.type),
                "history": history,
                "started_at": started_at,
                "position": asdict(position) if position else None,
            },
            buffer,
        )
        atomic_write_bytes(self.path, buffer.getvalue())
