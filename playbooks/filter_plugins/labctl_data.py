"""Jinja filters over labctl's small data helpers (TOML, addresses, image bundles).

Thin by design: every behaviour lives (and is unit-tested) in labctl/tomlwrite.py,
labctl/netaddr.py and labctl/bundles.py.

- ``config | labctl_to_toml``: a mapping as a TOML document (containerd's config.toml).
- ``cidr | labctl_nth_address(n)``: the n-th address of a network, counting the network
  address as 0 (``'10.96.0.0/12' | labctl_nth_address(10)`` -> ``10.96.0.10``).
- ``path | labctl_bundle_images``: the sorted, normalised image names inside an image bundle
  on the laptop (a ``docker save`` tarball or an OCI layout tarball), read without running
  anything.
- ``name | labctl_normalize_image``: an image name as ``ctr images ls`` shows it
  (``nginx:1`` -> ``docker.io/library/nginx:1``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleFilterError

try:
    from labctl import bundles, netaddr, tomlwrite
    from labctl.errors import LabctlError
except ImportError:  # a checkout run without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from labctl import bundles, netaddr, tomlwrite
    from labctl.errors import LabctlError


def _call(func: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return func(*args, **kwargs)
    except LabctlError as exc:
        raise AnsibleFilterError(str(exc)) from None


def labctl_to_toml(data: dict[str, Any]) -> str:
    return _call(tomlwrite.dumps, data)


def labctl_nth_address(cidr: str, n: int | str) -> str:
    if isinstance(n, str) and n.strip().isdigit():  # an inventory value given as a string
        n = int(n)
    return _call(netaddr.nth_address, cidr, n)


def labctl_lb_address(entries: list[str]) -> str:
    return _call(netaddr.lb_address, entries)


def labctl_bundle_images(path: str) -> list[str]:
    return _call(bundles.bundle_images, path)


def labctl_normalize_image(name: str) -> str:
    return _call(bundles.normalize_image, name)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "labctl_to_toml": labctl_to_toml,
            "labctl_nth_address": labctl_nth_address,
            "labctl_lb_address": labctl_lb_address,
            "labctl_bundle_images": labctl_bundle_images,
            "labctl_normalize_image": labctl_normalize_image,
        }
