"""The key tables and the run-count arithmetic of config/README.md, generated from the schema and config/config.yaml.

Each generated part of the README sits between `<!-- BEGIN generated: NAME -->` and `<!-- END generated: NAME -->`;
the prose around the blocks is hand-written and kept.

    python -m ablation.study.config_docs --write config/README.md   # rewrite the blocks (`make config-docs`)
    python -m ablation.study.config_docs --check config/README.md   # exit 1 naming each stale block
"""

import argparse
import copy
import re
import sys
from pathlib import Path

from ablation.study.config import SCHEMA, load_config, resnet_runs, svm_runs, yaml_flow
from ablation.study.factors import DEFAULTS, FACTORS, SCHEMA_PATH, resolve_ref

REPO = SCHEMA_PATH.parents[2]
README_PATH = REPO / "config" / "README.md"
CONFIG_PATH = REPO / "config" / "config.yaml"
FIX = "make config-docs"
KEYS_BELOW = "mapping (keys below)"


def begin_marker(name: str) -> str:
    return f"<!-- BEGIN generated: {name} -->"


def end_marker(name: str) -> str:
    return f"<!-- END generated: {name} -->"


def load_schema() -> dict:
    """The schema configs are validated against, its derived factor sections in place (a copy, free to edit)."""
    return copy.deepcopy(SCHEMA)


def literal(value) -> str:
    """A value as it is written in a config file (YAML flow style), in backticks."""
    return f"`{yaml_flow(value)}`"


def _bounds(node: dict) -> str:
    low = (">=", node["minimum"]) if "minimum" in node else (">", node.get("exclusiveMinimum"))
    high = ("<=", node["maximum"]) if "maximum" in node else ("<", node.get("exclusiveMaximum"))
    if low[1] is not None and high[1] is not None and low[0] == ">=" and high[0] == "<=":
        return f" in [{low[1]}, {high[1]}]"
    return "".join(f" {op} {bound}" for op, bound in (low, high) if bound is not None)


def allowed(schema: dict, node: dict) -> str:
    """What a key accepts, in words: enums listed, $refs resolved, bounds and list/mapping shapes spelled out."""
    node = resolve_ref(schema, node)
    if "enum" in node:
        return ", ".join(literal(v) for v in node["enum"])
    if "const" in node:
        return literal(node["const"])
    alternatives = node.get("oneOf", []) + node.get("anyOf", [])
    if alternatives:
        return " or ".join(allowed(schema, alt) for alt in alternatives)
    kinds = node.get("type", [])
    kinds = [kinds] if isinstance(kinds, str) else kinds
    return " or ".join(_allowed_type(schema, node, kind) for kind in kinds) or "anything"


def _allowed_type(schema: dict, node: dict, kind: str) -> str:
    if kind == "null":
        return "`null`"
    if kind == "boolean":
        return "`true`, `false`"
    if kind in ("integer", "number"):
        return kind + _bounds(node)
    if kind == "string":
        return f"string matching `{node['pattern']}`" if "pattern" in node else "string"
    if kind == "array":
        items = allowed(schema, node.get("items", {}))
        shape = "non-empty list" if node.get("minItems", 0) >= 1 else "list"
        repeats = ", no repeats" if node.get("uniqueItems") else ""
        return f"{shape} of: {items}{repeats}"
    if kind == "object":
        properties = node.get("properties", {})
        if properties:
            kinds = {allowed(schema, sub) for sub in properties.values()}
            if len(properties) > 1 and len(kinds) == 1:  # like data.subset: `{train, val, test}`, each integer >= 1
                return "`{" + ", ".join(properties) + "}`, each " + kinds.pop()
            return KEYS_BELOW
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            return f"mapping of name to {allowed(schema, extra)}"
        return "mapping"
    return kind


def default(schema: dict, node: dict) -> str:
    """A key's default; a mapping whose every key has its own default shows that, not `{}`."""
    node = resolve_ref(schema, node)
    if "default" not in node:
        return ""
    value = node["default"]
    properties = node.get("properties", {})
    if value == {} and properties and all("default" in resolve_ref(schema, sub) for sub in properties.values()):
        return "each key's default"
    return literal(value)


def description(node: dict) -> str:
    return " ".join(str(node.get("description", "")).split())


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


KEY_HEADER = ["key", "allowed", "default", "meaning"]


