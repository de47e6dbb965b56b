"""The cluster add-ons labctl installs: one table for `render`, `status` and the pinned-manifest
pipeline (labctl.manifests).

The roles hold what each add-on installs; this table holds only how labctl names and finds
them: the command-line name, the role, and the Deployment whose availability says it is ready.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Addon:
    name: str  # on the command line (labctl render NAME)
    role: str  # the role under roles/, also the prefix of its variables
    namespace: str
    deployment: str  # available replicas > 0 means ready
    upstream: bool  # a pinned upstream manifest (<role>_releases, <role>_version)
    ingress: bool = False  # one of the choices of ingress_controller


ADDONS: tuple[Addon, ...] = (
    Addon("metallb", "metallb", "metallb-system", "controller", upstream=True),
    Addon(
        "ingress-nginx",
        "ingress_nginx",
        "ingress-nginx",
        "ingress-nginx-controller",
        upstream=True,
        ingress=True,
    ),
    Addon("traefik", "traefik", "traefik", "traefik", upstream=False, ingress=True),
)
INGRESS_CONTROLLERS: tuple[str, ...] = tuple(a.name for a in ADDONS if a.ingress)
# playbooks/group_vars/all.yml derives lab_ingress_controller with the same default.
DEFAULT_INGRESS = "ingress-nginx"


def upstream_names() -> tuple[str, ...]:
    return tuple(a.name for a in ADDONS if a.upstream)


def chosen(lab_vars: Mapping[str, Any]) -> tuple[Addon, ...]:
    """The add-ons `labctl up` installs with these lab vars: MetalLB and the ingress controller."""
    ingress = str(lab_vars.get("ingress_controller") or DEFAULT_INGRESS)
    return tuple(a for a in ADDONS if not a.ingress or a.name == ingress)


def ingress_problem(lab_vars: Mapping[str, Any]) -> str | None:
    value = lab_vars.get("ingress_controller")
    if value is None or value in INGRESS_CONTROLLERS:
        return None
    choices = " or ".join(INGRESS_CONTROLLERS)
    return f"{value!r} is not an ingress controller labctl installs: choose {choices}"
