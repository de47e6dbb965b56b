"""The preflight role's "container runtime" row, offline.

- the verdict (roles/preflight/filter_plugins/preflight.py) for every case: containerd 2.x,
  1.x or none against containerd_source and kubernetes_version;
- the snapshot module's `versions` option (roles/preflight/library/preflight_snapshot.py)
  against stand-in programs on PATH: found, not found, rc 127, an error;
- checks/container_runtime.yml itself, run by real ansible-playbook on this machine (local
  connection) with the role's defaults and vars, fed by a stand-in `containerd` on PATH.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "roles/preflight"
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")

CONTAINERD_IO = "containerd containerd.io 2.2.1 05044ec0a9a75232cad458027ca83437aae3f4da"
UPSTREAM_2 = "containerd github.com/containerd/containerd/v2 v2.4.2 1e4a1b5a0b3c7d8e9f0a"
DEBIAN_1 = "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+b1"
NOTE = " (this run of labctl up repairs it: prepare)"


def load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def f() -> ModuleType:
    return load("preflight_filters", ROLE / "filter_plugins/preflight.py")


@pytest.fixture(scope="module")
def snapshot() -> ModuleType:
    return load("preflight_snapshot", ROLE / "library/preflight_snapshot.py")


# --- parsing `containerd --version` -------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "version"),
    [
        (CONTAINERD_IO, "2.2.1"),
        (UPSTREAM_2, "2.4.2"),
        (DEBIAN_1, "1.6.20~ds1"),
        ("containerd github.com/containerd/containerd v1.7.24 61f9fd88", "1.7.24"),
        ("", ""),
        (None, ""),
        ("containerd: unknown flag --version", ""),
        ("/usr/bin/containerd --version exited 2: 1.6 broken", ""),
    ],
)
def test_containerd_version_is_read_from_its_output(f, output, version):
    assert f.containerd_version(output) == version


# --- the verdicts -------------------------------------------------------------------------


@pytest.mark.parametrize("output", [CONTAINERD_IO, UPSTREAM_2])
@pytest.mark.parametrize(("source", "k8s"), [("docker", "1.36"), ("debian", "1.37")])
def test_containerd_2_passes(f, output, source, k8s):
    verdict = f.container_runtime_verdict(output, source, k8s, NOTE)
    version = f.containerd_version(output)
    assert verdict == {"status": "PASS", "detail": f"containerd {version}", "hint": ""}


@pytest.mark.parametrize("k8s", ["1.36", "1.37", "1.40"])
def test_debian_1x_with_the_docker_source_warns_that_prepare_replaces_it(f, k8s):
    verdict = f.container_runtime_verdict(DEBIAN_1, "docker", k8s)
    assert verdict["status"] == "WARN"
    assert verdict["detail"] == (
        "containerd 1.6.20~ds1; labctl up's prepare step installs containerd.io 2.x"
        " from Docker's repository"
    )
    assert "labctl up --only prepare" in verdict["hint"]
    assert "replaces it with containerd.io 2.x" in verdict["hint"]


def test_no_containerd_with_the_docker_source_warns_that_prepare_installs_it(f):
    verdict = f.container_runtime_verdict(None, "docker", "1.36")
    assert verdict["status"] == "WARN"
    assert verdict["detail"].startswith("not installed; labctl up's prepare step installs")
    assert "installs containerd.io 2.x" in verdict["hint"]
    assert f.container_runtime_verdict("", "docker", "1.36") == verdict


def test_the_repair_note_marks_what_this_run_of_up_replaces(f):
    # labctl up with its prepare step: the same WARN, saying this run repairs it
    assert f.container_runtime_verdict(DEBIAN_1, "docker", "1.37", NOTE)["detail"].endswith(NOTE)
    assert f.container_runtime_verdict(None, "docker", "1.37", NOTE)["status"] == "WARN"
    # prepare keeps the distribution's containerd: nothing repaired, no note
    debian = f.container_runtime_verdict(DEBIAN_1, "debian", "1.36", NOTE)
    assert NOTE not in debian["detail"]


@pytest.mark.parametrize("k8s", ["1.37", "1.38", "v1.37", "1.37.2", "2.0"])
@pytest.mark.parametrize("output", [DEBIAN_1, None])
def test_debian_source_fails_from_kubernetes_1_37(f, output, k8s):
    verdict = f.container_runtime_verdict(output, "debian", k8s, NOTE)
    assert verdict["status"] == "FAIL"
    assert f"kubelet {k8s} refuses containerd 1.x" in verdict["detail"]
    assert "remove containerd_source" in verdict["hint"]
    assert "kubernetes_version to 1.36 or lower" in verdict["hint"]
    found = "containerd 1.6.20~ds1" if output else "not installed"
    assert verdict["detail"].startswith(found)
    if output is None:  # Debian bookworm's own containerd is 1.x
        assert "1.x on Debian bookworm" in verdict["detail"]


@pytest.mark.parametrize("k8s", ["1.36", "1.35", "1.30.4"])
@pytest.mark.parametrize("output", [DEBIAN_1, None])
def test_debian_source_warns_up_to_kubernetes_1_36(f, output, k8s):
    verdict = f.container_runtime_verdict(output, "debian", k8s)
    assert verdict["status"] == "WARN"
    assert "kubelet 1.36 warns, 1.37 refuses it" in verdict["detail"]
    assert verdict["detail"].startswith("containerd 1.6.20~ds1" if output else "not installed")
    assert "the default, docker" in verdict["hint"]


@pytest.mark.parametrize("source", ["Docker", "ubuntu", "", None])
@pytest.mark.parametrize("output", [CONTAINERD_IO, DEBIAN_1, None])
def test_an_unknown_source_fails(f, source, output):
    verdict = f.container_runtime_verdict(output, source, "1.36")
    assert verdict["status"] == "FAIL"
    assert "neither docker nor debian" in verdict["detail"]
    assert "set containerd_source to docker" in verdict["hint"]


def test_an_unreadable_kubernetes_version_fails_the_debian_source(f):
    verdict = f.container_runtime_verdict(DEBIAN_1, "debian", "latest")
    assert verdict["status"] == "FAIL"
    assert "'latest' is not a Kubernetes minor" in verdict["detail"]
    assert "kubernetes_version" in verdict["hint"]


@pytest.mark.parametrize("source", ["docker", "debian"])
def test_an_answer_without_a_version_warns_and_shows_it(f, source):
    said = "/usr/bin/containerd --version exited 1: segmentation fault"
    verdict = f.container_runtime_verdict(said, source, "1.37")
    assert verdict["status"] == "WARN"
    assert verdict["detail"].startswith(f"containerd version not recognised ({said})")
    assert "containerd --version" in verdict["hint"]


def test_every_verdict_names_what_was_found_and_every_problem_its_fix(f):
    for output in (CONTAINERD_IO, DEBIAN_1, None, "garbage"):
        for source in ("docker", "debian", "other"):
            for k8s in ("1.35", "1.36", "1.37"):
                verdict = f.container_runtime_verdict(output, source, k8s)
                assert set(verdict) == {"status", "detail", "hint"}
                assert verdict["status"] in {"PASS", "WARN", "FAIL"}
                found = f.containerd_version(output) or (
                    "not installed" if output is None else "not recognised"
                )
                assert found in verdict["detail"], verdict
                assert bool(verdict["hint"]) == (verdict["status"] != "PASS"), verdict


def test_the_filters_are_registered(f):
    filters = f.FilterModule().filters()
    assert filters["preflight_container_runtime"] is f.container_runtime_verdict
    assert filters["preflight_containerd_version"] is f.containerd_version


# --- the snapshot's versions option -------------------------------------------------------


def stand_in(directory: Path, name: str, script: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(f"#!/bin/sh\n{script}\n", encoding="utf-8")
    path.chmod(0o755)
    return path


def test_snapshot_reports_a_programs_version_line(snapshot, tmp_path, monkeypatch):
    stand_in(tmp_path / "bin", "containerd", f"echo '{DEBIAN_1}'")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setattr(snapshot, "PROGRAM_DIRS", ())
    assert snapshot.program_version("containerd") == DEBIAN_1


def test_snapshot_reports_a_missing_program_as_absent(snapshot, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(snapshot, "PROGRAM_DIRS", ())
    assert snapshot.program_version("containerd") is None


def test_snapshot_reports_rc_127_as_absent(snapshot, tmp_path, monkeypatch):
    # e.g. a wrapper left behind whose target was removed
    stand_in(tmp_path / "bin", "containerd", "echo 'containerd: not found' >&2; exit 127")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setattr(snapshot, "PROGRAM_DIRS", ())
    assert snapshot.program_version("containerd") is None


def test_snapshot_reports_an_error_as_text(snapshot, tmp_path, monkeypatch):
    path = stand_in(tmp_path / "bin", "containerd", "echo 'bad config' >&2; exit 3")
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(snapshot, "PROGRAM_DIRS", (str(tmp_path / "bin"),))
    assert snapshot.program_version("containerd") == f"{path} --version exited 3: bad config"


# --- checks/container_runtime.yml, run by ansible-playbook --------------------------------


def run_check(tmp_path: Path, containerd: str | None, **extra: str) -> list[dict[str, str]]:
    """The snapshot (versions: [containerd]) and the check file, as the role runs them, with a
    stand-in containerd first on PATH (None: one that exits 127, so whatever containerd this
    machine has is never reached)."""
    bindir = tmp_path / "bin"
    script = f"echo '{containerd}'" if containerd is not None else "exit 127"
    stand_in(bindir, "containerd", script)
    out = tmp_path / "rows.json"
    book = tmp_path / "check.yml"
    book.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Container runtime row",
                    "hosts": "localhost",
                    "connection": "local",
                    "gather_facts": False,
                    "vars_files": [str(ROLE / "defaults/main.yml"), str(ROLE / "vars/main.yml")],
                    "tasks": [
                        {
                            "name": "Snapshot",
                            "preflight_snapshot": {
                                "versions": "{{ __preflight_snapshot_versions }}"
                            },
                            "register": "__preflight_snapshot",
                        },
                        {"name": "No rows", "ansible.builtin.set_fact": {"preflight_rows": []}},
                        {
                            "name": "The check",
                            "ansible.builtin.import_tasks": str(
                                ROLE / "tasks/checks/container_runtime.yml"
                            ),
                        },
                        {
                            "name": "Write the rows",
                            "ansible.builtin.copy": {
                                "content": "{{ preflight_rows | to_json }}",
                                "dest": str(out),
                                "mode": "0644",
                            },
                        },
                    ],
                }
            ]
        ),
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        PATH=f"{bindir}:{Path(sys.executable).parent}:/usr/bin:/bin",
        ANSIBLE_LIBRARY=str(ROLE / "library"),
        ANSIBLE_FILTER_PLUGINS=str(ROLE / "filter_plugins"),
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        XDG_CACHE_HOME=str(tmp_path / "cache"),
    )
    args = [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", str(book)]
    for key, value in extra.items():
        args += ["-e", f"{key}={value}"]
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text(encoding="utf-8"))


def test_check_file_passes_containerd_2(tmp_path):
    (row,) = run_check(tmp_path, CONTAINERD_IO)
    assert row == {"check": "container runtime", "status": "PASS",
                   "detail": "containerd 2.2.1", "hint": ""}  # fmt: skip


@pytest.mark.parametrize(("mode", "note"), [("enforce", NOTE), ("doctor", "")])
def test_check_file_warns_without_containerd_by_default(tmp_path, mode, note):
    # labctl up (enforce, tags all: prepare runs) says this run repairs it; doctor does not
    (row,) = run_check(tmp_path, None, preflight_mode=mode)
    assert (row["check"], row["status"]) == ("container runtime", "WARN")
    assert row["detail"] == (
        "not installed; labctl up's prepare step installs containerd.io 2.x from Docker's"
        f" repository{note}"
    )


def test_check_file_fails_the_debian_source_on_kubernetes_1_37(tmp_path):
    # containerd_source and kubernetes_version reach the verdict through the role's defaults
    (row,) = run_check(tmp_path, DEBIAN_1, containerd_source="debian", kubernetes_version="1.37")
    assert (row["check"], row["status"]) == ("container runtime", "FAIL")
    assert row["detail"] == (
        "containerd 1.6.20~ds1 (containerd_source debian); kubelet 1.37 refuses containerd 1.x"
    )
