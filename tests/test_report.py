"""From run JSONs to the report: aggregation, the sources' tables, the claims' statistics, the figures, and
`snakemake --report` on a tiny real workflow. Run JSONs are fixtures written here, valid against the metrics schema;
nothing is trained."""

import copy
import json
import math
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from markupsafe import escape as html_escape
from scipy import stats

from ablation.outputs.records import validate_metrics
from ablation.report import claims, plots
from ablation.report import readme as report_readme
from ablation.report import tables as report_tables
from ablation.report.aggregate import UnusableMetrics, collect_runs, read_history, read_runs, times_taken, write_runs
from ablation.report.claims import CONTRADICTED, INCONCLUSIVE, SUPPORTED, evaluate_claims
from ablation.report.layout import FIGURES, TABLE_TITLES, figure_stem
from ablation.report.markup import (
    Markdown,
    markdown_cell,
    markdown_code,
    markdown_row,
    markdown_text,
    markdown_url,
    rst_text,
)
from ablation.study.config import resnet_runs, svm_runs, validate_config
from ablation.study.factors import RESNET_FACTORS, SVM_FACTORS, complete_factors
from conftest import (
    MARKUP_INJECTION,
    add_schema_factor,
    checkout_copy,
    edit_copy,
    run_snakemake,
    tiny_grid,
    write_config,
)

HEX = "0" * 64
PROVENANCE = {
    "git_commit": "abc1234def",
    "git_dirty": False,
    "python": "3.11.7",
    "packages": {"torch": "2.14.1"},
    "cpu_model": "Test CPU",
    "cpu_count": 2,
    "threads": 1,
    "gpu_name": None,
    "cuda_version": None,
    "hostname": "testhost",
    "slurm_job_id": None,
    "data_source": "local_dir",
    "data_sha256": {f"file{i}": HEX for i in range(4)},
    "split_checksum": HEX,
    "seed": 0,
    "started_at": "2026-01-01T00:00:00+00:00",
    "finished_at": "2026-01-01T00:01:00+00:00",
}


def conditions(exclusive: bool, threads: int, wall_time_s: float) -> dict:
    """A valid `conditions` record of a run timed alone (exclusive) or beside other jobs, on the fixture's CPU."""
    return {
        "exclusive": exclusive,
        "threads": threads,
        "cores_available": 2,
        "host_cores": 2,
        "device": "cpu",
        "device_name": "Test CPU",
        "device_index": None,
        "gpu_other_runs_start": None,
        "gpu_other_runs_end": None,
        "load_average_start": 1.0,
        "load_average_end": 1.0,
        "cpu_time_s": wall_time_s * threads,
        "wall_time_s": wall_time_s,
        "cpu_utilisation": float(threads),
        "cudnn_benchmark": False,
        "cudnn_deterministic": True,
        "deterministic_algorithms": True,
        "interval_unix": [1.0e9, 1.0e9 + wall_time_s],
    }


MODEL_SIZES = {"resnet18": (33_184_000, 11_175_370), "resnet50": (77_000_000, 23_520_842)}

# The sources' own column sets (source 000 and source 001's READMEs), which our tables must reproduce.
PART_A_COLUMNS = [
    "Batch Size",
    "Optimizer",
    "Learning Rate",
    "Epochs",
    "pin_memory",
    "ResNet-18 Accuracy (%)",
    "ResNet-50 Accuracy (%)",
]
Q1_COLUMNS = ["Batch Size", "Optimizer", "Learning Rate", "Validation Accuracy (%)", "Test Accuracy (%)"]
# Each table with a time adds the conditions it was measured under (timing alone or shared, threads, device).
PIN_COLUMNS = ["Pin Memory", "Accuracy (%)", "Time Taken (s)", "Conditions"]
EPOCHS_COLUMNS = ["Epochs", "Accuracy (%)", "Time Taken (s)", "Conditions"]
SVM_COLUMNS = ["Dataset", "Kernel", "Train Samples", "Test Accuracy (%)", "Training Time (ms)", "Conditions"]
Q2_COLUMNS = [
    "Model",
    "Batch Size",
    "Optimizer",
    "LR",
    "Epochs",
    "pin_memory",
    "Device",
    "Test Accuracy (%)",
    "Train Time (ms)",
    "MACs (G)",
    "FLOPs (G)",
    "Params (M)",
    "Conditions",
]


def resnet_record(run: dict, diverged_epoch: int | None = None) -> dict:
    """A valid ResNet metrics.json; accuracy rises with epochs, Adam a little above SGD, deterministic per seed."""
    macs, params = MODEL_SIZES[run["model"]]
    base = 0.90 + (0.02 if run["optimizer"] == "adam" else 0.0) + 0.005 * run["seed"]
    completed = run["epochs"] if diverged_epoch is None else diverged_epoch - 1
    history = [
        {
            "epoch": e,
            "train_loss": 1.0 / e,
            "train_accuracy": min(base + 0.01 * e, 1.0),
            "val_loss": 1.2 / e,
            "val_accuracy": min(base + 0.008 * e, 1.0),
            "epoch_time_s": 10.0 + run["seed"] + (5.0 if run["model"] == "resnet50" else 0.0),
            "data_time_s": 0.5,
        }
        for e in range(1, completed + 1)
    ]
    record = {
        "kind": "resnet",
        "params": run,
        "status": "ok" if diverged_epoch is None else "diverged",
        "diverged_epoch": diverged_epoch,
        "test_accuracy": None if diverged_epoch else round(base + 0.01 * run["epochs"], 4),
        "test_loss": None if diverged_epoch else 0.3,
        "train_time_s": sum(h["epoch_time_s"] for h in history),
        "history": history,
        "macs": macs,
        "flops": 2 * macs,
        "params_count": params,
        "split": {"train": 49_000, "val": 7_000, "test": 14_000},
        "provenance": {**PROVENANCE, "seed": run["seed"]},
        # Seed 0 timed alone on 2 threads, seed 1 beside other jobs on 1.
        "conditions": conditions(run["seed"] == 0, 2 - run["seed"], sum(h["epoch_time_s"] for h in history)),
    }
    validate_metrics(record)
    return record


def svm_record(run: dict) -> dict:
    """A valid SVM metrics.json whose fit time grows as n^2 (so its growth exponent is known: 2)."""
    record = {
        "kind": "svm",
        "params": run,
        "status": "ok",
        "test_accuracy": 0.95 if run["kernel"] == "rbf" else 0.94,
        "fit_time_s": 2.0 * (run["train_samples"] / 1000) ** 2,
        "predict_time_s": 0.5,
        "n_support_vectors": 500,
        "svm_hyperparameters": {"C": 1.0, "gamma": "scale"},
        "train_samples_actual": run["train_samples"],
        "test_samples": 14_000,
        "provenance": {**PROVENANCE, "seed": run["seed"]},
    }
    # The smallest fit was recorded before runs recorded their conditions; the others were timed alone.
    if run["train_samples"] > min(SVM_SIZES):
        record["conditions"] = conditions(True, 1, record["fit_time_s"])
    validate_metrics(record)
    return record


FIXTURE_STUDIES = {
    # Two seeds per grid point; Adam's seed 1 diverges in its first epoch.
    "grid": {"grid": tiny_grid(batch_size=[32], optimizer=["sgd", "adam"], seed=[0, 1])},
    "pin": {"grid": tiny_grid(batch_size=[32], pin_memory=[False, True])},
    "more_epochs": {"grid": tiny_grid(batch_size=[32], epochs=[1, 2])},
    # Its GPU run is left out of the plan (gpu: false).
    "devices": {"grid": tiny_grid(batch_size=[32], device=["cpu", "cuda"])},
    "part_a": {
        "grid": {"dataset": ["mnist"], "model": ["resnet18", "resnet50"]},
        "runs": [
            {"batch_size": 16, "optimizer": "sgd", "lr": 0.001, "epochs": 1, "pin_memory": False},
            {"batch_size": 16, "optimizer": "adam", "lr": 0.0001, "epochs": 2, "pin_memory": True},
        ],
    },
}
SVM_SIZES = [1000, 2000, 4000]
FIXTURE_MAPPING = {
    "part_a": ["part_a"],
    "q1": ["grid"],
    "pin_memory": ["pin"],
    "epochs": ["more_epochs"],
    "svm": ["svm"],
    "q2": ["devices"],
}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The fixture study's config, its metrics JSONs on disk, and the aggregated runs and history."""
    root = tmp_path_factory.mktemp("study")
    config = validate_config(
        {
            "gpu": False,
            "resnet_studies": FIXTURE_STUDIES,
            "svm_studies": {"svm": {"grid": {"dataset": ["mnist"], "kernel": ["rbf"], "train_samples": SVM_SIZES}}},
            "report": {"tables": FIXTURE_MAPPING},
        }
    )
    planned, left_out = resnet_runs(config, cuda_visible=False)
    svm_planned = svm_runs(config)
    pairs = {"resnet": [], "svm": []}
    for kind, table, factors in (("resnet", planned, RESNET_FACTORS), ("svm", svm_planned, SVM_FACTORS)):
        for row in table.to_dict("records"):
            run = {f: row[f] for f in factors}
            diverged = 1 if kind == "resnet" and run["optimizer"] == "adam" and run["seed"] == 1 else None
            record = resnet_record(run, diverged) if kind == "resnet" else svm_record(run)
            path = root / "runs" / kind / "/".join(f"{f}~{run[f]}" for f in factors) / "metrics.json"
            path.parent.mkdir(parents=True)
            path.write_text(json.dumps(record))
            pairs[kind].append((row, path))
    runs, history = collect_runs(pairs["resnet"], pairs["svm"], left_out.to_dict("records"))
    write_runs(runs, history, root / "runs.csv", root / "history.csv")
    return {
        "root": root,
        "config": config,
        "runs": read_runs(root / "runs.csv"),
        "history": read_history(root / "history.csv"),
        "n_planned": len(planned) + len(svm_planned),
        "n_left_out": len(left_out),
        "pairs": pairs["resnet"],
    }


