"""The sources' training loop (`loader: dataloader`): a map-style Dataset that scales and normalises each 28x28 image as
it is fetched, a DataLoader with pin_memory and num_workers honoured, eager PyTorch, the loss read every step."""

import math
import time

import torch
from torch import nn

from ablation.study.factors import NATIVE_SIZE
from ablation.train.inputs import model_input
from ablation.train.interrupt import EpochState
from ablation.train.precision import Precision


class NormalizedImages(torch.utils.data.Dataset):
    """The sources' per-sample transforms (Resize, ToTensor, Normalize, and Grayscale(3) for the 3ch stem), by
    train.inputs.model_input, one image at a time."""

    def __init__(self, images, labels, mean: float, std: float, input_size: int = NATIVE_SIZE, stem: str = "1ch"):
        self.images, self.labels, self.mean, self.std = images, labels, mean, std
        self.input_size, self.stem = input_size, stem

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        image = model_input(self.images[i : i + 1], self.mean, self.std, self.input_size, self.stem)[0]
        return image, self.labels[i]


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def train_one_epoch(model, loader, optimizer, device, non_blocking, precision=None, position=None, stop=None) -> dict:
    """Train one pass; returns loss/accuracy and the time split, or `diverged` at the first non-finite loss.

    `non_blocking` lets the host-to-device copies overlap the step; it only helps from pinned memory. `precision`:
    the run's train.precision.Precision (fp32 where None). `position`: where an interrupted pass stopped (an
    EpochState), `loader` then holding the batches after it. Once `stop` is true the pass returns `stopped_at`, its
    EpochState after the step in progress."""
    precision = precision or Precision("fp32", device)
    position = position or EpochState()
    model.train()
    step, loss_sum, correct, seen = position.step, position.loss_sum, position.correct, position.seen
    data_time = position.data_time_s
    sync(device)
    start = fetch_start = time.perf_counter()
    for x, y in loader:
        data_time += time.perf_counter() - fetch_start
        x, y = x.to(device, non_blocking=non_blocking), y.to(device, non_blocking=non_blocking)
        with precision.autocast():
            logits = model(x)
            loss = nn.functional.cross_entropy(logits, y)
        optimizer.zero_grad(set_to_none=True)
        precision.backward_and_step(loss, optimizer)
        # The sources read the loss every step; so do we, which also catches divergence at once.
        batch_loss = loss.item()
        if not math.isfinite(batch_loss):
            return {"diverged": True}
        loss_sum += batch_loss * len(y)
        correct += (logits.argmax(1) == y).sum().item()
        seen += len(y)
        step += 1
        if stop:
            elapsed = position.epoch_time_s + time.perf_counter() - start
            return {"diverged": False, "stopped_at": EpochState(step, loss_sum, correct, seen, elapsed, data_time)}
        fetch_start = time.perf_counter()
    sync(device)
    return {
        "diverged": False,
        "train_loss": loss_sum / seen,
        "train_accuracy": correct / seen,
        "epoch_time_s": position.epoch_time_s + time.perf_counter() - start,
        "data_time_s": data_time,
    }


class DataLoaderTrainer:
    """The sources' loop behind the interface the resident one has: `epoch(...)` and `setup_time_s`."""

    setup_time_s = None  # nothing is captured or compiled

    def __init__(self, model, optimizer, train_part, mean, std, run: dict, num_workers: int = 0, precision=None):
        images, labels = train_part
        self.model, self.optimizer, self.run, self.num_workers = model, optimizer, run, num_workers
        self.precision = precision or Precision("fp32", run["device"])
        self.dataset = NormalizedImages(images, labels, mean, std, run["input_size"], run["stem"])

    def epoch(self, permutation, progress=lambda steps: steps, position=None, stop=None) -> dict:
        """One pass in the order of `permutation`, from `position` where given, until the end or until `stop`."""
        # A DataLoader per epoch, as its sampler is the epoch's permutation (from the step an interrupted pass reached).
        # Pinning only means something for CUDA.
        batch_size, device, pin_memory = self.run["batch_size"], self.run["device"], self.run["pin_memory"]
        begin = position.step * batch_size if position else 0
        batches = torch.utils.data.DataLoader(
            self.dataset,
            batch_size=batch_size,
            sampler=permutation[begin:].tolist(),
            pin_memory=pin_memory and device == "cuda",
            num_workers=self.num_workers,
        )
        return train_one_epoch(
            self.model, progress(batches), self.optimizer, device, pin_memory, self.precision, position, stop
        )
