"""`labctl doctor`: is every Pi reachable and ready?

Two sources, one row shape ``{check, status: PASS|WARN|FAIL, detail, hint}`` per host:

- offline rows, computed here from the validated inventory (and the roles' defaults): the
  MetalLB pool against the node addresses and the lab subnet, the nodePorts;
- live rows, published by the ``preflight`` role (playbooks/doctor.yml) with ``set_stats`` key
  ``doctor``; hosts Ansible could not reach get a FAIL row "SSH reachable" from the recap.

Python never re-derives what the play already knows: it only adds what the play cannot see.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from labctl.inventory import effective_nodeports, role_defaults

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderableType, RenderResult

    from labctl.inventory import Inventory
    from labctl.runner import Observer, RunResult

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"
STATUSES = (PASS, WARN, FAIL)
#: Host column of the rows about the inventory itself (checked on this machine).
INVENTORY_HOST = "(inventory)"
#: Settings holding the LoadBalancer demo's requested address (service_demo role).
LB_ADDRESS_SETTING = "service_demo_lb_address"


@dataclass(frozen=True)
class Row:
    host: str
    check: str
    status: str
    detail: str
    hint: str = ""

    def public(self) -> dict[str, str]:
        """The row as the play publishes it (without the host, which is the key)."""
        return {
            "check": self.check,
            "status": self.status,
            "detail": self.detail,
            "hint": self.hint,
        }


@dataclass
class DoctorReport:
    rows: list[Row] = field(default_factory=list)
    artifacts: str = ""
    inventory: str = ""

    @property
    def failed(self) -> bool:
        return any(r.status == FAIL for r in self.rows)

    def exit_code(self) -> int:
        """1 when any row FAILs, else 0 (WARN rows do not fail the doctor)."""
        return 1 if self.failed else 0

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for r in self.rows if r.status == s) for s in STATUSES}

    def by_host(self) -> dict[str, list[dict[str, str]]]:
        hosts: dict[str, list[dict[str, str]]] = {}
        for row in self.rows:
            hosts.setdefault(row.host, []).append(row.public())
        return hosts

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": "failed" if self.failed else "ok",
            "counts": self.counts(),
            "doctor": self.by_host(),
            "artifacts": self.artifacts,
            "inventory": self.inventory,
        }


# --- offline checks (the inventory and the roles' defaults; no host is contacted) -----------


def _pool_text(inv: Inventory) -> str:
    """The pool as address ranges (``a.b.c.d-a.b.c.e``), merged where they touch."""
    ranges: list[list[ipaddress.IPv4Address]] = []
    for net in sorted(inv.pool):
        first, last = net.network_address, net.broadcast_address
        if ranges and int(ranges[-1][1]) + 1 >= int(first):
            ranges[-1][1] = max(ranges[-1][1], last)
        else:
            ranges.append([first, last])
    return ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in ranges)


def _pool_size(pool: Iterable[ipaddress.IPv4Network]) -> int:
    return sum(net.num_addresses for net in pool)


def check_pool_vs_nodes(inv: Inventory) -> Row:
    """inventory.load refused a pool holding a node's address; this row shows the pool."""
    return Row(
        INVENTORY_HOST,
        "MetalLB pool vs node addresses",
        PASS,
        f"pool {_pool_text(inv)} ({_pool_size(inv.pool)} addresses) holds no node address",
    )


def check_pool_in_subnet(inv: Inventory) -> Row:
    name = "MetalLB pool in lab subnet"  # inventory.load refused a pool outside the subnet
    edges = [
        str(a)
        for a in (inv.subnet.network_address, inv.subnet.broadcast_address)
        if any(a in net for net in inv.pool)
    ]
    if edges:
        return Row(
            INVENTORY_HOST,
            name,
            WARN,
            f"the pool includes {', '.join(edges)}, the network/broadcast address of {inv.subnet}",
            "no machine can use those addresses: use a range such as "
            f"{inv.subnet.network_address + 100}-{inv.subnet.network_address + 200}",
        )
    return Row(INVENTORY_HOST, name, PASS, f"inside {inv.subnet}")


