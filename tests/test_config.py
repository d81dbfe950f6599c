"""The config schema, its error messages, and the expansion of the seeds' studies into runs."""

import copy

import pytest
import yaml

from ablation.config import ConfigError, load_config, resnet_runs, svm_runs, validate_config
from conftest import REPO

FULL = yaml.safe_load((REPO / "config/config.yaml").read_text())

# Counted by hand from shared/seeds (config/README.md shows the arithmetic):
#   seed000_q1 2 datasets x 2 models x 2 batch x 2 opt x 2 lr = 32; epochs 20: +4; pin_memory True: +4;
#   cpu_vs_gpu: cpu points are Q1's, cuda points +4; seed001_part_a 8 rows x 2 models x 2 datasets = 32;
#   seed001_q2 10 rows x {cpu, cuda}, of which 1 cpu row is a Part A run.
CPU_ONLY_RUNS = 32 + 4 + 4 + 32 + 9  # best -> cpu, CUDA runs left out
CPU_ONLY_LEFT_OUT = 4 + 10
GPU_RUNS = 32 + 4 + 4 + 4 + 32 + 9 + 10  # best -> cuda, plus the explicit cpu runs


def test_default_config_plans_the_seeds_runs_once_each():
    config = load_config(REPO / "config/config.yaml")
    planned, left_out = resnet_runs(config, cuda_visible=False)
    assert len(planned) == CPU_ONLY_RUNS
    assert len(left_out) == CPU_ONLY_LEFT_OUT
    assert set(left_out["device"]) == {"cuda"}
    assert set(planned["device"]) == {"cpu"}
    assert not planned.duplicated(subset=[c for c in planned.columns if c != "studies"]).any()
    # The shared point serves every study of seed 000 that holds it.
    shared = planned[planned["studies"].str.count(",") == 3]
    assert len(shared) == 4


def test_gpu_host_plans_cuda_for_best_and_keeps_explicit_cpu_runs():
    config = load_config(REPO / "config/config.yaml")
    planned, left_out = resnet_runs(config, cuda_visible=True)
    assert len(planned) == GPU_RUNS and len(left_out) == 0
    assert (planned["device"] == "cpu").sum() == 4 + 10


def test_gpu_false_leaves_cuda_out_even_where_visible():
    config = load_config(REPO / "config/config.yaml")
    config["gpu"] = False
    planned, left_out = resnet_runs(config, cuda_visible=True)
    assert len(planned) == CPU_ONLY_RUNS and len(left_out) == CPU_ONLY_LEFT_OUT


def test_replicate_seeds_multiply_points_without_their_own_seed():
    config = validate_config(copy.deepcopy(FULL))
    config["seeds"] = [0, 1, 2]
    planned, _ = resnet_runs(config, cuda_visible=False)
    assert len(planned) == 3 * CPU_ONLY_RUNS


def test_defaults_fill_a_minimal_config():
    config = validate_config({})
    assert config["data"]["split"] == {"train": 0.7, "val": 0.1, "test": 0.2, "seed": 0}
    assert config["training"]["momentum"] == 0.9
    assert config["training"]["cpu_threads"] == 1
    assert config["gpu"] == "auto" and config["outdir"] == "results"


def _grid(**changes):
    config = copy.deepcopy(FULL)
    config["resnet_studies"]["seed000_q1"]["grid"].update(changes)
    return config


@pytest.mark.parametrize(
    ("config", "where", "fragments"),
    [
        (_grid(optimizer=["sgd", "rmsprop"]), "resnet_studies.seed000_q1.grid.optimizer[1]", ["'rmsprop'", "sgd"]),
        (_grid(lr=[0.001, 0]), "resnet_studies.seed000_q1.grid.lr[1]", ["0", "minimum"]),
        (_grid(lr=[-0.1]), "resnet_studies.seed000_q1.grid.lr[0]", ["-0.1"]),
        (_grid(dataset=["cifar10"]), "resnet_studies.seed000_q1.grid.dataset[0]", ["'cifar10'", "mnist"]),
        (_grid(batch_size=["16"]), "resnet_studies.seed000_q1.grid.batch_size[0]", ["'16'", "integer"]),
        (_grid(optimiser=["sgd"]), "resnet_studies.seed000_q1.grid", ["optimiser"]),
        ({**FULL, "gpus": True}, "(top level)", ["gpus"]),
        ({**FULL, "gpu": "yes"}, "gpu", ["'yes'"]),
    ],
)
def test_schema_errors_name_key_value_and_what_is_allowed(config, where, fragments):
    with pytest.raises(ConfigError) as err:
        validate_config(copy.deepcopy(config))
    message = str(err.value)
    assert f"`{where}`" in message
    for fragment in fragments:
        assert fragment in message
    assert "config/README.md" in message


def test_split_fractions_must_sum_to_one():
    config = copy.deepcopy(FULL)
    config["data"]["split"] = {"train": 0.7, "val": 0.2, "test": 0.2}
    with pytest.raises(ConfigError, match=r"`data.split`: train \+ val \+ test = 1.1"):
        validate_config(config)


def test_a_study_without_grid_or_runs_is_refused():
    with pytest.raises(ConfigError, match="resnet_studies.empty"):
        validate_config({"resnet_studies": {"empty": {"description": "nothing"}}})


def test_a_point_missing_a_factor_names_the_study_and_factor():
    config = validate_config({"resnet_studies": {"partial": {"grid": {"dataset": ["mnist"], "model": ["resnet18"]}}}})
    with pytest.raises(ConfigError, match=r"`partial`: factor `batch_size` has no value"):
        resnet_runs(config, cuda_visible=False)


def test_explicit_runs_cross_the_grid():
    config = load_config(REPO / "config/config.yaml")
    planned, _ = resnet_runs(config, cuda_visible=False)
    part_a = planned[planned["studies"].str.contains("seed001_part_a")]
    assert len(part_a) == 32
    assert set(part_a["epochs"]) == {5, 15}


def test_svm_studies_expand():
    config = load_config(REPO / "config/config.yaml")
    runs = svm_runs(config)
    assert not runs.duplicated(subset=["dataset", "kernel", "train_samples", "seed"]).any()
    assert {10000} <= set(runs["train_samples"])
    assert set(runs["kernel"]) == {"rbf", "poly"}


def test_svm_runs_larger_than_the_training_part_are_refused_when_planned():
    study = {"grid": {"dataset": ["mnist"], "kernel": ["rbf"], "train_samples": [1000, 3000]}}
    config = validate_config(
        {"svm_studies": {"scaling": study}, "data": {"subset": {"train": 2000, "val": 100, "test": 100}}}
    )
    with pytest.raises(
        ConfigError, match=r"`?scaling`? ask for train_samples up to 3000.*has 2000 images.*data.subset.train"
    ):
        svm_runs(config)
    config["data"]["subset"]["train"] = 3000
    assert list(svm_runs(config)["train_samples"]) == [1000, 3000]
