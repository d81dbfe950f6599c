"""The config schema, its error messages, and the expansion of the sources' studies into runs."""

import copy
import os
import re
import subprocess
import sys

import pytest
import yaml

from ablation.study import config_docs
from ablation.study.config import ConfigError, load_config, resnet_runs, svm_runs, validate_config
from conftest import (
    CPU_ONLY_LEFT_OUT,
    CPU_ONLY_RUNS,
    GPU_RUNS,
    REPO,
    add_schema_factor,
    checkout_copy,
    run_snakemake,
    tiny_grid,
    write_config,
)

FULL = yaml.safe_load((REPO / "config/config.yaml").read_text())
README = REPO / "config/README.md"


def test_default_config_plans_the_sources_runs_once_each():
    config = load_config(REPO / "config/config.yaml")
    planned, left_out = resnet_runs(config, cuda_visible=False)
    assert len(planned) == CPU_ONLY_RUNS
    assert len(left_out) == CPU_ONLY_LEFT_OUT
    assert set(left_out["device"]) == {"cuda"}
    assert set(planned["device"]) == {"cpu"}
    assert not planned.duplicated(subset=[c for c in planned.columns if c != "studies"]).any()
    # The shared point serves every study of source 000 that holds it on the CPU (pin_memory's are on cuda).
    shared = planned[planned["studies"].str.count(",") == 2]
    assert len(shared) == 4
    assert set(shared["studies"]) == {"seed000_q1,seed000_epochs,seed000_cpu_vs_gpu"}
    # Source 000's pin_memory pair as run timed its evaluation too; nothing else does.
    gpu_planned, _ = resnet_runs(config, cuda_visible=True)
    with_evaluation = gpu_planned[gpu_planned["time_covers"] == "training_and_evaluation"]
    assert len(with_evaluation) == 2 and all("seed000_pin_memory_as_run" in s for s in with_evaluation["studies"])
    # Timed studies make their runs exclusive, and a run shared with one is exclusive too.
    assert shared["exclusive"].all()
    assert not planned[planned["studies"] == "seed000_q1"]["exclusive"].any()


def test_amp_off_cuda_is_refused_when_the_plan_is_made_naming_the_study_and_the_fix():
    point = tiny_grid(batch_size=[16], precision=["amp"])
    config = validate_config({"resnet_studies": {"mixed": {"grid": point}}})
    with pytest.raises(ConfigError, match="studies mixed plan 1 run.* precision amp on the CPU .* `device: cuda`"):
        resnet_runs(config, cuda_visible=False)
    planned, _ = resnet_runs(config, cuda_visible=True)  # best -> cuda: amp as the sources ran it
    assert list(planned["precision"]) == ["amp"] and list(planned["device"]) == ["cuda"]


def test_pin_memory_true_where_it_cannot_act_is_planned_once_as_false():
    """On the CPU, or with the resident loop, pin_memory True is the computation of False: one run serves both."""
    config = validate_config(
        {
            "resnet_studies": {
                "pins": {
                    "grid": tiny_grid(
                        batch_size=[16],
                        pin_memory=[False, True],
                        device=["cpu", "cuda"],
                        loader=["dataloader", "resident"],
                    )
                }
            }
        }
    )
    planned, _ = resnet_runs(config, cuda_visible=True)
    pins = planned.set_index(["device", "loader"])["pin_memory"].groupby(level=[0, 1]).agg(sorted)
    assert pins.to_dict() == {
        ("cpu", "dataloader"): [False],
        ("cpu", "resident"): [False],
        ("cuda", "dataloader"): [False, True],
        ("cuda", "resident"): [False],
    }
    assert len(planned) == 5 and set(planned["studies"]) == {"pins"}


