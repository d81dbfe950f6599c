"""Every path a study writes below its outdir, and the names of a run's files: the one place that builds them, for
the rules, training, aggregation, status and migration alike.

A run's *point* is one `factor~value` directory per factor, in the study's factor order (study.config's
RESNET_FACTORS, SVM_FACTORS): `dataset~mnist/model~resnet18/.../seed~0`, the layout of snakemake's Paramspace. What a
run resumes from sits under `checkpoints/`, outside `runs/`, as snakemake deletes an incomplete job's outputs but a
checkpoint must survive a kill.
"""

from collections.abc import Iterable, Mapping

KINDS = ("resnet", "svm")
METRICS = "metrics.json"
CHECKPOINT = "checkpoint.pt"
ATTEMPTS = "attempts.log"  # every attempt's log lines until the run is counted (outputs.runlog)
PROGRESS = "progress.json"  # epoch and step of a running run (outputs.progress)


def point(run: Mapping, factors: Iterable[str]) -> str:
    return "/".join(f"{factor}~{run[factor]}" for factor in factors)


def wildcard_point(factors: Iterable[str]) -> str:
    """The point with a snakemake wildcard for each factor's value."""
    factors = list(factors)
    return point({factor: f"{{{factor}}}" for factor in factors}, factors)


def run_metrics(outdir, kind: str, point: str) -> str:
    return f"{outdir}/runs/{kind}/{point}/{METRICS}"


def checkpoint(outdir, kind: str, point: str) -> str:
    """What a run resumes from; its attempts log (ATTEMPTS) and progress file (PROGRESS) sit beside it."""
    return f"{outdir}/checkpoints/{kind}/{point}/{CHECKPOINT}"


def run_log(outdir, kind: str, point: str) -> str:
    return f"{outdir}/logs/{kind}/{point}.log"


def run_benchmark(outdir, kind: str, point: str) -> str:
    return f"{outdir}/benchmarks/{kind}/{point}.tsv"


def split_file(outdir, split: str, dataset: str, suffix: str) -> str:
    """A split's images (`npz`) or its description (`json`)."""
    return f"{outdir}/splits/{split}/{dataset}.{suffix}"


def split_log(outdir, split: str, dataset: str) -> str:
    return f"{outdir}/logs/split_dataset/{split}/{dataset}.log"


def aggregated(outdir) -> dict[str, str]:
    """The tables rule aggregate writes, by the names report.layout's Figure.inputs use."""
    return {"runs": f"{outdir}/runs.csv", "history": f"{outdir}/history.csv"}


def report_dir(outdir) -> str:
    return f"{outdir}/report"


def report_log(outdir, name: str) -> str:
    return f"{outdir}/logs/report/{name}.log"


def mlflow_database(outdir) -> str:
    """The default MLflow tracking store of `make mlflow` (a SQLite database)."""
    return f"{outdir}/mlflow.db"


def mlflow_artifacts(outdir) -> str:
    return f"{outdir}/mlflow-artifacts"
