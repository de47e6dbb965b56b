"""The demo catalogue: which demos exist, what each teaches, and what it checks.

One YAML file (``roles/service_demo/files/catalogue.yml``) is read twice: here for
``labctl demo list`` / ``--explain`` / name validation, and by the service_demo role as vars.
Its path can be overridden (``--catalogue`` / ``LABCTL_CATALOGUE``) so users can add demos.
Everything is checked here, before any host is touched; problems are UsageError (exit 2).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labctl import paths, yamlfile
from labctl.errors import UsageError

ENV_VAR = "LABCTL_CATALOGUE"
CHECK_TYPES = ("http_balance", "dns_records", "http_marker", "http_reachable", "lb_assigned")
WHERE = ("laptop", "master")
LOOKUPS = ("pods", "services", "dns", "ingress")
RESERVED = ("list", "clean", "all")
_DEMO_KEYS = frozenset(
    {"name", "title", "teaches", "notes", "templates", "selector", "lookups", "requires", "checks"}
)
_CHECK_KEYS = frozenset({"id", "type", "where", "params"})


@dataclass(frozen=True)
class CheckSpec:
    id: str
    type: str
    where: str

    def key(self, demo: str) -> str:
        """The set_stats key the check publishes: ``<demo>.<id>``."""
        return f"{demo}.{self.id}"


@dataclass(frozen=True)
class Demo:
    name: str
    title: str
    teaches: str
    notes: str
    templates: tuple[str, ...]
    checks: tuple[CheckSpec, ...]

    def check_keys(self) -> list[str]:
        return [check.key(self.name) for check in self.checks]


@dataclass(frozen=True)
class Catalogue:
    path: Path
    demos: tuple[Demo, ...]

    def names(self) -> list[str]:
        return [demo.name for demo in self.demos]

    def get(self, name: str) -> Demo:
        for demo in self.demos:
            if demo.name == name:
                return demo
        raise UsageError(
            f"unknown demo {name!r}: choose one of {', '.join(self.names())} "
            f"(or all; `labctl demo list` shows what each teaches)"
        )

    def select(self, name: str) -> list[Demo]:
        """``all`` -> every demo, in catalogue order; else the one named."""
        return list(self.demos) if name == "all" else [self.get(name)]


def default_path() -> Path:
    return paths.ansible_root() / "roles" / "service_demo" / "files" / "catalogue.yml"


def role_templates() -> Path:
    return paths.ansible_root() / "roles" / "service_demo" / "templates"


def resolve_path(explicit: Path | None = None) -> Path:
    """--catalogue, else $LABCTL_CATALOGUE, else the chapter's catalogue shipped with labctl."""
    if explicit is not None:
        return explicit.expanduser().resolve()
    from_env = os.environ.get(ENV_VAR, "")
    if from_env:
        return Path(from_env).expanduser().resolve()
    return default_path()


DEMO_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
# lookup(), query() and q() run on the laptop while Ansible templates: a catalogue is data
_LOOKUP_CALL = re.compile(r"(\{\{|\{%)[^}]*\b(lookup|query|q)\s*\(", re.DOTALL)
NO_LOOKUPS = (
    "calls lookup(), query() or q(), which would run on the laptop: a catalogue may only "
    "template values (the lookups: key reads the cluster for you)"
)


def _calls_a_lookup(text: str) -> bool:
    return bool(_LOOKUP_CALL.search(text))


def _template_file(name: str, where: Path) -> Path | None:
    """The template ``name`` next to the catalogue or in the role, never outside them."""
    for folder in (where.parent, role_templates()):
        base = folder.resolve()
        candidate = (base / name).resolve()
        if candidate.is_relative_to(base) and candidate.is_file():
            return candidate
    return None


def load(path: Path | None = None) -> Catalogue:
    """Read and validate a catalogue, or raise UsageError naming the problem and the fix."""
    where = resolve_path(path)
    data = yamlfile.read(where, "demo catalogue", f"check --catalogue / {ENV_VAR}")
    return parse(data, where)


def parse(data: Any, where: Path) -> Catalogue:
    def fail(key: str, message: str) -> UsageError:
        return UsageError(f"{where}: {key}: {message}")

    if not isinstance(data, Mapping) or not isinstance(data.get("demos"), list):
        raise fail("demos", "missing: the catalogue needs a list `demos:` (see the shipped one)")
    if not data["demos"]:
        raise fail("demos", "is empty: list at least one demo")
    demos: list[Demo] = []
    for index, raw in enumerate(data["demos"]):
        demos.append(_demo(raw, f"demos[{index}]", where, fail))
    seen: set[str] = set()
    for demo in demos:
        if demo.name in seen:
            raise fail("demos", f"demo {demo.name!r} is listed twice: rename or remove one")
        seen.add(demo.name)
    return Catalogue(where, tuple(demos))


