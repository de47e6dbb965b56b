"""`labctl kubeconfig [--merge]` through the real console script.

The lab's kubeconfig here is a file in kubeadm's admin.conf shape; the real one fetched from
the real lab is merged and used in tests/e2e/test_e2e_1_lab.py.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import clirun
import pytest
import yaml

SECRET = "bGFiY3RsLXRlc3Qta2V5LW5vdC1hLXJlYWwta2V5"
LAB = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [
        {"name": "kubernetes", "cluster": {"server": "https://127.77.9.11:6443",
                                           "certificate-authority-data": "Q0E="}}
    ],
    "users": [
        {"name": "kubernetes-admin",
         "user": {"client-certificate-data": "Q0VSVA==", "client-key-data": SECRET}}
    ],
    "contexts": [
        {"name": "kubernetes-admin@kubernetes",
         "context": {"cluster": "kubernetes", "user": "kubernetes-admin"}}
    ],
    "current-context": "kubernetes-admin@kubernetes",
}  # fmt: skip
HOME_CONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "kubernetes", "cluster": {"server": "https://work.example:6443"}}],
    "users": [{"name": "me", "user": {"token": "work-token"}}],
    "contexts": [{"name": "work", "context": {"cluster": "kubernetes", "user": "me"}}],
    "current-context": "work",
}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**clirun.isolated_env(tmp_path), "HOME": str(tmp_path / "home")}


def fetched(tmp_path: Path) -> Path:
    path = tmp_path / "state" / "labctl" / "kubeconfig"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(LAB))
    path.chmod(0o600)
    return path


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_without_a_fetched_kubeconfig_every_command_says_run_up_with_exit_2(tmp_path, env):
    inv = tmp_path / "hosts.yml"
    from test_bad_input import GOOD

    inv.write_text(GOOD)
    for args in (["kubeconfig"], ["status", "-i", str(inv)], ["demo", "nodeport", "-i", str(inv)]):
        proc = clirun.run(*args, env=env, cwd=tmp_path, timeout=60)
        assert proc.returncode == 2, (args, proc.stderr)
        (line,) = clirun.problem_lines(proc)
        assert "no kubeconfig at" in line and "labctl up" in line, (args, line)


def test_kubeconfig_prints_the_path(tmp_path, env):
    path = fetched(tmp_path)
    proc = clirun.run("kubeconfig", env=env, cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == str(path), proc.stderr
    proc = clirun.run("kubeconfig", "--json", env=env, cwd=tmp_path)
    assert json.loads(proc.stdout) == {"kubeconfig": str(path)}


def test_merge_adds_one_context_and_leaves_the_others_alone(tmp_path, env):
    fetched(tmp_path)
    target = tmp_path / "home" / ".kube" / "config"
    target.parent.mkdir(parents=True)
    before = yaml.safe_dump(HOME_CONFIG)
    target.write_text(before)
    proc = clirun.run("kubeconfig", "--merge", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "added context labctl-kubernetes" in proc.stdout, proc.stdout
    assert SECRET not in proc.stdout + proc.stderr
    merged = yaml.safe_load(target.read_text())
    assert mode(target) == 0o600
    assert merged["current-context"] == "work"
    contexts = {c["name"]: c["context"] for c in merged["contexts"]}
    assert contexts == {
        "work": {"cluster": "kubernetes", "user": "me"},
        "labctl-kubernetes": {"cluster": "labctl-kubernetes", "user": "labctl-kubernetes"},
    }
    clusters = {c["name"]: c["cluster"]["server"] for c in merged["clusters"]}
    assert clusters == {
        "kubernetes": "https://work.example:6443",
        "labctl-kubernetes": "https://127.77.9.11:6443",
    }
    users = {u["name"]: u["user"] for u in merged["users"]}
    assert users["me"] == {"token": "work-token"}
    assert users["labctl-kubernetes"]["client-key-data"] == SECRET
    backups = list(target.parent.glob("config.labctl-backup-*"))
    assert len(backups) == 1 and backups[0].read_text() == before and mode(backups[0]) == 0o600
    # a second merge updates the lab's own entries only, no duplicates
    proc = clirun.run("kubeconfig", "--merge", "--json", env=env, cwd=tmp_path)
    data = json.loads(proc.stdout)
    assert data["replaced_own_context"] is True and data["context"] == "labctl-kubernetes"
    again = yaml.safe_load(target.read_text())
    assert [c["name"] for c in again["contexts"]] == ["work", "labctl-kubernetes"]
    assert [c["name"] for c in again["clusters"]] == ["kubernetes", "labctl-kubernetes"]


def test_merge_creates_a_private_kube_config_when_there_is_none(tmp_path, env):
    fetched(tmp_path)
    proc = clirun.run("kubeconfig", "--merge", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    target = tmp_path / "home" / ".kube" / "config"
    assert mode(target) == 0o600 and mode(target.parent) == 0o700
    assert "backup" not in proc.stdout
    data = yaml.safe_load(target.read_text())
    assert [c["name"] for c in data["contexts"]] == ["labctl-kubernetes"]
    assert "current-context" not in data