def check_nodeports(inv: Inventory, defaults: Mapping[str, Any]) -> Row:
    """The nodePorts the lab will use; inventory.load already refused any out of range or
    used twice, so this row lists them."""
    effective = effective_nodeports(inv.lab_vars, defaults)
    listed = ", ".join(
        f"{k.removesuffix('_node_port').removesuffix('_nodeport')} {v}"
        for k, v in sorted(effective.items(), key=lambda kv: kv[1])
    )
    return Row(INVENTORY_HOST, "nodePorts in range", PASS, listed or "no nodePort settings")


def check_lb_address(inv: Inventory, defaults: Mapping[str, Any]) -> Row:
    name = "LoadBalancer demo address"
    raw = inv.lab_vars.get(LB_ADDRESS_SETTING, defaults.get(LB_ADDRESS_SETTING))
    if raw is None:  # the role's default follows the pool
        from labctl import netaddr

        raw = netaddr.lb_address(list(inv.lab_vars.get("metallb_addresses") or []))
    try:
        address = ipaddress.IPv4Address(str(raw))
    except ValueError:
        return Row(
            INVENTORY_HOST,
            name,
            FAIL,
            f"{LB_ADDRESS_SETTING}={raw!r} is not an address",
            "set it to one free address of metallb_addresses",
        )
    if any(address in net for net in inv.pool):
        return Row(INVENTORY_HOST, name, PASS, f"{address} is in the pool")
    return Row(
        INVENTORY_HOST,
        name,
        WARN,
        f"the loadbalancer demo asks for {address}, outside the pool {_pool_text(inv)}",
        f"set {LB_ADDRESS_SETTING} under lab: vars: to an address of the pool, or remove "
        "it: left unset, it follows the pool",
    )


def offline_rows(inv: Inventory, defaults: Mapping[str, Any] | None = None) -> list[Row]:
    """The checks that need only the inventory; ``defaults`` are the roles' plain defaults."""
    if defaults is None:
        from labctl import paths

        defaults = role_defaults(paths.ansible_root())
    return [
        check_pool_vs_nodes(inv),
        check_pool_in_subnet(inv),
        check_nodeports(inv, defaults),
        check_lb_address(inv, defaults),
    ]


# --- live checks (the preflight role, through ansible-runner) -------------------------------


def _clean(text: str, limit: int = 300) -> str:
    one = " ".join(str(text).split())
    return one if len(one) <= limit else one[: limit - 1] + "…"


def live_rows(result: RunResult, hosts: Iterable[str]) -> list[Row]:
    """Rows the play published, plus a FAIL row for every host it could not reach or check."""
    published = result.stats.get("doctor") or {}
    rows: list[Row] = []
    for host in hosts:
        for item in published.get(host) or []:
            status = str(item.get("status", FAIL)).upper()
            rows.append(
                Row(
                    host,
                    str(item.get("check", "?")),
                    status if status in STATUSES else FAIL,
                    _clean(item.get("detail", "")),
                    _clean(item.get("hint", "")),
                )
            )
        recap = result.recap.get(host)
        failures = [f for f in result.failures if f.host == host]
        unreachable = [f for f in failures if f.unreachable]
        explained = any(r.host == host and r.status == FAIL for r in rows)
        if unreachable:
            first = unreachable[0]
            if first.host_key_changed:
                hint = (
                    "its SSH host key is not the one labctl trusted: if you reflashed it, run "
                    "`labctl trust`; otherwise do not connect"
                )
            elif first.host_key_unknown:
                hint = "labctl does not know this host's SSH key yet: run `labctl trust`"
            else:
                hint = (
                    "is the Pi on and on the lab network? check ansible_host, ansible_user and "
                    "`ssh <user>@<address>`"
                )
            rows.append(Row(host, "SSH reachable", FAIL, _clean(first.message), hint))
        elif failures and not explained:
            first = failures[0]
            rows.append(
                Row(
                    host,
                    "doctor run",
                    FAIL,
                    _clean(f"task '{first.task}' failed: {first.message}"),
                    "run labctl doctor -v to see Ansible's output",
                )
            )
        elif not published.get(host) and not failures and recap is None:
            rows.append(
                Row(
                    host,
                    "doctor run",
                    FAIL,
                    "no result from this host",
                    "run labctl doctor -v to see Ansible's output",
                )
            )
    return rows


