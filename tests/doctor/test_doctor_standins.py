"""labctl doctor and the preflight role against stand-in Pis, through the real CLI.

One lab of fresh (unconfigured) stand-ins, broken on purpose, then repaired:

1. broken: raspi001 as flashed (no cgroup flag, dphys-swapfile on) with a program on port
   6443; raspi002 configured by hand the way pi_node leaves a Pi; raspi003 without sudo; nfspi
   switched off; and a container of our own answering on a MetalLB pool address.
   `labctl doctor --json` exits 1 and names each problem with its hint; the preflight play in
   enforce mode (what `labctl up` runs first) stops on the FAIL rows, and lets the rows that
   `up` repairs itself (cmdline flag, swap) through as WARN. raspi002's lab interface is
   renamed wlan0, as on the chapter's Wi-Fi Pis: a WARN with MetalLB's layer-2 caveat (the
   kernel's wireless flag cannot be made here, so the name-based detection is what runs).
   No stand-in has containerd yet: "container runtime" WARNs on the Kubernetes nodes only.
2. half repaired: every single swap source alone still FAILs (an fstab swap line; a disabled
   dphys-swapfile that still has CONF_SWAPSIZE=100).
3. repaired: every host configured, the squatter gone: exit 0, no FAIL row.
"""

from __future__ import annotations

import json
import subprocess

import clirun
import pytest

from labctl import doctor

SQUATTER_OCTET = 150  # inside the test pool .100-.200


def labctl_doctor(lab) -> tuple[int, dict[str, dict[str, dict[str, str]]], str]:
    proc = clirun.run("doctor", "-i", str(lab.inventory_path), "--json", env=lab.env(), timeout=600)
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"no JSON from labctl doctor (rc {proc.returncode}):\n{proc.stderr[-3000:]}")
    rows = {h: {r["check"]: r for r in items} for h, items in data["doctor"].items()}
    return proc.returncode, rows, proc.stderr


def configure_like_pi_node(lab, host: str) -> None:
    """What pi_node leaves behind (cmdline flag, swap off at boot), done by hand."""
    script = (
        "sed -i '1s/$/ cgroup_enable=memory/' /boot/firmware/cmdline.txt && "
        "sed -i 's/^CONF_SWAPSIZE=.*/CONF_SWAPSIZE=0/' /etc/dphys-swapfile && "
        "systemctl disable --quiet dphys-swapfile.service"
    )
    lab.exec(host, "sh", "-c", script, check=True)


def statuses(rows, host: str) -> dict[str, str]:
    return {check: row["status"] for check, row in rows[host].items()}


