"""The project's linters, so the README's one test command covers them: ruff, yamllint and
ansible-lint (production profile, .ansible-lint), each run from labctl's own venv."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BINDIR = Path(sys.executable).parent


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "."],
        ["yamllint", "."],
        ["ansible-lint", "--nocolor"],
    ],
    ids=["ruff", "yamllint", "ansible-lint"],
)
def test_linter_is_clean(command: list[str]) -> None:
    env = dict(os.environ)
    # ansible-lint runs ansible-playbook --syntax-check and expects its venv first on PATH
    env["PATH"] = os.pathsep.join([str(BINDIR), env.get("PATH", "")])
    env["NO_COLOR"] = "1"
    proc = subprocess.run(
        [str(BINDIR / command[0]), *command[1:]],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    stderr_tail = "\n".join(proc.stderr.splitlines()[-30:])
    assert proc.returncode == 0, f"{' '.join(command)}:\n{proc.stdout}\n{stderr_tail}"
