"""Training one ResNet grid point, faithfully to the seeds' protocol; resumable and with provenance.

Two loaders, chosen per run by the `loader` factor. `dataloader` is the seeds' path: a map-style Dataset that scales
and normalises each 28x28 image as it is fetched, a DataLoader with pin_memory and num_workers honoured, eager
PyTorch, the loss read every step. `resident` is the fast path (train.resident). Both shuffle each epoch with the
same seeded permutation. One epoch = one pass over the training part; validation after every epoch, test at the end.
"""

import io
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torchvision
from torch import nn
from tqdm import tqdm

from ablation.data.split import load_pooled, load_split
from ablation.outputs import paths, provenance
from ablation.outputs.conditions import Conditions, torch_threads
from ablation.outputs.diskspace import require_run_space
from ablation.outputs.progress import write_progress
from ablation.outputs.records import atomic_write_bytes, read_json, write_metrics
from ablation.study.factors import NATIVE_SIZE, complete_factors
from ablation.train.inputs import STEMS, model_input
from ablation.train.interrupt import StopRequest, rng_states, set_rng_states, start_of_epoch
from ablation.train.precision import Precision
from ablation.train.resident import ResidentTrainer

MODELS = {
    "resnet18": torchvision.models.resnet18,
    "resnet34": torchvision.models.resnet34,
    "resnet50": torchvision.models.resnet50,
}

CUDA_MISSING = (
    "This run asks for device=cuda, but torch sees no CUDA device on this host ({host}). Run GPU runs on a GPU host "
    "(`snakemake --cores N` there), or submit them with the cluster profile (`snakemake --profile profiles/slurm`), "
    "or leave them out of the plan with `gpu: false` (or `gpu: auto`) in the config."
)


def build_model(name: str, stem: str = "1ch") -> nn.Module:
    """torchvision's ResNet from scratch, 10 classes. `1ch`: a 1-channel 7x7 stem for the grey image (seed 001's
    model); `3ch`: torchvision's stock 3-channel stem, fed the grey channel three times (seed 000's)."""
    model = MODELS[name](weights=None, num_classes=10)
    if stem == "1ch":
        model.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    return model


def count_macs(model_name: str, input_size: int = NATIVE_SIZE, stem: str = "1ch") -> tuple[int, int]:
    """(MACs, parameters) of one forward pass at the run's real input, by thop (which counts multiply-accumulates,
    not FLOPs)."""
    from thop import profile

    model = build_model(model_name, stem).eval()
    dummy = torch.zeros(1, STEMS[stem], input_size, input_size)
    macs, _ = profile(model, inputs=(dummy,), verbose=False)
    return int(macs), sum(p.numel() for p in model.parameters())


class NormalizedImages(torch.utils.data.Dataset):
    """The seeds' per-sample transforms (Resize, ToTensor, Normalize, and Grayscale(3) for the 3ch stem), by
    ablation.train.inputs.model_input, one image at a time."""

    def __init__(self, images, labels, mean: float, std: float, input_size: int = NATIVE_SIZE, stem: str = "1ch"):
        self.images, self.labels, self.mean, self.std = images, labels, mean, std
        self.input_size, self.stem = input_size, stem

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        image = model_input(self.images[i : i + 1], self.mean, self.std, self.input_size, self.stem)[0]
        return image, self.labels[i]


def make_optimizer(name: str, params, lr: float, momentum: float, weight_decay: float, capturable: bool = False):
    """The study's optimizers. `capturable` (CUDA graphs) changes where Adam keeps its step count, not the update."""
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, capturable=capturable)


