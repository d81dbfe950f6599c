"""The sources' tables, built from runs.csv: each a TableDoc of sections of plain rows of strings.

report.readme renders each twice (markdown for README.md, HTML for `snakemake --report`). Which studies feed which
table is the config's `report.tables`; titles and sections are in report.layout. Every planned run shows up in the
tables that hold it: diverged runs as "diverged at epoch k", runs left out of the plan as "not run: no GPU". Several
replicate seeds of a grid point show as mean ± std (n).
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from ablation.report.aggregate import in_studies
from ablation.report.claims import Claim, mean_interval, paired, ratio_interval
from ablation.report.layout import TABLE_KEYS, TABLE_TITLES
from ablation.report.markup import Markdown, markdown_code
from ablation.study.config import pin_memory_acts
from ablation.study.names import DASH, FACTOR_HEADERS, GRID_FACTORS, ORDER, VALUE_NAMES


@dataclass
class Table:
    columns: list[str]
    rows: list[list[str]]
    numeric: list[bool]  # right-aligned columns


@dataclass
class Section:
    heading: str
    table: Table | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class TableDoc:
    key: str
    title: str
    studies: list[str]
    intro: str = ""
    omitted: str = ""
    sections: list[Section] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# Formatting --------------------------------------------------------------------------------------------------------


def show(factor: str, value) -> str:
    """A factor's value as the sources write it."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return DASH
    if factor in VALUE_NAMES:
        return VALUE_NAMES[factor].get(value, str(value))
    if factor == "lr":
        return f"{value:g}"
    if factor == "train_samples":
        return f"{int(value):,}"
    if factor == "pin_memory":
        return str(bool(value))
    return str(value)


def number(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}"


def stats_text(values: pd.Series, digits: int, group_size: int) -> str:
    """One value as is; replicates as mean ± std (n)."""
    if len(values) == 1:
        text = number(values.iloc[0], digits)
        return text if group_size == 1 else f"{text} (n=1)"
    return f"{number(values.mean(), digits)} ± {number(values.std(ddof=1), digits)} (n={len(values)})"


def cell(group: pd.DataFrame, column: str, scale: float = 1.0, digits: int = 2, status_notes: bool = True) -> str:
    """A metric over a grid point's runs. With `status_notes`, runs that diverged or were not run say so here."""
    ok = group[group["status"] == "ok"]
    values = ok[column].dropna().astype(float) * scale
    parts = [stats_text(values, digits, len(group))] if len(values) else []
    if status_notes:
        diverged = group[group["status"] == "diverged"]
        if len(diverged):
            epochs = ", ".join(str(int(e)) for e in sorted(diverged["diverged_epoch"].dropna()))
            parts.append(
                f"diverged at epoch {epochs}" if len(diverged) == 1 else f"{len(diverged)} diverged (epochs {epochs})"
            )
        not_run = group[group["status"] == "not_run"]
        for note, runs in not_run.groupby("note", sort=True):
            parts.append(note if len(runs) == len(group) else f"{len(runs)} {note}")
    return "; ".join(parts) or DASH


# A time taken beside other jobs of the workflow (or under unrecorded conditions) carries this mark; a table with such
# a time says what it means.
SHARED_MARK = "†"
SHARED_NOTE = Markdown(
    "† Timed beside other jobs of the workflow (`timing: shared`), or under conditions that were not recorded: an "
    "upper bound, not comparable with the times taken alone (`timing: exclusive`)."
)


PIN_MEMORY_NOTE = (
    "pin_memory acts only on the DataLoader's copies to a GPU: on the CPU (or the resident loop) a row the sources ran "
    "with pin_memory True is the same computation as False, trained once and shown as False."
)


PROTOCOL_FACTORS = ["input_size", "stem", "precision", "split", "normalisation"]


def protocol_text(values: tuple) -> str:
    input_size, stem, precision, split, normalisation = values
    return f"{input_size}x{input_size}, {stem} stem, {precision}, split {split}, normalisation {normalisation}"


def protocols_note(runs: pd.DataFrame) -> str:
    """Which protocol (input size, stem, precision, split, normalisation) the table's runs followed, with counts."""
    counts = runs.groupby(PROTOCOL_FACTORS, sort=False).size()
    parts = [f"{protocol_text(values)} ({n} run{'s' if n != 1 else ''})" for values, n in counts.items()]
    return "Protocol of these runs: " + "; ".join(parts) + "."


def timed_alone(runs: pd.DataFrame) -> pd.Series:
    """Whether each run's time was taken with nothing else of the workflow running (False where unrecorded)."""
    return runs["exclusive"].fillna(False).astype(bool)


