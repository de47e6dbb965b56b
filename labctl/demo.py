"""`labctl demo`: run demos through playbooks/demo.yml and report what their checks proved.

The play publishes one ``set_stats`` entry per check under the key ``demo_checks``:
``{"<demo>.<check>": {check, demo, passed, summary, evidence}}``. This module turns those
into a report: a table for people and JSON for scripts. It never re-derives a verdict the
play made.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labctl.catalogue import Catalogue, Demo

if TYPE_CHECKING:
    from rich.console import Console

    from labctl.runner import RunRequest, RunResult

EXIT_OK, EXIT_FAILED, EXIT_CANCELLED = 0, 1, 130


@dataclass(frozen=True)
class CheckResult:
    demo: str
    check: str
    passed: bool
    summary: str
    evidence: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.demo}.{self.check}"


@dataclass
class DemoReport:
    """What the run proved, demo by demo, in catalogue order."""

    demos: list[Demo]
    results: dict[str, CheckResult]
    not_run: list[str]
    failures: list[dict[str, Any]]
    cancelled: bool = False
    artifacts: str = ""

    @property
    def failed_checks(self) -> list[str]:
        return [key for key, result in self.results.items() if not result.passed]

    @property
    def passed(self) -> bool:
        return (
            not self.cancelled and not self.failed_checks and not self.not_run and not self.failures
        )

    def exit_code(self) -> int:
        if self.cancelled:
            return EXIT_CANCELLED
        return EXIT_OK if self.passed else EXIT_FAILED

    def as_dict(self) -> dict[str, Any]:
        status = "cancelled" if self.cancelled else ("passed" if self.passed else "failed")
        return {
            "status": status,
            "demos": [
                {
                    "name": demo.name,
                    "title": demo.title,
                    "passed": all(
                        self.results[key].passed if key in self.results else False
                        for key in demo.check_keys()
                    ),
                    "checks": [
                        asdict(self.results[key]) if key in self.results else _not_run(demo, key)
                        for key in demo.check_keys()
                    ],
                }
                for demo in self.demos
            ],
            "failed_checks": self.failed_checks,
            "not_run": self.not_run,
            "failures": self.failures,
            "artifacts": self.artifacts,
        }


def _not_run(demo: Demo, key: str) -> dict[str, Any]:
    check = key.split(".", 1)[1]
    return {
        "demo": demo.name,
        "check": check,
        "passed": False,
        "summary": "not run",
        "evidence": {},
    }


def needs_cluster(demos: Sequence[Demo]) -> bool:
    """Demos with objects to apply (or an lb_assigned check) talk to the Kubernetes API."""
    return any(d.templates or any(c.type == "lb_assigned" for c in d.checks) for d in demos)


def require_kubeconfig(demos: Sequence[Demo], kubeconfig: Path) -> None:
    """Bad input (exit 2) before any host is touched: no kubeconfig for a cluster demo."""
    if needs_cluster(demos):
        from labctl import kubeconfig as kubeconfigs

        kubeconfigs.require(kubeconfig)


def extravars(name: str, catalogue: Catalogue, keep: bool = False) -> dict[str, Any]:
    """The extra vars of demo.yml / demo_clean.yml."""
    return {
        "demo": name,
        "service_demo_catalogue": str(catalogue.path),
        "service_demo_keep": keep,
    }


def run_request(
    name: str, catalogue: Catalogue, inventory: Path, keep: bool = False, verbosity: int = 0
) -> RunRequest:
    from labctl.runner import RunRequest

    return RunRequest(
        f"demo-{name}",
        "demo.yml",
        inventory,
        extravars=extravars(name, catalogue, keep),
        verbosity=verbosity,
    )


def clean_request(
    name: str, catalogue: Catalogue, inventory: Path, verbosity: int = 0
) -> RunRequest:
    from labctl.runner import RunRequest

    return RunRequest(
        f"demo-clean-{name}",
        "demo_clean.yml",
        inventory,
        extravars=extravars(name, catalogue),
        verbosity=verbosity,
    )


STATS_KEY = "demo_checks"


def results_from_stats(stats: Mapping[str, Any]) -> dict[str, CheckResult]:
    """Every ``<demo>.<check>`` entry the play published, as CheckResults.

    set_stats accepts only identifiers as top-level keys, so the play publishes
    ``demo_checks: {"<demo>.<check>": {check, demo, passed, summary, evidence}}``.
    """
    published = stats.get(STATS_KEY)
    out: dict[str, CheckResult] = {}
    if not isinstance(published, Mapping):
        return out
    for key, value in published.items():
        if not isinstance(value, Mapping) or "." not in key or "passed" not in value:
            continue
        demo, _, check = key.partition(".")
        evidence = value.get("evidence")
        out[key] = CheckResult(
            demo=str(value.get("demo") or demo),
            check=str(value.get("check") or check),
            passed=value.get("passed") is True,
            summary=str(value.get("summary", "")),
            evidence=evidence if isinstance(evidence, Mapping) else {"value": evidence},
        )
    return out


def build_report(demos: Sequence[Demo], result: RunResult) -> DemoReport:
    """Join the catalogue's expected checks with what the play published."""
    published = results_from_stats(result.stats)
    expected = [key for demo in demos for key in demo.check_keys()]
    results = {key: published[key] for key in expected if key in published}
    check_messages = (*(f"{key}:" for key in expected), "failed checks:")
    failures = [
        {"host": f.host, "task": f.task, "message": f.message, "unreachable": f.unreachable}
        for f in result.failures
        if not f.message.startswith(check_messages)
    ]
    return DemoReport(
        demos=list(demos),
        results=results,
        not_run=[key for key in expected if key not in published],
        failures=failures,
        cancelled=result.cancelled,
        artifacts=str(result.artifacts),
    )