def columns(doc) -> list[list[str]]:
    return [section.table.columns for section in doc.sections if section.table]


# Aggregation -------------------------------------------------------------------------------------------------------


def test_every_planned_run_has_one_row_with_its_fate_and_its_source(study):
    runs = study["runs"]
    assert len(runs) == study["n_planned"] + study["n_left_out"]
    assert study["n_left_out"] == 1
    not_run = runs[runs["status"] == "not_run"]
    assert not_run["device"].tolist() == ["cuda"] and not_run["note"].tolist() == ["not run: no GPU"]
    diverged = runs[runs["status"] == "diverged"]
    assert diverged["note"].tolist() == ["diverged at epoch 1"] and diverged["seed"].tolist() == [1]
    ran = runs[runs["status"] != "not_run"]
    assert ran["metrics_path"].map(lambda p: p.endswith("metrics.json")).all()
    assert set(ran["git_commit"]) == {"abc1234def"} and set(ran["hostname"]) == {"testhost"}
    # The run shared by three studies is one row that lists them all.
    shared = runs[(runs["kind"] == "resnet") & runs["studies"].str.contains("pin")]
    assert "devices" in ",".join(shared["studies"]) and "grid" in ",".join(shared["studies"])
    # Types survive the CSV round trip: gaps stay gaps.
    assert runs.loc[runs["kind"] == "svm", "batch_size"].isna().all()
    assert runs.loc[runs["kind"] == "resnet", "pin_memory"].dtype == "boolean"


def test_the_time_a_table_shows_covers_evaluation_only_where_the_study_says_so():
    record = {"train_time_s": 10.0, "test_time_s": 1.0, "history": [{"eval_time_s": 0.5}, {"eval_time_s": 0.5}]}
    assert times_taken("resnet", record, "training") == {
        "time_covers": "training",
        "eval_time_s": 2.0,
        "time_taken_s": 10.0,
    }
    assert times_taken("resnet", record, "training_and_evaluation")["time_taken_s"] == 12.0
    # A run recorded before evaluation was timed: its time with evaluation is unknown, not its training time.
    earlier = {"train_time_s": 10.0, "history": [{}, {}]}
    assert times_taken("resnet", earlier, "training_and_evaluation")["time_taken_s"] is None
    assert times_taken("resnet", earlier, "training")["time_taken_s"] == 10.0


def test_aggregation_refuses_a_json_that_is_not_the_planned_run_naming_every_such_file(study, tmp_path):
    (first_run, _), (_, second_path) = study["pairs"][:2]
    broken, truncated = tmp_path / "metrics.json", tmp_path / "truncated.json"
    broken.write_text(json.dumps({"kind": "resnet"}))
    truncated.write_text('{"kind": "res')
    with pytest.raises(UnusableMetrics) as err:
        collect_runs([(first_run, second_path), (first_run, broken), (first_run, truncated)], [], [])
    (mismatch, why), (schema, _), (not_json, json_error) = err.value.files
    assert (mismatch, schema, not_json) == (str(second_path), str(broken), str(truncated))
    assert "do not match the planned run" in why and "Unterminated string" in json_error


# Tables ------------------------------------------------------------------------------------------------------------


def test_each_table_has_the_sources_columns(study):
    config_studies = set(FIXTURE_STUDIES) | {"svm"}
    tables = report_tables.build_tables(study["runs"], FIXTURE_MAPPING, config_studies)
    assert columns(tables["part_a"]) == [PART_A_COLUMNS]
    assert columns(tables["q1"]) == [Q1_COLUMNS]
    assert columns(tables["pin_memory"]) == [PIN_COLUMNS]
    assert columns(tables["epochs"]) == [EPOCHS_COLUMNS]
    assert columns(tables["svm"]) == [SVM_COLUMNS]
    assert columns(tables["q2"])[0] == Q2_COLUMNS
    assert columns(tables["q2"])[1] == [
        "Model",
        "CPU Train Time (ms)",
        "GPU Train Time (ms)",
        "Speedup (CPU time / GPU time)",
    ]


def test_rendered_tables_show_replicates_divergence_and_left_out_runs(study):
    tables = report_tables.build_tables(study["runs"], FIXTURE_MAPPING, set(FIXTURE_STUDIES) | {"svm"})
    markdown = {key: report_readme.render_table(doc, "md") for key, doc in tables.items()}
    html = {key: report_readme.render_table(doc, "html") for key, doc in tables.items()}
    # SGD: two ok seeds -> mean ± std (n=2); Adam: one ok seed, one diverged.
    sgd_row = next(line for line in markdown["q1"].splitlines() if "| SGD |" in line)
    assert "± " in sgd_row and "(n=2)" in sgd_row
    adam_row = next(line for line in markdown["q1"].splitlines() if "| Adam |" in line)
    assert "(n=1)" in adam_row and "diverged at epoch 1" in adam_row
    gpu_row = next(line for line in markdown["q2"].splitlines() if "| GPU |" in line)
    assert "not run: no GPU" in gpu_row
    assert "0.0332" in markdown["q2"] and "0.0664" in markdown["q2"] and "thop's MACs" in markdown["q2"]
    # n=1000: fit 2 s = 2,000 ms, under unrecorded conditions (marked); n=2000: 8 s, timed alone.
    svm_rows = {line.split(" | ")[2]: line for line in markdown["svm"].splitlines() if line.startswith("| MNIST |")}
    assert "| 2,000.00† | not recorded |" in svm_rows["1,000"]
    assert "| 8,000.00 | alone, 1 thread, Test CPU |" in svm_rows["2,000"]
    assert report_tables.SHARED_NOTE in markdown["svm"]
    (one_epoch,) = [line for line in markdown["epochs"].splitlines() if line.startswith("| 1 |")]
    assert one_epoch.endswith("| 10.0 | alone, 2 threads, Test CPU |")
    # Two replicates, one timed alone on 2 threads and one shared on 1: the time is marked and both are named.
    runs = study["runs"]
    sgd = runs[(runs["studies"] == "grid") & (runs["optimizer"] == "sgd")]
    assert report_tables.time_cell(sgd, "train_time_s", 1, 1) == "10.5 ± 0.7 (n=2)†"
    assert report_tables.conditions_cell(sgd) == "alone, 2 threads, Test CPU / shared, 1 thread, Test CPU"
    # Without a GPU, pin_memory True is the run of False: no pair, so no difference is claimed.
    assert "Difference True - False: not testable on this host" in markdown["pin_memory"]
    assert report_tables.PIN_MEMORY_NOTE in markdown["pin_memory"] and report_tables.PIN_MEMORY_NOTE in markdown["q2"]
    for key in tables:
        assert "<table>" in html[key] and "</html>" in html[key]
        assert markdown[key].startswith(f"# {TABLE_TITLES[key]}")


def test_a_table_whose_studies_are_absent_is_omitted_with_a_line_saying_so(study):
    mapping = {**FIXTURE_MAPPING, "part_a": ["seed001_part_a"], "pin_memory": []}
    tables = report_tables.build_tables(study["runs"], mapping, set(FIXTURE_STUDIES) | {"svm"})
    assert "Omitted: this config has no study seed001_part_a" in report_readme.render_table(tables["part_a"], "md")
    assert "Omitted: no study is mapped" in report_readme.render_table(tables["pin_memory"], "html")
    assert not tables["part_a"].sections


# README.md's figures, as rule render_report hands them over: each file's wildcard values and path (relative to
# README.md).
PLOT_PATHS = report_readme.figure_images(
    {
        "curves": [({"dataset": "mnist", "model": "resnet18"}, "plots/curves_mnist_resnet18.png")],
        **{name: [({}, f"plots/{name}.png")] for name in ("accuracy_heatmap", "pin_memory", "epochs", "cpu_vs_gpu")},
        "svm_scaling": [({}, "plots/svm_scaling.png")],
    }
)


