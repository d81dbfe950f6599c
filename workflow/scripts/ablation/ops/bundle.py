"""`make bundle`: everything a machine without network needs to set the workflow up, in one directory.

    dist/bundle/
      wheels/            a wheel of every locked package the target lacks (torch, torchvision and what only they
                         need are left out: the target brings its own torch, `make venv TORCH=system`)
      requirements.txt   what `pip install --no-index --find-links wheels -r requirements.txt` installs there
      data/<dataset>/    the four raw IDX files of each dataset, verified by SHA-256, as .gz
      offline.yaml       a config overlay that reads the data from data/ (data.local_dir) and nowhere else
      manifest.json      the target (Python, platform), every file with its SHA-256, what was left out and why

The target's `pip freeze` (`--target-freeze`) narrows the wheels to what it lacks: a locked package it has at a version
that every locked package depending on it accepts is taken from it. A bare name in it (a package the target has at a
version nobody wrote down) is taken from the target unpinned, and the install reports `pip check`'s conflicts.
`--without` leaves out the optional parts a given use does not need (the browser tests, the opt-in SVM backend, SLURM,
snakemake's ILP scheduler) and what only they need; `--max-mib` refuses a bundle that would not travel. A bundle that
leaves out a package another one declares (pulp, for snakemake) lists every package it installs, and is installed
with `pip install --no-deps` (its `pip-options`), as pip would otherwise look for the missing one.
Wheels are downloaded for the target's Python
version and platform (default: this host's); a package published as a source archive only is built into a wheel
here, which must then be pure Python.

    python -m ablation.ops.bundle --out dist/bundle [--python-version 3.11] [--platform manylinux_2_28_x86_64]
                              [--target-freeze freeze.txt] [--configfile config/config.yaml]
                              [--without browser sklearnex slurm] [--max-mib 56]
"""

import argparse
import gzip
import importlib.metadata as metadata
import json
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from ablation.data.idx import FILES, sha256_file
from ablation.data.sources import DataError, data_dir, fetch, pinned_sha256
from ablation.ops.lockfile import applies, closure, read_requirements
from ablation.study.config import load_config
from ablation.study.names import DATASETS

REPO = Path(__file__).resolve().parents[4]
# The target brings these (its own CUDA build); the bundle never carries them.
TARGET_TORCH = ("torch", "torchvision")
# Development tools a machine that runs the study (and its tests, with pytest) does not need: `make lint` only.
LINT_ONLY = ("ruff", "snakefmt")
# Parts of the lock that a bundle may leave out (`--without`): the roots, and why a bundle without them still runs the
# study. What only they need goes with them.
OPTIONAL = {
    "browser": (("playwright", "markdown-it-py"), "the browser tests and the README rendering test only"),
    "sklearnex": (("scikit-learn-intelex",), "the opt-in SVM backend (`backend: sklearnex`) only"),
    "slurm": (("snakemake-executor-plugin-slurm",), "`--profile profiles/slurm` only"),
    # snakemake imports pulp only for its ILP scheduler, and without it says so and schedules greedily (its api.py).
    "ilp": (("pulp",), "snakemake's ILP scheduler only; without pulp it schedules greedily"),
}
MIB = 1024 * 1024


class BundleError(RuntimeError):
    """A bundle that cannot be made as asked; the message says what and how to fix it."""


def read_pins(path) -> dict[str, str]:
    """{canonical name: version} of `name==version` lines (a lock file, or `pip freeze` output)."""
    pins = {}
    for line in Path(path).read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line and not line.startswith("-"):
            name, version = line.split("==", 1)
            pins[canonicalize_name(name.split("[")[0])] = version.split(";")[0].strip()
    return pins


