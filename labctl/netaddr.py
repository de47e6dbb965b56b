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