def test_gpu_host_plans_cuda_for_best_and_keeps_explicit_cpu_runs():
    config = load_config(REPO / "config/config.yaml")
    planned, left_out = resnet_runs(config, cuda_visible=True)
    assert len(planned) == GPU_RUNS and len(left_out) == 0
    # cpu_vs_gpu's 4, seed001_q2's 8 distinct cpu rows (two pairs of its rows differ only in pin_memory) and
    # seed000_q2_as_run's one.
    assert (planned["device"] == "cpu").sum() == 4 + 8 + 1


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
    assert config["factor_defaults"]["momentum"] == 0.9
    assert config["training"]["cpu_threads"] == 1
    assert config["gpu"] == "auto" and config["outdir"] == "results"


def _grid(**changes):
    config = copy.deepcopy(FULL)
    config["resnet_studies"]["seed000_q1"]["grid"].update(changes)
    return config


def _renamed(kind: str, old: str, new: str):
    """The default config with study `old` of `kind` named `new` where it is defined (not where tables map it)."""
    config = copy.deepcopy(FULL)
    config[kind] = {new if name == old else name: study for name, study in config[kind].items()}
    return config


# A study's name is an identifier: no markup (report.html embeds names in its script as they are), no comma (runs.csv
# joins a run's studies with commas), no space.
NAME_PATTERN = "'^[A-Za-z0-9][A-Za-z0-9_.-]*$'"


