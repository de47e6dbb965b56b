"""`labctl trust`: first contact with freshly flashed Pis, host-key checking kept on.

Keys are scanned with ssh-keyscan, shown as fingerprints, and stored in labctl's own
known_hosts (``paths.known_hosts()``), which every run hands to SSH.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from labctl import atomicfile, paths
from labctl.errors import HostKeyError, LabctlError
from labctl.inventory import Host

KEY_TYPES = "ed25519,ecdsa,rsa"


@dataclass(frozen=True)
class ScannedKey:
    host: str
    entry: str  # a known_hosts line: "<address> <type> <base64>"
    fingerprint: str
    status: str  # "new", "known" or "changed"


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise LabctlError(f"{name} not found: install the OpenSSH client (openssh-client)")
    return found


def _target(host: Host) -> tuple[str, int]:
    port = int(host.vars.get("ansible_port", 22))
    return str(host.address), port


def _known_name(address: str, port: int) -> str:
    return address if port == 22 else f"[{address}]:{port}"


def _keyscan(host: Host) -> list[str]:
    address, port = _target(host)
    proc = subprocess.run(
        [_tool("ssh-keyscan"), "-T", "5", "-p", str(port), "-t", KEY_TYPES, address],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln and not ln.startswith("#")]
    if not lines:
        raise LabctlError(
            f"{host.name} ({address}:{port}): no SSH host key could be read: check that the Pi "
            "is on, reachable and runs sshd (then run `labctl trust` again)"
        )
    return sorted(lines)


def _fingerprint(entry: str) -> str:
    proc = subprocess.run(
        [_tool("ssh-keygen"), "-l", "-f", "-"],
        input=entry,
        capture_output=True,
        text=True,
        check=False,
    )
    parts = proc.stdout.split()
    return f"{parts[1]} ({parts[-1].strip('()')})" if len(parts) >= 2 else "?"


def _known_keys(known_hosts: Path, name: str) -> set[str]:
    if not known_hosts.is_file():
        return set()
    proc = subprocess.run(
        [_tool("ssh-keygen"), "-F", name, "-f", str(known_hosts)],
        capture_output=True,
        text=True,
        check=False,
    )
    keys = set()
    for line in proc.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 3 and not line.startswith("#"):
            keys.add(f"{fields[1]} {fields[2]}")
    return keys


def _classify(host: Host, known_hosts: Path) -> list[ScannedKey]:
    address, port = _target(host)
    name = _known_name(address, port)
    known = _known_keys(known_hosts, name)
    known_types = {k.split()[0] for k in known}
    scanned = []
    for entry in _keyscan(host):
        key = " ".join(entry.split()[1:3])
        if key in known:
            status = "known"
        elif key.split()[0] in known_types:
            status = "changed"
        else:
            status = "new"
        scanned.append(ScannedKey(host.name, entry, _fingerprint(entry), status))
    return scanned


def scan(hosts: list[Host], known_hosts: Path | None = None) -> list[ScannedKey]:
    target = known_hosts or paths.known_hosts()
    with ThreadPoolExecutor(max_workers=max(len(hosts), 1)) as pool:
        results = list(pool.map(lambda h: _classify(h, target), hosts))
    return [key for keys in results for key in keys]


def describe(keys: Iterable[ScannedKey]) -> list[str]:
    return [f"{k.status:8} {k.host:12} {k.fingerprint}" for k in keys]


def refuse_changed(keys: Iterable[ScannedKey], known_hosts: Path | None = None) -> None:
    changed = sorted({k.host for k in keys if k.status == "changed"})
    if changed:
        target = known_hosts or paths.known_hosts()
        raise HostKeyError(
            f"the SSH host key of {', '.join(changed)} changed since you trusted it: if you "
            f"reflashed that Pi, remove its old key with `ssh-keygen -R <address> -f {target}` "
            "and run `labctl trust` again; otherwise do not connect to it"
        )


def remember(keys: Iterable[ScannedKey], known_hosts: Path | None = None) -> None:
    target = known_hosts or paths.known_hosts()
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    existing = target.read_text(encoding="utf-8") if target.is_file() else ""
    lines = existing.splitlines() + [k.entry for k in keys if k.entry not in existing]
    atomicfile.write(target, "\n".join(lines) + "\n")
