"""e2e/build.sh and e2e/run.sh: the decisions that need no network (status, refusals, locking).

Nothing here reaches the Go module proxy: every case stops before a download, on a cache
directory made by the test.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
from pathlib import Path

import pytest
from e2e_support import BUILD_SH, E2E

REFUSAL = (
    "github.com/k3s-io/k3s@5aed4d7beddeb3e67120da477c876ac9efd70318: invalid version: reading "
    "https://goproxy.invalid/github.com/k3s-io/k3s/@v/5aed4d7beddeb3e67120da477c876ac9efd70318"
    ".info: 403 Forbidden server response: This module version is not available."
)


def run(script: Path, *args: str, cache: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "LABCTL_E2E_CACHE": str(cache), **env}
    return subprocess.run(
        ["bash", str(script), *args], capture_output=True, text=True, env=environ, check=False
    )


def test_status_on_an_empty_cache_names_what_is_missing(tmp_path: Path) -> None:
    proc = run(BUILD_SH, "status", cache=tmp_path)
    assert proc.returncode == 1
    assert proc.stdout.strip() == (
        f"build cache {tmp_path} lacks k3s image:pause image:coredns image:nginx image:redis "
        "image:dnsutils; run e2e/build.sh (cold: 20-45 min on 2 cores)"
    )


def test_status_reports_a_recorded_proxy_refusal_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "gate").write_text(f"refused\t2026-11-25T17:37:06Z\t{REFUSAL}\n")
    proc = run(BUILD_SH, "status", cache=tmp_path)
    assert proc.returncode == 1
    assert proc.stdout.strip() == (
        "the Go module proxy refuses github.com/k3s-io/k3s@5aed4d7bedde (v1.36.3+k3s1): "
        "403 Forbidden: This module version is not available. "
        "(checked 2026-11-25T17:37:06Z; see docs/real-cluster-notes.md)"
    )


def test_status_ready_only_with_k3s_of_the_pinned_commit_and_every_image(
    tmp_path: Path, versions: dict[str, str]
) -> None:
    # Presence bookkeeping only: these placeholder files are never executed or loaded.
    (tmp_path / "bin").mkdir()
    k3s = tmp_path / "bin" / "k3s"
    k3s.write_text("")
    k3s.chmod(0o755)
    (tmp_path / "images").mkdir()
    for name in ("pause", "coredns", "nginx", "redis", "dnsutils"):
        (tmp_path / "images" / f"{name}.tar").write_text("")
    (tmp_path / "bin" / "k3s.commit").write_text("0" * 40 + "\n")
    assert run(BUILD_SH, "status", cache=tmp_path).returncode == 1, "stale commit counted"
    (tmp_path / "bin" / "k3s.commit").write_text(versions["K3S_COMMIT"] + "\n")
    proc = run(BUILD_SH, "status", cache=tmp_path)
    assert (proc.returncode, proc.stdout.strip()) == (0, "ready")


def test_run_cached_only_prints_not_run_and_succeeds(tmp_path: Path) -> None:
    proc = run(E2E / "run.sh", "--cached-only", cache=tmp_path)
    assert proc.returncode == 0
    assert proc.stdout.startswith(f"e2e NOT RUN: build cache {tmp_path} lacks k3s ")


@pytest.mark.parametrize(
    ("args", "needle"),
    [(["bogus"], "unknown step 'bogus'"), (["gate", "k3s"], "one step at a time")],
)
def test_bad_usage_exit_2_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    proc = run(BUILD_SH, *args, cache=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("build.sh: ") and needle in lines[0]


@pytest.mark.parametrize("proxy", ["direct", "off"])
def test_gate_refuses_to_fetch_without_a_module_proxy(tmp_path: Path, proxy: str) -> None:
    proc = run(BUILD_SH, "gate", cache=tmp_path, GOPROXY=proxy)
    assert proc.returncode == 2
    assert f"GOPROXY is '{proxy}': a module proxy is required" in proc.stderr
    assert not (tmp_path / "state" / "gate").exists()


def test_a_second_build_waits_for_nobody_and_says_so(tmp_path: Path) -> None:
    # GOPROXY=off: should the lock ever be skipped, the gate still stops before any download.
    with (tmp_path / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        proc = run(BUILD_SH, "gate", cache=tmp_path, GOPROXY="off")
    assert proc.returncode == 2
    assert f"another e2e/build.sh holds {tmp_path}/.lock" in proc.stderr
