"""`labctl init`: write the chapter's lab inventory for the learner to edit."""

from __future__ import annotations

from pathlib import Path

from labctl import atomicfile, paths
from labctl.errors import UsageError


def chapter_inventory() -> str:
    """The commented inventory of the chapter's lab that ships with labctl."""
    return (paths.ansible_root() / "inventory" / "hosts.yml").read_text(encoding="utf-8")


def write_inventory(directory: Path | None, force: bool) -> tuple[Path, bool]:
    """Write ``hosts.yml``; return its path and whether it is where labctl looks by default."""
    target = (directory / "hosts.yml") if directory else paths.init_inventory()
    if target.exists() and not force:
        raise UsageError(f"{target} already exists: edit it, or pass --force to overwrite it")
    atomicfile.write(target, chapter_inventory(), mode=0o644)
    return target, target == paths.init_inventory()
