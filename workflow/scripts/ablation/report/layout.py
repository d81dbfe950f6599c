"""The report's layout: its tables and figures, and the report.html section (category) of each.

One table is the single place for each: the Snakefile generates the plot rules from FIGURES and names the rendered
tables from TABLES, `plot.py` draws a figure with the builder named here, and report.html files each item under its
table's section (named as in seed 000's README). A new figure is one entry in FIGURES, its builder in
ablation.report.plots and its caption, report/figure_<name>.rst. Plain data: the Snakefile imports it while it parses.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class TableSpec:
    title: str
    category: str  # the report.html section


# The seeds' tables, in report order; config `report.tables.<key>` names the studies each shows. The analysis of
# seed 000's claims is drawn from every run.
TABLES = {
    "part_a": TableSpec("Seed 001, Part A: MNIST and Fashion-MNIST ablations", "Question 1"),
    "q1": TableSpec("Seed 000, Question 1: every batch size x optimizer x learning rate", "Question 1"),
    "pin_memory": TableSpec("pin_memory: accuracy and time", "Hyperparameters"),
    "epochs": TableSpec("Epochs: accuracy and time", "Hyperparameters"),
    "svm": TableSpec("Question 1(b): SVM baseline", "Question 1(b)"),
    "q2": TableSpec("Question 2: CPU against GPU, with MACs, FLOPs and parameters", "Question 2"),
    "analysis": TableSpec("Analysis: seed 000's claims against our data", "Analysis"),
}
TABLE_KEYS = [key for key in TABLES if key != "analysis"]  # the tables that config `report.tables` feeds
TABLE_TITLES = {key: table.title for key, table in TABLES.items()}


@dataclass(frozen=True)
class Figure:
    builder: str  # the function of ablation.report.plots that draws it
    table: str  # it draws the runs of this table's studies, and sits in its report.html section
    item: str  # its label in report.html
    inputs: tuple[str, ...] = ("runs",)  # outputs of rule aggregate it reads: runs (runs.csv), history (history.csv)
    wildcards: tuple[str, ...] = ()  # one figure per combination of these factors among the table's runs
    model_label: str = "all"  # report.html's model label where `model` is not a wildcard

    @property
    def category(self) -> str:
        return TABLES[self.table].category


FIGURES = {
    "curves": Figure(
        "training_curves", "q1", "training curves", inputs=("runs", "history"), wildcards=("dataset", "model")
    ),
    "accuracy_heatmap": Figure("accuracy_heatmap", "q1", "accuracy across the grid"),
    "pin_memory": Figure("pin_memory_times", "pin_memory", "pin_memory training time"),
    "epochs": Figure("accuracy_against_epochs", "epochs", "accuracy against epochs", inputs=("runs", "history")),
    "cpu_vs_gpu": Figure("cpu_vs_gpu_times", "q2", "CPU against GPU training time"),
    "svm_scaling": Figure("svm_scaling", "svm", "SVM fit time against n", model_label="SVM"),
}


def figure_stem(name: str, **values) -> str:
    """A figure's file name without suffix: its name, then its wildcards' values (or `{wildcard}` patterns)."""
    wildcards = FIGURES[name].wildcards
    return "_".join([name, *(str(values.get(w, f"{{{w}}}")) for w in wildcards)])
