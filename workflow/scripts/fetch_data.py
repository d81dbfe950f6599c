"""Rule fetch_data: the four verified IDX files of one dataset, from the first source that can serve them."""

import sys
from pathlib import Path

from ablation.data import DataError, fetch

data = snakemake.config["data"]  # noqa: F821 (snakemake injects it)
dataset = snakemake.wildcards.dataset  # noqa: F821
with open(snakemake.log[0], "w") as log:  # noqa: F821
    try:
        fetch(
            dataset,
            Path(snakemake.output.manifest).parent,  # noqa: F821
            sources=data["sources"],
            local_dir=data["local_dir"],
            expected=data["sha256"].get(dataset),
            log=lambda line: print(line, file=log, flush=True),
        )
    except DataError as err:
        print(err, file=log)
        sys.exit(str(err))