def time_cell(group: pd.DataFrame, column: str, scale: float = 1.0, digits: int = 2, status_notes=False) -> str:
    """A time over a grid point's runs, marked when any of them was not timed alone."""
    text = cell(group, column, scale, digits, status_notes)
    ok = group[group["status"] == "ok"]
    return text + SHARED_MARK if len(ok) and not timed_alone(ok).all() else text


def conditions_cell(group: pd.DataFrame) -> str:
    """What a grid point's times were measured under: timing, threads, device and, where a time covers evaluation
    too, "with evaluation", e.g. "alone, 2 threads, <CPU>"."""
    ok = group[group["status"] == "ok"]
    texts = []
    for _, run in ok.iterrows():
        if pd.isna(run["exclusive"]):
            texts.append("not recorded")
            continue
        threads = (
            f"{int(run['threads'])} thread{'s' if run['threads'] != 1 else ''}" if pd.notna(run["threads"]) else ""
        )
        # A time that covers the validation and test passes too (source 000's pin_memory comparison) says so.
        covers = "with evaluation" if str(run.get("time_covers")) == "training_and_evaluation" else ""
        timing = "alone" if run["exclusive"] else "shared"
        texts.append(", ".join(t for t in (timing, threads, run["device_name"], covers) if t))
    return " / ".join(dict.fromkeys(texts)) or DASH


def constant_cell(group: pd.DataFrame, column: str, scale: float, digits: int) -> str:
    """A quantity that is the same for every run of a grid point (MACs, parameters), from any run that recorded it."""
    values = group[column].dropna()
    return number(float(values.iloc[0]) * scale, digits) if len(values) else DASH


def sort_key(factor: str):
    def key(values: pd.Series) -> pd.Series:
        if factor in ORDER:
            return values.map(lambda v: ORDER[factor].index(v) if v in ORDER[factor] else len(ORDER[factor]))
        if factor == "lr":
            return -values.astype(float)
        return values

    return key


def sorted_points(runs: pd.DataFrame, factors: list[str]) -> list[tuple[tuple, pd.DataFrame]]:
    """Grid points (every factor but the seed) in the sources' row order, each with its runs."""
    if runs.empty:
        return []
    points = []
    for values, group in runs.groupby(factors, sort=False, dropna=False):
        points.append((values if isinstance(values, tuple) else (values,), group))
    order = pd.DataFrame([values for values, _ in points], columns=factors)
    order = order.sort_values(factors, key=lambda col: sort_key(col.name)(col), kind="stable")
    return [points[i] for i in order.index]


def varying(runs: pd.DataFrame, shown: list[str]) -> list[str]:
    """Factors not among `shown` that still vary in these runs: a table shows them too, so no two rows look alike.
    Momentum counts among the SGD runs only: Adam's 0 says no more than its optimizer does."""

    def values(factor: str) -> pd.Series:
        return runs.loc[runs["optimizer"] == "sgd", factor] if factor == "momentum" else runs[factor]

    return [f for f in GRID_FACTORS if f not in shown and f in runs and values(f).nunique(dropna=False) > 1]


def by_dataset_and_model(runs: pd.DataFrame):
    for (dataset, model), group in sorted_points(runs, ["dataset", "model"]):
        yield dataset, model, group


# Selection by study ------------------------------------------------------------------------------------------------


def select(key: str, runs: pd.DataFrame, mapping: dict, config_studies: set) -> tuple[pd.DataFrame, TableDoc]:
    """The runs of the studies mapped to table `key`, and the document with the omission line if there are none."""
    studies = list(mapping.get(key, []))
    doc = TableDoc(key, TABLE_TITLES[key], studies)
    present = [s for s in studies if s in config_studies]
    absent = [s for s in studies if s not in config_studies]
    config_key = markdown_code(f"report.tables.{key}")
    if not studies:
        doc.omitted = Markdown("Omitted: no study is mapped to this table ({} is empty in the config).").format(
            config_key
        )
    elif not present:
        doc.omitted = Markdown("Omitted: this config has no study {} ({}).").format(", ".join(absent), config_key)
    elif absent:
        doc.notes.append(f"Study {', '.join(absent)}, mapped to this table, is not in this config.")
    return in_studies(runs, present), doc


# The tables: each builder fills the sections of a table that has runs -------------------------------------------


