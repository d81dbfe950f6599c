"""Training one ResNet grid point, faithfully to the sources' protocol; resumable and with provenance.

Two loaders, chosen per run by the `loader` factor. `dataloader` is the sources' path: a map-style Dataset that scales
and normalises each 28x28 image as it is fetched, a DataLoader with pin_memory and num_workers honoured, eager
PyTorch, the loss read every step. `resident` is the fast path (train.resident). Both shuffle each epoch with the
same seeded permutation. One epoch = one pass over the training part; validation after every epoch, test at the end.
"""

import math
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ablation.data.split import load_pooled, load_split
from ablation.outputs import paths, provenance
from ablation.outputs.conditions import Conditions, torch_threads
from ablation.outputs.diskspace import require_run_space
from ablation.outputs.progress import write_progress
from ablation.outputs.records import read_json, write_metrics
from ablation.study.factors import NATIVE_SIZE, complete_factors
from ablation.train.checkpoint import Checkpoint, run_identity
from ablation.train.dataloader import DataLoaderTrainer, sync
from ablation.train.inputs import model_input
from ablation.train.interrupt import EpochState, StopRequest, exit_on
from ablation.train.models import build_model_and_optimizer, count_macs
from ablation.train.precision import Precision
from ablation.train.resident import ResidentTrainer

CUDA_MISSING = (
    "This run asks for device=cuda, but torch sees no CUDA device on this host ({host}). Run GPU runs on a GPU host "
    "(`snakemake --cores N` there), or submit them with the cluster profile (`snakemake --profile profiles/slurm`), "
    "or leave them out of the plan with `gpu: false` (or `gpu: auto`) in the config."
)


@dataclass(frozen=True)
class RunFiles:
    """What a run reads (the raw data's directory, its split's images and description) and writes (its metrics; its
    checkpoint, beside which it keeps its progress file)."""

    data_dir: str
    split_npz: str
    split_json: str
    metrics: str
    checkpoint: str


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


def timed(device: str, function, *args):
    """(function(*args), its wall seconds), the device's queued work included."""
    sync(device)
    start = time.perf_counter()
    result = function(*args)
    sync(device)
    return result, time.perf_counter() - start


def require_device(device: str, log) -> None:
    """A CUDA run on a host without CUDA stops at once, before any data is read, saying what to do instead."""
    if device == "cuda" and not torch.cuda.is_available():
        message = CUDA_MISSING.format(host=provenance.hostname())
        print(message, file=log, flush=True)
        raise SystemExit(message)


def normalisation(run: dict, split_meta: dict) -> tuple[float, float]:
    """(mean, std) a run normalises with: its split's training part's (`train_stats`), or the sources' 0.5 and 0.5."""
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


def part_evaluator(model, run: dict, training: dict, mean: float, std: float, precision):
    """`evaluate` of the run's model on a part given as (images, labels), at the evaluation batch size."""
    spec = {"device": run["device"], "batch_size": training["eval_batch_size"], "input_size": run["input_size"]}
    return partial(evaluate, model, mean=mean, std=std, stem=run["stem"], precision=precision, **spec)


def make_trainer(run: dict, model, optimizer, train_part, mean, std, num_workers: int = 0, precision=None):
    """The run's training loop, chosen once by `run["loader"]`: a DataLoaderTrainer or a ResidentTrainer. Both train
    one pass over `train_part` (uint8 images, labels) with `trainer.epoch(permutation, progress, position, stop)` and
    return the same dict: `diverged`, and unless it diverged train_loss, train_accuracy, epoch_time_s and data_time_s,
    or `stopped_at` (an EpochState) once `stop` is true; `trainer.setup_time_s` is the one-off cost of setting it up
    (the CUDA graph capture; None where nothing is captured). Make it after a checkpoint is loaded: a captured graph
    holds the optimizer's state tensors as they are at capture."""
    precision = precision or Precision("fp32", run["device"])
    if run["loader"] == "resident":
        images, labels = train_part
        spec = (run["batch_size"], run["device"], run["input_size"], run["stem"])
        return ResidentTrainer(model, optimizer, images, labels, mean, std, *spec, precision=precision)
    return DataLoaderTrainer(model, optimizer, train_part, mean, std, run, num_workers, precision)


def set_up_torch(device: str, training: dict, threads: int, exclusive: bool) -> int:
    """Sets torch's threads and determinism for the run; returns the threads."""
    threads = torch_threads(device, exclusive, training, threads)
    torch.set_num_threads(threads)
    # Deterministic on the CPU, always: a resumed run must end bit-identical. On CUDA only when asked: it slows the
    # GPU, and the sources did not set it.
    deterministic = device != "cuda" or training.get("deterministic_cuda", False)
    torch.use_deterministic_algorithms(deterministic, warn_only=device == "cuda")
    torch.backends.cudnn.deterministic = deterministic
    return threads


