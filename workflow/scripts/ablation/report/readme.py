"""The report's markdown and HTML: the tables of report.tables and README.md, through the Jinja templates in report/.

README.md shows the setup (from the config and the runs' provenance), every table, the figures and the claims. Every
value a template shows is escaped for its format (ablation.report.markup): text from the config, the runs and the
sources' tables shows as written; markdown this code writes is a Markdown.
"""

from pathlib import Path

import jinja2
import pandas as pd

from ablation.data.split import POOLED_IMAGES
from ablation.report.aggregate import in_studies
from ablation.report.assumptions import ASSUMPTIONS, config_value
from ablation.report.claims import evaluate_claims, excluded_runs, ok_resnet, pairing_sensitivity, repeat_spread
from ablation.report.fidelity import DIFFERENCES
from ablation.report.layout import FIGURES, TABLES
from ablation.report.markup import Markdown, markdown_code, markdown_row, markdown_text, markdown_url
from ablation.report.source_reports import SOURCE_NAMES, source001_beside_ours, source_runs
from ablation.report.tables import TableDoc, claims_side_by_side, show
from ablation.study.names import DASH, LOADER_NAMES, ORDER

TEMPLATES = Path(__file__).resolve().parents[4] / "report"


# Rendering ---------------------------------------------------------------------------------------------------------


@jinja2.pass_eval_context
def _escaped(eval_ctx, value):
    """Every value a template shows, escaped for its format: a markdown template's here; an HTML template's by
    autoescape, after this, a Markdown as its plain text."""
    if eval_ctx.autoescape:
        return value.plain if isinstance(value, Markdown) else value
    return markdown_text(value)


def environment(templates: Path = TEMPLATES) -> jinja2.Environment:
    """The templates' environment: `*.html.j2` autoescaped as HTML, the markdown templates through `markdown_text`;
    their filters make the markdown that is not text (a table row, code, a link's path, a heading's marks)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        finalize=_escaped,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["md_row"] = markdown_row
    env.filters["md_code"] = markdown_code
    env.filters["md_url"] = markdown_url
    env.filters["md_heading"] = lambda level: Markdown("#" * level)
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


def loaders_by_study(resnet_runs: pd.DataFrame) -> Markdown:
    """Which loop trained which study's runs (the `loader` factor is config, per study or as a default)."""
    parts = []
    for loader, group in resnet_runs.groupby("loader", sort=True):
        studies = dict.fromkeys(name for names in group["studies"].dropna() for name in names.split(","))
        names = Markdown(", ").join(markdown_code(name) for name in studies)
        parts.append(Markdown("{} for {}").format(LOADER_NAMES.get(loader, loader), names))
    return Markdown("; ").join(parts) or Markdown(DASH)


def _hardware(runs: pd.DataFrame) -> list[str]:
    """The machines that produced the runs, from their provenance."""
    ran = runs[runs["status"] != "not_run"].fillna({"gpu_name": "", "cpu_count": 0})
    lines = []
    columns = ["hostname", "cpu_model", "cpu_count", "gpu_name"]
    for (host, cpu, cores, gpu), group in ran.groupby(columns, sort=True, dropna=False):
        gpu_text = f", GPU {gpu}" if gpu else ", no GPU used"
        line = Markdown("host {}: {} ({} CPU cores){}: {} run(s)")
        lines.append(line.format(markdown_code(host), cpu, int(cores), gpu_text, len(group)))
    not_run = runs[runs["status"] == "not_run"]
    if len(not_run):
        lines.append(f"{len(not_run)} CUDA run(s) not run: no GPU on the planning host")
    return lines or ["no run has finished yet"]


def _software(runs: pd.DataFrame) -> Markdown:
    ran = runs[runs["status"] != "not_run"]
    commits = []
    for (commit, dirty), group in ran.groupby(["git_commit", "git_dirty"], dropna=False, sort=True):
        name = str(commit)[:10] if pd.notna(commit) else "unknown"
        changes = " (with uncommitted changes)" if dirty is True else ""
        commits.append(Markdown("{}{} ({} runs)").format(markdown_code(name), changes, len(group)))
    torch = ", ".join(sorted(set(ran["torch"].dropna()))) or DASH
    return Markdown("git commit {}; torch {}").format(Markdown(", ").join(commits) or DASH, torch)


def counts_summary(runs: pd.DataFrame) -> dict:
    kinds = []
    for kind, group in runs.groupby("kind", sort=True):
        status = group["status"].value_counts()
        text = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in status.items())
        kinds.append(f"{len(group)} {'ResNet' if kind == 'resnet' else 'SVM'}: {text}")
    return {"total": len(runs), "summary": "; ".join(kinds) or "none"}


def figure_images(figure_files: dict[str, list[tuple[dict, str]]]) -> dict[str, list[dict]]:
    """Each figure's images as README.md shows them: `figure_files` gives each figure's (wildcard values, path) per
    file (the paths as README.md links them); each image gets the figure's title with those values."""
    return {
        name: [
            {"title": FIGURES[name].title.format(**{w: show(w, v) for w, v in values.items()}), "path": path}
            for values, path in files
        ]
        for name, files in figure_files.items()
    }


def report_parts(tables: dict[str, TableDoc], images: dict[str, list[dict]]) -> list[dict]:
    """The tables of README.md in report order (layout.TABLES), each with its heading and lead and then the figures
    drawn from its studies, in layout.FIGURES order."""
    parts = []
    for key, spec in TABLES.items():
        if key not in tables:
            continue
        figures = [
            {"name": name, "lead": figure.lead, "item": figure.item, "table": key, "images": images.get(name, [])}
            for name, figure in FIGURES.items()
            if figure.table == key
        ]
        parts.append({"heading": spec.heading, "lead": spec.lead, "doc": tables[key], "figures": figures})
    return parts