def part_a_table(doc: TableDoc, runs: pd.DataFrame) -> None:
    shown = ["batch_size", "optimizer", "lr", "epochs", "pin_memory"]
    for dataset, group in sorted_points(runs, ["dataset"]):
        extras = varying(group, shown + ["dataset", "model"])
        models = [m for (m,), _ in sorted_points(group, ["model"])]
        columns = [FACTOR_HEADERS[f] for f in shown + extras] + [f"{show('model', m)} Accuracy (%)" for m in models]
        rows = []
        for values, point in sorted_points(group, shown + extras):
            row = [show(f, v) for f, v in zip(shown + extras, values)]
            row += [cell(point[point["model"] == m], "test_accuracy", 100) for m in models]
            rows.append(row)
        numeric = [f in ("batch_size", "lr", "epochs") for f in shown + extras] + [True] * len(models)
        doc.sections.append(Section(show("dataset", dataset[0]), Table(columns, rows, numeric)))


def q1_table(doc: TableDoc, runs: pd.DataFrame) -> None:
    shown = ["batch_size", "optimizer", "lr"]
    for dataset, model, group in by_dataset_and_model(runs):
        factors = shown + varying(group, shown + ["dataset", "model"])
        columns = [FACTOR_HEADERS[f] for f in factors] + ["Validation Accuracy (%)", "Test Accuracy (%)"]
        rows = [
            [show(f, v) for f, v in zip(factors, values)]
            + [cell(point, "val_accuracy", 100, status_notes=False), cell(point, "test_accuracy", 100)]
            for values, point in sorted_points(group, factors)
        ]
        numeric = [f in ("batch_size", "lr", "epochs") for f in factors] + [True, True]
        heading = f"{show('dataset', dataset)}, {show('model', model)}"
        doc.sections.append(Section(heading, Table(columns, rows, numeric)))


def pin_memory_table(doc: TableDoc, runs: pd.DataFrame) -> None:
    for dataset, model, group in by_dataset_and_model(runs):
        extras = varying(group, ["pin_memory", "dataset", "model"])
        factors = ["pin_memory"] + extras
        columns = ["Pin Memory"] + [FACTOR_HEADERS[f] for f in extras]
        columns += ["Accuracy (%)", "Time Taken (s)", "Conditions"]
        rows = [
            [show(f, v) for f, v in zip(factors, values)]
            + [cell(point, "test_accuracy", 100), time_cell(point, "time_taken_s", 1, 1), conditions_cell(point)]
            for values, point in sorted_points(group, factors)
        ]
        section = Section(
            f"{show('dataset', dataset)}, {show('model', model)}",
            Table(columns, rows, [False] * len(factors) + [True, True, False]),
        )
        ok = group[(group["status"] == "ok") & pin_memory_acts(group)]
        accuracy = paired(ok, "pin_memory", True, False, "test_accuracy")
        time = paired(ok, "pin_memory", True, False, "train_time_s")
        if accuracy.empty:
            section.notes.append(
                "Difference True - False: not testable on this host: no CUDA runs of the DataLoader loop with both "
                "settings (all else equal)."
            )
        else:
            accuracy_difference = mean_interval(100 * (accuracy["a"] - accuracy["b"]), "points")
            time_difference = mean_interval(time["a"] - time["b"], "s")
            section.notes.append(
                f"Difference True - False: accuracy {accuracy_difference.text()}; time {time_difference.text()}."
            )
        doc.sections.append(section)


def epochs_table(doc: TableDoc, runs: pd.DataFrame) -> None:
    for dataset, model, group in by_dataset_and_model(runs):
        extras = varying(group, ["epochs", "dataset", "model"])
        factors = extras + ["epochs"]
        columns = [FACTOR_HEADERS[f] for f in factors] + ["Accuracy (%)", "Time Taken (s)", "Conditions"]
        rows = [
            [show(f, v) for f, v in zip(factors, values)]
            + [cell(point, "test_accuracy", 100), time_cell(point, "time_taken_s", 1, 1), conditions_cell(point)]
            for values, point in sorted_points(group, factors)
        ]
        numeric = [f in ("batch_size", "lr", "epochs") for f in factors] + [True, True, False]
        doc.sections.append(
            Section(f"{show('dataset', dataset)}, {show('model', model)}", Table(columns, rows, numeric))
        )


