"""Find, load and validate the lab inventory, before any play runs.

Every problem is reported as one line naming the file, the key and the fix
(:class:`~labctl.errors.UsageError`, exit 2). Nothing here contacts a host.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labctl import paths, yamlfile
from labctl.errors import UsageError

GROUP_KEYS = ("hosts", "vars", "children")
NODEPORT_RANGE = range(30000, 32768)
# Settings that ship with labctl in playbooks/group_vars/all.yml. Ansible lets those beat
# `all: vars:` of an inventory, so a value put there would be silently ignored.
PROJECT_DEFAULTS_FILE = Path("playbooks") / "group_vars" / "all.yml"


@dataclass(frozen=True)
class Host:
    name: str
    address: ipaddress.IPv4Address
    groups: tuple[str, ...]
    vars: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Inventory:
    path: Path
    hosts: Mapping[str, Host]
    lab_vars: Mapping[str, Any]
    subnet: ipaddress.IPv4Network
    pool: tuple[ipaddress.IPv4Network, ...]

    def group(self, name: str) -> list[Host]:
        return [h for h in self.hosts.values() if name in h.groups]

    @property
    def master(self) -> Host:
        return self.group("master")[0]

    @property
    def workers(self) -> list[Host]:
        return self.group("workers")

    @property
    def nfs(self) -> Host | None:
        found = self.group("nfs")
        return found[0] if found else None


def find(explicit: str | None = None, cwd: Path | None = None) -> Path:
    """Resolve the inventory: ``-i``, ``LABCTL_INVENTORY``, ``./inventory/hosts.yml``, init's."""
    if explicit:
        return _existing(Path(explicit).expanduser(), "-i")
    env = os.environ.get("LABCTL_INVENTORY")
    if env:
        return _existing(Path(env).expanduser(), "LABCTL_INVENTORY")
    local = (cwd or Path.cwd()) / "inventory" / "hosts.yml"
    if local.is_file():
        return local
    written = paths.init_inventory()
    if written.is_file():
        return written
    raise UsageError(
        "no inventory found (no -i, no LABCTL_INVENTORY, no ./inventory/hosts.yml, "
        f"nothing at {written}): run `labctl init` to write the chapter's lab, then edit it"
    )


def _existing(path: Path, source: str) -> Path:
    if not path.is_file():
        raise UsageError(f"{path}: inventory file not found (from {source}): check the path")
    return path


def load(path: Path, known_settings: frozenset[str] | None = None) -> Inventory:
    """Parse and validate ``path``; raise :class:`UsageError` on the first problem."""
    data = _read_yaml(path)
    return _Validator(path, data, known_settings or frozenset()).inventory()


def _read_yaml(path: Path) -> dict[str, Any]:
    data = yamlfile.read(path, "inventory", "check the file")
    if data is None:
        raise UsageError(f"{path}: the inventory is empty: run `labctl init --force` to rewrite it")
    if not isinstance(data, dict):
        raise UsageError(
            f"{path}: the inventory must be a YAML mapping of groups (all: / lab:), "
            f"not a {type(data).__name__}: see `labctl init` for the layout"
        )
    return data


