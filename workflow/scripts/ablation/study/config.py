"""Validating the config and expanding its studies into one table of runs."""

import copy
import itertools
import json
import re

import jsonschema
import pandas as pd
import yaml

from ablation.data.split import POOLED_IMAGES, TRAIN_FILE_IMAGES, split_sizes
from ablation.study.factors import (
    DEFAULTS,
    FACTOR_ENTRIES,
    RESNET_FACTORS,
    SCHEMA_AS_WRITTEN,
    SVM_FACTORS,
    momentum_read,
    resolve_ref,
)


def _values_schema(entry: dict) -> dict:
    """What a factor's entry accepts, without its description and default."""
    return {k: v for k, v in entry.items() if k not in ("description", "default")}


def _with_factor_sections(schema: dict) -> dict:
    """The schema with the sections its factors' entries give: each grid (a non-empty list of a factor's values) and
    `factor_defaults` (each ResNet factor's default), so that a factor is described once, in `$defs.<kind>_factors`."""
    for kind, entries in FACTOR_ENTRIES.items():
        schema["$defs"][f"{kind}_grid"]["properties"] = {
            f: {
                "type": "array",
                "minItems": 1,
                "items": _values_schema(e),
                "description": f"Values of the `{f}` factor.",
            }
            for f, e in entries.items()
        }
        # A point takes no default: a factor it leaves out comes from its study's grid or from `factor_defaults`.
        schema["$defs"][f"{kind}_factors"]["properties"] = {
            f: _values_schema(e) | {"description": e["description"]} for f, e in entries.items()
        }
    schema["properties"]["factor_defaults"]["properties"] = {
        f: _values_schema(FACTOR_ENTRIES["resnet"][f])
        | {"default": default, "description": f"Default of the `{f}` factor."}
        for f, default in DEFAULTS["resnet"].items()
    }
    return schema


# The schema configs are validated against, every section in place (config_docs documents this one).
SCHEMA = _with_factor_sections(copy.deepcopy(SCHEMA_AS_WRITTEN))


# Keys of earlier configs that moved, (section, key) -> (section, key): named in the error a config naming them gets.
MOVED_KEYS = {("training", "momentum"): ("factor_defaults", "momentum")}


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


# Mismatches that a value's YAML type can cause: a string where the schema wants a number, a boolean, a list...
_TYPE_CHECKS = ("type", "enum", "const", "oneOf", "anyOf")
# YAML 1.2 (and `--config`'s top level, which tries float()) reads `1e-3` as a number; PyYAML, a YAML 1.1 parser,
# reads it as a string unless it has a dot.
_EXPONENT_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def _type_errors(errors):
    """The errors (and the errors inside oneOf/anyOf alternatives) that a value's type may cause."""
    for error in errors:
        if error.validator in _TYPE_CHECKS:
            yield error
        yield from _type_errors(error.context or [])


def _parse_yaml_scalar(text: str):
    """A string's YAML value, or the string itself where YAML reads it as a string (or cannot read it)."""
    if _EXPONENT_FLOAT.fullmatch(text.strip()):
        return float(text)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _coerce_strings(config: dict, validator) -> None:
    """Read as YAML, in place, each string that sits where the schema wants another type.

    `snakemake --config 'factor_defaults={momentum: 0.8}'` parses nested values with YAML's BaseLoader, which keeps
    every scalar a string ('0.8'), and a top-level `gpu=false` arrives as 'false'. A config file's values are typed
    already, so this changes only strings the schema would refuse; a string the schema accepts is never touched.
    """
    for _ in range(1000):  # each pass turns at least one string into another type, so this ends
        fixes = {}
        for error in _type_errors(validator.iter_errors(config)):
            if isinstance(error.instance, str):
                value = _parse_yaml_scalar(error.instance)
                if not isinstance(value, str):
                    fixes[tuple(error.absolute_path)] = value
        if not fixes:
            return
        for path, value in fixes.items():
            target = config
            for part in path[:-1]:
                target = target[part]
            target[path[-1]] = value


def _schema_at(schema: dict, path) -> dict:
    """The schema of the value at `path` (keys and list indices), following $refs and oneOf/anyOf alternatives."""
    node = schema
    for part in path:
        node = resolve_ref(schema, node)
        candidates = [node] + [resolve_ref(schema, alt) for alt in node.get("oneOf", []) + node.get("anyOf", [])]
        for candidate in candidates:
            if isinstance(part, int) and "items" in candidate:
                node = candidate["items"]
                break
            if isinstance(part, str) and part in candidate.get("properties", {}):
                node = candidate["properties"][part]
                break
            if isinstance(part, str) and isinstance(candidate.get("additionalProperties"), dict):
                node = candidate["additionalProperties"]
                break
        else:
            return {}
    return resolve_ref(schema, node)