def epoch_permutation(seed: int, epoch: int, n: int) -> torch.Tensor:
    """The order of an epoch depends on (seed, epoch) only: a resumed run, and either loader, see the same batches."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


class LogLines:
    """tqdm redraws its bar with carriage returns; in a log file each redraw becomes a line of its own."""

    def __init__(self, file):
        self.file = file

    def write(self, text):
        text = text.replace("\r", "").strip()
        if text:
            self.file.write(text + "\n")

    def flush(self):
        self.file.flush()


@torch.inference_mode()
def evaluate(model, images, labels, mean, std, device, batch_size, input_size=NATIVE_SIZE, stem="1ch", precision=None):
    """(mean cross-entropy, accuracy) over a whole part, in large batches, under the run's autocast."""
    model.eval()
    loss_sum, correct = 0.0, 0
    precision = precision or Precision("fp32", device)
    for start in range(0, len(labels), batch_size):
        x = model_input(images[start : start + batch_size].to(device), mean, std, input_size, stem)
        y = labels[start : start + batch_size].to(device)
        with precision.autocast():
            logits = model(x)
            loss_sum += nn.functional.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
    return loss_sum / len(labels), correct / len(labels)


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def train_one_epoch(model, loader, optimizer, device, non_blocking, precision=None, position=None, stop=None) -> dict:
    """Train one pass; returns loss/accuracy and the time split, or `diverged` at the first non-finite loss.

    `non_blocking` lets the host-to-device copies overlap the step; it only helps from pinned memory. `precision`:
    the run's train.precision.Precision (fp32 where None). `position`: where an interrupted pass stopped (its step
    and partial sums, train.interrupt), `loader` then holding the batches after it. Once `stop` is true the pass
    returns `stopped_at`, its position after the step in progress."""
    precision = precision or Precision("fp32", device)
    position = position or start_of_epoch()
    model.train()
    step, loss_sum, correct, seen = position["step"], position["loss_sum"], position["correct"], position["seen"]
    data_time = position["data_time_s"]
    _sync(device)
    start = fetch_start = time.perf_counter()
    for x, y in loader:
        data_time += time.perf_counter() - fetch_start
        x, y = x.to(device, non_blocking=non_blocking), y.to(device, non_blocking=non_blocking)
        with precision.autocast():
            logits = model(x)
            loss = nn.functional.cross_entropy(logits, y)
        optimizer.zero_grad(set_to_none=True)
        precision.backward_and_step(loss, optimizer)
        # The seeds read the loss every step; so do we, which also catches divergence at once.
        batch_loss = loss.item()
        if not math.isfinite(batch_loss):
            return {"diverged": True}
        loss_sum += batch_loss * len(y)
        correct += (logits.argmax(1) == y).sum().item()
        seen += len(y)
        step += 1
        if stop:
            elapsed = position["epoch_time_s"] + time.perf_counter() - start
            return {
                "diverged": False,
                "stopped_at": {
                    "step": step,
                    "loss_sum": loss_sum,
                    "correct": correct,
                    "seen": seen,
                    "epoch_time_s": elapsed,
                    "data_time_s": data_time,
                },
            }
        fetch_start = time.perf_counter()
    _sync(device)
    return {
        "diverged": False,
        "train_loss": loss_sum / seen,
        "train_accuracy": correct / seen,
        "epoch_time_s": position["epoch_time_s"] + time.perf_counter() - start,
        "data_time_s": data_time,
    }


def timed(device: str, function, *args):
    """(function(*args), its wall seconds), the device's queued work included."""
    _sync(device)
    start = time.perf_counter()
    result = function(*args)
    _sync(device)
    return result, time.perf_counter() - start


def require_device(device: str, log) -> None:
    """A CUDA run on a host without CUDA stops at once, before any data is read, saying what to do instead."""
    if device == "cuda" and not torch.cuda.is_available():
        message = CUDA_MISSING.format(host=provenance.hostname())
        print(message, file=log, flush=True)
        raise SystemExit(message)


def normalisation(run: dict, split_meta: dict) -> tuple[float, float]:
    """(mean, std) a run normalises with: its split's training part's (`train_stats`), or the seeds' 0.5 and 0.5."""
    if run["normalisation"] == "half":
        return 0.5, 0.5
    return split_meta["mean"], split_meta["std"]


def require_precision(run: dict, log) -> Precision:
    """The run's precision; amp on a CPU stops at once, saying why."""
    try:
        return Precision(run["precision"], run["device"])
    except ValueError as err:
        print(err, file=log, flush=True)
        raise SystemExit(str(err)) from None