def run(inv: Inventory, observer: Observer | None = None, verbosity: int = 0) -> DoctorReport:
    """Offline rows, then the doctor play on every lab host; never raises for a failed check."""
    from labctl import runner

    report = DoctorReport(offline_rows(inv), inventory=str(inv.path))
    request = runner.RunRequest("doctor", "doctor.yml", inv.path, verbosity=verbosity)
    result = runner.run(request, observer=observer)
    report.rows += live_rows(result, inv.hosts.keys())
    report.artifacts = str(result.artifacts)
    if result.cancelled:
        raise KeyboardInterrupt
    return report


# --- rendering --------------------------------------------------------------------------------

_STYLE = {PASS: "green", WARN: "yellow", FAIL: "bold red"}


def table(report: DoctorReport) -> RenderableType:
    """One line per host and check with its status and what was found. Under a WARN or FAIL
    row comes the fix, indented across the whole width; in a narrow terminal (80 columns)
    what was found goes under the row too, instead of being squeezed into a thin column."""
    return _DoctorTable(report)


class _DoctorTable:
    _NARROW = 40  # below this many columns for the detail, it moves under the row

    def __init__(self, report: DoctorReport) -> None:
        self.report = report

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.markup import escape
        from rich.padding import Padding
        from rich.rule import Rule
        from rich.table import Table
        from rich.text import Text

        rows = self.report.rows
        inventory = self.report.inventory
        yield Text(f"labctl doctor: {inventory}" if inventory else "labctl doctor", style="bold")
        widths = (
            max([len(r.host) for r in rows] or [4]),
            max([len(r.check) for r in rows] or [5]),
            4,
        )
        narrow = options.max_width - sum(widths) - 2 * len(widths) < self._NARROW
        previous = None
        for row in rows:
            if row.host != previous:
                yield Rule(style="dim")
            line = Table.grid(padding=(0, 2))
            for width in widths:
                line.add_column(width=width, no_wrap=True)
            cells = [
                escape(row.host) if row.host != previous else "",
                escape(row.check),
                f"[{_STYLE[row.status]}]{row.status}[/]",
            ]
            if not narrow:
                line.add_column(ratio=1, overflow="fold")
                cells.append(escape(row.detail))
            line.add_row(*cells)
            yield line
            if narrow and row.detail:
                yield Padding(Text(row.detail), (0, 0, 0, 4))
            if row.hint and row.status != PASS:
                yield Padding(Text(f"→ {row.hint}", style=_STYLE[row.status]), (0, 0, 0, 4))
            previous = row.host


def summary(report: DoctorReport) -> str:
    counts = report.counts()
    text = f"{counts[PASS]} passed, {counts[WARN]} warning(s), {counts[FAIL]} failed"
    if report.failed:
        return f"doctor: {text}. Fix the FAIL rows (hints above), then run labctl doctor again."
    return f"doctor: {text}. Ready for labctl up."


def render(console: Console, report: DoctorReport) -> None:
    from rich.markup import escape

    console.print(table(report))
    console.print(
        escape(summary(report)), style="red" if report.failed else "green", highlight=False
    )


def to_json(report: DoctorReport) -> str:
    return json.dumps(report.as_dict(), indent=2, sort_keys=True)


def rows_from_json(text: str) -> list[Row]:
    """Read rows back from :func:`to_json` output (for scripts and tests)."""
    data = json.loads(text)
    return [
        Row(host, **item) for host, items in (data.get("doctor") or {}).items() for item in items
    ]
