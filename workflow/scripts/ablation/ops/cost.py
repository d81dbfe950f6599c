"""What a run costs before it runs: compute time from the images it trains and evaluates over a throughput, and the
SLURM resources.

Throughputs are training images per second per (device, model, batch size). `make calibrate` measures them on the
host and stores them in resources/throughput.json; without it the documented defaults below apply.
"""

import json
import math
from pathlib import Path

# thop MACs of one 1x28x28 forward pass (tests check these against thop itself); FLOPs = 2 x MACs.
MACS = {"resnet18": 33_184_000, "resnet34": 69_921_536, "resnet50": 78_755_072}
PARAMS = {"resnet18": 11_175_370, "resnet34": 21_283_530, "resnet50": 23_522_250}

# Defaults when nothing was calibrated. CPU: one thread of this 2-core machine, measured (performance.md and
# `make calibrate`); CPU throughput hardly depends on the batch size. GPU: a DataLoader step at batch 16-32 is bound by
# per-kernel overhead, not arithmetic (the sources' T4: 26.6 ms per ResNet-18 step), so it is given as steps per second.
DEFAULT_CPU_IMAGES_PER_S = {"resnet18": 80.0, "resnet34": 40.0, "resnet50": 22.0}
DEFAULT_GPU_STEPS_PER_S = {"resnet18": 38.0, "resnet34": 22.0, "resnet50": 15.0}
SAFETY_FACTOR = 2.0  # runtime requested = estimate x this (x the attempt number on retries)
STARTUP_S = 15.0  # imports, data loading, thop, writing results, with room to spare


# thop MACs of one forward pass at 224x224, by stem (tests check these against thop too).
MACS_224 = {
    "1ch": {"resnet18": 1_744_850_944, "resnet34": 3_599_556_608, "resnet50": 4_053_039_104},
    "3ch": {"resnet18": 1_823_526_912, "resnet34": 3_678_232_576, "resnet50": 4_131_715_072},
}
# At 224 a GPU step is bound by arithmetic, not launches. Source 001's committed rows (its GPU, amp, batch 16, 42,000
# images x 5 epochs): ResNet-18 Adam 407.9 s, ResNet-34 SGD 735.8 s, ResNet-50 SGD 1,899.2 s of training.
DEFAULT_GPU_IMAGES_PER_S_224 = {"resnet18": 515.0, "resnet34": 285.0, "resnet50": 111.0}
# At 224 a CPU is bound by arithmetic too, at a rate in MACs per second: ResNet-18 (1ch) at 224, batch 16, Adam, trained
# at 10.9 images/s on a 2-core machine with 2 threads, i.e. 10.9 x 1.745 G MACs per second.
# Scaling the 28x28 rate by MACs instead would be 7x too slow: at 28x28 a CPU step is bound by per-layer overhead.
DEFAULT_CPU_MACS_PER_S = 10.9 * MACS_224["1ch"]["resnet18"]


def macs_per_image(model: str, input_size: int = 28, stem: str = "1ch") -> float:
    """MACs of one forward pass: thop's count at 28 (1ch) and 224; other sizes scale with the image's area."""
    if input_size == 28 and stem == "1ch":
        return MACS[model]
    return MACS_224[stem][model] * (input_size / 224) ** 2


def images_per_s(
    throughput: dict, device: str, model: str, batch_size: int, input_size: int = 28, stem: str = "1ch"
) -> float:
    """Training images per second. Measured (`make calibrate`, at 28x28) or the defaults above; at a larger input
    each device's rate is the lesser of its overhead-bound 28x28 rate and its arithmetic-bound rate (the CPU's from
    its MACs per second, a GPU's scaled from its rate at 224)."""
    measured = throughput.get(f"{device}/{model}/{batch_size}")
    if device == "cuda":
        rate_28 = measured or DEFAULT_GPU_STEPS_PER_S[model] * batch_size
    else:
        rate_28 = measured or DEFAULT_CPU_IMAGES_PER_S[model]
    if input_size == 28 and stem == "1ch":
        return rate_28
    macs = macs_per_image(model, input_size, stem)
    if device == "cuda":
        return min(rate_28, DEFAULT_GPU_IMAGES_PER_S_224[model] * MACS_224["1ch"][model] / macs)
    return min(rate_28, DEFAULT_CPU_MACS_PER_S / macs)


def estimate_seconds(run: dict, sizes: dict[str, int], throughput: dict) -> float:
    """Wall seconds of one run: its start-up, then `compute_seconds`."""
    return STARTUP_S + compute_seconds(run, sizes, throughput)


def compute_seconds(run: dict, sizes: dict[str, int], throughput: dict) -> float:
    """Seconds of one run's training epochs plus evaluation (a forward pass, a third of a training image): what a run
    records as its training and evaluation times."""
    size, stem = int(run.get("input_size", 28)), run.get("stem", "1ch")
    rate = images_per_s(throughput, run["device"], run["model"], int(run["batch_size"]), size, stem)
    train_images = run["epochs"] * sizes["train"]
    eval_images = run["epochs"] * sizes["val"] + sizes["test"]
    return (train_images + eval_images / 3) / rate


def estimate_mem_mb(run: dict) -> int:
    """Resident memory: torch and the pooled data (~1.5 GB), weights + grads + optimizer state, activations."""
    state_mb = 4 * 4 * PARAMS[run["model"]] / 1e6
    macs = macs_per_image(run["model"], int(run.get("input_size", 28)), run.get("stem", "1ch"))
    activations_mb = int(run["batch_size"]) * macs / 1e6 * 0.5
    return int(math.ceil((1500 + state_mb + activations_mb) / 100) * 100)


def slurm_runtime_min(seconds: float, attempt: int, signal_ahead_s: float = 0.0) -> int:
    """A job's SLURM time limit: the estimate with its safety factor, growing with each retry, plus the time a training
    job is signalled ahead of its limit (the estimate's time stays before the signal)."""
    return int(math.ceil((seconds * SAFETY_FACTOR * attempt + signal_ahead_s) / 60))


def load_throughput(path) -> dict:
    path = Path(path)
    return json.loads(path.read_text())["images_per_s"] if path.exists() else {}


# SVC fit + predict on the 14,000 test images, measured on a 2-core machine: ~7 s at 1,000 samples, 43-62 s at 10,000,
# 300-510 s at 49,000. Fit grows about as n^2 (measured exponents 1.8-2.1); prediction grows with the support vectors,
# about linearly in n.
SVM_STARTUP_S = 10.0
SVM_PREDICT_S_PER_SAMPLE = 0.004
SVM_FIT_S_AT_49K = 350.0


SVM_MEASURED_TEST_IMAGES = 14_000


def svm_seconds(train_samples: int, protocol: str = "stratified") -> float:
    """Wall seconds of one SVM run: its start-up, then `svm_compute_seconds`."""
    return SVM_STARTUP_S + svm_compute_seconds(train_samples, protocol)


def svm_compute_seconds(train_samples: int, protocol: str = "stratified") -> float:
    """Fit and predict; the `seed000` protocol also scores the images it was fitted on (at 60,000: ~17 min more)."""
    scored = SVM_MEASURED_TEST_IMAGES + (train_samples if protocol == "seed000" else 0)
    predict_s = SVM_PREDICT_S_PER_SAMPLE * train_samples * scored / SVM_MEASURED_TEST_IMAGES
    return predict_s + SVM_FIT_S_AT_49K * (train_samples / 49_000) ** 2