def test_readme_embeds_every_table_figure_and_claim(study):
    runs, history = study["runs"], study["history"]
    tables = report_tables.build_tables(runs, FIXTURE_MAPPING, set(FIXTURE_STUDIES) | {"svm"})
    found = evaluate_claims(runs, history)
    plot_paths = PLOT_PATHS
    context = report_readme.readme_context(
        runs, study["config"], tables, report_tables.analysis_table(found), found, plot_paths, ["fixture.yaml"]
    )
    readme = report_readme.render_readme(context)
    for heading in (
        "## Experimental Setup",
        "### Question 1.",
        "### Question 1 part b.)",
        "### Question 2.)",
        "## Analysis",
    ):
        assert heading in readme
    for title in TABLE_TITLES.values():
        assert title in readme
    for path in ["plots/curves_mnist_resnet18.png", *(f"plots/{n}.png" for n in plot_paths if n != "curves")]:
        assert f"]({path})" in readme
    assert "![Training curves: MNIST, ResNet-18](plots/curves_mnist_resnet18.png)" in readme
    # The report's order: each table, then the figures drawn from its studies, under the part's heading.
    order = ["### Question 1.", TABLE_TITLES["q1"], "curves_mnist", "accuracy_heatmap.png", TABLE_TITLES["part_a"]]
    order += ["### Results after varying", "1.) Pin Memory", TABLE_TITLES["pin_memory"], "plots/pin_memory.png"]
    order += ["2.) Epochs", "plots/epochs.png", "### Question 1 part b.)", "svm_scaling.png", "### Question 2.)"]
    order += [TABLE_TITLES["q2"], "cpu_vs_gpu.png", "## Analysis"]
    assert [readme.index(text) for text in order] == sorted(readme.index(text) for text in order)
    assert "host `testhost`: Test CPU (2 CPU cores), no GPU used" in readme
    assert "- Training loop: the sources' DataLoader loop for `" in readme
    assert "1 CUDA run(s) not run: no GPU" in readme
    assert "Excluded from every comparison: 1 diverged run(s) and 1 run(s) not run (no GPU)." in readme
    # Each claim once: its verdict in the list, its parts in the analysis table (as its cells show text) with their
    # tests and p-values.
    for claim in found:
        assert f"- Claim {claim.number}: **{claim.verdict.capitalize()}.**" in readme
        assert readme.count(markdown_cell(claim.text)) == 1
        for part in claim.parts:
            assert markdown_cell(part.comparison) in readme
            assert part.p_value is None or markdown_cell(part.p_text()) in readme
    assert any(markdown_cell(f"exact binomial (share {side} 80%): p = ") in readme for side in "<>")
    assert ", Holm " in readme and "against a coin flip (sign test) p = " in readme
    # The same claims on each source's published numbers, beside ours.
    assert "| Claim | Our runs | Source 000's own numbers | Source 001's own numbers |" in readme
    assert "| Claim 1 | **" in readme
    assert "How repeats are paired:" in readme
    assert "- Source 001's own numbers: 3 configuration(s) ran more than once." in readme
    assert markdown_text("Source 001's own numbers: By dataset: MNIST 1.79x, 95% CI [1.70, 1.88]x (n = 32") in readme
    assert markdown_text("Source 001's own numbers: Run-to-run spread of the test accuracy") in readme
    assert markdown_cell("contradicted (exact binomial (share < 80%): p = 0.00819") in readme
    # The assumptions, each with its config key and the value this run used.
    assert "## Assumptions and deviations" in readme
    assert "| `factor_defaults.momentum` | 0.9 |" in readme and "| `training.num_workers` | 0 |" in readme


def table_rows(markdown: str) -> list[list[str]]:
    """Each row of every markdown table in `markdown`, split into its cells at the pipes that are not escaped."""
    return [re.split(r"(?<!\\)\|", line)[1:-1] for line in markdown.splitlines() if line.startswith("|")]


def outside_code_spans(markdown: str) -> str:
    """Markdown without its code spans (a run of backticks to the next run as long), whose text shows as is."""
    return re.sub(r"(?<!`)(`+)(?!`).*?(?<!`)\1(?!`)", "", markdown)


def test_text_from_the_config_and_the_runs_shows_as_written_in_the_readme_and_the_tables(study):
    """A study's description, the host and device the runs name and a study a table maps: escaped in README.md and
    the tables' markdown (no tag, no emphasis, no cell of their own), text in the tables' HTML."""
    config = copy.deepcopy(study["config"])
    config["resnet_studies"]["grid"]["description"] = MARKUP_INJECTION
    runs = study["runs"].assign(hostname=MARKUP_INJECTION, device_name=MARKUP_INJECTION)
    mapping = {**FIXTURE_MAPPING, "part_a": [MARKUP_INJECTION]}  # not a study of this config: named as omitted
    tables = report_tables.build_tables(runs, mapping, set(FIXTURE_STUDIES) | {"svm"})
    found = evaluate_claims(runs, study["history"])
    analysis = report_tables.analysis_table(found)
    readme = report_readme.render_readme(
        report_readme.readme_context(runs, config, tables, analysis, found, PLOT_PATHS, [MARKUP_INJECTION])
    )
    markdown = {key: report_readme.render_table(doc, "md") for key, doc in tables.items()}
    html = {key: report_readme.render_table(doc, "html") for key, doc in tables.items()}
    for text in map(outside_code_spans, (readme, *markdown.values())):
        assert "<img" not in text and "<script" not in text and "*c*" not in text
    assert f"(ResNet, 4 runs): {markdown_text(MARKUP_INJECTION)}\n" in readme
    assert f"Config: {markdown_code(MARKUP_INJECTION)}." in readme
    assert f"- Hardware: host {markdown_code(MARKUP_INJECTION)}: Test CPU (2 CPU cores)" in readme
    # The device in the tables' Conditions column, a cell of its own: its pipe is escaped, so no row has more cells
    # than its table's header.
    assert f"| alone, 1 thread, {markdown_cell(MARKUP_INJECTION)} |" in markdown["svm"]
    for text in (readme, *markdown.values()):
        rows = table_rows(text)
        headers = [i for i, row in enumerate(rows) if i + 1 < len(rows) and set("".join(rows[i + 1])) <= set("-: ")]
        for start, end in zip(headers, headers[1:] + [len(rows)]):
            assert {len(row) for row in rows[start:end]} == {len(rows[start])}, rows[start]
    assert f"Omitted: this config has no study {markdown_text(MARKUP_INJECTION)} (`report.tables.part_a`)." in readme
    assert f"this config has no study {html_escape(MARKUP_INJECTION)}" in html["part_a"]
    assert "<img" not in html["part_a"] and f"{html_escape(MARKUP_INJECTION)}</td>" in html["svm"]


def test_markdown_escapes_show_known_text_as_written():
    assert markdown_text(MARKUP_INJECTION) == (
        r"XSS&lt;img src=x onerror=alert(1)&gt; &lt;script&gt;window.\_\_pwned=1&lt;/script&gt; a|b \*c\*"
    )
    # Underscores inside a word emphasise nothing and stay; a link, code and a backslash do not form.
    assert markdown_text("pin_memory _x_ [a](javascript:b) `c` \\d ~e~ $f$ #g") == (
        r"pin_memory \_x\_ \[a\](javascript:b) \`c\` \\d \~e\~ \$f\$ \#g"
    )
    # What would start a block where a line starts: a list item, a heading, a thematic break; a line break.
    assert [markdown_text(t) for t in ("- x", "1. x", "2) x", "---", "+ x", "-0.5", "# x", "a\n- b\r\nc")] == [
        r"\- x",
        r"1\. x",
        r"2\) x",
        r"\---",
        r"\+ x",
        "-0.5",
        r"\# x",
        "a - b c",
    ]
    assert markdown_text("&lt;") == "&amp;lt;" and markdown_text(12) == "12"
    # Markdown written here goes through as is; what goes into it is escaped.
    assert markdown_text(Markdown("**x**")) == "**x**"
    assert Markdown("**{}** in {}").format("*a*", Markdown("`b`")) == r"**\*a\*** in `b`"
    assert Markdown(", ").join(["<a>", Markdown("`b`")]) == "&lt;a&gt;, `b`"
    assert Markdown("`a` ") + "<b>" == "`a` &lt;b&gt;" and "<b>" + Markdown(" `a`") == "&lt;b&gt; `a`"
    assert isinstance(Markdown("a") + "b", Markdown)
    # Its plain text, for a page that is not markdown: what went into it as it was, the markup written here kept.
    assert Markdown("**{}** in {}").format("*a*", markdown_code("b")).plain == "***a*** in `b`"
    assert ("<z>" + Markdown(", ").join(["<a>", "b"]) + "<c>").plain == "<z><a>, b<c>"
    # A cell: its pipes escaped, a Markdown's too; no block escape (a cell holds no block).
    assert markdown_cell("a|b *c*") == r"a\|b \*c\*" and markdown_cell(Markdown("`a|b`")) == r"`a\|b`"
    assert markdown_cell("a\\|b") == r"a\\\|b" and markdown_cell("- 1") == "- 1"
    assert markdown_row(["a|b", Markdown("**c**")]) == r"| a\|b | **c** |"
    # Code spans: a fence longer than any run of backticks inside, padded where the text starts or ends with one.
    assert markdown_code("a<b>_c") == "`a<b>_c`" and markdown_code("a`b") == "``a`b``"
    assert markdown_code("`a``") == "``` `a`` ```" and markdown_code("") == ""
    assert markdown_url("plots/a b(1).png") == "plots/a%20b%281%29.png"


