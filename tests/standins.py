"""Stand-in Raspberry Pis for the tests: systemd containers of labctl/standin-pi:bookworm.

A ``StandinLab`` is a Docker network plus one privileged systemd container per lab host,
reachable over real SSH as user ``pi`` with host-key checking on:

- an ed25519 client key is generated for the lab and installed for ``pi``;
- each container makes its own host keys at first boot; they are collected with
  ``ssh-keyscan`` into a known_hosts file that lives where labctl looks for it
  (``$XDG_CONFIG_HOME/labctl/known_hosts`` of ``lab.env()``);
- an inventory following the CONTRIBUTING contract is written next to it.

The containers follow test-substrate.md: ``--privileged --tmpfs /run --tmpfs /run/lock``,
stop signal SIGRTMIN+3, and never a /sys/fs/cgroup bind mount.
"""

from __future__ import annotations

import fcntl
import ipaddress
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

IMAGE = "labctl/standin-pi:bookworm"

#: The session lab: names and addresses fixed by CONTRIBUTING.md.
SESSION_PREFIX = "labctl-test"
SESSION_NETWORK = "labctl-test"
SESSION_SUBNET = "10.77.1.0/24"

#: Host name -> (inventory group, last octet of its address).
HOSTS: dict[str, tuple[str, int]] = {
    "raspi001": ("master", 11),
    "raspi002": ("workers", 12),
    "raspi003": ("workers", 13),
    "nfspi": ("nfs", 20),
}

#: Serialises the fixed-name session lab (and molecule) between concurrent pytest sessions
#: on one Docker engine: a second session waits instead of removing the first one's Pis.
LOCK_FILE = Path(os.environ.get("LABCTL_STANDIN_LOCK", "/tmp/labctl-standins.lock"))

BOOT_TIMEOUT = 90.0


class StandinError(RuntimeError):
    """A stand-in could not be created, booted or reached."""