class EpochProgress:
    """The progress of the run's epochs: a bar in its log, and its position in the progress file for `make status`."""

    def __init__(self, path, epochs: int, steps: int, log):
        self.path, self.epochs, self.steps, self.bar_file = Path(path), epochs, steps, LogLines(log)

    def __call__(self, epoch: int, first_step: int):
        """Wraps the steps of `epoch` (a resumed epoch starts at `first_step`)."""

        def wrap(steps_of_epoch):
            reported = reporting(steps_of_epoch, self.path, epoch, self.epochs, self.steps, first_step)
            description = f"epoch {epoch}/{self.epochs}"
            kwargs = {"file": self.bar_file, "mininterval": 30, "ascii": True, "total": self.steps}
            return tqdm(reported, desc=description, initial=first_step, **kwargs)

        return wrap


def train_epoch(trainer, epoch: int, permutation, progress: EpochProgress, resumed: EpochState | None, stop) -> dict:
    """One training pass, from where a stopped attempt left the epoch (`resumed`) if it did, with its process CPU time
    (all threads; against its wall time `epoch_time_s`). A pass that `stop` ended returns `stopped_at`, the
    EpochState to save; the steps at which attempts stopped stay in the epoch's record, as its time is then the sum of
    its parts."""
    cpu_start = time.process_time()
    result = trainer.epoch(permutation, progress(epoch, resumed.step if resumed else 0), resumed, stop)
    cpu_time_s = (resumed.cpu_time_s if resumed else 0.0) + time.process_time() - cpu_start
    stopped_at = resumed.stopped_at_steps if resumed else []
    if "stopped_at" in result:
        position = result["stopped_at"]
        position.epoch, position.cpu_time_s = epoch, cpu_time_s
        position.stopped_at_steps = [*stopped_at, position.step]
    elif not result["diverged"]:
        result["cpu_time_s"] = cpu_time_s
        if stopped_at:
            result["stopped_at_steps"] = stopped_at
    return result


def cpu_seconds(history: list[dict]) -> float:
    """The training passes' CPU time; epochs from before a resume whose checkpoint predates it count as unknown (0)."""
    return sum(h.get("cpu_time_s", 0.0) for h in history)


def diverged(epoch: int, what: str, log) -> int:
    print(f"epoch {epoch}: non-finite {what}; the run diverged", file=log, flush=True)
    return epoch


def log_epoch(entry: dict, log) -> None:
    print(
        f"epoch {entry['epoch']}: train loss {entry['train_loss']:.4f} acc {entry['train_accuracy']:.4f} | "
        f"val loss {entry['val_loss']:.4f} acc {entry['val_accuracy']:.4f} | {entry['epoch_time_s']:.1f} s "
        f"(data {entry['data_time_s']:.1f} s)",
        file=log,
        flush=True,
    )


def test_pass(evaluate_part, device: str, test_part, diverged_epoch, epochs: int, log) -> tuple[dict, int | None]:
    """The test metrics of a run that finished training (None for a diverged one: a result too, not a crash), and
    its diverged epoch, the last one where the test pass itself gives a non-finite loss."""
    if diverged_epoch is not None:
        return {"test_loss": None, "test_accuracy": None, "test_time_s": None}, diverged_epoch
    (test_loss, test_accuracy), test_time_s = timed(device, evaluate_part, *test_part)
    if not math.isfinite(test_loss):
        print("the test pass: non-finite loss; the run diverged", file=log, flush=True)
        return {"test_loss": None, "test_accuracy": None, "test_time_s": test_time_s}, epochs
    return {"test_loss": test_loss, "test_accuracy": test_accuracy, "test_time_s": test_time_s}, None


def metrics_record(
    run: dict, training: dict, split_meta: dict, history: list[dict], test: dict, diverged_epoch, setup_s
):
    """The run's record, without its provenance and conditions (the caller adds them)."""
    macs, params_count = count_macs(run["model"], run["input_size"], run["stem"])
    return {
        "kind": "resnet",
        "params": dict(run),
        "status": "ok" if diverged_epoch is None else "diverged",
        "diverged_epoch": diverged_epoch,
        "test_accuracy": test["test_accuracy"],
        "test_loss": test["test_loss"],
        "train_time_s": sum(h["epoch_time_s"] for h in history),
        # The test pass; with each epoch's eval_time_s, what a time "with evaluation" adds (source 000's pin_memory).
        "test_time_s": test["test_time_s"],
        # CUDA graph capture of the resident path, outside train_time_s; null where nothing is captured.
        "compile_time_s": setup_s,
        "history": history,
        "macs": macs,
        "flops": 2 * macs,
        "params_count": params_count,
        "split": {p: split_meta["sizes"][p] for p in ("train", "val", "test")},
        "training": dict(training),
    }


