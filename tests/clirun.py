"""Run the real `labctl` console script of this venv, as a user would, and capture it."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

LABCTL = str(Path(sys.executable).parent / "labctl")


@functools.cache
def offline_prefix() -> list[str]:
    """``unshare -n`` where this machine allows it (root): the command then runs in an empty
    network namespace, so a hostile input that slipped through could reach no host at all."""
    if os.geteuid() == 0 and shutil.which("unshare"):
        probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["unshare", "-n"]
    return []


def isolated_env(tmp: Path) -> dict[str, str]:
    """os.environ without labctl's own variables, with state/config/cache dirs under ``tmp``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABCTL_", "XDG_"))}
    env.update(
        XDG_STATE_HOME=str(tmp / "state"),
        XDG_CONFIG_HOME=str(tmp / "config"),
        XDG_CACHE_HOME=str(tmp / "cache"),
        COLUMNS="200",
    )
    return env


def run(
    *args: str,
    env: Mapping[str, str],
    cwd: Path | None = None,
    timeout: float = 300,
    offline: bool = False,
) -> subprocess.CompletedProcess[str]:
    """``labctl ARGS`` with no terminal on stdin (so it never waits for a confirmation);
    ``offline``: in an empty network namespace where possible (offline_prefix)."""
    return subprocess.run(
        [*(offline_prefix() if offline else []), LABCTL, *args],
        env={"COLUMNS": "200", **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def problem_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    """stderr without the `inventory: <path> (<why>)` line every inventory reader prints."""
    return [
        ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("inventory: ")
    ]