def test_rst_text_escapes_every_punctuation_character_and_line_break():
    assert rst_text("a_ *b* `c` |d| \\e") == r"a\_ \*b\* \`c\` \|d\| \\e"
    assert rst_text("x\n\n.. raw:: html") == r"x  \.\. raw\:\: html"
    assert rst_text("résumé 2") == "résumé 2"


def test_setup_names_the_loop_each_study_trained_with():
    runs = resnet_frame(
        [
            {"loader": "dataloader", "studies": "pin_memory,grid"},
            {"loader": "resident", "studies": "grid"},
            {"loader": "dataloader", "studies": "grid"},
        ]
    )
    assert report_readme.loaders_by_study(runs) == (
        "the sources' DataLoader loop for `pin_memory`, `grid`; "
        "the resident fast path (same batches and hyperparameters) for `grid`"
    )


# Claims ------------------------------------------------------------------------------------------------------------


def resnet_frame(rows: list[dict]) -> pd.DataFrame:
    """Runs as runs.csv holds them, from the few fields a test sets; the rest take one fixed value."""
    defaults = {
        "kind": "resnet",
        "status": "ok",
        "note": "",
        "dataset": "mnist",
        "model": "resnet18",
        "batch_size": 32,
        "optimizer": "adam",
        "lr": 0.001,
        "epochs": 1,
        "pin_memory": False,
        "device": "cpu",
        "loader": "dataloader",
        "seed": 0,
        "train_time_s": 100.0,
        "flops": 66_368_000,
        "gpu_name": None,
    }
    frame = pd.DataFrame([complete_factors({**defaults, **row}) for row in rows])
    frame["run_id"] = [f"run{i}" for i in range(len(frame))]
    return frame


def adam_sgd_pairs(differences_points: list[float]) -> pd.DataFrame:
    """One Adam and one SGD run per seed, Adam ahead by the given points."""
    rows = []
    for seed, diff in enumerate(differences_points):
        rows.append({"optimizer": "sgd", "seed": seed, "test_accuracy": 0.90})
        rows.append({"optimizer": "adam", "seed": seed, "test_accuracy": 0.90 + diff / 100})
    return resnet_frame(rows)


def test_adam_winning_9_of_10_pairs_is_not_shown_consistent_by_the_exact_test_against_80_percent():
    """A win share above 80% ("consistently"): 9 of 10 is no evidence of that, though a coin flip is rejected."""
    differences = [1.5, 2.5, 2.0, 1.8, 2.2, 0.5, 3.0, 1.0, 1.2, -0.4]
    claim = claims.claim_adam_vs_sgd(adam_sgd_pairs(differences))
    (part,) = claim.parts
    # P(at least 9 wins of 10 | a share of 0.8) = 10 x 0.8^9 x 0.2 + 0.8^10.
    assert part.p_value == pytest.approx(10 * 0.8**9 * 0.2 + 0.8**10) and part.test == "exact binomial (share > 80%)"
    # P(at least 9 wins of 10 | a fair coin) = (10 + 1) / 1024, said beside it.
    assert f"against a coin flip (sign test) p = {11 / 1024:.3g}" in part.reason
    # The median (1.65) and its distribution-free interval: for n = 10, the 2nd and 9th order statistics (97.9%).
    assert part.estimate.value == pytest.approx(1.65)
    assert (part.estimate.low, part.estimate.high) == pytest.approx((0.5, 2.5))
    assert part.verdict == INCONCLUSIVE and "Adam won 9 of 10 pairs (90%): neither above nor below 80%" in part.reason
    assert "by lr and model: lr 0.001 ResNet-18 9/10" in part.reason


def test_sgd_at_two_momenta_gives_claim_1_a_part_for_each_with_adam_paired_to_both():
    at_09 = adam_sgd_pairs([2.0, 2.5, 1.5])
    at_0 = at_09[at_09["optimizer"] == "sgd"].assign(momentum=0.0, test_accuracy=0.93)  # Adam behind by 1 point
    claim = claims.claim_adam_vs_sgd(pd.concat([at_09, at_0], ignore_index=True))
    by_label = {part.comparison: part.estimate.value for part in claim.parts}
    assert by_label == pytest.approx(
        {
            "MNIST: Adam - SGD test accuracy, paired on every other factor (SGD momentum 0)": -1.0,
            "MNIST: Adam - SGD test accuracy, paired on every other factor (SGD momentum 0.9)": 2.0,
        }
    )


def test_fourteen_wins_of_fourteen_are_consistent_thirteen_are_not_yet_and_five_give_no_median_interval():
    # All n won: p = 0.8^n against a share of 80%, below 5% from n = 14 on.
    (fourteen,) = claims.claim_adam_vs_sgd(adam_sgd_pairs([2.0] * 14)).parts
    assert fourteen.p_value == pytest.approx(0.8**14) and fourteen.verdict == SUPPORTED
    assert "the share is shown above 80%" in fourteen.reason
    (thirteen,) = claims.claim_adam_vs_sgd(adam_sgd_pairs([2.0] * 13)).parts
    assert thirteen.p_value == pytest.approx(0.8**13) and thirteen.verdict == INCONCLUSIVE
    (five,) = claims.claim_adam_vs_sgd(adam_sgd_pairs([2.0] * 5)).parts
    assert five.p_value == pytest.approx(0.8**5) and five.verdict == INCONCLUSIVE
    assert five.estimate.value == pytest.approx(2.0) and not five.estimate.has_interval  # 5 pairs: 93.75% at most


def test_a_minority_of_wins_contradicts_consistency_and_a_few_mixed_pairs_are_inconclusive():
    two_of_ten = claims.claim_adam_vs_sgd(adam_sgd_pairs([1, 1, -1, -1, -1, -1, -1, -1, -1, -1]))
    assert two_of_ten.verdict == CONTRADICTED and "the share is shown below 80%" in two_of_ten.parts[0].reason
    # The contradiction rests on the test toward the other side: P(at most 2 wins of 10 | a share of 0.8).
    below = sum(math.comb(10, k) * 0.8**k * 0.2 ** (10 - k) for k in range(3))
    assert two_of_ten.parts[0].p_value == pytest.approx(below)
    assert two_of_ten.parts[0].test == "exact binomial (share < 80%)"
    assert claims.claim_adam_vs_sgd(adam_sgd_pairs([2, 1, -1, 0.5])).verdict == INCONCLUSIVE  # 3 of 4


def test_one_pair_has_no_interval_and_is_inconclusive():
    claim = claims.claim_adam_vs_sgd(adam_sgd_pairs([2.0]))
    (part,) = claim.parts
    assert not part.estimate.has_interval
    assert "interval not available" in part.estimate.text()
    assert claim.verdict == INCONCLUSIVE


def test_claims_are_judged_per_dataset_and_need_every_dataset():
    wins = [2.0, 2.1, 1.9, 1.5, 2.2] * 3  # 15 of 15
    both = pd.concat([adam_sgd_pairs(wins), adam_sgd_pairs(wins).assign(dataset="fashion_mnist")])
    assert claims.claim_adam_vs_sgd(both).verdict == SUPPORTED
    mixed = pd.concat([adam_sgd_pairs(wins), adam_sgd_pairs([2, -2, 1, 1, -1]).assign(dataset="fashion_mnist")])
    claim = claims.claim_adam_vs_sgd(mixed)
    assert [p.verdict for p in claim.parts] == [SUPPORTED, INCONCLUSIVE] and claim.verdict == INCONCLUSIVE


def test_equivalence_is_shown_inside_the_margin_refuted_outside_and_open_in_between():
    """TOST of the accuracy difference within +-1 point, on pairs whose difference is known."""

    def part(differences):
        rows = []
        for seed, diff in enumerate(differences):
            rows.append({"device": "cpu", "seed": seed, "train_time_s": 200.0, "test_accuracy": 0.90})
            rows.append({"device": "cuda", "seed": seed, "train_time_s": 10.0, "test_accuracy": 0.90 + diff / 100})
        return claims.claim_gpu_speedup(resnet_frame(rows)).parts[1]

    inside = part([0.1, -0.1, 0.2, 0.0, -0.2])
    # mean 0, sd sqrt(0.025), se 0.0707: t against each bound is 14.1 on 4 df.
    assert inside.verdict == SUPPORTED and inside.p_value == pytest.approx(stats.t.sf(1 / math.sqrt(0.005), 4))
    outside = part([2.0, 2.2, 1.8, 2.1, 1.9])
    # Refuted by the test that the difference exceeds the upper margin: mean 2, t = (2 - 1) / 0.0707 on 4 df.
    assert outside.verdict == CONTRADICTED and outside.test == "one-sided t (difference > 1)"
    assert outside.p_value == pytest.approx(stats.t.sf(1 / math.sqrt(0.005), 4))
    spread = part([0.9, -0.8, 1.5, -1.4, 0.2])
    assert spread.verdict == INCONCLUSIVE and "not shown" in spread.reason


