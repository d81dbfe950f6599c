"""requirements.lock installs where users are: on macOS (arm64) and Windows (x86-64), pip finds a wheel of every pin
those platforms need, for Python 3.11, from PyPI (Linux is the lock's own platform, which `make venv` installs)."""

import json
import subprocess
import sys

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from ablation.ops.lockfile import pins, read_requirements
from conftest import REPO

PYTHON = "3.11"
# pip's --platform chooses wheels only: it evaluates markers for the machine it runs on (pypa/pip#6117), so each
# platform's lines are chosen here as pip there would choose them, and pip resolves them without following
# dependencies (--no-deps): the lock is the whole closure, which pip resolved together on Linux for `make lock`.
TARGETS = {
    "macos-arm64": (
        "macosx_14_0_arm64",
        {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64", "os_name": "posix"},
    ),
    "windows-x86_64": (
        "win_amd64",
        {"sys_platform": "win32", "platform_system": "Windows", "platform_machine": "AMD64", "os_name": "nt"},
    ),
}


def pins_for(lock_text: str, environment: dict) -> dict[str, str]:
    """{name: version} of the lock's lines whose marker holds in `environment`."""
    chosen = {}
    for line in lock_text.splitlines():
        line = line.split("#")[0].strip()
        if line:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate(environment):
                chosen[canonicalize_name(requirement.name)] = str(
                    Version(str(requirement.specifier).removeprefix("=="))
                )
    return chosen


def pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=600)


# Locked packages published as a source archive only, pure Python.
SOURCE_ONLY = ["connection-pool"]


@pytest.fixture(scope="module")
def pure_wheels(tmp_path_factory):
    """Wheels built here of the SOURCE_ONLY pins, as pip builds them on any platform: pure-Python (none-any) ones,
    which install anywhere."""
    wheels = tmp_path_factory.mktemp("pure_wheels")
    locked = pins_for((REPO / "requirements.lock").read_text(), default_environment())
    for name in SOURCE_ONLY:
        proc = pip("wheel", "--quiet", "--no-deps", "-w", str(wheels), f"{name}=={locked[name]}")
        assert proc.returncode == 0, proc.stderr[-2000:]
    assert all(wheel.name.endswith("-none-any.whl") for wheel in wheels.iterdir()), list(wheels.iterdir())
    return wheels


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS)
def test_pip_finds_a_wheel_of_every_pin_the_platform_needs(target, pure_wheels, tmp_path):
    platform, markers = TARGETS[target]
    environment = {**default_environment(), **markers, "python_version": PYTHON, "python_full_version": f"{PYTHON}.0"}
    needed = pins_for((REPO / "requirements.lock").read_text(), environment)
    assert "torch" in needed and not any(name.startswith(("nvidia-", "cuda-", "triton")) for name in needed)
    (tmp_path / "lock.txt").write_text("".join(f"{name}=={version}\n" for name, version in needed.items()))
    proc = pip(
        *["install", "--dry-run", "--ignore-installed", "--no-deps", "--quiet", "--report", str(tmp_path / "r.json")],
        *["--platform", platform, "--only-binary=:all:", "--python-version", PYTHON],
        *["--find-links", str(pure_wheels), "-r", str(tmp_path / "lock.txt")],
    )
    assert proc.returncode == 0, f"requirements.lock does not install on {target}:\n{proc.stderr[-3000:]}"
    report = json.loads((tmp_path / "r.json").read_text())
    resolved = {
        canonicalize_name(i["metadata"]["name"]): str(Version(i["metadata"]["version"])) for i in report["install"]
    }
    assert resolved == needed


def test_the_lock_is_what_make_lock_generates_from_the_venv_now():
    """The pins and their markers as `make lock` writes them from the venv that `make venv` built from the lock."""
    lines = [line for line in (REPO / "requirements.lock").read_text().splitlines() if not line.startswith("#")]
    assert lines == pins(read_requirements(REPO / "requirements.in")), (
        "requirements.lock is not what `make lock` writes from this venv: run `make lock` after a change of "
        "requirements.in (or `make venv`, if the venv is older than the lock)"
    )
