"""Filters of the preflight role: verdicts too branchy for a Jinja expression.

A verdict is {status: PASS|WARN|FAIL, detail, hint}; the check task file adds the check name
and appends the row. Pure functions of what the snapshot read and the inventory's settings, so
tests/doctor/test_container_runtime_row.py judges every case without a host.
"""

from __future__ import annotations

import re
from typing import Any

#: Kubernetes 1.35 was the last minor to support containerd 1.x: kubelet 1.36 warns about it,
#: 1.37 refuses to run on it.
FIRST_MINOR_WITHOUT_CONTAINERD_1 = (1, 37)
SOURCES = ("docker", "debian")

_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.\d+)?")
_MINOR = re.compile(r"^v?(\d+)\.(\d+)(?:\.\d+)?$")

_DOCKER_INSTALLS = "labctl up's prepare step installs containerd.io 2.x from Docker's repository"
_USE_DOCKER = (
    "remove containerd_source from the inventory (the default, docker, installs containerd.io 2.x"
    " from Docker's repository: labctl up --only prepare)"
)


def containerd_version(output: str | None) -> str:
    """The version in `containerd --version` output ("2.2.1", "1.6.20~ds1"), or "".

    containerd.io:  containerd containerd.io 2.2.1 <commit>
    upstream 2.x:   containerd github.com/containerd/containerd/v2 v2.4.2 <commit>
    Debian:         containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+b1
    """
    tokens = (output or "").split()
    if not tokens or tokens[0] != "containerd":
        return ""
    for token in tokens[1:]:
        if _VERSION.match(token):
            return token.removeprefix("v")
    return ""


def _major(version: str) -> int:
    match = _VERSION.match(version)
    return int(match.group(1)) if match else 0


def _minor(kubernetes_version: Any) -> tuple[int, int] | None:
    match = _MINOR.match(str(kubernetes_version).strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


def container_runtime_verdict(
    output: str | None, source: Any, kubernetes_version: Any, repair_note: str = ""
) -> dict[str, str]:
    """Judge the containerd found (`containerd --version` output, None/"" when not installed)
    against containerd_source and kubernetes_version.

    repair_note is appended to the detail of what this run's prepare step replaces (labctl up
    with prepare: containerd_source docker and no containerd 2.x yet).
    """
    text = " ".join((output or "").split())
    version = containerd_version(text)
    source = str(source if source is not None else "").strip()
    if not text:
        found = "not installed"
    elif version:
        found = f"containerd {version}"
    else:
        found = f"containerd version not recognised ({text[:160]})"

    if source not in SOURCES:
        return {
            "status": "FAIL",
            "detail": f"{found}; containerd_source is {source!r}, neither docker nor debian",
            "hint": (
                "set containerd_source to docker (the default: containerd.io 2.x from Docker's"
                " repository) or debian (the distribution's containerd 1.x, opt-in), or remove it"
            ),
        }
    if version and _major(version) >= 2:
        return {"status": "PASS", "detail": found, "hint": ""}
    if text and not version:
        then = (
            _DOCKER_INSTALLS
            if source == "docker"
            else "containerd_source debian keeps the distribution's containerd"
        )
        return {
            "status": "WARN",
            "detail": f"{found}; {then}",
            "hint": (
                "check `containerd --version` on the node: kubelet 1.37 and newer need"
                " containerd 2.x"
            ),
        }

    # containerd 1.x (or older), or none yet
    if source == "docker":
        replaced = "replaces it with" if text else "installs"
        return {
            "status": "WARN",
            "detail": f"{found}; {_DOCKER_INSTALLS}{repair_note}",
            "hint": (
                f"labctl up (or labctl up --only prepare) {replaced} containerd.io 2.x; kubelet"
                " 1.36 warns about containerd 1.x and 1.37 refuses it"
            ),
        }

    # containerd_source debian: the distribution's containerd, 1.x on Debian bookworm
    ours = (
        f"{found} (containerd_source debian)"
        if text
        else "not installed; containerd_source debian installs the distribution's containerd"
        " (1.x on Debian bookworm)"
    )
    minor = _minor(kubernetes_version)
    if minor is None:
        return {
            "status": "FAIL",
            "detail": (
                f"{ours}; kubernetes_version {kubernetes_version!r} is not a Kubernetes minor"
            ),
            "hint": "set kubernetes_version to a minor such as 1.36 (playbooks/group_vars/all.yml)",
        }
    if minor >= FIRST_MINOR_WITHOUT_CONTAINERD_1:
        return {
            "status": "FAIL",
            "detail": f"{ours}; kubelet {kubernetes_version} refuses containerd 1.x",
            "hint": (
                "remove containerd_source (the default, docker, installs containerd.io 2.x from"
                " Docker's repository) or set kubernetes_version to 1.36 or lower"
            ),
        }
    return {
        "status": "WARN",
        "detail": (
            f"{ours}; Kubernetes 1.35 was the last minor to support containerd 1.x:"
            " kubelet 1.36 warns, 1.37 refuses it"
        ),
        "hint": _USE_DOCKER,
    }


class FilterModule:
    """preflight filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "preflight_containerd_version": containerd_version,
            "preflight_container_runtime": container_runtime_verdict,
        }