def test_holm_adjusts_in_step_down_order_and_can_take_either_verdict_back():
    assert claims.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # Twenty wins of twenty (p = 0.8^20 = 0.0115 against 80%) are significant alone, not among six such tests.
    wins = adam_sgd_pairs([2.0] * 20)
    found = [claims.claim_adam_vs_sgd(wins) for _ in range(6)]
    claims.adjust_for_multiplicity(found)
    part = found[0].parts[0]
    assert part.p_adjusted == pytest.approx(6 * 0.8**20) and part.verdict == INCONCLUSIVE
    assert "not significant after Holm's adjustment across 6 tests" in part.reason
    # A contradiction is a test result too: 20 wins of 31 (p = 0.033 of a share below 80%) stands alone, not among two.
    twenty_of_31 = adam_sgd_pairs([2.0] * 20 + [-2.0] * 11)
    (alone,) = [claims.claim_adam_vs_sgd(twenty_of_31)]
    claims.adjust_for_multiplicity([alone])
    assert alone.verdict == CONTRADICTED and alone.parts[0].p_adjusted == pytest.approx(alone.parts[0].p_value)
    pair = [claims.claim_adam_vs_sgd(twenty_of_31) for _ in range(2)]
    claims.adjust_for_multiplicity(pair)
    below = stats.binomtest(20, 31, 0.8, alternative="less").pvalue
    assert pair[0].parts[0].p_adjusted == pytest.approx(2 * below) and pair[0].verdict == INCONCLUSIVE


def test_a_repeat_that_flips_claim_1_is_named_with_the_verdict_each_pairing_gives():
    """Fourteen learning rates where Adam wins, and the first one run again (seed 1: its Adam and its SGD run) where
    SGD wins by a point: paired by seed, 14 of 15 (p = 0.167 against 80%: inconclusive); its first run only, 14 of
    14 (0.8^14 = 0.044: supported); its repeats averaged, Adam still ahead there (+0.5): 14 of 14, supported."""
    rows = []
    for i in range(14):
        for seed, diff in [(0, 2.0)] + ([(1, -1.0)] if i == 0 else []):
            rows.append({"optimizer": "sgd", "lr": 0.001 * (i + 1), "seed": seed, "test_accuracy": 0.90})
            rows.append({"optimizer": "adam", "lr": 0.001 * (i + 1), "seed": seed, "test_accuracy": 0.90 + diff / 100})
    runs = resnet_frame(rows)
    no_curves = pd.DataFrame(columns=["run_id", "epoch", "val_accuracy"])
    found = evaluate_claims(runs, no_curves)
    assert found[0].verdict == INCONCLUSIVE and "Adam won 14 of 15 pairs" in found[0].parts[0].reason
    assert found[0].parts[0].p_value == pytest.approx(15 * 0.8**14 * 0.2 + 0.8**15)
    first, first_history = claims.first_runs(runs, no_curves)
    averaged, _ = claims.averaged_runs(runs, no_curves)
    assert len(first) == len(averaged) == 28 and set(first["seed"]) == {0}
    repeat = averaged[(averaged["lr"] == 0.001) & (averaged["optimizer"] == "adam")]["test_accuracy"]
    assert repeat.tolist() == [pytest.approx(0.905)]
    line = claims.pairing_sensitivity(runs, no_curves, found)
    assert line == (
        "2 configuration(s) ran more than once. The verdict depends on that choice: claim 1 is inconclusive as paired, "
        "but supported with the first run of each configuration only and supported with repeats averaged."
    )
    # Without repeats there is nothing to choose.
    assert claims.pairing_sensitivity(first, first_history, evaluate_claims(first, first_history)).startswith(
        "No configuration ran more than once"
    )


def test_the_spread_of_a_repeated_configuration_is_said_beside_claim_1s_effect():
    # Source 001's same SGD configuration three times: 99.35, 98.82 and 98.48.
    rows = [
        {"optimizer": "sgd", "seed": seed, "test_accuracy": acc} for seed, acc in enumerate([0.9935, 0.9882, 0.9848])
    ]
    rows += [{"optimizer": "adam", "seed": 0, "test_accuracy": 0.99}]
    note = claims.claim_adam_vs_sgd(resnet_frame(rows)).note
    assert note.startswith(
        "Run-to-run spread of the test accuracy where a configuration ran more than once "
        "(1 configuration(s)): up to 0.87 points (median 0.87)."
    )
    # Replicate seeds are repeats too; a configuration run once has no spread to give.
    assert not claims.claim_adam_vs_sgd(adam_sgd_pairs([1.0])).note.startswith("Run-to-run")


def test_claim_2s_time_ratio_is_given_per_dataset_and_a_pair_far_from_the_rest_is_named():
    """Three MNIST pairs at 2x and one Fashion-MNIST pair at 5x: pooled they mix; apart, MNIST is 2x exactly and the
    Fashion-MNIST pair is 2.5x the median of all pairs (2x), an outlier."""
    rows = []
    for i, (dataset, ratio) in enumerate([("mnist", 2.0), ("mnist", 2.0), ("mnist", 2.0), ("fashion_mnist", 5.0)]):
        common = {"dataset": dataset, "seed": i}
        rows.append({**common, "model": "resnet18", "train_time_s": 100.0})
        rows.append({**common, "model": "resnet50", "train_time_s": 100.0 * ratio, "flops": 2 * 66_368_000})
    note = claims.claim_resnet50_cost(resnet_frame(rows)).note
    assert note.startswith("By dataset: MNIST 2.00x, 95% CI [2.00, 2.00]x (n = 3 pairs); Fashion-MNIST 5.00x (n = 1")
    assert note.endswith(
        "Outliers, a factor 2 or more from the median of all pairs (2.00x): Fashion-MNIST batch 32 "
        "adam lr 0.001 seed 3: 5.00x."
    )


def test_diverged_runs_are_left_out_of_the_pairs():
    runs = adam_sgd_pairs([2.0, 2.0, 2.0])
    runs.loc[runs.index[-1], ["status", "test_accuracy"]] = ["diverged", np.nan]
    assert claims.claim_adam_vs_sgd(runs).parts[0].estimate.n == 2


def test_a_20x_gpu_at_equal_accuracy_is_supported_and_no_gpu_runs_are_inconclusive():
    rows = []
    for seed, cpu_time in enumerate([200.0, 210.0, 190.0]):
        rows.append({"device": "cpu", "seed": seed, "train_time_s": cpu_time, "test_accuracy": 0.9})
        rows.append({"device": "cuda", "seed": seed, "train_time_s": cpu_time / 20, "test_accuracy": 0.9})
    claim = claims.claim_gpu_speedup(resnet_frame(rows))
    assert claim.parts[0].estimate.value == pytest.approx(20.0)
    assert claim.verdict == SUPPORTED
    left_out = resnet_frame([{"device": "cpu", "test_accuracy": 0.9}, {"device": "cuda", "status": "not_run"}])
    claim = claims.claim_gpu_speedup(left_out)
    assert claim.verdict == INCONCLUSIVE and "not run: no GPU" in claim.parts[0].reason
    slow_gpu = [{**row, "train_time_s": row["train_time_s"] * (10 if row["device"] == "cuda" else 1)} for row in rows]
    assert claims.claim_gpu_speedup(resnet_frame(slow_gpu)).verdict == CONTRADICTED


def test_resnet50_costs_more_flops_and_time():
    rows = []
    for seed, time18 in enumerate([100.0, 105.0, 95.0]):
        rows.append(
            {"model": "resnet18", "seed": seed, "train_time_s": time18, "flops": 66_368_000, "test_accuracy": 0.9}
        )
        rows.append(
            {
                "model": "resnet50",
                "seed": seed,
                "train_time_s": 2.5 * time18,
                "flops": 157_000_000,
                "test_accuracy": 0.9,
            }
        )
    claim = claims.claim_resnet50_cost(resnet_frame(rows))
    assert claim.parts[0].estimate.exact and claim.parts[0].estimate.value == pytest.approx(157 / 66.368)
    assert claim.parts[1].estimate.value == pytest.approx(2.5)
    assert claim.verdict == SUPPORTED


