"""Seed 000's six analysis claims, each tested on our runs: the comparison, the effect with a 95% interval, a verdict.

Pure: `evaluate_claims(runs, history)` takes the tables of ablation.aggregate and returns Claim objects. Where the
design pairs runs (Adam against SGD at the same dataset, model, batch size, lr, epochs, pin_memory, device, loader
and seed), effects are paired differences and the interval is a t-interval over the pairs; ratios (times, speedups)
are taken on the log scale and reported as geometric means. With one pair there is no interval, and the verdict is
"inconclusive" because one run cannot tell an effect from noise.

A verdict is "supported" when the whole 95% interval lies on the claim's side of its threshold, "contradicted" when
it lies wholly on the other side, and "inconclusive" otherwise. The thresholds are the constants below.
"""

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ablation.config import RESNET_FACTORS, pin_memory_acts
from ablation.names import DATASET_NAMES

SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"
# A claim about something this host cannot show (pin_memory without a GPU): no data could ever decide it here.
NOT_TESTABLE = "not testable on this host"
# The GPU of seed 000's timings, as its README states ("Hardware: CPU and T4 GPU").
SEEDS_GPU = "NVIDIA T4"
LEVEL = 0.95
# "Without affecting accuracy" / "similar accuracy": the 95% interval of the difference lies within +-1 point.
ACCURACY_MARGIN_POINTS = 1.0
# "Nearly 20x": the interval of the geometric-mean speedup lies within a factor of 2 of 20.
SPEEDUP_CLAIMED, SPEEDUP_RANGE = 20.0, (10.0, 40.0)
# "Saturates after ~10 epochs": validation accuracy gains less than the margin from this epoch to the last.
SATURATION_EPOCH = 10
# A deep model's epoch touches every sample once, so its training time grows linearly in n (exponent 1).
DEEP_MODEL_EXPONENT = 1.0


@dataclass
class Estimate:
    """A mean (or geometric mean) over n units, with its 95% interval where n allows one."""

    value: float
    n: int
    low: float | None = None
    high: float | None = None
    unit: str = ""
    n_label: str = "pairs"
    exact: bool = False  # a count, not a sample: no interval applies

    @property
    def has_interval(self) -> bool:
        return self.low is not None

    def text(self, digits: int = 2) -> str:
        sign = "+" if self.unit == "points" else ""
        value = f"{self.value:{sign}.{digits}f}{_unit(self.unit)}"
        count = f"n = {self.n} {self.n_label if self.n != 1 else self.n_label.rstrip('s')}"
        if self.exact:
            return f"{value} (exact)"
        if not self.has_interval:
            return f"{value} ({count}; 95% interval not available with n = {self.n})"
        return f"{value}, 95% CI [{self.low:.{digits}f}, {self.high:.{digits}f}]{_unit(self.unit)} ({count})"


def _unit(unit: str) -> str:
    return {"points": " points", "x": "x", "": ""}.get(unit, f" {unit}")


@dataclass
class Part:
    """One tested comparison of a claim."""

    comparison: str
    estimate: Estimate | None
    verdict: str
    reason: str


@dataclass
class Claim:
    number: int
    text: str
    parts: list[Part] = field(default_factory=list)
    note: str = ""

    @property
    def verdict(self) -> str:
        """Supported only if every part is; contradicted if any part is; else inconclusive."""
        verdicts = [p.verdict for p in self.parts]
        if verdicts and all(v == NOT_TESTABLE for v in verdicts):
            return NOT_TESTABLE
        if verdicts and all(v == SUPPORTED for v in verdicts):
            return SUPPORTED
        if CONTRADICTED in verdicts:
            return CONTRADICTED
        return INCONCLUSIVE


# Statistics --------------------------------------------------------------------------------------------------------


