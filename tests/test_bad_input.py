"""The bad-input matrix: each kind exits 2 with one clear line, no traceback, no host touched.

Addresses are on the loopback range (127.77.9.0/24): even a broken validation could send
nothing off this machine.

Every case runs the real console script in a clean environment. "No host touched" is proven
by the state dir: any play would have created a run directory there.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import clirun
import pytest

GOOD = """\
all:
  children:
    lab:
      children:
        master:
          hosts:
            raspi001: {ansible_host: 127.77.9.11}
        workers:
          hosts:
            raspi002: {ansible_host: 127.77.9.12}
            raspi003: {ansible_host: 127.77.9.13}
        nfs:
          hosts:
            nfspi: {ansible_host: 127.77.9.20}
      vars:
        lab_subnet: 127.77.9.0/24
        metallb_addresses: [127.77.9.100-127.77.9.200]
"""


def variant(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new)


CASES = [
    # id, inventory text, the words the one line must carry
    ("malformed-yaml", GOOD.replace("      vars:", "     vars: ["), ["YAML syntax error", ":"]),
    ("empty-file", "", ["empty", "labctl init"]),
    ("not-a-mapping", "- raspi001\n- raspi002\n", ["mapping of groups"]),
    (
        "unknown-group-key",
        variant("          hosts:\n            raspi001", "          host:\n            raspi001"),
        ["master.host", "did you mean 'hosts'"],
    ),
    (
        "missing-workers",
        variant(
            "        workers:\n          hosts:\n            raspi002: {ansible_host: 127.77.9.12}\n"
            "            raspi003: {ansible_host: 127.77.9.13}\n",
            "",
        ),
        ["missing group 'workers'"],
    ),
    (
        "two-masters",
        variant(
            "raspi001: {ansible_host: 127.77.9.11}",
            "raspi001: {ansible_host: 127.77.9.11}\n            raspi009: {ansible_host: 127.77.9.19}",
        ),
        ["exactly one host, found 2"],
    ),
    (
        "no-worker",
        variant(
            "          hosts:\n            raspi002: {ansible_host: 127.77.9.12}\n"
            "            raspi003: {ansible_host: 127.77.9.13}\n",
            "          hosts: {}\n",
        ),
        ["at least one worker"],
    ),
    (
        "duplicate-address",
        variant("raspi003: {ansible_host: 127.77.9.13}", "raspi003: {ansible_host: 127.77.9.12}"),
        ["raspi003.ansible_host", "also raspi002's"],
    ),
    (
        "duplicate-name",
        variant("raspi003: {ansible_host: 127.77.9.13}", "raspi001: {ansible_host: 127.77.9.13}"),
        ["raspi001", "both master and worker"],
    ),
    (
        "invalid-address",
        variant("127.77.9.13}", "127.77.9.313}"),
        ["raspi003.ansible_host", "not an IPv4 address"],
    ),
    (
        "missing-address",
        variant("raspi003: {ansible_host: 127.77.9.13}", "raspi003: {}"),
        ["raspi003.ansible_host", "missing"],
    ),
    (
        "subnet-host-bits",
        variant("lab_subnet: 127.77.9.0/24", "lab_subnet: 127.77.9.0/8"),
        ["lab_subnet", "did you mean 127.77.9.0/24"],
    ),
    (
        "host-outside-subnet",
        variant("raspi003: {ansible_host: 127.77.9.13}", "raspi003: {ansible_host: 127.77.8.13}"),
        ["outside lab_subnet 127.77.9.0/24"],
    ),
    (
        "pool-overlaps-node",
        variant("[127.77.9.100-127.77.9.200]", "[127.77.9.10-127.77.9.30]"),
        ["metallb_addresses", "raspi001", "inside the MetalLB pool"],
    ),
    (
        "pool-outside-subnet",
        variant("[127.77.9.100-127.77.9.200]", "[127.77.10.100-127.77.10.200]"),
        ["metallb_addresses", "outside lab_subnet"],
    ),
    (
        "pool-wrong-type",
        variant("[127.77.9.100-127.77.9.200]", "127.77.9.100-127.77.9.200"),
        ["metallb_addresses", "YAML list"],
    ),
    (
        "pool-reversed-range",
        variant("[127.77.9.100-127.77.9.200]", "[127.77.9.200-127.77.9.100]"),
        ["ends before it starts"],
    ),
    (
        "nodeport-out-of-range",
        variant(
            "        lab_subnet:",
            "        service_demo_nodeport_node_port: 8080\n        lab_subnet:",
        ),
        ["service_demo_nodeport_node_port", "30000-32767"],
    ),
    (
        "nodeport-wrong-type",
        variant(
            "        lab_subnet:",
            "        service_demo_nodeport_node_port: '30080'\n        lab_subnet:",
        ),
        ["service_demo_nodeport_node_port", "whole number"],
    ),
    (
        "unknown-setting-typo",
        variant("lab_subnet: 127.77.9.0/24", "lab_subnet: 127.77.9.0/24\n        lab_subent: x"),
        ["lab_subent", "did you mean 'lab_subnet'"],
    ),
    (
        "bad-ssh-port",
        variant(
            "raspi003: {ansible_host: 127.77.9.13}",
            "raspi003: {ansible_host: 127.77.9.13, ansible_port: 70000}",
        ),
        ["raspi003.ansible_port", "TCP port"],
    ),
    (
        "unpinned-addon-version",
        variant("        lab_subnet:", "        metallb_version: '0.9.9'\n        lab_subnet:"),
        ["metallb", "0.9.9", "0.7.3", "0.16.1"],
    ),
    (
        "unknown-ingress-controller",
        variant("        lab_subnet:", "        ingress_controller: nginx\n        lab_subnet:"),
        ["ingress_controller", "'nginx'", "ingress-nginx or traefik"],
    ),
    (
        "jinja-in-a-value",
        variant(
            "        lab_subnet:",
            "        ansible_user: \"{{ lookup('pipe', 'id') }}\"\n        lab_subnet:",
        ),
        ["lab.vars.ansible_user", "Jinja template", "write the value itself"],
    ),
    (
        "jinja-in-a-host-value",
        variant(
            "raspi003: {ansible_host: 127.77.9.13}",
            "raspi003: {ansible_host: 127.77.9.13, ansible_user: \"{{ lookup('env', 'USER') }}\"}",
        ),
        ["raspi003.ansible_user", "Jinja template"],
    ),
    (
        "local-connection",
        variant(
            "raspi002: {ansible_host: 127.77.9.12}",
            "raspi002: {ansible_host: 127.77.9.12, ansible_connection: local}",
        ),
        ["raspi002.ansible_connection", "over SSH only"],
    ),
    (
        "paramiko-connection-for-the-lab",
        variant("        lab_subnet:", "        ansible_connection: paramiko\n        lab_subnet:"),
        ["lab.vars.ansible_connection", "over SSH only"],
    ),
    (
        "host-key-checking-off",
        variant(
            "raspi003: {ansible_host: 127.77.9.13}",
            "raspi003: {ansible_host: 127.77.9.13, ansible_host_key_checking: false}",
        ),
        ["raspi003.ansible_host_key_checking", "host-key checking on"],
    ),
    (
        "ssh-option-turning-checking-off",
        variant(
            "        lab_subnet:",
            "        ansible_ssh_common_args: '-o StrictHostKeyChecking=no'\n        lab_subnet:",
        ),
        ["lab.vars.ansible_ssh_common_args", "SSH option"],
    ),
    (
        "ssh-proxy-command",
        variant(
            "        lab_subnet:",
            "        ansible_ssh_extra_args: '-oProxyCommand=touch /tmp/x'\n        lab_subnet:",
        ),
        ["lab.vars.ansible_ssh_extra_args", "runs a program"],
    ),
    (
        "interpreter-in-all-vars",
        GOOD.replace(
            "all:\n  children:",
            "all:\n  vars:\n    ansible_python_interpreter: /tmp/x\n  children:",
        ),
        ["all.vars.ansible_python_interpreter", "lab: vars:"],
    ),
    (
        "host-name-not-a-dns-label",
        variant("raspi003: {ansible_host: 127.77.9.13}", "raspi_003: {ansible_host: 127.77.9.13}"),
        ["raspi_003", "DNS label"],
    ),
    (
        "broadcast-node-address",
        variant("raspi003: {ansible_host: 127.77.9.13}", "raspi003: {ansible_host: 127.77.9.255}"),
        ["raspi003.ansible_host", "broadcast address of 127.77.9.0/24"],
    ),
    (
        "subnet-wider-than-a-lan",
        variant("lab_subnet: 127.77.9.0/24", "lab_subnet: 0.0.0.0/0"),
        ["lab_subnet", "wider than a LAN"],
    ),
    (
        "overlapping-pool-ranges",
        variant("[127.77.9.100-127.77.9.200]", "[127.77.9.100-127.77.9.200, 127.77.9.144/28]"),
        ["metallb_addresses", "127.77.9.144/28 overlaps", "MetalLB refuses"],
    ),
    (
        "duplicate-key",
        variant(
            "        lab_subnet: 127.77.9.0/24\n",
            "        lab_subnet: 127.77.9.0/24\n        lab_subnet: 127.77.8.0/24\n",
        ),
        ["duplicate key 'lab_subnet'"],
    ),
    (
        "nodeport-collision",
        variant(
            "        lab_subnet:",
            "        service_demo_nodeport_node_port: 30090\n        lab_subnet:",
        ),
        ["nodePort 30090", "ingress_nginx_http_nodeport", "its own port"],
    ),
    (
        "two-nfs-nodes",
        variant(
            "nfspi: {ansible_host: 127.77.9.20}",
            "nfspi: {ansible_host: 127.77.9.20}\n            nfspi2: {ansible_host: 127.77.9.21}",
        ),
        ["at most one NFS node"],
    ),
]


@pytest.fixture
def clean_env(tmp_path: Path) -> dict[str, str]:
    return {**clirun.isolated_env(tmp_path), "HOME": str(tmp_path / "home")}


def labctl(
    args: list[str], env: dict[str, str], cwd: Path
) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    proc = clirun.run(*args, env=env, cwd=cwd, timeout=60, offline=True)
    return proc, time.monotonic() - start


def assert_one_clear_line(proc: subprocess.CompletedProcess[str], words: list[str]) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = clirun.problem_lines(proc)
    assert len(lines) == 1, proc.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


@pytest.mark.parametrize(("name", "text", "words"), CASES, ids=[c[0] for c in CASES])
def test_bad_inventory_exits_2_before_any_host(name, text, words, tmp_path, clean_env):
    bad = tmp_path / "hosts.yml"
    bad.write_text(text)
    proc, took = labctl(["up", "-i", str(bad), "--only", "prepare"], clean_env, tmp_path)
    assert_one_clear_line(proc, [str(bad), *words])
    assert took < 5, f"took {took:.1f}s"
    assert not (tmp_path / "state" / "labctl" / "runs").exists(), "a play ran"


def test_the_good_inventory_passes_validation(tmp_path):
    from labctl import inventory

    path = tmp_path / "hosts.yml"
    path.write_text(GOOD)
    inv = inventory.load(path, inventory.known_settings())
    assert inv.master.name == "raspi001"
    assert [h.name for h in inv.workers] == ["raspi002", "raspi003"]
    assert inv.nfs is not None and str(inv.nfs.address) == "127.77.9.20"
    assert str(inv.subnet) == "127.77.9.0/24"


def test_shipped_chapter_inventory_is_valid():
    from labctl import inventory, paths

    inv = inventory.load(
        paths.ansible_root() / "inventory" / "hosts.yml", inventory.known_settings()
    )
    assert {h.name: str(h.address) for h in inv.hosts.values()} == {
        "raspi001": "192.168.3.32",
        "raspi002": "192.168.3.33",
        "raspi003": "192.168.3.34",
        "nfspi": "192.168.3.35",
    }
    assert next(str(n) for n in inv.pool).startswith("192.168.3.100")


def test_unknown_only_part(tmp_path, clean_env):
    good = tmp_path / "hosts.yml"
    good.write_text(GOOD)
    proc, _ = labctl(["up", "-i", str(good), "--only", "prepare,kubelet"], clean_env, tmp_path)
    assert_one_clear_line(proc, ["--only", "kubelet", "prepare,nfs,cluster,addons"])


@pytest.mark.parametrize(
    ("only", "words"),
    [
        # an empty --only (a script's unset variable) must not mean "everything"
        ("", ["--only", "empty", "prepare,nfs,cluster,addons"]),
        (" ", ["--only", "empty", "prepare,nfs,cluster,addons"]),
        (",", ["--only", "empty", "prepare,nfs,cluster,addons"]),
        ("prepare,,nfs", ["--only", "empty part", "single commas"]),
        ("prepare,", ["--only", "empty part", "single commas"]),
        (",cluster", ["--only", "empty part", "single commas"]),
    ],
)
def test_an_empty_only_or_an_empty_part_runs_nothing_and_says_so(tmp_path, clean_env, only, words):
    good = tmp_path / "hosts.yml"
    good.write_text(GOOD)
    proc, _ = labctl(["up", "-i", str(good), "--only", only], clean_env, tmp_path)
    assert_one_clear_line(proc, words)
    assert not (tmp_path / "state" / "labctl" / "runs").exists()


def test_missing_inventory_file(tmp_path, clean_env):
    proc, _ = labctl(["up", "-i", str(tmp_path / "nope.yml")], clean_env, tmp_path)
    assert_one_clear_line(proc, ["nope.yml", "not found"])


def test_no_inventory_anywhere_suggests_init(tmp_path, clean_env):
    proc, _ = labctl(["up"], clean_env, tmp_path)
    assert_one_clear_line(proc, ["no inventory found", "labctl init"])


def test_env_inventory_is_used(tmp_path, clean_env):
    clean_env["LABCTL_INVENTORY"] = str(tmp_path / "from-env.yml")
    proc, _ = labctl(["up"], clean_env, tmp_path)
    assert_one_clear_line(proc, ["from-env.yml", "LABCTL_INVENTORY"])


def test_reset_without_yes_and_without_terminal_refuses(tmp_path, clean_env):
    good = tmp_path / "hosts.yml"
    good.write_text(GOOD)
    proc, _ = labctl(["reset", "-i", str(good)], clean_env, tmp_path)
    assert_one_clear_line(proc, ["--yes"])
    assert not (tmp_path / "state" / "labctl" / "runs").exists()


@pytest.mark.parametrize(
    ("folder", "words"),
    [
        ("a-file", ["Not a directory", "a file stands where a folder must be"]),
        ("a" * 300, ["File name too long", "shorter path"]),
        ("/sys/labctl-state", ["Operation not permitted", "check its permissions"]),
    ],
    ids=["file-in-the-way", "name-too-long", "not-permitted"],
)
def test_an_unusable_state_folder_is_one_line_not_a_traceback(tmp_path, clean_env, folder, words):
    (tmp_path / "a-file").write_text("")
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(GOOD)
    state = folder if folder.startswith("/") else str(tmp_path / folder)
    env = {**clean_env, "XDG_STATE_HOME": state}
    proc, _ = labctl(["up", "-i", str(inventory), "--only", "prepare"], env, tmp_path)
    assert_one_clear_line(proc, words)


def test_an_unusable_config_folder_is_one_line_for_init(tmp_path, clean_env):
    env = {**clean_env, "XDG_CONFIG_HOME": "/sys/labctl-config"}
    proc, _ = labctl(["init"], env, tmp_path)
    assert_one_clear_line(proc, ["/sys/labctl-config", "check its permissions"])