def keys_table(schema: dict, node: dict, prefix: str = "") -> str:
    node = resolve_ref(schema, node)
    rows = []
    for name, sub in node["properties"].items():
        key = f"{prefix}{name}"
        rows.append([f"`{key}`", allowed(schema, sub), default(schema, sub), description(resolve_ref(schema, sub))])
        nested = resolve_ref(schema, sub).get("properties", {})
        # A mapping of differing keys (data.split) gets a row per key below its own; a uniform one (data.sha256) not.
        if nested and allowed(schema, sub) == KEYS_BELOW:
            rows += [
                [f"`{key}.{n}`", allowed(schema, s), default(schema, s), description(resolve_ref(schema, s))]
                for n, s in nested.items()
            ]
    return table(KEY_HEADER, rows)


def top_level_table(schema: dict) -> str:
    rows = []
    for name, sub in schema["properties"].items():
        node = resolve_ref(schema, sub)
        rows.append([f"`{name}`", allowed(schema, node), default(schema, node), description(node)])
    return table(KEY_HEADER, rows)


def study_keys_table(schema: dict) -> str:
    rows = []
    for kind in ("resnet_studies", "svm_studies"):
        study = resolve_ref(schema, schema["properties"][kind]["additionalProperties"])
        for name, sub in study["properties"].items():
            rows.append([f"`{kind}.<name>.{name}`", allowed(schema, sub), description(resolve_ref(schema, sub))])
    return table(["key", "allowed", "meaning"], rows)


def factors_table(schema: dict, kind: str) -> str:
    """Each factor: what it accepts, where its value comes from when a point leaves it out, and what it means."""
    properties = schema["$defs"][f"{kind}_factors"]["properties"]
    configurable = schema["properties"]["factor_defaults"]["properties"] if kind == "resnet" else {}
    rows = []
    for factor in FACTORS[kind]:
        node = properties[factor]
        if factor in configurable:
            source = f"`factor_defaults.{factor}` = {default(schema, configurable[factor])}"
        elif factor in DEFAULTS[kind]:
            source = literal(DEFAULTS[kind][factor])
        elif factor == "seed":
            source = "each of `seeds`"
        else:
            source = "required"
        rows.append([f"`{factor}`", allowed(schema, node), source, description(node)])
    return table(["factor", "allowed", "default", "meaning"], rows)


def _study_counts(names: list[str], tables: dict[str, object]) -> dict[str, dict[str, int]]:
    """Per study: its distinct runs (`points`), those an earlier study already plans (`shared`), the rest (`new`),
    and, per table (planned, left out), how many of the new ones are in it. A run's `studies` are in config order."""
    counts = {name: {"points": 0, "shared": 0, "new": 0, **{label: 0 for label in tables}} for name in names}
    for label, runs in tables.items():
        for studies in runs["studies"]:
            first, *later = studies.split(",")
            counts[first]["points"] += 1
            counts[first]["new"] += 1
            counts[first][label] += 1
            for name in later:
                counts[name]["points"] += 1
                counts[name]["shared"] += 1
    return counts


def _counts_table(kind: str, counts: dict, columns: list[tuple[str, str]]) -> str:
    rows = [[f"`{name}`", *(str(c[key]) for key, _ in columns)] for name, c in counts.items()]
    totals = [str(sum(c[key] for c in counts.values())) for key, _ in columns]
    rows.append(["total", *totals])
    return table([f"{kind} study", *(title for _, title in columns)], rows)


