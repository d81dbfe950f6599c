# Shared by all rule files. The plan is one table of runs per kind, each run named by its point (its path below
# runs/<kind>/, as snakemake's Paramspace would name it), and the input functions. Every path comes from outputs.paths.

import os
from pathlib import Path

from snakemake.exceptions import WorkflowError

from ablation.report.aggregate import in_studies
from ablation.data.sources import data_dir
from ablation.study.config import resnet_runs, svm_runs
from ablation.study.factors import RESNET_FACTORS, SVM_FACTORS, SVM_PROTOCOL_SPLITS
from ablation.ops.gpus import cuda_visible, host_gpus
from ablation.study.hyperparameters import hyperparameters
from ablation.ops.cost import (
    estimate_mem_mb,
    estimate_seconds,
    load_throughput,
    slurm_runtime_min,
    svm_seconds,
)
from ablation.data.idx import FILES
from ablation.report.layout import FIGURES, TABLES, figure_stem
from ablation.report.markup import rst_text
from ablation.ops.migrate import pending as pending_migration
from ablation.study.names import DATASETS
from ablation.outputs import paths
from ablation.outputs.provenance import files_sha256
from ablation.ops.runlock import hold_run_lock
from ablation.report.source_reports import source_files
from ablation.data.split import PROTOCOLS, split_sizes

OUTDIR = config["outdir"]
IDX_FILES = list(FILES.values())

# Only in the snakemake the user started: every cluster job parses this file again.
if not (workflow.remote_exec or workflow.subprocess_exec):
    # Runs recorded in an earlier layout would train again at their new paths: stop and name `make migrate`, which
    # moves them (parsing only looks).
    PENDING_MIGRATION = pending_migration(OUTDIR, *map(str, workflow.configfiles[:1]))
    if PENDING_MIGRATION:
        raise WorkflowError(PENDING_MIGRATION)
    # Held for the life of this snakemake: a later one finds out whether it is alive, and clears the lock of a dead
    # one (a kill -9, a power loss) instead of stopping at it (ops.runlock). Dry runs neither take nor clear it.
    if not workflow.dryrun:
        RUN_LOCK_NOTE = hold_run_lock()
        if RUN_LOCK_NOTE:
            print(RUN_LOCK_NOTE, file=sys.stderr)


# The GPUs local CUDA jobs share (config `gpus`, else nvidia-smi): counted once, for the plan and the GPU slots.
GPUS = host_gpus(config)
RESNET_RUNS, RESNET_LEFT_OUT = resnet_runs(config, cuda_visible(config, GPUS))
SVM_RUNS = svm_runs(config)
# Each kind's points in plan order, and its point with a wildcard per factor (RESNET_POINT, SVM_POINT), which
# the rules' paths take.
RESNET_RECORDS = RESNET_RUNS[RESNET_FACTORS].to_dict("records")
SVM_RECORDS = SVM_RUNS[SVM_FACTORS].to_dict("records")
RESNET_POINTS = [paths.point(run, RESNET_FACTORS) for run in RESNET_RECORDS]
SVM_POINTS = [paths.point(run, SVM_FACTORS) for run in SVM_RECORDS]
RESNET_POINT = paths.wildcard_point(RESNET_FACTORS)
SVM_POINT = paths.wildcard_point(SVM_FACTORS)
# Each run's factors, as plain Python values, by its point: a dict lookup in every input function.
RUN_BY_PATH = {
    **dict(zip(RESNET_POINTS, RESNET_RECORDS)),
    **dict(zip(SVM_POINTS, SVM_RECORDS)),
}

# GPU slots. Locally, snakemake runs at most GPUs x gpu_slots CUDA jobs at once (the `gpu` resource each declares),
# unless --resources gpu=N says otherwise; which GPU each gets is its lease (ablation.ops.leases). On a cluster the
# scheduler assigns GPUs, and a cap from the submit host's GPUs would be wrong.
if workflow.local_exec and GPUS > 0 and "gpu" not in workflow.global_resources:
    workflow.register_resource("gpu", GPUS * config["gpu_slots"])