def run_resnet(
    run: dict, files: RunFiles, training: dict, threads=1, log=None, exclusive=False, gpu_lease=None, retrain=False
) -> dict:
    """Train and evaluate one grid point (`run`: its factors); write its metrics JSON; return it. `threads`: the job's;
    `exclusive`: whether it runs alone (a timed study); `gpu_lease`: its GPU lease (ops.leases) on CUDA; `retrain`:
    finished training in the checkpoint is set aside (`training.retrain`). A killed run goes on where it stopped."""
    # Setup: the device first (a CUDA run on a host without CUDA stops before reading anything), data, seeded model.
    log, run = log or sys.stderr, complete_run(run)
    device = run["device"]
    require_device(device, log)
    precision, conditions = require_precision(run, log), Conditions(device, exclusive, gpu_lease)
    threads, started_at = set_up_torch(device, training, threads, exclusive), provenance.now()
    split_meta, manifest = read_json(files.split_json), read_json(Path(files.data_dir) / "manifest.json")
    parts, (mean, std) = load_parts(files.data_dir, files.split_npz), normalisation(run, split_meta)
    torch.manual_seed(run["seed"])
    model, optimizer = build_model_and_optimizer(run, training)
    evaluate_part = part_evaluator(model, run, training, mean, std, precision)

    # Resume: a killed run goes on after its last finished epoch (a stopped one from its step), with the start time of
    # its first attempt. A filesystem without room for its checkpoints and metrics stops it now, not at its first save.
    identity = run_identity(run, training, split_meta["checksum"])
    checkpoint = Checkpoint(files.checkpoint, identity, model, optimizer, precision, log)
    history, started_at, position = checkpoint.resume(started_at, retrain)
    require_run_space(checkpoint.path, files.metrics, model, optimizer, run["epochs"], len(history))

    trainer = make_trainer(run, model, optimizer, parts["train"], mean, std, training["num_workers"], precision)
    n_train = len(parts["train"][1])
    steps = math.ceil(n_train / run["batch_size"])
    progress = EpochProgress(checkpoint.path.with_name(paths.PROGRESS), run["epochs"], steps, log)
    diverged_epoch = None
    with StopRequest() as stop:  # SIGTERM or Ctrl-C: stop after the step in progress, save where (train.interrupt)
        for epoch in range(len(history) + 1, run["epochs"] + 1):
            permutation = epoch_permutation(run["seed"], epoch, n_train)
            result, position = train_epoch(trainer, epoch, permutation, progress, position, stop), None
            if "stopped_at" in result:
                checkpoint.save(history, started_at, result["stopped_at"])
                exit_on(stop, f"in epoch {epoch} at step {result['stopped_at'].step} of {steps}", checkpoint.path, log)
            if result.pop("diverged"):
                diverged_epoch = diverged(epoch, "training loss", log)
                break
            # Evaluation on the validation part after every epoch, timed apart from training (eval_time_s).
            (val_loss, val_accuracy), result["eval_time_s"] = timed(device, evaluate_part, *parts["val"])
            if not math.isfinite(val_loss):  # the last step can leave weights that overflow, its own loss finite
                diverged_epoch = diverged(epoch, "validation loss", log)
                break
            history.append({"epoch": epoch, **result, "val_loss": val_loss, "val_accuracy": val_accuracy})
            log_epoch(history[-1], log)
            checkpoint.save(history, started_at)
            if stop:
                exit_on(stop, f"after epoch {epoch}", checkpoint.path, log)

        # The record. A signal from here on lets the run finish: what is left is one evaluation pass.
        test, diverged_epoch = test_pass(evaluate_part, device, parts["test"], diverged_epoch, run["epochs"], log)
        record = metrics_record(run, training, split_meta, history, test, diverged_epoch, trainer.setup_time_s)
        record["provenance"] = provenance.collect(manifest, split_meta, run["seed"], started_at, device)
        record["conditions"] = conditions.finish(threads, cpu_seconds(history), record["train_time_s"])
        write_metrics(files.metrics, record)
        # The checkpoint stays until rule aggregate counts the run: a rerun after a kill then only redoes the test.
        progress.path.unlink(missing_ok=True)
    return record


def main(argv: list[str]) -> None:
    """`python -m ablation.train.resnet ARGS.json`: one run outside snakemake, with run_resnet's keyword arguments
    (`files` a mapping of RunFiles' fields)."""
    import json

    arguments = json.loads(Path(argv[0]).read_text())
    run_resnet(**{**arguments, "files": RunFiles(**arguments["files"])})


if __name__ == "__main__":
    main(sys.argv[1:])
