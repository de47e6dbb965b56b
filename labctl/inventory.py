"""Find, load and validate the lab inventory, before any play runs.

:mod:`labctl.inventory_read` reads it as Ansible does; the rules here judge the result.
Every problem is reported, one line each naming the file, the key and the fix
(:class:`InventoryError`, exit 2). Nothing here contacts a host.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labctl import inventory_read, paths, yamlfile
from labctl.errors import UsageError
from labctl.inventory_read import Problem

NODEPORT_RANGE = range(30000, 32768)
DNS_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
MIN_SUBNET_PREFIX = 8
# SSH settings an inventory may not hold: they switch host-key checking off, swap the
# known_hosts files labctl pins, or name a program for ssh to run on the laptop.
REFUSED_SETTINGS = frozenset(
    {
        "ansible_host_key_checking",
        "ansible_ssh_host_key_checking",
        "ansible_ssh_executable",
        "ansible_scp_executable",
        "ansible_sftp_executable",
        "ansible_ssh_args",
    }
)
SSH_CONNECTIONS = ("ssh", "ansible.builtin.ssh")
SSH_OPTION_SETTINGS = (
    "ansible_ssh_common_args",
    "ansible_ssh_extra_args",
    "ansible_scp_extra_args",
    "ansible_sftp_extra_args",
)
REFUSED_SSH_OPTIONS = re.compile(
    r"StrictHostKeyChecking|UserKnownHostsFile|GlobalKnownHostsFile|KnownHostsCommand|"
    r"ProxyCommand|LocalCommand|PermitLocalCommand|RemoteCommand|Match|Include|"
    r"(^|\s)-F(\s|$)",
    re.IGNORECASE,
)
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


@dataclass(frozen=True)
class Found:
    """The inventory a command uses, why that one, and any other file it shadows."""

    path: Path
    reason: str
    shadowed: Path | None = None

    def line(self) -> str:
        """``inventory: <path> (<why>)``, printed on stderr by every command that reads one."""
        text = f"inventory: {self.path} ({self.reason})"
        if self.shadowed is not None:
            text += (
                f"; {self.shadowed} (from `labctl init`) differs and is NOT used: "
                "pass -i or set LABCTL_INVENTORY to choose"
            )
        return text


class InventoryError(UsageError):
    """Every problem found in the inventory, one line each (exit 2)."""

    def __init__(self, path: Path, problems: list[Problem]) -> None:
        self.problems = problems
        lines = [_line(path, p) for p in problems]
        super().__init__("\n".join(dict.fromkeys(lines)))


def _line(path: Path, problem: Problem) -> str:
    return (
        f"{path}: {problem.where}: {problem.message}"
        if problem.where
        else f"{path}: {problem.message}"
    )


def find(explicit: str | None = None, cwd: Path | None = None) -> Found:
    """Resolve the inventory: ``-i``, ``LABCTL_INVENTORY``, ``./inventory/hosts.yml``, init's."""
    if explicit:
        return Found(_existing(Path(explicit).expanduser(), "-i"), "from -i")
    env = os.environ.get("LABCTL_INVENTORY")
    if env:
        return Found(_existing(Path(env).expanduser(), "LABCTL_INVENTORY"), "from LABCTL_INVENTORY")
    local = (cwd or Path.cwd()) / "inventory" / "hosts.yml"
    written = paths.init_inventory()
    if local.is_file():
        shadowed = written if written.is_file() and _differ(local, written) else None
        return Found(local, "./inventory/hosts.yml in this folder", shadowed)
    if written.is_file():
        return Found(written, "written by `labctl init`")
    raise UsageError(
        "no inventory found (no -i, no LABCTL_INVENTORY, no ./inventory/hosts.yml, "
        f"nothing at {written}): run `labctl init` to write the chapter's lab, then edit it"
    )


def _differ(one: Path, other: Path) -> bool:
    try:
        return one.read_bytes() != other.read_bytes()
    except OSError:
        return True


