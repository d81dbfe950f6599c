"""The seeds' tables, built from runs.csv, and their rendering through the Jinja templates in report/.

Each table is a TableDoc (sections of plain rows of strings) rendered twice by the same templates' logic: markdown
for README.md and HTML for `snakemake --report`. Which studies feed which table is the config's `report.tables`.
Every planned run shows up in the tables that hold it: diverged runs as "diverged at epoch k", runs left out of the
plan as "not run: no GPU". Several replicate seeds of a grid point show as mean ± std (n).
"""

from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import pandas as pd

from ablation.aggregate import in_studies
from ablation.claims import Claim, excluded_runs, mean_interval, paired, ratio_interval
from ablation.split import POOLED_IMAGES

TEMPLATES = Path(__file__).resolve().parents[3] / "report"
TABLE_KEYS = ["part_a", "q1", "pin_memory", "epochs", "svm", "q2"]
TABLE_TITLES = {
    "part_a": "Seed 001, Part A: MNIST and Fashion-MNIST ablations",
    "q1": "Seed 000, Question 1: every batch size x optimizer x learning rate",
    "pin_memory": "pin_memory: accuracy and time",
    "epochs": "Epochs: accuracy and time",
    "svm": "Question 1(b): SVM baseline",
    "q2": "Question 2: CPU against GPU, with MACs, FLOPs and parameters",
    "analysis": "Analysis: seed 000's claims against our data",
}
DATASET_NAMES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
MODEL_NAMES = {"resnet18": "ResNet-18", "resnet34": "ResNet-34", "resnet50": "ResNet-50"}
OPTIMIZER_NAMES = {"sgd": "SGD", "adam": "Adam"}
KERNEL_NAMES = {"rbf": "RBF", "poly": "Poly"}
DEVICE_NAMES = {"cpu": "CPU", "cuda": "GPU"}
# Column headers of the factors, as the seeds name them.
FACTOR_HEADERS = {
    "dataset": "Dataset",
    "model": "Model",
    "batch_size": "Batch Size",
    "optimizer": "Optimizer",
    "lr": "Learning Rate",
    "epochs": "Epochs",
    "pin_memory": "pin_memory",
    "device": "Device",
    "loader": "Loader",
}
GRID_FACTORS = list(FACTOR_HEADERS)
# Row order as in the seeds: SGD before Adam, the larger learning rate first, CPU before GPU, RBF before Poly.
ORDER = {
    "optimizer": ["sgd", "adam"],
    "device": ["cpu", "cuda"],
    "model": list(MODEL_NAMES),
    "dataset": ["mnist"],
    "kernel": ["rbf", "poly"],
}
DASH = "—"


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
    """A factor's value as the seeds write it."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return DASH
    names = {
        "dataset": DATASET_NAMES,
        "model": MODEL_NAMES,
        "optimizer": OPTIMIZER_NAMES,
        "kernel": KERNEL_NAMES,
        "device": DEVICE_NAMES,
    }
    if factor in names:
        return names[factor].get(value, str(value))
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
    """Grid points (every factor but the seed) in the seeds' row order, each with its runs."""
    if runs.empty:
        return []
    points = []
    for values, group in runs.groupby(factors, sort=False, dropna=False):
        points.append((values if isinstance(values, tuple) else (values,), group))
    order = pd.DataFrame([values for values, _ in points], columns=factors)
    order = order.sort_values(factors, key=lambda col: sort_key(col.name)(col), kind="stable")
    return [points[i] for i in order.index]


def varying(runs: pd.DataFrame, shown: list[str]) -> list[str]:
    """Factors not in the seed's columns that still vary here: shown too, so no two rows look alike."""
    return [f for f in GRID_FACTORS if f not in shown and runs[f].nunique(dropna=False) > 1]


def resnet(runs: pd.DataFrame) -> pd.DataFrame:
    return runs[runs["kind"] == "resnet"]


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
    if not studies:
        doc.omitted = f"Omitted: no study is mapped to this table (`report.tables.{key}` is empty in the config)."
    elif not present:
        doc.omitted = f"Omitted: this config has no study {', '.join(absent)} (`report.tables.{key}`)."
    elif absent:
        doc.notes.append(f"Study {', '.join(absent)}, mapped to this table, is not in this config.")
    return in_studies(runs, present), doc


