"""Whether, and how many, CUDA GPUs this host offers, found without importing torch.

The snakemake process plans the workflow (`gpu: auto`) and parses the Snakefile again in every cluster job; importing
torch there costs seconds each time. `nvidia-smi` lists the GPUs the driver sees, CUDA_VISIBLE_DEVICES narrows them
as CUDA itself does, and torch's own version file says whether the installed torch was built with CUDA at all.
"""

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path


def driver_gpus() -> int:
    """GPUs that `nvidia-smi -L` lists (0 where there is no NVIDIA driver)."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return 0
    try:
        listing = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in listing.splitlines() if line.startswith("GPU "))


def visible_gpus(environ=os.environ) -> int:
    """GPUs a CUDA program started here sees: the driver's, narrowed by CUDA_VISIBLE_DEVICES where it is set."""
    count = driver_gpus()
    ids = environ.get("CUDA_VISIBLE_DEVICES")
    if ids is None:
        return count
    # CUDA reads the list up to its first invalid entry; an empty list or "-1" hides every GPU.
    valid = 0
    for entry in ids.split(","):
        entry = entry.strip()
        if not entry or entry.startswith("-"):
            break
        valid += 1
    return min(valid, count)


def torch_built_with_cuda() -> bool | None:
    """Whether the installed torch is a CUDA build (None: torch is not installed here), from torch/version.py."""
    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        return None
    version_file = Path(spec.origin).parent / "version.py"
    match = re.search(r"^cuda\b.*=\s*(None|'[^']*'|\"[^\"]*\")", version_file.read_text(), re.MULTILINE)
    return bool(match) and match[1] != "None"


def host_gpus(config: dict) -> int:
    """The GPUs local CUDA jobs share: config `gpus` where it is set, else those this host shows."""
    return visible_gpus() if config.get("gpus") is None else config["gpus"]


def cuda_visible(config: dict, gpus: int | None = None) -> bool:
    """Whether the planning host can run CUDA runs; asked only under `gpu: auto`. `gpus`: host_gpus(config), where
    the caller has it already (each count runs nvidia-smi).

    A CPU-only torch build cannot, whatever GPUs the host has. Where torch is not installed beside snakemake (its
    jobs run in conda environments), the GPUs decide.
    """
    if config["gpu"] != "auto":
        return False
    gpus = host_gpus(config) if gpus is None else gpus
    return gpus > 0 and torch_built_with_cuda() is not False
