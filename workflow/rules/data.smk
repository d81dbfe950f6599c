# Compute nodes often have no internet, so the data are fetched where snakemake runs; the split takes seconds.
localrules:
    fetch_data,
    split_dataset,


# The folder is named by the pinned sums where a config pins other files than the project's (data.sources.data_dir):
# the sums decide which files are up to date, and the stages that read them check them again.
rule fetch_data:
    output:
        files=expand("resources/data/{{dataset}}{{pins}}/{name}", name=IDX_FILES),
        manifest="resources/data/{dataset}{pins}/manifest.json",
    log:
        "resources/logs/fetch_data/{dataset}{pins}.log",
    wildcard_constraints:
        pins="(-sha256-[0-9a-f]{12})?",
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/fetch_data.py"


rule split_dataset:
    input:
        manifest=lambda wc: data_manifest(wc.dataset),
    output:
        npz=paths.split_file(OUTDIR, "{split}", "{dataset}", "npz"),
        meta=paths.split_file(OUTDIR, "{split}", "{dataset}", "json"),
    log:
        paths.split_log(OUTDIR, "{split}", "{dataset}"),
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
