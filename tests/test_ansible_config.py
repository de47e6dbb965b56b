"""One controlled Ansible configuration: laptop settings cannot weaken SSH or run code.

- ANSIBLE_* variables that would change SSH, the connection, or load code are refused with one
  line each (exit 2) before any inventory is read or host contacted;
- the user's own ansible.cfg files (``~/.ansible.cfg``, ``./ansible.cfg``) and ``~/.ssh/config``
  cannot switch host-key checking off: proven the way OpenSSH itself reads the final command
  line Ansible built (``ssh -G``), through a recording ``ssh`` first on PATH.

Every labctl here runs under ``unshare -n`` where the machine allows it (clirun.offline_prefix).
"""

from __future__ import annotations

import configparser
import shutil
import stat
from pathlib import Path

import clirun
import pytest
from test_bad_input import GOOD

from labctl import ansiblecfg

pytestmark = pytest.mark.skipif(shutil.which("ssh") is None, reason="needs OpenSSH's ssh")

HOSTILE_CFG = """\
[defaults]
host_key_checking = False
[ssh_connection]
ssh_args = -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
ssh_common_args = -o StrictHostKeyChecking=no
"""


@pytest.fixture
def lab(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(GOOD, encoding="utf-8")
    home = tmp_path / "home"
    home.mkdir()
    env = {**clirun.isolated_env(tmp_path), "HOME": str(home)}
    return inventory, env


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ANSIBLE_SSH_ARGS", "-o StrictHostKeyChecking=no"),
        ("ANSIBLE_SSH_COMMON_ARGS", "-o UserKnownHostsFile=/dev/null"),
        ("ANSIBLE_SSH_EXECUTABLE", "/bin/true"),
        ("ANSIBLE_CONFIG", "/tmp/other-ansible.cfg"),
        ("ANSIBLE_HOST_KEY_CHECKING", "False"),
        ("ANSIBLE_TRANSPORT", "local"),
        ("ANSIBLE_VARS_PLUGINS", "/tmp/plugins"),
        ("ANSIBLE_VAULT_PASSWORD_FILE", "/tmp/vault-pass.sh"),
        ("ANSIBLE_INVENTORY_ENABLED", "script"),
        ("ANSIBLE_PYTHON_INTERPRETER", "/tmp/python"),
    ],
)
def test_a_weakening_laptop_setting_is_refused(lab, tmp_path, name, value):
    inventory, env = lab
    proc = clirun.run("up", "-i", str(inventory), env={**env, name: value}, offline=True)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stdout + proc.stderr
    (line,) = clirun.problem_lines(proc)
    assert name in line and f"unset {name}" in line, line
    assert not (tmp_path / "state" / "labctl" / "runs").exists(), "a play ran"


def test_every_refused_variable_is_named_on_its_own_line(lab):
    inventory, env = lab
    env = {**env, "ANSIBLE_SSH_ARGS": "-v", "ANSIBLE_CONFIG": "/x.cfg", "ANSIBLE_FORKS": "3"}
    proc = clirun.run("doctor", "-i", str(inventory), env=env, offline=True)
    assert proc.returncode == 2
    lines = clirun.problem_lines(proc)
    assert [ln.split()[1] for ln in lines] == ["ANSIBLE_CONFIG", "ANSIBLE_SSH_ARGS"], lines


def test_the_honoured_variables_are_not_refused():
    honoured = {name: "x" for name in ansiblecfg.HONOURED} | {"ANSIBLE_FORKS": "3"}
    # labctl's own process points ANSIBLE_CONFIG at the shipped file (pin_in_process)
    honoured["ANSIBLE_CONFIG"] = str(ansiblecfg.config_file())
    assert ansiblecfg.refused(honoured) == []


def test_the_shipped_config_enables_only_the_two_parsers_labctl_reads_with():
    cfg = configparser.ConfigParser()
    cfg.read(ansiblecfg.config_file())
    plugins = [p.strip() for p in cfg["inventory"]["enable_plugins"].split(",")]
    assert plugins == ["yaml", "ini"]
    assert cfg["defaults"].getboolean("host_key_checking")


def _recording_ssh(folder: Path, out: Path) -> Path:
    """An ``ssh`` that hands its whole command line to ``ssh -G`` (OpenSSH's reading of the
    options, nothing is contacted) and fails as an unreachable host would."""
    folder.mkdir()
    real = shutil.which("ssh")
    script = folder / "ssh"
    script.write_text(
        f'#!/bin/sh\n{real} -G "$@" > "{out}/ssh-G.$$" 2>&1\necho "recorded" >&2\nexit 255\n',
        encoding="utf-8",
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return folder


def test_users_ansible_cfg_and_ssh_config_cannot_switch_host_key_checking_off(lab, tmp_path):
    inventory, env = lab
    home = Path(env["HOME"])
    (home / ".ansible.cfg").write_text(HOSTILE_CFG, encoding="utf-8")
    (home / ".ssh").mkdir(mode=0o700)
    (home / ".ssh" / "config").write_text(
        "Host *\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n", encoding="utf-8"
    )
    work = tmp_path / "work"
    work.mkdir()
    (work / "ansible.cfg").write_text(HOSTILE_CFG, encoding="utf-8")
    out = tmp_path / "ssh-G"
    out.mkdir()
    path = f"{_recording_ssh(tmp_path / 'bin', out)}:{env.get('PATH', '/usr/bin:/bin')}"
    proc = clirun.run(
        "up", "-i", str(inventory), "--only", "prepare",
        env={**env, "PATH": path}, cwd=work, offline=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    readings = [p.read_text(encoding="utf-8") for p in sorted(out.iterdir())]
    assert readings, "ssh was never run"
    known_hosts = tmp_path / "config" / "labctl" / "known_hosts"
    for reading in readings:
        options = dict(line.split(" ", 1) for line in reading.splitlines() if " " in line)
        assert options["stricthostkeychecking"] == "true", reading
        assert options["userknownhostsfile"].split()[0] == str(known_hosts), reading
        assert "/dev/null" not in options["userknownhostsfile"]
