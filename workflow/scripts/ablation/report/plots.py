"""The report's figures, each written as PNG and SVG. A figure without data still gets written, saying why, so the
report's set of files does not depend on which runs succeeded.

Colours: the Okabe-Ito palette (distinguishable with every common colour-vision deficiency); the heatmap: viridis.
"""

import functools
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ablation.report.aggregate import in_studies  # noqa: E402
from ablation.report.claims import loglog_slope, paired, ratio_interval, svm_fits  # noqa: E402
from ablation.report.layout import FIGURES  # noqa: E402
from ablation.report.tables import show, sorted_points, varying  # noqa: E402
from ablation.study.names import GRID_FACTORS  # noqa: E402

# Okabe-Ito, with its yellow last: yellow lines are hard to see on white.
OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#000000", "#F0E442"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
SHORT = {
    "dataset": "",
    "model": "",
    "batch_size": "bs",
    "optimizer": "",
    "lr": "lr",
    "epochs": "ep",
    "pin_memory": "pin",
    "device": "",
    "loader": "",
}

plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 150, "axes.grid": True, "grid.alpha": 0.3})


def colour(i: int) -> str:
    return OKABE_ITO[i % len(OKABE_ITO)]


def marker(i: int) -> str:
    return MARKERS[(i // len(OKABE_ITO)) % len(MARKERS)]


def save(fig, stem) -> list[Path]:
    """stem.png and stem.svg."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    for path in paths:
        fig.savefig(path, bbox_inches="tight", metadata={"Date": None} if path.suffix == ".svg" else None)
    plt.close(fig)
    return paths


def no_data(stem, title: str, why: str) -> list[Path]:
    fig, ax = plt.subplots(figsize=(6, 2.5))
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, f"no data: {why}", ha="center", va="center", wrap=True, fontsize=11)
    return save(fig, stem)


def point_label(values: tuple, factors: list[str]) -> str:
    parts = []
    for factor, value in zip(factors, values):
        prefix = SHORT.get(factor, factor)
        text = show(factor, value)
        parts.append(f"{prefix} {text}" if prefix else text)
    return ", ".join(parts)


def varying_factors(runs: pd.DataFrame, fixed: list[str]) -> list[str]:
    """The factors a figure tells its series apart by: those that vary, else the sources' Question 1 factors."""
    return varying(runs, fixed) or ["batch_size", "optimizer", "lr"]


def status_suffix(group: pd.DataFrame) -> str:
    """What became of the runs of a grid point that did not finish, e.g. " (1 of 2: diverged at epoch 3)"."""
    notes = group.loc[group["status"] != "ok", "note"].dropna()
    if notes.empty:
        return ""
    counted = "; ".join(f"{n} of {len(group)}: {note}" for note, n in notes.value_counts().sort_index().items())
    return f" ({counted})"


def selected(runs: pd.DataFrame, studies: list[str], kind: str = "resnet") -> pd.DataFrame:
    runs = in_studies(runs, studies)
    return runs[runs["kind"] == kind]


# Each figure of ablation.report.layout.FIGURES by name, with its builder; each builder takes the figure's file stem,
# the studies it draws, the aggregate tables it reads (runs, history) and its wildcards (dataset, model).
BUILDERS = {}


def figure(name: str):
    """Registers the builder of FIGURES[name], and wraps it in what every builder starts with: the runs of the
    figure's kind in its studies (and of its wildcards' values, e.g. one dataset and model), or, where there are none,
    a figure that says so. The builder draws `runs` under the figure's title, its wildcards shown as the sources write
    them."""
    spec = FIGURES[name]

    def wrap(draw):
        @functools.wraps(draw)
        def build(stem, studies, runs, **inputs) -> list[Path]:
            wildcards = {k: v for k, v in inputs.items() if k in GRID_FACTORS}
            shown_title = spec.title.format(**{k: show(k, v) for k, v in wildcards.items()})
            runs = selected(runs, studies, spec.kind)
            for factor, value in wildcards.items():
                runs = runs[runs[factor] == value]
            if runs.empty:
                what = " ".join(map(str, wildcards.values())) or ("SVM" if spec.kind == "svm" else "ResNet")
                return no_data(stem, shown_title, empty_reason(f"{what} run", studies))
            return draw(stem, shown_title, runs, **inputs)

        BUILDERS[name] = build
        return build

    return wrap


def empty_reason(what: str, studies: list[str]) -> str:
    if not studies:
        return "no study is mapped to this figure (config report.tables)"
    return f"no {what} in {'study' if len(studies) == 1 else 'studies'} {', '.join(studies)}"


def integer_epochs(ax, epochs) -> None:
    """Ticks at whole epochs (a one-epoch run would otherwise get ticks at 0.96, 0.98, ...)."""
    epochs = sorted({int(e) for e in epochs})
    if 0 < len(epochs) <= 20:
        ax.set_xticks(epochs)
    else:
        ax.xaxis.get_major_locator().set_params(integer=True)


# Figures -----------------------------------------------------------------------------------------------------------


@figure("curves")
def training_curves(stem, title, runs, history, dataset, model) -> list[Path]:
    """Loss and accuracy per epoch, train (solid) and validation (dashed), one colour per grid point."""
    factors = varying_factors(runs, ["dataset", "model", "seed"])
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4.2))
    not_run = []
    drawn = 0
    for i, (values, group) in enumerate(sorted_points(runs, factors)):
        curve = history[history["run_id"].isin(group["run_id"])].groupby("epoch").mean(numeric_only=True)
        label = point_label(values, factors) + status_suffix(group)
        if curve.empty:
            not_run.append(label)
            continue
        drawn += 1
        style = {"color": colour(i), "marker": marker(i), "markersize": 4}
        # Each line named in the SVG (its group's id), so that a reader or a test can find which curve is which.
        ax_loss.plot(curve.index, curve["train_loss"], "-", label=label, gid=f"train-loss-{i}", **style)
        ax_loss.plot(curve.index, curve["val_loss"], "--", markerfacecolor="white", gid=f"validation-loss-{i}", **style)
        ax_acc.plot(curve.index, 100 * curve["train_accuracy"], "-", label=label, gid=f"train-accuracy-{i}", **style)
        ax_acc.plot(
            curve.index,
            100 * curve["val_accuracy"],
            "--",
            markerfacecolor="white",
            gid=f"validation-accuracy-{i}",
            **style,
        )
    for ax, ylabel in ((ax_loss, "cross-entropy loss"), (ax_acc, "accuracy (%)")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        integer_epochs(ax, history[history["run_id"].isin(runs["run_id"])]["epoch"])
    ax_loss.plot([], [], "k-", marker="o", label="train")
    ax_loss.plot([], [], "k--", marker="o", markerfacecolor="white", label="validation")
    seeds = runs["seed"].nunique()
    fig.suptitle(title + (f" (mean over {seeds} seeds)" if seeds > 1 else ""))
    if drawn:
        ax_acc.legend(fontsize=7, loc="lower right")
        ax_loss.legend(handles=ax_loss.get_legend_handles_labels()[0][-2:], fontsize=7, loc="upper right")
    if not_run:
        fig.text(0.01, -0.02, "Without curves: " + "; ".join(not_run), fontsize=7, ha="left", va="top", wrap=True)
    return save(fig, stem)


@figure("accuracy_heatmap")
def accuracy_heatmap(stem, title, runs) -> list[Path]:
    """Test accuracy over optimizer x lr, one panel per batch size (columns) and dataset x model (rows)."""
    rows = [values for values, _ in sorted_points(runs, ["dataset", "model"])]
    batch_sizes = sorted(runs["batch_size"].dropna().unique())
    optimizers = [o for o in ("sgd", "adam") if o in set(runs["optimizer"])]
    lrs = sorted(runs["lr"].dropna().unique(), reverse=True)
    ok = runs[runs["status"] == "ok"]
    values = ok.groupby(["dataset", "model", "batch_size", "optimizer", "lr"])["test_accuracy"].mean() * 100
    vmin, vmax = (values.min(), values.max()) if len(values) else (0, 100)
    fig, axes = plt.subplots(
        len(rows),
        len(batch_sizes),
        figsize=(2.2 + 2.2 * len(lrs) * len(batch_sizes), 1.0 + 1.6 * len(rows)),
        squeeze=False,
        constrained_layout=True,
    )
    image = None
    for r, (dataset, model) in enumerate(rows):
        for c, batch in enumerate(batch_sizes):
            ax = axes[r][c]
            grid = np.full((len(optimizers), len(lrs)), np.nan)
            for i, opt in enumerate(optimizers):
                for j, lr in enumerate(lrs):
                    key = (dataset, model, batch, opt, lr)
                    cell_runs = runs[
                        (runs["dataset"] == dataset)
                        & (runs["model"] == model)
                        & (runs["batch_size"] == batch)
                        & (runs["optimizer"] == opt)
                        & (runs["lr"] == lr)
                    ]
                    if key in values.index:
                        grid[i, j] = values[key]
                        text = f"{values[key]:.1f}"
                    elif cell_runs.empty:
                        text = "not in\ngrid"
                    else:
                        text = "\n".join(sorted(set(cell_runs["note"].dropna()))).replace(": ", ":\n")
                    shade = np.nan if np.isnan(grid[i, j]) else (grid[i, j] - vmin) / max(vmax - vmin, 1e-9)
                    ax.text(
                        j,
                        i,
                        text,
                        ha="center",
                        va="center",
                        fontsize=8,
                        color="white" if not np.isnan(shade) and shade < 0.5 else "black",
                    )
            image = ax.imshow(np.ma.masked_invalid(grid), cmap="viridis", vmin=vmin, vmax=vmax, aspect="auto")
            ax.set_xticks(range(len(lrs)), [f"{lr:g}" for lr in lrs])
            ax.set_yticks(range(len(optimizers)), [show("optimizer", o) for o in optimizers])
            ax.set_xlabel("learning rate")
            ax.grid(False)
            ax.set_title(f"{show('dataset', dataset)}, {show('model', model)}, batch {batch}", fontsize=9)
    fig.colorbar(image, ax=axes, label="test accuracy (%)", shrink=0.8)
    fig.suptitle(title + " (mean over seeds; diverged and not-run points are labelled)")
    return save(fig, stem)


@figure("pin_memory")
def pin_memory_times(stem, title, runs) -> list[Path]:
    """Training time with pin_memory False and True per dataset x model, with the test accuracy on each bar."""
    groups = sorted_points(runs, ["dataset", "model"])
    fig, ax = plt.subplots(figsize=(1.8 + 1.8 * len(groups), 4))
    width = 0.38
    for k, pin in enumerate((False, True)):
        for x, (_, group) in enumerate(groups):
            side = group[group["pin_memory"] == pin]
            ok = side[side["status"] == "ok"]
            position = x + (k - 0.5) * width
            if ok.empty:
                why = "; ".join(sorted(set(side["note"].dropna()))) or "not in the study"
                ax.text(position, 0, why, rotation=90, ha="center", va="bottom", fontsize=7)
                continue
            mean, std = ok["train_time_s"].mean(), ok["train_time_s"].std(ddof=1) if len(ok) > 1 else 0.0
            ax.bar(
                position,
                mean,
                width,
                yerr=std,
                color=colour(3 if pin else 0),
                capsize=3,
                label=f"pin_memory={pin}" if x == 0 else None,
            )
            ax.text(position, mean, f"{100 * ok['test_accuracy'].mean():.2f}%", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(groups)), [f"{show('dataset', d)}\n{show('model', m)}" for (d, m), _ in groups])
    ax.set_ylabel("training time (s)")
    ax.set_title(title + " (labels: test accuracy; error bars: std over seeds)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if set(runs["device"]) == {"cpu"}:
        ax.text(
            0.5,
            -0.25,
            "All runs on the CPU: pin_memory has no effect there.",
            transform=ax.transAxes,
            ha="center",
            fontsize=8,
        )
    return save(fig, stem)


@figure("epochs")
def accuracy_against_epochs(stem, title, runs, history) -> list[Path]:
    """Validation accuracy per epoch, test accuracy and training time against the number of epochs."""
    fig, (ax_val, ax_test, ax_time) = plt.subplots(1, 3, figsize=(15, 4.2))
    series_factors = [f for f in GRID_FACTORS if f not in ("epochs",)]
    pairs = [values for values, _ in sorted_points(runs, ["dataset", "model"])]
    for i, (dataset, model) in enumerate(pairs):
        group = runs[(runs["dataset"] == dataset) & (runs["model"] == model)]
        style = {"color": colour(i), "marker": marker(i), "markersize": 4}
        label = f"{show('dataset', dataset)}, {show('model', model)}"
        for j, (_, series) in enumerate(sorted_points(group, series_factors)):
            longest = series[series["status"] == "ok"].sort_values("epochs").tail(1)
            curve = history[history["run_id"].isin(longest["run_id"])].sort_values("epoch")
            ax_val.plot(
                curve["epoch"],
                100 * curve["val_accuracy"],
                "-",
                alpha=0.8,
                label=label if j == 0 else None,
                gid=f"validation-accuracy-{i}-{j}",
                **style,
            )
            ok = series[series["status"] == "ok"].groupby("epochs")
            ax_test.plot(
                ok["test_accuracy"].mean().index,
                100 * ok["test_accuracy"].mean(),
                "-",
                **style,
                label=label if j == 0 else None,
            )
            ax_time.plot(
                ok["train_time_s"].mean().index,
                ok["train_time_s"].mean(),
                "-",
                **style,
                label=label if j == 0 else None,
            )
    ax_val.set(xlabel="epoch", ylabel="validation accuracy (%)", title="Validation accuracy per epoch (longest run)")
    ax_test.set(xlabel="epochs trained", ylabel="test accuracy (%)", title="Test accuracy against epochs")
    ax_time.set(xlabel="epochs trained", ylabel="training time (s)", title="Training time against epochs")
    integer_epochs(ax_val, history[history["run_id"].isin(runs["run_id"])]["epoch"])
    for ax in (ax_test, ax_time):
        integer_epochs(ax, runs["epochs"].dropna())
    for ax in (ax_val, ax_test, ax_time):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    not_ok = runs[runs["status"] != "ok"]
    if len(not_ok):
        fig.text(
            0.01,
            -0.02,
            f"Not plotted: {len(not_ok)} run(s): " + "; ".join(sorted(set(not_ok["note"]))),
            fontsize=8,
            va="top",
        )
    fig.suptitle(title + " (lines join runs that differ only in epochs)")
    return save(fig, stem)


@figure("cpu_vs_gpu")
def cpu_vs_gpu_times(stem, title, runs) -> list[Path]:
    """Training time on the CPU and the GPU for each grid point, with the speedup of each matched pair."""
    factors = ["dataset", "model"] + [f for f in varying_factors(runs, ["dataset", "model", "device", "seed"])]
    points = sorted_points(runs, factors)
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.5 * len(points)))
    height = 0.38
    for y, (_, group) in enumerate(points):
        for k, device in enumerate(("cpu", "cuda")):
            side = group[group["device"] == device]
            ok = side[side["status"] == "ok"]
            position = y + (k - 0.5) * height
            if ok.empty:
                why = "; ".join(sorted(set(side["note"].dropna()))) or "not in the study"
                ax.text(
                    0,
                    position,
                    f" {show('device', device)}: {why}",
                    va="center",
                    fontsize=7,
                    transform=ax.get_yaxis_transform(),
                )
                continue
            seconds = ok["train_time_s"].mean()
            ax.barh(position, seconds, height, color=colour(4 if device == "cuda" else 1))
            # Each bar names its device: no legend to overlap the bars or the axis label.
            ax.text(seconds, position, f" {show('device', device)} {seconds:,.1f} s", va="center", fontsize=7)
        times = paired(group[group["status"] == "ok"], "device", "cpu", "cuda", "train_time_s")
        if not times.empty:
            speedup = ratio_interval(times["a"] / times["b"]).value
            ax.text(1.0, y, f" {speedup:.1f}x", va="center", fontsize=8, transform=ax.get_yaxis_transform())
    ax.set_yticks(range(len(points)), [point_label(v, factors) for v, _ in points], fontsize=7)
    ax.set_ylim(len(points) - 0.5, -0.5)  # top to bottom; also keeps the "not run" labels inside
    ax.set_xscale("log")
    ax.set_xlabel("training time (s, log scale)")
    ax.set_title(title + " (right: speedup, CPU time / GPU time)")
    low, high = ax.get_xlim()
    ax.set_xlim(low, high * 3)  # room for the bar labels
    return save(fig, stem)