def run_counts(config_path: Path = CONFIG_PATH) -> str:
    """The run-count arithmetic of a config: per study, in config order, with and without a GPU."""
    config = load_config(config_path)
    names = list(config["resnet_studies"])
    relative = Path(config_path).resolve()
    shown = relative.relative_to(REPO) if relative.is_relative_to(REPO) else relative
    parts = [
        f"`{shown}` (`gpu: {yaml_flow(config['gpu'])}`, `seeds: {yaml_flow(config['seeds'])}`). A point is one "
        "distinct run of a study (times the replicate seeds); a run an earlier study (in config order) already plans "
        "is shared, not trained again. A point with pin_memory True off CUDA (or on the resident loop), where pinning "
        "does nothing, is the run with pin_memory False."
    ]
    cases = (("Planned on a host without a CUDA device", False), ("Planned on a host with one", True))
    for case, visible in cases:
        planned, left_out = resnet_runs(config, cuda_visible=visible)
        counts = _study_counts(names, {"planned": planned, "left_out": left_out})
        columns = [("points", "points"), ("shared", "shared with an earlier study"), ("new", "new")]
        if len(left_out):
            columns += [("left_out", "new, CUDA: left out"), ("planned", "new, planned")]
        summary = f"{len(planned)} ResNet runs"
        if len(left_out):
            summary += f', and {len(left_out)} CUDA runs left out (listed in the plan; "not run: no GPU" in the report)'
        parts += [f"{case}: {summary}.", _counts_table("ResNet", counts, columns)]
    svm = svm_runs(config)
    counts = _study_counts(list(config["svm_studies"]), {"planned": svm})
    columns = [("points", "points"), ("shared", "shared with an earlier study"), ("new", "new")]
    parts += [f"SVM runs, with or without a GPU: {len(svm)}.", _counts_table("SVM", counts, columns)]
    return "\n\n".join(parts)


def render_blocks(schema: dict | None = None, config_path: Path = CONFIG_PATH) -> dict[str, str]:
    """Every generated block of config/README.md, by name, as the schema and the config give them now."""
    schema = schema if schema is not None else load_schema()
    properties = schema["properties"]
    return {
        "top-level": top_level_table(schema),
        "study-keys": study_keys_table(schema),
        "resnet-factors": factors_table(schema, "resnet"),
        "svm-factors": factors_table(schema, "svm"),
        "run-counts": run_counts(config_path),
        "data": keys_table(schema, properties["data"]),
        "training": keys_table(schema, properties["training"]),
        "svm": keys_table(schema, properties["svm"]),
        "report.tables": keys_table(schema, properties["report"]["properties"]["tables"], prefix="tables."),
        "mlflow": keys_table(schema, properties["mlflow"], prefix="mlflow."),
    }


def _block_pattern(name: str) -> re.Pattern:
    return re.compile(re.escape(begin_marker(name)) + r"\n(.*?)\n?" + re.escape(end_marker(name)), re.DOTALL)


def read_block(text: str, name: str) -> str | None:
    match = _block_pattern(name).search(text)
    return match.group(1) if match else None


def stale_blocks(text: str, blocks: dict[str, str]) -> list[str]:
    """Names of the blocks whose text in the README differs from `blocks` (or whose markers are missing)."""
    return [name for name, body in blocks.items() if read_block(text, name) != body]


def rewrite(text: str, blocks: dict[str, str]) -> str:
    """`text` with every generated block replaced; the markers of each block must be there already."""
    for name, body in blocks.items():
        pattern = _block_pattern(name)
        if not pattern.search(text):
            raise SystemExit(
                f"config/README.md has no `{begin_marker(name)}` ... `{end_marker(name)}` pair; add the two markers "
                f"where the block belongs and run `{FIX}` again."
            )
        text = pattern.sub(lambda _, body=body, name=name: f"{begin_marker(name)}\n{body}\n{end_marker(name)}", text)
    return text


def stale_message(path, stale: list[str]) -> str:
    names = ", ".join(f"`{name}`" for name in stale)
    return (
        f"{path}: generated block(s) {names} differ from what workflow/schemas/config.schema.yaml and "
        f"config/config.yaml give now. Run `{FIX}` (PYTHONPATH=workflow/scripts python -m ablation.study.config_docs "
        f"--write config/README.md) and commit the result; edit the schema's descriptions, not the tables."
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", metavar="README", type=Path, help="rewrite the generated blocks of this file")
    action.add_argument("--check", metavar="README", type=Path, help="exit 1 if a generated block is stale")
    parser.add_argument("--config", type=Path, default=CONFIG_PATH, help="the config whose runs are counted")
    args = parser.parse_args(argv)
    path = args.write or args.check
    text = path.read_text()
    blocks = render_blocks(config_path=args.config)
    if args.write:
        new = rewrite(text, blocks)
        if new != text:
            path.write_text(new)
        print(f"{path}: {len(blocks)} generated blocks {'rewritten' if new != text else 'already up to date'}.")
        return 0
    stale = stale_blocks(text, blocks)
    if stale:
        print(stale_message(path, stale), file=sys.stderr)
        return 1
    print(f"{path}: every generated block is up to date.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
