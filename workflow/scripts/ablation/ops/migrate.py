"""Moving the files of runs recorded before some of their factors existed to the paths those factors give them.

A run's path names its factors, one directory each, in the order of their entries in the config schema. The factors
after the seed came later (for ResNet runs input size, stem, precision, split, normalisation, then momentum; for SVM
runs the protocol, then the backend): a run recorded before one trained with its default (study.factors), so its files
belong at the old path with the missing directories appended, and the pooled split it used at `splits/pooled/`. The
momentum directory of an SGD run is the momentum its metrics recorded (config `training.momentum` of then); a run
without metrics yet (a checkpoint only) is given the default, and its checkpoint is checked against the run when it
resumes. Moving keeps every result: `os.rename` keeps modification times, so snakemake finds the runs up to date and
trains nothing again. Nothing is overwritten: a file whose new path is taken stays where it is and is named in the
report of the move.

    make migrate CONFIG=my.yaml      (python -m ablation.ops.migrate --configfile my.yaml)

The workflow and `make plan` only look: while such files are there, they stop and name that command (`pending`).
"""

import argparse
import json
import os
from pathlib import Path

from ablation.outputs import paths
from ablation.study.config import load_config
from ablation.study.factors import FACTORS, LEGACY_VALUES, complete_factors
from ablation.study.names import DATASETS


def _recorded_training(outdir: Path, kind: str, point: str) -> dict | None:
    """The `training` section the metrics of the run at `point` saved, if it has readable metrics."""
    metrics = Path(paths.run_metrics(outdir, kind, point))
    if metrics.exists():
        try:
            return json.loads(metrics.read_text()).get("training")
        except (OSError, ValueError):  # unreadable: the run is checked again when the workflow reads it
            pass
    return None


def _missing_directories(outdir: Path, kind: str, point: str, missing: list[str]) -> list[str]:
    """The `factor~value` directories a run recorded at `point` lacks, at the values it trained with."""
    recorded = dict(part.split("~", 1) for part in point.split("/"))
    values = complete_factors(recorded, _recorded_training(outdir, kind, point), kind)
    return [f"{factor}~{values[factor]}" for factor in missing]


def _earlier_points(before: str, after: str, factors: list[str]):
    """(file, its point, the factors the point lacks) of every file `before` + point + `after` whose point ends at a
    factor from the seed on, before the last: a run recorded before the factors after it existed. One walk, which
    does not enter the last factor's directories (today's runs), so a large results directory is read quickly."""
    shortest, base = factors.index("seed") + 1, before.rstrip(os.sep)
    for directory, subdirs, names in os.walk(base):
        if directory.count(os.sep) - base.count(os.sep) >= len(factors) - 1:
            subdirs[:] = []
        for name in names:
            recorded = os.path.join(directory, name)[len(base) + 1 :]
            if not recorded.endswith(after):
                continue
            parts = recorded[: -len(after)].split(os.sep)
            if shortest <= len(parts) < len(factors) and all(p.startswith(f"{f}~") for p, f in zip(parts, factors)):
                yield Path(directory, name), "/".join(parts), factors[len(parts) :]


# A run's files, each a function of (outdir, kind, point) in outputs.paths.
RUN_FILES = (paths.run_metrics, paths.checkpoint, paths.run_log, paths.run_benchmark)


def legacy_moves(outdir) -> list[tuple[Path, Path]]:
    """(old path, new path) of every file of an earlier layout under `outdir`."""
    outdir = Path(outdir)
    moves = []
    for run_kind, factors in FACTORS.items():
        for run_file in RUN_FILES:
            # The file's path with the point cut out: what comes before it and after it.
            before, after = run_file(outdir, run_kind, "\0").split("\0")
            for old, point, missing in _earlier_points(before, after, factors):
                moved_point = "/".join([point, *_missing_directories(outdir, run_kind, point, missing)])
                moves.append((old, Path(run_file(outdir, run_kind, moved_point))))
    # The pooled split, and its log, from before a run's split was a factor.
    for dataset in DATASETS:
        for suffix in ("npz", "json"):
            old = outdir / "splits" / f"{dataset}.{suffix}"
            if old.exists():
                moves.append((old, Path(paths.split_file(outdir, "pooled", dataset, suffix))))
        old = outdir / "logs" / "split_dataset" / f"{dataset}.log"
        if old.exists():
            moves.append((old, Path(paths.split_log(outdir, "pooled", dataset))))
    return moves


def migrate(outdir) -> tuple[int, list[Path]]:
    """Moves every file of the earlier layouts; returns (files moved, files left because their new path is taken)."""
    moved, kept = 0, []
    for old, new in legacy_moves(outdir):
        if new.exists():
            kept.append(old)
            continue
        new.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(old, new)
        except FileNotFoundError:  # another snakemake of this directory moved it first
            continue
        moved += 1
    return moved, kept


def report(outdir, moved: int, kept: list[Path]) -> str:
    """What a move did, for the workflow's output; empty when there was nothing to move."""
    lines = []
    if moved:
        lines.append(
            f"Moved {moved} file(s) of runs recorded before some of their factors existed to their new paths under "
            f"{outdir} (the values they trained with: "
            + ", ".join(f"{k} {v}" for k, v in LEGACY_VALUES["resnet"].items() if k != "momentum")
            + ", SGD momentum as recorded in each run's metrics, "
            + ", ".join(f"SVM {k} {v}" for k, v in LEGACY_VALUES["svm"].items())
            + "); nothing is trained again."
        )
    if kept:
        lines.append(
            f"Left {len(kept)} file(s) of the earlier layout where they are, as their new path is taken, e.g. "
            f"{kept[0]}: compare the two and delete the one you do not want."
        )
    return "\n".join(lines)


def pending(outdir, configfile: str = "config/config.yaml") -> str:
    """What the workflow and `make plan` say, and stop at, while `outdir` holds runs of an earlier layout that can move:
    how many files, one of them, and the command that moves them. Empty when there are none. Without the move those
    runs would train again at their new paths, hours each, beside results that already exist."""
    movable = [old for old, new in legacy_moves(outdir) if not new.exists()]
    if not movable:
        return ""
    return (
        f"{len(movable)} file(s) under {outdir} are of runs recorded by an earlier version of this workflow, in its "
        f"earlier layout (e.g. {movable[0]}). Move them to their new paths with `make migrate CONFIG={configfile}` "
        "(nothing is trained again), then run the same command again."
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Moves the runs of earlier layouts to their new paths.")
    parser.add_argument("--configfile", default="config/config.yaml", help="the study whose outdir to move")
    args = parser.parse_args(argv)
    outdir = load_config(args.configfile)["outdir"]
    print(report(outdir, *migrate(outdir)) or f"Nothing to move under {outdir}.")


if __name__ == "__main__":
    main()
