"""The lab's kubeconfig on the laptop: where it is, and merging it into ``~/.kube/config``.

The file ``labctl up`` fetched is the cluster's admin credential. Its contents are never
printed; every file written here is mode 0600, and a merge keeps a 0600 backup.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from labctl import atomicfile, paths
from labctl.errors import LabctlError, UsageError

CONTEXT_PREFIX = "labctl-"


def require(path: Path | None = None) -> Path:
    """The fetched kubeconfig, or bad input (exit 2, before any host): ``up`` has not run."""
    found = path or paths.kubeconfig()
    if not found.is_file():
        raise UsageError(
            f"no kubeconfig at {found}: run `labctl up` first (it fetches the lab's "
            "kubeconfig from the master)"
        )
    return found


@dataclass(frozen=True)
class Merged:
    target: Path
    context: str
    backup: Path | None
    replaced: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "merged_into": str(self.target),
            "context": self.context,
            "backup": str(self.backup) if self.backup else None,
            "replaced_own_context": self.replaced,
        }


def default_target() -> Path:
    return Path.home() / ".kube" / "config"


def merge(source: Path, target: Path) -> Merged:
    """Add the lab to ``target`` as context ``labctl-<cluster>``; never touch another context.

    The lab's cluster, user and context entries all take that name, so a re-merge (after a
    reset, with new certificates) replaces only what an earlier merge added. The current
    context is left as it was.
    """
    lab = _read(source, "the lab's kubeconfig")
    cluster, user = _only(lab, "clusters", source), _only(lab, "users", source)
    name = CONTEXT_PREFIX + str(cluster.get("name") or "kubernetes")
    existing = _read(target, "your kubeconfig") if target.is_file() else {}
    context = {"name": name, "context": {"cluster": name, "user": name}}
    merged = dict(existing) or {"apiVersion": "v1", "kind": "Config", "preferences": {}}
    replaced = False
    for section, entry in (
        ("clusters", {**cluster, "name": name}),
        ("users", {**user, "name": name}),
        ("contexts", context),
    ):
        entries = list(merged.get(section) or [])
        replaced |= any(e.get("name") == name for e in entries if isinstance(e, dict))
        merged[section] = [
            e for e in entries if not (isinstance(e, dict) and e.get("name") == name)
        ]
        merged[section].append(entry)
    backup = _backup(target) if target.is_file() else None
    atomicfile.write(target, yaml.safe_dump(merged, sort_keys=False))
    return Merged(target, name, backup, replaced)


def _read(path: Path, what: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise LabctlError(
            f"{path}: cannot read {what} ({type(exc).__name__}): fix or move it"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise LabctlError(f"{path}: {what} is not a kubeconfig mapping: fix or move it")
    return data


def _only(config: dict[str, Any], section: str, path: Path) -> dict[str, Any]:
    entries = config.get(section) or []
    if len(entries) != 1 or not isinstance(entries[0], dict):
        raise LabctlError(
            f"{path}: expected one entry under {section}, found {len(entries)}: "
            "run `labctl up` again to fetch a fresh kubeconfig"
        )
    body_key = section[:-1]  # clusters -> cluster, users -> user
    return {"name": entries[0].get("name"), body_key: entries[0].get(body_key) or {}}


def _backup(target: Path) -> Path:
    backup = target.with_name(f"{target.name}.labctl-backup-{time.strftime('%Y%m%d-%H%M%S')}")
    atomicfile.write(backup, target.read_text(encoding="utf-8"))
    return backup
