"""The splits of a dataset into training, validation and test parts, by protocol, each seeded and checksummed.

- `pooled` (ours): the 60,000 training and 10,000 test images pooled, cut 70/10/20, stratified by class.
- `seed001`: as source 001's code (`random_split` of the 60,000 training images 70/10/20, tested on the official 10,000
  test images; its 20% part goes unused).
- `seed000`: as source 000's notebook (the same cut of the 60,000, tested on its 20% part, 12,000 images).
The sources' splits were random and unseeded; ours are random (not stratified, as `random_split`) but seeded.
Every split records its training part's mean and std; a run normalises with them or with the sources' (0.5, 0.5) (its
`normalisation` factor, ablation.train.resnet.normalisation).
"""

import hashlib
import io
import json
from pathlib import Path

import numpy as np

from ablation.data.idx import FILES, read_idx
from ablation.outputs.diskspace import require_space
from ablation.outputs.records import atomic_write_bytes

PARTS = ("train", "val", "test")
# Images per dataset once its 60,000 training and 10,000 test images are pooled (MNIST and Fashion-MNIST alike).
POOLED_IMAGES = 70_000
TRAIN_FILE_IMAGES = 60_000  # of them in the training file, the rest in the test file


def load_pooled(data_dir) -> tuple[np.ndarray, np.ndarray]:
    """All images (N, 28, 28) uint8 and labels (N,) of a dataset, train file first, then t10k."""
    data_dir = Path(data_dir)
    images = np.concatenate([read_idx(data_dir / FILES["train_images"]), read_idx(data_dir / FILES["test_images"])])
    labels = np.concatenate([read_idx(data_dir / FILES["train_labels"]), read_idx(data_dir / FILES["test_labels"])])
    if len(images) != len(labels):
        raise ValueError(f"{data_dir}: {len(images)} images but {len(labels)} labels")
    return images, labels


def part_sizes(n: int, fractions: dict[str, float]) -> dict[str, int]:
    """Integer sizes that sum to n, by largest remainder (70/10/20 of 70,000 is 49,000/7,000/14,000)."""
    exact = {p: n * fractions[p] for p in PARTS}
    sizes = {p: int(np.floor(exact[p])) for p in PARTS}
    for p in sorted(PARTS, key=lambda p: exact[p] - sizes[p], reverse=True)[: n - sum(sizes.values())]:
        sizes[p] += 1
    return sizes


PROTOCOLS = ("pooled", "seed001", "seed000")


def protocol_split(
    labels: np.ndarray, protocol: str, fractions: dict[str, float], seed: int, train_file_images: int
) -> dict[str, np.ndarray]:
    """Indices into the pooled arrays of each part under `protocol` (see the module's docstring), each part sorted.
    The pooled arrays hold the `train_file_images` images of the training file (60,000) first, then the test file's."""
    if protocol == "pooled":
        return stratified_split(labels, fractions, seed)
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown split protocol {protocol!r}; one of {', '.join(PROTOCOLS)}")
    # torch's random_split: one random permutation of the training file's images, cut in order.
    sizes = part_sizes(train_file_images, fractions)
    order = np.random.default_rng(seed).permutation(train_file_images)
    train, val = order[: sizes["train"]], order[sizes["train"] : sizes["train"] + sizes["val"]]
    held_out = order[sizes["train"] + sizes["val"] :]
    test = np.arange(train_file_images, len(labels)) if protocol == "seed001" else held_out
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


def stratified_split(labels: np.ndarray, fractions: dict[str, float], seed: int) -> dict[str, np.ndarray]:
    """Indices of each part, every class cut in the same proportions, each part sorted; sizes from `part_sizes`."""
    sizes = part_sizes(len(labels), fractions)
    everything = np.arange(len(labels))
    rest, test = _cut(everything, labels, sizes["test"], seed)
    train, val = _cut(rest, labels, sizes["val"], seed + 1)
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


def _cut(indices: np.ndarray, labels: np.ndarray, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(rest, picked): a seeded, class-stratified pick of exactly `size` of `indices`."""
    if size == 0:
        return indices, indices[:0]
    if size == len(indices):
        return indices[:0], indices
    # Imported here: every training job and the plan import this module, and sklearn is slow to import.
    from sklearn.model_selection import train_test_split

    rest, picked = train_test_split(indices, test_size=size, stratify=labels[indices], random_state=seed)
    return rest, picked


def stratified_subset(indices: np.ndarray, labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """A seeded, class-stratified subset of `indices` with exactly `size` elements (for the demo)."""
    if size >= len(indices):
        return indices
    return np.sort(_cut(indices, labels, size, seed)[1])


def split_checksum(parts: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for p in PARTS:
        digest.update(p.encode())
        digest.update(np.ascontiguousarray(parts[p], dtype=np.int64).tobytes())
    return digest.hexdigest()


def make_split(
    data_dir, fractions, seed, subset=None, protocol: str = "pooled", data_sha256: dict | None = None
) -> tuple[dict[str, np.ndarray], dict]:
    """The split's indices into the pooled arrays and its metadata (protocol, sizes, class counts, checksum, the
    training part's mean/std, and `data_sha256`, the raw files' sums, which the runs check their files against)."""
    images, labels = load_pooled(data_dir)
    train_file_images = len(read_idx(Path(data_dir) / FILES["train_labels"]))
    parts = protocol_split(labels, protocol, fractions, seed, train_file_images)
    if subset:
        parts = {p: stratified_subset(parts[p], labels, subset[p], seed + 1 + i) for i, p in enumerate(PARTS)}
    # From the training part only, so nothing leaks from val/test.
    train_pixels = images[parts["train"]].astype(np.float64) / 255.0
    mean, std = float(train_pixels.mean()), float(train_pixels.std())
    meta = {
        "protocol": protocol,
        "fractions": fractions,
        "seed": seed,
        "subset": subset,
        "sizes": {p: int(len(parts[p])) for p in PARTS},
        "class_counts": {p: np.bincount(labels[parts[p]], minlength=10).tolist() for p in PARTS},
        "mean": mean,
        "std": std,
        "checksum": split_checksum(parts),
        "data_sha256": data_sha256,
    }
    return parts, meta


def save_split(parts, meta, npz_path, json_path) -> None:
    """Each file written whole (atomic replace), once a check has found room for both."""
    npz = io.BytesIO()
    np.savez(npz, **{p: parts[p] for p in PARTS})
    files = {Path(npz_path): npz.getvalue(), Path(json_path): (json.dumps(meta, indent=2) + "\n").encode()}
    require_space([(path, len(data), f"the split's {path.name}") for path, data in files.items()])
    for path, data in files.items():
        atomic_write_bytes(path, data)


def load_split(npz_path) -> dict[str, np.ndarray]:
    with np.load(npz_path) as f:
        return {p: f[p] for p in PARTS}


def split_sizes(config: dict) -> dict[str, int]:
    """The images in each part of the config's split, after its `data.subset`."""
    sizes = part_sizes(POOLED_IMAGES, config["data"]["split"])
    subset = config["data"]["subset"]
    return {p: min(sizes[p], subset[p]) for p in sizes} if subset else sizes
