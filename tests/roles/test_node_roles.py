"""The node roles through the real CLI, against the stand-in Pis (tests/standins.py).

- ``labctl up --only prepare,nfs`` converges the four stand-ins (pi_node on all, nfs_server on
  nfspi); the persisted state is checked from inside each container, the marker page over the
  lab network from a node, and a second run must report changed=0.
- ``reset.yml`` refuses to touch anything without confirmation; ``labctl reset --yes`` removes
  the CNI leftovers, the node user's kubeconfig and the laptop's kubeconfig. kubeadm itself does
  not run on these stand-ins (the real-lab tier, tests/e2e, runs it): its reset task is guarded
  by /etc/kubernetes/kubelet.conf.

containerd.io comes from the test lab's signed mirror of Docker's repository (tests/mirror.py);
the kernel nfsd cannot run here and is not faked.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import clirun
import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 1200  # a first run installs containerd, nfs-kernel-server and nginx on 4 Pis


def labctl(lab, *args: str) -> subprocess.CompletedProcess[str]:
    return clirun.run(*args, env=lab.env(), timeout=RUN_TIMEOUT)


def read(lab, host: str, path: str) -> str:
    return lab.exec(host, "cat", path, check=True).stdout


@pytest.fixture(scope="module")
def prepared(standins):
    first = labctl(standins, "up", "--only", "prepare,nfs", "--json")
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-3000:]
    return standins


NODES = ("raspi001", "raspi002", "raspi003")
ALL = (*NODES, "nfspi")


@pytest.mark.parametrize("host", ALL)
def test_cmdline_gets_memory_cgroup_and_stays_one_line(prepared, host):
    cmdline = read(prepared, host, "/boot/firmware/cmdline.txt")
    assert len(cmdline.splitlines()) == 1
    assert "cgroup_enable=memory" in cmdline.split()
    assert cmdline.split().count("cgroup_enable=memory") == 1
    # the rest of the Raspberry Pi OS line is kept
    assert "rootwait" in cmdline.split()


@pytest.mark.parametrize("host", ALL)
def test_swap_is_off_for_good(prepared, host):
    conf = read(prepared, host, "/etc/dphys-swapfile")
    assert "CONF_SWAPSIZE=0" in conf.splitlines()
    state = prepared.exec(
        host, "systemctl", "show", "-p", "UnitFileState", "--value", "dphys-swapfile", check=True
    ).stdout.strip()
    assert state == "disabled"


@pytest.mark.parametrize("host", ALL)
def test_kernel_modules_and_only_net_sysctls_persisted(prepared, host):
    assert read(prepared, host, "/etc/modules-load.d/k8s.conf").split()[-2:] == [
        "overlay",
        "br_netfilter",
    ]
    keys = [
        line.split("=")[0].strip()
        for line in read(prepared, host, "/etc/sysctl.d/k8s.conf").splitlines()
        if line and not line.startswith("#")
    ]
    assert sorted(keys) == [
        "net.bridge.bridge-nf-call-ip6tables",
        "net.bridge.bridge-nf-call-iptables",
        "net.ipv4.ip_forward",
    ]


@pytest.mark.parametrize("host", ALL)
def test_hosts_file_lists_every_lab_host(prepared, host):
    lines = [line.split() for line in read(prepared, host, "/etc/hosts").splitlines()]
    for name, address in prepared.hosts.items():
        assert [address, name] in lines, f"{name} {address} missing on {host}"
    assert prepared.exec(host, "which", "dig", "curl").returncode == 0


@pytest.mark.parametrize("host", NODES)
def test_containerd_2_from_the_signed_repository_runs_with_systemd_cgroups(prepared, host):
    config = tomllib.loads(read(prepared, host, "/etc/containerd/config.toml"))
    assert config["version"] == 3
    runc = config["plugins"]["io.containerd.cri.v1.runtime"]["containerd"]["runtimes"]["runc"]
    assert runc["options"]["SystemdCgroup"] is True
    # containerd.io bundles its own runc: no other runc is named
    assert "BinaryName" not in runc["options"]
    assert prepared.exec(host, "systemctl", "is-active", "containerd").stdout.strip() == "active"
    version = prepared.exec(host, "containerd", "--version", check=True).stdout
    assert re.search(r"\sv?2\.\d+\.\d+", version), version
    # installed from the repository apt was given, signed-by the pinned key, and held
    policy = prepared.exec(host, "apt-cache", "policy", "containerd.io", check=True).stdout
    assert "/apt/docker/linux/debian bookworm/stable" in policy, policy
    sources = read(prepared, host, "/etc/apt/sources.list.d/docker.sources")
    assert "Signed-By: /etc/apt/keyrings/docker-apt-keyring.gpg" in sources.splitlines()
    held = prepared.exec(host, "apt-mark", "showhold", check=True).stdout.split()
    assert "containerd.io" in held
    # every registry goes to the dead loopback endpoint, with no fallback to the real one
    hosts_toml = tomllib.loads(read(prepared, host, "/etc/containerd/certs.d/_default/hosts.toml"))
    assert hosts_toml["server"] == "http://127.0.0.1:1"
    assert list(hosts_toml["host"]) == ["http://127.0.0.1:1"]
    assert prepared.exec(host, "test", "-x", "/sbin/mount.nfs").returncode == 0


def test_nfs_node_exports_to_the_lab_subnet_only(prepared):
    exports = [
        line
        for line in read(prepared, "nfspi", "/etc/exports").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert exports == [f"/srv/nfs/k8s {prepared.subnet}(rw,sync,no_subtree_check)"]
    table = prepared.exec("nfspi", "exportfs", "-v", check=True).stdout
    assert table.split()[:2] == [
        "/srv/nfs/k8s",
        f"{prepared.subnet}(sync,wdelay,hide,no_subtree_check,"
        "sec=sys,rw,root_squash,no_all_squash)",
    ]
    # the NFS node is not a Kubernetes node: no containerd there
    assert prepared.exec("nfspi", "test", "-e", "/etc/containerd/config.toml").returncode != 0


def test_marker_page_answers_from_a_node(prepared):
    url = f"http://{prepared.hosts['nfspi']}:80/"
    got = prepared.exec("raspi001", "curl", "-sS", "-m", "5", url, check=True).stdout
    assert got == "labctl-marker:nfspi"


def test_second_run_changes_nothing(prepared):
    again = labctl(prepared, "up", "--only", "prepare,nfs", "--json")
    assert again.returncode == 0, again.stderr[-3000:]
    report = json.loads(again.stdout)
    changed = {host: row["changed"] for host, row in report["recap"].items()}
    assert report["changed"] == 0, changed
    assert set(report["recap"]) >= {"raspi001", "raspi002", "raspi003", "nfspi"}
    assert "nothing changed (changed=0)" in again.stderr  # the recap says so


# ---- reset ----------------------------------------------------------------------------


def plant_cni_leftovers(lab, host: str) -> None:
    lab.exec(host, "sh", "-c",
             "mkdir -p /etc/cni/net.d /var/lib/cni/flannel /home/pi/.kube"
             " && echo '{}' > /etc/cni/net.d/10-flannel.conflist"
             " && echo cfg > /home/pi/.kube/config"
             " && (ip link show cni0 >/dev/null 2>&1 || ip link add cni0 type bridge)",
             check=True)  # fmt: skip


def test_reset_playbook_refuses_without_confirmation(standins):
    plant_cni_leftovers(standins, "raspi002")
    env = standins.ansible_env()
    env["ANSIBLE_ROLES_PATH"] = str(ROOT / "roles")
    run = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i",
         str(standins.inventory_path), str(ROOT / "playbooks" / "reset.yml")],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert run.returncode != 0
    assert "k8s_reset: this wipes the cluster" in run.stdout
    assert (
        standins.exec("raspi002", "test", "-e", "/etc/cni/net.d/10-flannel.conflist").returncode
        == 0
    )
    assert standins.exec("raspi002", "ip", "link", "show", "cni0").returncode == 0


def test_labctl_reset_yes_cleans_cni_and_kubeconfigs(standins):
    for host in NODES:
        plant_cni_leftovers(standins, host)
    laptop_kubeconfig = standins.state_home / "labctl" / "kubeconfig"
    laptop_kubeconfig.parent.mkdir(parents=True, exist_ok=True)
    laptop_kubeconfig.write_text("apiVersion: v1\n")
    os.chmod(laptop_kubeconfig, 0o600)

    run = labctl(standins, "reset", "--yes")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    for host in NODES:
        for path in ("/etc/cni/net.d", "/var/lib/cni", "/home/pi/.kube/config"):
            assert standins.exec(host, "test", "-e", path).returncode != 0, f"{path} on {host}"
        assert standins.exec(host, "ip", "link", "show", "cni0").returncode != 0
    assert not laptop_kubeconfig.exists()