@pytest.fixture
def squatter(fresh_standins):
    """The lab, plus a container of ours holding a pool address (the kernel answers ARP)."""
    lab = fresh_standins()
    address = lab.subnet.rsplit(".", 1)[0] + f".{SQUATTER_OCTET}"
    name = f"{lab.prefix}-squatter"
    subprocess.run(
        ["docker", "run", "-d", "--name", name, "--network", lab.network, "--ip", address,
         "--label", f"org.labctl.standin={lab.prefix}", "labctl/standin-pi:bookworm",
         "sleep", "3600"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    try:
        yield lab, name, address
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


def test_doctor_names_each_problem_then_passes_once_repaired(squatter, monkeypatch):
    lab, squatter_name, squatter_address = squatter
    configure_like_pi_node(lab, "raspi002")
    lab.exec("raspi002", "sh", "-c", "ip link set eth0 down && ip link set eth0 name wlan0 && "
             "ip link set wlan0 up", check=True)  # fmt: skip
    lab.exec("raspi003", "rm", "-f", "/etc/sudoers.d/010_pi-nopasswd", check=True)
    lab.exec("raspi001", "systemd-run", "--unit=port6443", "/usr/bin/python3", "-m", "http.server",
             "6443", check=True)  # fmt: skip
    lab.stop("nfspi")

    # 1. broken
    rc, rows, err = labctl_doctor(lab)
    assert rc == 1, err[-3000:]
    master = rows["raspi001"]
    assert master["boot cmdline flag"]["status"] == "FAIL"
    assert "lacks cgroup_enable=memory" in master["boot cmdline flag"]["detail"]
    assert "labctl up --only prepare" in master["boot cmdline flag"]["hint"]
    assert master["swap off"]["status"] == "FAIL"
    assert "dphys-swapfile.service is enabled" in master["swap off"]["detail"]
    assert "CONF_SWAPSIZE=100" in master["swap off"]["detail"]
    assert master["port 6443 free"]["status"] == "FAIL"
    assert "python3" in master["port 6443 free"]["detail"]
    pool = master["MetalLB pool unused"]
    assert pool["status"] == "FAIL", pool
    assert f"answering: {squatter_address} at" in pool["detail"]
    # only the squatter answers: the nodes' own addresses are not probed
    assert pool["detail"].count(" at ") == 1
    assert statuses(rows, "raspi002")["boot cmdline flag"] == "PASS"
    assert statuses(rows, "raspi002")["swap off"] == "PASS"
    assert "FAIL" not in statuses(rows, "raspi002").values(), rows["raspi002"]
    assert rows["raspi003"]["sudo works"]["status"] == "FAIL"
    assert "NOPASSWD" in rows["raspi003"]["sudo works"]["hint"]
    assert list(rows["raspi003"]) == ["SSH reachable", "sudo works"]
    assert list(rows["nfspi"]) == ["SSH reachable"]
    assert rows["nfspi"]["SSH reachable"]["status"] == "FAIL"
    # an x86_64 stand-in is said to be one, never passed off as a Pi
    assert rows["raspi002"]["architecture"]["status"] == "WARN"
    assert "not a Raspberry Pi" in rows["raspi002"]["architecture"]["hint"]
    wifi = rows["raspi002"]["lab interface"]
    assert (wifi["status"], wifi["detail"]) == ("WARN", f"{lab.hosts['raspi002']} on wlan0 (Wi-Fi)")
    assert "ARP" in wifi["hint"] and "promisc on" in wifi["hint"]
    assert rows["raspi001"]["lab interface"]["status"] == "PASS"

    # 1b. the same checks in enforce mode, as `labctl up` runs them first (tags: all)
    from labctl.runner import RunRequest, run

    for key, value in lab.env().items():
        if key.startswith("XDG_"):
            monkeypatch.setenv(key, value)
    result = run(RunRequest("preflight", "preflight.yml", lab.inventory_path))
    assert not result.ok
    assert result.changed == 0  # preflight only reads
    stopped = {f.host: f.message for f in result.failures if not f.unreachable}
    assert "MetalLB pool unused FAILED" in stopped["raspi001"], stopped
    assert "port 6443 free FAILED" in stopped["raspi001"]
    assert "Fix: another machine uses these pool addresses" in stopped["raspi001"]
    assert "sudo works FAILED" in stopped["raspi003"]
    assert "raspi002" not in stopped
    enforced = {r["check"]: r for r in result.stats["doctor"]["raspi001"]}
    assert enforced["boot cmdline flag"]["status"] == "WARN"  # up's prepare step repairs it
    assert "repairs it" in enforced["boot cmdline flag"]["detail"]
    assert enforced["container runtime"]["status"] == "WARN"  # prepare installs containerd.io
    assert "repairs it" in enforced["container runtime"]["detail"]

    # 2. half repaired: each swap source alone still fails
    subprocess.run(["docker", "rm", "-f", squatter_name], check=True, capture_output=True)
    lab.exec("raspi001", "systemctl", "stop", "port6443", check=True)
    configure_like_pi_node(lab, "raspi001")
    lab.exec("raspi001", "sh", "-c", "echo '/var/swap none swap sw 0 0' >> /etc/fstab", check=True)
    lab.exec("raspi002", "sed", "-i", "s/^CONF_SWAPSIZE=.*/CONF_SWAPSIZE=100/",
             "/etc/dphys-swapfile", check=True)  # fmt: skip
    lab.exec("raspi003", "sh", "-c", "echo 'pi ALL=(ALL) NOPASSWD: ALL' > "
             "/etc/sudoers.d/010_pi-nopasswd && chmod 0440 /etc/sudoers.d/010_pi-nopasswd",
             check=True)  # fmt: skip
    lab.start("nfspi")
    lab.exec("raspi002", "ip", "link", "set", "wlan0", "promisc", "on", check=True)
    rc, rows, err = labctl_doctor(lab)
    assert rc == 1, err[-3000:]
    assert rows["raspi001"]["swap off"]["status"] == "FAIL"
    assert (
        rows["raspi001"]["swap off"]["detail"]
        == "swap line in /etc/fstab: /var/swap none swap sw 0 0"
    )
    assert rows["raspi002"]["swap off"]["status"] == "FAIL"
    assert rows["raspi002"]["swap off"]["detail"] == "CONF_SWAPSIZE=100 in /etc/dphys-swapfile"
    assert rows["raspi001"]["boot cmdline flag"]["status"] == "PASS"
    assert rows["raspi001"]["port 6443 free"]["status"] == "PASS"
    assert rows["raspi001"]["MetalLB pool unused"]["status"] == "PASS"
    assert "101 addresses probed" in rows["raspi001"]["MetalLB pool unused"]["detail"]
    assert rows["raspi003"]["sudo works"]["status"] == "PASS"
    assert rows["nfspi"]["SSH reachable"]["status"] == "PASS"
    assert rows["raspi002"]["lab interface"]["detail"].endswith("on wlan0 (Wi-Fi, promiscuous)")

    # 3. repaired
    lab.exec("raspi001", "sed", "-i", "/^\\/var\\/swap /d", "/etc/fstab", check=True)
    configure_like_pi_node(lab, "raspi002")
    configure_like_pi_node(lab, "raspi003")
    rc, rows, err = labctl_doctor(lab)
    failing = {
        h: [c for c, r in checks.items() if r["status"] == "FAIL"] for h, checks in rows.items()
    }
    assert rc == 0, failing
    assert not any(failing.values()), failing
    for host in ("raspi001", "raspi002", "raspi003"):
        assert statuses(rows, host)["swap off"] == "PASS"
        assert statuses(rows, host)["boot cmdline flag"] == "PASS"
    # the NFS node is not a Kubernetes node: no cgroup/cmdline/swap/container runtime rows for it
    assert "boot cmdline flag" not in rows["nfspi"]
    assert "container runtime" not in rows["nfspi"]
    # the stand-ins have no containerd yet: up's prepare step installs containerd.io 2.x (WARN)
    for host in ("raspi001", "raspi002", "raspi003"):
        runtime = rows[host]["container runtime"]
        assert (runtime["status"], runtime["detail"]) == (
            "WARN",
            "not installed; labctl up's prepare step installs containerd.io 2.x from Docker's"
            " repository",
        ), runtime
    assert doctor.INVENTORY_HOST in rows
