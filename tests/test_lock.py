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

from conftest import REPO

PYTHON = "3.11"
# pip's --platform chooses wheels only: it evaluates markers for the machine it runs on (pypa/pip#6117), so each
# platform's lines are chosen here as pip there would choose them, and pip resolves them without following
# dependencies (--no-deps): the lock is the whole closure, checked for conflicts on Linux by the venv's pip check.
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
pytestmark = pytest.mark.slow


def pins_for(lock_text: str, environment: dict) -> dict[str, str]:
    """{name: version} of the lock's lines whose marker holds in `environment`."""
    pins = {}
    for line in lock_text.splitlines():
        line = line.split("#")[0].strip()
        if line:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate(environment):
                pins[canonicalize_name(requirement.name)] = str(Version(str(requirement.specifier).removeprefix("==")))
    return pins


def pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def pure_wheels(tmp_path_factory):
    """Wheels built here of the pins published as a source archive only: pip builds them so on any platform, and a
    pure-Python one (none-any) installs anywhere."""
    wheels = tmp_path_factory.mktemp("pure_wheels")
    for pin in ["connection_pool==0.0.3"]:
        proc = pip("wheel", "--quiet", "--no-deps", "-w", str(wheels), pin)
        assert proc.returncode == 0, proc.stderr[-2000:]
    assert all(wheel.name.endswith("-none-any.whl") for wheel in wheels.iterdir()), list(wheels.iterdir())
    return wheels


@pytest.mark.parametrize("target", TARGETS)
def test_pip_finds_a_wheel_of_every_pin_the_platform_needs(target, pure_wheels, tmp_path):
    platform, markers = TARGETS[target]
    environment = {**default_environment(), **markers, "python_version": PYTHON, "python_full_version": f"{PYTHON}.0"}
    pins = pins_for((REPO / "requirements.lock").read_text(), environment)
    assert "torch" in pins and not any(name.startswith(("nvidia-", "cuda-", "triton")) for name in pins)
    (tmp_path / "lock.txt").write_text("".join(f"{name}=={version}\n" for name, version in pins.items()))
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
    assert resolved == pins


def test_the_lock_is_what_make_lock_generates_from_the_venv_now():
    """The pins and their markers as `make lock` writes them from the venv that `make venv` built from the lock."""
    from ablation.lockfile import pins, read_requirements

    lines = [line for line in (REPO / "requirements.lock").read_text().splitlines() if not line.startswith("#")]
    assert lines == pins(read_requirements(REPO / "requirements.in")), "requirements.lock is stale: run `make lock`"
