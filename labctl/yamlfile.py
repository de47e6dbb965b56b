"""Read a user-edited YAML file, turning every problem into one UsageError line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from labctl.errors import UsageError


def read(path: Path, what: str, unreadable_fix: str) -> Any:
    """Parse ``path``; a read error or a YAML syntax error names the file (and line)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise UsageError(f"{path}: cannot read the {what} ({reason}): {unreadable_fix}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise UsageError(
            f"{where}: YAML syntax error in the {what} ({problem}): "
            "fix the indentation or quoting on that line"
        ) from None


def shipped_mapping(path: Path) -> dict[str, Any]:
    """A YAML mapping that ships with labctl (role defaults, argument specs); a missing or
    broken file gives an empty mapping, since labctl's own files are checked by the tests."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}
