"""Shell completion (``labctl --install-completion``) for demo names, render names and the
parts of ``up --only``. A completion never fails: on any problem it offers nothing."""

from __future__ import annotations

from collections.abc import Callable

DEMO_COMMANDS = ("all", "list", "clean")


def _safe(names: Callable[[], list[str]], incomplete: str) -> list[str]:
    try:
        return [n for n in names() if n.startswith(incomplete)]
    except Exception:  # a broken catalogue must not break the user's shell
        return []


def _demos() -> list[str]:
    from labctl import catalogue

    return catalogue.load(None).names()


def demo_names(incomplete: str) -> list[str]:
    return _safe(lambda: [*_demos(), *DEMO_COMMANDS], incomplete)


def clean_targets(incomplete: str) -> list[str]:
    return _safe(lambda: [*_demos(), "all"], incomplete)


def render_names(incomplete: str) -> list[str]:
    from labctl import render

    return _safe(lambda: render.names(None), incomplete)


def only_parts(parts: tuple[str, ...]) -> Callable[[str], list[str]]:
    """Completes the last of a comma-separated list, offering each part once."""

    def complete(incomplete: str) -> list[str]:
        done, _, last = incomplete.rpartition(",")
        chosen = {p for p in done.split(",") if p}
        prefix = f"{done}," if done else ""
        return [prefix + p for p in parts if p.startswith(last) and p not in chosen]

    return complete
