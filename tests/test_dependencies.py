"""A new install behaves like the tested one: bounded dependencies, a constraints file that
pins them, and the help output those versions give."""

from __future__ import annotations

import tomllib
from pathlib import Path

import clirun
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent


def runtime_requirements() -> list[Requirement]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return [Requirement(r) for r in data["project"]["dependencies"]]


def pins() -> dict[str, Version]:
    found = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            found[canonicalize_name(name)] = Version(version.strip())
    return found


def test_every_runtime_dependency_has_an_upper_bound():
    unbounded = [
        str(r) for r in runtime_requirements() if not any(s.operator in ("<", "<=", "==", "~=")
                                                           for s in r.specifier)
    ]  # fmt: skip
    assert not unbounded, unbounded


def test_the_constraints_file_pins_each_dependency_inside_its_bounds():
    pinned = pins()
    for req in runtime_requirements():
        name = canonicalize_name(req.name)
        assert name in pinned, f"{req.name} is not in constraints.txt"
        assert pinned[name] in req.specifier, (req, pinned[name])


def test_help_shows_flags_as_flags(tmp_path):
    proc = clirun.run("up", "--help", env=clirun.isolated_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    json_line = next(ln for ln in proc.stdout.splitlines() if "--json" in ln)
    assert "<bool>" not in proc.stdout and "BOOLEAN" not in proc.stdout, json_line
