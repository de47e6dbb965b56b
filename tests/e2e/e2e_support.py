"""Paths and helpers shared by the tests of the real-cluster tier (tests/e2e)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

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


def build_status() -> tuple[bool, str]:
    """(ready, reason) from `e2e/build.sh status`."""
    proc = subprocess.run(
        ["bash", str(BUILD_SH), "status"], capture_output=True, text=True, check=False
    )
    return proc.returncode == 0, proc.stdout.strip() or proc.stderr.strip()


def docker_problem() -> str | None:
    """Why Docker cannot be used here, or None when `docker info` answers."""
    from standins import engine_problem  # tests/ is on sys.path through tests/conftest.py

    return engine_problem()
