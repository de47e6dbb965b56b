"""Run a playbook through ansible-runner's Python API and collect what it proved.

One private data dir per run under ``$XDG_STATE_HOME/labctl/runs/<time>-<command>/``. Events
feed an observer (the live progress view); the result carries the per-host recap, the
failures (host, task, message) and the ``set_stats`` data the play published.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from labctl import ansiblecfg, atomicfile, paths
from labctl.errors import UsageError

HOST_KEY_CHANGED = "REMOTE HOST IDENTIFICATION HAS CHANGED"
#: environment names kept out of a run's recorded command, whatever their prefix: a word
#: TOKEN, PASSWORD, SECRET ... or a name ending in KEY (ANSIBLE_HOST_KEY_CHECKING stays)
SECRET_NAME = re.compile(
    r"(^|_)(TOKEN|PASS|PASSWD|PASSWORD|SECRET|CREDENTIALS?|AUTH)(_|$)|KEY$", re.IGNORECASE
)
HOST_KEY_UNVERIFIED = "Host key verification failed"


class Observer(Protocol):
    def on_event(self, event: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True)
class RunRequest:
    command: str
    playbook: str
    inventory: Path | None
    extravars: Mapping[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    skip_tags: tuple[str, ...] = ()
    limit: str | None = None
    verbosity: int = 0
    #: False for a run that only computes (render): its folder is removed unless it failed
    keep_run: bool = True


@dataclass
class HostRecap:
    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0
    rescued: int = 0
    ignored: int = 0


@dataclass(frozen=True)
class Failure:
    host: str
    task: str
    message: str
    unreachable: bool = False
    #: the task ran on this machine (delegated to localhost: an API call, a curl check)
    on_laptop: bool = False

    @property
    def host_key_changed(self) -> bool:
        return self.unreachable and HOST_KEY_CHANGED in self.message

    @property
    def host_key_unknown(self) -> bool:
        return (
            self.unreachable and not self.host_key_changed and HOST_KEY_UNVERIFIED in self.message
        )


@dataclass
class RunResult:
    rc: int
    status: str
    recap: dict[str, HostRecap]
    failures: list[Failure]
    stats: dict[str, Any]
    artifacts: Path
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "successful" and not self.failures

    @property
    def changed(self) -> int:
        return sum(r.changed for r in self.recap.values())


@dataclass
class Cancellation:
    """Set by SIGINT/SIGTERM while a run is under way; ansible-runner polls it."""

    event: threading.Event = field(default_factory=threading.Event)

    def is_set(self) -> bool:
        return self.event.is_set()

    @contextmanager
    def installed(self) -> Iterator[Cancellation]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return

        def handler(signum: int, frame: object) -> None:
            self.event.set()

        previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)


RUN_NAME = re.compile(r"^\d{8}T\d{6}\.\d{6}Z-")
DEFAULT_KEEP_RUNS = 20


def run_name(command: str, now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S.%fZ")
    return stamp + "-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in command)


def new_run_dir(command: str, now: datetime | None = None) -> Path:
    run_dir = paths.runs_dir() / run_name(command, now)
    run_dir.mkdir(parents=True, mode=0o700)
    return run_dir


def keep_runs() -> int:
    """How many run folders to keep: ``LABCTL_KEEP_RUNS`` (default 20), read before a run."""
    raw = os.environ.get("LABCTL_KEEP_RUNS", "").strip()
    if not raw:
        return DEFAULT_KEEP_RUNS
    if not raw.isdigit() or int(raw) < 1:
        raise UsageError(
            f"LABCTL_KEEP_RUNS={raw!r}: give the number of run folders to keep, 1 or more "
            f"(default {DEFAULT_KEEP_RUNS}), or unset it"
        )
    return int(raw)


def prune_runs(keep: int) -> list[Path]:
    """Remove all but the newest ``keep`` run folders; other files there are left alone."""
    root = paths.runs_dir()
    if not root.is_dir():
        return []
    runs = sorted(p for p in root.iterdir() if p.is_dir() and RUN_NAME.match(p.name))
    old = runs[:-keep]
    for path in old:
        shutil.rmtree(path, ignore_errors=True)
    return old


def control_path_dir() -> Path:
    """Where Ansible keeps its SSH master sockets (ControlPersist): the honoured
    ``ANSIBLE_SSH_CONTROL_PATH_DIR``, or Ansible's default."""
    return Path(os.environ.get("ANSIBLE_SSH_CONTROL_PATH_DIR") or "~/.ansible/cp").expanduser()