def to_json(report: DemoReport) -> str:
    return json.dumps(report.as_dict(), indent=2, sort_keys=True, default=str)


def evidence_text(result: CheckResult) -> str:
    """One short line of what the check saw: who answered how often, which records came back."""
    ev = result.evidence
    if "urls" in ev and isinstance(ev["urls"], Mapping):
        parts = []
        for url, seen in ev["urls"].items():
            counts = {**(seen.get("answers") or {}), **(seen.get("problems") or {})}
            shown = ", ".join(f"{k} x{v}" for k, v in sorted(counts.items())) or "nothing"
            parts.append(f"{url}: {shown}")
        return "\n".join(parts)
    if "got" in ev:
        got = ", ".join(ev.get("got") or []) or "no records"
        return f"{ev.get('type', '')} {ev.get('name', '')} @{ev.get('server', '')}: {got}"
    if "assigned" in ev:
        return f"{ev.get('service')}: assigned {', '.join(ev.get('assigned') or []) or 'nothing'}"
    if "status" in ev:
        return f"{ev.get('url')}: HTTP {ev.get('status')} {ev.get('error') or ''}".strip()
    return json.dumps(dict(ev), sort_keys=True, default=str)[:200] if ev else ""


def print_report(console: Console, report: DemoReport) -> None:
    from rich.table import Table

    for demo in report.demos:
        table = Table(title=f"{demo.name}: {demo.title}", title_justify="left", expand=False)
        table.add_column("check")
        table.add_column("result")
        table.add_column("summary", overflow="fold")
        table.add_column("evidence", overflow="fold")
        for key in demo.check_keys():
            check = key.split(".", 1)[1]
            found = report.results.get(key)
            if found is None:
                table.add_row(
                    check, "NOT RUN", "the play stopped before this check", "", style="red"
                )
                continue
            table.add_row(
                check,
                "PASS" if found.passed else "FAIL",
                found.summary,
                evidence_text(found),
                style="green" if found.passed else "red",
            )
        console.print(table)
    for failure in report.failures:
        what = "UNREACHABLE" if failure.get("unreachable") else "FAILED"
        console.print(
            f"{what} {failure['host']} · task '{failure['task']}': {failure['message']}",
            style="red",
            markup=False,
            highlight=False,
        )
    if report.cancelled:
        console.print("demo: interrupted", style="red")
    elif report.passed:
        console.print(
            f"demo: every check passed ({len(report.results)})", style="green", highlight=False
        )
    else:
        bad = report.failed_checks + [f"{k} (not run)" for k in report.not_run]
        line = f"demo: FAILED: {', '.join(bad)}" if bad else "demo: FAILED (see above)"
        console.print(line, style="red", markup=False, highlight=False)
        console.print(f"Ansible's full log: {report.artifacts}", highlight=False, markup=False)


def print_list(console: Console, catalogue: Catalogue, explain: bool = False) -> None:
    """One line per demo (its name and title); with ``explain``, what each one teaches."""
    from rich.markup import escape
    from rich.table import Table

    from labctl import catalogue as catalogues

    own = catalogue.path.resolve() != catalogues.default_path().resolve()
    title = f"Demos of {catalogue.path}" if own else "The chapter's demos"
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    for demo in catalogue.demos:
        text = f"[bold]{escape(demo.title)}[/bold]"
        table.add_row(escape(demo.name), text + (f"\n{escape(demo.teaches)}\n" if explain else ""))
    console.print(f"[bold]{escape(title)}[/bold]", highlight=False)
    console.print(table)
    console.print("Run one: labctl demo NAME   Learn more: labctl demo NAME --explain")
    if not explain:
        console.print("What each one teaches: labctl demo list --explain")


def explain_text(demo: Demo) -> str:
    checks = "\n".join(f"  - {c.id} ({c.type}, from the {c.where})" for c in demo.checks)
    parts = [
        f"{demo.name}: {demo.title}",
        "",
        f"What it teaches: {demo.teaches}",
        "",
        f"How labctl differs from the chapter: {demo.notes or 'it does not.'}",
        "",
        f"Objects: {', '.join(demo.templates) or '(none: checks only)'}",
        f"Checks:\n{checks}",
    ]
    return "\n".join(parts)


def catalogue_json(catalogue: Catalogue, demos: Sequence[Demo] | None = None) -> str:
    chosen = list(demos) if demos is not None else list(catalogue.demos)
    body = {
        "catalogue": str(catalogue.path),
        "demos": [
            {
                "name": d.name,
                "title": d.title,
                "teaches": d.teaches,
                "notes": d.notes,
                "templates": list(d.templates),
                "checks": [asdict(c) for c in d.checks],
            }
            for d in chosen
        ],
    }
    return json.dumps(body, indent=2)
