"""The report's registry: each table and figure one entry, which the rules, README.md and report.html loop over.

The Snakefile writes a plot rule per FIGURES entry and names the rendered tables from TABLES; README.md shows, in the
order of TABLES, each table under its heading and lead, then each figure drawn from that table's studies (in the
order of FIGURES) under its lead; report.html files every item under its table's section (named as in source 000's
README). A new figure is one entry in FIGURES, its builder in ablation.report.plots (`@figure("<name>")`) and its
caption, report/figure_<name>.rst; a new table likewise an entry in TABLES, its builder in ablation.report.tables,
its caption report/table_<key>.rst and its `report.tables` key in the config schema. Plain data: the Snakefile
imports it while it parses.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class TableSpec:
    title: str
    category: str  # the report.html section
    heading: str = ""  # the README.md heading that opens the part of the report this table starts, if it does
    lead: str = ""  # a line README.md shows before it


# The sources' tables, in report order (headings as in source 000's README); config `report.tables.<key>` names the
# studies each shows. The analysis of source 000's claims is drawn from every run, in README.md's own Analysis part.
TABLES = {
    "q1": TableSpec(
        "Source 000, Question 1: every batch size x optimizer x learning rate", "Question 1", heading="Question 1."
    ),
    "part_a": TableSpec("Source 001, Part A: MNIST and Fashion-MNIST ablations", "Question 1"),
    "pin_memory": TableSpec(
        "pin_memory: accuracy and time",
        "Hyperparameters",
        heading="Results after varying hyperparameters for the ResNets on MNIST and Fashion-MNIST.",
        lead="1.) Pin Memory (True/False)",
    ),
    "epochs": TableSpec("Epochs: accuracy and time", "Hyperparameters", lead="2.) Epochs"),
    "svm": TableSpec("Question 1(b): SVM baseline", "Question 1(b)", heading="Question 1 part b.)"),
    "q2": TableSpec(
        "Question 2: CPU against GPU, with MACs, FLOPs and parameters",
        "Question 2",
        heading="Question 2.) CPU against GPU: accuracy, time and FLOPs",
    ),
    "analysis": TableSpec("Analysis: source 000's claims against our data", "Analysis"),
}
TABLE_KEYS = [key for key in TABLES if key != "analysis"]  # the tables that config `report.tables` feeds
TABLE_TITLES = {key: table.title for key, table in TABLES.items()}


@dataclass(frozen=True)
class Figure:
    title: str  # drawn over it and README.md's text for it; "{dataset}", "{model}" name its wildcards' values
    table: str  # it draws the runs of this table's studies, and follows that table in README.md and report.html
    item: str  # its label in report.html
    lead: str = ""  # a line README.md shows before it
    kind: str = "resnet"  # the runs it draws: resnet or svm
    inputs: tuple[str, ...] = ("runs",)  # outputs of rule aggregate it reads: runs (runs.csv), history (history.csv)
    wildcards: tuple[str, ...] = ()  # one figure per combination of these factors among the table's runs
    model_label: str = "all"  # report.html's model label where `model` is not a wildcard

    @property
    def category(self) -> str:
        return TABLES[self.table].category


FIGURES = {
    "curves": Figure(
        "Training curves: {dataset}, {model}",
        "q1",
        "training curves",
        lead="Training curves (loss and accuracy per epoch; train solid, validation dashed):",
        inputs=("runs", "history"),
        wildcards=("dataset", "model"),
    ),
    "accuracy_heatmap": Figure(
        "Test accuracy across the grid", "q1", "accuracy across the grid", lead="Accuracy overview across the grid:"
    ),
    "pin_memory": Figure("pin_memory: training time", "pin_memory", "pin_memory training time"),
    "epochs": Figure(
        "Accuracy and time against epochs", "epochs", "accuracy against epochs", inputs=("runs", "history")
    ),
    "cpu_vs_gpu": Figure("CPU against GPU: training time", "q2", "CPU against GPU training time"),
    "svm_scaling": Figure(
        "SVM fit time against training-set size", "svm", "SVM fit time against n", kind="svm", model_label="SVM"
    ),
}


def figure_stem(name: str, **values) -> str:
    """A figure's file name without suffix: its name, then its wildcards' values (or `{wildcard}` patterns)."""
    wildcards = FIGURES[name].wildcards
    return "_".join([name, *(str(values.get(w, f"{{{w}}}")) for w in wildcards)])