@pytest.mark.parametrize(
    ("config", "where", "fragments"),
    [
        (_grid(optimizer=["sgd", "rmsprop"]), "resnet_studies.seed000_q1.grid.optimizer[1]", ["'rmsprop'", "sgd"]),
        (_grid(lr=[0.001, 0]), "resnet_studies.seed000_q1.grid.lr[1]", ["0", "minimum"]),
        (_grid(lr=[-0.1]), "resnet_studies.seed000_q1.grid.lr[0]", ["-0.1"]),
        (_grid(dataset=["cifar10"]), "resnet_studies.seed000_q1.grid.dataset[0]", ["'cifar10'", "mnist"]),
        (_grid(batch_size=["16x"]), "resnet_studies.seed000_q1.grid.batch_size[0]", ["'16x'", "integer"]),
        (_grid(optimiser=["sgd"]), "resnet_studies.seed000_q1.grid", ["optimiser"]),
        ({**FULL, "gpu_count": 2}, "(top level)", ["gpu_count"]),
        ({**FULL, "gpu": "sometimes"}, "gpu", ["'sometimes'", "auto"]),
        (_renamed("resnet_studies", "seed000_q1", "q1</script>"), "resnet_studies", ["'q1</script>'", NAME_PATTERN]),
        (_renamed("svm_studies", "sources_svm", "seeds,svm"), "svm_studies", ["'seeds,svm'", NAME_PATTERN]),
        ({**FULL, "report": {"tables": {"q1": ["seed000 q1"]}}}, "report.tables.q1[0]", ["'seed000 q1'", NAME_PATTERN]),
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
    assert not runs.duplicated(subset=["dataset", "kernel", "train_samples", "seed", "protocol", "backend"]).any()
    assert {10000} <= set(runs["train_samples"])
    assert set(runs["kernel"]) == {"rbf", "poly"}
    # 22 of ours under scikit-learn's SVC, the fit-time series again under scikit-learn-intelex's (2 datasets x 2
    # kernels x 5 sizes, and RBF on the 49,000), and the sources' SVMs as their code ran them (2 datasets x 2 kernels).
    assert runs["protocol"].value_counts().to_dict() == {"stratified": 22 + 22, "seed001": 4, "seed000": 4}
    assert runs["backend"].value_counts().to_dict() == {"sklearn": 30, "sklearnex": 22}
    sklearnex = runs[runs["backend"] == "sklearnex"]
    assert set(sklearnex["studies"]) == {"svm_scaling", "svm_scaling_full"} and sklearnex["exclusive"].all()
    assert set(runs.loc[runs["protocol"] == "seed000", "train_samples"]) == {60000}


def test_an_svm_under_a_sources_protocol_fits_at_most_the_training_file():
    study = {
        "grid": {"dataset": ["mnist"], "kernel": ["rbf"], "train_samples": [60000, 60001], "protocol": ["seed000"]}
    }
    with pytest.raises(ConfigError, match=r"up to 60001 under the protocol seed000.*has 60,000\. Lower train_samples"):
        svm_runs(validate_config({"svm_studies": {"as_run": study}}))
    study["grid"]["train_samples"] = [60000]  # more than the pooled split's training part (49,000): allowed here
    assert list(svm_runs(validate_config({"svm_studies": {"as_run": study}}))["train_samples"]) == [60000]


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


# --- Values from `snakemake --config`: nested values arrive as strings (YAML's BaseLoader), and are read as YAML.


@pytest.mark.parametrize(
    ("given", "key", "expected"),
    [
        ({"factor_defaults": {"momentum": "0.8"}}, ("factor_defaults", "momentum"), 0.8),
        ({"training": {"weight_decay": "1e-4"}}, ("training", "weight_decay"), 1e-4),
        ({"training": {"cpu_threads": "2"}}, ("training", "cpu_threads"), 2),
        ({"gpu": "false"}, ("gpu",), False),
        ({"gpu": "True"}, ("gpu",), True),
        ({"gpu": "auto"}, ("gpu",), "auto"),
        ({"seeds": ["0", "1"]}, ("seeds",), [0, 1]),
        ({"svm": {"gamma": "0.5"}}, ("svm", "gamma"), 0.5),
        ({"svm": {"gamma": "scale"}}, ("svm", "gamma"), "scale"),
        ({"data": {"subset": "null"}}, ("data", "subset"), None),
        (
            {"data": {"subset": {"train": "10", "val": "5", "test": "5"}}},
            ("data", "subset"),
            {"train": 10, "val": 5, "test": 5},
        ),
        # Strings the schema accepts stay strings, even where YAML would read them as something else.
        ({"outdir": "2024"}, ("outdir",), "2024"),
        ({"report": {"tables": {"q1": ["1.5"]}}}, ("report", "tables", "q1"), ["1.5"]),
    ],
)
def test_strings_from_the_command_line_keep_their_yaml_types(given, key, expected):
    config = validate_config(copy.deepcopy(given))
    value = config
    for part in key:
        value = value[part]
    assert value == expected and type(value) is type(expected)


def test_a_study_given_as_command_line_strings_expands_to_typed_runs():
    grid = {"dataset": ["mnist"], "model": ["resnet18"], "batch_size": ["16", "32"], "optimizer": ["sgd"]}
    grid |= {"lr": ["1e-3", "0.01"], "epochs": ["2"], "pin_memory": ["false", "true"], "seed": ["3"]}
    # gpu "true" plans `best` as cuda, where pin_memory acts (elsewhere True would be planned as False).
    config = validate_config({"gpu": "true", "resnet_studies": {"cli": {"grid": grid}}})
    planned, _ = resnet_runs(config, cuda_visible=False)
    assert len(planned) == 2 * 2 * 2
    assert set(planned["batch_size"]) == {16, 32} and set(planned["lr"]) == {0.001, 0.01}
    assert set(planned["pin_memory"]) == {False, True} and set(planned["seed"]) == {3}
    assert set(planned["device"]) == {"cuda"}


@pytest.mark.parametrize(
    ("given", "where", "hint"),
    [
        (
            {"factor_defaults": {"momentum": "0.8x"}},
            "factor_defaults.momentum",
            "--config 'factor_defaults={momentum: 0.9}'",
        ),
        ({"gpu": "sometimes"}, "gpu", "--config gpu=auto"),
        ({"outdir": 2024}, "outdir", """--config 'outdir="2024"'"""),
        (
            {"report": {"tables": {"q1": [2024]}}},
            "report.tables.q1[0]",
            """--config 'report={tables: {q1: ["2024"]}}'""",
        ),
        ({"svm": {"gamma": "scal"}}, "svm.gamma", "--config 'svm={gamma: scale}'"),
    ],
)
def test_a_value_of_the_wrong_type_shows_the_quoting_that_works(given, where, hint):
    with pytest.raises(ConfigError) as err:
        validate_config(copy.deepcopy(given))
    message = str(err.value)
    assert f"`{where}`" in message and hint in message
    # The hinted assignment, read the way snakemake reads `--config` (BaseLoader below the top level), is valid.
    key, _, text = hint.removeprefix("--config ").strip("'").partition("=")
    value = yaml.load(text, Loader=yaml.BaseLoader)
    validate_config({key: value})


def test_every_config_command_line_the_docs_show_is_valid():
    """Each `--config '...'` example of the README, docs/ and config/README.md, read the way snakemake reads it."""
    pages = [REPO / "README.md", README, *sorted((REPO / "docs").glob("*.md"))]
    docs = "".join(page.read_text() for page in pages)
    examples = re.findall(r"--config '([a-z_]+)=(\{[^']*\})'", docs)
    assert examples, "the docs show how to give a nested value on the command line"
    for key, text in examples:
        validate_config({key: yaml.load(text, Loader=yaml.BaseLoader)})


def test_config_given_on_the_real_snakemake_command_line_keeps_its_types(tmp_path, fixture_data):
    config = write_config(tmp_path / "config.yaml", fixture_data)
    study = "cli: {grid: {dataset: [mnist], model: [resnet18], batch_size: [16], optimizer: [sgd], lr: [1e-3], "
    study += "epochs: [2]}}"
    args = ["-n", "-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "--configfile", str(config), "--config"]
    proc = run_snakemake(*args, "factor_defaults={momentum: 0.8}", f"resnet_studies={{{study}}}", "gpu=false")
    out = proc.stdout + proc.stderr
    assert re.search(r"^train_resnet\s+1$", out, re.MULTILINE)
    assert "/batch_size~16/optimizer~sgd/lr~0.001/epochs~2/pin_memory~False/device~cpu/" in out
    assert "/normalisation~train_stats/momentum~0.8/" in out
    refused = run_snakemake(*args, "factor_defaults={momentum: 0.8x}", check=False)
    refusal = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert "`factor_defaults.momentum`: '0.8x' is not of type 'number'" in refusal
    assert "--config 'factor_defaults={momentum: 0.9}'" in refusal


def test_a_config_still_setting_training_momentum_is_told_where_it_moved():
    with pytest.raises(ConfigError) as err:
        validate_config({"training": {"momentum": 0.8}})
    message = str(err.value)
    assert "`training.momentum`" in message and "`factor_defaults: {momentum: 0.8}`" in message


def test_momentum_is_a_factor_and_adam_points_are_planned_with_none():
    grid = tiny_grid(batch_size=[16], optimizer=["sgd", "adam"], epochs=[5], momentum=[0.0, 0.9])
    config = validate_config({"gpu": False, "resnet_studies": {"m": {"grid": grid}}})
    planned, _ = resnet_runs(config, cuda_visible=False)
    pairs = sorted(zip(planned["optimizer"], planned["momentum"]))
    assert pairs == [("adam", 0.0), ("sgd", 0.0), ("sgd", 0.9)], "the two Adam points are one run"


# --- config/README.md's generated tables: from the schema's descriptions and the default config.


def _schema_properties(node, where="schema"):
    """(path, subschema) of every property in the schema, at any depth ($defs, items, oneOf, additionalProperties)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties":
                for name, sub in value.items():
                    yield f"{where}.{name}", sub
                    yield from _schema_properties(sub, f"{where}.{name}")
            elif key == "$defs":
                for name, sub in value.items():
                    yield f"$defs.{name}", sub
                    yield from _schema_properties(sub, f"$defs.{name}")
            elif key not in ("default", "enum", "description"):
                yield from _schema_properties(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _schema_properties(item, f"{where}[{i}]")


def test_every_schema_property_has_a_description():
    schema = config_docs.load_schema()
    properties = dict(_schema_properties(schema))
    # The walk reaches the factors in $defs, the studies' keys and the subset's keys, not only the top level.
    assert {"$defs.resnet_factors.loader", "schema.resnet_studies.additionalProperties.runs"} <= set(properties)
    assert "schema.data.subset.oneOf[1].train" in properties and len(properties) > 90
    missing = [path for path, sub in properties.items() if not str(sub.get("description", "")).strip()]
    assert not missing, f"schema properties without a description: {missing}"


def test_readme_tables_are_what_make_config_docs_generates_now():
    blocks = config_docs.render_blocks()
    stale = config_docs.stale_blocks(README.read_text(), blocks)
    assert not stale, config_docs.stale_message("config/README.md", stale)


def test_a_schema_edit_without_make_config_docs_is_caught_naming_the_block_and_the_fix(tmp_path, capsys):
    schema = config_docs.load_schema()
    schema["properties"]["training"]["properties"]["weight_decay"]["description"] = "Decay, described anew."
    edited = config_docs.render_blocks(schema=schema)
    assert config_docs.stale_blocks(README.read_text(), edited) == ["training"]
    # Through the command line, on a copy whose table someone edited by hand.
    readme = tmp_path / "README.md"
    readme.write_text(README.read_text().replace("Weight decay of both optimizers.", "Decay."))
    assert config_docs.main(["--check", str(readme)]) == 1
    message = capsys.readouterr().err
    assert "`training`" in message and "make config-docs" in message and "`data`" not in message
    assert config_docs.main(["--write", str(readme)]) == 0
    assert readme.read_text() == README.read_text()
    assert config_docs.main(["--check", str(readme)]) == 0


def test_readme_tables_show_allowed_values_through_refs_and_the_factor_defaults():
    blocks = config_docs.render_blocks()
    loader = next(line for line in blocks["resnet-factors"].splitlines() if line.startswith("| `loader`"))
    assert "`dataloader`, `resident`" in loader and "`factor_defaults.loader` = `dataloader`" in loader
    gamma = next(line for line in blocks["svm"].splitlines() if line.startswith("| `gamma`"))
    assert "`scale`, `auto` or number > 0" in gamma and "| `scale` |" in gamma
    assert "| `split.train` | number in [0, 1] | `0.7` |" in blocks["data"]


def test_readme_run_counts_agree_with_the_hand_count():
    counts = config_docs.render_blocks()["run-counts"]
    assert f"{CPU_ONLY_RUNS} ResNet runs, and {CPU_ONLY_LEFT_OUT} CUDA runs left out" in counts
    assert f"with one: {GPU_RUNS} ResNet runs." in counts
    # Per study, in config order: Q1's 32 points are all new; the epochs study shares its 10-epoch half with Q1.
    assert "| `seed000_q1` | 32 | 0 | 32 | 0 | 32 |" in counts
    assert "| `seed000_epochs` | 8 | 4 | 4 | 0 | 4 |" in counts
    # pin_memory's cuda False points are new here; cpu_vs_gpu's cuda points are theirs, its cpu points Q1's.
    assert "| `seed000_pin_memory` | 8 | 0 | 8 | 8 | 0 |" in counts
    assert "| `seed000_cpu_vs_gpu` | 8 | 8 | 0 | 0 | 0 |" in counts
    assert "| `seed000_pin_memory_as_run` | 2 | 1 | 1 | 1 | 0 |" in counts
    assert "| `seed000_q2_as_run` | 5 | 0 | 5 | 4 | 1 |" in counts
    assert "| `seed000_q1_sgd_momentum0` | 16 | 0 | 16 | 0 | 16 |" in counts
    assert f"| total | 205 | 17 | 188 | {CPU_ONLY_LEFT_OUT} | {CPU_ONLY_RUNS} |" in counts


def test_a_factor_added_without_a_default_is_refused_naming_it_and_why(tmp_path):
    """A factor after the seed needs the value that runs recorded before it trained with (their path gains it)."""
    checkout = checkout_copy(tmp_path / "checkout")
    add_schema_factor(checkout, default=None)
    env = {**os.environ, "PYTHONPATH": str(checkout / "workflow/scripts")}
    imported = subprocess.run(
        [sys.executable, "-c", "import ablation.study.factors"], env=env, capture_output=True, text=True
    )
    assert imported.returncode != 0
    assert "the resnet factor(s) ['dummy'] come after the seed without a `default`" in imported.stderr