def _text(raw: Mapping[str, Any], key: str, at: str, fail: Any, required: bool = True) -> str:
    value = raw.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise fail(f"{at}.{key}", "missing or empty: give it a short text")
    return " ".join(value.split())


def _demo(raw: Any, at: str, where: Path, fail: Any) -> Demo:
    if not isinstance(raw, Mapping):
        raise fail(at, "each demo must be a mapping with name, title, teaches, checks")
    unknown = sorted(str(k) for k in raw if k not in _DEMO_KEYS)
    if unknown:
        raise fail(f"{at}.{unknown[0]}", f"unknown key: expected {', '.join(sorted(_DEMO_KEYS))}")
    name = _text(raw, "name", at, fail)
    if name in RESERVED:
        raise fail(f"{at}.name", f"{name!r} is a labctl demo subcommand: pick another name")
    if not DEMO_NAME.fullmatch(name):
        raise fail(
            f"{at}.name", f"{name!r}: use lower-case ASCII letters, digits and inner hyphens only"
        )
    at = f"{at} ({name})"
    templates = raw.get("templates") or []
    if not isinstance(templates, list) or not all(isinstance(t, str) for t in templates):
        raise fail(f"{at}.templates", "must be a list of template file names")
    for template in templates:
        found = _template_file(template, where)
        if found is None:
            raise fail(
                f"{at}.templates",
                f"{template!r} not found next to the catalogue or in the service_demo role "
                "(a template name may not leave those folders)",
            )
        if _calls_a_lookup(found.read_text(encoding="utf-8", errors="replace")):
            raise fail(f"{at}.templates", f"{template!r} {NO_LOOKUPS}")
    if _calls_a_lookup(repr({k: v for k, v in raw.items() if k in ("checks", "requires")})):
        raise fail(f"{at}.checks", NO_LOOKUPS)
    lookups = raw.get("lookups") or []
    if not isinstance(lookups, list) or any(x not in LOOKUPS for x in lookups):
        raise fail(f"{at}.lookups", f"must be a list of {', '.join(LOOKUPS)}")
    if lookups and not templates:
        raise fail(f"{at}.lookups", "lookups read the cluster: only demos with templates use them")
    requires = raw.get("requires") or []
    if not isinstance(requires, list) or not all(
        isinstance(r, Mapping) and {"ok", "msg"} <= set(r) for r in requires
    ):
        raise fail(f"{at}.requires", "must be a list of {ok: <expression>, msg: <text>}")
    checks_raw = raw.get("checks")
    if not isinstance(checks_raw, list) or not checks_raw:
        raise fail(f"{at}.checks", "missing: a demo needs at least one check")
    checks = tuple(_check(c, f"{at}.checks[{i}]", fail) for i, c in enumerate(checks_raw))
    ids = [c.id for c in checks]
    if len(set(ids)) != len(ids):
        raise fail(f"{at}.checks", "two checks share an id: give each its own (the result key)")
    return Demo(
        name=name,
        title=_text(raw, "title", at, fail),
        teaches=_text(raw, "teaches", at, fail),
        notes=_text(raw, "notes", at, fail, required=False),
        templates=tuple(templates),
        checks=checks,
    )


def _check(raw: Any, at: str, fail: Any) -> CheckSpec:
    if not isinstance(raw, Mapping):
        raise fail(at, "each check must be a mapping with id, where, params")
    unknown = sorted(str(k) for k in raw if k not in _CHECK_KEYS)
    if unknown:
        raise fail(f"{at}.{unknown[0]}", f"unknown key: expected {', '.join(sorted(_CHECK_KEYS))}")
    check_id = raw.get("id")
    if not isinstance(check_id, str) or not check_id or "{" in check_id:
        raise fail(f"{at}.id", "missing: give the check a fixed id (its result key)")
    check_type = raw.get("type", check_id)
    if check_type not in CHECK_TYPES:
        raise fail(
            f"{at}.type", f"unknown check type {check_type!r}: choose from {', '.join(CHECK_TYPES)}"
        )
    where_to = raw.get("where", "laptop")
    if where_to not in WHERE:
        raise fail(f"{at}.where", f"{where_to!r}: choose laptop or master")
    if not isinstance(raw.get("params", {}), Mapping):
        raise fail(f"{at}.params", "must be a mapping of the check's parameters")
    return CheckSpec(check_id, check_type, where_to)