def plot_fit_series(ax, group: pd.DataFrame, label: str, style: str, i: int) -> None:
    """One series of SVM fits: the mean fit time per n as a line (with its own exponent in the label) over the runs."""
    means = group.groupby("train_samples")["fit_time_s"].mean()
    if len(means) >= 2:
        slope = np.polyfit(np.log(means.index.astype(float)), np.log(means.values), 1)[0]
        label += f": b = {slope:.2f}"
    ax.plot(means.index, means.values, style, color=colour(i), marker=marker(i), label=label)
    ax.plot(group["train_samples"], group["fit_time_s"], linestyle="none", marker=marker(i), color=colour(i), alpha=0.4)


@figure("svm_scaling")
def svm_scaling(stem, title, runs) -> list[Path]:
    """SVM fit time against training samples on log-log axes, with the fitted growth exponent."""
    fits = svm_fits(runs)
    if fits.empty:
        return no_data(stem, title, "no SVM run of these studies finished")
    fig, ax = plt.subplots(figsize=(7, 4.5))
    # One colour per dataset and kernel; a dashed line for scikit-learn-intelex's SVC where both implementations ran.
    several = fits["backend"].nunique() > 1
    for i, ((dataset, kernel), series) in enumerate(fits.groupby(["dataset", "kernel"], sort=True)):
        for backend, group in series.groupby("backend", sort=True):
            style = "--" if backend == "sklearnex" else "-"
            label = f"{show('dataset', dataset)}, {show('kernel', kernel)}" + (f", {backend}" if several else "")
            plot_fit_series(ax, group, label, style, i)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training samples n (log scale)")
    ax.set_ylabel("fit time (s, log scale)")
    # A line of slope 1 through the smallest fit: how a deep model's epoch time grows with n.
    n0 = fits["train_samples"].min()
    t0 = fits[fits["train_samples"] == n0]["fit_time_s"].mean()
    n = np.array([n0, fits["train_samples"].max()], dtype=float)
    ax.plot(n, t0 * n / n0, ":", color="grey", label="slope 1 (linear, as a deep model's epoch)")
    if fits.groupby(["dataset", "kernel", "backend"])["train_samples"].nunique().max() >= 2:
        exponents = []
        for backend, group in fits.groupby("backend", sort=True):
            groups = (group["dataset"] + "/" + group["kernel"]).tolist()
            b = loglog_slope(group["train_samples"], group["fit_time_s"], groups).text()
            exponents.append(f"{backend}: b = {b}" if several else f"b = {b}")
        ax.set_title(f"{title}\nfitted growth exponent: fit time ~ n^b, {'; '.join(exponents)}", fontsize=9)
    else:
        ax.set_title(f"{title}\n(one training-set size: no growth exponent)", fontsize=9)
    ax.legend(fontsize=8)
    return save(fig, stem)
