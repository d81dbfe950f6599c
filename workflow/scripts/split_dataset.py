"""Rule split_dataset: one dataset's seeded 70/10/20 split under one protocol (ablation.split), saved once."""

from pathlib import Path

from ablation.split import make_split, save_split

with open(snakemake.log[0], "w") as log:
    parts, meta = make_split(
        Path(snakemake.input.manifest).parent,
        fractions=snakemake.params.fractions,
        seed=snakemake.params.seed,
        subset=snakemake.params.subset,
        protocol=snakemake.params.protocol,
    )
    save_split(parts, meta, snakemake.output.npz, snakemake.output.meta)
    print(f"sizes {meta['sizes']}, checksum {meta['checksum']}", file=log)
    for part, counts in meta["class_counts"].items():
        print(f"{part} class counts: {counts}", file=log)