def read_freeze(path) -> dict[str, str | None]:
    """A target's packages: {canonical name: version}, None for a bare name (present, version unknown)."""
    found = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        line = line.split("#")[0].strip()
        if not line or line.startswith("-"):
            continue
        if "==" in line:
            name, version = line.split("==", 1)
            found[canonicalize_name(name.split("[")[0])] = version.split(";")[0].strip()
        elif re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", line):
            found[canonicalize_name(line)] = None
        else:
            raise BundleError(
                f"{path}, line {number}: {line!r} is neither `name==version` nor a bare package name: write the "
                "target's `pip freeze` line, or the name alone where its version is not known"
            )
    return found


def only_for(names, requirements: list[Requirement]) -> set[str]:
    """What only the requirements `names` need, beyond themselves. Packages that require torch (thop) do not pull
    torch's dependencies in: torch is the target's."""
    roots = [r for r in requirements if canonicalize_name(r.name) in names]
    others = [r for r in requirements if canonicalize_name(r.name) not in names]
    return closure(roots, leaves=TARGET_TORCH) - closure(others, leaves=TARGET_TORCH) - set(names)


def torch_only(requirements: list[Requirement]) -> set[str]:
    """What only torch and torchvision need (CUDA libraries, triton): the target's torch brings its own."""
    roots = [r for r in requirements if canonicalize_name(r.name) in TARGET_TORCH]
    others = [r for r in requirements if canonicalize_name(r.name) not in TARGET_TORCH]
    return closure(roots) - closure(others, leaves=TARGET_TORCH) - set(TARGET_TORCH)


def rejections(name: str, version: str, candidates: set[str], requirements: list[Requirement]) -> list[str]:
    """Who does not accept `version` of `name`: requirements.in, or a locked package (among `candidates`) requiring
    it; empty when all do."""
    found = []
    for requirement in requirements:
        if canonicalize_name(requirement.name) == name and not requirement.specifier.contains(version, True):
            found.append(f"requirements.in ({requirement})")
    for dependent in sorted(candidates):
        try:
            requires = metadata.distribution(dependent).requires or []
        except metadata.PackageNotFoundError:
            continue
        for requirement in map(Requirement, requires):
            if canonicalize_name(requirement.name) == name and applies(requirement):
                if not requirement.specifier.contains(Version(version), prereleases=True):
                    found.append(f"{dependent} ({requirement.name}{requirement.specifier})")
    return found


def select(lock: dict[str, str], requirements: list[Requirement], target: dict[str, str | None], without=()) -> dict:
    """Which locked packages go into the bundle: {"bundled": {name: version}, "from_target": {name: version, or None
    where the target's version is unknown}, "left_out": {name: why}, "target_rejected": {name: why the target's
    version does not do}}. `without`: OPTIONAL groups to leave out."""
    unknown = sorted(set(without) - set(OPTIONAL))
    if unknown:
        raise BundleError(f"--without {' '.join(unknown)}: no such part; the parts are {', '.join(OPTIONAL)}")
    left_out = {name: "the target's own torch" for name in TARGET_TORCH}
    left_out |= {name: "needed by torch/torchvision only" for name in torch_only(requirements) if name in lock}
    lint = set(LINT_ONLY) | only_for(LINT_ONLY, requirements)
    left_out |= {name: "`make lint` only (a development tool)" for name in lint if name in lock}
    for group in without:
        roots, why = OPTIONAL[group]
        names = set(roots) | only_for(roots, requirements)
        left_out |= {name: why for name in names if name in lock and name not in left_out}
    candidates = {name for name in lock if name not in left_out}
    rejected = {
        name: f"the target's {target[name]} is not accepted by " + ", ".join(why)
        for name in candidates
        if target.get(name) and (why := rejections(name, target[name], candidates, requirements))
    }
    from_target = {name: target[name] for name in sorted(candidates) if name in target and name not in rejected}
    bundled = {name: lock[name] for name in sorted(candidates) if name not in from_target}
    return {"bundled": bundled, "from_target": from_target, "left_out": left_out, "target_rejected": rejected}


def _pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)


LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


