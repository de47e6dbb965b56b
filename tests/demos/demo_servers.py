"""Real HTTP and DNS servers on loopback addresses for the demo checks (no cluster needed).

- nginx (Debian's nginx-light), run with its own -p prefix, -c config and -e error log in a
  temp dir: three backends that each serve their own name, load balancers in front of them
  (all three; only one; one answering 500), a 301 redirect and a marker page.
- dnsmasq: A records and a CNAME, on 127.0.0.50.
- sshd (Debian's openssh-server) on 127.0.0.11, the stand-in master: labctl reaches every lab
  host over SSH only, so the master's checks run through a real sshd on this machine, with a
  host key of its own that the tests trust (host-key checking stays on).

Every address is 127.0.0.x: nothing leaves the machine.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

BACKENDS = {"backend-1": "127.0.0.31", "backend-2": "127.0.0.32", "backend-3": "127.0.0.33"}
SICK_BACKEND = "127.0.0.34"  # answers 500
LB_ALL, LB_ONE, LB_SICK = "127.0.0.30", "127.0.0.35", "127.0.0.36"
REDIRECT, MARKER, NOTHING = "127.0.0.40", "127.0.0.41", "127.0.0.42"
DNS = "127.0.0.50"
MASTER = "127.0.0.11"
MARKER_TEXT = "labctl-marker:nfspi"

HEADLESS_NAME = "sample-headless.default.svc.cluster.local"
HEADLESS_IPS = ["10.244.1.75", "10.244.1.76", "10.244.2.72"]
EXTERNALNAME = "sample-externalname.default.svc.cluster.local"
EXTERNALNAME_TARGET = "example.com"


def missing_tools() -> list[str]:
    tools = ("nginx", "dnsmasq", "dig", "sshd", "ssh-keygen")
    missing = [tool for tool in tools if _which(tool) is None]
    if os.geteuid() != 0:
        missing.append("root (sshd logs in as root)")
    return missing


def _which(tool: str) -> str | None:
    return shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")


def _sshd_conf(root: Path, port: int) -> str:
    return f"""
Port {port}
ListenAddress {MASTER}
HostKey {root / "host_ed25519"}
PidFile {root / "sshd.pid"}
AuthorizedKeysFile {root / "authorized_keys"}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
"""


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _nginx_conf(prefix: Path, port: int) -> str:
    backends = "\n".join(
        f"""    server {{ listen {addr}:{port}; default_type text/plain;
              location / {{ return 200 "{name}\\n"; }} }}"""
        for name, addr in BACKENDS.items()
    )
    b = [f"server {addr}:{port};" for addr in BACKENDS.values()]
    temp = "\n".join(
        f"    {kind}_temp_path {prefix}/tmp/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
{temp}
    upstream all3 {{ {" ".join(b)} }}
    upstream one {{ {b[0]} }}
    upstream sick {{ {b[0]} {b[1]} server {SICK_BACKEND}:{port}; }}
{backends}
    server {{ listen {SICK_BACKEND}:{port}; location / {{ return 500; }} }}
    server {{ listen {LB_ALL}:{port}; location / {{ proxy_pass http://all3; }} }}
    server {{ listen {LB_ONE}:{port}; location / {{ proxy_pass http://one; }} }}
    server {{ listen {LB_SICK}:{port}; location / {{ proxy_pass http://sick; }} }}
    server {{ listen {REDIRECT}:{port}; location / {{ return 301 http://moved.invalid/; }} }}
    server {{ listen {MARKER}:{port}; default_type text/plain;
              location / {{ return 200 "{MARKER_TEXT}\\n"; }} }}
}}
"""


def _wait_tcp(address: str, port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early: {log.read_text(errors='replace')[-500:]}")
        try:
            with socket.create_connection((address, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {address}:{port} after 10 s")


@dataclass
class Servers:
    root: Path
    http_port: int = 0
    dns_port: int = 0
    ssh_port: int = 0
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def url(self, address: str, path: str = "/") -> str:
        return f"http://{address}:{self.http_port}{path}"

    def start(self) -> Servers:
        self.http_port = free_port()
        self.dns_port = free_port(socket.SOCK_DGRAM)
        prefix = self.root / "nginx"
        (prefix / "tmp").mkdir(parents=True)
        conf = prefix / "nginx.conf"
        conf.write_text(_nginx_conf(prefix, self.http_port), encoding="utf-8")
        log = prefix / "stderr.log"
        nginx = subprocess.Popen(
            ["nginx", "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")],
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
        )
        self.procs.append(nginx)
        _wait_tcp(LB_ALL, self.http_port, nginx, log)
        records = [f"--host-record={HEADLESS_NAME},{ip}" for ip in HEADLESS_IPS]
        dns_log = self.root / "dnsmasq.log"
        dnsmasq = subprocess.Popen(
            [
                "dnsmasq",
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                "--no-resolv",
                "--no-hosts",
                "--bind-interfaces",
                f"--listen-address={DNS}",
                f"--port={self.dns_port}",
                f"--pid-file={self.root / 'dnsmasq.pid'}",
                *records,
                f"--cname={EXTERNALNAME},{EXTERNALNAME_TARGET}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=dns_log.open("wb"),
        )
        self.procs.append(dnsmasq)
        self._wait_dns(dnsmasq, dns_log)
        self._start_sshd()
        return self

    @property
    def client_key(self) -> Path:
        return self.root / "ssh" / "id_ed25519"

    def known_hosts_line(self) -> str:
        key = (self.root / "ssh" / "host_ed25519.pub").read_text(encoding="utf-8").split()
        return f"[{MASTER}]:{self.ssh_port} {key[0]} {key[1]}\n"

    def _start_sshd(self) -> None:
        root = self.root / "ssh"
        root.mkdir(mode=0o700)
        for key in (root / "host_ed25519", self.client_key):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True
            )
        (root / "authorized_keys").write_bytes(self.client_key.with_suffix(".pub").read_bytes())
        self.ssh_port = free_port()
        conf = root / "sshd_config"
        conf.write_text(_sshd_conf(root, self.ssh_port), encoding="utf-8")
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir
        log = root / "sshd.log"
        sshd = subprocess.Popen(
            [_which("sshd") or "sshd", "-D", "-e", "-f", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
        )
        self.procs.append(sshd)
        _wait_tcp(MASTER, self.ssh_port, sshd, log)

    def _wait_dns(self, proc: subprocess.Popen[bytes], log: Path) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"dnsmasq exited: {log.read_text(errors='replace')[-500:]}")
            answer = subprocess.run(
                [
                    "dig",
                    "+short",
                    "+time=1",
                    "+tries=1",
                    f"@{DNS}",
                    "-p",
                    str(self.dns_port),
                    HEADLESS_NAME,
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if answer.returncode == 0 and answer.stdout.strip():
                return
            time.sleep(0.1)
        raise RuntimeError("dnsmasq does not answer after 10 s")

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.procs.clear()