# The tables --------------------------------------------------------------------------------------------------------


def part_a_table(runs: pd.DataFrame, mapping: dict, config_studies: set) -> TableDoc:
    runs, doc = select("part_a", runs, mapping, config_studies)
    runs = resnet(runs)
    doc.intro = "Test accuracy of each row for every model, as seed 001's Part A table, one table per dataset."
    shown = ["batch_size", "optimizer", "lr", "epochs", "pin_memory"]
    if doc.omitted:
        return doc
    for dataset, group in sorted_points(runs, ["dataset"]):
        extras = varying(group, shown + ["dataset", "model"])
        models = [m for (m,), _ in sorted_points(group, ["model"])]
        columns = [FACTOR_HEADERS[f] for f in shown + extras] + [
            f"{MODEL_NAMES.get(m, m)} Accuracy (%)" for m in models
        ]
        rows = []
        for values, point in sorted_points(group, shown + extras):
            row = [show(f, v) for f, v in zip(shown + extras, values)]
            row += [cell(point[point["model"] == m], "test_accuracy", 100) for m in models]
            rows.append(row)
        numeric = [f in ("batch_size", "lr", "epochs") for f in shown + extras] + [True] * len(models)
        doc.sections.append(Section(DATASET_NAMES.get(dataset[0], dataset[0]), Table(columns, rows, numeric)))
    return doc


def q1_table(runs: pd.DataFrame, mapping: dict, config_studies: set) -> TableDoc:
    runs, doc = select("q1", runs, mapping, config_studies)
    runs = resnet(runs)
    doc.intro = (
        "Validation accuracy (last epoch) and test accuracy of every grid point, per dataset and model "
        "(seed 000 showed these as training curves; ours are in the plots below)."
    )
    if doc.omitted:
        return doc
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
    return doc


def pin_memory_table(runs: pd.DataFrame, mapping: dict, config_studies: set) -> TableDoc:
    runs, doc = select("pin_memory", runs, mapping, config_studies)
    runs = resnet(runs)
    doc.intro = (
        "Pin Memory, Accuracy and Time Taken (training time, evaluation excluded) per dataset and model, as seed 000's "
        "table, with the paired difference True - False and its 95% interval."
    )
    if doc.omitted:
        return doc
    for dataset, model, group in by_dataset_and_model(runs):
        extras = varying(group, ["pin_memory", "dataset", "model"])
        factors = ["pin_memory"] + extras
        columns = ["Pin Memory"] + [FACTOR_HEADERS[f] for f in extras] + ["Accuracy (%)", "Time Taken (s)"]
        rows = [
            [show(f, v) for f, v in zip(factors, values)]
            + [cell(point, "test_accuracy", 100), cell(point, "train_time_s", 1, 1, status_notes=False)]
            for values, point in sorted_points(group, factors)
        ]
        section = Section(
            f"{show('dataset', dataset)}, {show('model', model)}",
            Table(columns, rows, [False] * len(factors) + [True, True]),
        )
        ok = group[group["status"] == "ok"]
        accuracy = paired(ok, "pin_memory", True, False, "test_accuracy")
        time = paired(ok, "pin_memory", True, False, "train_time_s")
        if accuracy.empty:
            section.notes.append("Difference True - False: no pair of runs with both settings (all else equal).")
        else:
            accuracy_difference = mean_interval(100 * (accuracy["a"] - accuracy["b"]), "points")
            time_difference = mean_interval(time["a"] - time["b"], "s")
            section.notes.append(
                f"Difference True - False: accuracy {accuracy_difference.text()}; time {time_difference.text()}."
            )
        doc.sections.append(section)
    if not runs.empty and set(runs["device"]) == {"cpu"}:
        doc.notes.append(
            "Every run here is on the CPU, where pin_memory has no effect (it only speeds host-to-GPU copies)."
        )
    return doc


