"""Source 000's six analysis claims, each tested as it is worded on our runs: the comparison, the effect with a 95%
interval, a test with its p-value (raw and Holm-adjusted across every part of every claim), and a verdict.

Pure: `evaluate_claims(runs, history)` takes the tables of report.aggregate and returns Claim objects. Where the
design pairs runs (Adam against SGD at the same dataset, model, batch size, lr, epochs, pin_memory, device, loader
and seed), effects are paired differences; ratios (times, speedups) are taken on the log scale and reported as
geometric means. The wording decides the test:
- "consistently outperforms" (claim 1): the share of matched pairs Adam wins against CONSISTENT_SHARE, by exact
  one-sided binomial tests: supported when the share is shown above it, contradicted when it is shown below it. The
  sign test against a coin flip is said beside it; the median difference has its distribution-free interval (order
  statistics).
- "similar", "without affecting", "nearly 20x", "competitively" (claims 3, 4, 6): equivalence, two one-sided tests
  (TOST) against the margins below; supported when both reject, contradicted when the 95% interval lies wholly
  outside the margin.
- "higher", "improves", "scales poorly" (claims 2, 4, 6): a one-sided test against the threshold; supported when the
  whole 95% interval lies on the claim's side, contradicted when it lies wholly on the other.
- "saturates after ~10 epochs" (claim 5): the validation gain per epoch before and after epoch 10, each run once.
Each part's p-value is that of the test its verdict rests on: the test toward the claim, or for a contradicted part
the test toward the other side (`Part.p_contrary`). Holm's adjustment runs over these, and a part supported or
contradicted on a p-value that it takes to ALPHA or above becomes inconclusive. With one pair there is no interval or
test, and the verdict is "inconclusive".
"""

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ablation.study.config import pin_memory_acts
from ablation.study.factors import DEFAULTS, LEGACY_VALUES, RESNET_FACTORS, SVM_BACKENDS, SVM_FACTORS
from ablation.study.names import DASH, DATASET_NAMES, MODEL_NAMES, SOURCES_GPU


class _Stats:
    """scipy.stats, imported when a statistic first asks for it: the plot jobs import this module for the few figures
    that draw an interval, and the others would each spend most of their start-up importing scipy.stats."""

    def __getattr__(self, name: str):
        from scipy import stats

        return getattr(stats, name)


stats = _Stats()

SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"
# A claim about something this host cannot show (pin_memory without a GPU): no data could ever decide it here.
NOT_TESTABLE = "not testable on this host"
LEVEL = 0.95
ALPHA = 1 - LEVEL
# "Consistently": Adam wins at least this share of the matched pairs (4 of 5).
CONSISTENT_SHARE = 0.8
# "Without affecting accuracy" / "similar accuracy": the 95% interval of the difference lies within +-1 point.
ACCURACY_MARGIN_POINTS = 1.0
# "Nearly 20x": the interval of the geometric-mean speedup lies within a factor of 2 of 20.
SPEEDUP_CLAIMED, SPEEDUP_RANGE = 20.0, (10.0, 40.0)
# "Saturates after ~10 epochs": after this epoch the validation accuracy gains less than SATURATED_GAIN points per
# epoch (a tenth of a point: 1 point over 10 more epochs, the accuracy margin).
SATURATION_EPOCH = 10
SATURATED_GAIN = 0.1
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
    se: float | None = None  # the standard error and degrees of freedom of a t-based estimate, for its tests
    df: int | None = None

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
    """One tested comparison of a claim; `p_value` of its `test` where one applies, `p_adjusted` by Holm across every
    part of every claim (set by evaluate_claims)."""

    comparison: str
    estimate: Estimate | None
    verdict: str
    reason: str
    test: str = ""
    p_value: float | None = None
    p_adjusted: float | None = None
    # The test toward the other side of the claim: a contradicted part rests on it, so it is the one shown and adjusted.
    contrary_test: str = ""
    p_contrary: float | None = None

    def __post_init__(self):
        if self.verdict == CONTRADICTED and self.p_contrary is not None:
            self.test, self.p_value = self.contrary_test, self.p_contrary

    def p_text(self) -> str:
        if self.p_value is None:
            return DASH
        return f"{self.test}: p = {self.p_value:.3g}" + (
            f", Holm {self.p_adjusted:.3g}" if self.p_adjusted is not None else ""
        )


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
    slope = float(coef[0])
    return Estimate(slope, n, slope - half, slope + half, unit="", n_label="points", se=se, df=df)


