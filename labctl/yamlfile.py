"""Read a user-edited YAML file, turning every problem into one UsageError line."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import yaml

from labctl.errors import UsageError

MAX_BYTES = 1024 * 1024  # an inventory or a catalogue is a page or two, never megabytes
MAX_ALIASES = 100  # YAML anchors are fine; an "alias bomb" is refused before it expands


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and bounds alias use."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                event = self.peek_event()
                raise yaml.constructor.ConstructorError(
                    None, None, f"more than {MAX_ALIASES} aliases (*name)", event.start_mark
                )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, str | int | float | bool) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def check_file(path: Path, what: str, fix: str) -> None:
    """A regular file of at most 1 MiB, or one UsageError line saying what it is instead."""
    try:
        info = path.stat()
    except OSError as exc:  # missing, unsearchable folder, name too long
        raise UsageError(f"{path}: cannot read the {what} ({exc.strerror}): {fix}") from None
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(
            f"{path}: the {what} must be a regular file (not a folder, device or pipe): {fix}"
        )
    size = info.st_size
    if size > MAX_BYTES:
        raise UsageError(
            f"{path}: the {what} is {size // 1024} KiB, over labctl's 1 MiB limit: {fix}"
        )


def read(path: Path, what: str, unreadable_fix: str) -> Any:
    """Parse ``path``; a read error or a YAML syntax error names the file (and line).

    Only a regular file of at most 1 MiB is read (never a device or a FIFO); duplicate keys
    and more than 100 aliases are errors, as they are mistakes or attacks in a lab's files.
    """
    check_file(path, what, unreadable_fix)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise UsageError(f"{path}: cannot read the {what} ({reason}): {unreadable_fix}") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise UsageError(
            f"{where}: YAML syntax error in the {what} ({problem}): "
            "fix that line (indentation, quoting, a key written twice)"
        ) from None


def shipped_mapping(path: Path) -> dict[str, Any]:
    """A YAML mapping that ships with labctl (role defaults, argument specs); a missing or
    broken file gives an empty mapping, since labctl's own files are checked by the tests."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}