def platform_tags(platform: str | None) -> list[str]:
    """The tags of wheels a target platform installs: pip takes `--platform` literally, so a glibc 2.28 target
    (manylinux_2_28_x86_64) is given every older manylinux tag too (2_17 and manylinux2014 are the common ones)."""
    if not platform:
        return []
    match = re.fullmatch(r"manylinux_(\d+)_(\d+)_(\w+)", platform)
    if not match:
        return [platform]
    major, minor, arch = int(match[1]), int(match[2]), match[3]
    tags = [f"manylinux_{major}_{m}_{arch}" for m in range(minor, 4, -1)]
    tags += [f"{name}_{arch}" for name, version in LEGACY_MANYLINUX.items() if version <= (major, minor)]
    return tags


def download_wheels(pins: dict[str, str], wheels: Path, python_version: str | None, platform: str | None) -> list[str]:
    """Wheels of `pins` for the target into `wheels`; returns the packages built here from a source archive."""
    target = []
    if python_version:
        abi = "cp" + python_version.replace(".", "")
        target += ["--python-version", python_version, "--implementation", "cp", "--abi", abi, "--abi", "abi3"]
        target += ["--abi", "none"]
    for tag in platform_tags(platform):
        target += ["--platform", tag]
    remaining, built = dict(pins), []
    while remaining:
        pinned = [f"{name}=={version}" for name, version in remaining.items()]
        proc = _pip("download", "--quiet", "--no-deps", "--only-binary=:all:", "-d", str(wheels), *target, *pinned)
        if proc.returncode == 0:
            break
        missing = re.search(r"No matching distribution found for (\S+)", proc.stderr)
        name = canonicalize_name(missing[1].split("==")[0]) if missing else None
        if name not in remaining:
            raise BundleError(f"pip download failed:\n{proc.stderr.strip()[-2000:]}")
        built.append(build_pure_wheel(name, remaining.pop(name), wheels))
    return built


