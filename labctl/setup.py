"""`labctl init`: write the chapter's lab inventory for the learner to edit."""

from __future__ import annotations

import os
from pathlib import Path

from labctl import paths
from labctl.errors import UsageError


def chapter_inventory() -> str:
    """The commented inventory of the chapter's lab that ships with labctl."""
    return (paths.ansible_root() / "inventory" / "hosts.yml").read_text(encoding="utf-8")


def write_inventory(directory: Path | None, force: bool) -> tuple[Path, bool]:
    """Write ``hosts.yml``; return its path and whether it is where labctl looks by default."""
    target = (directory / "hosts.yml") if directory else paths.init_inventory()
    if target.exists() and not force:
        raise UsageError(f"{target} already exists: edit it, or pass --force to overwrite it")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(chapter_inventory(), encoding="utf-8")
    os.replace(tmp, target)
    return target, target == paths.init_inventory()
