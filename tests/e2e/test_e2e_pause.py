"""Our pause program (e2e/pause.c): the sandbox container of every pod of the test cluster."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(child) for child in text)
    return found


def _state_and_name(pid: int) -> tuple[str, str]:
    fields = Path(f"/proc/{pid}/stat").read_text()
    name = fields[fields.index("(") + 1 : fields.rindex(")")]
    state = fields[fields.rindex(")") + 2]
    return state, name


def _wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_version_flag(pause_binary: Path) -> None:
    out = subprocess.run([str(pause_binary), "-v"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "labctl-pause 1"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stays_up_then_exits_zero_on_stop_signal(pause_binary: Path, sig: signal.Signals) -> None:
    proc = subprocess.Popen([str(pause_binary)])
    try:
        time.sleep(0.3)
        assert proc.poll() is None, "pause exited on its own"
        proc.send_signal(sig)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_is_statically_linked(pause_binary: Path) -> None:
    # The image holds nothing but /pause, so the binary must not need a loader.
    head = pause_binary.read_bytes()
    assert b"/lib64/ld-linux" not in head and b"/lib/ld-linux" not in head


def reaps_orphans(binary: Path) -> tuple[bool, str]:
    """Run `binary` as PID 1 of a new PID namespace, orphan a short `sleep` into it, and
    report whether the sleep was re-parented to it and then reaped (no zombie left)."""
    outer = subprocess.Popen(["unshare", "--pid", "--fork", "--kill-child", str(binary)])
    try:
        if not _wait_for(lambda: bool(_children(outer.pid)), 5):
            return False, "pause did not start inside the namespace"
        init = _children(outer.pid)[0]
        subprocess.run(
            ["nsenter", "-t", str(init), "-p", "--", "sh", "-c", "sleep 1 & exit 0"],
            check=True,
        )

        def orphan_sleeps() -> list[int]:
            return [c for c in _children(init) if _state_and_name(c)[1] == "sleep"]

        if not _wait_for(lambda: bool(orphan_sleeps()), 2):
            return False, "the orphaned sleep was not re-parented to pause"
        sleeper = orphan_sleeps()[0]

        def reaped() -> bool:
            return sleeper not in _children(init)

        if _wait_for(reaped, 5):
            return True, "reaped"
        return False, f"sleep {sleeper} left as state {_state_and_name(sleeper)[0]} (zombie)"
    finally:
        outer.send_signal(signal.SIGTERM)
        try:
            outer.wait(timeout=5)
        except subprocess.TimeoutExpired:
            outer.kill()
            outer.wait()


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("nsenter") is None,
    reason="needs root, unshare and nsenter (PID namespaces)",
)
def test_reaps_orphans_as_pid_1(pause_binary: Path) -> None:
    ok, detail = reaps_orphans(pause_binary)
    assert ok, detail
