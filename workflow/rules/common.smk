# Shared by all rule files. The plan (one table of runs per kind, wrapped in Paramspaces) and input functions.

from snakemake.utils import Paramspace

from ablation.config import RESNET_FACTORS, SVM_FACTORS, resnet_runs, svm_runs
from ablation.cost import estimate_mem_mb, estimate_seconds, load_throughput, slurm_runtime_min, split_sizes
from ablation.idx import FILES

OUTDIR = config["outdir"]
DATASETS = ["mnist", "fashion_mnist"]
IDX_FILES = list(FILES.values())


def cuda_visible():
    """Whether the planning host sees a CUDA device (only asked when `gpu: auto`, as torch is slow to import)."""
    if config["gpu"] != "auto":
        return False
    import torch

    return torch.cuda.is_available()


RESNET_RUNS, RESNET_LEFT_OUT = resnet_runs(config, cuda_visible())
SVM_RUNS = svm_runs(config)
RESNET = Paramspace(RESNET_RUNS[RESNET_FACTORS])
SVM = Paramspace(SVM_RUNS[SVM_FACTORS])

if len(RESNET_LEFT_OUT):
    print(
        f"Plan: {len(RESNET_LEFT_OUT)} CUDA run(s) left out (gpu: {config['gpu']}, no CUDA device here); "
        "run them on a GPU host or with --profile profiles/slurm.",
        file=sys.stderr,
    )


def resnet_metrics():
    return [f"{OUTDIR}/runs/resnet/{p}/metrics.json" for p in RESNET.instance_patterns]


def svm_metrics():
    return [f"{OUTDIR}/runs/svm/{p}/metrics.json" for p in SVM.instance_patterns]


def final_targets():
    return resnet_metrics() + svm_metrics()


def split_inputs(wildcards):
    return {
        "manifest": f"resources/data/{wildcards.dataset}/manifest.json",
        "split_npz": f"{OUTDIR}/splits/{wildcards.dataset}.npz",
        "split_json": f"{OUTDIR}/splits/{wildcards.dataset}.json",
    }


def resnet_threads(wildcards):
    key = "gpu_threads" if wildcards.device == "cuda" else "cpu_threads"
    return config["training"][key]


# Resources of a training job, from the run itself: its FLOPs over the host's calibrated (or default) throughput.
THROUGHPUT = load_throughput("resources/throughput.json")
SPLIT_SIZES = split_sizes(config)


def resnet_runtime_min(wildcards, attempt):
    """SLURM time limit in minutes; grows with each retry."""
    run = RESNET.instance(wildcards)
    return slurm_runtime_min(estimate_seconds(run, SPLIT_SIZES, THROUGHPUT), attempt)


def resnet_mem_mb(wildcards, attempt):
    return estimate_mem_mb(RESNET.instance(wildcards)) * attempt
