"""Failure handling you can trust, proven against stand-in Pis over real SSH.

- a worker that goes away mid-run is named unreachable with its task, the run exits 1, and a
  re-run converges once it is back;
- Ctrl-C (SIGINT) cancels ansible-runner cleanly: exit 130, the run is recorded as cancelled,
  and no half-written file is left in labctl's state dir.

(A converged re-run reporting changed=0 is asserted in tests/roles/test_node_roles.py.)
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import clirun


def start_up(lab, *parts: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [clirun.LABCTL, "up", "--only", ",".join(parts)],
        env={**lab.env(), "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_line(proc: subprocess.Popen[str], needle: str, timeout: float = 300) -> list[str]:
    """Read the plain progress lines until one contains ``needle``."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line.rstrip())
        if needle in line:
            return seen
    raise AssertionError(f"never saw {needle!r}; output so far:\n" + "\n".join(seen))


def run_dirs(lab) -> list[Path]:
    return sorted((lab.state_home / "labctl" / "runs").iterdir())


def test_worker_lost_mid_run_is_named_and_rerun_converges(fresh_standins):
    lab = fresh_standins("raspi001", "raspi002", "raspi003")
    proc = start_up(lab, "prepare")
    wait_for_line(proc, "PLAY Prepare")
    wait_for_line(proc, "  ")  # the first task of the play has started
    lab.stop("raspi003")
    out, _ = proc.communicate(timeout=900)
    assert proc.returncode == 1, out
    unreachable = [ln for ln in out.splitlines() if ln.startswith("UNREACHABLE raspi003")]
    assert unreachable, out
    assert "· task '" in unreachable[0]
    assert "up: failed" in out
    record = json.loads((run_dirs(lab)[-1] / "labctl-run.json").read_text())
    assert record["status"] == "failed"
    assert any(f["host"] == "raspi003" and f["unreachable"] for f in record["failures"])

    lab.start("raspi003")
    again = clirun.run("up", "--only", "prepare", env=lab.env(), timeout=900)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "up: ok" in again.stdout


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) for every live, non-zombie process."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":
            found[int(entry.name)] = (int(fields[1]), cmdline)
    return found


def _started_by(root: int, control_dir: Path) -> dict[int, str]:
    """labctl's descendants (Ansible, its workers, ssh) and the SSH masters of this lab,
    which ssh detaches from their parent (ControlPersist)."""
    procs = _processes()
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, (ppid, _) in procs.items() if ppid in tree} - tree
        tree |= more
        grew = bool(more)
    masters = {pid for pid, (_, cmd) in procs.items() if str(control_dir) in cmd}
    return {pid: procs[pid][1] for pid in (tree | masters) - {root} if pid in procs}


def test_sigint_cancels_cleanly(fresh_standins):
    lab = fresh_standins("raspi001", "raspi002")
    proc = start_up(lab, "prepare")
    wait_for_line(proc, "PLAY Prepare")
    wait_for_line(proc, "  ")
    running = _started_by(proc.pid, lab.control_path_dir)
    assert any("ansible-playbook" in cmd for cmd in running.values()), running
    assert any(cmd.startswith("ssh") for cmd in running.values()), running
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 130, out
    assert "interrupted" in out
    alive = _processes()
    left = {pid: cmd for pid, cmd in running.items() if pid in alive and alive[pid][1] == cmd}
    assert left == {}, f"left running after Ctrl-C: {left}"
    record = json.loads((run_dirs(lab)[-1] / "labctl-run.json").read_text())
    assert record["status"] == "canceled"
    leftovers = [p for p in (lab.state_home / "labctl").rglob("*.tmp")]
    assert leftovers == []
    # the kubeconfig is only ever written whole (Ansible's copy is an atomic rename)
    assert not (lab.state_home / "labctl" / "kubeconfig").exists()
