"""Recaps for people (Rich tables) and for scripts (JSON)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.table import Table

from labctl.runner import RunResult

EXIT_OK, EXIT_FAILED, EXIT_CANCELLED = 0, 1, 130


def exit_code(result: RunResult) -> int:
    if result.cancelled:
        return EXIT_CANCELLED
    return EXIT_OK if result.ok else EXIT_FAILED


def recap_table(result: RunResult) -> Table:
    table = Table(title="Recap", title_justify="left")
    table.add_column("host")
    for column in ("ok", "changed", "unreachable", "failed", "skipped"):
        table.add_column(column, justify="right")
    for host, row in sorted(result.recap.items()):
        style = "red" if row.failed or row.unreachable else ("yellow" if row.changed else "green")
        table.add_row(
            host,
            str(row.ok),
            str(row.changed),
            str(row.unreachable),
            str(row.failed),
            str(row.skipped),
            style=style,
        )
    return table


def failure_lines(result: RunResult) -> list[str]:
    lines = []
    seen_on_laptop: set[tuple[str, str]] = set()
    for failure in result.failures:
        if failure.on_laptop:  # once, however many hosts delegated the same call
            if (failure.task, failure.message) in seen_on_laptop:
                continue
            seen_on_laptop.add((failure.task, failure.message))
            lines.append(
                f"FAILED on this laptop (for {failure.host}) · task '{failure.task}': "
                f"{failure.message}"
            )
            continue
        what = "UNREACHABLE" if failure.unreachable else "FAILED"
        lines.append(f"{what} {failure.host} · task '{failure.task}': {failure.message}")
        if failure.host_key_changed:
            lines.append(
                f"  the SSH host key of {failure.host} changed since labctl trusted it: if you "
                "reflashed that Pi, run `labctl trust` to review the new key; otherwise do not "
                "connect to it"
            )
        elif failure.host_key_unknown:
            lines.append(
                f"  labctl does not know the SSH host key of {failure.host} yet: run "
                "`labctl trust` to review and remember it"
            )
    return lines


def print_recap(console: Console, result: RunResult, what: str) -> None:
    if result.recap:
        console.print(recap_table(result))
    for line in failure_lines(result):
        console.print(line, style="red", markup=False, highlight=False)
    if result.cancelled:
        console.print(f"{what}: interrupted; recorded as cancelled in {result.artifacts.parent}")
    elif result.ok:
        changed = result.changed
        tail = (
            "nothing changed (changed=0): the lab already matched"
            if changed == 0
            else f"{changed} change(s) made"
        )
        console.print(f"{what}: ok, {tail}", style="green", highlight=False)
    else:
        console.print(f"{what}: failed. Ansible's full log: {result.artifacts}", style="red")


def result_json(result: RunResult, extra: dict[str, Any] | None = None) -> str:
    body: dict[str, Any] = {
        "status": "cancelled" if result.cancelled else ("ok" if result.ok else "failed"),
        "changed": result.changed,
        "recap": {host: asdict(row) for host, row in sorted(result.recap.items())},
        "failures": [
            {**asdict(f), "host_key_changed": f.host_key_changed} for f in result.failures
        ],
        "artifacts": str(result.artifacts),
    }
    body.update(extra or {})
    return json.dumps(body, indent=2, sort_keys=True)
