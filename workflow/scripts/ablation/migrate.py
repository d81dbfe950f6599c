"""Moving the files of runs recorded before issue 13's factors to the paths those factors give them.

A ResNet run's path names its factors, one directory each. Input size, stem, precision, split and normalisation came
after the seed; a run recorded before them trained with their legacy values (ablation.inputs.LEGACY_FACTOR_VALUES),
so its files belong at the old path with those directories appended, and the pooled split it used at
`splits/pooled/`. Moving them keeps every result: `os.rename` keeps their modification times, so snakemake finds them
up to date and trains nothing again. Nothing is overwritten: a file whose new path is taken stays where it is and is
named in the report of the move.

    python -m ablation.migrate OUTDIR      (the workflow does this by itself when it parses)
"""

import os
import sys
from pathlib import Path

from .factors import LEGACY_FACTOR_VALUES
from .names import DATASETS

# The directories the new factors add below `seed~N`, with their legacy values.
LEGACY_SUFFIX = [f"{factor}~{value}" for factor, value in LEGACY_FACTOR_VALUES.items()]
# A run's path in the earlier layout: its ten factor directories, `seed~N` last. A fixed-depth pattern does not walk
# the five levels the new layout has below them (5x faster than `**` on 1,000 runs).
EARLIER_POINT = "/".join(["*"] * 9 + ["seed~*"])


def legacy_moves(outdir) -> list[tuple[Path, Path]]:
    """(old path, new path) of every file of the earlier layout under `outdir`."""
    outdir = Path(outdir)
    moves = []
    # runs/resnet/<point>/metrics.json and checkpoints/resnet/<point>/checkpoint.pt
    for kind, name in (("runs", "metrics.json"), ("checkpoints", "checkpoint.pt")):
        for old in (outdir / kind / "resnet").glob(f"{EARLIER_POINT}/{name}"):
            moves.append((old, old.parent.joinpath(*LEGACY_SUFFIX, name)))
    # logs/resnet/<point>.log and benchmarks/resnet/<point>.tsv
    for kind, suffix in (("logs", ".log"), ("benchmarks", ".tsv")):
        for old in (outdir / kind / "resnet").glob(f"{EARLIER_POINT}{suffix}"):
            moves.append((old, old.with_suffix("").joinpath(*LEGACY_SUFFIX[:-1], LEGACY_SUFFIX[-1] + suffix)))
    # splits/<dataset>.npz|json and logs/split_dataset/<dataset>.log: the pooled split
    for dataset in DATASETS:
        for old, new in (
            (outdir / "splits" / f"{dataset}.npz", outdir / "splits" / "pooled" / f"{dataset}.npz"),
            (outdir / "splits" / f"{dataset}.json", outdir / "splits" / "pooled" / f"{dataset}.json"),
            (
                outdir / "logs" / "split_dataset" / f"{dataset}.log",
                outdir / "logs/split_dataset/pooled" / f"{dataset}.log",
            ),
        ):
            if old.exists():
                moves.append((old, new))
    return moves


def migrate(outdir) -> tuple[int, list[Path]]:
    """Moves every file of the earlier layout; returns (files moved, files left because their new path is taken)."""
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
            f"Moved {moved} file(s) of runs recorded before input_size, stem, precision, split and normalisation "
            f"were factors to their new paths under {outdir} (their values then: "
            + ", ".join(f"{k} {v}" for k, v in LEGACY_FACTOR_VALUES.items())
            + "); nothing is trained again."
        )
    if kept:
        lines.append(
            f"Left {len(kept)} file(s) of the earlier layout where they are, as their new path is taken, e.g. "
            f"{kept[0]}: compare the two and delete the one you do not want."
        )
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    outdir = argv[0] if argv else "results"
    print(report(outdir, *migrate(outdir)) or f"Nothing to move under {outdir}.")


if __name__ == "__main__":
    main(sys.argv[1:])
