"""The fast training path (`loader: resident`): same hyperparameters, a fraction of the time.

The whole training part lives on the training device as normalised tensors; each epoch indexes batches of exactly the
grid's batch size through a seeded permutation (the same permutation the DataLoader path uses, so both paths see the
same batches in the same order). Like the DataLoader's default `drop_last=False`, the last partial batch is trained
too, as a smaller batch. Nothing syncs with the host inside the loop: loss and accuracy accumulate on the device and
are read once per epoch, so divergence is detected at the end of the epoch in which it happens.

On CUDA the model and batches are channels_last and the whole step (forward, loss, backward, optimizer, accumulation)
is captured once in a CUDA graph and replayed; the partial last batch runs eagerly. Capture needs a few warm-up steps;
they run on a copy of the first batch and the weights, batch-norm statistics and optimizer state are restored
afterwards, so the warm-up leaves no trace on training. The capture time is reported apart from the training time.
"""

import contextlib
import time

import torch
from torch import nn

from ablation.study.factors import NATIVE_SIZE
from ablation.train.inputs import model_input
from ablation.train.interrupt import EpochState
from ablation.train.precision import Precision


@contextlib.contextmanager
def state_restored(model, optimizer):
    """Steps taken inside leave no trace: weights, batch-norm statistics and optimizer state are put back in place
    (in place, because a captured graph holds those very tensors). State the optimizer creates lazily inside (a fresh
    run's momentum and Adam moments) is zeroed, which makes the next step the same as a fresh optimizer's first."""
    saved_model = {k: v.detach().clone() for k, v in model.state_dict().items()}
    saved_optimizer = {id(t): t.clone() for s in optimizer.state.values() for t in s.values() if torch.is_tensor(t)}
    yield
    with torch.no_grad():
        for k, v in model.state_dict().items():
            v.copy_(saved_model[k])
        for state in optimizer.state.values():
            for t in state.values():
                if torch.is_tensor(t):
                    t.copy_(saved_optimizer[id(t)]) if id(t) in saved_optimizer else t.zero_()


class ResidentTrainer:
    def __init__(
        self,
        model,
        optimizer,
        images,
        labels,
        mean,
        std,
        batch_size,
        device,
        input_size=NATIVE_SIZE,
        stem="1ch",
        use_graph=None,
        precision=None,
    ):
        self.model, self.optimizer, self.batch_size, self.device = model, optimizer, batch_size, device
        self.cuda = device == "cuda"
        self.precision = precision or Precision("fp32", device)
        # By ablation.train.inputs.model_input, as the per-sample Dataset: identical values. At 28x28 the whole part is
        # transformed once; resized, it would not fit (42,000 x 224 x 224 floats are 8 GB), so each batch is.
        images = images.to(device)
        if input_size == NATIVE_SIZE:
            self.x = self._layout(model_input(images, mean, std, input_size, stem))
            self.batch = lambda index: self.x[index]
        else:
            self.x = images
            self.batch = lambda index: self._layout(model_input(images[index], mean, std, input_size, stem))
        self.y = labels.to(device)
        self.loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        self.correct = torch.zeros((), dtype=torch.int64, device=device)
        self.graph = None
        self.capture_time_s = 0.0
        # GradScaler (amp) decides on the host whether to step, which a captured graph cannot: amp runs eagerly.
        if (self.cuda and self.precision.scaler is None) if use_graph is None else use_graph:
            self._capture()

    def _layout(self, x):
        return x.contiguous(memory_format=torch.channels_last) if self.cuda else x

    def _step(self, x, y):
        with self.precision.autocast():
            logits = self.model(x)
            loss = nn.functional.cross_entropy(logits, y)
        # On CUDA zeroed in place, as a captured graph keeps writing into the same gradient tensors; elsewhere dropped,
        # as the DataLoader path does, which spares a memset and an accumulation per step (the values are the same).
        self.optimizer.zero_grad(set_to_none=not self.cuda)
        self.precision.backward_and_step(loss, self.optimizer)
        # float64 on the device, as the DataLoader path sums Python floats: the epoch's loss agrees to the last bit.
        self.loss_sum += loss.detach().double() * len(y)
        self.correct += (logits.argmax(1) == y).sum()

    def _capture(self):
        start = time.perf_counter()
        self.static_x = self.batch(torch.arange(self.batch_size, device=self.device)).clone()
        self.static_y = self.y[: self.batch_size].clone()
        with state_restored(self.model, self.optimizer):
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(3):
                    self._step(self.static_x, self.static_y)
            torch.cuda.current_stream().wait_stream(side)
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                self._step(self.static_x, self.static_y)
        torch.cuda.synchronize()
        self.capture_time_s = time.perf_counter() - start

    @property
    def setup_time_s(self) -> float | None:
        """The CUDA graph capture, outside the training time; None where nothing is captured."""
        return self.capture_time_s if self.graph is not None else None

    def epoch(self, permutation: torch.Tensor, progress=lambda steps: steps, position=None, stop=None) -> dict:
        """One pass in the order of `permutation`, from `position` (an interrupted pass's EpochState) where given,
        until the end or until `stop` is true; the same dict as the DataLoader path's epoch."""
        position = position or EpochState()
        self.model.train()
        # Filled in place: a captured graph accumulates into these very tensors (float64 and int64 hold the saved
        # Python float and int exactly).
        self.loss_sum.fill_(position.loss_sum)
        self.correct.fill_(position.correct)
        permutation = permutation.to(self.device)
        n, bs = len(permutation), self.batch_size
        full = n // bs * bs
        if self.cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        for i in progress(range(position.step * bs, full, bs)):
            index = permutation[i : i + bs]
            if self.graph is not None:
                self.static_x.copy_(self.batch(index))
                self.static_y.copy_(self.y[index])
                self.graph.replay()
            else:
                self._step(self.batch(index), self.y[index])
            if stop:
                loss_sum, correct = self.loss_sum.item(), self.correct.item()
                elapsed = position.epoch_time_s + time.perf_counter() - start
                stopped = EpochState(i // bs + 1, loss_sum, correct, i + bs, elapsed, data_time_s=0.0)
                return {"diverged": False, "stopped_at": stopped}
        if full < n:
            self._step(self.batch(permutation[full:]), self.y[permutation[full:]])
        loss_sum, correct = self.loss_sum.item(), self.correct.item()  # the epoch's one host sync
        elapsed = position.epoch_time_s + time.perf_counter() - start
        if not torch.isfinite(torch.tensor(loss_sum)):
            return {"diverged": True}
        return {
            "diverged": False,
            "train_loss": loss_sum / n,
            "train_accuracy": correct / n,
            "epoch_time_s": elapsed,
            "data_time_s": 0.0,  # batches are indexed on the device inside the step
        }
