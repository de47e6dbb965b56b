"""Read an inventory as ``ansible-playbook`` reads it, without running anything from it.

YAML and INI files, and directories of them, are parsed by Ansible's own ``yaml`` and ``ini``
inventory plugins; ``group_vars/`` and ``host_vars/`` beside them are read by Ansible's vars
plugins, and variables are combined in Ansible's order (all, then child groups by depth and
priority, then the host). Only those two plugins are ever used, here and in every run (the
shipped ansible.cfg enables no other): a ``script`` inventory would execute on the laptop.

Nothing here judges the values; :mod:`labctl.inventory` does. Structural slips in a YAML file
(``host:`` for ``hosts:``) are linted first, with the key path and a suggestion, because Ansible
only warns about them and would go on with a group missing.
"""

from __future__ import annotations

import contextlib
import difflib
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labctl import ansiblecfg, yamlfile
from labctl.errors import UsageError

YAML_SUFFIXES = (".yml", ".yaml", ".json")
GROUP_KEYS = ("hosts", "vars", "children")
# Set by Ansible on every group, not by the user.
_SOURCE_VARS = frozenset({"inventory_file", "inventory_dir"})


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the inventory: where (a key path or a host) and what to do."""

    where: str
    message: str


@dataclass(frozen=True)
class Parsed:
    """The inventory as Ansible resolves it. ``vars`` hold only what the user set."""

    path: Path
    members: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    children: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    host_vars: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    group_vars: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()

    def vars_of(self, *groups: str) -> dict[str, Any]:
        """The variables these groups give their hosts, later groups winning."""
        merged: dict[str, Any] = {}
        for group in groups:
            merged.update(self.group_vars.get(group, {}))
        return merged


def read(path: Path) -> Parsed:
    """Parse ``path`` (a file or a directory); structural problems come back in ``problems``."""
    ansiblecfg.pin_in_process()
    sources = _sources(path)
    problems = [p for source in sources for p in _lint(source, path.is_dir())]
    if problems or not sources:
        if not sources:
            problems.append(Problem("", "no inventory file in this folder (*.yml or INI)"))
        return Parsed(path, problems=tuple(problems))
    return _resolve(path, sources)


def _sources(path: Path) -> list[Path]:
    """The file itself, or a folder's files as Ansible picks them (its ignored extensions)."""
    if not path.is_dir():
        return [path]
    from ansible import constants

    ignored = tuple(constants.INVENTORY_IGNORE_EXTS)
    return [
        p
        for p in sorted(path.iterdir())
        if p.is_file() and not p.name.startswith(".") and not p.name.endswith(ignored)
    ]


def _is_yaml(path: Path) -> bool:
    return path.suffix in YAML_SUFFIXES


def _lint(path: Path, in_folder: bool) -> list[Problem]:
    """The structure of a YAML inventory file; an INI file is left to Ansible's parser."""
    label = path.name if in_folder else ""
    with contextlib.suppress(OSError):  # a missing file is check_file's to report
        if path.is_file() and path.stat().st_mode & 0o111:
            return [
                Problem(
                    label,
                    "the inventory file is executable: Ansible would take it for a script to "
                    "run, labctl reads inventories as data only; `chmod -x` it",
                )
            ]
    try:
        if not _is_yaml(path):  # Ansible's ini plugin reads it; only its size and kind here
            yamlfile.check_file(path, "inventory", "check the file")
            return []
        data = yamlfile.read(path, "inventory", "check the file")
    except UsageError as exc:  # the YAML syntax error, with its line
        where, _, message = str(exc).partition(": ")
        if where != str(path) and not where.startswith(f"{path}:"):  # a path with ": " in it
            where, message = str(path), str(exc).removeprefix(f"{path}: ")
        line = where.removeprefix(str(path)).lstrip(":")
        at = f"line {line}" if line else ""
        return [Problem(": ".join(x for x in (label, at) if x), message)]
    if data is None:
        return [Problem(label, "the inventory is empty: run `labctl init --force` to rewrite it")]
    if not isinstance(data, dict):
        return [
            Problem(
                label,
                "the inventory must be a YAML mapping of groups (all: / lab:), "
                f"not a {type(data).__name__}: see `labctl init` for the layout",
            )
        ]
    return [Problem(f"{label}: {where}" if label else where, msg) for where, msg in _walk_all(data)]


