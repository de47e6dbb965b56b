#!/usr/bin/python
"""Read, in one round trip, everything the preflight checks judge on a host.

Each check in tasks/checks/ then only judges this snapshot (kubespray 0040-verify-settings
style), so a doctor run costs a handful of SSH round trips instead of one per file.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: preflight_snapshot
short_description: Read files, units, free disk, listeners and versions for the preflight checks
description:
  - Read-only. Missing files are reported as null, never as an error.
  - Programs in versions run as argv (no shell) with --version; one not on PATH (or rc 127) is null.
options:
  files: {type: list, elements: str, default: [], description: Files to read (text, first 64 KiB).}
  exists: {type: list, elements: str, default: [], description: Paths whose existence is reported.}
  unit_enabled: {type: list, elements: str, default: [], description: Units to ask is-enabled.}
  unit_active: {type: list, elements: str, default: [], description: Units to ask is-active.}
  disk_path: {type: str, default: /var/lib, description: Path whose free space is reported (MB).}
  port: {type: int, description: TCP port whose listeners are reported.}
  versions:
    type: list
    elements: str
    default: []
    description: Programs to run with --version (no shell); a program not found is reported as null.
"""

RETURN = r"""
files: {type: dict, description: "path -> content, or null when missing or unreadable."}
exists: {type: dict, description: "path -> bool."}
unit_enabled: {type: dict, description: "unit -> is-enabled state ('' when unknown)."}
unit_active: {type: dict, description: "unit -> is-active state."}
disk_free_mb: {type: int, description: Free space under disk_path for root, in MB.}
wireless: {type: list, description: Interfaces the kernel reports as wireless.}
memtotal_mb: {type: int, description: "MemTotal in MB (kubeadm's [ERROR Mem] compares this)."}
cpus: {type: int, description: "CPUs this process may use (kubeadm's [ERROR NumCPU] counts these)."}
listeners: {type: list, description: "One line per socket listening on port (ss -ltnp)."}
versions: {type: dict, description: "program -> its --version output, or null when not installed."}
"""

MAX_READ = 65536
#: Searched after the module's own PATH: sudo's secure_path may lack the sbin directories.
PROGRAM_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


def read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read(MAX_READ)
    except OSError:
        return None


def unit_state(verb: str, unit: str) -> str:
    proc = subprocess.run(
        ["systemctl", verb, unit], capture_output=True, text=True, timeout=30, check=False
    )
    return proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""


def listeners(port: int) -> list[str]:
    if shutil.which("ss"):
        proc = subprocess.run(
            ["ss", "-H", "-l", "-t", "-n", "-p", "sport", "=", f":{port}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if proc.returncode == 0:
            return [" ".join(line.split()) for line in proc.stdout.splitlines() if line.strip()]
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in (read(table) or "").splitlines()[1:]:
            fields = line.split()
            if len(fields) > 3 and fields[3] == "0A" and fields[1].endswith(f":{port:04X}"):
                found.append(f"{table}: {fields[1]} LISTEN")
    return found


def program_version(program: str) -> str | None:
    """`<program> --version`, run without a shell; None when the program is not installed.

    A program that is found but answers with an error (or not at all) gives that error as
    text, so the check can say what it saw instead of calling it absent.
    """
    search = os.pathsep.join([os.environ.get("PATH", ""), *PROGRAM_DIRS])
    path = shutil.which(program, path=search)
    if path is None:
        return None
    try:
        proc = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except subprocess.TimeoutExpired:
        return f"{path} --version did not answer within 30 s"
    except OSError as exc:
        return f"{path} --version: {exc}"
    if proc.returncode == 127:
        return None
    output = " ".join((proc.stdout.strip() or proc.stderr.strip()).split())[:400]
    if proc.returncode != 0:
        return f"{path} --version exited {proc.returncode}: {output}"
    return output


def memtotal_mb() -> int:
    for line in (read("/proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return 0


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "files": {"type": "list", "elements": "str", "default": []},
            "exists": {"type": "list", "elements": "str", "default": []},
            "unit_enabled": {"type": "list", "elements": "str", "default": []},
            "unit_active": {"type": "list", "elements": "str", "default": []},
            "disk_path": {"type": "str", "default": "/var/lib"},
            "port": {"type": "int"},
            "versions": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    params = module.params
    try:
        stat = os.statvfs(params["disk_path"])
        disk_free_mb = stat.f_bavail * stat.f_frsize // (1024 * 1024)
    except OSError as exc:
        module.fail_json(msg=f"cannot measure free space under {params['disk_path']}: {exc}")
    try:
        enabled = {u: unit_state("is-enabled", u) for u in params["unit_enabled"]}
        active = {u: unit_state("is-active", u) for u in params["unit_active"]}
    except (OSError, subprocess.TimeoutExpired) as exc:
        module.fail_json(msg=f"cannot ask systemctl: {exc}")
    module.exit_json(
        changed=False,
        files={path: read(path) for path in params["files"]},
        exists={path: os.path.exists(path) for path in params["exists"]},
        unit_enabled=enabled,
        unit_active=active,
        disk_free_mb=disk_free_mb,
        wireless=sorted(p.split("/")[4] for p in glob.glob("/sys/class/net/*/wireless")),
        listeners=listeners(params["port"]) if params["port"] else [],
        memtotal_mb=memtotal_mb(),
        cpus=len(os.sched_getaffinity(0)),
        versions={program: program_version(program) for program in params["versions"]},
    )


if __name__ == "__main__":
    main()