if len(RESNET_LEFT_OUT):
    print(
        f"Plan: {len(RESNET_LEFT_OUT)} CUDA run(s) left out (gpu: {config['gpu']}, no CUDA device here); "
        "run them on a GPU host or with --profile profiles/slurm.",
        file=sys.stderr,
    )


def resnet_run(wildcards):
    """The factors of the ResNet run these wildcards name, as plain Python values."""
    return RUN_BY_PATH[RESNET_POINT.format(**wildcards)]


def svm_run(wildcards):
    return RUN_BY_PATH[SVM_POINT.format(**wildcards)]


# Timed runs (a study with `timing: exclusive`, study.config.timed_studies) train with no other job of the workflow
# running. Locally such a job takes every core snakemake was given, so the scheduler starts nothing beside it; on SLURM
# it is submitted with --exclusive. Both are resources, not params: changing `timing` reruns nothing, and each run's
# metrics record whether it ran alone.
TIMED = {
    path
    for points, table in ((RESNET_POINTS, RESNET_RUNS), (SVM_POINTS, SVM_RUNS))
    for path, exclusive in zip(points, table["exclusive"])
    if exclusive
}


def timed(pattern):
    """Whether the run that these wildcards fill `pattern` (RESNET_POINT or SVM_POINT) into is timed, as 0 or 1."""
    return lambda wildcards: int(pattern.format(**wildcards) in TIMED)


def slurm_extra(pattern, signal_ahead_s=0):
    """sbatch options beyond the executor's: the whole node for a timed run, and for a training run SIGTERM
    `signal_ahead_s` before its time limit, on which it saves a mid-epoch checkpoint and exits (train.interrupt):
    the profile's retries continue it instead of SLURM killing it and losing the epoch.
    """

    def options(wildcards):
        flags = ["--exclusive"] if timed(pattern)(wildcards) else []
        if signal_ahead_s:
            flags.append(f"--signal=TERM@{signal_ahead_s}")
        return " ".join(flags)

    return options


def job_threads(pattern, threads):
    """`threads:` of a run's job: its own thread count, or locally every core for a timed run."""

    def threads_of(wildcards):
        if workflow.local_exec and timed(pattern)(wildcards):
            return workflow.cores
        return threads(wildcards)

    return threads_of


def resnet_metrics():
    return [paths.run_metrics(OUTDIR, "resnet", point) for point in RESNET_POINTS]


def svm_metrics():
    return [paths.run_metrics(OUTDIR, "svm", point) for point in SVM_POINTS]


def final_targets():
    return resnet_metrics() + svm_metrics() + report_targets()


# The report (workflow/rules/report.smk): its tables and figures are report.layout's; its file set follows from the
# config alone, not from which runs succeeded.
REPORT = paths.report_dir(OUTDIR)
REPORT_TABLES = config["report"]["tables"]
REPORT_TEMPLATES = [
    f"{workflow.basedir}/report/{name}"
    for name in ("README.md.j2", "table.md.j2", "table.html.j2")
]
SOURCE_FILES = [str(p) for p in source_files()]
# The report's rules take a digest of the code as a param: an edit of it redraws the report (seconds), while the
# profiles' rerun triggers leave finished training runs alone (hours each; each records its git commit). One value,
# not the files as inputs, so that a report job does not list every module.
REPORT_CODE_SHA256 = files_sha256(Path(workflow.basedir, "workflow/scripts"))
AGGREGATED = paths.aggregated(OUTDIR)


def table_html(table):
    studies = REPORT_TABLES.get(table, [])
    return report(
        f"{REPORT}/tables/{table}.html",
        caption=f"../../report/table_{table}.rst",
        category=TABLES[table].category,
        subcategory="Tables",
        labels={"item": TABLES[table].title, "studies": ", ".join(studies) or "all"},
    )


# The config text that report.html's captions show (README.rst, table_*.rst), escaped for reStructuredText: snakemake
# renders a caption as rst with each value it names inserted as it is. Rule render_report hands them over as
# `snakemake.params.captions`.
CAPTION_TEXT = {
    "outdir": rst_text(OUTDIR),
    "studies": {
        table: rst_text(", ".join(REPORT_TABLES.get(table, [])) or "none")
        for table in TABLES
    },
}