def epochs_table(runs: pd.DataFrame, mapping: dict, config_studies: set) -> TableDoc:
    runs, doc = select("epochs", runs, mapping, config_studies)
    runs = resnet(runs)
    doc.intro = (
        "Test accuracy and training time against the number of epochs, per dataset and model. Where other factors "
        "change with the epochs (seed 001's 5 against 15 epochs also change lr and pin_memory), they are shown too."
    )
    if doc.omitted:
        return doc
    for dataset, model, group in by_dataset_and_model(runs):
        extras = varying(group, ["epochs", "dataset", "model"])
        factors = extras + ["epochs"]
        columns = [FACTOR_HEADERS[f] for f in factors] + ["Accuracy (%)", "Time Taken (s)"]
        rows = [
            [show(f, v) for f, v in zip(factors, values)]
            + [cell(point, "test_accuracy", 100), cell(point, "train_time_s", 1, 1, status_notes=False)]
            for values, point in sorted_points(group, factors)
        ]
        numeric = [f in ("batch_size", "lr", "epochs") for f in factors] + [True, True]
        doc.sections.append(
            Section(f"{show('dataset', dataset)}, {show('model', model)}", Table(columns, rows, numeric))
        )
    return doc


def svm_table(runs: pd.DataFrame, mapping: dict, config_studies: set) -> TableDoc:
    runs, doc = select("svm", runs, mapping, config_studies)
    runs = runs[runs["kind"] == "svm"]
    doc.intro = "Test accuracy and fit time of each SVM, as both seeds' SVM table."
    if doc.omitted:
        return doc
    factors = ["dataset", "kernel", "train_samples"]
    columns = ["Dataset", "Kernel", "Train Samples", "Test Accuracy (%)", "Training Time (ms)"]
    rows = [
        [show(f, v) for f, v in zip(factors, values)]
        + [cell(point, "test_accuracy", 100), cell(point, "fit_time_s", 1000, 2, status_notes=False)]
        for values, point in sorted_points(runs, factors)
    ]
    if not rows:
        doc.notes.append("No SVM runs in these studies.")
        return doc
    doc.sections.append(Section("", Table(columns, rows, [False, False, True, True, True])))
    return doc


def q2_table(runs: pd.DataFrame, mapping: dict, config_studies: set) -> TableDoc:
    runs, doc = select("q2", runs, mapping, config_studies)
    runs = resnet(runs)
    doc.intro = "The same runs on the CPU and on the GPU, as seed 001's Question 2 table, per dataset."
    doc.notes.append(
        "MACs (G) are thop's multiply-accumulate count per image; FLOPs (G) = 2 x MACs. The seeds' \"GFLOPs\" "
        "column was thop's MACs (0.0332 G for ResNet-18 on a 28x28 image)."
    )
    if doc.omitted:
        return doc
    shown = ["model", "batch_size", "optimizer", "lr", "epochs", "pin_memory", "device"]
    for (dataset,), group in sorted_points(runs, ["dataset"]):
        factors = shown + varying(group, shown + ["dataset"])
        columns = ["Model", "Batch Size", "Optimizer", "LR", "Epochs", "pin_memory", "Device"]
        columns += [FACTOR_HEADERS[f] for f in factors[len(shown) :]]
        columns += ["Test Accuracy (%)", "Train Time (ms)", "MACs (G)", "FLOPs (G)", "Params (M)"]
        rows = [
            [show(f, v) for f, v in zip(factors, values)]
            + [
                cell(point, "test_accuracy", 100),
                cell(point, "train_time_s", 1000, 0, status_notes=False),
                constant_cell(point, "macs", 1e-9, 4),
                constant_cell(point, "flops", 1e-9, 4),
                constant_cell(point, "params_count", 1e-6, 2),
            ]
            for values, point in sorted_points(group, factors)
        ]
        numeric = [f in ("batch_size", "lr", "epochs") for f in factors] + [True] * 5
        doc.sections.append(Section(show("dataset", dataset), Table(columns, rows, numeric)))
        doc.sections.append(speedup_section(dataset, group))
    return doc


