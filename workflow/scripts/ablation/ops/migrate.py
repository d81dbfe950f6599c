"""Moving the files of runs recorded before the fidelity factors to the paths those factors give them.

A ResNet run's path names its factors, one directory each. Input size, stem, precision, split and normalisation came
after the seed, and momentum after them; a run recorded before them trained with their legacy values
(study.factors), so its files belong at the old path with those directories appended, and the pooled split it used
at `splits/pooled/`. Two earlier layouts exist: the first ends at `seed~N`, the second at `normalisation~X`. The
momentum directory of an SGD run is the momentum its metrics recorded (config `training.momentum` of then); a run
without metrics yet (a checkpoint only) is given the default of then, 0.9, and its checkpoint is checked against the
run when it resumes (ablation.train.resnet.resume). An SVM run's path gained its protocol after the seed: a run recorded
before it used ours, `protocol~stratified`. Moving keeps every result: `os.rename` keeps modification times, so
snakemake finds the runs up to date and trains nothing again. Nothing is overwritten: a file whose new path is taken
stays where it is and is named in the report of the move.

    make migrate CONFIG=my.yaml      (python -m ablation.ops.migrate --configfile my.yaml)

The workflow and `make plan` only look: while such files are there, they stop and name that command (`pending`).
"""

import argparse
import json
import os
from pathlib import Path

from ablation.outputs import paths
from ablation.study.config import load_config
from ablation.study.factors import LEGACY_FACTOR_VALUES, LEGACY_SVM_FACTOR_VALUES, legacy_momentum
from ablation.study.names import DATASETS

# The directories the first fidelity factors add below `seed~N`, with their legacy values.
LEGACY_SUFFIX = [f"{factor}~{value}" for factor, value in LEGACY_FACTOR_VALUES.items()]


def _momentum_dir(outdir: Path, point: Path) -> str:
    """`momentum~X` of the ResNet run at `point` (relative to runs/resnet): SGD's recorded momentum, 0 for Adam."""
    optimizer = point.parts[3].removeprefix("optimizer~")
    training = None
    metrics = Path(paths.run_metrics(outdir, "resnet", point))
    if metrics.exists():
        try:
            training = json.loads(metrics.read_text()).get("training")
        except (OSError, ValueError):  # unreadable: the run is checked again when the workflow reads it
            pass
    return f"momentum~{legacy_momentum(optimizer, training)}"


# (kind, a run's directory in an earlier layout, the directories its path lacks: a function of the output directory
# and the run's directory relative to runs/<kind>). Fixed-depth patterns do not walk the levels below, as `**` would,
# so that a large results directory is searched quickly. ResNet: the first layout's ten factors end at the seed, the
# second's fifteen at the normalisation. SVM: four factors, the seed last, before the protocol.
EARLIER_LAYOUTS = [
    ("resnet", "/".join(["*"] * 9 + ["seed~*"]), lambda outdir, point: [*LEGACY_SUFFIX, _momentum_dir(outdir, point)]),
    ("resnet", "/".join(["*"] * 14 + ["normalisation~*"]), lambda outdir, point: [_momentum_dir(outdir, point)]),
    ("svm", "*/*/*/seed~*", lambda outdir, point: [f"{k}~{v}" for k, v in LEGACY_SVM_FACTOR_VALUES.items()]),
    ("svm", "*/*/*/*/protocol~*", lambda outdir, point: [f"backend~{LEGACY_SVM_FACTOR_VALUES['backend']}"]),
]


# A run's files, each a function of (outdir, kind, point) in outputs.paths.
RUN_FILES = (paths.run_metrics, paths.checkpoint, paths.run_log, paths.run_benchmark)


def legacy_moves(outdir) -> list[tuple[Path, Path]]:
    """(old path, new path) of every file of an earlier layout under `outdir`."""
    outdir = Path(outdir)
    moves = []
    for run_kind, pattern, missing in EARLIER_LAYOUTS:
        for run_file in RUN_FILES:
            # The file's path with the point cut out: what comes before it and after it.
            before, after = run_file(outdir, run_kind, "\0").split("\0")
            for old in outdir.glob(Path(before + pattern + after).relative_to(outdir).as_posix()):
                point = str(old)[len(before) : -len(after)]
                moved_point = "/".join([point, *missing(outdir, Path(point))])
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
            f"Moved {moved} file(s) of runs recorded before input_size, stem, precision, split, normalisation and "
            f"momentum (ResNet) and the protocol and backend (SVM) were factors to their new paths under {outdir} "
            "(their values then: "
            + ", ".join(f"{k} {v}" for k, v in LEGACY_FACTOR_VALUES.items())
            + ", SGD momentum as recorded in each run's metrics, "
            + ", ".join(f"SVM {k} {v}" for k, v in LEGACY_SVM_FACTOR_VALUES.items())
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
