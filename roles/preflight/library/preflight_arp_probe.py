#!/usr/bin/python
"""Ask the lab segment, by ARP, whether any MetalLB pool address is already in use."""

from __future__ import annotations

import ipaddress
import socket
import struct
import time

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: preflight_arp_probe
short_description: Find pool addresses that already answer ARP on the lab segment
description:
  - Expands the MetalLB pool (ranges a.b.c.d-a.b.c.e and CIDRs), sends one ARP request per
    on-link address from I(interface) and reports every address some machine answers for.
    MetalLB layer 2 announces pool addresses by ARP, so an answer means a conflict.
  - Read-only; needs root (a raw AF_PACKET socket). Off-link addresses are not probed.
options:
  pool: {type: list, elements: str, required: true, description: Pool entries.}
  interface: {type: str, required: true, description: Interface on the lab segment.}
  source: {type: str, required: true, description: This host's address/netmask on it.}
  exclude: {type: list, elements: str, default: [], description: Addresses not to probe.}
  timeout: {type: float, default: 1.0, description: Seconds to wait for answers per round.}
  retries: {type: int, default: 2, description: Extra rounds for addresses without an answer.}
  max_addresses: {type: int, default: 1024, description: Refuse to probe larger pools.}
"""

RETURN = r"""
answered: {type: list, description: "[{address, mac}] for each pool address that answered."}
probed: {type: int, description: Number of addresses asked.}
offlink: {type: list, description: Pool addresses outside the interface's subnet (not probed).}
too_many: {type: bool, description: True when the pool was larger than max_addresses.}
"""

ETH_P_ARP = 0x0806
BROADCAST = b"\xff" * 6


def expand(entries: list[str]) -> list[ipaddress.IPv4Address]:
    found: list[ipaddress.IPv4Address] = []
    for entry in entries:
        if "-" in entry:
            first, last = (ipaddress.IPv4Address(p.strip()) for p in entry.split("-", 1))
            found += [ipaddress.IPv4Address(n) for n in range(int(first), int(last) + 1)]
        else:
            found += list(ipaddress.IPv4Network(entry.strip(), strict=False))
    return sorted(set(found))


def arp_request(mac: bytes, source: ipaddress.IPv4Address, target: ipaddress.IPv4Address) -> bytes:
    header = BROADCAST + mac + struct.pack("!H", ETH_P_ARP)
    body = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + source.packed
    return header + body + b"\x00" * 6 + target.packed


def probe(
    interface: str,
    source: ipaddress.IPv4Address,
    targets: list[ipaddress.IPv4Address],
    timeout: float,
    retries: int,
) -> dict[str, str]:
    with open(f"/sys/class/net/{interface}/address", encoding="ascii") as handle:
        mac = bytes.fromhex(handle.read().strip().replace(":", ""))
    answered: dict[str, str] = {}
    wanted = {t.packed: str(t) for t in targets}
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP)) as sock:
        sock.bind((interface, ETH_P_ARP))
        for _ in range(retries + 1):
            pending = [t for t in targets if str(t) not in answered]
            if not pending:
                break
            for target in pending:
                sock.send(arp_request(mac, source, target))
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                sock.settimeout(max(deadline - time.monotonic(), 0.01))
                try:
                    frame = sock.recv(2048)
                except TimeoutError:
                    break
                if len(frame) < 42 or frame[12:14] != b"\x08\x06":
                    continue
                sender_mac, sender_ip = frame[22:28], frame[28:32]
                # any ARP frame (reply or request) sent from a pool address means it is in use
                if sender_ip in wanted and sender_mac != mac:
                    answered[wanted[sender_ip]] = sender_mac.hex(":")
    return answered


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "pool": {"type": "list", "elements": "str", "required": True},
            "interface": {"type": "str", "required": True},
            "source": {"type": "str", "required": True},
            "exclude": {"type": "list", "elements": "str", "default": []},
            "timeout": {"type": "float", "default": 1.0},
            "retries": {"type": "int", "default": 2},
            "max_addresses": {"type": "int", "default": 1024},
        },
        supports_check_mode=True,
    )
    params = module.params
    try:
        own = ipaddress.IPv4Interface(params["source"])
        pool = expand(params["pool"])
        exclude = {ipaddress.IPv4Address(a) for a in params["exclude"]}
    except ValueError as exc:
        module.fail_json(msg=f"bad address in pool, source or exclude: {exc}")
    if len(pool) > params["max_addresses"]:
        module.exit_json(changed=False, answered=[], probed=0, offlink=[], too_many=True)
    candidates = [a for a in pool if a not in exclude and a != own.ip]
    onlink = [a for a in candidates if a in own.network]
    offlink = [str(a) for a in candidates if a not in own.network]
    try:
        answered = probe(params["interface"], own.ip, onlink, params["timeout"], params["retries"])
    except OSError as exc:
        module.fail_json(msg=f"ARP probe on {params['interface']} failed: {exc}")
    module.exit_json(
        changed=False,
        answered=[
            {"address": a, "mac": answered[a]} for a in sorted(answered, key=ipaddress.IPv4Address)
        ],
        probed=len(onlink),
        offlink=offlink,
        too_many=False,
    )


if __name__ == "__main__":
    main()
