"""Fixtures for the demo tests (tests/demos).

- ``servers`` (module): real nginx + dnsmasq on 127.0.0.x (see demo_servers.py).
- ``loopback_inventory``: a lab inventory whose master is this machine, reached over SSH
  through the servers' sshd on 127.0.0.11; addresses are 127.0.0.x, so nothing leaves the
  machine.
  The sshd's host key goes into the known_hosts of ``labctl``'s config dir, as `labctl trust`
  would write it.
- ``labctl``: run the real CLI in a subprocess with private XDG dirs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import clirun
import pytest
import yaml
from demo_servers import MASTER, Servers, missing_tools

from labctl import runner

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    missing = missing_tools()
    if missing:
        if os.environ.get("LABCTL_REQUIRE_SERVERS") == "1":
            pytest.fail(f"LABCTL_REQUIRE_SERVERS=1 but {', '.join(missing)} missing")
        pytest.skip(f"real test servers unavailable: install {', '.join(missing)} (apt)")
    running = Servers(tmp_path_factory.mktemp("servers")).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def loopback_inventory(tmp_path: Path, servers: Servers) -> Path:
    master = {
        "ansible_host": MASTER,
        "ansible_port": servers.ssh_port,
        "ansible_user": "root",
        "ansible_ssh_private_key_file": str(servers.client_key),
        "ansible_python_interpreter": sys.executable,
    }
    data = {
        "all": {
            "children": {
                "lab": {
                    "children": {
                        "master": {"hosts": {"raspi001": master}},
                        "workers": {"hosts": {"raspi002": {"ansible_host": "127.0.0.12"}}},
                        "nfs": {"hosts": {"nfspi": {"ansible_host": "127.0.0.20"}}},
                    },
                    "vars": {
                        "lab_subnet": "127.0.0.0/24",
                        "metallb_addresses": ["127.0.0.200-127.0.0.210"],
                    },
                }
            },
        }
    }
    known_hosts = clirun.isolated_env(tmp_path)["XDG_CONFIG_HOME"] + "/labctl/known_hosts"
    Path(known_hosts).parent.mkdir(parents=True, exist_ok=True)
    Path(known_hosts).write_text(servers.known_hosts_line(), encoding="utf-8")
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def labctl(tmp_path: Path) -> Iterator[Callable[..., subprocess.CompletedProcess[str]]]:
    # the SSH masters of runs against the loopback sshd live here, and end with the test
    control_dir = tmp_path / "cp"
    control_dir.mkdir(mode=0o700)
    env = {
        **clirun.isolated_env(tmp_path),
        "NO_COLOR": "1",
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control_dir),
    }
    work = tmp_path / "cwd"
    work.mkdir()

    def run(*args: str, timeout: float = 300, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return clirun.run(*args, env={**env, **extra_env}, cwd=work, timeout=timeout)

    yield run
    runner.close_ssh_masters(0, folder=control_dir)


@pytest.fixture
def labctl_offline(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``labctl`` in an empty network namespace (clirun.offline_prefix): for hostile input
    that must be refused without contacting anything."""
    env = {**clirun.isolated_env(tmp_path), "NO_COLOR": "1"}

    def run(*args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return clirun.run(*args, env={**env, **extra_env}, cwd=tmp_path, offline=True)

    return run
