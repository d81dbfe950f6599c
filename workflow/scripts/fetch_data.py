"""Rule fetch_data: the four verified IDX files of one dataset, from the first source that can serve them."""

import sys
from pathlib import Path

from ablation.data.sources import DataError, fetch, pinned_sha256

data = snakemake.config["data"]
dataset = snakemake.wildcards.dataset
with open(snakemake.log[0], "w") as log:
    try:
        fetch(
            dataset,
            Path(snakemake.output.manifest).parent,
            sources=data["sources"],
            local_dir=data["local_dir"],
            expected=pinned_sha256(data, dataset),
            log=lambda line: print(line, file=log, flush=True),
        )
    except DataError as err:
        print(err, file=log)
        sys.exit(str(err))
