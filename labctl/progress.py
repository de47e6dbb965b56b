"""Live progress for a run, fed by ansible-runner events.

On a terminal: a Rich live view with the current play and task and per-host counters.
Elsewhere (CI, pipes): one plain line per play and task, plus failures as they happen.
With ``verbose``, Ansible's own output is streamed instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

COLUMNS = ("ok", "changed", "failed", "unreachable", "skipped")
_EVENT_COLUMN = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped",
}


@dataclass
class _State:
    play: str = ""
    task: str = ""
    hosts: dict[str, dict[str, int]] = field(default_factory=dict)


class Progress:
    """An ``Observer`` for :func:`labctl.runner.run`; use it as a context manager."""

    def __init__(self, console: Console, title: str, verbose: bool = False) -> None:
        self.console = console
        self.title = title
        self.verbose = verbose
        self.state = _State()
        self.live: Live | None = None

    def __enter__(self) -> Progress:
        if self.console.is_terminal and not self.verbose:
            self.live = Live(self.render(), console=self.console, refresh_per_second=8)
            self.live.__enter__()
        else:
            self.console.print(f"[bold]{self.title}[/bold]", highlight=False)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.live is not None:
            self.live.__exit__(exc_type, exc, tb)

    def on_event(self, event: Mapping[str, Any]) -> None:
        kind = str(event.get("event", ""))
        data = event.get("event_data") or {}
        if self.verbose:
            text = event.get("stdout")
            if text:  # Ansible colours it (it runs on a pty); Rich drops colour off a terminal
                self.console.print(Text.from_ansi(str(text)), highlight=False, soft_wrap=True)
        if kind == "playbook_on_play_start":
            self.state.play = str(data.get("play", "")).strip()
            self._plain(f"PLAY {self.state.play}")
        elif kind in ("playbook_on_task_start", "playbook_on_handler_task_start"):
            self.state.task = str(data.get("task", "")).strip()
            self._plain(f"  {self.state.task}")
        elif kind in _EVENT_COLUMN:
            self._count(str(data.get("host", "?")), kind, data)
        if self.live is not None:
            self.live.update(self.render())

    def _count(self, host: str, kind: str, data: Mapping[str, Any]) -> None:
        row = self.state.hosts.setdefault(host, dict.fromkeys(COLUMNS, 0))
        column = _EVENT_COLUMN[kind]
        if column == "failed" and data.get("ignore_errors"):
            return
        row[column] += 1
        if column == "ok" and (data.get("res") or {}).get("changed"):
            row["changed"] += 1
        if column in ("failed", "unreachable"):
            self._plain(f"    {column.upper()}: {host}")

    def _plain(self, line: str) -> None:
        if self.live is None and not self.verbose:
            self.console.print(line, highlight=False, markup=False)

    def render(self) -> Group:
        table = Table(box=None, pad_edge=False)
        table.add_column("host")
        for column in COLUMNS:
            table.add_column(column, justify="right")
        for host, row in sorted(self.state.hosts.items()):
            table.add_row(host, *(str(row[c]) for c in COLUMNS))
        head = Text.assemble((self.title, "bold"), "  ", (self.state.play, "cyan"))
        return Group(head, Text(f"  ▸ {self.state.task}"), table)
