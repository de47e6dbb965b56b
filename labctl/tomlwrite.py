"""A small TOML writer for what containerd's config needs (Python's tomllib only reads).

:func:`dumps` writes nested mappings as tables (``[plugins.'io.containerd.cri.v1.runtime']``)
and strings, booleans, integers, floats and lists of those as values. Within every table the
values come first, then the sub-tables, each in insertion order; a table with no values of
its own is written only through its sub-tables' headers, an empty one as a bare header.
Anything else (``None``, a list of mappings, a list of lists, a date) is refused with a
:class:`TomlError` naming the key, so a typo in a role's variables fails on the laptop
instead of leaving containerd with a config it cannot read.

Ansible reaches this module through ``playbooks/filter_plugins/labctl_data.py``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from labctl.errors import UsageError

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
# The characters a TOML basic string cannot hold literally, with their short escapes.
_ESCAPES = {
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
    '"': '\\"',
    "\\": "\\\\",
}


class TomlError(UsageError):
    """A value cannot be written as TOML (bad input from the variables, exit 2)."""


def _is_control(char: str) -> bool:
    code = ord(char)
    return code < 0x20 or code == 0x7F


def _check_unicode(text: str, where: str) -> None:
    if any(0xD800 <= ord(char) <= 0xDFFF for char in text):
        raise TomlError(f"{where} holds a lone surrogate, which TOML (UTF-8) cannot encode")


def basic_string(text: str) -> str:
    """``text`` as a double-quoted TOML basic string (quotes, backslashes, controls escaped)."""
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif _is_control(char):
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def key(name: str) -> str:
    """One TOML key: bare when it is ``[A-Za-z0-9_-]+``, else a single-quoted literal key, or
    a double-quoted basic string when it holds a single quote or a control character."""
    if _BARE_KEY.fullmatch(name):
        return name
    if "'" in name or any(_is_control(char) for char in name):
        return basic_string(name)
    return f"'{name}'"


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(key(part) for part in path)


def _scalar(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            raise TomlError(f"{where} = {int(value)} does not fit TOML's 64-bit integers")
        return str(int(value))
    if isinstance(value, float):
        number = float(value)
        if math.isnan(number):
            return "nan"
        if math.isinf(number):
            return "inf" if number > 0 else "-inf"
        return repr(number)
    if isinstance(value, str):
        _check_unicode(value, where)
        return basic_string(value)
    if value is None:
        raise TomlError(f"{where} is null, which TOML cannot write: give it a value or drop it")
    raise TomlError(
        f"{where} is a {type(value).__name__}, which labctl's TOML writer does not write "
        "(only strings, booleans, numbers, lists of those, and mappings)"
    )


def _value(value: Any, where: str) -> str:
    if isinstance(value, list | tuple):
        items = []
        for index, item in enumerate(value):
            item_where = f"{where}[{index}]"
            if isinstance(item, Mapping | list | tuple):
                kind = "mapping" if isinstance(item, Mapping) else "list"
                raise TomlError(
                    f"{item_where} is a {kind} inside a list, which labctl's TOML writer does "
                    "not write (lists hold only strings, booleans and numbers)"
                )
            items.append(_scalar(item, item_where))
        return "[" + ", ".join(items) + "]"
    return _scalar(value, where)


def _keys_checked(table: Mapping[Any, Any], path: tuple[str, ...]) -> None:
    for name in table:
        if not isinstance(name, str):
            where = _dotted(path) or "the top level"
            raise TomlError(f"key {name!r} in {where} is not a string, which TOML keys must be")
        _check_unicode(name, f"key {name!r}")


def _write_table(
    lines: list[str], path: tuple[str, ...], table: Mapping[str, Any], *, header: bool
) -> None:
    _keys_checked(table, path)
    values = [(name, v) for name, v in table.items() if not isinstance(v, Mapping)]
    tables = [(name, v) for name, v in table.items() if isinstance(v, Mapping)]
    if header and (values or not tables):
        if lines:
            lines.append("")
        lines.append(f"[{_dotted(path)}]")
    for name, value in values:
        lines.append(f"{key(name)} = {_value(value, _dotted((*path, name)))}")
    for name, sub in tables:
        _write_table(lines, (*path, name), sub, header=True)


def dumps(data: Mapping[str, Any]) -> str:
    """``data`` as a TOML document (see the module docstring for what it writes)."""
    if not isinstance(data, Mapping):
        raise TomlError(
            f"a TOML document is a mapping of keys, not a {type(data).__name__}: "
            "pass a dict of the config's tables"
        )
    lines: list[str] = []
    _write_table(lines, (), data, header=False)
    return "\n".join(lines) + "\n" if lines else ""