def slope_above(estimate: Estimate, threshold: float) -> float | None:
    """p of a one-sided t-test that a fitted slope exceeds `threshold`."""
    if estimate.se is None:
        return None
    if estimate.se == 0:
        return 0.0 if estimate.value > threshold else 1.0
    return float(stats.t.sf((estimate.value - threshold) / estimate.se, estimate.df))


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


def sign_test(differences) -> tuple[int, int, float]:
    """(wins, pairs without ties, exact one-sided p of at least that many wins if each pair were a coin flip)."""
    d = np.asarray(differences, dtype=float)
    wins, n = int((d > 0).sum()), int((d != 0).sum())
    return wins, n, float(stats.binomtest(wins, n, 0.5, alternative="greater").pvalue) if n else 1.0


def share_tests(wins: int, n: int, share: float) -> tuple[float, float]:
    """Exact one-sided binomial p-values of `wins` in `n` against a win share of `share`: (that the true share exceeds
    it, that it falls short of it)."""
    if not n:
        return 1.0, 1.0
    greater = float(stats.binomtest(wins, n, share, alternative="greater").pvalue)
    return greater, float(stats.binomtest(wins, n, share, alternative="less").pvalue)


def outside_t(values, low: float, high: float, name: str, shown=None) -> tuple[str, float | None]:
    """The one-sided t-test that the mean lies beyond the nearer bound of (low, high), and its label (`shown`: the
    bounds as the claim states them, where the test runs on their logs): what a contradicted equivalence rests on."""
    shown_low, shown_high = shown or (low, high)
    if np.mean(values) > high:
        return f"one-sided t ({name} > {shown_high:g})", one_sided_t(values, high, greater=True)
    return f"one-sided t ({name} < {shown_low:g})", one_sided_t(values, low, greater=False)


