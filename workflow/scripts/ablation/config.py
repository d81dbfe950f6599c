"""Validating the config and expanding its studies into one table of runs."""

import itertools
from pathlib import Path

import jsonschema
import pandas as pd
import yaml

from .cost import split_sizes
from .split import POOLED_IMAGES

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"

# The order of the factors is the order of the directories in each run's output path.
RESNET_FACTORS = [
    "dataset",
    "model",
    "batch_size",
    "optimizer",
    "lr",
    "epochs",
    "pin_memory",
    "device",
    "loader",
    "seed",
]
SVM_FACTORS = ["dataset", "kernel", "train_samples", "seed"]


class ConfigError(ValueError):
    """An invalid config; the message names the key, the value and what is allowed."""


def _with_defaults(validator_class):
    """A validator that fills in `default`s while it validates (the jsonschema FAQ's recipe)."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = _copy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def _copy(value):
    return yaml.safe_load(yaml.safe_dump(value))


def _where(error) -> str:
    path = ""
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(top level)"


def validate_config(config: dict, source: str = "the config") -> dict:
    """Fill defaults into `config` in place and check it; raises ConfigError with one readable message."""
    # `--config gpu=false` on the command line arrives as a string.
    if str(config.get("gpu")).lower() in ("true", "false"):
        config["gpu"] = str(config["gpu"]).lower() == "true"
    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    validator = _with_defaults(jsonschema.Draft202012Validator)(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        raise ConfigError(
            f"Invalid config ({source}) at `{_where(error)}`: {error.message}. "
            f"Allowed values and every key are documented in config/README.md."
        )
    split = config["data"]["split"]
    total = split["train"] + split["val"] + split["test"]
    if abs(total - 1.0) > 1e-9:
        raise ConfigError(
            f"Invalid config ({source}) at `data.split`: train + val + test = {total:g} "
            f"({split['train']} + {split['val']} + {split['test']}); the fractions must sum to 1."
        )
    for kind in ("resnet_studies", "svm_studies"):
        for name, study in config[kind].items():
            if "grid" not in study and "runs" not in study:
                raise ConfigError(
                    f"Invalid config ({source}) at `{kind}.{name}`: a study needs `grid` (lists of factor values, "
                    f"crossed) and/or `runs` (a list of explicit points)."
                )
    return config


def _study_points(study: dict, factors: list[str], defaults: dict) -> list[dict]:
    """Every point of a study: its grid crossed with its explicit runs, completed from the defaults."""
    grid = study.get("grid", {})
    grid_points = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    rows = study.get("runs", [{}])
    points = []
    for grid_point, row in itertools.product(grid_points, rows):
        point = {**grid_point, **row}
        for factor in factors:
            if factor not in point:
                if factor not in defaults:
                    raise ConfigError(f"factor `{factor}` has no value and no default")
                point[factor] = defaults[factor]
        points.append(point)
    return points


def _expand(studies: dict, factors: list[str], defaults: dict, replicate_seeds: list[int], source: str) -> pd.DataFrame:
    records = []
    for name, study in studies.items():
        try:
            points = _study_points(study, factors, defaults)
        except ConfigError as err:
            raise ConfigError(f"Invalid config ({source}) at `{name}`: {err}; list it in the study.") from None
        for point in points:
            # Replicates: a point without its own seed runs every config-wide seed.
            for seed in replicate_seeds if point["seed"] is None else [point["seed"]]:
                records.append({**point, "seed": seed, "study": name})
    columns = factors + ["study"]
    return pd.DataFrame.from_records(records, columns=columns)


def cuda_visible(config: dict) -> bool:
    """Whether the planning host sees a CUDA device; only asked under `gpu: auto`, as importing torch takes seconds."""
    if config["gpu"] != "auto":
        return False
    import torch

    return torch.cuda.is_available()


def resnet_runs(config: dict, cuda_visible: bool, source: str = "the config") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(planned, left_out): one row per distinct ResNet run, with the studies it serves.

    `device: best` resolves here, when the plan is made: cuda if GPU runs are planned, else cpu. GPU runs are planned
    when `gpu` is true, or `auto` and CUDA is visible; otherwise CUDA runs go to `left_out` with the reason.
    """
    gpu_planned = config["gpu"] is True or (config["gpu"] == "auto" and cuda_visible)
    defaults = {**config["factor_defaults"], "seed": None}
    table = _expand(config["resnet_studies"], RESNET_FACTORS, defaults, config["seeds"], source)
    table["device"] = table["device"].replace("best", "cuda" if gpu_planned else "cpu")
    left_out = table[(table["device"] == "cuda") & (not gpu_planned)]
    planned = table.drop(left_out.index)
    return _merge_studies(planned, RESNET_FACTORS), _merge_studies(left_out, RESNET_FACTORS)


def svm_runs(config: dict, source: str = "the config") -> pd.DataFrame:
    """One row per distinct SVM run. A run asking for more training samples than the split's training part (of the
    canonical POOLED_IMAGES per dataset) is refused here, before any job runs, rather than when it is reached."""
    table = _expand(config["svm_studies"], SVM_FACTORS, {"seed": None}, config["seeds"], source)
    available = split_sizes(config)["train"]
    too_large = table[table["train_samples"] > available]
    if len(too_large):
        studies = ", ".join(dict.fromkeys(too_large["study"]))
        raise ConfigError(
            f"Invalid config ({source}): SVM studies {studies} ask for train_samples up to "
            f"{too_large['train_samples'].max()}, but the training part of the split has {available} images "
            f"(data.split.train={config['data']['split']['train']} of {POOLED_IMAGES:,}, "
            f"data.subset={config['data']['subset']}). "
            "Lower train_samples, or raise data.split.train (or data.subset.train)."
        )
    return _merge_studies(table, SVM_FACTORS)


def _merge_studies(table: pd.DataFrame, factors: list[str]) -> pd.DataFrame:
    """One row per distinct run (runs shared by several studies are trained once); `studies` lists them."""
    if table.empty:
        return pd.DataFrame(columns=factors + ["studies"])
    merged = table.groupby(factors, sort=False)["study"].agg(lambda s: ",".join(dict.fromkeys(s))).reset_index()
    return merged.rename(columns={"study": "studies"})[factors + ["studies"]]


def load_config(path) -> dict:
    with open(path) as f:
        return validate_config(yaml.safe_load(f) or {}, source=str(path))
