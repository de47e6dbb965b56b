"""`labctl render NAME`: the objects labctl authors, as multi-document YAML, with no cluster.

The objects come from the same role task files the real runs use (``tasks/objects.yml``),
run through ``playbooks/render.yml`` on the controller only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from labctl.errors import LabctlError
from labctl.runner import RunRequest, run

ADDON_ROLES = {"metallb": "metallb", "ingress-nginx": "ingress_nginx"}


def role_for(name: str) -> str:
    return ADDON_ROLES.get(name, "service_demo")


def render_objects(
    name: str, inventory: Path, extravars: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    role = role_for(name)
    extra: dict[str, Any] = {"render_role": role, **(extravars or {})}
    if role == "service_demo":
        extra["service_demo_name"] = name
    result = run(RunRequest(f"render-{name}", "render.yml", inventory, extravars=extra))
    if not result.ok:
        first = result.failures[0].message if result.failures else result.status
        raise LabctlError(f"render {name} failed: {first} (Ansible's log: {result.artifacts})")
    objects = (result.stats.get("render") or {}).get("objects")
    if not isinstance(objects, list):
        raise LabctlError(f"render {name}: the play published no objects ({result.artifacts})")
    return objects


def to_yaml(objects: Sequence[Mapping[str, Any]]) -> str:
    return yaml.safe_dump_all(list(objects), sort_keys=False, explicit_start=True)