def test_pin_memory_faster_at_equal_accuracy_is_supported():
    rows = []
    for seed, time in enumerate([100.0, 102.0, 98.0, 101.0]):
        rows.append({"pin_memory": False, "seed": seed, "train_time_s": time, "test_accuracy": 0.9, "device": "cuda"})
        rows.append(
            {"pin_memory": True, "seed": seed, "train_time_s": 0.95 * time, "test_accuracy": 0.9, "device": "cuda"}
        )
    claim = claims.claim_pin_memory(resnet_frame(rows))
    assert claim.parts[0].estimate.value == pytest.approx(0.95)
    assert claim.verdict == SUPPORTED


def test_pin_memory_is_not_testable_from_pairs_where_pinning_cannot_act():
    """CPU pairs, or CUDA pairs of the resident loop, are the same computation twice: never evidence either way."""
    rows = []
    for seed, (device, loader) in enumerate([("cpu", "dataloader"), ("cuda", "resident"), ("cpu", "resident")]):
        for pin, time in ((False, 100.0), (True, 90.0)):
            rows.append({"pin_memory": pin, "seed": seed, "device": device, "loader": loader, "train_time_s": time})
    claim = claims.claim_pin_memory(resnet_frame(rows).assign(test_accuracy=0.9))
    assert claim.verdict == claims.NOT_TESTABLE
    assert [p.verdict for p in claim.parts] == [claims.NOT_TESTABLE] * 2 and "GPU" in claim.parts[0].reason


def test_claim_3_names_the_sources_gpu_beside_ours():
    rows = [
        {"device": "cpu", "train_time_s": 200.0},
        {"device": "cuda", "train_time_s": 10.0, "gpu_name": "NVIDIA H100"},
    ]
    claim = claims.claim_gpu_speedup(resnet_frame(rows).assign(test_accuracy=0.9))
    assert claim.note == "The sources' GPU: an NVIDIA T4; ours: NVIDIA H100."
    claim = claims.claim_gpu_speedup(resnet_frame([{"device": "cpu", "test_accuracy": 0.9}]))
    assert claim.note == "The sources' GPU: an NVIDIA T4; ours: none (no CUDA run here)."


def test_epochs_that_gain_until_eight_then_flatten_saturate_and_the_note_says_where():
    """Curves that gain 1.5 points per epoch up to 0.92 (epoch 8), then 0.02 per epoch: each run counted once."""
    runs = resnet_frame([{"epochs": 15, "seed": s, "test_accuracy": 0.95} for s in range(3)])
    history = pd.DataFrame(
        [
            {"run_id": run_id, "epoch": e, "val_accuracy": min(0.80 + 0.015 * e, 0.92) + 0.0002 * e + 0.001 * k}
            for k, run_id in enumerate(runs["run_id"])
            for e in range(1, 16)
        ]
    )
    claim = claims.claim_epochs_saturate(runs, history)
    assert [p.verdict for p in claim.parts] == [SUPPORTED, SUPPORTED]
    # Epochs 1 to 10: (0.92 + 0.002) - (0.815 + 0.0002) over 9 epochs = 1.187 points per epoch; after: 0.02.
    assert claim.parts[0].estimate.value == pytest.approx((0.922 - 0.8152) * 100 / 9)
    assert claim.parts[1].estimate.value == pytest.approx(0.02)
    assert claim.parts[0].estimate.n == 3 and claim.parts[0].estimate.n_label == "runs"
    assert "Headroom left at epoch 10: 7.70 points" in claim.note
    assert "gains less than 0.1 point per epoch from epoch 9 on" in claim.note
    assert (
        claims.claim_epochs_saturate(resnet_frame([{"test_accuracy": 0.9}]), history.iloc[:0]).verdict == INCONCLUSIVE
    )


def svm_frame(exponent: float, sizes=(1000, 2000, 5000, 10000)) -> pd.DataFrame:
    rows = [
        {
            "kind": "svm",
            "status": "ok",
            "note": "",
            "dataset": dataset,
            "kernel": kernel,
            "train_samples": n,
            "seed": 0,
            "protocol": "stratified",
            "test_accuracy": 0.95,
            "fit_time_s": scale * (n / 1000) ** exponent * (1.03 if i % 2 else 0.97),
        }
        for dataset in ("mnist", "fashion_mnist")
        for kernel, scale in (("rbf", 1.0), ("poly", 1.5))
        for i, n in enumerate(sizes)
    ]
    return pd.DataFrame(rows)


def test_svm_fit_time_growing_as_n_squared_scales_poorly_and_sqrt_n_does_not():
    exponent = claims.claim_svm_scaling(svm_frame(2.0)).parts[-1]
    assert exponent.estimate.value == pytest.approx(2.0, abs=0.05) and exponent.verdict == SUPPORTED
    assert exponent.p_value < 1e-6 and exponent.test == "one-sided t (b > 1)"
    assert claims.claim_svm_scaling(svm_frame(0.5)).verdict == CONTRADICTED
    assert claims.claim_svm_scaling(svm_frame(2.0, sizes=(1000,))).parts[-1].verdict == INCONCLUSIVE


def test_an_svm_within_a_point_of_the_best_resnet_is_competitive_and_four_points_behind_is_not():
    def competitive(svm_accuracy):
        svm = svm_frame(2.0).assign(test_accuracy=svm_accuracy, test_images=14_000)
        resnet = resnet_frame([{"test_accuracy": 0.98, "split": "pooled"}]).assign(test_images=14_000)
        return claims.competitive_part(pd.concat([svm, resnet], ignore_index=True))

    close = competitive(0.979)
    # -0.1 points; se = 100 sqrt(0.979 x 0.021 / 14,000 + 0.98 x 0.02 / 14,000) = 0.1694 points.
    se = 100 * math.sqrt(0.979 * 0.021 / 14_000 + 0.98 * 0.02 / 14_000)
    assert close.estimate.value == pytest.approx(-0.1) and close.verdict == SUPPORTED
    assert close.p_value == pytest.approx(stats.norm.sf(0.9 / se))
    assert competitive(0.94).verdict == CONTRADICTED


def test_the_scaling_exponent_is_fitted_on_our_protocol_only():
    ours = svm_frame(2.0)
    seeds = ours.assign(protocol="seed000", train_samples=60000, fit_time_s=1.0)  # standardised: another rate
    claim = claims.claim_svm_scaling(pd.concat([ours, seeds], ignore_index=True))
    assert claim.parts[-1].estimate.value == pytest.approx(2.0, abs=0.05)


@pytest.mark.parametrize("intel_exponent, depends", [(1.9, False), (0.8, True)])
def test_claim_6_tests_the_exponent_under_each_svc_implementation_and_says_whether_the_verdict_depends_on_it(
    intel_exponent, depends
):
    ours = svm_frame(2.0).assign(backend="sklearn")
    intel = svm_frame(intel_exponent).assign(backend="sklearnex", fit_time_s=lambda f: f["fit_time_s"] / 1.6)
    claim = claims.claim_svm_scaling(pd.concat([ours, intel], ignore_index=True))
    sklearn_part, intel_part = [p for p in claim.parts if p.comparison.startswith("growth exponent")]
    assert "under sklearn's SVC" in sklearn_part.comparison and "under sklearnex's SVC" in intel_part.comparison
    assert sklearn_part.estimate.value == pytest.approx(2.0, abs=0.05)
    assert intel_part.estimate.value == pytest.approx(intel_exponent, abs=0.05)
    assert intel_part.verdict == (CONTRADICTED if depends else SUPPORTED)
    claims.implementations_note(claim)
    said = "depends on the implementation." if depends else "does not depend on the implementation."
    assert claim.note.endswith(said) and "sklearnex: b = " in claim.note
    # Runs recorded before the backend was a factor are scikit-learn's: one part, named as before.
    alone = claims.claim_svm_scaling(ours.drop(columns="backend"))
    assert [p.comparison for p in alone.parts if "'s SVC" in p.comparison] == []


def test_the_fixture_study_gets_all_six_claims(study):
    found = evaluate_claims(study["runs"], study["history"])
    assert [c.number for c in found] == [1, 2, 3, 4, 5, 6]
    assert found[2].verdict == INCONCLUSIVE  # its GPU run was not run
    (exponent,) = [p for p in found[5].parts if p.comparison.startswith("growth exponent")]
    assert exponent.estimate.value == pytest.approx(2.0)  # fit time ~ n^2, three sizes
    # The best SVM against the best ResNet on MNIST's pooled test part, each by its binomial error.
    (competitive,) = [p for p in found[5].parts if p.comparison.startswith("MNIST: best SVM")]
    assert competitive.estimate is not None and competitive.test == "TOST (z)"
    # The best SVM 0.95 (rbf), the best ResNet 0.94 (Adam, 2 epochs, seed 0: 0.90 + 0.02 + 0.01 x 2): +1 point.
    assert competitive.estimate.value == pytest.approx(100 * (0.95 - 0.94))
    assert math.isfinite(found[0].parts[0].estimate.value)
    # Claim 1's one MNIST pair: Q1's seed 0, Adam 0.93 against SGD 0.91 (seed 1's Adam diverged): +2 points, and one
    # pair cannot show consistency.
    assert found[0].parts[0].estimate.value == pytest.approx(100 * (0.93 - 0.91))
    assert found[0].parts[0].estimate.n == 1 and found[0].parts[0].verdict == INCONCLUSIVE