def _run(
    args: Sequence[str], *, check: bool = True, input_text: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        list(args), input=input_text, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        raise StandinError(
            f"{' '.join(args)} failed (rc {proc.returncode}): {proc.stderr.strip() or proc.stdout}"
        )
    return proc


def engine_problem() -> str | None:
    """Why no Docker engine can be used here, or None when `docker info` answers."""
    if shutil.which("docker") is None:
        return "docker is not installed"
    try:
        if _run(["docker", "info"], check=False, timeout=30).returncode != 0:
            return "no Docker engine answers `docker info` (CI: .ci/start-docker)"
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer within 30 s"
    return None


def docker_problem() -> str | None:
    """Why the stand-ins cannot run here, or None when they can."""
    for tool in ("ssh", "ssh-keygen", "ssh-keyscan"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    problem = engine_problem()
    if problem is not None:
        return problem
    if _run(["docker", "image", "inspect", IMAGE], check=False).returncode != 0:
        return f"image {IMAGE} is missing (build it: molecule/images/build.sh)"
    return None


@contextmanager
def session_lock() -> Iterator[None]:
    """Hold the stand-in lock (blocking) for the lifetime of the session lab."""
    with LOCK_FILE.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class StandinLab:
    """A set of stand-in Pis on one Docker network, with SSH trust set up.

    ``hosts`` maps each lab host name to its address; ``groups`` maps it to its inventory
    group (master, workers or nfs).
    """

    prefix: str
    network: str
    subnet: str
    hosts: dict[str, str]
    groups: dict[str, str]
    workdir: Path
    metallb_addresses: list[str] = field(default_factory=list)
    #: More lab vars for the inventory (the mirror's URLs and key, the machine-only settings).
    lab_vars: dict[str, object] = field(default_factory=dict)
    #: Kubernetes-node mode: a private cgroup namespace and a volume for /var/lib/containerd
    #: (overlayfs snapshots cannot sit on the container's own overlayfs root).
    kube_nodes: bool = False
    #: Docker's own address range inside the subnet (--ip-range), so Docker never hands a
    #: MetalLB pool address to a container.
    ip_range: str | None = None
    _started: list[str] = field(default_factory=list, repr=False)
    _network_created: bool = field(default=False, repr=False)

    # ---- paths -------------------------------------------------------------------------
    @property
    def config_home(self) -> Path:
        return self.workdir / "config"

    @property
    def state_home(self) -> Path:
        return self.workdir / "state"

    @property
    def known_hosts_path(self) -> Path:
        """Where labctl reads trusted keys from (``paths.known_hosts()`` under ``env()``)."""
        return self.config_home / "labctl" / "known_hosts"

    @property
    def private_key_path(self) -> Path:
        return self.workdir / "ssh" / "id_ed25519"

    @property
    def inventory_path(self) -> Path:
        return self.workdir / "hosts.yml"

    @property
    def control_path_dir(self) -> Path:
        return self.workdir / "cp"

    def container(self, host: str) -> str:
        return f"{self.prefix}-{host}"

    # ---- environment for the code under test -------------------------------------------
    def env(self) -> dict[str, str]:
        """os.environ plus labctl's config/state dirs of this lab and its inventory."""
        env = dict(os.environ)
        env.update(
            XDG_CONFIG_HOME=str(self.config_home),
            XDG_STATE_HOME=str(self.state_home),
            LABCTL_INVENTORY=str(self.inventory_path),
            # SSH connection sharing (ControlPersist) per lab: a fresh lab that reuses an
            # address must never ride on a master connection to an earlier, removed container.
            ANSIBLE_SSH_CONTROL_PATH_DIR=str(self.control_path_dir),
        )
        return env

    def ansible_env(self) -> dict[str, str]:
        """``env()`` plus labctl's own Ansible environment (its ansible.cfg and SSH options,
        checking on against this lab's known_hosts), for running ansible-playbook directly."""
        from labctl import ansiblecfg

        env = self.env()
        env.update(ansiblecfg.environment(self.known_hosts_path))
        env.update(ANSIBLE_SSH_COMMON_ARGS="-o IdentitiesOnly=yes")
        return env

    # ---- lifecycle ---------------------------------------------------------------------
    def up(self) -> StandinLab:
        """Create the network and containers, boot them, set up SSH trust, write inventory."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.control_path_dir.mkdir(mode=0o700, exist_ok=True)
        try:
            if not self._network_created:  # a fresh lab's network already exists
                self._remove_leftovers()
                self._create_network()
            for host, address in self.hosts.items():
                self._run_container(host, address)
            for host in self.hosts:
                self.wait_booted(host)
            self._make_client_key()
            for host in self.hosts:
                self.authorize_client_key(host)
            self.refresh_known_hosts()
            self.write_inventory()
        except BaseException:
            self.down()
            raise
        return self

    def down(self) -> None:
        """Remove every container and the network this lab created."""
        names = [self.container(h) for h in self._started]
        if names:
            _run(["docker", "rm", "-f", "-v", *names], check=False)
        self._started.clear()
        if self._network_created:
            _run(["docker", "network", "rm", self.network], check=False)
            self._network_created = False

    def _remove_leftovers(self) -> None:
        # Only the session lab's fixed names can be left over from a crashed run; it runs
        # under the session lock, so nothing alive owns them.
        stale = [self.container(h) for h in self.hosts]
        _run(["docker", "rm", "-f", "-v", *stale], check=False)
        inspect = _run(["docker", "network", "inspect", self.network], check=False)
        if inspect.returncode == 0:
            _run(["docker", "network", "rm", self.network])

    def _create_network(self) -> None:
        args = ["docker", "network", "create", "--subnet", self.subnet]
        if self.ip_range:
            args += ["--ip-range", self.ip_range]
        _run([*args, "--label", f"org.labctl.standin={self.prefix}", self.network])
        self._network_created = True

    def _run_container(self, host: str, address: str) -> None:
        self._started.append(host)
        kube = ["--cgroupns=private", "--volume", "/var/lib/containerd"] if self.kube_nodes else []
        _run(
            [
                "docker", "run", "-d",
                "--name", self.container(host),
                "--hostname", host,
                "--network", self.network,
                "--ip", address,
                "--privileged",
                "--stop-signal", "SIGRTMIN+3",
                "--tmpfs", "/run",
                "--tmpfs", "/run/lock",
                "--label", f"org.labctl.standin={self.prefix}",
                *kube,
                IMAGE,
            ]
        )  # fmt: skip

    def wait_booted(self, host: str, timeout: float = BOOT_TIMEOUT) -> str:
        """Wait until systemd reports running (or degraded) and sshd listens; return state."""
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            proc = self.exec(host, "systemctl", "is-system-running")
            state = proc.stdout.strip()
            if state in ("running", "degraded"):
                break
            time.sleep(0.25)
        else:
            raise StandinError(f"{self.container(host)}: systemd still '{state}' after {timeout}s")
        while time.monotonic() < deadline:
            if self.exec(host, "systemctl", "is-active", "--quiet", "ssh").returncode == 0:
                return state
            time.sleep(0.25)
        raise StandinError(f"{self.container(host)}: ssh.service not active after {timeout}s")

    def _make_client_key(self) -> None:
        key = self.private_key_path
        key.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not key.exists():
            _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", self.prefix, "-f", str(key)])
        key.chmod(0o600)

    def authorize_client_key(self, host: str) -> None:
        pub = self.private_key_path.with_suffix(".pub").read_text(encoding="utf-8")
        script = (
            "install -d -m 0700 -o pi -g pi /home/pi/.ssh && "
            "cat > /home/pi/.ssh/authorized_keys && "
            "chown pi:pi /home/pi/.ssh/authorized_keys && chmod 0600 /home/pi/.ssh/authorized_keys"
        )
        _run(["docker", "exec", "-i", self.container(host), "sh", "-c", script], input_text=pub)

    # ---- SSH host keys -----------------------------------------------------------------
    def scan_host_keys(self, host: str, timeout: float = 30.0) -> list[str]:
        """The host's current public keys as known_hosts lines (``<address> <type> <key>``)."""
        deadline = time.monotonic() + timeout
        while True:
            proc = _run(["ssh-keyscan", "-T", "5", self.hosts[host]], check=False)
            lines = sorted(
                ln for ln in proc.stdout.splitlines() if ln.strip() and not ln.startswith("#")
            )
            if lines:
                return lines
            if time.monotonic() > deadline:
                raise StandinError(f"ssh-keyscan {self.hosts[host]} ({host}) returned no key")
            time.sleep(0.5)

    def refresh_known_hosts(self) -> None:
        """(Re)write known_hosts with every host's current keys."""
        lines = [line for host in self.hosts for line in self.scan_host_keys(host)]
        path = self.known_hosts_path
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        path.chmod(0o600)

    def regenerate_host_key(self, host: str) -> None:
        """Give ``host`` new SSH host keys, as a reflashed Pi has; known_hosts is left as it
        is, so the next connection meets a changed key. Like the reflash, this also ends every
        SSH session to the old system: sshd's KillMode=process would keep them (and with them
        shared master connections) alive across a mere restart."""
        script = (
            "rm -f /etc/ssh/ssh_host_* && ssh-keygen -A"
            " && systemctl kill --kill-whom=all --signal=SIGKILL ssh.service"
            " ; systemctl reset-failed ssh.service ; systemctl restart ssh.service"
        )
        self.exec(host, "sh", "-c", script, check=True)

    # ---- running things ----------------------------------------------------------------
    def exec(
        self,
        host: str,
        *cmd: str,
        user: str | None = None,
        check: bool = False,
        input_text: str | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        """``docker exec`` into the stand-in (as root unless ``user``)."""
        args = ["docker", "exec"]
        if input_text is not None:
            args.append("-i")
        if user:
            args += ["-u", user]
        return _run(
            [*args, self.container(host), *cmd], check=check, input_text=input_text, timeout=timeout
        )

    def ssh(
        self,
        host: str,
        command: str,
        *,
        check: bool = False,
        timeout: float = 60,
        connect_timeout: int = 10,
        options: Sequence[str] = (),
    ) -> subprocess.CompletedProcess[str]:
        """Run ``command`` on ``host`` as pi over real SSH, host-key checking on
        (``options``: more ``-o`` arguments, e.g. connection sharing)."""
        args = [
            "ssh", "-F", "/dev/null",
            "-i", str(self.private_key_path),
            "-o", "IdentitiesOnly=yes",
            "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=yes",
            "-o", f"UserKnownHostsFile={self.known_hosts_path}",
            "-o", f"ConnectTimeout={connect_timeout}",
            *options,
            f"pi@{self.hosts[host]}",
            command,
        ]  # fmt: skip
        return _run(args, check=check, timeout=timeout)

    def stop(self, host: str) -> None:
        """Stop one stand-in (a Pi switched off); its disk and keys are kept."""
        _run(["docker", "stop", self.container(host)])

    def start(self, host: str) -> None:
        """Start a stopped stand-in again and wait until it has booted."""
        _run(["docker", "start", self.container(host)])
        self.wait_booted(host)

    # ---- inventory ---------------------------------------------------------------------
    def write_inventory(self) -> Path:
        """Write the test inventory (the CONTRIBUTING contract, stand-in addresses)."""
        q = json.dumps  # a JSON string is a valid YAML scalar
        lines = [
            "---",
            f"# Test inventory for the stand-in Pis of {self.prefix} (written by tests/standins.py).",
            "# Only container addresses on a Docker network the tests created.",
            "all:",
            "  children:",
            "    lab:",
            "      children:",
        ]
        for group in ("master", "workers", "nfs"):
            members = [h for h in self.hosts if self.groups[h] == group]
            if not members:
                continue
            lines += [f"        {group}:", "          hosts:"]
            for host in members:
                lines += [f"            {host}:", f"              ansible_host: {self.hosts[host]}"]
        pool = ", ".join(self.metallb_addresses)
        lines += [
            "      vars:",
            "        ansible_user: pi",
            f"        ansible_ssh_private_key_file: {q(str(self.private_key_path))}",
            f"        lab_subnet: {self.subnet}",
            f"        metallb_addresses: [{pool}]",
            "        # Host-safety switches (test inventories only):",
            "        # no loadable modules in the test kernel; overlay and br_netfilter are built in.",
            "        pi_node_load_modules: false",
            "        # a live swapoff in a privileged container reaches the HOST kernel; the",
            "        # persisted state (dphys-swapfile disabled, CONF_SWAPSIZE, fstab) is still written.",
            "        pi_node_swapoff_now: false",
            "        # a container cannot reboot: it would stop, and its boot_id is the host's.",
            "        pi_node_reboot: false",
            "        # the test kernel has no nfsd; exports are written and checked with exportfs.",
            "        nfs_server_start: false",
        ]
        if self.lab_vars:
            lines.append(
                "        # The test lab's mirror and this machine's settings (tests/standins.py):"
            )
            lines += [f"        {key}: {q(value)}" for key, value in self.lab_vars.items()]
        self.inventory_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return self.inventory_path


#: What only this machine kind needs for a Kubernetes node, in the test inventory (never in
#: the roles): its kernel still runs cgroup v1 (Raspberry Pi OS bookworm is v2), its containers
#: lack CAP_SYS_RESOURCE, kube-proxy must not set host-global conntrack sysctls, and a shared
#: throw-away disk must never trigger eviction or image GC (images cannot be pulled again).
MACHINE_KUBE_VARS: dict[str, object] = {
    "kubeadm_ignore_preflight_errors": ["SystemVerification"],
    "k8s_control_plane_kubelet_config": {
        "failCgroupV1": False,
        "evictionHard": {
            "nodefs.available": "0%",
            "nodefs.inodesFree": "0%",
            "imagefs.available": "0%",
        },
        "imageGCHighThresholdPercent": 100,
    },
    "k8s_control_plane_kube_proxy_config": {
        "mode": "iptables",
        "conntrack": {"maxPerCore": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
    },
    "containerd_config_overrides": {
        "plugins": {"io.containerd.cri.v1.runtime": {"restrict_oom_score_adj": True}}
    },
}


def add_host(lab: StandinLab, host: str, group: str, last_octet: int) -> None:
    """Boot one more stand-in into ``lab`` (a Pi added to the desk), trust it, and rewrite the
    inventory with it."""
    net = ipaddress.ip_network(lab.subnet)
    lab.hosts[host] = str(net.network_address + last_octet)
    lab.groups[host] = group
    lab._run_container(host, lab.hosts[host])
    lab.wait_booted(host)
    lab.authorize_client_key(host)
    lab.refresh_known_hosts()
    lab.write_inventory()


def _addresses(subnet: str, hosts: Sequence[str]) -> dict[str, str]:
    net = ipaddress.ip_network(subnet)
    return {h: str(net.network_address + HOSTS[h][1]) for h in hosts}


def _pool(subnet: str) -> list[str]:
    net = ipaddress.ip_network(subnet)
    return [f"{net.network_address + 100}-{net.network_address + 200}"]


def session_lab(workdir: Path, lab_vars: dict[str, object] | None = None) -> StandinLab:
    """The four stand-ins of CONTRIBUTING.md on network labctl-test (10.77.1.0/24)."""
    return StandinLab(
        prefix=SESSION_PREFIX,
        network=SESSION_NETWORK,
        subnet=SESSION_SUBNET,
        hosts=_addresses(SESSION_SUBNET, list(HOSTS)),
        groups={h: g for h, (g, _) in HOSTS.items()},
        workdir=workdir,
        metallb_addresses=_pool(SESSION_SUBNET),
        lab_vars=dict(lab_vars or {}),
    )


def fresh_lab(
    workdir: Path, hosts: Sequence[str] = tuple(HOSTS), lab_vars: dict[str, object] | None = None
) -> StandinLab:
    """Unconfigured stand-ins on a network of their own (10.78.N.0/24, first free N),
    with unique container names, so they never collide with the session lab."""
    unknown = [h for h in hosts if h not in HOSTS]
    if unknown:
        raise ValueError(f"unknown stand-in host(s) {unknown}; choose from {list(HOSTS)}")
    tag = f"labctl-fresh-{os.getpid()}-{time.monotonic_ns() % 10**9}"
    for n in range(1, 255):
        subnet = f"10.78.{n}.0/24"
        proc = _run(["docker", "network", "create", "--subnet", subnet, tag], check=False)
        if proc.returncode == 0:
            break
        if "overlap" not in proc.stderr:
            raise StandinError(f"docker network create {tag} failed: {proc.stderr.strip()}")
    else:
        raise StandinError("no free 10.78.N.0/24 subnet for a fresh stand-in network")
    lab = StandinLab(
        prefix=tag,
        network=tag,
        subnet=subnet,
        hosts=_addresses(subnet, hosts),
        groups={h: HOSTS[h][0] for h in hosts},
        workdir=workdir,
        metallb_addresses=_pool(subnet),
        lab_vars=dict(lab_vars or {}),
    )
    lab._network_created = True
    return lab
