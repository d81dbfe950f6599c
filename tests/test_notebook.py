"""notebooks/colab.ipynb, executed as Jupyter executes it (nbclient, an IPython kernel) on the CPU, in a copy of the
checkout: it finds the checkout it is in (no clone), runs the study's make targets, shows the report's tables and
figures inline, and writes every run into MLflow."""

import csv
import re
import shutil

import pytest

from conftest import REPO, checkout_copy

nbformat = pytest.importorskip("nbformat", reason="nbformat is in requirements.lock: run `make venv`")
nbclient = pytest.importorskip("nbclient", reason="nbclient is the optional extra's: `make test` installs it")
pytestmark = pytest.mark.slow

# The notebook's parameters here: the finished tiny study (conftest's finished_tiny_study) instead of the demo, and
# the venv's torch from requirements.lock instead of Colab's (TORCH=system), the venv `make test` built, which the
# copy shares (its `make venv` finds it current). No GPU study: this host has no GPU.
PARAMETERS = 'CONFIG = "config.yaml"\nTORCH = "lock"\nGPU_STUDY = None\n'


def outputs(cell) -> str:
    """The text a cell showed: its printed lines and the markdown it displayed."""
    parts = [output.get("text", "") for output in cell.outputs]
    parts += [output.get("data", {}).get("text/markdown", "") for output in cell.outputs]
    return "".join(parts)


@pytest.fixture(scope="module")
def executed(finished_tiny_study, tmp_path_factory):
    """The notebook executed in a checkout copy that holds the finished study (trained, its report not yet made)."""
    repo = checkout_copy(tmp_path_factory.mktemp("notebook") / "repo")
    (repo / ".venv").symlink_to(REPO / ".venv")
    shutil.copytree(finished_tiny_study, repo, symlinks=True, dirs_exist_ok=True)
    notebook = nbformat.read(repo / "notebooks/colab.ipynb", as_version=4)
    (at,) = [i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", [])]
    notebook.cells.insert(at + 1, nbformat.v4.new_code_cell(PARAMETERS))
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(repo / "notebooks")}}
    )
    client.execute()
    return {"notebook": notebook, "repo": repo}


def cell_running(notebook, text: str):
    (cell,) = [cell for cell in notebook.cells if cell.cell_type == "code" and text in cell.source]
    return cell


def test_the_notebook_uses_its_checkout_plans_then_runs_the_study(executed):
    notebook, repo = executed["notebook"], executed["repo"]
    assert f"The checkout: {repo}\n" in outputs(cell_running(notebook, "def find_checkout"))
    plan = outputs(cell_running(notebook, 'make("plan", config)'))
    assert "$ make plan CONFIG=config.yaml TORCH=lock" in plan and "ResNet" in plan
    run = outputs(cell_running(notebook, 'make("run", config, "YES=1")'))
    assert "$ make run CONFIG=config.yaml TORCH=lock YES=1" in run
    # The runs were trained already: only the report is made.
    assert "train_resnet" not in run and "render_report" in run
    assert (repo / "results/report/README.md").is_file()


def test_the_notebook_shows_every_table_and_figure_of_the_report(executed):
    cell = cell_running(executed["notebook"], "def outdir_of")
    report = executed["repo"] / "results/report"
    shown = outputs(cell)
    for table in (report / "tables").glob("*.md"):
        assert table.read_text() in shown, table.name
    images = [output for output in cell.outputs if "image/png" in output.get("data", {})]
    figures = sorted(report.glob("plots/*.png"))
    assert len(images) == len(figures) > 0
    assert [f"**{figure.stem}**" for figure in figures] == re.findall(r"\*\*\w+\*\*", shown)


def test_the_notebook_writes_every_run_into_mlflow(executed):
    shown = outputs(cell_running(executed["notebook"], 'make("mlflow", config)'))
    with open(executed["repo"] / "results/runs.csv", newline="") as f:
        runs = len(list(csv.DictReader(f)))
    assert f"MLflow: {runs} run(s) added, 0 replaced" in shown
    assert (executed["repo"] / "results/mlflow.db").is_file()