def svm_table(doc: TableDoc, runs: pd.DataFrame) -> None:
    """One row per (dataset, kernel, train samples) and, where the runs have several, protocol. Source 000's protocol
    also shows the accuracy on the images fitted on, the figure it published."""
    factors = ["dataset", "kernel", "train_samples"]
    factors += [f for f in ("protocol", "backend") if f in runs and runs[f].nunique() > 1]
    on_training = "train_accuracy" in runs and runs["train_accuracy"].notna().any()
    columns = ["Dataset", "Kernel", "Train Samples"] + [FACTOR_HEADERS[f] for f in factors[3:]]
    columns += ["Test Accuracy (%)"] + (["Accuracy on Its Training Images (%)"] if on_training else [])
    columns += ["Training Time (ms)", "Conditions"]
    rows = [
        [show(f, v) for f, v in zip(factors, values)]
        + [cell(point, "test_accuracy", 100)]
        + (
            [cell(point, "train_accuracy", 100, status_notes=False) if point["train_accuracy"].notna().any() else DASH]
            if on_training
            else []
        )
        + [time_cell(point, "fit_time_s", 1000, 2), conditions_cell(point)]
        for values, point in sorted_points(runs, factors)
    ]
    if not rows:
        doc.notes.append("No SVM runs in these studies.")
        return
    numeric = [False, False, True] + [False] * (len(factors) - 3) + [True] * (2 + on_training) + [False]
    doc.sections.append(Section("", Table(columns, rows, numeric)))
    if on_training:
        doc.notes.append(
            Markdown(
                "Accuracy on its training images: the `seed000` protocol scores the SVM on the images it was fitted "
                "on, as source 000 published it; its test accuracy is on the official test set."
            )
        )


def q2_table(doc: TableDoc, runs: pd.DataFrame) -> None:
    shown = ["model", "batch_size", "optimizer", "lr", "epochs", "pin_memory", "device"]
    for (dataset,), group in sorted_points(runs, ["dataset"]):
        factors = shown + varying(group, shown + ["dataset"])
        columns = ["Model", "Batch Size", "Optimizer", "LR", "Epochs", "pin_memory", "Device"]
        columns += [FACTOR_HEADERS[f] for f in factors[len(shown) :]]
        columns += ["Test Accuracy (%)", "Train Time (ms)", "MACs (G)", "FLOPs (G)", "Params (M)", "Conditions"]
        rows = [
            [show(f, v) for f, v in zip(factors, values)]
            + [
                cell(point, "test_accuracy", 100),
                time_cell(point, "train_time_s", 1000, 0),
                constant_cell(point, "macs", 1e-9, 4),
                constant_cell(point, "flops", 1e-9, 4),
                constant_cell(point, "params_count", 1e-6, 2),
                conditions_cell(point),
            ]
            for values, point in sorted_points(group, factors)
        ]
        numeric = [f in ("batch_size", "lr", "epochs") for f in factors] + [True] * 5 + [False]
        doc.sections.append(Section(show("dataset", dataset), Table(columns, rows, numeric)))
        doc.sections.append(speedup_section(dataset, group))


def speedup_section(dataset: str, runs: pd.DataFrame) -> Section:
    """GPU/CPU speedup per model and input size: CPU time over GPU time of runs matched on every other factor."""
    columns = ["Model", "CPU Train Time (ms)", "GPU Train Time (ms)", "Speedup (CPU time / GPU time)"]
    rows = []
    for (model, input_size), group in sorted_points(runs, ["model", "input_size"]):
        cpu, gpu = group[group["device"] == "cpu"], group[group["device"] == "cuda"]
        times = paired(group[group["status"] == "ok"], "device", "cpu", "cuda", "train_time_s")
        if not times.empty:
            speedup = ratio_interval(times["a"] / times["b"]).text()
        elif len(gpu) and (gpu["status"] != "ok").all():
            speedup = cell(gpu, "train_time_s")  # says why: not run (no GPU), or diverged
        else:
            speedup = "no CPU and GPU runs matched on all other factors"
        rows.append(
            [
                f"{show('model', model)}, {input_size}x{input_size}",
                time_cell(cpu, "train_time_s", 1000, 0, status_notes=True) if len(cpu) else DASH,
                time_cell(gpu, "train_time_s", 1000, 0, status_notes=True) if len(gpu) else DASH,
                speedup,
            ]
        )
    return Section(
        f"{show('dataset', dataset)}: GPU speedup per model", Table(columns, rows, [False, True, True, True])
    )