def _walk_all(data: Mapping[Any, Any]) -> Iterator[tuple[str, str]]:
    for top, body in data.items():
        yield from _walk(body, str(top))


def _walk(body: Any, where: str) -> Iterator[tuple[str, str]]:
    if body is None:
        return
    if not isinstance(body, dict):
        yield where, f"a group must be a mapping with {', '.join(GROUP_KEYS)}"
        return
    for key in body:
        if key not in GROUP_KEYS:
            yield f"{where}.{key}", f"unknown key{suggest(str(key), GROUP_KEYS, 0.6)}"
    hosts = body.get("hosts") or {}
    if not isinstance(hosts, dict):
        yield f"{where}.hosts", "must be a mapping of host names to their settings"
    else:
        for host, hvars in hosts.items():
            if hvars is not None and not isinstance(hvars, dict):
                yield (
                    f"{where}.hosts.{host}",
                    "host settings must be a mapping (e.g. ansible_host: ...)",
                )
    gvars = body.get("vars")
    if gvars is not None and not isinstance(gvars, dict):
        yield f"{where}.vars", "must be a mapping of settings"
    kids = body.get("children") or {}
    if not isinstance(kids, dict):
        yield f"{where}.children", "must be a mapping of group names"
        return
    for child, cbody in kids.items():
        yield from _walk(cbody, f"{where}.children.{child}")


def suggest(word: str, choices: tuple[str, ...] | list[str], cutoff: float = 0.8) -> str:
    """``: did you mean 'x'?``, or (below the cutoff) the list of choices."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=cutoff)
    return f": did you mean '{close[0]}'?" if close else f": expected one of {', '.join(choices)}"


def _resolve(path: Path, sources: list[Path]) -> Parsed:
    from ansible.inventory.data import InventoryData
    from ansible.inventory.helpers import sort_groups
    from ansible.parsing.dataloader import DataLoader
    from ansible.utils.vars import combine_vars
    from ansible.vars.plugins import get_vars_from_inventory_sources

    loader = DataLoader()
    data = InventoryData()
    problems = [p for source in sources for p in _parse(source, data, loader)]
    if problems:
        return Parsed(path, problems=tuple(problems))
    data.reconcile_inventory()
    names = [str(path)]

    def plugin_vars(entity: Any) -> dict[str, Any]:
        return get_vars_from_inventory_sources(loader, names, [entity], "task") or {}

    group_vars = {
        name: _user(combine_vars(group.vars, plugin_vars(group)))
        for name, group in data.groups.items()
    }
    host_vars: dict[str, dict[str, Any]] = {}
    for name, host in data.hosts.items():
        resolved: dict[str, Any] = {}
        for group in sort_groups(host.get_groups()):
            resolved = combine_vars(resolved, group_vars[group.name])
        resolved = combine_vars(resolved, host.vars)
        host_vars[name] = _user(combine_vars(resolved, plugin_vars(host)))
    return Parsed(
        path,
        members={n: tuple(h.name for h in g.get_hosts()) for n, g in data.groups.items()},
        children={n: tuple(c.name for c in g.child_groups) for n, g in data.groups.items()},
        host_vars=host_vars,
        group_vars=group_vars,
    )


def _user(values: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in values.items() if k not in _SOURCE_VARS}


def _parse(source: Path, data: Any, loader: Any) -> list[Problem]:
    """Parse one file with the one plugin its name calls for; a failure is a Problem."""
    from ansible.plugins.loader import inventory_loader

    plugin = inventory_loader.get("yaml" if _is_yaml(source) else "ini")
    warnings = io.StringIO()
    try:
        with contextlib.redirect_stderr(warnings):
            plugin.parse(data, loader, str(source.absolute()), cache=False)
    except Exception as exc:  # AnsibleParserError and friends: the parser's own reason
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        kind = "YAML" if _is_yaml(source) else "INI"
        return [
            Problem(
                source.name,
                f"Ansible cannot read this {kind} inventory ({reason}): fix that line, "
                "or give the file a .yml name if it is YAML",
            )
        ]
    return [
        Problem(source.name, f"{line.removeprefix('[WARNING]: ')}: fix the inventory")
        for line in warnings.getvalue().splitlines()
        if line.strip()
    ]