class _Validator:
    def __init__(self, path: Path, data: dict[str, Any], known: frozenset[str]) -> None:
        self.path = path
        self.data = data
        self.known = known
        self.groups: dict[str, list[str]] = {}
        self.host_vars: dict[str, dict[str, Any]] = {}
        self.group_vars: dict[str, dict[str, Any]] = {}
        self.children: dict[str, list[str]] = {}

    def fail(self, key: str, message: str) -> UsageError:
        return UsageError(f"{self.path}: {key}: {message}")

    # -- structure -------------------------------------------------------------------
    def walk(self, name: str, body: Any, where: str) -> None:
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise self.fail(where, f"a group must be a mapping with {', '.join(GROUP_KEYS)}")
        for key in body:
            if key not in GROUP_KEYS:
                raise self.fail(f"{where}.{key}", f"unknown key{_suggest(str(key), GROUP_KEYS)}")
        hosts = body.get("hosts") or {}
        if not isinstance(hosts, dict):
            raise self.fail(f"{where}.hosts", "must be a mapping of host names to their settings")
        members = self.groups.setdefault(name, [])
        for host, hvars in hosts.items():
            hkey = f"{where}.hosts.{host}"
            if hvars is None:
                hvars = {}
            if not isinstance(hvars, dict):
                raise self.fail(hkey, "host settings must be a mapping (e.g. ansible_host: ...)")
            if str(host) in members:
                raise self.fail(hkey, "host listed twice in this group: remove one entry")
            members.append(str(host))
            merged = self.host_vars.setdefault(str(host), {})
            merged.update(hvars)
        gvars = body.get("vars") or {}
        if not isinstance(gvars, dict):
            raise self.fail(f"{where}.vars", "must be a mapping of settings")
        self.group_vars[name] = gvars
        kids = body.get("children") or {}
        if not isinstance(kids, dict):
            raise self.fail(f"{where}.children", "must be a mapping of group names")
        self.children[name] = [str(k) for k in kids]
        for child, cbody in kids.items():
            self.walk(str(child), cbody, f"{where}.children.{child}")

    def members(self, group: str) -> list[str]:
        seen = list(self.groups.get(group, []))
        for child in self.children.get(group, []):
            seen += [h for h in self.members(child) if h not in seen]
        return seen

    # -- checks ------------------------------------------------------------------------
    def inventory(self) -> Inventory:
        for top, body in self.data.items():
            self.walk(str(top), body, str(top))
        lab_where = "all.children.lab" if "all" in self.data else "lab"
        if "lab" not in self.groups:
            raise self.fail(lab_where, "missing group 'lab' (with children master, workers, nfs)")
        for required in ("master", "workers"):
            if required not in self.members_tree("lab"):
                raise self.fail(
                    f"{lab_where}.children.{required}",
                    f"missing group '{required}' under 'lab': add it (see `labctl init`)",
                )
        masters, workers = self.members("master"), self.members("workers")
        nfs = self.members("nfs") if "nfs" in self.groups else []
        if len(masters) != 1:
            raise self.fail(
                f"{lab_where}.children.master",
                f"needs exactly one host, found {len(masters)}: keep one control-plane Pi",
            )
        if not workers:
            raise self.fail(f"{lab_where}.children.workers", "needs at least one worker Pi")
        if len(nfs) > 1:
            raise self.fail(f"{lab_where}.children.nfs", "at most one NFS node, found several")
        for host in masters:
            if host in workers:
                raise self.fail(host, "is both master and worker: list it under one group only")
        lab_vars = self.lab_vars()
        self.check_all_vars()
        self.check_settings(lab_vars, f"{lab_where}.vars")
        subnet = self.subnet(lab_vars, lab_where)
        hosts = self.hosts(masters + workers + nfs, subnet)
        pool = self.pool(lab_vars, lab_where, subnet, hosts)
        self.check_nodeports(lab_vars, f"{lab_where}.vars")
        self.check_versions(lab_vars, f"{lab_where}.vars")
        self.check_ingress(lab_vars, f"{lab_where}.vars")
        return Inventory(self.path, hosts, lab_vars, subnet, pool)

    def members_tree(self, group: str) -> set[str]:
        found: set[str] = set()
        for child in self.children.get(group, []):
            found |= {child} | self.members_tree(child)
        return found

    def lab_vars(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for group in ("all", "lab"):
            merged.update(self.group_vars.get(group, {}))
        return merged

    def check_all_vars(self) -> None:
        shipped = _project_defaults()
        for key in self.group_vars.get("all", {}):
            if key in shipped:
                raise self.fail(
                    f"all.vars.{key}",
                    "labctl's own default wins over `all: vars:`; move it under `lab: vars:`",
                )

    def check_settings(self, lab_vars: Mapping[str, Any], where: str) -> None:
        if not self.known:
            return
        for key in lab_vars:
            name = str(key)
            if name in self.known or name.startswith("ansible_"):
                continue
            close = difflib.get_close_matches(name, sorted(self.known), n=1, cutoff=0.8)
            if close:
                raise self.fail(f"{where}.{name}", f"unknown setting: did you mean '{close[0]}'?")

    def subnet(self, lab_vars: Mapping[str, Any], lab_where: str) -> ipaddress.IPv4Network:
        key = f"{lab_where}.vars.lab_subnet"
        raw = lab_vars.get("lab_subnet")
        if raw is None:
            raise self.fail(key, "missing: set the lab's subnet, e.g. lab_subnet: 192.168.3.0/24")
        if not isinstance(raw, str):
            raise self.fail(key, f"must be a CIDR string like 192.168.3.0/24, not {raw!r}")
        try:
            return ipaddress.IPv4Network(raw, strict=True)
        except ValueError as exc:
            hint = ""
            try:
                loose = ipaddress.IPv4Network(raw, strict=False)
                hint = f"; did you mean {_likely_network(raw, loose)}?"
            except ValueError:
                pass
            raise self.fail(key, f"invalid CIDR {raw!r} ({exc}){hint}") from None

    def hosts(self, names: list[str], subnet: ipaddress.IPv4Network) -> dict[str, Host]:
        hosts: dict[str, Host] = {}
        owners: dict[ipaddress.IPv4Address, str] = {}
        for name in names:
            key = f"{name}.ansible_host"
            hvars = self.host_vars.get(name, {})
            raw = hvars.get("ansible_host")
            if raw is None:
                raise self.fail(key, "missing: give the Pi's fixed IPv4 address")
            try:
                address = ipaddress.IPv4Address(str(raw))
            except ValueError:
                raise self.fail(
                    key, f"{raw!r} is not an IPv4 address: use the Pi's fixed address"
                ) from None
            if address in owners:
                raise self.fail(
                    key, f"{address} is also {owners[address]}'s: addresses must differ"
                )
            if address not in subnet:
                raise self.fail(key, f"{address} is outside lab_subnet {subnet}: fix one of them")
            port = hvars.get("ansible_port")
            if port is not None and not (isinstance(port, int) and 0 < port < 65536):
                raise self.fail(f"{name}.ansible_port", f"{port!r} is not a TCP port (1-65535)")
            owners[address] = name
            groups = tuple(g for g in ("master", "workers", "nfs") if name in self.members(g))
            hosts[name] = Host(name, address, groups, hvars)
        return hosts

    def pool(
        self,
        lab_vars: Mapping[str, Any],
        lab_where: str,
        subnet: ipaddress.IPv4Network,
        hosts: Mapping[str, Host],
    ) -> tuple[ipaddress.IPv4Network, ...]:
        key = f"{lab_where}.vars.metallb_addresses"
        raw = lab_vars.get("metallb_addresses")
        if raw is None:
            raise self.fail(
                key, "missing: give MetalLB a free range, e.g. [192.168.3.100-192.168.3.200]"
            )
        if isinstance(raw, str) or not isinstance(raw, list) or not raw:
            raise self.fail(key, f"must be a YAML list of ranges or CIDRs, e.g. - {raw}")
        nets: list[ipaddress.IPv4Network] = []
        for entry in raw:
            nets += self.pool_entry(str(entry), key)
        for net in nets:
            if not net.subnet_of(subnet):
                raise self.fail(
                    key, f"{net} lies outside lab_subnet {subnet}: pick free addresses in the lab"
                )
            for host in hosts.values():
                if host.address in net:
                    raise self.fail(
                        key,
                        f"{host.address} ({host.name}) is inside the MetalLB pool: the pool must "
                        "hold only free addresses, outside the nodes and the router's DHCP range",
                    )
        return tuple(nets)

    def pool_entry(self, entry: str, key: str) -> list[ipaddress.IPv4Network]:
        try:
            if "-" in entry:
                first, last = (ipaddress.IPv4Address(p.strip()) for p in entry.split("-", 1))
                if last < first:
                    raise self.fail(key, f"{entry}: the range ends before it starts: swap them")
                return list(ipaddress.summarize_address_range(first, last))
            return [ipaddress.IPv4Network(entry, strict=True)]
        except ValueError as exc:
            raise self.fail(
                key, f"{entry!r} is not a range (a.b.c.d-a.b.c.e) or a CIDR ({exc})"
            ) from None

    def check_versions(self, lab_vars: Mapping[str, Any], where: str) -> None:
        from labctl import manifests

        try:
            manifests.validate_versions(lab_vars)
        except UsageError as exc:
            raise self.fail(where, str(exc)) from None

    def check_ingress(self, lab_vars: Mapping[str, Any], where: str) -> None:
        from labctl import addons

        problem = addons.ingress_problem(lab_vars)
        if problem:
            raise self.fail(f"{where}.ingress_controller", problem)

    def check_nodeports(self, lab_vars: Mapping[str, Any], where: str) -> None:
        for name, value in nodeport_settings(lab_vars):
            if not isinstance(value, int) or isinstance(value, bool):
                raise self.fail(f"{where}.{name}", f"must be a whole number, not {value!r}")
            if value not in NODEPORT_RANGE:
                raise self.fail(
                    f"{where}.{name}",
                    f"{value} is outside the NodePort range 30000-32767: pick a port in it",
                )


def nodeport_settings(lab_vars: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for name, value in lab_vars.items():
        lowered = str(name).lower()
        if lowered.endswith(("nodeport", "node_port")):
            yield str(name), value


def _suggest(word: str, choices: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f": did you mean '{close[0]}'?" if close else f": expected one of {', '.join(choices)}"


def _likely_network(raw: str, loose: ipaddress.IPv4Network) -> str:
    """For 192.168.3.0/8 the likely intent is 192.168.3.0/24, not 192.0.0.0/8."""
    address = raw.split("/", 1)[0]
    octets = address.split(".")
    while octets and octets[-1] == "0":
        octets.pop()
    guess = ipaddress.IPv4Network(f"{address}/{8 * len(octets)}", strict=False)
    return str(guess) if guess.network_address == ipaddress.IPv4Address(address) else str(loose)


def _project_defaults() -> frozenset[str]:
    shipped = yamlfile.shipped_mapping(paths.ansible_root() / PROJECT_DEFAULTS_FILE)
    return frozenset(str(k) for k in shipped)


def known_settings() -> frozenset[str]:
    """Every variable documented in the roles' argument_specs, plus labctl's own defaults."""
    names: set[str] = set(_project_defaults()) | {"lab_subnet"}
    roles = paths.ansible_root() / "roles"
    for spec in sorted(roles.glob("*/meta/argument_specs.yml")):
        data = yamlfile.shipped_mapping(spec)
        for entry in (data.get("argument_specs") or {}).values():
            names.update(str(k) for k in (entry or {}).get("options") or {})
    return frozenset(names)