def yaml_flow(value) -> str:
    """`value` as one line of YAML flow style; a string YAML would read as another type is double-quoted."""
    if isinstance(value, list):
        return "[" + ", ".join(yaml_flow(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {yaml_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, str):
        plain = value and _parse_yaml_scalar(value) == value and not re.search(r"[\s,:{}\[\]'\"#&*!|>%@`]", value)
        return value if plain else json.dumps(value)
    return json.dumps(value)  # numbers, true/false, null


_MAPPING = "{<key>: <value>, ...}"  # the form of a mapping, where no example value is at hand


def _example_value(node: dict, schema: dict, instance):
    """A value of the right type for `node`, to show the quoting that works: its default, its first allowed value, or
    (for a string) the value given."""
    node = resolve_ref(schema, node)
    if node.get("type") == "string" and not isinstance(instance, str):
        return str(instance)
    if "default" in node and not isinstance(node["default"], dict):
        return node["default"]
    if "enum" in node:
        return node["enum"][0]
    alternatives = node.get("oneOf", []) + node.get("anyOf", [])
    if alternatives:
        return _example_value(alternatives[0], schema, instance)
    kind = node.get("type")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "string":
        return str(instance)
    if kind == "integer":
        return node.get("minimum", 0)
    if kind == "number":
        return 0.5 if node.get("maximum", 1) >= 0.5 else node.get("minimum", 0)
    if kind == "boolean":
        return True
    if kind == "array" and "items" in node:
        return [_example_value(node["items"], schema, instance)]
    if kind == "object":
        return _MAPPING
    return None


def _command_line_hint(error, schema: dict) -> str:
    """How the value at the error's path is written on the command line, e.g. `--config 'training={momentum: 0.9}'`."""
    path = list(error.absolute_path)
    if not path or not isinstance(path[0], str) or error.validator not in _TYPE_CHECKS:
        return ""
    if isinstance(error.instance, (dict, list)):
        return ""
    value = _example_value(_schema_at(schema, path), schema, error.instance)
    if value is None:
        return ""
    while isinstance(path[-1], int):  # a list item: show it in a list
        path.pop()
        value = [value]
    text = yaml_flow(value).replace(json.dumps(_MAPPING), _MAPPING)
    for part in reversed(path[1:]):
        text = f"{{{part}: {text}}}"
    assignment = f"{path[0]}={text}"
    quoted = f"'{assignment}'" if re.search(r"[\s{}\[\]\"'*?$!&|;<>()]", assignment) else assignment
    notes = ["quoted whole for the shell"] if quoted != assignment else []
    if '"' in assignment:
        notes.append("a string that YAML would read as a number or boolean in double quotes")
    return f" On the command line, `--config` values are read as YAML: e.g. `--config {quoted}`" + (
        f" ({'; '.join(notes)})." if notes else "."
    )


def validate_config(config: dict, source: str = "the config") -> dict:
    """Fill defaults into `config` in place and check it; raises ConfigError with one readable message.

    Strings where the schema wants another type (as `snakemake --config` passes nested values, and `gpu=false`) are
    read as YAML first, so `--config 'training={weight_decay: 0.01}'` means the number 0.01, as in a config file.
    """
    for (section, key), (new_section, new_key) in MOVED_KEYS.items():
        if key in (config.get(section) or {}):
            value = config[section][key]
            raise ConfigError(
                f"Invalid config ({source}) at `{section}.{key}`: this key moved to `{new_section}.{new_key}` "
                f"(SGD momentum is a run factor now, in each run's path, so studies can differ in it). Write "
                f"`{new_section}: {{{new_key}: {value}}}` instead, or list `{new_key}` in a study's grid or runs."
            )
    validator = _with_defaults(jsonschema.Draft202012Validator)(SCHEMA)
    _coerce_strings(config, validator)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        raise ConfigError(
            f"Invalid config ({source}) at `{_where(error)}`: {error.message}. "
            f"Allowed values and every key are documented in config/README.md.{_command_line_hint(error, SCHEMA)}"
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


def pin_memory_acts(runs: pd.DataFrame) -> pd.Series:
    """Where pin_memory changes anything: the `dataloader` loop's copies to a CUDA device (the resident loop holds the
    data on the device already, and on the CPU nothing is copied)."""
    return (runs["device"] == "cuda") & (runs["loader"] == "dataloader")


def resnet_runs(config: dict, cuda_visible: bool, source: str = "the config") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(planned, left_out): one row per distinct ResNet run, with the studies it serves.

    `device: best` resolves here, when the plan is made: cuda if GPU runs are planned, else cpu. GPU runs are planned
    when `gpu` is true, or `auto` and CUDA is visible; otherwise CUDA runs go to `left_out` with the reason. A point
    with pin_memory True where pinning cannot act (`pin_memory_acts`) is planned as pin_memory False.
    """
    gpu_planned = config["gpu"] is True or (config["gpu"] == "auto" and cuda_visible)
    defaults = {**config["factor_defaults"], "seed": None}
    table = _expand(config["resnet_studies"], RESNET_FACTORS, defaults, config["seeds"], source)
    table["device"] = table["device"].replace("best", "cuda" if gpu_planned else "cpu")
    # pin_memory acts only where the DataLoader copies batches to a GPU; anywhere else True is the same computation as
    # False, so such a point is planned as False: trained once, serving the studies of both.
    table.loc[~pin_memory_acts(table), "pin_memory"] = False
    # Likewise Adam reads no momentum: its points are planned with 0, one run whatever momentum a study names.
    table["momentum"] = [momentum_read(o, m) for o, m in zip(table["optimizer"], table["momentum"])]
    amp_off_cuda = table[(table["precision"] == "amp") & (table["device"] != "cuda")]
    if len(amp_off_cuda):
        studies = ", ".join(dict.fromkeys(amp_off_cuda["study"]))
        raise ConfigError(
            f"Invalid config ({source}): studies {studies} plan {len(amp_off_cuda)} run(s) with precision amp on the "
            "CPU (device cpu, or best on a host without GPU runs). amp (fp16 autocast + GradScaler) is CUDA-only: "
            "give those runs `device: cuda` (left out where there is no GPU), or `precision: fp32` or `bf16`."
        )
    left_out = table[(table["device"] == "cuda") & (not gpu_planned)]
    planned = table.drop(left_out.index)
    timed = timed_studies(config)
    with_evaluation = {n for n, s in config["resnet_studies"].items() if s["time_covers"] == "training_and_evaluation"}
    planned, left_out = (_merge_studies(runs, RESNET_FACTORS, timed) for runs in (planned, left_out))
    for runs in (planned, left_out):
        covers = serves_any(runs["studies"], with_evaluation)
        runs["time_covers"] = covers.map({True: "training_and_evaluation", False: "training"})
    return planned, left_out


def svm_runs(config: dict, source: str = "the config") -> pd.DataFrame:
    """One row per distinct SVM run. A run asking for more training samples than it can have (the split's training
    part, of the canonical POOLED_IMAGES per dataset; the training file under the sources' protocols) is refused here,
    before any job runs, rather than when it is reached."""
    defaults = {"seed": None, **DEFAULTS["svm"]}
    table = _expand(config["svm_studies"], SVM_FACTORS, defaults, config["seeds"], source)
    sources_protocol = table["protocol"] != "stratified"
    available = split_sizes(config)["train"]
    split = config["data"]["split"]
    # (which runs, their limit, why) for the sources' protocols (the training file) and ours (the split's part).
    limits = [
        (
            sources_protocol,
            TRAIN_FILE_IMAGES,
            lambda rows: (
                f" under the protocol {rows['protocol'].iloc[0]}, which fits on the first images of the training file: "
                f"it has {TRAIN_FILE_IMAGES:,}. Lower train_samples."
            ),
        ),
        (
            ~sources_protocol,
            available,
            lambda rows: (
                f", but the training part of the split has {available} images (data.split.train={split['train']} of "
                f"{POOLED_IMAGES:,}, data.subset={config['data']['subset']}). Lower train_samples, or raise "
                "data.split.train (or data.subset.train)."
            ),
        ),
    ]
    for runs, limit, why in limits:
        too_large = table[runs & (table["train_samples"] > limit)]
        if len(too_large):
            studies = ", ".join(dict.fromkeys(too_large["study"]))
            raise ConfigError(
                f"Invalid config ({source}): SVM studies {studies} ask for train_samples up to "
                f"{too_large['train_samples'].max()}{why(too_large)}"
            )
    return _merge_studies(table, SVM_FACTORS, timed_studies(config))


def timed_studies(config: dict) -> set[str]:
    """The studies whose runs train alone on the machine (`timing: exclusive`), unless `timing: shared` says none."""
    if config["timing"] == "shared":
        return set()
    return {
        name
        for kind in ("resnet_studies", "svm_studies")
        for name, study in config[kind].items()
        if study["timing"] == "exclusive"
    }


def _merge_studies(table: pd.DataFrame, factors: list[str], timed: set[str]) -> pd.DataFrame:
    """One row per distinct run (runs shared by several studies are trained once); `studies` lists them, and
    `exclusive` says whether any of them is timed (the run then trains alone)."""
    if table.empty:
        return pd.DataFrame(columns=factors + ["studies", "exclusive"])
    merged = table.groupby(factors, sort=False)["study"].agg(lambda s: ",".join(dict.fromkeys(s))).reset_index()
    merged = merged.rename(columns={"study": "studies"})[factors + ["studies"]]
    merged["exclusive"] = serves_any(merged["studies"], timed)
    return merged


def serves_any(studies: pd.Series, names: set[str]) -> pd.Series:
    """Whether each run (its `studies`, comma-separated) serves any of `names`: a run shared by several studies takes
    a per-study setting (timed alone, timing evaluation too) if any of them has it."""
    return studies.map(lambda s: bool(names & set(s.split(",")))).astype(bool)


def load_config(path) -> dict:
    with open(path) as f:
        return validate_config(yaml.safe_load(f) or {}, source=str(path))