def load_parts(data_dir, split_npz) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """(uint8 images, int64 labels) of each part of the split, as CPU tensors."""
    images, labels = load_pooled(data_dir)
    return {
        part: (torch.from_numpy(np.ascontiguousarray(images[idx])), torch.from_numpy(labels[idx].astype(np.int64)))
        for part, idx in load_split(split_npz).items()
    }


def build_model_and_optimizer(run: dict, training: dict):
    """The run's model on its device and its optimizer, as the run's loader wants them. The resident path on CUDA
    replays a captured CUDA graph: it runs channels_last with cuDNN autotuning, and its optimizer keeps its step count
    on the device (`capturable`). Draws the initial weights from torch's global RNG: seed it first."""
    graphed = run["loader"] == "resident" and run["device"] == "cuda"
    model = build_model(run["model"], run["stem"]).to(run["device"])
    if graphed:
        torch.backends.cudnn.benchmark = True
        model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(
        run["optimizer"], model.parameters(), run["lr"], run["momentum"], training["weight_decay"], graphed
    )
    return model, optimizer


def complete_run(run: dict) -> dict:
    """A run's factors as plain Python values (numpy scalars are not JSON), with the fidelity factors at the values
    every run had before them where a caller (`calibrate`, a hand-written run) leaves them out."""
    return complete_factors({k: v.item() if hasattr(v, "item") else v for k, v in run.items()})


def reporting(steps, progress_path, epoch: int, epochs: int, total: int, first: int = 0, every_s: float = 5.0):
    """The steps, unchanged, writing the run's position to its progress file at most every `every_s` seconds (`first`:
    the step a resumed epoch starts at)."""
    last = -math.inf
    for step, item in enumerate(steps, start=first):
        if time.monotonic() - last >= every_s:
            write_progress(progress_path, epoch, epochs, step, total)
            last = time.monotonic()
        yield item


def make_epoch_runner(run: dict, model, optimizer, train_part, mean, std, num_workers: int = 0, precision=None):
    """Chooses the training loop once, by `run["loader"]`: returns `run_epoch(permutation, progress=...) -> result` and
    the one-off cost of setting it up (the CUDA graph capture, in seconds; None where nothing is captured).

    Both loops train one pass over `train_part` (uint8 images, labels) in the order of `permutation` at the run's
    batch size and return the same dict: `diverged`, and unless it diverged train_loss, train_accuracy, epoch_time_s
    and data_time_s, or `stopped_at` (train.interrupt) once `stop` is true. `position`: where an interrupted pass
    stopped, to go on from. `progress` wraps the steps (a progress bar). Make the runner after a checkpoint is loaded: a
    captured graph holds the optimizer's state tensors as they are at capture."""
    images, labels = train_part
    batch_size, device = run["batch_size"], run["device"]
    input_size, stem = run["input_size"], run["stem"]
    precision = precision or Precision("fp32", device)
    if run["loader"] == "resident":
        trainer = ResidentTrainer(
            model, optimizer, images, labels, mean, std, batch_size, device, input_size, stem, precision=precision
        )
        return trainer.epoch, trainer.capture_time_s if trainer.graph is not None else None

    dataset = NormalizedImages(images, labels, mean, std, input_size, stem)

    def run_epoch(permutation, progress=lambda steps: steps, position=None, stop=None):
        # A DataLoader per epoch, as its sampler is the epoch's permutation (from the step an interrupted pass reached).
        # Pinning only means something for CUDA.
        begin = position["step"] * batch_size if position else 0
        batches = torch.utils.data.DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=permutation[begin:].tolist(),
            pin_memory=run["pin_memory"] and device == "cuda",
            num_workers=num_workers,
        )
        return train_one_epoch(
            model, progress(batches), optimizer, device, run["pin_memory"], precision, position, stop
        )

    return run_epoch, None


