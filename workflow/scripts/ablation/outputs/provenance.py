"""Where, when and with what a result was produced: recorded in every run's JSON."""

import ast
import hashlib
import os
import platform
import socket
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[4]
PACKAGE = Path(__file__).resolve().parents[1]

# The modules whose code decides a ResNet run's numbers (paths in the package): the training stage, all of it (both
# loops, what the network is fed, the precision, checkpoints, how a resumed run puts its random generators back), and
# the images as split and idx read them. Left out: the modules that only write things down or schedule (outputs, ops),
# and the study's factors, whose values a checkpoint's identity compares one by one.
TRAINING_CODE = ("train/*.py", "data/split.py", "data/idx.py")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            if isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


def training_code(package: Path = PACKAGE) -> str:
    """SHA-256 of the training code (TRAINING_CODE, in `package`) as Python parses it: comments, docstrings and
    formatting do not count, so that only an edit of what runs makes a checkpoint another code's. (The parse differs
    between Python versions: a checkpoint resumed under another Python counts as another code's.)"""
    digest = hashlib.sha256()
    for pattern in TRAINING_CODE:
        for path in sorted(package.glob(pattern)):
            name = path.relative_to(package).as_posix()
            tree = ast.parse(path.read_text())
            digest.update(f"{name}\n{ast.dump(_without_docstrings(tree))}\n".encode())
    return digest.hexdigest()


def files_sha256(root: Path) -> str:
    """One SHA-256 over the names (relative to `root`, so that a moved clone gives the same value) and bytes of the
    Python files under `root`: a whole body of code as one value."""
    digest = hashlib.sha256()
    for path in sorted(Path(root).rglob("*.py")):
        data = path.read_bytes()
        digest.update(f"{path.relative_to(root)}\n{len(data)}\n".encode() + data)
    return digest.hexdigest()


def hostname() -> str:
    return socket.gethostname()


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), e.g. for a throughput measured on it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def collect(data_manifest: dict, split_meta: dict, seed: int, started_at: str, device: str | None = None) -> dict:
    """Provenance of one run. `device` is the torch device used ("cpu"/"cuda"), or None for runs without torch."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    record = {
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": None if status is None else bool(status),
        "python": sys.version.split()[0],
        "packages": {
            name: _version(name)
            for name in ("torch", "torchvision", "snakemake", "scikit-learn", "scikit-learn-intelex", "numpy", "thop")
        },
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "threads": None,
        "gpu_name": None,
        "cuda_version": None,
        "hostname": hostname(),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        "data_source": data_manifest["source"],
        "data_sha256": data_manifest["sha256"],
        "split_checksum": split_meta["checksum"],
        "seed": seed,
        "started_at": started_at,
        "finished_at": now(),
    }
    if device is not None:
        import torch

        record["threads"] = torch.get_num_threads()
        # The torch that ran: its full build (e.g. 2.11.0+cu128), the CUDA it was built for (null for a CPU build),
        # and whether it is the venv's (the lock's) or the host's own (`make venv TORCH=system`).
        record["torch_build"] = torch.__version__
        record["cuda_version"] = torch.version.cuda
        record["torch_from"] = "venv" if Path(torch.__file__).is_relative_to(sys.prefix) else "host"
        record["training_code"] = training_code()
        if device == "cuda":
            record["gpu_name"] = torch.cuda.get_device_name(0)
    return record
