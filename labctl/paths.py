"""Where labctl finds its Ansible tree and keeps its state and configuration."""

from __future__ import annotations

import os
from pathlib import Path

from labctl.errors import LabctlError

_PACKAGE_DIR = Path(__file__).resolve().parent


def ansible_root() -> Path:
    """The folder holding ``playbooks/`` and ``roles/``.

    An installed wheel carries them as package data in ``labctl/_ansible``; a checkout
    (or an editable install) has them at the repository's top level.
    """
    for candidate in (_PACKAGE_DIR / "_ansible", _PACKAGE_DIR.parent):
        if (candidate / "playbooks").is_dir() and (candidate / "roles").is_dir():
            return candidate
    raise LabctlError(
        f"labctl's Ansible tree is missing next to {_PACKAGE_DIR}: reinstall labctl "
        "(pipx reinstall labctl, or pip install --force-reinstall labctl)"
    )


def _xdg(variable: str, fallback: str) -> Path:
    value = os.environ.get(variable, "")
    base = Path(value) if value and Path(value).is_absolute() else Path.home() / fallback
    return base / "labctl"


def state_dir() -> Path:
    """``$XDG_STATE_HOME/labctl``: run artifacts and the fetched kubeconfig."""
    return _xdg("XDG_STATE_HOME", ".local/state")


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/labctl``: the inventory ``labctl init`` writes, trusted host keys."""
    return _xdg("XDG_CONFIG_HOME", ".config")


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/labctl``: pinned upstream manifests, checked by sha256."""
    return _xdg("XDG_CACHE_HOME", ".cache")


def runs_dir() -> Path:
    return state_dir() / "runs"


def known_hosts() -> Path:
    """The known_hosts file ``labctl trust`` writes and every run hands to SSH."""
    return config_dir() / "known_hosts"


def init_inventory() -> Path:
    """The inventory ``labctl init`` writes by default."""
    return config_dir() / "hosts.yml"


def kubeconfig() -> Path:
    """Where ``labctl up`` stores the lab's kubeconfig on the laptop (mode 0600)."""
    return state_dir() / "kubeconfig"
