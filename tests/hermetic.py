"""The suite leaves the checkout as it found it: every file a test writes goes to a temporary directory. A snapshot of
the checkout's files (tracked and ignored alike) is taken before the first test and compared after the last; any file
created, changed or deleted in between fails the run, each named."""

import os
from pathlib import Path

# Not compared: git's own store, the venv `make venv` built (any name under VENVS), and the interpreter's bytecode
# caches, which Python writes beside any module it imports, the workflow's included, and rebuilds from the sources.
SKIPPED_DIRS = {".git", "__pycache__"}
VENVS = {".venv"}


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime in ns) of every file under `root` by its relative path, the skipped folders aside."""
    files = {}
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = [d for d in subdirs if d not in SKIPPED_DIRS and not (directory == str(root) and d in VENVS)]
        for name in names:
            path = Path(directory, name)
            try:
                stat = path.lstat()
            except FileNotFoundError:  # removed while the walk ran
                continue
            files[str(path.relative_to(root))] = (stat.st_size, stat.st_mtime_ns)
    return files


def differences(before: dict, after: dict) -> list[str]:
    """One line per file created, changed or deleted between two snapshots, sorted by path."""
    lines = [f"created: {p}" for p in after.keys() - before.keys()]
    lines += [f"deleted: {p}" for p in before.keys() - after.keys()]
    lines += [f"changed: {p}" for p in before.keys() & after.keys() if before[p] != after[p]]
    return sorted(lines, key=lambda line: line.split(": ", 1)[1])
