"""`make lock`'s lock files from the venv: the pinned closure of a requirements file, each pin that only some platforms
need (PyTorch's CUDA libraries and triton on Linux, Intel's oneDAL on x86-64) with its environment marker, so that
the lock installs on macOS and Windows too and pip skips there what they do not need.

The closure and its markers come from the installed packages' own metadata (Requires-Dist, markers evaluated for
each platform of PLATFORMS with this interpreter's Python version, extras followed): a package gets a marker naming
the platforms on which something requires it, and none where every platform does.
"""

import argparse
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

# Left out of a lock as pip freeze leaves them out: the installer's own tools, which every venv brings.
INSTALLER_TOOLS = {"pip", "setuptools", "wheel", "distribute"}
# The platforms a lock is for, as environment markers see them; a pin needed on all of them carries no marker.
PLATFORMS = {
    ("linux", "x86_64"): {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix"},
    ("linux", "aarch64"): {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix"},
    ("darwin", "arm64"): {"sys_platform": "darwin", "platform_system": "Darwin", "os_name": "posix"},
    ("win32", "AMD64"): {"sys_platform": "win32", "platform_system": "Windows", "os_name": "nt"},
}


def read_requirements(path) -> list[Requirement]:
    lines = [line.split("#")[0].strip() for line in Path(path).read_text().splitlines()]
    return [Requirement(line) for line in lines if line and not line.startswith("-")]


def applies(requirement: Requirement, extras=None, environment=None) -> bool:
    """Whether `requirement` is needed with any of `extras` on the platform `environment` describes (this one where
    None; markers are evaluated over this interpreter's environment)."""
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({**(environment or {}), "extra": e}) for e in (extras or {""}))


def closure(roots: list[Requirement], environment=None, leaves=()) -> set[str]:
    """Canonical names of `roots` and everything they require on the platform `environment` describes (this one where
    None), as the installed packages' metadata says, extras followed; `leaves` are named but not followed. A package
    not installed here is required on another platform only: pip resolves it there."""
    names, seen = set(), set()
    stack = [r for r in roots if applies(r, environment=environment)]
    while stack:
        requirement = stack.pop()
        name = canonicalize_name(requirement.name)
        if (name, frozenset(requirement.extras)) in seen:
            continue
        seen.add((name, frozenset(requirement.extras)))
        if name in leaves:
            names.add(name)
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        names.add(name)
        requires = map(Requirement, dist.requires or [])
        stack.extend(r for r in requires if applies(r, requirement.extras, environment))
    return names


def platform_marker(platforms: list[tuple[str, str]]) -> str:
    """The environment marker of a set of PLATFORMS: a whole operating system by its name, else each machine."""
    parts = []
    for system in dict.fromkeys(system for system, _ in PLATFORMS):
        machines = [machine for s, machine in PLATFORMS if s == system]
        wanted = [machine for machine in machines if (system, machine) in platforms]
        if wanted == machines:
            parts.append(f'sys_platform == "{system}"')
        else:
            parts += [f'sys_platform == "{system}" and platform_machine == "{machine}"' for machine in wanted]
    return " or ".join(parts)


def pins(roots: list[Requirement], excluded=()) -> list[str]:
    """`name==version` of every installed package in the closure of `roots` (but `excluded`), sorted as pip freeze
    sorts, with the marker of the platforms that need it where not all do."""
    here = default_environment()
    needed_on = {}
    for (system, machine), environment in PLATFORMS.items():
        for name in closure(roots, {**here, **environment, "platform_machine": machine}):
            needed_on.setdefault(name, []).append((system, machine))
    lines = {}
    for name, platforms in needed_on.items():
        if name in excluded or name in INSTALLER_TOOLS:
            continue
        dist = metadata.distribution(name)
        marker = "" if len(platforms) == len(PLATFORMS) else f"; {platform_marker(platforms)}"
        lines[dist.metadata["Name"]] = f"{dist.metadata['Name']}=={Version(dist.version)}{marker}"
    return [lines[name] for name in sorted(lines, key=str.lower)]


def locked_names(path) -> set[str]:
    return {canonicalize_name(r.name) for r in read_requirements(path)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("requirements", help="the direct dependencies (requirements.in)")
    parser.add_argument("--out", required=True, help="the lock file to write")
    parser.add_argument("--header", required=True, help="the lock's first line, a comment saying what it is")
    parser.add_argument("--exclude-lock", help="a lock whose packages this one leaves out (the core lock of an extra)")
    args = parser.parse_args(argv)
    excluded = locked_names(args.exclude_lock) if args.exclude_lock else set()
    lines = pins(read_requirements(args.requirements), excluded)
    Path(args.out).write_text("".join(f"{line}\n" for line in [f"# {args.header}", *lines]))


if __name__ == "__main__":
    main()
