"""The molecule scenario (molecule/default) under pytest, so the README's one test command
covers it: four stand-in Pis converged with the project's prepare and nfs playbooks, then
converged again, which must change nothing, then verified."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mirror import Mirror, molecule_env

pytestmark = [pytest.mark.molecule, pytest.mark.docker]

ROOT = Path(__file__).resolve().parents[1]


def _phase_ok(log: str, phase: str) -> bool:
    return re.search(rf"default \S+ {phase}: Executed: Successful", log) is not None


def test_molecule_scenario_converges_idempotently(
    docker_available: None, standin_lock: None, mirror: Mirror, tmp_path: Path
) -> None:
    bindir = Path(sys.executable).parent
    env = dict(os.environ)
    env.update(
        PATH=os.pathsep.join([str(bindir), env.get("PATH", "")]),
        PY_COLORS="0",
        ANSIBLE_FORCE_COLOR="0",
        NO_COLOR="1",
        **molecule_env(mirror),
    )
    log_path = tmp_path / "molecule-test.log"
    with log_path.open("w", encoding="utf-8") as log:
        proc = subprocess.run(
            [str(bindir / "molecule"), "test"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=3600,
            check=False,
        )
    log_text = log_path.read_text(encoding="utf-8")
    tail = "\n".join(log_text.splitlines()[-60:])
    assert proc.returncode == 0, f"molecule test failed (full log: {log_path}):\n{tail}"
    assert _phase_ok(log_text, "converge"), tail
    assert _phase_ok(log_text, "idempotence"), f"idempotence did not pass:\n{tail}"
    if (ROOT / "molecule" / "default" / "verify.yml").is_file():
        assert _phase_ok(log_text, "verify"), tail
