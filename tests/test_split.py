"""The one split per dataset: sizes, stratification, determinism, disjointness."""

import numpy as np
import pytest

from ablation.data.idx import FILES, write_idx
from ablation.data.split import (
    PROTOCOLS,
    load_split,
    make_split,
    part_sizes,
    save_split,
    stratified_split,
    stratified_subset,
)

FRACTIONS = {"train": 0.7, "val": 0.1, "test": 0.2}


def test_full_size_parts_are_the_studys():
    assert part_sizes(70_000, FRACTIONS) == {"train": 49_000, "val": 7_000, "test": 14_000}


def test_uneven_sizes_go_to_the_largest_remainders():
    # 70/10/20 of 7 is 4.9/0.7/1.4: floors 4/0/1, and the 2 images left go to train (0.9) and val (0.7), not test.
    assert part_sizes(7, FRACTIONS) == {"train": 5, "val": 1, "test": 1}
    # Of 11: 7.7/1.1/2.2, floors 7/1/2, the one left to train.
    assert part_sizes(11, FRACTIONS) == {"train": 8, "val": 1, "test": 2}


@pytest.fixture(scope="module")
def labels():
    # Unequal classes, like MNIST's (its train label counts), pooled to 7,000.
    counts = np.array([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]) // 9
    labels = np.repeat(np.arange(10), counts)
    return np.random.default_rng(1).permutation(labels)


def test_parts_are_disjoint_cover_everything_and_have_exact_sizes(labels):
    parts = stratified_split(labels, FRACTIONS, seed=0)
    together = np.concatenate(list(parts.values()))
    assert len(together) == len(np.unique(together)) == len(labels)
    assert {p: len(v) for p, v in parts.items()} == part_sizes(len(labels), FRACTIONS)


def test_every_class_is_cut_in_the_same_proportions(labels):
    parts = stratified_split(labels, FRACTIONS, seed=0)
    overall = np.bincount(labels, minlength=10)
    for part, indices in parts.items():
        counts = np.bincount(labels[indices], minlength=10)
        assert np.all(np.abs(counts - overall * FRACTIONS[part]) <= 1), part


def test_same_seed_same_split_other_seed_other_split(labels):
    a, b, c = (stratified_split(labels, FRACTIONS, seed=s) for s in (0, 0, 1))
    assert all(np.array_equal(a[p], b[p]) for p in a)
    assert not np.array_equal(a["test"], c["test"])


def test_subset_is_stratified_exact_and_inside_its_part(labels):
    parts = stratified_split(labels, FRACTIONS, seed=0)
    subset = stratified_subset(parts["train"], labels, 500, seed=3)
    assert len(subset) == 500 and set(subset) <= set(parts["train"])
    counts = np.bincount(labels[subset], minlength=10)
    expected = np.bincount(labels[parts["train"]], minlength=10) * 500 / len(parts["train"])
    assert np.all(np.abs(counts - expected) <= 1)


def test_saved_split_records_checksum_class_counts_and_normalisation(prepared_split, tmp_path):
    parts, meta = make_split(prepared_split["data_dir"], FRACTIONS, seed=0)
    assert meta["sizes"] == {"train": 420, "val": 60, "test": 120}
    assert [sum(c) for c in meta["class_counts"].values()] == [420, 60, 120]
    assert 0 < meta["mean"] < 1 and 0 < meta["std"] < 1
    save_split(parts, meta, tmp_path / "s.npz", tmp_path / "s.json")
    again = load_split(tmp_path / "s.npz")
    assert all(np.array_equal(again[p], parts[p]) for p in parts)
    _, meta_again = make_split(prepared_split["data_dir"], FRACTIONS, seed=0)
    assert meta_again["checksum"] == meta["checksum"]
    _, other = make_split(prepared_split["data_dir"], FRACTIONS, seed=1)
    assert other["checksum"] != meta["checksum"]


def test_the_sources_protocols_cut_the_training_file_and_test_where_each_source_did(prepared_split):
    """500 training-file and 100 test-file fixture images: 70/10/20 of the 500 (350/50/100); source 001 tests on the
    test file's 100 images (its 20% part unused), source 000 on the 20% part. Seeded, unlike the sources' own."""
    data_dir = prepared_split["data_dir"]
    pooled_sizes = {"train": 420, "val": 60, "test": 120}
    expected = {"seed001": {"train": 350, "val": 50, "test": 100}, "seed000": {"train": 350, "val": 50, "test": 100}}
    cuts = {}
    for protocol, sizes in expected.items():
        parts, meta = make_split(data_dir, FRACTIONS, seed=0, protocol=protocol)
        assert meta["sizes"] == sizes and meta["protocol"] == protocol
        assert 0 < meta["mean"] < 1 and 0 < meta["std"] < 1
        together = np.concatenate(list(parts.values()))
        assert len(np.unique(together)) == len(together), "the parts are disjoint"
        assert parts["train"].max() < 500 and parts["val"].max() < 500, "trained on the training file only"
        cuts[protocol] = parts
        again, meta_again = make_split(data_dir, FRACTIONS, seed=0, protocol=protocol)
        assert meta_again["checksum"] == meta["checksum"]
        assert make_split(data_dir, FRACTIONS, seed=1, protocol=protocol)[1]["checksum"] != meta["checksum"]
    assert np.array_equal(cuts["seed001"]["test"], np.arange(500, 600)), "the official test file"
    assert cuts["seed000"]["test"].max() < 500, "the 20% part of the training file"
    # Both cut the training file the same way (one random_split); only the test part differs.
    assert np.array_equal(cuts["seed001"]["train"], cuts["seed000"]["train"])
    _, pooled = make_split(data_dir, FRACTIONS, seed=0)
    assert pooled["sizes"] == pooled_sizes and pooled["protocol"] == "pooled"
    with pytest.raises(ValueError, match="unknown split protocol 'seed002'"):
        make_split(data_dir, FRACTIONS, seed=0, protocol="seed002")


def test_the_normalisation_statistics_are_the_training_parts_pixels_alone(tmp_path):
    """A dataset whose test file is far brighter than its training file: under every protocol the split's mean and
    std are those of its training part's pixels, not of all images (which would leak val and test into every run)."""
    rng = np.random.default_rng(5)
    train_file = rng.integers(0, 100, size=(500, 28, 28), dtype=np.uint8)
    test_file = rng.integers(150, 256, size=(100, 28, 28), dtype=np.uint8)
    for prefix, images in (("train", train_file), ("test", test_file)):
        write_idx(tmp_path / FILES[f"{prefix}_images"], images)
        write_idx(tmp_path / FILES[f"{prefix}_labels"], (np.arange(len(images)) % 10).astype(np.uint8))
    pooled = np.concatenate([train_file, test_file]).astype(np.float64) / 255.0
    for protocol in PROTOCOLS:
        parts, meta = make_split(tmp_path, FRACTIONS, seed=0, protocol=protocol)
        train_pixels = pooled[parts["train"]]
        assert meta["mean"] == pytest.approx(train_pixels.mean(), rel=1e-12), protocol
        assert meta["std"] == pytest.approx(train_pixels.std(), rel=1e-12), protocol
        if protocol != "pooled":  # the sources' protocols train on the training file alone: darker than all images
            assert meta["mean"] < pooled.mean() - 0.05, protocol
