"""Runs recorded before the fidelity factors move to their new paths; the workflow-level case is in test_workflow."""

import json

import pytest
from snakemake.utils import Paramspace

from ablation.ops.migrate import migrate, pending, report
from ablation.outputs import paths
from ablation.study.config import load_config, resnet_runs, svm_runs
from ablation.study.factors import RESNET_FACTORS, SVM_FACTORS
from conftest import REPO

# The directories the first factors after the seed add, at the values runs recorded before them trained with.
LEGACY_SUFFIX = ["input_size~28", "stem~1ch", "precision~fp32", "split~pooled", "normalisation~train_stats"]
FIRST_LAYOUT = (
    "dataset~mnist/model~resnet18/batch_size~16/optimizer~{optimizer}/lr~0.001/epochs~1/pin_memory~False/"
    "device~cpu/loader~dataloader/seed~0"
)


def test_a_move_of_the_earlier_layout_never_overwrites_and_names_what_it_left(tmp_path):
    # A run's directory in the first layout: its ten factors, the seed last.
    point = tmp_path / "runs/resnet" / FIRST_LAYOUT.format(optimizer="adam")
    (point / "metrics.json").parent.mkdir(parents=True)
    (point / "metrics.json").write_text("earlier")
    taken = point.joinpath(*LEGACY_SUFFIX, "momentum~0.0", "metrics.json")  # Adam reads no momentum
    taken.parent.mkdir(parents=True)
    taken.write_text("newer")
    (tmp_path / "splits").mkdir()
    (tmp_path / "splits/mnist.npz").write_text("split")
    # Before the move, the files that can move, and the command, for the workflow and `make plan` to stop at.
    note = pending(tmp_path, "my.yaml")
    assert note.startswith(f"1 file(s) under {tmp_path} are of runs recorded by an earlier version")
    assert f"(e.g. {tmp_path / 'splits/mnist.npz'})" in note and "`make migrate CONFIG=my.yaml`" in note
    moved, kept = migrate(tmp_path)
    assert moved == 1 and kept == [point / "metrics.json"]
    assert taken.read_text() == "newer" and (point / "metrics.json").read_text() == "earlier"
    assert (tmp_path / "splits/pooled/mnist.npz").read_text() == "split"
    # What is left cannot move: the workflow does not stop for it (the report of the move named it).
    assert pending(tmp_path) == ""
    text = report(tmp_path, moved, kept)
    assert "Moved 1 file(s)" in text and "Left 1 file(s) of the earlier layout where they are" in text
    assert migrate(tmp_path) == (0, [point / "metrics.json"])


def test_an_sgd_run_of_the_second_layout_moves_to_the_momentum_its_metrics_recorded(tmp_path):
    """The second layout ends at the normalisation. Its SGD run trained with config `training.momentum` of then (0.8
    here): its metrics, log and benchmark go to momentum~0.8. A point with a checkpoint only goes to 0.9, the default
    of then (resuming checks it: test_train)."""
    second = FIRST_LAYOUT.format(optimizer="sgd") + "/" + "/".join(LEGACY_SUFFIX)
    files = {
        f"runs/resnet/{second}/metrics.json": json.dumps({"training": {"momentum": 0.8, "weight_decay": 0.0}}),
        f"logs/resnet/{second}.log": "log",
        f"benchmarks/resnet/{second}.tsv": "s\n1",
        f"checkpoints/resnet/{second.replace('seed~0', 'seed~1')}/checkpoint.pt": "checkpoint",
    }
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    assert migrate(tmp_path) == (4, [])
    moved = {
        f"runs/resnet/{second}/momentum~0.8/metrics.json",
        f"logs/resnet/{second}/momentum~0.8.log",
        f"benchmarks/resnet/{second}/momentum~0.8.tsv",
        f"checkpoints/resnet/{second.replace('seed~0', 'seed~1')}/momentum~0.9/checkpoint.pt",
    }
    assert {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()} == moved
    # Moved whole: each file holds what was written at its old path.
    assert [(tmp_path / new).read_text() for new in sorted(moved)] == [files[old] for old in sorted(files)]


@pytest.mark.parametrize("recorded_before", ["protocol", "backend"])
def test_an_svm_run_recorded_before_its_protocol_or_backend_moves_to_ours_and_sklearn(recorded_before, tmp_path):
    point = "dataset~mnist/kernel~rbf/train_samples~1000/seed~0"
    if recorded_before == "backend":
        point += "/protocol~seed001"
    for path in (f"runs/svm/{point}/metrics.json", f"logs/svm/{point}.log", f"benchmarks/svm/{point}.tsv"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(path)
    assert migrate(tmp_path) == (3, [])
    new = point + ("/protocol~stratified" if recorded_before == "protocol" else "")
    assert (tmp_path / f"runs/svm/{new}/backend~sklearn/metrics.json").read_text().startswith("runs/")
    assert (tmp_path / f"logs/svm/{new}/backend~sklearn.log").read_text() == f"logs/svm/{point}.log"
    assert (tmp_path / f"benchmarks/svm/{new}/backend~sklearn.tsv").read_text() == f"benchmarks/svm/{point}.tsv"
    assert (tmp_path / f"runs/svm/{new}/backend~sklearn/metrics.json").read_text() == f"runs/svm/{point}/metrics.json"
    assert migrate(tmp_path) == (0, []), "the new layout is not moved again"


@pytest.mark.parametrize("configfile", ["config/config.yaml", "config/demo.yaml"])
def test_a_runs_point_is_the_path_snakemakes_paramspace_gives_it_so_recorded_runs_keep_their_paths(configfile):
    # Runs recorded while the rules named their paths with a Paramspace stay where they are, and up to date.
    config = load_config(REPO / configfile)
    resnet, _ = resnet_runs(config, cuda_visible=True)
    for table, factors in ((resnet, RESNET_FACTORS), (svm_runs(config), SVM_FACTORS)):
        space = Paramspace(table[factors])
        assert [paths.point(run, factors) for run in table[factors].to_dict("records")] == list(space.instance_patterns)
        assert paths.wildcard_point(factors) == space.wildcard_pattern