def median_interval(values, unit: str = "", n_label: str = "pairs") -> Estimate:
    """Median with its distribution-free 95% interval: the order statistics x(l) and x(n+1-l) for the largest l
    whose coverage, 1 - 2 P(Binomial(n, 1/2) < l), is at least 95% (none for n < 6)."""
    x = np.sort(np.asarray(values, dtype=float))
    n, median = len(x), float(np.median(values))
    ls = [k for k in range(1, n // 2 + 1) if 1 - 2 * stats.binom.cdf(k - 1, n, 0.5) >= LEVEL]
    if not ls:
        return Estimate(median, n, unit=unit, n_label=n_label)
    return Estimate(median, n, float(x[ls[-1] - 1]), float(x[n - ls[-1]]), unit=unit, n_label=n_label)


def one_sided_t(values, threshold: float, greater: bool) -> float | None:
    """p of a one-sided t-test that the mean exceeds (`greater`) or stays under `threshold`; None for n < 2."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return None
    se = values.std(ddof=1) / math.sqrt(len(values))
    if se == 0:
        return 0.0 if (values.mean() > threshold) == greater and values.mean() != threshold else 1.0
    t = (values.mean() - threshold) / se
    return float(stats.t.sf(t, len(values) - 1) if greater else stats.t.cdf(t, len(values) - 1))


def tost(values, low: float, high: float) -> float | None:
    """p of the two one-sided t-tests that the mean lies inside (low, high): the larger of the two p-values."""
    above_low, below_high = one_sided_t(values, low, True), one_sided_t(values, high, False)
    return None if above_low is None else max(above_low, below_high)


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment of p-values, in their order."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted, running = [0.0] * len(p_values), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def equivalence(estimate: Estimate, p: float | None, low: float, high: float) -> tuple[str, str]:
    """Verdict of an equivalence claim (TOST): supported when both one-sided tests reject, contradicted when the 95%
    interval lies wholly outside [low, high]."""
    if p is None or not estimate.has_interval:
        return INCONCLUSIVE, f"one {estimate.n_label.rstrip('s')} cannot separate an effect from noise"
    if p < ALPHA:
        return SUPPORTED, f"equivalent within [{low:g}, {high:g}] (both one-sided tests reject)"
    if estimate.high < low or estimate.low > high:
        return CONTRADICTED, f"the whole interval lies outside [{low:g}, {high:g}]"
    return INCONCLUSIVE, f"equivalence within [{low:g}, {high:g}] not shown"


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
            comparison = f"{DATASET_NAMES.get(dataset, dataset)}: Adam - SGD test accuracy, paired on every other "
            comparison += f"factor (SGD momentum {momentum:g})" if len(momenta) > 1 else "factor"
            claim.parts.append(consistency_part(comparison, group))
    claim.note = repeat_spread(ok_resnet(runs)) + (
        f'"Consistently": Adam wins more than {CONSISTENT_SHARE:.0%} of the matched pairs, by an exact one-sided '
        f"binomial test of the win share against {CONSISTENT_SHARE:.0%} (toward the other side for a contradiction); "
        "the sign test against a coin flip is given beside it. The effect shown is the median difference with its "
        "distribution-free interval."
    )
    return claim


def repeat_spread(runs: pd.DataFrame) -> str:
    """The run-to-run spread of test accuracy where a configuration ran more than once (the range of its repeats, in
    points), to set beside the effects: an effect within it may be noise."""
    groups = runs.groupby(_configurations(runs), dropna=False)["test_accuracy"]
    spread = 100 * (groups.max() - groups.min())[groups.count() > 1]
    if spread.empty:
        return ""
    return (
        f"Run-to-run spread of the test accuracy where a configuration ran more than once ({len(spread)} "
        f"configuration(s)): up to {spread.max():.2f} points (median {spread.median():.2f}). "
    )


def consistency_part(comparison: str, group: pd.DataFrame) -> Part:
    """Claim 1 on one dataset's pairs: the share Adam wins tested against CONSISTENT_SHARE both ways, the sign test
    against a coin flip beside it, the median difference, and where it holds (wins by learning rate and model)."""
    differences = 100 * (group["a"] - group["b"])
    wins, n, p_coin = sign_test(differences)
    above_share, below_share = share_tests(wins, n, CONSISTENT_SHARE)
    estimate = median_interval(differences, unit="points")
    where = "; ".join(
        f"lr {lr:g} {MODEL_NAMES.get(model, model)} {int((100 * (g['a'] - g['b']) > 0).sum())}/{len(g)}"
        for (lr, model), g in sorted(group.groupby(["lr", "model"]), key=lambda item: (-item[0][0], item[0][1]))
    )
    share = wins / n if n else 0.0
    target = f"{CONSISTENT_SHARE:.0%}"
    won = f"Adam won {wins} of {n} pairs ({share:.0%})"
    if n < 2:
        verdict, why = INCONCLUSIVE, "one pair cannot show consistency"
    elif above_share < ALPHA:
        verdict, why = SUPPORTED, f"{won}: the share is shown above {target}"
    elif below_share < ALPHA:
        verdict, why = CONTRADICTED, f"{won}: the share is shown below {target}"
    else:
        verdict, why = INCONCLUSIVE, f"{won}: neither above nor below {target} at the 5% level"
    why += f"; against a coin flip (sign test) p = {p_coin:.3g}; by lr and model: {where}"
    return Part(
        comparison,
        estimate,
        verdict,
        why,
        f"exact binomial (share > {target})",
        above_share,
        contrary_test=f"exact binomial (share < {target})",
        p_contrary=below_share,
    )


def ratio_part(comparison: str, times: pd.DataFrame, above_one: bool) -> Part:
    """A claim that paired ratios a / b lie above 1 (`above_one`) or below it: their geometric mean with its interval,
    and a one-sided t-test on the log ratios, with the test toward the other side as its contrary."""
    estimate = ratio_interval(times["a"] / times["b"])
    log_ratios = np.log(times["a"] / times["b"])
    side, other = (">", "<") if above_one else ("<", ">")
    return Part(
        comparison,
        estimate,
        *(above(estimate, 1.0) if above_one else below(estimate, 1.0)),
        f"one-sided t (log ratio {side} 0)",
        one_sided_t(log_ratios, 0.0, greater=above_one),
        contrary_test=f"one-sided t (log ratio {other} 0)",
        p_contrary=one_sided_t(log_ratios, 0.0, greater=not above_one),
    )


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
        comparison = "ResNet-50 / ResNet-18 training time, paired on every other factor"
        claim.parts.append(ratio_part(comparison, times, above_one=True))
        claim.note = ratio_by_dataset(times)
    return claim


# A pair whose ratio is this far (either way) from the median ratio of all pairs is flagged as an outlier.
OUTLIER_FACTOR = 2.0


def ratio_by_dataset(pairs: pd.DataFrame) -> str:
    """The pooled ratio of paired times split by dataset, and the pairs whose ratio is an outlier against the rest (a
    factor OUTLIER_FACTOR from the median of all pairs): a pooled figure can mix datasets that differ."""
    ratios = pairs.assign(ratio=pairs["a"] / pairs["b"])
    by_dataset = "; ".join(
        f"{DATASET_NAMES.get(dataset, dataset)} {ratio_interval(group['ratio']).text()}"
        for dataset, group in sorted(ratios.groupby("dataset"), key=lambda item: item[0] != "mnist")
    )
    median = ratios["ratio"].median()
    outliers = ratios[(ratios["ratio"] > OUTLIER_FACTOR * median) | (ratios["ratio"] < median / OUTLIER_FACTOR)]
    said = f"By dataset: {by_dataset}."
    if len(outliers):
        listed = "; ".join(
            f"{DATASET_NAMES.get(r.dataset, r.dataset)} batch {r.batch_size} {r.optimizer} lr {r.lr:g} seed {r.seed}: "
            f"{r.ratio:.2f}x"
            for r in outliers.itertuples()
        )
        said += (
            f" Outliers, a factor {OUTLIER_FACTOR:g} or more from the median of all pairs ({median:.2f}x): {listed}."
        )
    return said


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
        log_speedups = np.log(times["a"] / times["b"])
        p = tost(log_speedups, *np.log(SPEEDUP_RANGE))
        contrary_test, contrary = outside_t(log_speedups, *np.log(SPEEDUP_RANGE), "speedup", SPEEDUP_RANGE)
        claim.parts.append(
            Part(
                comparison,
                speedup,
                *equivalence(speedup, p, *SPEEDUP_RANGE),
                "TOST (log)",
                p,
                contrary_test=contrary_test,
                p_contrary=contrary,
            )
        )
        claim.parts.append(accuracy_equivalence_part("GPU - CPU test accuracy (similar", accuracy))
    ours = sorted(set(ok.loc[ok["device"] == "cuda", "gpu_name"].dropna()))
    claim.note = f"The sources' GPU: an {SOURCES_GPU}; ours: {', '.join(ours) if ours else 'none (no CUDA run here)'}."
    return claim


def accuracy_equivalence_part(label: str, pairs: pd.DataFrame) -> Part:
    """'Similar' / 'without affecting' accuracy: TOST of the paired difference within +-ACCURACY_MARGIN_POINTS."""
    margin = ACCURACY_MARGIN_POINTS
    differences = 100 * (pairs["a"] - pairs["b"])
    estimate = mean_interval(differences, unit="points")
    p = tost(differences, -margin, margin)
    contrary_test, contrary = outside_t(differences, -margin, margin, "difference")
    comparison = f"{label}: within +-{margin:g} point), paired"
    return Part(
        comparison,
        estimate,
        *equivalence(estimate, p, -margin, margin),
        "TOST",
        p,
        contrary_test=contrary_test,
        p_contrary=contrary,
    )


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
        comparison = "pin_memory True / False training time (improves: below 1), paired"
        claim.parts.append(ratio_part(comparison, times, above_one=False))
        claim.parts.append(accuracy_equivalence_part("pin_memory True - False test accuracy (unaffected", accuracy))
    return claim


def claim_epochs_saturate(runs: pd.DataFrame, history: pd.DataFrame) -> Claim:
    """Each run longer than SATURATION_EPOCH counts once: its mean validation gain per epoch up to that epoch and after
    it. The note gives the headroom left there and the epoch from which the mean gain stays below SATURATED_GAIN."""
    claim = Claim(5, "Increasing epochs improves validation accuracy but saturates after ~10 epochs.")
    sat, rate = SATURATION_EPOCH, SATURATED_GAIN
    long_runs = ok_resnet(runs)
    long_runs = long_runs[long_runs["epochs"] > sat]
    curves = 100 * history[history["run_id"].isin(long_runs["run_id"])].pivot_table(
        index="run_id", columns="epoch", values="val_accuracy"
    )
    before_label = f"validation gain per epoch, epochs 1 to {sat} (improves: above 0)"
    after_label = f"validation gain per epoch after epoch {sat} (saturates: below {rate:g} point per epoch)"
    if curves.empty:
        longest = ok_resnet(runs)["epochs"].max()
        why = f"no run trained for more than {sat} epochs (the longest: {longest if pd.notna(longest) else 0})"
        if len(long_runs):
            why = f"no validation curves recorded for the {len(long_runs)} run(s) longer than {sat} epochs"
        claim.parts += [_no_pairs(before_label, why), _no_pairs(after_label, why)]
        return claim
    last_epoch = curves.apply(lambda row: row.dropna().index[-1], axis=1)
    last = curves.apply(lambda row: row.dropna().iloc[-1], axis=1)
    before = (curves[sat] - curves[1]) / (sat - 1)
    after = (last - curves[sat]) / (last_epoch - sat)
    early = mean_interval(before, unit="points", n_label="runs")
    late = mean_interval(after, unit="points", n_label="runs")
    p_early, p_late = one_sided_t(before, 0.0, greater=True), one_sided_t(after, rate, greater=False)
    contrary_early, contrary_late = one_sided_t(before, 0.0, greater=False), one_sided_t(after, rate, greater=True)
    claim.parts.append(
        Part(
            before_label,
            early,
            *above(early, 0.0),
            "one-sided t (> 0)",
            p_early,
            contrary_test="one-sided t (< 0)",
            p_contrary=contrary_early,
        )
    )
    claim.parts.append(
        Part(
            after_label,
            late,
            *below(late, rate),
            f"one-sided t (< {rate:g})",
            p_late,
            contrary_test=f"one-sided t (> {rate:g})",
            p_contrary=contrary_late,
        )
    )
    claim.note = saturation_note(curves, last_epoch)
    return claim


def saturation_note(curves: pd.DataFrame, last_epoch: pd.Series) -> str:
    """How many runs claim 5 counts, their headroom at SATURATION_EPOCH, and where the mean curve's gain per epoch
    falls below SATURATED_GAIN for good, over the epochs every run has."""
    sat, rate = SATURATION_EPOCH, SATURATED_GAIN
    common = curves.loc[:, : int(last_epoch.min())].dropna(axis=1)
    gains = common.mean().diff().dropna()
    settled = next((int(e) for e in gains.index if (gains.loc[e:] < rate).all()), None)
    headroom = float((100 - curves[sat]).mean())
    return (
        f"{len(curves)} run(s) longer than {sat} epochs, each counted once. Headroom left at epoch {sat}: "
        f"{headroom:.2f} points of validation accuracy on average (a ceiling near 100% makes saturation likely). "
        + (
            f"The mean curve gains less than {rate:g} point per epoch from epoch {settled} on."
            if settled is not None
            else f"The mean curve never settles below {rate:g} point per epoch within {int(last_epoch.min())} epochs."
        )
    )


def svm_fits(runs: pd.DataFrame) -> pd.DataFrame:
    """SVM fit times of one protocol, ours where there are any (the sources' raw or standardised pixels fit at other
    rates), else the one protocol the runs have; with each run's SVC implementation (`backend`)."""
    svm = runs[(runs["kind"] == "svm") & (runs["status"] == "ok")]
    columns = ["dataset", "kernel", "train_samples", "fit_time_s", "backend"]
    if svm.empty:
        return pd.DataFrame(columns=columns)
    protocols = set(svm["protocol"].dropna())
    only = protocols.pop() if len(protocols) == 1 else "stratified"
    svm = svm[svm["protocol"] == only]
    recorded = svm["backend"].astype(object) if "backend" in svm else pd.Series(None, index=svm.index, dtype=object)
    backend = recorded.fillna(LEGACY_VALUES["svm"]["backend"])  # runs from before it was a factor: sklearn
    svm = svm.assign(backend=backend).dropna(subset=["fit_time_s", "train_samples"])
    return svm[columns]


def claim_svm_scaling(runs: pd.DataFrame) -> Claim:
    """Scaling: the SVM's fit-time exponent against a deep model's epoch, whose time is linear in n by construction
    (every image once; a property of an epoch, not measured here). Competitiveness: the best SVM against the best
    ResNet on MNIST, both on the pooled split's test part, equivalent within ACCURACY_MARGIN_POINTS."""
    claim = Claim(6, "SVM performs competitively on MNIST but scales poorly in training time compared to deep models.")
    claim.parts.append(competitive_part(runs))
    fits = svm_fits(runs)
    # One part per SVC implementation: whether the verdict depends on it is then in plain view (implementations_note).
    backends = sorted(fits["backend"].unique()) or [DEFAULTS["svm"]["backend"]]
    for backend in backends:
        claim.parts.append(exponent_part(fits[fits["backend"] == backend], backend if len(backends) > 1 else ""))
    claim.note = _svm_times_note(runs)
    return claim


def exponent_part(fits: pd.DataFrame, backend: str) -> Part:
    """The growth exponent of SVM fit time in n (one SVC implementation's fits) against a deep model's 1."""
    implementation = f" under {backend}'s SVC" if backend else ""
    sizes_per_group = fits.groupby(["dataset", "kernel"])["train_samples"].nunique()
    if fits.empty or sizes_per_group.max() < 2:
        why = "SVM fit times at fewer than two training-set sizes" if not fits.empty else "no SVM runs"
        return _no_pairs(f"growth exponent of SVM fit time in n{implementation}", why)
    groups = (fits["dataset"] + "/" + fits["kernel"]).tolist()
    exponent = loglog_slope(fits["train_samples"], fits["fit_time_s"], groups)
    comparison = (
        f"growth exponent b of SVM fit time ~ n^b{implementation} (log-log fit, one intercept per dataset and kernel) "
        f"against {DEEP_MODEL_EXPONENT:g} for a deep model's epoch (linear in n by construction)"
    )
    p, deep = slope_above(exponent, DEEP_MODEL_EXPONENT), DEEP_MODEL_EXPONENT
    return Part(
        comparison,
        exponent,
        *above(exponent, deep),
        f"one-sided t (b > {deep:g})",
        p,
        contrary_test=f"one-sided t (b < {deep:g})",
        p_contrary=None if p is None else 1.0 - p,
    )


def implementations_note(claim: Claim) -> None:
    """Says whether claim 6's scaling verdict depends on the SVC implementation, where the runs used several (after
    Holm's adjustment, which can change a verdict)."""
    named = {b: p for b in SVM_BACKENDS for p in claim.parts if f" under {b}'s SVC" in p.comparison}
    if len(named) < 2:
        return
    listed = "; ".join(
        f"{name}: b = {p.estimate.text() if p.estimate else 'n/a'}, {p.verdict}" for name, p in named.items()
    )
    same = len({p.verdict for p in named.values()}) == 1
    claim.note += f" Scaling under each SVC implementation ({listed}): the verdict " + (
        "does not depend on the implementation." if same else "depends on the implementation."
    )


SAME_TEST_PART = [("stratified", "pooled"), ("seed001", "seed001")]


def competitive_part(runs: pd.DataFrame) -> Part:
    """The best SVM against the best ResNet on MNIST on the same test part: the difference of two accuracies with
    the binomial standard error of each, TOST within +-ACCURACY_MARGIN_POINTS."""
    margin = ACCURACY_MARGIN_POINTS
    comparison = f"MNIST: best SVM - best ResNet test accuracy (competitive: within +-{margin:g} point)"
    why = "needs SVM and ResNet runs on the same MNIST test part"
    if not {"protocol", "split", "test_images"} <= set(runs.columns):
        return _no_pairs(comparison, why)
    ok = runs[(runs["dataset"] == "mnist") & (runs["status"] == "ok")]
    # The SVM protocols and ResNet splits that test on the same images: ours, or the official test set.
    for protocol, split in SAME_TEST_PART:
        svm = ok[(ok["kind"] == "svm") & (ok["protocol"] == protocol)].dropna(subset=["test_images"])
        resnet = ok[(ok["kind"] == "resnet") & (ok["split"] == split)].dropna(subset=["test_images"])
        if len(svm) and len(resnet):
            break
    else:
        return _no_pairs(comparison, why)
    best_svm = svm.loc[svm["test_accuracy"].idxmax()]
    best_resnet = resnet.loc[resnet["test_accuracy"].idxmax()]
    p1, p2 = float(best_svm["test_accuracy"]), float(best_resnet["test_accuracy"])
    n1, n2 = int(best_svm["test_images"]), int(best_resnet["test_images"])
    difference = 100 * (p1 - p2)
    se = 100 * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2) or 1e-12
    z = stats.norm.ppf(0.5 + LEVEL / 2)
    estimate = Estimate(difference, n1, difference - z * se, difference + z * se, unit="points", n_label="test images")
    p = float(max(stats.norm.sf((difference + margin) / se), stats.norm.cdf((difference - margin) / se)))
    verdict, why = equivalence(estimate, p, -margin, margin)
    why += f" (SVM {100 * p1:.2f}% against ResNet {100 * p2:.2f}%; the best of each, so the gap is optimistic for both)"
    if difference > margin:
        contrary_test, contrary = f"one-sided z (difference > {margin:g})", stats.norm.sf((difference - margin) / se)
    else:
        contrary_test, contrary = f"one-sided z (difference < {-margin:g})", stats.norm.cdf((difference + margin) / se)
    return Part(
        comparison, estimate, verdict, why, "TOST (z)", p, contrary_test=contrary_test, p_contrary=float(contrary)
    )


def _svm_times_note(runs: pd.DataFrame) -> str:
    """Absolute times beside each other: the largest SVM fit and the ResNet runs' training time per epoch."""
    fits = svm_fits(runs)
    resnet = ok_resnet(runs)
    if fits.empty or resnet.empty:
        return ""
    largest = fits[fits["train_samples"] == fits["train_samples"].max()]
    per_epoch = (resnet["train_time_s"] / resnet["epochs"]).median()
    return (
        f"Absolute times: an SVM fit on {int(largest['train_samples'].iloc[0]):,} images took "
        f"{largest['fit_time_s'].median():.1f} s (median); a ResNet epoch here takes {per_epoch:.1f} s (median over "
        f"{len(resnet)} runs, on their own training parts)."
    )


def evaluate_claims(runs: pd.DataFrame, history: pd.DataFrame) -> list[Claim]:
    claims = [
        claim_adam_vs_sgd(runs),
        claim_resnet50_cost(runs),
        claim_gpu_speedup(runs),
        claim_pin_memory(runs),
        claim_epochs_saturate(runs, history),
        claim_svm_scaling(runs),
    ]
    adjust_for_multiplicity(claims)
    implementations_note(claims[-1])
    return claims


# How repeats are paired ---------------------------------------------------------------------------------------------

CONFIGURATION = [f for f in dict.fromkeys(["kind", *RESNET_FACTORS, *SVM_FACTORS]) if f != "seed"]


def _configurations(runs: pd.DataFrame) -> list[str]:
    return [f for f in CONFIGURATION if f in runs.columns]


def first_runs(runs: pd.DataFrame, history: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each configuration's first run only (its lowest seed: a seed's first repeat, our first replicate seed)."""
    first = runs.groupby(_configurations(runs), dropna=False)["seed"].transform("min")
    kept = runs[runs["seed"] == first]
    return kept, history[history["run_id"].isin(kept["run_id"])]


def averaged_runs(runs: pd.DataFrame, history: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each configuration's finished runs averaged into one, as seed 0: every numeric measure the mean of its repeats
    and their validation curves averaged epoch by epoch, under the first run's id. Other runs stay as they are."""
    ok, rest = runs[runs["status"] == "ok"], runs[runs["status"] != "ok"]
    keys = _configurations(runs)
    measures = [m for m in MEASURES if m in runs.columns]
    ok = ok.assign(**{m: pd.to_numeric(ok[m], errors="coerce") for m in measures})
    groups = ok.groupby(keys, dropna=False, sort=False)
    averaged = groups.first()
    averaged[measures] = groups[measures].mean()
    averaged = averaged.reset_index().assign(seed=0)
    first_id = groups["run_id"].transform("first")
    curves = history.merge(pd.DataFrame({"run_id": ok["run_id"], "group_id": first_id}), on="run_id")
    curves = curves.groupby(["group_id", "epoch"], as_index=False)["val_accuracy"].mean()
    return pd.concat([averaged, rest], ignore_index=True), curves.rename(columns={"group_id": "run_id"})


# What the claims compare, averaged over a configuration's repeats; the rest of a run's row is its first repeat's.
MEASURES = ["test_accuracy", "train_time_s", "fit_time_s", "flops"]
PAIRINGS = {"the first run of each configuration only": first_runs, "repeats averaged": averaged_runs}


def pairing_sensitivity(runs: pd.DataFrame, history: pd.DataFrame, claims: list[Claim]) -> str:
    """Whether each claim's verdict survives the other ways of treating a configuration run more than once: the
    pairing used (repeats in the order they ran, our replicate seeds by seed) against PAIRINGS."""
    repeated = runs.groupby(_configurations(runs), dropna=False)["seed"].transform("nunique") > 1
    if not repeated.any():
        return "No configuration ran more than once: there is no other way to pair the runs."
    count = runs[repeated].groupby(_configurations(runs), dropna=False).ngroups
    alternatives = {name: evaluate_claims(*make(runs, history)) for name, make in PAIRINGS.items()}
    changed = []
    for i, claim in enumerate(claims):
        other = {name: found[i].verdict for name, found in alternatives.items() if found[i].verdict != claim.verdict}
        if other:
            changed.append(
                f"claim {claim.number} is {claim.verdict} as paired, but "
                + " and ".join(f"{verdict} with {name}" for name, verdict in other.items())
            )
    said = f"{count} configuration(s) ran more than once."
    if not changed:
        return f"{said} Every verdict stays the same with {' and with '.join(PAIRINGS)}."
    return f"{said} The verdict depends on that choice: {'; '.join(changed)}."


def adjust_for_multiplicity(claims: list[Claim]) -> None:
    """Holm's adjustment across every tested part of every claim, each on the p-value its verdict rests on. A part
    supported or contradicted on its own p-value that the adjustment takes to ALPHA or above is inconclusive: among
    this many tests, it may be chance."""
    tested = [part for claim in claims for part in claim.parts if part.p_value is not None]
    for part, adjusted in zip(tested, holm([part.p_value for part in tested])):
        part.p_adjusted = adjusted
        if part.verdict in (SUPPORTED, CONTRADICTED) and part.p_value < ALPHA <= adjusted:
            part.verdict = INCONCLUSIVE
            part.reason += f"; not significant after Holm's adjustment across {len(tested)} tests"