def close_ssh_masters(since: float, folder: Path | None = None) -> list[Path]:
    """Ask every SSH master in ``folder`` (default: control_path_dir) started since ``since``
    (a run's start) to exit. ssh detaches its ControlPersist master from Ansible's process
    group, so after Ctrl-C it would stay for 60 s."""
    folder = folder or control_path_dir()
    try:
        sockets = [p for p in folder.iterdir() if p.is_socket() and p.stat().st_mtime >= since]
    except OSError:
        return []
    for sock in sockets:
        with suppress(OSError, subprocess.TimeoutExpired):
            subprocess.run(
                ["ssh", "-O", "exit", "-o", f"ControlPath={sock}", "labctl-run"],
                capture_output=True,
                timeout=10,
                check=False,
            )
    return sockets


def _write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    atomicfile.write(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


class _Collector:
    """Turns the event stream into failures and stats, and forwards it to the observer."""

    def __init__(self, observer: Observer | None) -> None:
        self.observer = observer
        self.failures: list[Failure] = []
        self.stats_event: dict[str, Any] = {}

    def __call__(self, event: dict[str, Any]) -> bool:
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        if kind == "runner_on_failed" and not data.get("ignore_errors"):
            failure = Failure(data.get("host", "?"), _task(data), _message(data))
            if _on_laptop(data):
                failure = replace(failure, on_laptop=True)
            self.failures.append(failure)
        elif kind == "runner_on_unreachable":
            self.failures.append(
                Failure(data.get("host", "?"), _task(data), _message(data), unreachable=True)
            )
        elif kind == "playbook_on_stats":
            self.stats_event = data
        if self.observer is not None:
            self.observer.on_event(event)
        return True


def _drop_environment(command_file: Path) -> None:
    """ansible-runner records the whole process environment next to the command line; the
    user's environment may hold unrelated secrets, so keep only the command and its folder."""
    try:
        recorded = json.loads(command_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if isinstance(recorded, dict) and "env" in recorded:
        recorded["env"] = {
            k: v
            for k, v in recorded["env"].items()
            if k.startswith("ANSIBLE_") and not SECRET_NAME.search(k)
        }
        _write_json_atomic(command_file, recorded)


def _on_laptop(data: Mapping[str, Any]) -> bool:
    res = data.get("res")
    delegated = (res.get("_ansible_delegated_vars") if isinstance(res, dict) else None) or {}
    return delegated.get("ansible_connection") == "local" or str(delegated.get("ansible_host")) in (
        "localhost",
        "127.0.0.1",
    )


def _task(data: Mapping[str, Any]) -> str:
    return str(data.get("task") or data.get("task_action") or "?").strip()


def _message(data: Mapping[str, Any]) -> str:
    res = data.get("res") or {}
    if not isinstance(res, dict):
        return str(res)
    if res.get("censored"):
        return "the task failed; its output is hidden (no_log) because it handles secrets"
    generic = str(res.get("msg") or "").strip() == "non-zero return code"
    if generic and res.get("stderr"):
        # a command's own words say why (kubeadm: "[ERROR <check>]: ...", "error: ..."):
        # the error lines when there are any, else its last lines
        lines = [ln.strip() for ln in str(res["stderr"]).splitlines() if ln.strip()]
        errors = [ln for ln in lines if re.search(r"\berror\b", ln, re.IGNORECASE)]
        shown = errors[:3] if errors else lines[-3:]
        return f"exit code {res.get('rc')}: " + " ".join(shown)
    for key in ("msg", "stderr", "module_stderr", "stdout"):
        value = res.get(key)
        if value:
            text = str(value).strip()
            lines = [ln for ln in text.splitlines() if ln.strip()]
            return " ".join(lines[-3:]) if key != "msg" else _plugin_reason(text)
    if res.get("rc") not in (None, 0):
        return f"exit code {res['rc']}"
    return "failed"


#: Ansible's wrapping around a filter plugin's own error: the plugin's words are the reason.
_PLUGIN_FAILED = re.compile(r"^.*?The (?:filter|test|lookup) plugin '[^']+' failed: ", re.DOTALL)


def _plugin_reason(msg: str) -> str:
    return _PLUGIN_FAILED.sub("", msg, count=1)


def unrescued(failures: list[Failure], recap: Mapping[str, HostRecap]) -> list[Failure]:
    """Drop failures a block's rescue handled: Ansible's recap does not count them, and the
    play went on. Without a recap (the run died early) every failure stays."""
    if not recap:
        return failures
    return [f for f in failures if f.unreachable or f.host not in recap or recap[f.host].failed > 0]


def _recap(stats: Mapping[str, Any]) -> dict[str, HostRecap]:
    mapping = {
        "ok": "ok",
        "changed": "changed",
        "failures": "failed",
        "dark": "unreachable",
        "skipped": "skipped",
        "rescued": "rescued",
        "ignored": "ignored",
    }
    recap: dict[str, HostRecap] = {}
    for source, target in mapping.items():
        for host, count in (stats.get(source) or {}).items():
            setattr(recap.setdefault(host, HostRecap()), target, int(count))
    return recap


def run(
    request: RunRequest,
    observer: Observer | None = None,
    cancellation: Cancellation | None = None,
) -> RunResult:
    """Run ``request`` and return what happened. Never raises for a failed play."""
    import ansible_runner  # heavy: imported only when a run really starts

    root = paths.ansible_root()
    keep = keep_runs()
    if request.keep_run:
        run_dir = new_run_dir(request.command)
    else:
        run_dir = Path(tempfile.mkdtemp(prefix=f"labctl-{request.command}-"))
    started = datetime.now(UTC).isoformat()
    cancel = cancellation or Cancellation()
    collector = _Collector(observer)
    extravars = {"lab_kubeconfig": str(paths.kubeconfig()), **request.extravars}
    kwargs: dict[str, Any] = {
        "private_data_dir": str(run_dir),
        "project_dir": str(root / "playbooks"),
        "playbook": request.playbook,
        "extravars": extravars,
        "envvars": ansiblecfg.environment(),
        "suppress_env_files": True,
        "quiet": True,
        "event_handler": collector,
        "cancel_callback": cancel.is_set,
        "ident": "run",
        "verbosity": max(request.verbosity - 1, 0) or None,
    }
    if request.inventory is not None:
        kwargs["inventory"] = str(request.inventory.resolve())
    if request.tags:
        kwargs["tags"] = ",".join(request.tags)
    if request.skip_tags:
        kwargs["skip_tags"] = ",".join(request.skip_tags)
    if request.limit:
        kwargs["limit"] = request.limit
    began = time.time()
    with cancel.installed():
        runner = ansible_runner.run(**kwargs)
    status = str(getattr(runner, "status", "failed"))
    cancelled = status == "canceled" or cancel.is_set()
    if cancelled:  # ansible-runner killed Ansible's process group; SSH masters detach from it
        close_ssh_masters(began)
    stats = collector.stats_event
    _drop_environment(run_dir / "artifacts" / "run" / "command")
    recap = _recap(stats)
    result = RunResult(
        rc=int(getattr(runner, "rc", 1) or 0),
        status="canceled" if cancelled else status,
        recap=recap,
        failures=unrescued(collector.failures, recap),
        stats=dict(stats.get("artifact_data") or {}),
        artifacts=run_dir / "artifacts" / "run",
        cancelled=cancelled,
    )
    kept = request.keep_run or not result.ok  # a failed render keeps its log, as any run does
    if not request.keep_run and kept:
        moved = new_run_dir(request.command)
        moved.rmdir()
        shutil.move(run_dir, moved)
        run_dir = moved
        result.artifacts = run_dir / "artifacts" / "run"
    _write_json_atomic(
        run_dir / "labctl-run.json",
        {
            "command": request.command,
            "playbook": request.playbook,
            "status": result.status,
            "rc": result.rc,
            "started": started,
            "finished": datetime.now(UTC).isoformat(),
            "failures": [f.__dict__ for f in result.failures],
        },
    )
    if kept:
        prune_runs(keep)
    else:
        shutil.rmtree(run_dir, ignore_errors=True)
    return result