def speedup_section(dataset: str, runs: pd.DataFrame) -> Section:
    """GPU/CPU speedup per model: CPU time over GPU time of runs matched on every other factor."""
    columns = ["Model", "CPU Train Time (ms)", "GPU Train Time (ms)", "Speedup (CPU time / GPU time)"]
    rows = []
    for (model,), group in sorted_points(runs, ["model"]):
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
                show("model", model),
                cell(cpu, "train_time_s", 1000, 0) if len(cpu) else DASH,
                cell(gpu, "train_time_s", 1000, 0) if len(gpu) else DASH,
                speedup,
            ]
        )
    return Section(
        f"{show('dataset', dataset)}: GPU speedup per model", Table(columns, rows, [False, True, True, True])
    )


def analysis_table(claims: list[Claim], excluded: str = "") -> TableDoc:
    doc = TableDoc("analysis", TABLE_TITLES["analysis"], [])
    doc.intro = (
        "Each of seed 000's six claims, tested on our runs: the comparison, the effect with its 95% interval "
        "(paired t-interval where the design pairs runs; ratios on the log scale), and a verdict."
    )
    columns = ["Claim", "Comparison", "Effect", "Verdict"]
    rows = []
    for claim in claims:
        for i, part in enumerate(claim.parts):
            effect = part.estimate.text() if part.estimate is not None else DASH
            first = f"{claim.number}. {claim.text} Overall: {claim.verdict}." if i == 0 else ""
            rows.append([first, part.comparison, effect, f"{part.verdict}: {part.reason}"])
    doc.sections.append(Section("", Table(columns, rows, [False, False, False, False])))
    doc.notes.extend(f"Claim {c.number}: {c.note}" for c in claims if c.note)
    if excluded:
        doc.notes.append(excluded)
    return doc


BUILDERS = {
    "part_a": part_a_table,
    "q1": q1_table,
    "pin_memory": pin_memory_table,
    "epochs": epochs_table,
    "svm": svm_table,
    "q2": q2_table,
}


def build_tables(runs: pd.DataFrame, mapping: dict, config_studies: set) -> dict[str, TableDoc]:
    return {key: BUILDERS[key](runs, mapping, config_studies) for key in TABLE_KEYS}


# Rendering ---------------------------------------------------------------------------------------------------------


def environment(templates: Path = TEMPLATES) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["md_cell"] = lambda text: str(text).replace("|", "\\|")
    return env


def render_table(doc: TableDoc, fmt: str, env: jinja2.Environment | None = None) -> str:
    """`fmt` is "md" or "html"."""
    env = env or environment()
    return env.get_template(f"table.{fmt}.j2").render(doc=doc)


def render_readme(context: dict, env: jinja2.Environment | None = None) -> str:
    env = env or environment()
    return env.get_template("README.md.j2").render(**context)


# README.md ---------------------------------------------------------------------------------------------------------


def _values(runs: pd.DataFrame, factor: str) -> str:
    values = runs[factor].dropna().unique()
    ordered = sorted(values, key=lambda v: (ORDER.get(factor, []).index(v) if v in ORDER.get(factor, []) else 99, v))
    return ", ".join(show(factor, v) for v in ordered) or DASH


LOADER_NAMES = {
    "dataloader": "the seeds' DataLoader loop",
    "resident": "the resident fast path (same batches and hyperparameters)",
}


def _loaders_by_study(resnet_runs: pd.DataFrame) -> str:
    """Which loop trained which study's runs (the `loader` factor is config, per study or as a default)."""
    parts = []
    for loader, group in resnet_runs.groupby("loader", sort=True):
        studies = dict.fromkeys(name for names in group["studies"].dropna() for name in names.split(","))
        parts.append(f"{LOADER_NAMES.get(loader, loader)} for {', '.join(f'`{name}`' for name in studies)}")
    return "; ".join(parts) or DASH


