"""What parsing the Snakefile costs: the modules it imports (every SLURM job parses it again), and the GPU count that
`gpu: auto` reads from the host without importing torch."""

import ast
import os
import re
import stat
import subprocess
import sys

import pytest

from ablation.ops import gpus
from conftest import REPO

HEAVY = {"torch", "torchvision", "sklearn", "scipy", "matplotlib", "thop"}
# The ablation modules the rule files need while parsing: the plan, the cost model, names, where the data live, the
# report's layout, the escaping of its captions' config text and the hash of the code the report rules depend on.
LIGHT_ABLATION = {
    "ablation",
    "ablation.data",
    "ablation.ops",
    "ablation.outputs",
    "ablation.report",
    "ablation.study",
    "ablation.report.aggregate",
    "ablation.study.config",
    "ablation.ops.cost",
    "ablation.data.sources",
    "ablation.outputs.diskspace",
    "ablation.outputs.paths",
    "ablation.study.factors",
    "ablation.ops.gpus",
    "ablation.study.hyperparameters",
    "ablation.data.idx",
    "ablation.report.layout",
    "ablation.report.markup",
    "ablation.ops.migrate",
    "ablation.outputs.provenance",
    "ablation.study.names",
    "ablation.outputs.records",
    "ablation.ops.runlock",
    "ablation.report.source_reports",
    "ablation.data.split",
}


def imported_modules(*args: str, cwd) -> set[str]:
    """Every module a `snakemake` command imports, from `python -X importtime`."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "snakemake", *args], cwd=cwd, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return {m[1] for m in re.finditer(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)$", proc.stderr, re.MULTILINE)}


def test_parsing_the_default_config_imports_no_heavy_package(tmp_path):
    args = ["-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "--configfile", str(REPO / "config/config.yaml")]
    modules = imported_modules("-n", *args, cwd=tmp_path)
    assert "snakemake" in modules and "ablation.study.config" in modules, "the import log was read"
    assert not {m.split(".")[0] for m in modules} & HEAVY
    ours = {m for m in modules if m.split(".")[0] == "ablation"}
    assert ours <= LIGHT_ABLATION, f"parse-time imports beyond the light modules: {sorted(ours - LIGHT_ABLATION)}"
    # jinja2 is imported by snakemake itself (its report module), whatever the Snakefile does; none of ours uses it.


@pytest.fixture
def fake_driver(tmp_path, monkeypatch):
    """An `nvidia-smi` on PATH that lists two GPUs, as the real one does (`-L`); this host has no NVIDIA driver."""
    smi = tmp_path / "bin" / "nvidia-smi"
    smi.parent.mkdir()
    smi.write_text(
        "#!/bin/sh\n"
        'echo "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-aaaa)"\n'
        'echo "  MIG 1g.10gb     Device  0: (UUID: MIG-bbbb)"\n'
        'echo "GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-cccc)"\n'
    )
    smi.chmod(smi.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{smi.parent}{os.pathsep}{os.environ['PATH']}")
    return smi


def test_gpus_are_counted_from_the_driver_and_narrowed_by_cuda_visible_devices(fake_driver):
    assert gpus.driver_gpus() == 2  # the MIG line is part of GPU 0
    assert gpus.visible_gpus({}) == 2
    assert gpus.visible_gpus({"CUDA_VISIBLE_DEVICES": "1"}) == 1
    assert gpus.visible_gpus({"CUDA_VISIBLE_DEVICES": "0,1,2"}) == 2  # no more than the driver has
    assert gpus.visible_gpus({"CUDA_VISIBLE_DEVICES": "0,-1,1"}) == 1  # CUDA stops at the first invalid entry
    assert gpus.visible_gpus({"CUDA_VISIBLE_DEVICES": ""}) == 0
    assert gpus.cuda_visible({"gpu": "auto"}) is (gpus.torch_built_with_cuda() is not False)
    assert gpus.cuda_visible({"gpu": False}) is False


def test_without_a_driver_no_gpu_is_visible(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi anywhere
    assert gpus.driver_gpus() == 0 and gpus.visible_gpus({"CUDA_VISIBLE_DEVICES": "0"}) == 0
    assert gpus.cuda_visible({"gpu": "auto"}) is False


def test_the_torch_build_is_read_without_importing_torch():
    code = "import sys; from ablation.ops import gpus; print(gpus.torch_built_with_cuda(), 'torch' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(REPO / "workflow/scripts")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    built, imported = out.split()
    import torch  # the answer must match torch's own

    assert built == str(torch.version.cuda is not None) and imported == "False"


# The package's stages, earliest first: a module may import from its own stage or an earlier one.
STAGES = ["outputs", "data", "study", "train", "svm", "report", "ops"]


def ablation_imports(path) -> set[str]:
    """The ablation modules a file imports, anywhere in it (functions' late imports included)."""
    imports = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "ablation":
            imports |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            imports |= {alias.name for alias in node.names if alias.name.split(".")[0] == "ablation"}
    return imports


def stage_of(module: str) -> str:
    return module.split(".")[1]


def test_every_module_sits_in_a_stage_and_imports_only_from_its_own_stage_or_earlier_ones():
    package = REPO / "workflow/scripts/ablation"
    modules = sorted(p for p in package.rglob("*.py") if p.name != "__init__.py")
    assert len(modules) > 30, "the package's modules were found"
    backwards = []
    for path in modules:
        module = ".".join(("ablation", *path.relative_to(package).with_suffix("").parts))
        assert stage_of(module) in STAGES, f"{module} is in no stage of {STAGES}"
        for imported in ablation_imports(path):
            if STAGES.index(stage_of(imported)) > STAGES.index(stage_of(module)):
                backwards.append(f"{module} imports {imported}")
    assert not backwards, "imports from a later stage:\n" + "\n".join(backwards)