def set_aside(checkpoint_path: Path, reason: str, log) -> Path:
    """Renames a checkpoint the run cannot continue from (kept, with the time, for a look) and says so in the log."""
    kept = checkpoint_path.with_name(f"{checkpoint_path.name}.set-aside-{time.strftime('%Y%m%dT%H%M%S')}")
    checkpoint_path.rename(kept)
    print(f"checkpoint {checkpoint_path} {reason}: kept as {kept.name}; the run starts over", file=log, flush=True)
    return kept


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


def resume(
    checkpoint_path: Path, identity: dict, model, optimizer, precision, device, started_at: str, log, retrain=False
) -> tuple[list[dict], str, dict | None]:
    """Loads the weights, optimizer and GradScaler state of a checkpoint, where there is one, into `model`,
    `optimizer` and `precision`, puts back the random generators' states, and returns the history and start time
    saved with them and the position in the next epoch of a run stopped mid-epoch (None at an epoch's end); without
    one, a fresh run's ([], started_at, None). A checkpoint that cannot be read, or that `why_not_continued` refuses,
    is set aside and the run starts over. Same run, same code: continued, so that a run whose metrics snakemake
    deleted after a kill only redoes its test pass."""
    fresh = [], started_at, None
    if not checkpoint_path.exists():
        return fresh
    try:
        state = torch.load(checkpoint_path, map_location=device, weights_only=False)
    except Exception as err:  # truncated or corrupted: torch raises several kinds
        set_aside(checkpoint_path, f"cannot be read ({type(err).__name__}: {err})", log)
        return fresh
    refused = why_not_continued(state, identity, retrain)
    if refused:
        set_aside(checkpoint_path, refused, log)
        return fresh
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    precision.load_state_dict(state.get("scaler"))
    set_rng_states(state.get("rng"))
    position = state.get("position")
    history = state["history"]
    where = f"in epoch {position['epoch']} at step {position['step']}" if position else f"after epoch {len(history)}"
    print(f"resuming {where} from {checkpoint_path}", file=log, flush=True)
    return history, state["started_at"], position


def run_identity(run: dict, training: dict, split_checksum: str) -> dict:
    """What a checkpoint must have trained for a run to go on from it: every factor, the weight decay, the split, and
    the training code (ablation.outputs.provenance.training_code)."""
    return {
        **run,
        "weight_decay": training["weight_decay"],
        "split_checksum": split_checksum,
        "training_code": provenance.training_code(),
    }


def save_checkpoint(
    checkpoint_path: Path,
    identity: dict,
    model,
    optimizer,
    precision,
    history: list[dict],
    started_at: str,
    position=None,
) -> None:
    """Everything `resume` needs to continue after the last finished epoch, or from `position` in the next one (a
    run stopped mid-epoch). Written whole or not at all (atomic replace), so a run killed while saving still finds
    the previous checkpoint."""
    buffer = io.BytesIO()
    torch.save(
        {
            "identity": identity,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scaler": precision.state_dict(),
            "rng": rng_states(next(model.parameters()).device.type),
            "history": history,
            "started_at": started_at,
            "position": position,
        },
        buffer,
    )
    atomic_write_bytes(checkpoint_path, buffer.getvalue())


def exit_on(stop: StopRequest, where: str, checkpoint_path: Path, log) -> None:
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


