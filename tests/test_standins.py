"""The stand-in Pi fixture itself: real SSH with host-key checking, sudo, Pi-like state."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from standins import HOSTS, StandinLab

pytestmark = pytest.mark.docker


def _keys(lab: StandinLab, host: str) -> set[str]:
    address = lab.hosts[host]
    lines = lab.known_hosts_path.read_text(encoding="utf-8").splitlines()
    return {" ".join(ln.split()[1:3]) for ln in lines if ln.split()[0] == address}


def test_every_standin_answers_ssh_as_pi_with_checking_on(standins: StandinLab) -> None:
    for host in HOSTS:
        proc = standins.ssh(host, "id -un; hostname; sudo -n id -u")
        assert proc.returncode == 0, f"{host}: {proc.stderr}"
        assert proc.stdout.split() == ["pi", host, "0"]


def test_inventory_follows_the_contract(standins: StandinLab) -> None:
    inv = yaml.safe_load(standins.inventory_path.read_text(encoding="utf-8"))
    lab = inv["all"]["children"]["lab"]
    assert list(lab["children"]["master"]["hosts"]) == ["raspi001"]
    assert list(lab["children"]["workers"]["hosts"]) == ["raspi002", "raspi003"]
    assert list(lab["children"]["nfs"]["hosts"]) == ["nfspi"]
    assert lab["children"]["workers"]["hosts"]["raspi003"]["ansible_host"] == "10.77.1.13"
    assert lab["vars"]["lab_subnet"] == "10.77.1.0/24"
    assert lab["vars"]["metallb_addresses"] == ["10.77.1.100-10.77.1.200"]
    assert lab["vars"]["ansible_user"] == "pi"
    assert Path(lab["vars"]["ansible_ssh_private_key_file"]) == standins.private_key_path
    switches = ("pi_node_load_modules", "pi_node_swapoff_now", "pi_node_reboot", "nfs_server_start")
    for switch in switches:
        assert lab["vars"][switch] is False
    assert "StrictHostKeyChecking=no" not in standins.inventory_path.read_text(encoding="utf-8")


def test_ansible_reaches_every_host_through_the_inventory(standins: StandinLab) -> None:
    ansible = Path(sys.executable).with_name("ansible")
    proc = subprocess.run(
        [str(ansible), "lab", "-i", str(standins.inventory_path), "-b", "-m", "ansible.builtin.command",
         "-a", "cat /boot/firmware/cmdline.txt"],
        env=standins.ansible_env(), capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for host in HOSTS:
        assert f"{host} | CHANGED | rc=0" in proc.stdout


def test_each_standin_has_its_own_host_keys_and_machine_id(standins: StandinLab) -> None:
    keys = {host: _keys(standins, host) for host in HOSTS}
    assert all(keys.values()), keys
    hosts = list(HOSTS)
    for i, a in enumerate(hosts):
        for b in hosts[i + 1 :]:
            assert not keys[a] & keys[b], f"{a} and {b} share a host key"
    ids = {standins.exec(h, "cat", "/etc/machine-id", check=True).stdout.strip() for h in HOSTS}
    assert len(ids) == len(HOSTS)


def test_unconfigured_standin_looks_like_a_fresh_pi(fresh_standins) -> None:
    lab = fresh_standins("raspi002")
    cmdline = lab.exec("raspi002", "cat", "/boot/firmware/cmdline.txt", check=True).stdout
    assert cmdline.count("\n") == 1 and cmdline.endswith("\n")
    assert "root=PARTUUID=" in cmdline and "cgroup" not in cmdline
    enabled = lab.exec("raspi002", "systemctl", "is-enabled", "dphys-swapfile.service")
    assert enabled.stdout.strip() == "enabled"
    conf = lab.exec("raspi002", "cat", "/etc/dphys-swapfile", check=True).stdout
    assert "\nCONF_SWAPSIZE=100\n" in conf
    # the activation is neutralised in the image: no swap file is ever made
    assert lab.exec("raspi002", "test", "-e", "/var/swap").returncode == 1


def test_changed_host_key_is_refused_until_trusted_again(fresh_standins) -> None:
    lab = fresh_standins("raspi003")
    # a shared master connection (as Ansible's ControlPersist keeps) must not outlive the
    # "reflash", or it would carry later sessions past the host-key check
    control_dir = Path(tempfile.mkdtemp(prefix="cp", dir="/tmp"))  # socket paths stay short
    mux = ["-o", "ControlMaster=auto", "-o", f"ControlPath={control_dir}/%C",
           "-o", "ControlPersist=60"]  # fmt: skip
    try:
        assert lab.ssh("raspi003", "true", options=mux).returncode == 0
        before = _keys(lab, "raspi003")
        lab.regenerate_host_key("raspi003")
        refused = lab.ssh("raspi003", "true", options=mux)
    finally:
        subprocess.run(["ssh", "-o", f"ControlPath={control_dir}/%C", "-O", "exit",
                        f"pi@{lab.hosts['raspi003']}"], capture_output=True, check=False)  # fmt: skip
        shutil.rmtree(control_dir, ignore_errors=True)
    assert refused.returncode == 255
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in refused.stderr
    lab.refresh_known_hosts()
    assert _keys(lab, "raspi003").isdisjoint(before)
    assert lab.ssh("raspi003", "true").returncode == 0


def test_unknown_host_is_refused(fresh_standins, tmp_path: Path) -> None:
    lab = fresh_standins("nfspi")
    lab.known_hosts_path.write_text("", encoding="utf-8")
    refused = lab.ssh("nfspi", "true")
    assert refused.returncode == 255
    assert "Host key verification failed" in refused.stderr


def test_stopped_standin_is_unreachable_then_back_with_same_keys(fresh_standins) -> None:
    lab = fresh_standins("raspi001")
    before = lab.scan_host_keys("raspi001")
    lab.stop("raspi001")
    assert lab.ssh("raspi001", "true", connect_timeout=3).returncode == 255
    lab.start("raspi001")
    assert lab.scan_host_keys("raspi001") == before
    assert lab.ssh("raspi001", "true").returncode == 0