def _existing(path: Path, source: str) -> Path:
    try:
        exists = path.exists()
    except OSError as exc:  # a name too long, a folder that cannot be searched
        raise UsageError(f"{path}: cannot use this inventory path ({exc.strerror})") from None
    if not exists:
        raise UsageError(f"{path}: inventory not found (from {source}): check the path")
    if not (path.is_file() or path.is_dir()):
        raise UsageError(
            f"{path}: the inventory must be a file or a folder of files, not a device or "
            f"a pipe (from {source})"
        )
    return path


def load(path: Path, known_settings: frozenset[str] | None = None) -> Inventory:
    """Read ``path`` as Ansible does and apply labctl's rules; raise every problem at once."""
    parsed = inventory_read.read(path)
    if parsed.problems:
        raise InventoryError(path, list(parsed.problems))
    checker = _Rules(parsed, known_settings or frozenset())
    inv = checker.inventory()
    if checker.problems or inv is None:
        raise InventoryError(path, checker.problems)
    return inv


class _Rules:
    """labctl's rules on the resolved inventory; each broken rule adds a Problem."""

    def __init__(self, parsed: inventory_read.Parsed, known: frozenset[str]) -> None:
        self.parsed = parsed
        self.known = known
        self.problems: list[Problem] = []

    def fail(self, where: str, message: str) -> None:
        self.problems.append(Problem(where, message))

    def members(self, group: str) -> list[str]:
        return list(self.parsed.members.get(group, ()))

    def members_tree(self, group: str) -> set[str]:
        found: set[str] = set()
        for child in self.parsed.children.get(group, ()):
            found |= {child} | self.members_tree(child)
        return found

    # -- checks ------------------------------------------------------------------------
    def inventory(self) -> Inventory | None:
        names = self.groups()
        lab_vars = self.parsed.vars_of("all", "lab")
        self.check_all_vars()
        self.check_data(lab_vars)
        self.check_settings(lab_vars)
        subnet = self.subnet(lab_vars)
        hosts = self.hosts(names, subnet)
        pool = self.pool(lab_vars, subnet, hosts) if subnet is not None else ()
        self.check_nodeports(lab_vars)
        self.check_versions(lab_vars)
        self.check_ingress(lab_vars)
        if self.problems or subnet is None:
            return None
        return Inventory(self.parsed.path, hosts, lab_vars, subnet, pool)

    def groups(self) -> list[str]:
        """The master, workers and NFS node, in that order (the group rules checked)."""
        if "lab" not in self.parsed.members:
            self.fail("lab", "missing group 'lab' (with children master, workers, nfs)")
            return []
        tree = self.members_tree("lab")
        for required in ("master", "workers"):
            if required not in tree:
                self.fail(
                    f"lab.children.{required}",
                    f"missing group '{required}' under 'lab': add it (see `labctl init`)",
                )
        masters, workers, nfs = (self.members(g) for g in ("master", "workers", "nfs"))
        if "master" in tree and len(masters) != 1:
            self.fail(
                "lab.children.master",
                f"needs exactly one host, found {len(masters)}: keep one control-plane Pi",
            )
        if "workers" in tree and not workers:
            self.fail("lab.children.workers", "needs at least one worker Pi")
        if len(nfs) > 1:
            self.fail("lab.children.nfs", "at most one NFS node, found several")
        for host in masters:
            if host in workers:
                self.fail(host, "is both master and worker: list it under one group only")
        return list(dict.fromkeys(masters + workers + nfs))

    def check_all_vars(self) -> None:
        shipped = _project_defaults()
        for key in self.parsed.group_vars.get("all", {}):
            if key in shipped:
                self.fail(
                    f"all.vars.{key}",
                    "labctl's own default wins over `all: vars:`; move it under `lab: vars:`",
                )

    def check_data(self, lab_vars: Mapping[str, Any]) -> None:
        """The inventory is data: no templates, nothing that weakens SSH or names a program."""
        if "ansible_python_interpreter" in self.parsed.group_vars.get("all", {}):
            self.fail(
                "all.vars.ansible_python_interpreter",
                "in `all` it also reaches the laptop's own Ansible: set it under `lab: vars:`",
            )
        for where, name, value in self.settings(lab_vars):
            problem = unsafe_setting(name, value)
            if problem:
                self.fail(where, problem)

    def settings(self, lab_vars: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
        """Every setting once: the lab's, then each host's own (where it differs)."""
        for name, value in lab_vars.items():
            yield f"lab.vars.{name}", name, value
        for host, hvars in self.parsed.host_vars.items():
            for name, value in hvars.items():
                if name not in lab_vars or lab_vars[name] != value:
                    yield f"{host}.{name}", name, value

    def check_settings(self, lab_vars: Mapping[str, Any]) -> None:
        """A setting one typo away from a known one is a problem, for the lab and each host."""
        if not self.known:
            return
        known = self.known | ansible_variables()
        for where, name, _ in self.settings(lab_vars):
            self.check_setting(name, where, known)

    def check_setting(self, name: str, where: str, known: frozenset[str]) -> None:
        if name in known:
            return
        family = sorted(k for k in known if k.startswith("ansible_") == name.startswith("ansible_"))
        close = difflib.get_close_matches(name, family, n=1, cutoff=0.8)
        if close:
            self.fail(where, f"unknown setting: did you mean '{close[0]}'?")

    def subnet(self, lab_vars: Mapping[str, Any]) -> ipaddress.IPv4Network | None:
        key = "lab.vars.lab_subnet"
        raw = lab_vars.get("lab_subnet")
        if raw is None:
            self.fail(key, "missing: set the lab's subnet, e.g. lab_subnet: 192.168.3.0/24")
            return None
        if not isinstance(raw, str):
            self.fail(key, f"must be a CIDR string like 192.168.3.0/24, not {raw!r}")
            return None
        try:
            net = ipaddress.IPv4Network(raw, strict=True)
        except ValueError as exc:
            hint = ""
            try:
                loose = ipaddress.IPv4Network(raw, strict=False)
                hint = f"; did you mean {_likely_network(raw, loose)}?"
            except ValueError:
                pass
            self.fail(key, f"invalid CIDR {raw!r} ({exc}){hint}")
            return None
        if net.prefixlen < MIN_SUBNET_PREFIX:
            self.fail(
                key,
                f"{net} is wider than a LAN (/{MIN_SUBNET_PREFIX} at most): the NFS export and "
                "the LoadBalancer's source range follow it; give the Pis' own network",
            )
            return None
        return net

    def hosts(self, names: list[str], subnet: ipaddress.IPv4Network | None) -> dict[str, Host]:
        hosts: dict[str, Host] = {}
        owners: dict[ipaddress.IPv4Address, str] = {}
        for name in names:
            key = f"{name}.ansible_host"
            hvars = self.parsed.host_vars.get(name, {})
            if not DNS_LABEL.fullmatch(name):
                self.fail(
                    name,
                    "a host name must be a DNS label (letters, digits and inner hyphens, at "
                    "most 63): it becomes the Pi's hostname and its Kubernetes node name",
                )
            port = hvars.get("ansible_port")
            if port is not None and (
                isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536
            ):
                self.fail(f"{name}.ansible_port", f"{port!r} is not a TCP port (1-65535)")
            raw = hvars.get("ansible_host")
            if raw is None:
                self.fail(key, "missing: give the Pi's fixed IPv4 address")
                continue
            try:
                address = ipaddress.IPv4Address(str(raw))
            except ValueError:
                self.fail(key, f"{raw!r} is not an IPv4 address: use the Pi's fixed address")
                continue
            unusable = _unusable(address, subnet)
            if unusable:
                self.fail(key, f"{address} is {unusable}: give the Pi's own fixed address")
            if address in owners:
                self.fail(key, f"{address} is also {owners[address]}'s: addresses must differ")
            if subnet is not None and address not in subnet:
                self.fail(key, f"{address} is outside lab_subnet {subnet}: fix one of them")
            owners.setdefault(address, name)
            groups = tuple(g for g in ("master", "workers", "nfs") if name in self.members(g))
            hosts[name] = Host(name, address, groups, hvars)
        return hosts

    def pool(
        self,
        lab_vars: Mapping[str, Any],
        subnet: ipaddress.IPv4Network,
        hosts: Mapping[str, Host],
    ) -> tuple[ipaddress.IPv4Network, ...]:
        key = "lab.vars.metallb_addresses"
        raw = lab_vars.get("metallb_addresses")
        if raw is None:
            self.fail(key, "missing: give MetalLB a free range, e.g. [192.168.3.100-192.168.3.200]")
            return ()
        if isinstance(raw, str) or not isinstance(raw, list) or not raw:
            self.fail(key, f"must be a YAML list of ranges or CIDRs, e.g. - {raw}")
            return ()
        nets: list[ipaddress.IPv4Network] = []
        for entry in raw:
            entry_nets = self.pool_entry(str(entry), key)
            if any(a.overlaps(b) for a in entry_nets for b in nets):
                self.fail(key, f"{entry} overlaps another range of the pool: MetalLB refuses it")
            if not all(net.subnet_of(subnet) for net in entry_nets):
                self.fail(
                    key, f"{entry} lies outside lab_subnet {subnet}: pick free addresses in the lab"
                )
            nets += entry_nets
        inside = [h for h in hosts.values() if any(h.address in net for net in nets)]
        if inside:
            listed = ", ".join(f"{h.address} ({h.name})" for h in inside)
            self.fail(
                key,
                f"{listed} inside the MetalLB pool: the pool must hold only free addresses, "
                "outside the nodes and the router's DHCP range",
            )
        return tuple(nets)

    def pool_entry(self, entry: str, key: str) -> list[ipaddress.IPv4Network]:
        from labctl import netaddr

        try:
            first, last = netaddr.pool_range(entry)
        except netaddr.NetworkError as exc:
            self.fail(key, str(exc))
            return []
        if last < first:
            self.fail(key, f"{entry}: the range ends before it starts: swap them")
            return []
        return list(ipaddress.summarize_address_range(first, last))

    def check_versions(self, lab_vars: Mapping[str, Any]) -> None:
        from labctl import manifests

        try:
            manifests.validate_versions(lab_vars)
        except UsageError as exc:
            self.fail("lab.vars", str(exc))

    def check_ingress(self, lab_vars: Mapping[str, Any]) -> None:
        from labctl import addons

        problem = addons.ingress_problem(lab_vars)
        if problem:
            self.fail("lab.vars.ingress_controller", problem)

    def check_nodeports(self, lab_vars: Mapping[str, Any]) -> None:
        valid = True
        for name, value in nodeport_settings(lab_vars):
            if not isinstance(value, int) or isinstance(value, bool):
                self.fail(f"lab.vars.{name}", f"must be a whole number, not {value!r}")
                valid = False
            elif value not in NODEPORT_RANGE:
                self.fail(
                    f"lab.vars.{name}",
                    f"{value} is outside the NodePort range 30000-32767: pick a port in it",
                )
                valid = False
        if not valid:
            return
        owners: dict[Any, list[str]] = {}
        for key, port in effective_nodeports(lab_vars).items():
            owners.setdefault(port, []).append(key)
        for port, keys in sorted(owners.items()):
            if len(keys) > 1:
                self.fail(
                    "lab.vars",
                    f"nodePort {port} is used by {' and '.join(sorted(keys))}: two Services "
                    "cannot share a nodePort, give each setting its own port",
                )


def unsafe_setting(name: str, value: Any) -> str | None:
    """Why this inventory setting is refused, or None. Nothing in an inventory may run on the
    laptop or loosen SSH: a Jinja template would be evaluated by labctl's own Ansible."""
    if _templated(value):
        return (
            "holds a Jinja template ({{ }} or {% %}), which Ansible would evaluate on the "
            "laptop: write the value itself"
        )
    if name in REFUSED_SETTINGS:
        return "labctl keeps host-key checking on and runs the system's ssh: remove this setting"
    if name == "ansible_connection" and str(value) not in SSH_CONNECTIONS:
        return (
            f"connection {value!r}: labctl reaches every Pi over SSH only (a `local` host would "
            "run the lab's tasks on this laptop): remove this setting"
        )
    if name in SSH_OPTION_SETTINGS and REFUSED_SSH_OPTIONS.search(str(value)):
        return (
            "sets an SSH option that turns host-key checking or known_hosts off or runs a "
            "program: labctl pins those (`labctl trust` remembers the keys); remove it"
        )
    return None


def _templated(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value or "{%" in value or "{#" in value
    if isinstance(value, Mapping):
        return any(_templated(k) or _templated(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_templated(v) for v in value)
    return False


def _unusable(address: ipaddress.IPv4Address, subnet: ipaddress.IPv4Network | None) -> str:
    """Why an address cannot be a Pi's, or ''."""
    if address.is_unspecified or address.is_multicast or address.is_reserved:
        return "not a host address (unspecified, multicast or reserved)"
    if subnet is not None and subnet.prefixlen <= 30 and address in subnet:
        if address == subnet.network_address:
            return f"the network address of {subnet}"
        if address == subnet.broadcast_address:
            return f"the broadcast address of {subnet}"
    return ""


def nodeport_settings(lab_vars: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for name, value in lab_vars.items():
        lowered = str(name).lower()
        if lowered.endswith(("nodeport", "node_port")):
            yield str(name), value


def _likely_network(raw: str, loose: ipaddress.IPv4Network) -> str:
    """For 192.168.3.0/8 the likely intent is 192.168.3.0/24, not 192.0.0.0/8."""
    address = raw.split("/", 1)[0]
    octets = address.split(".")
    while octets and octets[-1] == "0":
        octets.pop()
    guess = ipaddress.IPv4Network(f"{address}/{8 * len(octets)}", strict=False)
    return str(guess) if guess.network_address == ipaddress.IPv4Address(address) else str(loose)


def role_defaults(root: Path) -> dict[str, Any]:
    """Plain values from every role's defaults/main.yml (templated strings are left out)."""
    values: dict[str, Any] = {}
    for path in sorted(root.glob("roles/*/defaults/main.yml")):
        values.update(
            (str(k), v)
            for k, v in yamlfile.shipped_mapping(path).items()
            if not (isinstance(v, str) and "{{" in v)
        )
    return values


def effective_nodeports(
    lab_vars: Mapping[str, Any], defaults: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Every nodePort setting the lab uses: the roles' defaults, then the inventory's, without
    the ingress controller that is not chosen (both default to 30090)."""
    from labctl import addons

    if defaults is None:
        defaults = role_defaults(paths.ansible_root())
    effective = {**dict(nodeport_settings(defaults)), **dict(nodeport_settings(lab_vars))}
    unused = tuple(f"{a.role}_" for a in set(addons.ADDONS) - set(addons.chosen(lab_vars)))
    return {k: v for k, v in effective.items() if not k.startswith(unused)}


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


def ansible_variables() -> frozenset[str]:
    """The ``ansible_*`` variables Ansible reads: connection, become, shell and interpreter."""
    from ansible import constants
    from ansible.plugins.loader import become_loader, connection_loader, shell_loader

    names = {v for values in constants.MAGIC_VARIABLE_MAPPING.values() for v in values}
    for kind, loader, plugin in (
        ("connection", connection_loader, "ssh"),
        ("become", become_loader, "sudo"),
        ("shell", shell_loader, "sh"),
    ):
        loader.get(plugin, class_only=True)
        for definition in constants.config.get_configuration_definitions(kind, plugin).values():
            names.update(v["name"] for v in definition.get("vars") or [])
    for definition in constants.config.get_configuration_definitions().values():
        names.update(v["name"] for v in definition.get("vars") or [])
    return frozenset(n for n in names if n.startswith("ansible_"))
