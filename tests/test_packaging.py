"""Install anywhere: the wheel carries its Ansible tree and works from any folder.

Builds the wheel, installs it (with its dependencies) into a fresh venv that is never
activated, and runs it from an empty folder outside the repository, with a PATH that holds
no venv at all: labctl must find its own Ansible, playbooks, roles and chapter inventory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import clirun
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work), str(ROOT)],
        check=True,
        timeout=600,
    )
    (wheel,) = work.glob("labctl-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "labctl/_ansible/playbooks/site.yml" in names
    assert "labctl/_ansible/roles/service_demo/tasks/main.yml" in names
    assert "labctl/_ansible/inventory/hosts.yml" in names
    assert "labctl/_ansible/ansible.cfg" in names
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", str(wheel)], check=True, timeout=1200
    )
    return venv


def run_outside(venv: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",  # no venv on PATH: not activated, like pipx
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "COLUMNS": "200",
    }
    return subprocess.run(
        [str(venv / "bin" / "labctl"), *args],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def test_render_from_home_folder(installed, tmp_path):
    proc = run_outside(installed, tmp_path, "render", "nodeport")
    assert proc.returncode == 0, proc.stderr
    objects = [o for o in yaml.safe_load_all(proc.stdout) if o]
    services = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Service"}
    assert services["sample-nodeport"]["spec"]["ports"][0]["nodePort"] == 30080
    assert not (Path(tmp_path / "home") / "inventory").exists()


def test_bad_inventory_from_home_folder(installed, tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("all:\n  children:\n    lab:\n      childs: {}\n")
    proc = run_outside(installed, tmp_path, "up", "-i", str(bad))
    assert proc.returncode == 2
    lines = clirun.problem_lines(proc)
    assert len(lines) == 1 and "did you mean 'children'" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_init_then_use_it(installed, tmp_path):
    first = run_outside(installed, tmp_path, "init")
    assert first.returncode == 0, first.stderr
    written = tmp_path / "home" / ".config" / "labctl" / "hosts.yml"
    assert str(written) in first.stdout and "labctl trust" in first.stdout
    assert "router's DHCP range" in written.read_text()
    again = run_outside(installed, tmp_path, "init")
    assert again.returncode == 2 and "--force" in again.stderr
    written.write_text(written.read_text().replace("192.168.3.32", "192.168.3.42"))
    forced = run_outside(installed, tmp_path, "init", "--force")
    assert forced.returncode == 0
    assert "192.168.3.32" in written.read_text()
    # the inventory init wrote is the one labctl finds from any folder
    proc = run_outside(installed, tmp_path, "render", "externalip")
    assert proc.returncode == 0, proc.stderr
    assert "192.168.3.33" in proc.stdout


def test_macos_runner_environment(monkeypatch):
    from labctl import ansiblecfg

    monkeypatch.setattr(sys, "platform", "darwin")
    assert ansiblecfg.environment()["OBJC_DISABLE_INITIALIZE_FORK_SAFETY"] == "YES"
    monkeypatch.setattr(sys, "platform", "linux")
    assert "OBJC_DISABLE_INITIALIZE_FORK_SAFETY" not in ansiblecfg.environment()


def test_runner_environment_keeps_host_key_checking_on(tmp_path, monkeypatch):
    from labctl import ansiblecfg

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    env = ansiblecfg.environment()
    assert env["ANSIBLE_HOST_KEY_CHECKING"] == "True"
    assert "StrictHostKeyChecking=yes" in env["ANSIBLE_SSH_ARGS"]
    assert str(tmp_path / "labctl" / "known_hosts") in env["ANSIBLE_SSH_ARGS"]
    assert Path(env["ANSIBLE_CONFIG"]).is_file()
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
