"""Addresses inside the lab's networks (e.g. the cluster DNS Service's address, the tenth of
the Service CIDR), computed from the inventory's CIDRs instead of being written twice.

Ansible reaches this module through ``playbooks/filter_plugins/labctl_data.py``.
"""

from __future__ import annotations

import ipaddress

from labctl.errors import UsageError


class NetworkError(UsageError):
    """A CIDR or an address number is unusable (bad input from the inventory, exit 2)."""


def network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """The IPv4 or IPv6 network written as ``cidr`` (``10.96.0.0/12``), strictly: a prefix
    length is required and host bits must be zero."""
    if not isinstance(cidr, str) or "/" not in cidr:
        raise NetworkError(
            f"{cidr!r} is not a network in CIDR notation: write it as address/prefix, "
            "like 10.96.0.0/12 or fd00:10:96::/108"
        )
    try:
        return ipaddress.ip_network(cidr, strict=True)
    except ValueError:
        pass
    try:
        loose = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        raise NetworkError(
            f"{cidr!r} is not an IPv4 or IPv6 network in CIDR notation: write it as "
            "address/prefix, like 10.96.0.0/12 or fd00:10:96::/108"
        ) from None
    raise NetworkError(
        f"{cidr} has host bits set: the network it lies in is {loose}; write that instead"
    )


def nth_address(cidr: str, n: int) -> str:
    """The ``n``-th address of ``cidr``, counting the network address as 0:
    ``("10.96.0.0/12", 10)`` -> ``"10.96.0.10"``."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise NetworkError(f"address number {n!r} is not an integer")
    net = network(cidr)
    if n < 0:
        raise NetworkError(f"address number {n} of {cidr} is negative: count from 0")
    if n >= net.num_addresses:
        raise NetworkError(
            f"{cidr} is too small for address number {n}: it has only {net.num_addresses} "
            f"addresses (0 to {net.num_addresses - 1}); use a shorter prefix or a smaller number"
        )
    return str(net[n])


#: The address the chapter's LoadBalancer demo asks MetalLB for.
CHAPTER_LB_ADDRESS = "192.168.3.100"


def pool_range(entry: str) -> tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]:
    """One MetalLB pool entry (``a.b.c.d-a.b.c.e`` or a CIDR) as its first and last address."""
    text = str(entry).strip()
    try:
        if "-" in text:
            first, last = (ipaddress.IPv4Address(p.strip()) for p in text.split("-", 1))
            return first, last
        net = ipaddress.IPv4Network(text, strict=True)
    except ValueError as exc:
        raise NetworkError(f"{text!r} is not a range (a.b.c.d-a.b.c.e) or a CIDR ({exc})") from None
    return net[0], net[-1]


def pool_ranges(entries: list[str]) -> list[tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]]:
    """MetalLB pool entries as first/last address pairs."""
    return [pool_range(entry) for entry in entries]


def lb_address(entries: list[str]) -> str:
    """The LoadBalancer demo's default address: the chapter's 192.168.3.100 when the pool
    holds it, else the last address of the pool's first range (not the first free one, so a
    demo that gets it proves the request was honoured)."""
    ranges = pool_ranges(entries)
    if not ranges:
        raise NetworkError("the MetalLB pool (metallb_addresses) is empty: give it a range")
    chapter = ipaddress.IPv4Address(CHAPTER_LB_ADDRESS)
    if any(first <= chapter <= last for first, last in ranges):
        return CHAPTER_LB_ADDRESS
    return str(ranges[0][1])