# Figures -----------------------------------------------------------------------------------------------------------


def test_every_figure_is_written_as_png_and_svg_even_without_data(study, tmp_path):
    runs, history = study["runs"], study["history"]
    # Each figure of the layout through the builder plot.py dispatches to, with the inputs and wildcards it declares.
    frames = {"runs": runs, "history": history}
    studies = {
        "curves": ["grid"],
        "accuracy_heatmap": ["grid", "part_a"],
        "pin_memory": ["pin"],
        "epochs": ["more_epochs", "part_a"],
        "cpu_vs_gpu": ["devices"],
        "svm_scaling": ["svm"],
    }
    assert set(studies) == set(FIGURES) == set(plots.BUILDERS)
    written = []
    for name, figure in FIGURES.items():
        wildcards = {"dataset": "mnist", "model": "resnet18"} if figure.wildcards else {}
        stem = tmp_path / figure_stem(name, **wildcards)
        inputs = {table: frames[table] for table in figure.inputs}
        written += plots.BUILDERS[name](stem=stem, studies=studies[name], **inputs, **wildcards)
    written += plots.BUILDERS["pin_memory"](stem=tmp_path / "no_study", studies=[], runs=runs)
    written += plots.BUILDERS["svm_scaling"](stem=tmp_path / "no_runs", studies=["absent"], runs=runs)
    assert len(written) == 16
    assert (tmp_path / "curves_mnist_resnet18.png").exists()
    for path in written:
        head = path.read_bytes()[:200]
        assert head.startswith(b"\x89PNG") if path.suffix == ".png" else b"<svg" in path.read_bytes()[:2000], path
    assert "no data: no study is mapped" in (tmp_path / "no_study.svg").read_text()
    assert "no data: no SVM run in study absent" in (tmp_path / "no_runs.svg").read_text()


SVG = "{http://www.w3.org/2000/svg}"


def svg_root(path) -> ET.Element:
    return ET.parse(path, ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))).getroot()


def svg_texts(path) -> list[str]:
    """Every text a matplotlib SVG draws: it draws glyphs as paths, each text's string in a comment before them."""
    return [node.text.strip() for node in svg_root(path).iter() if node.tag is ET.Comment]


def group_ids(path, prefix: str) -> list[str]:
    return [g.get("id") for g in svg_root(path).iter(f"{SVG}g") if g.get("id", "").startswith(prefix)]


def plotted_values(path, gid: str) -> list[float]:
    """The data value of each marker of the line whose SVG group has id `gid`, read off its axes' y-tick labels
    (a tick's mark and label give a pixel and a value; two of them the linear scale)."""
    root = svg_root(path)
    axes = next(
        a
        for a in root.iter(f"{SVG}g")
        if a.get("id", "").startswith("axes_") and any(g.get("id") == gid for g in a.iter(f"{SVG}g"))
    )
    ticks = []
    for tick in axes.iter(f"{SVG}g"):
        if tick.get("id", "").startswith("ytick_"):
            pixel = float(next(tick.iter(f"{SVG}use")).get("y"))
            label = next(node.text for node in tick.iter() if node.tag is ET.Comment)
            ticks.append((pixel, float(label.strip().replace("\u2212", "-"))))
    (pixel_a, value_a), (pixel_b, value_b) = ticks[0], ticks[-1]
    line = next(g for g in axes.iter(f"{SVG}g") if g.get("id") == gid)
    scale = (value_b - value_a) / (pixel_b - pixel_a)
    return [value_a + (float(use.get("y")) - pixel_a) * scale for use in line.iter(f"{SVG}use")]


def test_the_heatmap_shows_each_cells_mean_test_accuracy(study, tmp_path):
    """Each cell's text is its mean test accuracy over the sources that finished, from the fixture's formula (0.90,
    +0.02 for Adam, +0.005 per seed, +0.01 per epoch): Q1's SGD the mean of 91.0 and 91.5 (seeds 0 and 1), its Adam
    93.0 (seed 1 diverged); Part A's SGD (1 epoch) 91.0 and Adam (2 epochs) 94.0, for both models."""
    plots.accuracy_heatmap(stem=tmp_path / "heatmap", studies=["grid", "part_a"], runs=study["runs"])
    svg = tmp_path / "heatmap.svg"
    texts = svg_texts(svg)
    # The panels are the axes labelled "learning rate" (the colour bar is an axes too); a cell's text has one decimal.
    panels = [a for a in svg_root(svg).iter(f"{SVG}g") if re.fullmatch(r"axes_\d+", a.get("id", ""))]
    cells = [
        node.text.strip()
        for panel in panels
        for node in panel.iter()
        if node.tag is ET.Comment
        and re.fullmatch(r"\d+\.\d", node.text.strip())
        and any(n.tag is ET.Comment and n.text.strip() == "learning rate" for n in panel.iter())
    ]
    sgd_mean = f"{np.mean([0.91, 0.915]) * 100:.1f}"  # 91.25, a hair above in floating point: 91.3
    assert sorted(cells) == sorted([sgd_mean, "93.0"] + ["91.0", "94.0"] * 2)
    # Panels per model and batch size, cells per optimizer and lr: the cells no run is in (each text line apart).
    # ResNet-18 at 32 (Q1): lr 0.0001 for both; at 16 (Part A) and ResNet-50 at 16: the other lr of each optimizer;
    # ResNet-50 at 32: all four.
    assert texts.count("not in") == texts.count("grid") == 2 + 2 + 2 + 4
    for title in (
        "MNIST, ResNet-18, batch 16",
        "MNIST, ResNet-18, batch 32",
        "MNIST, ResNet-50, batch 16",
        "MNIST, ResNet-50, batch 32",
    ):
        assert title in texts
    assert "test accuracy (%)" in texts and "learning rate" in texts


def test_training_curves_draw_validation_from_validation_accuracy_below_training(study, tmp_path):
    """Q1's curves at epoch 1, from the fixture's formula: training accuracy 0.91 + 0.005 per seed (Adam +0.02),
    validation 0.002 below it; SGD averaged over seeds 0 and 1, Adam seed 0 alone (seed 1 diverged). Loss: training
    1.0, validation 1.2."""
    stem = tmp_path / "curves"
    plots.training_curves(
        stem=stem, studies=["grid"], runs=study["runs"], history=study["history"], dataset="mnist", model="resnet18"
    )
    svg = stem.with_suffix(".svg")
    points = range(len(group_ids(svg, "train-accuracy-")))
    train = sorted(v for i in points for v in plotted_values(svg, f"train-accuracy-{i}"))
    validation = sorted(v for i in points for v in plotted_values(svg, f"validation-accuracy-{i}"))
    assert train == pytest.approx([91.25, 93.0], abs=0.01)
    assert validation == pytest.approx([91.05, 92.8], abs=0.01)
    for name, loss in (("train-loss", 1.0), ("validation-loss", 1.2)):
        assert [v for i in points for v in plotted_values(svg, f"{name}-{i}")] == pytest.approx([loss] * 2, abs=1e-3)
    texts = svg_texts(svg)
    # The grid points named by the factor that varies, Adam's with what became of its second seed.
    assert {"train", "validation", "SGD", "Adam (1 of 2: diverged at epoch 1)"} <= set(texts)


def test_accuracy_against_epochs_draws_each_longest_runs_validation_accuracy(study, tmp_path):
    """The longest finished run of each series: Adam's two epochs (validation 0.928, 0.936, as 0.90 + 0.02 + 0.008
    per epoch) in the epochs study and in Part A for both models, and Part A's one-epoch SGD (0.908)."""
    plots.accuracy_against_epochs(
        stem=tmp_path / "epochs", studies=["more_epochs", "part_a"], runs=study["runs"], history=study["history"]
    )
    svg = tmp_path / "epochs.svg"
    drawn = sorted(round(v, 2) for gid in group_ids(svg, "validation-accuracy-") for v in plotted_values(svg, gid))
    assert drawn == pytest.approx(sorted([92.8, 93.6] * 3 + [90.8] * 2), abs=0.01)


def test_cpu_against_gpu_shows_the_cpu_time_over_the_gpu_time(study, tmp_path):
    """The devices study with its CUDA run finished at a quarter of the CPU run's 10 s: speedup 4.0x, each bar named."""
    runs = study["runs"].copy()
    cuda = runs["studies"].str.contains("devices") & (runs["device"] == "cuda")
    runs.loc[cuda, ["status", "note", "train_time_s", "test_accuracy"]] = ["ok", None, 2.5, 0.93]
    plots.cpu_vs_gpu_times(stem=tmp_path / "devices", studies=["devices"], runs=runs)
    texts = svg_texts(tmp_path / "devices.svg")
    assert "4.0x" in texts and "CPU 10.0 s" in texts and "GPU 2.5 s" in texts