def claims_by_source(runs: pd.DataFrame, history: pd.DataFrame, claims: list) -> tuple[dict, dict, list[str]]:
    """The claims on our runs and on each source's published numbers (which have no validation curves); whether each
    source's verdicts depend on how its repeated configurations are paired; beside each source's verdicts, the spread
    of its repeats (claim 1's effects) and claim 2's ratio by dataset."""
    no_curves = pd.DataFrame(columns=["run_id", "epoch", "val_accuracy"])
    by_source = {"Our runs": claims}
    by_source |= {SOURCE_NAMES[name].capitalize(): evaluate_claims(r, no_curves) for name, r in source_runs().items()}
    pairing = {"Our runs": pairing_sensitivity(runs, history, claims)}
    source_notes = []
    for name, seed in source_runs().items():
        source = SOURCE_NAMES[name].capitalize()
        pairing[source] = pairing_sensitivity(seed, no_curves, by_source[source])
        notes = [repeat_spread(ok_resnet(seed)), by_source[source][1].note]
        source_notes += [f"{source}: {note.strip()}" for note in notes if note]
    return by_source, pairing, source_notes


def setup_lines(runs: pd.DataFrame, config: dict) -> list[tuple[str, str]]:
    """README.md's Experimental Setup: each line's label and text, from the config and the runs."""
    resnet_runs, svm_runs = runs[runs["kind"] == "resnet"], runs[runs["kind"] == "svm"]
    split, subset = config["data"]["split"], config["data"]["subset"]
    split_text = f"{split['train']:.0%} / {split['val']:.0%} / {split['test']:.0%}"
    split_text += f" of the pooled {POOLED_IMAGES:,} images"
    if subset:
        split_text += f", then a stratified subset of {subset['train']:,} / {subset['val']:,} / {subset['test']:,}"
    training = config["training"]
    sgd_momenta = _values(resnet_runs[resnet_runs["optimizer"] == "sgd"], "momentum") if "momentum" in runs else DASH
    return [
        ("Datasets", _values(runs, "dataset")),
        ("Train / Validation / Test Split", split_text + f" (split seed {split['seed']})"),
        ("Models", _values(resnet_runs, "model") + " (trained from scratch)"),
        ("Batch Sizes", _values(resnet_runs, "batch_size")),
        (
            "Optimizers",
            _values(resnet_runs, "optimizer")
            + f" (SGD momentum {sgd_momenta}; weight decay {training['weight_decay']:g})",
        ),
        ("Learning Rates", _values(resnet_runs, "lr")),
        ("Epochs", _values(resnet_runs, "epochs")),
        ("pin_memory", _values(resnet_runs, "pin_memory")),
        ("Training loop", loaders_by_study(resnet_runs)),
        ("Devices planned", _values(resnet_runs, "device")),
        ("Replicate seeds", ", ".join(str(s) for s in config["seeds"])),
        (
            "SVM",
            f"kernels {_values(svm_runs, 'kernel')}; training samples {_values(svm_runs, 'train_samples')}; "
            f"C {config['svm']['C']}, gamma {config['svm']['gamma']}, degree {config['svm']['degree']}",
        ),
        ("Hardware", Markdown("; ").join(_hardware(runs))),
        ("Software", _software(runs)),
    ]


def study_lines(runs: pd.DataFrame, config: dict) -> list[dict]:
    """Each study of the config: its name, kind, runs and description."""
    studies = []
    for kind, key in (("ResNet", "resnet_studies"), ("SVM", "svm_studies")):
        for name, study in config[key].items():
            n = len(in_studies(runs, [name]))
            studies.append({"name": name, "kind": kind, "runs": n, "description": study.get("description", "")})
    return studies


def readme_context(
    runs: pd.DataFrame,
    config: dict,
    tables: dict,
    analysis: TableDoc,
    claims: list,
    images: dict,
    configfiles: list[str],
    history: pd.DataFrame | None = None,
) -> dict:
    """Everything README.md.j2 shows: the setup (from the config and the runs' provenance), tables, figures (`images`,
    figure_images), claims. `configfiles`: the config files the workflow ran with (none: the default); `history`: our
    runs' epochs, which the claims were evaluated on (none: no curves)."""
    history = pd.DataFrame(columns=["run_id", "epoch", "val_accuracy"]) if history is None else history
    by_source, pairing, source_notes = claims_by_source(runs, history, claims)
    return {
        "counts": counts_summary(runs),
        "configfiles": Markdown(", ").join(markdown_code(path) for path in configfiles) or "the default",
        "setup": setup_lines(runs, config),
        "studies": study_lines(runs, config),
        "parts": report_parts(tables, images),
        "analysis": analysis,
        "claims": claims,
        "excluded": excluded_runs(runs),
        # What this workflow has for each difference names config keys and studies as code.
        "source_code": [(seed, did, Markdown(here)) for seed, did, here in DIFFERENCES],
        "assumptions": [(left_open, ours, key, config_value(config, key)) for left_open, ours, key in ASSUMPTIONS],
        "claims_sources": list(by_source),
        "claims_side_by_side": claims_side_by_side(by_source),
        "pairing": pairing,
        "source_notes": source_notes,
        "source001_beside_ours": source001_beside_ours(runs),
    }