def run_resnet(
    run: dict,
    data_dir,
    split_npz,
    split_json,
    metrics_path,
    checkpoint_path,
    training: dict,
    threads: int = 1,
    log=None,
    exclusive: bool = False,
    gpu_lease=None,
    retrain: bool = False,
) -> dict:
    """Train and evaluate one grid point; write its metrics JSON; return it.

    `run` holds the factors (dataset, model, batch_size, optimizer, lr, epochs, pin_memory, device, loader, seed).
    `threads`: what the job was allotted; `exclusive`: whether it runs alone (a timed study); `gpu_lease`: its GPU
    lease (ops.leases) on CUDA. A checkpoint after every epoch, and mid-epoch on SIGTERM or Ctrl-C, lets a killed
    or stopped run continue where it stopped with identical results. `retrain`: a checkpoint of finished training is
    set aside and the run trains again (config `training.retrain`).
    """
    # Setup: the device first (a CUDA run on a host without CUDA fails before reading anything), then the threads and
    # determinism, the data, and the seeded model.
    log = log or sys.stderr
    run = complete_run(run)
    device = run["device"]
    require_device(device, log)
    precision = require_precision(run, log)
    conditions = Conditions(device, exclusive, gpu_lease)
    threads = torch_threads(device, exclusive, training, threads)
    torch.set_num_threads(threads)
    # Deterministic on the CPU, always: a resumed run must end bit-identical. On CUDA only when asked: it slows the
    # GPU, and the seeds did not set it.
    deterministic = device != "cuda" or training.get("deterministic_cuda", False)
    torch.use_deterministic_algorithms(deterministic, warn_only=device == "cuda")
    torch.backends.cudnn.deterministic = deterministic
    started_at = provenance.now()
    split_meta, manifest = read_json(split_json), read_json(Path(data_dir) / "manifest.json")
    tensors = load_parts(data_dir, split_npz)
    mean, std = normalisation(run, split_meta)
    torch.manual_seed(run["seed"])
    model, optimizer = build_model_and_optimizer(run, training)

    # Resume: a killed run continues after its last finished epoch (a stopped one from its step), with the start time
    # of its first attempt.
    checkpoint_path = Path(checkpoint_path)
    identity = run_identity(run, training, split_meta["checksum"])
    history, started_at, position = resume(
        checkpoint_path, identity, model, optimizer, precision, device, started_at, log, retrain
    )

    # A filesystem without room for the run's checkpoints and metrics stops it now, not at its first save.
    require_run_space(checkpoint_path, metrics_path, model, optimizer, run["epochs"], len(history))

    # The training loop, chosen once for the run's loader.
    run_epoch, compile_time_s = make_epoch_runner(
        run, model, optimizer, tensors["train"], mean, std, training["num_workers"], precision
    )
    n_train = len(tensors["train"][1])
    steps = math.ceil(n_train / run["batch_size"])
    spec, eval_batch_size = (run["input_size"], run["stem"]), training["eval_batch_size"]

    bar_file = LogLines(log)
    # Where the run is (epoch, step) for `make status`, beside the checkpoint; gone once the run is done.
    progress_path = checkpoint_path.with_name(paths.PROGRESS)
    diverged_epoch = None
    # SIGTERM or Ctrl-C: stop after the step in progress, keeping the epoch's position (ablation.train.interrupt).
    with StopRequest() as stop:
        for epoch in range(len(history) + 1, run["epochs"] + 1):
            # The order depends on (seed, epoch) only, so a resumed run sees the batches it would have seen.
            permutation = epoch_permutation(run["seed"], epoch, n_train)
            # Where a stopped attempt left this epoch, if it did; the steps it stopped at stay in the epoch's record,
            # as its time is then the sum of its parts.
            resumed, position = position, None
            first_step = resumed["step"] if resumed else 0

            def progress(steps_of_epoch, epoch=epoch, first_step=first_step):
                reported = reporting(steps_of_epoch, progress_path, epoch, run["epochs"], steps, first_step)
                return tqdm(
                    reported,
                    desc=f"epoch {epoch}/{run['epochs']}",
                    file=bar_file,
                    mininterval=30,
                    ascii=True,
                    total=steps,
                    initial=first_step,
                )

            cpu_start = time.process_time()
            result = run_epoch(permutation, progress, resumed, stop)
            # Process CPU time (all threads) of the training pass, against its wall time `epoch_time_s`.
            cpu_time_s = (resumed["cpu_time_s"] if resumed else 0.0) + time.process_time() - cpu_start
            stopped_at = (resumed or {}).get("stopped_at_steps", [])
            if "stopped_at" in result:
                position = {
                    "epoch": epoch,
                    **result["stopped_at"],
                    "cpu_time_s": cpu_time_s,
                    "stopped_at_steps": [*stopped_at, result["stopped_at"]["step"]],
                }
                save_checkpoint(checkpoint_path, identity, model, optimizer, precision, history, started_at, position)
                exit_on(stop, f"in epoch {epoch} at step {position['step']} of {steps}", checkpoint_path, log)
            if result.pop("diverged"):
                diverged_epoch = epoch
                print(f"epoch {epoch}: non-finite training loss; the run diverged", file=log, flush=True)
                break
            result["cpu_time_s"] = cpu_time_s
            if stopped_at:
                result["stopped_at_steps"] = stopped_at

            # Evaluation on the validation part after every epoch, timed apart from training (eval_time_s).
            (val_loss, val_accuracy), result["eval_time_s"] = timed(
                device, evaluate, model, *tensors["val"], mean, std, device, eval_batch_size, *spec, precision
            )
            # The last step can leave weights that overflow although its own loss was finite.
            if not math.isfinite(val_loss):
                diverged_epoch = epoch
                print(f"epoch {epoch}: non-finite validation loss; the run diverged", file=log, flush=True)
                break
            history.append({"epoch": epoch, **result, "val_loss": val_loss, "val_accuracy": val_accuracy})
            print(
                f"epoch {epoch}: train loss {result['train_loss']:.4f} acc {result['train_accuracy']:.4f} | "
                f"val loss {val_loss:.4f} acc {val_accuracy:.4f} | {result['epoch_time_s']:.1f} s "
                f"(data {result['data_time_s']:.1f} s)",
                file=log,
                flush=True,
            )
            save_checkpoint(checkpoint_path, identity, model, optimizer, precision, history, started_at)
            if stop:
                exit_on(stop, f"after epoch {epoch}", checkpoint_path, log)

        # The record: test metrics only for a run that finished; a diverged run is a result too, not a crash. A signal
        # from here on lets the run finish: what is left is one evaluation pass.
        if diverged_epoch is None:
            (test_loss, test_accuracy), test_time_s = timed(
                device, evaluate, model, *tensors["test"], mean, std, device, eval_batch_size, *spec, precision
            )
            if not math.isfinite(test_loss):
                diverged_epoch = run["epochs"]
                print("the test pass: non-finite loss; the run diverged", file=log, flush=True)
                test_loss, test_accuracy = None, None
        else:
            test_loss, test_accuracy, test_time_s = None, None, None
        macs, params_count = count_macs(run["model"], *spec)
        train_time_s = sum(h["epoch_time_s"] for h in history)
        record = {
            "kind": "resnet",
            "params": dict(run),
            "status": "ok" if diverged_epoch is None else "diverged",
            "diverged_epoch": diverged_epoch,
            "test_accuracy": test_accuracy,
            "test_loss": test_loss,
            "train_time_s": train_time_s,
            # The test pass; with each epoch's eval_time_s, what a time "with evaluation" adds (seed 000's pin_memory).
            "test_time_s": test_time_s,
            # CUDA graph capture of the resident path, outside train_time_s; null where nothing is captured.
            "compile_time_s": compile_time_s,
            "history": history,
            "macs": macs,
            "flops": 2 * macs,
            "params_count": params_count,
            "split": {p: split_meta["sizes"][p] for p in ("train", "val", "test")},
            "training": dict(training),
            "provenance": provenance.collect(manifest, split_meta, run["seed"], started_at, device),
            # Epochs from before a resume have no CPU time when their checkpoint predates it: counted as unknown (0).
            "conditions": conditions.finish(threads, sum(h.get("cpu_time_s", 0.0) for h in history), train_time_s),
        }
        write_metrics(metrics_path, record)
        # The metrics are written, but until snakemake has seen the job end they may still be deleted as incomplete (a
        # kill in between): the last epoch's checkpoint stays, so that such a rerun only redoes the test pass. Rule
        # aggregate removes it once the run is counted (ablation.report.aggregate.discard_resume_state).
        progress_path.unlink(missing_ok=True)
    return record


def main(argv: list[str]) -> None:
    """`python -m ablation.train.resnet ARGS.json`: one run outside snakemake, with run_resnet's keyword arguments."""
    import json

    run_resnet(**json.loads(Path(argv[0]).read_text()))


if __name__ == "__main__":
    main(sys.argv[1:])