# The workflow and `snakemake --report` -----------------------------------------------------------------------------


def add_dummy_figure(checkout: Path) -> None:
    """A new figure as a user adds one: its entry, its builder and its caption, nothing else."""
    package = checkout / "workflow/scripts/ablation/report"
    with open(package / "layout.py", "a") as layout:
        layout.write('\nFIGURES["dummy"] = Figure("A dummy figure of the runs", "q1", "dummy runs", lead="Dummy:")\n')
    with open(package / "plots.py", "a") as builders:
        builders.write(
            '\n\n@figure("dummy")\ndef dummy(stem, title, runs):\n'
            '    fig, ax = plt.subplots()\n    ax.set_title(f"{title}: {len(runs)}")\n    return save(fig, stem)\n'
        )
    (checkout / "report/figure_dummy.rst").write_text("A dummy figure, added by a test.\n")


def add_dummy_factor(checkout: Path) -> None:
    """A new ResNet factor as a user adds one: its schema entry with its default (last, after momentum), the training
    code that reads it, and its display name, nothing else."""
    add_schema_factor(checkout)
    read = '    torch.manual_seed(run["seed"])\n'
    edit_copy(
        checkout,
        "workflow/scripts/ablation/train/resnet.py",
        read,
        read + "    print(f\"dummy factor: {run['dummy']}\", file=log)\n",
    )
    edit_copy(
        checkout,
        "workflow/scripts/ablation/study/names.py",
        '    "backend": "SVC Implementation",\n',
        '    "backend": "SVC Implementation",\n    "dummy": "Dummy",\n',
    )


def assert_the_dummy_factor_is_picked_up(checkout: Path, workflow, out: Path, earlier: Path) -> None:
    """The factor add_dummy_factor added, after `workflow` (the snakemake run of write_protocols_config's studies, the
    mixed one at dummy=marked) in `checkout`, whose outdir is `out`: planned (the run left out keeps its default), in
    the job's wildcards, the run's path, params and log, the tables and runs.html; `make migrate` moves a run recorded
    before it (written under `earlier`) to its default."""
    readme = (out / "report/README.md").read_text()
    runs = read_runs(out / "runs.csv")
    resnet = runs[runs["kind"] == "resnet"].set_index("status")
    assert resnet.loc["ok", "dummy"] == "marked" and resnet.loc["not_run", "dummy"] == "plain"
    assert "dummy=marked" in workflow.stdout + workflow.stderr and resnet.loc["ok", "run_id"].endswith("/dummy~marked")
    record = json.loads(Path(resnet.loc["ok", "metrics_path"]).read_text())
    assert record["params"]["dummy"] == "marked"
    (run_log,) = (out / "logs/resnet").rglob("dummy~marked.log")
    assert "dummy factor: marked" in run_log.read_text()
    # The tables show it where it varies, by its display name: q1's two runs differ in it.
    (q1_header,) = [line for line in readme.splitlines() if line.startswith("| Batch Size | Optimizer |")]
    assert "| Dummy |" in q1_header and "| marked |" in readme and "| plain |" in readme
    assert "<th>dummy</th>" in (out / "report/runs.html").read_text()
    # A run recorded before the factor existed trained with its default: `make migrate` appends that to its path.
    before = earlier / "runs" / Path(resnet.loc["ok", "run_id"]).parent / "metrics.json"
    before.parent.mkdir(parents=True)
    before.write_text("{}")
    move = f"from ablation.ops.migrate import migrate; print(migrate({str(earlier)!r}))"
    env = {**os.environ, "PYTHONPATH": str(checkout / "workflow/scripts")}
    moved = subprocess.run([sys.executable, "-c", move], env=env, capture_output=True, text=True, check=True)
    assert moved.stdout.strip() == "(1, [])" and (before.parent / "dummy~plain/metrics.json").read_text() == "{}"


def write_protocols_config(path: Path, fixture_data, **mixed_factors) -> Path:
    """A study whose only run needs a GPU beside a run under other protocols (and `mixed_factors`), and an SVM study
    under both."""
    gpu_only = {"grid": tiny_grid(batch_size=[32], device=["cuda"])}
    mixed = {
        "grid": tiny_grid(
            device=["cpu"], input_size=[32], stem=["3ch"], split=["seed001"], normalisation=["half"], **mixed_factors
        )
    }
    # Our SVM protocol beside source 000's (standardised, scored on its training images and the official test set).
    svm_mixed = {
        "grid": {"dataset": ["mnist"], "kernel": ["rbf"], "train_samples": [100], "protocol": ["stratified", "seed000"]}
    }
    mapping = {
        "part_a": [],
        "q1": ["gpu_only", "mixed"],
        "pin_memory": [],
        "epochs": [],
        "svm": ["svm_mixed", "absent"],
        "q2": ["gpu_only"],
    }
    return write_config(
        path,
        fixture_data,
        resnet_studies={"gpu_only": gpu_only, "mixed": mixed},
        svm_studies={"svm_mixed": svm_mixed},
        report={"tables": mapping},
    )


@pytest.mark.slow
def test_report_rules_and_snakemake_report_on_a_tiny_workflow(fixture_data, tmp_path):
    """A study whose only run needs a GPU (left out here) beside one run under other protocols (source 001's split and
    normalisation, 32x32, the 3ch stem): every table, figure and the README are written, the protocols named, and
    `snakemake --report` collects every registered item. It runs in a copy of the checkout with a figure added as its
    entry, builder and caption, and a ResNet factor as its schema entry, training code and display name: the rules,
    README.md and report.html pick up the figure; the plan, the run's path, params and log, runs.csv and the tables
    the factor."""
    checkout = checkout_copy(tmp_path / "checkout")
    add_dummy_figure(checkout)
    add_dummy_factor(checkout)
    config = write_protocols_config(tmp_path / "config.yaml", fixture_data, dummy=["marked"])
    args = ["-s", str(checkout / "Snakefile"), "-d", str(tmp_path), "--configfile", str(config)]
    first = run_snakemake("--cores", "2", *args)
    out = tmp_path / "results"
    readme = (out / "report/README.md").read_text()
    assert_the_dummy_factor_is_picked_up(checkout, first, out, tmp_path / "earlier")
    runs = read_runs(out / "runs.csv")
    assert "Dummy:\n\n![A dummy figure of the runs](plots/dummy.png)" in readme
    # Drawn from table q1's studies: their two ResNet runs (the GPU one not run here).
    assert "A dummy figure of the runs: 2" in svg_texts(out / "report/plots/dummy.svg")
    assert "not run: no GPU" in readme and "Study absent, mapped to this table, is not in this config." in readme
    assert "Omitted: no study is mapped to this table (`report.tables.part_a`" in readme
    assert sorted(runs["status"]) == ["not_run", "ok", "ok", "ok"]
    svm = runs[runs["kind"] == "svm"].set_index("protocol")
    assert svm.loc["seed000", "train_accuracy"] > 0 and pd.isna(svm.loc["stratified", "train_accuracy"])
    (svm_header,) = [
        line
        for line in readme.splitlines()
        if line.startswith("| Dataset | Kernel | Train Samples |") and "Source 001 (%)" not in line
    ]  # ours, not source 001's table beside ours
    assert "| Protocol | Test Accuracy (%) | Accuracy on Its Training Images (%) |" in svm_header
    # The mixed run trained under its protocol: source 001's split (the test file's 100 fixture images), 3 channels.
    (mixed_row,) = runs[(runs["status"] == "ok") & (runs["kind"] == "resnet")].to_dict("records")
    record = json.loads(Path(mixed_row["metrics_path"]).read_text())
    assert record["split"]["test"] == 100 and record["macs"] > 0 and "split~seed001" in mixed_row["run_id"]
    (protocols,) = [line for line in readme.splitlines() if "Protocol of these runs: " in line and "32x32" in line]
    assert "28x28, 1ch stem, fp32, split pooled, normalisation train_stats (1 run)" in protocols
    assert "32x32, 3ch stem, fp32, split seed001, normalisation half (1 run)" in protocols
    assert "## What each source's code did" in readme and "Tested on the official 10,000-image test set." in readme
    again = run_snakemake("--cores", "2", *args)
    assert "Nothing to be done" in again.stdout + again.stderr

    run_snakemake(*args, "--report", str(tmp_path / "report.html"))
    html = (tmp_path / "report.html").read_text()
    figures = ["curves_mnist_resnet18", "accuracy_heatmap", "pin_memory", "epochs", "cpu_vs_gpu", "svm_scaling"]
    figures.append("dummy")
    assert "A dummy figure, added by a test." in html and "dummy runs" in html
    registered = ["README.md", "runs.csv", *(f"{t}.html" for t in TABLE_TITLES), *(f"{f}.png" for f in figures)]
    missing = [name for name in registered if name not in html]
    assert not missing, f"registered but not in report.html: {missing}"
    for path in [*(out / "report/plots").glob("*.png"), *(out / "report/tables").glob("*.html")]:
        assert path.stem + path.suffix in registered