def figure_png(name):
    """A figure's PNG as report.html shows it, with its wildcards (if any) as patterns."""
    figure = FIGURES[name]
    labels = {"item": figure.item, "dataset": "all", "model": figure.model_label}
    labels.update({w: f"{{{w}}}" for w in figure.wildcards})
    return report(
        f"{REPORT}/plots/{figure_stem(name)}.png",
        caption=f"../../report/figure_{name}.rst",
        category=figure.category,
        subcategory="Figures",
        labels=labels,
    )


def config_path(path):
    """A config file as the report names it: relative to the repository when inside it."""
    relative = os.path.relpath(path, workflow.basedir)
    return str(path) if relative.startswith("..") else relative


def figure_instances(name):
    """The wildcard values of each file of a figure: one per combination of its wildcards among the runs of its
    table's studies (planned or left out), in dataset order; a figure without wildcards is one file.
    """
    figure = FIGURES[name]
    if not figure.wildcards:
        return [{}]
    combinations = set()
    for plan in (RESNET_RUNS, RESNET_LEFT_OUT):
        runs = in_studies(plan, REPORT_TABLES[figure.table])
        combinations |= set(zip(*(runs[w] for w in figure.wildcards)))

    def order(values):
        return tuple(
            DATASETS.index(v) if w == "dataset" else v
            for w, v in zip(figure.wildcards, values)
        )

    return [dict(zip(figure.wildcards, c)) for c in sorted(combinations, key=order)]


def figure_files(name):
    """(wildcard values, PNG path) of each file of a figure."""
    return [
        (values, f"{REPORT}/plots/{figure_stem(name, **values)}.png")
        for values in figure_instances(name)
    ]


def figure_pngs(name):
    return [png for _, png in figure_files(name)]


def report_targets():
    """README.md, the interactive runs table and every figure; the tables are written with README.md."""
    return [
        f"{REPORT}/README.md",
        f"{REPORT}/runs.html",
        *[png for name in FIGURES for png in figure_pngs(name)],
    ]


def data_manifest(dataset):
    """The manifest of a dataset's raw files for the sums this config pins."""
    return f"{data_dir(config['data'], dataset)}/manifest.json"


def split_inputs(wildcards):
    """The data and split of a run. An SVM has no split factor: ours uses the pooled split, the sources' protocols the
    `seed001` split, whose test part is the official test set (ablation.svm.protocol_data).
    """
    split = wildcards.get("split") or SVM_PROTOCOL_SPLITS[wildcards.protocol]
    return {
        "manifest": data_manifest(wildcards.dataset),
        "split_npz": paths.split_file(OUTDIR, split, wildcards.dataset, "npz"),
        "split_json": paths.split_file(OUTDIR, split, wildcards.dataset, "json"),
    }


def resnet_threads(wildcards):
    """Threads a run asks for (as a SLURM job's cpus-per-task); a timed CPU run asks for `timing_cpu_threads`."""
    training = config["training"]
    if wildcards.device == "cuda":
        return training["gpu_threads"]
    if timed(RESNET_POINT)(wildcards) and training["timing_cpu_threads"]:
        return training["timing_cpu_threads"]
    return training["cpu_threads"]


# Resources of a training job, from the run itself: its FLOPs over the host's calibrated (or default) throughput.
THROUGHPUT = load_throughput("resources/throughput.json")
SPLIT_SIZES = split_sizes(config)


def resnet_runtime_min(wildcards, attempt):
    """SLURM time limit in minutes; grows with each retry."""
    run = resnet_run(wildcards)
    seconds = estimate_seconds(run, SPLIT_SIZES, THROUGHPUT)
    return slurm_runtime_min(
        seconds, attempt, config["training"]["stop_signal_ahead_s"]
    )


def svm_runtime_min(wildcards, attempt):
    run = svm_run(wildcards)
    return slurm_runtime_min(
        svm_seconds(run["train_samples"], run["protocol"]), attempt
    )


def resnet_mem_mb(wildcards, attempt):
    return estimate_mem_mb(resnet_run(wildcards)) * attempt
