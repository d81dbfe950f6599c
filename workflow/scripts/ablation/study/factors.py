"""The factors of a run, read from their one entry each in the config schema (`$defs.resnet_factors`,
`$defs.svm_factors`): their order (the directories of a run's path), their types and their defaults.

A factor added after the first layout sits after the seed, and its default is the value that every run recorded before
it trained with: ablation.ops.migrate moves such a run to its path with those values appended, and aggregation reads
its missing params as them. Only YAML is read here: the Snakefile imports this module while it parses.
"""

from pathlib import Path

import yaml

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "schemas" / "config.schema.yaml"


# The config schema as written, read once (libyaml's loader, where present, reads it several times faster than pure
# Python); ablation.study.config.SCHEMA is a copy with the sections the factors' entries give.
SCHEMA_AS_WRITTEN = yaml.load(SCHEMA_PATH.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def resolve_ref(schema: dict, node: dict) -> dict:
    """`node` with its local `$ref` (`#/$defs/...`) merged in; the node's own keys win."""
    while "$ref" in node:
        target = schema
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


# Each factor's entry, by kind ("resnet", "svm"), in path order.
FACTOR_ENTRIES = {kind: SCHEMA_AS_WRITTEN["$defs"][f"{kind}_factors"]["properties"] for kind in ("resnet", "svm")}
RESNET_FACTORS = list(FACTOR_ENTRIES["resnet"])
SVM_FACTORS = list(FACTOR_ENTRIES["svm"])
FACTORS = {"resnet": RESNET_FACTORS, "svm": SVM_FACTORS}
# The value of each factor a study leaves out, by kind (a ResNet config may change them in `factor_defaults`).
DEFAULTS = {
    kind: {f: e["default"] for f, e in entries.items() if "default" in e} for kind, entries in FACTOR_ENTRIES.items()
}


def _legacy_values(kind: str) -> dict:
    """What a run recorded before a factor existed trained with: the defaults of the factors after the seed, which
    came later. A factor there without a default would leave the runs recorded before it without a path."""
    later = FACTORS[kind][FACTORS[kind].index("seed") + 1 :]
    if lacking := [f for f in later if f not in DEFAULTS[kind]]:
        raise ValueError(
            f"{SCHEMA_PATH}: the {kind} factor(s) {lacking} come after the seed without a `default`: give each the "
            "value that runs recorded before it trained with, so that they keep their results (make migrate)."
        )
    return {f: DEFAULTS[kind][f] for f in later}


LEGACY_VALUES = {kind: _legacy_values(kind) for kind in FACTORS}


def factors_of_type(json_type: str) -> list[str]:
    """The factors of either kind whose values are of this JSON type (`integer`, `boolean`, `number`, `string`)."""
    entries = {**FACTOR_ENTRIES["resnet"], **FACTOR_ENTRIES["svm"]}
    return [
        factor for factor, entry in entries.items() if resolve_ref(SCHEMA_AS_WRITTEN, entry).get("type") == json_type
    ]


NATIVE_SIZE = 28  # the images' own side, the `input_size` that resizes nothing

SVM_BACKENDS = tuple(FACTOR_ENTRIES["svm"]["backend"]["enum"])  # the SVC implementations
# The split an SVM protocol reads: ours the pooled split; the sources' the `seed001` split, for its test part, the
# official test set (they fit on the first images of the training file, which no split holds in order).
SVM_PROTOCOL_SPLITS = {"stratified": "pooled", "seed001": "seed001", "seed000": "seed001"}


def momentum_read(optimizer: str, momentum: float) -> float:
    """The momentum a run of this optimizer trains with: SGD's own, and 0 for Adam, which reads none (so an Adam point
    is one run, at one path, whatever momentum its study names)."""
    return float(momentum) if optimizer == "sgd" else 0.0


def complete_factors(params: dict, training: dict | None = None, kind: str = "resnet") -> dict:
    """A run's factors, those it was recorded (or written by hand) without at the values it trained with: the legacy
    values; for a ResNet run's momentum, the config-wide `training.momentum` its metrics saved, if they did."""
    full = {**LEGACY_VALUES[kind], **params}
    if kind == "resnet":
        momentum = params.get("momentum", (training or {}).get("momentum", LEGACY_VALUES["resnet"]["momentum"]))
        full["momentum"] = momentum_read(full["optimizer"], momentum)
    return full
