"""Fixtures of the real-cluster tier (issue 6): the e2e/ build scripts and their cache.

Tests marked `e2e` need the k3s build of `e2e/build.sh`; without it they are skipped with
the reason `e2e/build.sh status` gives (also what `.ci/run` prints as `e2e NOT RUN: ...`).
The image tests here need only Docker and build their inputs themselves.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
E2E = ROOT / "e2e"
BUILD_SH = E2E / "build.sh"


def e2e_cache() -> Path:
    return Path(os.environ.get("LABCTL_E2E_CACHE", "/var/cache/labctl-e2e"))


def read_env_file(path: Path) -> dict[str, str]:
    """The KEY="value" lines of e2e/versions.env (comments and blank lines ignored)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        values[key] = value.strip('"')
    return values


@pytest.fixture(scope="session")
def versions() -> dict[str, str]:
    return read_env_file(E2E / "versions.env")


def build_status() -> tuple[bool, str]:
    proc = subprocess.run(
        ["bash", str(BUILD_SH), "status"], capture_output=True, text=True, check=False
    )
    return proc.returncode == 0, proc.stdout.strip() or proc.stderr.strip()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    del config
    e2e_items = [item for item in items if item.get_closest_marker("e2e")]
    if not e2e_items:
        return
    ready, reason = build_status()
    if ready:
        return
    for item in e2e_items:
        item.add_marker(pytest.mark.skip(reason=f"e2e NOT RUN: {reason}"))


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    proc = subprocess.run(["docker", "info"], capture_output=True, check=False)
    return proc.returncode == 0


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[None]:
    if not docker_available():
        pytest.skip("needs a running Docker engine (.ci/start-docker)")
    yield


@pytest.fixture(scope="session")
def pause_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Our pause program, compiled exactly as e2e/build.sh compiles it."""
    if shutil.which("gcc") is None:
        pytest.skip("needs gcc (Debian: build-essential)")
    out = tmp_path_factory.mktemp("pause") / "pause"
    subprocess.run(
        [
            "gcc",
            "-static",
            "-O2",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-o",
            str(out),
            str(E2E / "pause.c"),
        ],
        check=True,
    )
    return out
