"""Which inventory, and read as Ansible reads it: through the real console script.

`labctl status` reads the inventory and then stops (exit 2) for want of a kubeconfig, so
these cases never reach a host. Addresses are on the loopback range.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import clirun
import pytest
from clirun import problem_lines
from test_bad_input import GOOD, variant

INI = """\
[master]
raspi001 ansible_host=127.77.9.11

[workers]
raspi002 ansible_host=127.77.9.12
raspi003 ansible_host=127.77.9.13

[nfs]
nfspi ansible_host=127.77.9.20

[lab:children]
master
workers
nfs
"""

LAB_GROUP_VARS = "lab_subnet: 127.77.9.0/24\nmetallb_addresses: [127.77.9.100-127.77.9.200]\n"
NO_KUBECONFIG = "no kubeconfig at"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**clirun.isolated_env(tmp_path), "HOME": str(tmp_path / "home")}


def status(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return clirun.run("status", *args, env=env, cwd=cwd, timeout=60)


def inventory_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("inventory: ")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_the_inventory_used_is_named_with_the_reason(tmp_path, env):
    good = tmp_path / "mine.yml"
    good.write_text(GOOD)
    proc = status(env, tmp_path, "-i", str(good))
    assert proc.returncode == 2, proc.stderr
    assert inventory_line(proc) == f"inventory: {good} (from -i)"
    env["LABCTL_INVENTORY"] = str(good)
    assert inventory_line(status(env, tmp_path)) == f"inventory: {good} (from LABCTL_INVENTORY)"


def test_a_clone_inventory_shadowing_inits_is_called_out(tmp_path, env):
    init = clirun.run("init", env=env, cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    written = tmp_path / "config" / "labctl" / "hosts.yml"
    clone = tmp_path / "clone"
    (clone / "inventory").mkdir(parents=True)
    local = clone / "inventory" / "hosts.yml"
    local.write_text(written.read_text())
    line = inventory_line(status(env, clone))
    assert line == f"inventory: {local} (./inventory/hosts.yml in this folder)", line
    written.write_text(GOOD)  # the user edits the inventory init wrote
    line = inventory_line(status(env, clone))
    assert str(local) in line and f"{written} (from `labctl init`) differs" in line, line
    assert "NOT used" in line and "-i" in line and "LABCTL_INVENTORY" in line, line
    away = tmp_path / "elsewhere"
    away.mkdir()
    line = inventory_line(status(env, away))
    assert line == f"inventory: {written} (written by `labctl init`)", line


def test_an_ini_inventory_with_group_vars_is_read_as_ansible_reads_it(tmp_path, env):
    folder = tmp_path / "ini"
    (folder / "group_vars").mkdir(parents=True)
    hosts = folder / "hosts"
    hosts.write_text(INI)
    (folder / "group_vars" / "lab.yml").write_text(LAB_GROUP_VARS)
    proc = status(env, tmp_path, "-i", str(hosts))
    assert proc.returncode == 2 and NO_KUBECONFIG in proc.stderr, proc.stderr
    assert "YAML" not in proc.stderr
    # the values really come from group_vars/: a bad one there is judged
    (folder / "group_vars" / "lab.yml").write_text(
        LAB_GROUP_VARS + "service_demo_nodeport_node_port: 8080\n"
    )
    proc = status(env, tmp_path, "-i", str(hosts))
    (line,) = problem_lines(proc)
    assert "service_demo_nodeport_node_port" in line and "30000-32767" in line, line
    # host_vars/ too, per host
    (folder / "group_vars" / "lab.yml").write_text(LAB_GROUP_VARS)
    (folder / "host_vars").mkdir()
    (folder / "host_vars" / "raspi003.yml").write_text("ansible_host: 127.77.8.13\n")
    (line,) = problem_lines(status(env, tmp_path, "-i", str(hosts)))
    assert "raspi003.ansible_host" in line and "outside lab_subnet" in line, line


def test_an_inventory_folder_is_read_whole(tmp_path, env):
    folder = tmp_path / "inv"
    (folder / "group_vars").mkdir(parents=True)
    (folder / "01-hosts.ini").write_text(INI)
    (folder / "group_vars" / "lab.yml").write_text(LAB_GROUP_VARS)
    proc = status(env, tmp_path, "-i", str(folder))
    assert proc.returncode == 2 and NO_KUBECONFIG in proc.stderr, proc.stderr


def test_an_ini_syntax_error_is_named_as_ini(tmp_path, env):
    bad = tmp_path / "hosts"
    bad.write_text("[lab:children\nmaster\n")
    proc = status(env, tmp_path, "-i", str(bad))
    (line,) = problem_lines(proc)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert str(bad) in line and "INI inventory" in line, line


def test_every_problem_is_reported_in_one_run(tmp_path, env):
    text = variant(
        "raspi003: {ansible_host: 127.77.9.13}", "raspi003: {ansible_host: 127.77.9.313}"
    )
    text = text.replace(
        "        lab_subnet:", "        ingress_controller: nginx\n        lab_subnet:"
    )
    text = text.replace("[127.77.9.100-127.77.9.200]", "[127.77.9.200-127.77.9.100]")
    bad = tmp_path / "hosts.yml"
    bad.write_text(text)
    proc = status(env, tmp_path, "-i", str(bad))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = problem_lines(proc)
    assert len(lines) == 3, lines
    assert "raspi003.ansible_host" in lines[0] and "not an IPv4 address" in lines[0]
    assert "ends before it starts" in lines[1]
    assert "ingress_controller" in lines[2]
    assert all(ln.startswith(f"labctl: {bad}: ") for ln in lines), lines


def test_a_host_level_typo_is_caught(tmp_path, env):
    bad = tmp_path / "hosts.yml"
    bad.write_text(
        variant(
            "raspi003: {ansible_host: 127.77.9.13}",
            "raspi003: {ansible_host: 127.77.9.13, ansible_hots: 127.77.9.14}",
        )
    )
    (line,) = problem_lines(status(env, tmp_path, "-i", str(bad)))
    assert "raspi003.ansible_hots" in line and "did you mean 'ansible_host'" in line, line


def test_an_ansible_setting_spelled_right_is_accepted(tmp_path, env):
    good = tmp_path / "hosts.yml"
    good.write_text(
        variant(
            "raspi003: {ansible_host: 127.77.9.13}",
            "raspi003: {ansible_host: 127.77.9.13, ansible_user: pi, ansible_become_user: root}",
        )
    )
    proc = status(env, tmp_path, "-i", str(good))
    assert proc.returncode == 2 and NO_KUBECONFIG in proc.stderr, proc.stderr


def test_errors_are_json_on_stdout_with_json(tmp_path, env):
    bad = tmp_path / "hosts.yml"
    bad.write_text(variant("lab_subnet: 127.77.9.0/24", "lab_subnet: 127.77.9.0/8"))
    proc = status(env, tmp_path, "-i", str(bad), "--json")
    assert proc.returncode == 2
    data = json.loads(proc.stdout)
    assert data["status"] == "error" and data["exit_code"] == 2, data
    assert "lab_subnet" in data["message"] and data["problems"] == [data["message"]], data
    good = tmp_path / "good.yml"
    good.write_text(GOOD)
    proc = status(env, tmp_path, "-i", str(good), "--json")
    data = json.loads(proc.stdout)
    assert data["exit_code"] == 2 and NO_KUBECONFIG in data["message"], data


def test_an_executable_inventory_is_never_run(tmp_path, env):
    marker = tmp_path / "ran"
    script = tmp_path / "hosts.sh"
    script.write_text(f'#!/bin/sh\ntouch {marker}\necho \'{{"lab": {{"hosts": ["raspi001"]}}}}\'\n')
    script.chmod(0o755)
    proc = status(env, tmp_path, "-i", str(script))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = problem_lines(proc)
    assert str(script) in line and "executable" in line and "chmod -x" in line, line
    assert not marker.exists(), "the inventory script ran on the laptop"


def test_a_lookup_in_the_inventory_never_runs_not_even_for_render(tmp_path, env):
    marker = tmp_path / "ran"
    bad = tmp_path / "hosts.yml"
    bad.write_text(
        variant(
            "        lab_subnet:",
            f"        ansible_user: \"{{{{ lookup('pipe', 'touch {marker}') }}}}\"\n"
            "        lab_subnet:",
        )
    )
    for args in (["render", "nodeport", "-i", str(bad)], ["doctor", "-i", str(bad)]):
        proc = clirun.run(*args, env=env, cwd=tmp_path, timeout=60)
        assert proc.returncode == 2, (args, proc.stderr)
        (line,) = problem_lines(proc)
        assert "lab.vars.ansible_user" in line and "Jinja template" in line, line
        assert not marker.exists(), f"{args[0]}: the lookup ran on the laptop"


@pytest.mark.parametrize("kind", ["fifo", "too-big", "alias-bomb"])
def test_hostile_files_are_refused_in_one_line(tmp_path, env, kind):
    import os

    path = tmp_path / "hosts.yml"
    if kind == "fifo":
        os.mkfifo(path)
        words = ["not a device or a pipe"]
    elif kind == "too-big":
        path.write_text(GOOD + "#" * (1024 * 1024) + "\n")
        words = ["over labctl's 1 MiB limit"]
    else:
        lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 60)]
        path.write_text("\n".join(lines) + "\n")
        words = ["more than 100 aliases"]
    proc = status(env, tmp_path, "-i", str(path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    (line,) = problem_lines(proc)
    assert str(path) in line and all(w in line for w in words), line


def test_an_ini_inventory_given_by_a_relative_path_is_read(tmp_path):
    # Ansible's ini plugin refuses a relative source path; labctl hands it an absolute one
    lab_vars = (
        '[lab:vars]\nlab_subnet=127.77.9.0/24\nmetallb_addresses=["127.77.9.100-127.77.9.200"]\n'
    )
    (tmp_path / "hosts.ini").write_text(INI + lab_vars)
    env = {**clirun.isolated_env(tmp_path), "HOME": str(tmp_path)}
    proc = clirun.run("render", "nodeport", "-i", "hosts.ini", env=env, cwd=tmp_path, offline=True)
    assert proc.returncode == 0, proc.stderr
    assert "nodePort: 30080" in proc.stdout