def build_pure_wheel(name: str, version: str, wheels: Path) -> str:
    """A wheel built here from the source archive of a package that publishes no wheel; only a pure-Python one serves
    another platform."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = _pip("wheel", "--quiet", "--no-deps", "-w", tmp, f"{name}=={version}")
        if proc.returncode != 0:
            raise BundleError(f"{name}=={version} has no wheel and did not build here:\n{proc.stderr.strip()[-1500:]}")
        (wheel,) = Path(tmp).glob("*.whl")
        if not wheel.name.endswith("-none-any.whl"):
            raise BundleError(
                f"{name}=={version} publishes no wheel for the target, and the one built here ({wheel.name}) is for "
                "this platform only: build it on the target, or a machine like it, and add it to the bundle's wheels/."
            )
        shutil.move(wheel, wheels / wheel.name)
    return f"{name}=={version}"


def bundle_data(out: Path, config: dict, datasets=DATASETS) -> dict[str, dict]:
    """The four verified IDX files of each dataset as .gz under out/data/<dataset>/; their sums."""
    data = config["data"]
    sums = {}
    for dataset in datasets:
        expected = pinned_sha256(data, dataset)
        with tempfile.TemporaryDirectory(prefix=f"bundle-{dataset}-") as tmp:
            # The workflow's own fetch, verified by SHA-256: from the files `make run` fetched here, else from the
            # config's sources.
            attempts = [(["local_dir"], str(REPO / data_dir(data, dataset))), (data["sources"], data["local_dir"])]
            for i, (sources, local_dir) in enumerate(attempts):
                try:
                    manifest = fetch(dataset, tmp, sources, local_dir=local_dir, expected=expected, log=lambda _: None)
                    break
                except DataError as err:
                    if i == len(attempts) - 1:
                        raise BundleError(f"the {dataset} files: {err}") from err
            target = out / "data" / dataset
            target.mkdir(parents=True, exist_ok=True)
            for name in FILES.values():
                gz = target / f"{name}.gz"
                # mtime 0: the same files give the same .gz, and the same SHA-256 in the manifest.
                with open(Path(tmp) / name, "rb") as raw, open(gz, "wb") as out_file:
                    with gzip.GzipFile(fileobj=out_file, mode="wb", mtime=0) as packed:
                        shutil.copyfileobj(raw, packed)
                sums[f"data/{dataset}/{name}.gz"] = {"sha256": sha256_file(gz), "raw_sha256": manifest["sha256"][name]}
    return sums


def unmet(bundled: dict[str, str], left_out: dict[str, str]) -> dict[str, list[str]]:
    """{bundled package: its declared requirements that the bundle leaves out on purpose}, from this environment's
    metadata of the locked packages."""
    found = {}
    for name in sorted(bundled):
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            continue
        missing = [
            str(r)
            for r in map(Requirement, requires)
            if applies(r) and canonicalize_name(r.name) in left_out and canonicalize_name(r.name) not in TARGET_TORCH
        ]
        if missing:
            found[name] = missing
    return found


def write_bundle(
    out,
    python_version=None,
    platform=None,
    target_freeze=None,
    configfile=None,
    datasets=DATASETS,
    without=(),
    max_mib=None,
) -> dict:
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise BundleError(f"{out} is not empty: remove it, or name another directory (BUNDLE=...)")
    wheels = out / "wheels"
    wheels.mkdir(parents=True)
    config = load_config(configfile or REPO / "config/config.yaml")
    requirements = read_requirements(REPO / "requirements.in")
    target = read_freeze(target_freeze) if target_freeze else {}
    lock = read_pins(REPO / "requirements.lock")
    chosen = select(lock, requirements, target, without)
    built = download_wheels(chosen["bundled"], wheels, python_version, platform)
    unpinned = sorted(name for name, version in chosen["from_target"].items() if version is None)
    # Left out on purpose (the lint tools, --without), though a bundled package declares it: the bundle lists its
    # whole closure, so it installs without pip's dependency resolution.
    declared = unmet(chosen["bundled"], {n: w for n, w in chosen["left_out"].items() if "torch" not in w})
    if declared:
        (out / "pip-options").write_text("--no-deps\n")
    write_requirements(out / "requirements.txt", chosen, unpinned)
    data = bundle_data(out, config, datasets)
    (out / "offline.yaml").write_text(
        "# The data from this bundle only: `--configfile config/config.yaml <bundle>/offline.yaml`.\n"
        f"data:\n  sources: [local_dir]\n  local_dir: {json.dumps(str(out / 'data'))}\n"
    )
    files = {
        f"wheels/{w.name}": {"sha256": sha256_file(w), "bytes": w.stat().st_size} for w in sorted(wheels.iterdir())
    }
    manifest = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "target": {"python_version": python_version or "this host's", "platform": platform or "this host's"},
        "target_freeze": str(target_freeze) if target_freeze else None,
        "bundled": chosen["bundled"],
        "built_here": built,
        "from_target": chosen["from_target"],
        "left_out": chosen["left_out"],
        "target_rejected": chosen["target_rejected"],
        "declared_but_left_out": declared,
        "pip_options": ["--no-deps"] if declared else [],
        "without": list(without),
        "wheels_bytes": sum(f["bytes"] for f in files.values()),
        "files": {**files, **data},
    }
    manifest["bytes"] = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) + len(json.dumps(manifest)) + 64
    require_size(out, manifest["bytes"], files, max_mib)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def write_requirements(path: Path, chosen: dict, unpinned: list[str]) -> None:
    """The bundle's requirements.txt: every bundled package, and the target's own at the versions its freeze pins."""
    pins = {**chosen["bundled"], **{n: v for n, v in chosen["from_target"].items() if v is not None}}
    path.write_text(
        "# Installed from wheels/ with `pip install --no-index --find-links wheels -r requirements.txt`; the target\n"
        "# brings torch, torchvision and the packages of its own pip freeze pinned here"
        + (f", and, at its own versions, {', '.join(unpinned)}" if unpinned else "")
        + ".\n"
        + "".join(f"{name}=={version}\n" for name, version in sorted(pins.items()))
    )


def require_size(out: Path, size: int, files: dict, max_mib) -> None:
    """A bundle over `max_mib` stops, naming its largest wheels and what leaves parts out."""
    if max_mib and size > max_mib * MIB:
        largest = sorted(files.items(), key=lambda item: -item[1]["bytes"])[:5]
        raise BundleError(
            f"{out} holds {size / MIB:.1f} MiB, over --max-mib {max_mib}; the largest wheels: "
            + ", ".join(f"{Path(name).name} {entry['bytes'] / MIB:.1f} MiB" for name, entry in largest)
            + ". Leave parts out (--without), name what the target has (--target-freeze), or carry fewer datasets"
            f" (--datasets); {out} is left as it is to look at"
        )


def system_torch_lock() -> str:
    """requirements-system-torch.lock: the lock without torch, torchvision and what only they need, for a venv on the
    host's own torch (`make venv TORCH=system`); `make lock` writes it, a test checks it is current."""
    lock = {canonicalize_name(r.name): r for r in read_requirements(REPO / "requirements.lock")}
    torch_own = set(TARGET_TORCH) | torch_only(read_requirements(REPO / "requirements.in"))
    # A pin keeps its marker: it is for the platforms the lock names, whatever torch the host has.
    return (
        "# requirements.lock without torch, torchvision and the packages only they need (CUDA libraries,\n"
        "# triton): what `make venv TORCH=system` installs beside the host's own torch. Generated by `make lock`.\n"
        + "".join(
            f"{name}{pin.specifier}" + (f"; {pin.marker}" if pin.marker else "") + "\n"
            for name, pin in sorted(lock.items())
            if name not in torch_own
        )
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write-system-torch-lock", metavar="PATH", help="write requirements-system-torch.lock")
    parser.add_argument("--out", default="dist/bundle")
    parser.add_argument("--python-version", help="the target's Python, e.g. 3.10 (default: this host's)")
    parser.add_argument("--platform", help="the target's platform tag, e.g. manylinux_2_28_x86_64 (default: here)")
    parser.add_argument("--target-freeze", help="the target's `pip freeze`: bundle only what it lacks")
    parser.add_argument("--configfile", help="the config whose data sources and SHA-256 sums to use")
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=DATASETS, help="default: both")
    parser.add_argument("--without", nargs="+", default=[], metavar="PART", help=f"leave out: {', '.join(OPTIONAL)}")
    parser.add_argument("--max-mib", type=float, help="refuse a bundle larger than this (MiB)")
    args = parser.parse_args(argv)
    if args.write_system_torch_lock:
        Path(args.write_system_torch_lock).write_text(system_torch_lock())
        return
    try:
        manifest = write_bundle(
            args.out,
            args.python_version,
            args.platform,
            args.target_freeze,
            args.configfile,
            args.datasets,
            args.without,
            args.max_mib,
        )
    except BundleError as err:
        sys.exit(f"make bundle: {err}")
    wheels = {name: entry["bytes"] for name, entry in manifest["files"].items() if name.startswith("wheels/")}
    largest = sorted(wheels, key=wheels.get, reverse=True)[:5]
    print(
        f"{args.out}: {manifest['bytes'] / MIB:.1f} MiB in all"
        + (f" (limit {args.max_mib:g} MiB)" if args.max_mib else "")
        + f"; {len(wheels)} wheels ({manifest['wheels_bytes'] / MIB:.1f} MiB), "
        f"{len(manifest['from_target'])} packages from the target, "
        f"{len(manifest['left_out'])} left out (torch, torchvision, what only they need, the lint tools"
        + (f", {', '.join(args.without)}" if args.without else "")
        + f"), {' and '.join(args.datasets)} as verified .gz.\n"
        f"Largest wheels: {', '.join(f'{Path(n).name} {wheels[n] / MIB:.1f} MiB' for n in largest)}.\n"
        f"On the target: make venv TORCH=system OFFLINE={args.out}, then "
        f"make run OFFLINE={args.out} (the data from {args.out}/data)."
    )


if __name__ == "__main__":
    main()