def analysis_table(claims: list[Claim], excluded: str = "") -> TableDoc:
    doc = TableDoc("analysis", TABLE_TITLES["analysis"], [])
    doc.intro = (
        "Each of source 000's six claims, tested as it is worded on our runs: the comparison, the effect with its 95% "
        "interval, the test with its p-value (raw, and Holm-adjusted across every tested part), and a verdict."
    )
    columns = ["Claim", "Comparison", "Effect", "Test", "Verdict"]
    rows = []
    for claim in claims:
        for i, part in enumerate(claim.parts):
            effect = part.estimate.text() if part.estimate is not None else DASH
            first = f"{claim.number}. {claim.text} Overall: {claim.verdict}." if i == 0 else ""
            rows.append([first, part.comparison, effect, part.p_text(), f"{part.verdict}: {part.reason}"])
    doc.sections.append(Section("", Table(columns, rows, [False] * 5)))
    doc.notes.extend(f"Claim {c.number}: {c.note}" for c in claims if c.note)
    if excluded:
        doc.notes.append(excluded)
    return doc


def claims_side_by_side(by_source: dict[str, list[Claim]]) -> list[list[str]]:
    """One row per claim: its text, then for each source (our runs, each source's own numbers) the overall verdict and
    each part's effect and verdict, so that a claim a seed's own data do not support shows as such."""

    def cell(claim: Claim) -> Markdown:
        parts = "; ".join(
            f"{part.comparison.split(' (')[0].split(', paired')[0]}: "
            f"{part.estimate.text(2) if part.estimate is not None else 'no data'}, {part.verdict}"
            + (f" ({part.p_text()})" if part.p_value is not None else "")
            for part in claim.parts
        )
        return Markdown("**{}**. {}").format(claim.verdict, parts)

    sources = list(by_source.values())
    return [[f"Claim {claims[0].number}", *(cell(c) for c in claims)] for claims in zip(*sources)]


@dataclass(frozen=True)
class Builder:
    kind: str  # the runs it shows: "resnet" or "svm"
    intro: str
    fill: Callable[[TableDoc, pd.DataFrame], None]
    notes: tuple[str, ...] = ()  # shown whether or not the table has runs
    shows_pin_memory: bool = False  # a pin_memory column, which off CUDA always reads False


BUILDERS = {
    "part_a": Builder(
        "resnet",
        "Test accuracy of each row for every model, as source 001's Part A table, one table per dataset.",
        part_a_table,
        shows_pin_memory=True,
    ),
    "q1": Builder(
        "resnet",
        "Validation accuracy (last epoch) and test accuracy of every grid point, per dataset and model "
        "(source 000 showed these as training curves; ours are in the plots below).",
        q1_table,
    ),
    "pin_memory": Builder(
        "resnet",
        "Pin Memory, Accuracy and Time Taken (training time, evaluation excluded) per dataset and model, as seed "
        "000's table, with the paired difference True - False and its 95% interval.",
        pin_memory_table,
        shows_pin_memory=True,
    ),
    "epochs": Builder(
        "resnet",
        "Test accuracy and training time against the number of epochs, per dataset and model. Where other factors "
        "change with the epochs (source 001's 5 against 15 epochs also change lr and pin_memory), they are shown too.",
        epochs_table,
    ),
    "svm": Builder("svm", "Test accuracy and fit time of each SVM, as both sources' SVM table.", svm_table),
    "q2": Builder(
        "resnet",
        "The same runs on the CPU and on the GPU, as source 001's Question 2 table, per dataset.",
        q2_table,
        shows_pin_memory=True,
        notes=(
            "MACs (G) are thop's multiply-accumulate count per image; FLOPs (G) = 2 x MACs. The sources' \"GFLOPs\" "
            "column was thop's MACs (0.0332 G for ResNet-18 on a 28x28 image).",
        ),
    ),
}


def build_table(key: str, runs: pd.DataFrame, mapping: dict, config_studies: set) -> TableDoc:
    """Table `key` from the runs of the studies `mapping` (config `report.tables`) names for it."""
    builder = BUILDERS[key]
    selected, doc = select(key, runs, mapping, config_studies)
    doc.intro = builder.intro
    doc.notes.extend(builder.notes)
    if not doc.omitted:
        runs = selected[selected["kind"] == builder.kind]
        builder.fill(doc, runs)
        if builder.shows_pin_memory and not pin_memory_acts(runs).all():
            doc.notes.append(PIN_MEMORY_NOTE)
        if builder.kind == "resnet" and len(runs):
            doc.notes.append(protocols_note(runs))
    if any(
        SHARED_MARK in text for section in doc.sections if section.table for row in section.table.rows for text in row
    ):
        doc.notes.append(SHARED_NOTE)
    return doc


def build_tables(runs: pd.DataFrame, mapping: dict, config_studies: set) -> dict[str, TableDoc]:
    return {key: build_table(key, runs, mapping, config_studies) for key in TABLE_KEYS}