def mean_interval(values, unit: str = "", n_label: str = "pairs") -> Estimate:
    """Mean with a two-sided 95% t-interval (none for n < 2)."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    mean = float(values.mean())
    if n < 2:
        return Estimate(mean, n, unit=unit, n_label=n_label)
    half = stats.t.ppf(0.5 + LEVEL / 2, n - 1) * values.std(ddof=1) / math.sqrt(n)
    return Estimate(mean, n, mean - half, mean + half, unit=unit, n_label=n_label)


def ratio_interval(ratios, n_label: str = "pairs") -> Estimate:
    """Geometric mean of ratios with the interval of the mean log ratio, transformed back."""
    logs = mean_interval(np.log(np.asarray(ratios, dtype=float)), n_label=n_label)
    if not logs.has_interval:
        return Estimate(math.exp(logs.value), logs.n, unit="x", n_label=n_label)
    return Estimate(math.exp(logs.value), logs.n, math.exp(logs.low), math.exp(logs.high), "x", n_label)


def loglog_slope(x, y, groups) -> Estimate:
    """Common slope of log y on log x with one intercept per group (fixed effects), with its 95% t-interval."""
    x, y = np.log(np.asarray(x, dtype=float)), np.log(np.asarray(y, dtype=float))
    labels = sorted(set(groups))
    design = np.column_stack([x] + [np.asarray([g == label for g in groups], dtype=float) for label in labels])
    n, p = design.shape
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    if np.linalg.matrix_rank(design) < p:
        return Estimate(math.nan, n, unit="", n_label="fits")
    df = n - p
    if df < 1:
        return Estimate(float(coef[0]), n, unit="", n_label="points")
    residual = y - design @ coef
    sigma2 = float(residual @ residual) / df
    se = math.sqrt(sigma2 * np.linalg.inv(design.T @ design)[0, 0])
    half = stats.t.ppf(0.5 + LEVEL / 2, df) * se
    return Estimate(float(coef[0]), n, float(coef[0]) - half, float(coef[0]) + half, unit="", n_label="points")


def above(estimate: Estimate, threshold: float) -> tuple[str, str]:
    """Verdict for 'the effect exceeds threshold'."""
    if not estimate.has_interval:
        return INCONCLUSIVE, f"one {estimate.n_label.rstrip('s')} cannot separate an effect from noise"
    if estimate.low > threshold:
        return SUPPORTED, f"the whole interval lies above {threshold:g}"
    if estimate.high < threshold:
        return CONTRADICTED, f"the whole interval lies below {threshold:g}"
    return INCONCLUSIVE, f"the interval includes {threshold:g}"


def below(estimate: Estimate, threshold: float) -> tuple[str, str]:
    """Verdict for 'the effect stays under threshold'."""
    if not estimate.has_interval:
        return INCONCLUSIVE, f"one {estimate.n_label.rstrip('s')} cannot separate an effect from noise"
    if estimate.high < threshold:
        return SUPPORTED, f"the whole interval lies below {threshold:g}"
    if estimate.low > threshold:
        return CONTRADICTED, f"the whole interval lies above {threshold:g}"
    return INCONCLUSIVE, f"the interval includes {threshold:g}"


def within(estimate: Estimate, low: float, high: float) -> tuple[str, str]:
    """Verdict for 'the effect lies in [low, high]' (equivalence: the interval inside the range)."""
    if not estimate.has_interval:
        return INCONCLUSIVE, f"one {estimate.n_label.rstrip('s')} cannot separate an effect from noise"
    if low <= estimate.low and estimate.high <= high:
        return SUPPORTED, f"the whole interval lies within [{low:g}, {high:g}]"
    if estimate.high < low or estimate.low > high:
        return CONTRADICTED, f"the whole interval lies outside [{low:g}, {high:g}]"
    return INCONCLUSIVE, f"the interval crosses a bound of [{low:g}, {high:g}]"


# Pairing -----------------------------------------------------------------------------------------------------------


def paired(runs: pd.DataFrame, factor: str, a, b, value: str) -> pd.DataFrame:
    """Runs at factor=a matched to runs at factor=b on every other factor (the seed included).

    Returns the matched factors with columns `a` and `b` holding `value` of each side. Optimizers are matched on
    every factor but momentum, which only SGD reads (Adam's runs have 0): the pairs keep the SGD side's momentum.
    """
    others = [f for f in RESNET_FACTORS if f != factor and not (factor == "optimizer" and f == "momentum")]
    kept = [f for f in RESNET_FACTORS if f not in others and f != factor]
    left = runs[runs[factor] == a][others + [value]].rename(columns={value: "a"})
    right = runs[runs[factor] == b][others + kept + [value]].rename(columns={value: "b"})
    return left.merge(right, on=others).dropna(subset=["a", "b"])


def ok_resnet(runs: pd.DataFrame) -> pd.DataFrame:
    return runs[(runs["kind"] == "resnet") & (runs["status"] == "ok")]


def _no_pairs(comparison: str, why: str) -> Part:
    return Part(comparison, None, INCONCLUSIVE, f"no data: {why}")


def _part(comparison: str, estimate: Estimate, verdict_and_reason: tuple[str, str]) -> Part:
    return Part(comparison, estimate, *verdict_and_reason)


def excluded_runs(runs: pd.DataFrame) -> str:
    """The runs no comparison can use, said once for all claims so that an exclusion is never silent."""
    counts = runs["status"].value_counts()
    notes = []
    if counts.get("diverged", 0):
        notes.append(f"{counts['diverged']} diverged run(s)")
    if counts.get("not_run", 0):
        notes.append(f"{counts['not_run']} run(s) not run (no GPU)")
    return f"Excluded from every comparison: {' and '.join(notes)}." if notes else ""


# The claims --------------------------------------------------------------------------------------------------------


def claim_adam_vs_sgd(runs: pd.DataFrame) -> Claim:
    claim = Claim(1, "Adam optimizer consistently outperforms SGD in both MNIST and FashionMNIST.")
    pairs = paired(ok_resnet(runs), "optimizer", "adam", "sgd", "test_accuracy")
    if pairs.empty:
        claim.parts.append(_no_pairs("Adam - SGD test accuracy", "no Adam and SGD runs matched on all other factors"))
    # One part per dataset, and per SGD momentum where the runs have several (each is its own comparison).
    momenta = sorted(pairs["momentum"].unique()) if not pairs.empty else []
    for momentum in momenta:
        at_momentum = pairs[pairs["momentum"] == momentum]
        for dataset, group in sorted(at_momentum.groupby("dataset"), key=lambda item: item[0] != "mnist"):
            estimate = mean_interval(100 * (group["a"] - group["b"]), unit="points")
            comparison = f"{DATASET_NAMES.get(dataset, dataset)}: Adam - SGD test accuracy, paired on every other "
            comparison += f"factor (SGD momentum {momentum:g})" if len(momenta) > 1 else "factor"
            claim.parts.append(_part(comparison, estimate, above(estimate, 0.0)))
    return claim


def claim_resnet50_cost(runs: pd.DataFrame) -> Claim:
    claim = Claim(2, "ResNet50 has significantly higher FLOPs and training time compared to ResNet18.")
    ok = ok_resnet(runs)
    flops = paired(ok, "model", "resnet50", "resnet18", "flops")
    if flops.empty:
        claim.parts.append(_no_pairs("ResNet-50 / ResNet-18 FLOPs", "no ResNet-50 and ResNet-18 runs to compare"))
    else:
        # thop counts the same operations for every run of a model and input size: exact, no sampling error.
        ratio = float((flops["a"] / flops["b"]).iloc[0])
        estimate = Estimate(ratio, 1, ratio, ratio, unit="x", n_label="counts", exact=True)
        verdict = (SUPPORTED, "an exact count (thop), no interval needed") if ratio > 1 else (CONTRADICTED, "")
        claim.parts.append(Part("ResNet-50 / ResNet-18 FLOPs per image (thop)", estimate, *verdict))
    times = paired(ok, "model", "resnet50", "resnet18", "train_time_s")
    if times.empty:
        claim.parts.append(_no_pairs("ResNet-50 / ResNet-18 training time", "no runs matched on all other factors"))
    else:
        estimate = ratio_interval(times["a"] / times["b"])
        comparison = "ResNet-50 / ResNet-18 training time, paired on every other factor"
        claim.parts.append(_part(comparison, estimate, above(estimate, 1.0)))
    return claim


def claim_gpu_speedup(runs: pd.DataFrame) -> Claim:
    claim = Claim(3, "GPU provides nearly 20x speedup compared to CPU while maintaining similar accuracy.")
    ok = ok_resnet(runs)
    times = paired(ok, "device", "cpu", "cuda", "train_time_s")
    accuracy = paired(ok, "device", "cuda", "cpu", "test_accuracy")
    not_run = int(((runs["kind"] == "resnet") & (runs["status"] == "not_run")).sum())
    if times.empty:
        why = "no CPU and GPU runs matched on all other factors"
        if not_run:
            why += f" ({not_run} CUDA run(s) not run: no GPU)"
        claim.parts.append(_no_pairs("CPU / GPU training time", why))
        claim.parts.append(_no_pairs("GPU - CPU test accuracy", why))
    else:
        speedup = ratio_interval(times["a"] / times["b"])
        comparison = f"CPU / GPU training time (speedup; claimed {SPEEDUP_CLAIMED:g}x), paired on every other factor"
        claim.parts.append(_part(comparison, speedup, within(speedup, *SPEEDUP_RANGE)))
        difference = mean_interval(100 * (accuracy["a"] - accuracy["b"]), unit="points")
        comparison = f"GPU - CPU test accuracy (similar: within +-{ACCURACY_MARGIN_POINTS:g} point)"
        claim.parts.append(
            _part(comparison, difference, within(difference, -ACCURACY_MARGIN_POINTS, ACCURACY_MARGIN_POINTS))
        )
    ours = sorted(set(ok.loc[ok["device"] == "cuda", "gpu_name"].dropna()))
    claim.note = f"The seeds' GPU: an {SEEDS_GPU}; ours: {', '.join(ours) if ours else 'none (no CUDA run here)'}."
    return claim


def claim_pin_memory(runs: pd.DataFrame) -> Claim:
    claim = Claim(4, "Pin memory slightly improves training time without affecting accuracy.")
    # Only runs where pinning acts (the DataLoader's copies to a GPU); elsewhere True is the run of False.
    ok = ok_resnet(runs)
    ok = ok[pin_memory_acts(ok)]
    times = paired(ok, "pin_memory", True, False, "train_time_s")
    accuracy = paired(ok, "pin_memory", True, False, "test_accuracy")
    if times.empty:
        why = (
            "pin_memory acts only on the DataLoader's copies to a GPU, and no CUDA runs with pin_memory True and "
            "False, matched on all other factors, ran here"
        )
        for comparison in ("pin_memory True / False training time", "pin_memory True - False test accuracy"):
            claim.parts.append(Part(comparison, None, NOT_TESTABLE, why))
    else:
        ratio = ratio_interval(times["a"] / times["b"])
        comparison = "pin_memory True / False training time (improves: below 1), paired"
        claim.parts.append(_part(comparison, ratio, below(ratio, 1.0)))
        difference = mean_interval(100 * (accuracy["a"] - accuracy["b"]), unit="points")
        comparison = f"pin_memory True - False test accuracy (unaffected: within +-{ACCURACY_MARGIN_POINTS:g} point)"
        claim.parts.append(
            _part(comparison, difference, within(difference, -ACCURACY_MARGIN_POINTS, ACCURACY_MARGIN_POINTS))
        )
    return claim


def claim_epochs_saturate(runs: pd.DataFrame, history: pd.DataFrame) -> Claim:
    claim = Claim(5, "Increasing epochs improves validation accuracy but saturates after ~10 epochs.")
    sat = SATURATION_EPOCH
    long_runs = ok_resnet(runs)
    long_runs = long_runs[long_runs["epochs"] > sat]
    curves = history[history["run_id"].isin(long_runs["run_id"])].pivot_table(
        index="run_id", columns="epoch", values="val_accuracy"
    )
    if curves.empty:
        longest = ok_resnet(runs)["epochs"].max()
        why = f"no run trained for more than {sat} epochs (the longest: {longest if pd.notna(longest) else 0})"
        claim.parts.append(_no_pairs(f"validation accuracy gain, epoch 1 to {sat}", why))
        claim.parts.append(_no_pairs(f"validation accuracy gain, epoch {sat} to the last", why))
    else:
        last = curves.apply(lambda row: row.dropna().iloc[-1], axis=1)
        early = mean_interval(100 * (curves[sat] - curves[1]), unit="points", n_label="runs")
        late = mean_interval(100 * (last - curves[sat]), unit="points", n_label="runs")
        claim.parts.append(_part(f"validation accuracy gain, epoch 1 to {sat} (improves)", early, above(early, 0.0)))
        comparison = f"validation accuracy gain, epoch {sat} to the last (saturates: below {ACCURACY_MARGIN_POINTS:g})"
        claim.parts.append(_part(comparison, late, below(late, ACCURACY_MARGIN_POINTS)))
    # Separate runs that differ only in epochs, beyond the saturation point, must agree on test accuracy too.
    ok = ok_resnet(runs)
    epoch_values = sorted(ok["epochs"].dropna().unique())
    frames = [
        paired(ok, "epochs", high, low, "test_accuracy")
        for low in epoch_values
        for high in epoch_values
        if sat <= low < high
    ]
    pairs = pd.concat(frames) if frames else pd.DataFrame(columns=["a", "b"])
    if not pairs.empty:
        difference = mean_interval(100 * (pairs["a"] - pairs["b"]), unit="points")
        comparison = f"test accuracy, more - fewer epochs (both >= {sat}), paired on every other factor"
        claim.parts.append(_part(comparison, difference, below(difference, ACCURACY_MARGIN_POINTS)))
    return claim


def svm_fits(runs: pd.DataFrame) -> pd.DataFrame:
    """SVM fit times of one protocol, ours: the seeds' (raw or standardised pixels) fit at other rates."""
    svm = runs[(runs["kind"] == "svm") & (runs["status"] == "ok") & (runs["protocol"] == "stratified")]
    return svm.dropna(subset=["fit_time_s", "train_samples"])[["dataset", "kernel", "train_samples", "fit_time_s"]]


def claim_svm_scaling(runs: pd.DataFrame) -> Claim:
    claim = Claim(6, "SVM performs competitively on MNIST but scales poorly in training time compared to deep models.")
    fits = svm_fits(runs)
    groups = (fits["dataset"] + "/" + fits["kernel"]).tolist()
    sizes_per_group = fits.groupby(["dataset", "kernel"])["train_samples"].nunique()
    if fits.empty or sizes_per_group.max() < 2:
        why = "SVM fit times at fewer than two training-set sizes" if not fits.empty else "no SVM runs"
        claim.parts.append(_no_pairs("growth exponent of SVM fit time in n", why))
    else:
        exponent = loglog_slope(fits["train_samples"], fits["fit_time_s"], groups)
        comparison = (
            "growth exponent b of SVM fit time ~ n^b (log-log fit, one intercept per dataset and kernel) against "
            f"{DEEP_MODEL_EXPONENT:g} for a deep model's epoch"
        )
        claim.parts.append(_part(comparison, exponent, above(exponent, DEEP_MODEL_EXPONENT)))
    claim.note = _svm_accuracy_note(runs)
    return claim


def _svm_accuracy_note(runs: pd.DataFrame) -> str:
    """The claim's first half, as numbers: the best SVM and the best ResNet on MNIST (not given a verdict)."""
    mnist = runs[(runs["dataset"] == "mnist") & (runs["status"] == "ok")]
    best = {kind: mnist[mnist["kind"] == kind]["test_accuracy"].max() for kind in ("svm", "resnet")}
    if any(pd.isna(v) for v in best.values()):
        return ""
    return (
        f"On MNIST the best SVM reached {100 * best['svm']:.2f}% test accuracy and the best ResNet "
        f"{100 * best['resnet']:.2f}% (descriptive; 'competitive' is not given a verdict)."
    )


def evaluate_claims(runs: pd.DataFrame, history: pd.DataFrame) -> list[Claim]:
    return [
        claim_adam_vs_sgd(runs),
        claim_resnet50_cost(runs),
        claim_gpu_speedup(runs),
        claim_pin_memory(runs),
        claim_epochs_saturate(runs, history),
        claim_svm_scaling(runs),
    ]