def _hardware(runs: pd.DataFrame) -> list[str]:
    """The machines that produced the runs, from their provenance."""
    ran = runs[runs["status"] != "not_run"].fillna({"gpu_name": "", "cpu_count": 0})
    lines = []
    columns = ["hostname", "cpu_model", "cpu_count", "gpu_name"]
    for (host, cpu, cores, gpu), group in ran.groupby(columns, sort=True, dropna=False):
        gpu_text = f", GPU {gpu}" if gpu else ", no GPU used"
        lines.append(f"host `{host}`: {cpu} ({int(cores)} CPU cores){gpu_text}: {len(group)} run(s)")
    not_run = runs[runs["status"] == "not_run"]
    if len(not_run):
        lines.append(f"{len(not_run)} CUDA run(s) not run: no GPU on the planning host")
    return lines or ["no run has finished yet"]


def _software(runs: pd.DataFrame) -> str:
    ran = runs[runs["status"] != "not_run"]
    commits = []
    for (commit, dirty), group in ran.groupby(["git_commit", "git_dirty"], dropna=False, sort=True):
        name = str(commit)[:10] if pd.notna(commit) else "unknown"
        commits.append(f"`{name}`{' (with uncommitted changes)' if dirty is True else ''} ({len(group)} runs)")
    torch = ", ".join(sorted(set(ran["torch"].dropna()))) or DASH
    return f"git commit {', '.join(commits) or DASH}; torch {torch}"


def counts_summary(runs: pd.DataFrame) -> dict:
    kinds = []
    for kind, group in runs.groupby("kind", sort=True):
        status = group["status"].value_counts()
        text = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in status.items())
        kinds.append(f"{len(group)} {'ResNet' if kind == 'resnet' else 'SVM'}: {text}")
    return {"total": len(runs), "summary": "; ".join(kinds) or "none"}


def readme_context(
    runs: pd.DataFrame,
    config: dict,
    tables: dict,
    analysis: TableDoc,
    claims: list,
    plots: dict,
    configfiles: str,
) -> dict:
    """Everything README.md.j2 shows: the setup (from the config and the runs' provenance), tables, plots, claims."""
    resnet_runs, svm_runs = runs[runs["kind"] == "resnet"], runs[runs["kind"] == "svm"]
    split, subset = config["data"]["split"], config["data"]["subset"]
    split_text = f"{split['train']:.0%} / {split['val']:.0%} / {split['test']:.0%}"
    split_text += f" of the pooled {POOLED_IMAGES:,} images"
    if subset:
        split_text += f", then a stratified subset of {subset['train']:,} / {subset['val']:,} / {subset['test']:,}"
    training = config["training"]
    setup = [
        ("Datasets", _values(runs, "dataset")),
        ("Train / Validation / Test Split", split_text + f" (split seed {split['seed']})"),
        ("Models", _values(resnet_runs, "model") + " (trained from scratch)"),
        ("Batch Sizes", _values(resnet_runs, "batch_size")),
        (
            "Optimizers",
            _values(resnet_runs, "optimizer") + f" (SGD momentum {training['momentum']:g}; "
            f"weight decay {training['weight_decay']:g})",
        ),
        ("Learning Rates", _values(resnet_runs, "lr")),
        ("Epochs", _values(resnet_runs, "epochs")),
        ("pin_memory", _values(resnet_runs, "pin_memory")),
        ("Training loop", _loaders_by_study(resnet_runs)),
        ("Devices planned", _values(resnet_runs, "device")),
        ("Replicate seeds", ", ".join(str(s) for s in config["seeds"])),
        (
            "SVM",
            f"kernels {_values(svm_runs, 'kernel')}; training samples {_values(svm_runs, 'train_samples')}; "
            f"C {config['svm']['C']}, gamma {config['svm']['gamma']}, degree {config['svm']['degree']}",
        ),
        ("Hardware", "; ".join(_hardware(runs))),
        ("Software", _software(runs)),
    ]
    studies = []
    for kind, key in (("ResNet", "resnet_studies"), ("SVM", "svm_studies")):
        for name, study in config[key].items():
            n = len(in_studies(runs, [name]))
            studies.append({"name": name, "kind": kind, "runs": n, "description": study.get("description", "")})
    return {
        "counts": counts_summary(runs),
        "configfiles": configfiles,
        "setup": setup,
        "studies": studies,
        "tables": tables,
        "analysis": analysis,
        "claims": claims,
        "excluded": excluded_runs(runs),
        "plots": plots,
    }
