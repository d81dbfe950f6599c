"""Rule split_dataset: one dataset's seeded 70/10/20 split under one protocol (ablation.data.split), saved once."""

from pathlib import Path

from ablation.data.sources import require_verified
from ablation.data.split import make_split, save_split

data_dir = Path(snakemake.input.manifest).parent
with open(snakemake.log[0], "w") as log:
    manifest = require_verified(data_dir, snakemake.config["data"], snakemake.wildcards.dataset, log)
    parts, meta = make_split(
        data_dir,
        fractions=snakemake.params.fractions,
        seed=snakemake.params.seed,
        subset=snakemake.params.subset,
        protocol=snakemake.params.protocol,
        data_sha256=manifest["sha256"],
    )
    save_split(parts, meta, snakemake.output.npz, snakemake.output.meta)
    print(f"sizes {meta['sizes']}, checksum {meta['checksum']}", file=log)
    for part, counts in meta["class_counts"].items():
        print(f"{part} class counts: {counts}", file=log)
