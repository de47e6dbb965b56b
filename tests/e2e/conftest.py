"""Fixtures of the real-cluster tier (issue 6): the e2e/ build scripts and their cache.

Tests marked `e2e` need the k3s build of `e2e/build.sh`; without it they are skipped with
the reason `e2e/build.sh status` gives (also what `.ci/run` prints as `e2e NOT RUN: ...`).
The image tests here need only Docker (marker `docker`; with LABCTL_REQUIRE_DOCKER=1 a
missing engine fails them instead of skipping) and build their inputs themselves.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import E2E, build_status, docker_problem, read_env_file


@pytest.fixture(scope="session")
def versions() -> dict[str, str]:
    return read_env_file(E2E / "versions.env")


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


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[None]:
    problem = docker_problem()
    if problem is not None:
        if os.environ.get("LABCTL_REQUIRE_DOCKER") == "1":
            pytest.fail(f"LABCTL_REQUIRE_DOCKER=1 but {problem}")
        pytest.skip(f"needs Docker: {problem}")
    yield


@pytest.fixture(scope="session")
def pause_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Our pause program, compiled exactly as e2e/build.sh compiles it."""
    if shutil.which("gcc") is None:
        pytest.skip("needs gcc (Debian: build-essential)")
    out = tmp_path_factory.mktemp("pause") / "pause"
    cmd = ["gcc", "-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(out)]
    subprocess.run([*cmd, str(E2E / "pause.c")], check=True)
    return out
