"""One seeded, class-stratified split per dataset: the 60k+10k images pooled, cut 70/10/20."""

import hashlib
import json
from pathlib import Path

import numpy as np

from .idx import FILES, read_idx

PARTS = ("train", "val", "test")
# Images per dataset once its 60,000 training and 10,000 test images are pooled (MNIST and Fashion-MNIST alike).
POOLED_IMAGES = 70_000


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
    # Imported here: every training job and the plan import this module, and sklearn alone takes ~2 s to import.
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


def make_split(data_dir, fractions, seed, subset=None) -> tuple[dict[str, np.ndarray], dict]:
    """The split's indices into the pooled arrays and its metadata (sizes, class counts, checksum, mean/std)."""
    images, labels = load_pooled(data_dir)
    parts = stratified_split(labels, fractions, seed)
    if subset:
        parts = {p: stratified_subset(parts[p], labels, subset[p], seed + 1 + i) for i, p in enumerate(PARTS)}
    train_pixels = images[parts["train"]].astype(np.float64) / 255.0
    meta = {
        "fractions": fractions,
        "seed": seed,
        "subset": subset,
        "sizes": {p: int(len(parts[p])) for p in PARTS},
        "class_counts": {p: np.bincount(labels[parts[p]], minlength=10).tolist() for p in PARTS},
        # Normalisation constants come from the training part only, so nothing leaks from val/test.
        "mean": float(train_pixels.mean()),
        "std": float(train_pixels.std()),
        "checksum": split_checksum(parts),
    }
    return parts, meta


def save_split(parts, meta, npz_path, json_path) -> None:
    np.savez(npz_path, **{p: parts[p] for p in PARTS})
    Path(json_path).write_text(json.dumps(meta, indent=2) + "\n")


def load_split(npz_path) -> dict[str, np.ndarray]:
    with np.load(npz_path) as f:
        return {p: f[p] for p in PARTS}
