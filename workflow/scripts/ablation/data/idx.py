"""Reading and writing the IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/)."""

import gzip
import hashlib
from pathlib import Path

import numpy as np

# The IDX magic number's third byte names the element type; MNIST only uses unsigned bytes.
_UBYTE = 0x08

# The four files of each dataset, by role.
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def read_idx(path) -> np.ndarray:
    """An IDX file (plain or .gz) as a uint8 array of its declared shape."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != _UBYTE:
        raise ValueError(f"{path}: not an unsigned-byte IDX file (magic {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise ValueError(
            f"{path}: truncated or padded IDX file: header declares shape {shape} "
            f"({expected} bytes of data) but the file holds {len(raw) - header}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def write_idx(path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (used by test fixtures and never on real data)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, _UBYTE, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    Path(path).write_bytes(header + array.tobytes())


def sha256_file(path) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
