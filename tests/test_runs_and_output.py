"""Run folders (kept for what ran on hosts, pruned to the newest LABCTL_KEEP_RUNS, none for
`render`) and what reaches a pipe. Through the real console script; the hosts are loopback
addresses on port 9, where nothing listens."""

from __future__ import annotations

from pathlib import Path

import clirun
import pytest
from test_bad_input import GOOD

OLD = "20200101T0000{:02d}.000000Z-doctor"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**clirun.isolated_env(tmp_path), "HOME": str(tmp_path / "home")}


def runs(tmp_path: Path) -> list[str]:
    root = tmp_path / "state" / "labctl" / "runs"
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def unreachable_lab(tmp_path: Path) -> Path:
    inv = tmp_path / "hosts.yml"
    inv.write_text(GOOD.replace("      vars:\n", "      vars:\n        ansible_port: 9\n"))
    return inv


def test_old_runs_are_pruned_to_the_newest(tmp_path, env):
    root = tmp_path / "state" / "labctl" / "runs"
    for i in range(25):
        (root / OLD.format(i)).mkdir(parents=True)
    (root / "notes.txt").write_text("mine")
    inv = unreachable_lab(tmp_path)
    proc = clirun.run("doctor", "-i", str(inv), env=env, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    left = runs(tmp_path)
    assert "notes.txt" in left
    kept = [n for n in left if n != "notes.txt"]
    assert len(kept) == 20, kept
    assert kept[-1].endswith("-doctor") and not kept[-1].startswith("2020"), kept
    assert OLD.format(6) in kept and OLD.format(5) not in kept, kept
    env["LABCTL_KEEP_RUNS"] = "2"
    clirun.run("doctor", "-i", str(inv), env=env, cwd=tmp_path)
    assert len([n for n in runs(tmp_path) if n != "notes.txt"]) == 2


def test_a_bad_keep_runs_is_bad_input_before_any_run(tmp_path, env):
    inv = unreachable_lab(tmp_path)
    env["LABCTL_KEEP_RUNS"] = "none"
    proc = clirun.run("doctor", "-i", str(inv), env=env, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    (line,) = clirun.problem_lines(proc)
    assert "LABCTL_KEEP_RUNS" in line and "1 or more" in line, line
    assert runs(tmp_path) == []


def test_render_leaves_no_run_folder(tmp_path, env):
    proc = clirun.run("render", "nodeport", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "kind: Service" in proc.stdout
    assert runs(tmp_path) == []


def test_verbose_output_piped_carries_no_colour_codes(tmp_path, env):
    inv = unreachable_lab(tmp_path)
    proc = clirun.run("doctor", "-v", "-i", str(inv), env=env, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "UNREACHABLE!" in proc.stdout, proc.stdout[-2000:]  # Ansible's own words
    assert "\x1b[" not in proc.stdout + proc.stderr


def test_doctor_in_an_80_column_terminal_keeps_every_line_whole(tmp_path, env):
    inv = unreachable_lab(tmp_path)
    proc = clirun.run("doctor", "-i", str(inv), env={**env, "COLUMNS": "80"}, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert f"labctl doctor: {inv}" in " ".join(ln.strip() for ln in lines), lines
    assert all(len(ln) <= 80 for ln in lines), [ln for ln in lines if len(ln) > 80]
    fixes = [ln for ln in lines if ln.lstrip().startswith("→ ")]
    assert fixes and all(ln.startswith("    → ") for ln in fixes), fixes
    assert all("check ansible_host, ansible_user" in ln for ln in fixes), fixes
