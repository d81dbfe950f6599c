# Compute nodes often have no internet, so the data are fetched where snakemake runs; the split takes seconds.
localrules:
    fetch_data,
    split_dataset,


rule fetch_data:
    output:
        files=expand("resources/data/{{dataset}}/{name}", name=IDX_FILES),
        manifest="resources/data/{dataset}/manifest.json",
    log:
        "resources/logs/fetch_data/{dataset}.log",
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/fetch_data.py"


rule split_dataset:
    input:
        manifest="resources/data/{dataset}/manifest.json",
    output:
        npz=f"{OUTDIR}/splits/{{split}}/{{dataset}}.npz",
        meta=f"{OUTDIR}/splits/{{split}}/{{dataset}}.json",
    log:
        f"{OUTDIR}/logs/split_dataset/{{split}}/{{dataset}}.log",
    conda:
        "../../envs/data.yaml"
    params:
        fractions=lambda wc: {
            p: config["data"]["split"][p] for p in ("train", "val", "test")
        },
        seed=config["data"]["split"]["seed"],
        subset=config["data"]["subset"],
        protocol=lambda wc: wc.split,
    script:
        "../scripts/split_dataset.py"
