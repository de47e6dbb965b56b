"""`labctl render NAME`: the objects labctl authors, as multi-document YAML, with no cluster.

The objects come from the same role task files the real runs use (``tasks/objects.yml``),
run through ``playbooks/render.yml`` on the controller only.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from labctl.addons import ADDONS, upstream_names
from labctl.errors import LabctlError, UsageError
from labctl.runner import RunRequest, run

ADDON_ROLES = {a.name: a.role for a in ADDONS}


def names(catalogue: Path | None = None) -> list[str]:
    """Every name `labctl render` knows: the demos of the catalogue, then the add-ons."""
    from labctl import catalogue as demos

    return [*demos.load(catalogue).names(), *ADDON_ROLES]


def extravars(name: str, addon_version: str | None, catalogue: Path | None) -> dict[str, Any]:
    """Variables for the render play; an unknown add-on version is bad input (exit 2)."""
    extra: dict[str, Any] = {}
    if catalogue is not None:
        extra["service_demo_catalogue"] = str(catalogue.resolve())
    if addon_version is not None:
        if name not in upstream_names():
            raise UsageError(
                f"--addon-version applies to pinned add-ons only ({', '.join(upstream_names())})"
            )
        from labctl import manifests

        role, prefix = manifests.ADDONS[name]
        chosen, _ = manifests.release(manifests.role_defaults(role), prefix, addon_version)
        extra[f"{prefix}_version"] = chosen
    return extra


def upstream(
    name: str, version: str | None, arch: str, authored: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The fetched, transformed upstream manifest, then labctl's own objects not already in it."""
    from labctl import manifests

    return manifests.combine(manifests.upstream_objects(name, version, arch), list(authored))


def role_for(name: str) -> str:
    return ADDON_ROLES.get(name, "service_demo")


def render_objects(
    name: str, inventory: Path, extravars: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    role = role_for(name)
    extra: dict[str, Any] = {"render_role": role, **(extravars or {})}
    if role == "service_demo":
        extra["service_demo_name"] = name
    request = RunRequest(f"render-{name}", "render.yml", inventory, extravars=extra, keep_run=False)
    result = run(request)
    if not result.ok:
        first = result.failures[0].message if result.failures else result.status
        raise LabctlError(f"render {name} failed: {first} (Ansible's log: {result.artifacts})")
    objects = (result.stats.get("render") or {}).get("objects")
    if not isinstance(objects, list):
        raise LabctlError(f"render {name}: the play published no objects ({result.artifacts})")
    return objects


LB_ANNOTATIONS = ("metallb.io/loadBalancerIPs", "metallb.universe.tf/loadBalancerIPs")


def outside_pool(
    objects: Sequence[Mapping[str, Any]], pool: Sequence[ipaddress.IPv4Network]
) -> list[str]:
    """One warning per LoadBalancer Service that asks for an address MetalLB cannot give."""
    warnings = []
    for obj in objects:
        spec = obj.get("spec") or {}
        if obj.get("kind") != "Service" or spec.get("type") != "LoadBalancer":
            continue
        notes = (obj.get("metadata") or {}).get("annotations") or {}
        asked = {str(spec["loadBalancerIP"])} if spec.get("loadBalancerIP") else set()
        for key in LB_ANNOTATIONS:
            asked |= {a.strip() for a in str(notes.get(key) or "").split(",") if a.strip()}
        for address in sorted(asked):
            try:
                inside = any(ipaddress.ip_address(address) in net for net in pool)
            except ValueError:
                inside = False
            if not inside:
                name = (obj.get("metadata") or {}).get("name")
                warnings.append(
                    f"Service {name} asks for {address}, outside metallb_addresses: MetalLB "
                    "will leave it pending; set service_demo_lb_address inside the pool, or "
                    "remove it so it follows the pool"
                )
    return warnings


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (a ConfigMap's config, an index page) print as literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def to_yaml(objects: Sequence[Mapping[str, Any]]) -> str:
    return yaml.dump_all(
        list(objects), Dumper=_Dumper, sort_keys=False, explicit_start=True, width=100
    )
