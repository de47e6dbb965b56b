"""labctl's benchmarks (design.md "Performance targets"), each measured side by side in one run.

P1: `labctl --help` against the --help of a one-command Typer app in the same venv
    (target <= 1.25x), and against `python -c "import typer"` (reported for reference).
P2: an idempotent re-run of `labctl up --only prepare,nfs` on fresh stand-in Pis against the
    first run (target <= 35%, and changed=0).
P3: the real lab (fresh stand-ins in Kubernetes-node mode, the offline mirror of e2e/build.sh):
    `labctl up --only cluster` on prepared stand-ins against its own floor, the time spent inside
    kubeadm init, kubeadm join and the wait for nodes Ready, taken from the same run's events
    (target: the run <= 1.5x the floor); the first full `up` (prepare,nfs then cluster) is
    reported; the idempotent re-run of `up --only prepare,nfs,cluster` against it (target <= 35%,
    changed=0).
P4: the demos on P3's lab, after `labctl up --only addons` (MetalLB 0.16.1, Traefik): each demo's
    verification time after its pods are Ready, the time inside its check tasks
    (roles/service_demo/tasks/checks/) from its run's events (target <= 10 s per demo); and
    `labctl demo all`'s wall time, with the share spent before Ansible's first event (start-up)
    and in the wait tasks.

Usage: .venv/bin/python bench/run.py [--rounds N] [--skip-standins] [--skip-real-lab]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    took, out, _ = timed_both(cmd, env)
    return took, out


def timed_both(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, str, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-500:]}")
    return took, proc.stdout, proc.stderr


def p1(rounds: int) -> None:
    cases = {
        "labctl --help": [str(BIN / "labctl"), "--help"],
        "typer one-command --help": [
            sys.executable,
            str(ROOT / "bench" / "typer_floor.py"),
            "--help",
        ],
        "python -c 'import typer'": [sys.executable, "-c", "import typer"],
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):  # interleaved, so drift hits every case alike
        for name, cmd in cases.items():
            times[name].append(timed(cmd)[0])
    med = {name: statistics.median(values) for name, values in times.items()}
    for name, value in med.items():
        print(f"  {name:28} median {value * 1000:7.1f} ms over {rounds} runs")
    floor = med["labctl --help"] / med["typer one-command --help"]
    bare = med["labctl --help"] / med["python -c 'import typer'"]
    verdict = "ok" if floor <= 1.25 else "OVER TARGET"
    print(f"P1 labctl --help / Typer app --help = {floor:.2f}x (target <= 1.25x: {verdict})")
    print(f"   labctl --help / import typer     = {bare:.2f}x (reference only)")


def mirror_or_reason() -> tuple[object | None, str]:
    import mirror
    from standins import docker_problem

    problem = docker_problem() or mirror.build_problem()
    if problem:
        return None, problem
    return mirror.Mirror(mirror.offline_dir()).start(), ""


def p2() -> None:
    from standins import fresh_lab

    served, problem = mirror_or_reason()
    if served is None:
        print(f"P2 NOT RUN: {problem}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        lab = fresh_lab(Path(tmp), lab_vars=served.inventory_vars()).up()
        try:
            cmd = [str(BIN / "labctl"), "up", "--only", "prepare,nfs", "--json"]
            first, _ = timed(cmd, lab.env())
            again, out = timed(cmd, lab.env())
            slowest = slowest_tasks(run_events(json.loads(out)["artifacts"]))
        finally:
            lab.down()
            served.stop()
    changed = json.loads(out)["changed"]
    ratio = again / first
    verdict = "ok" if ratio <= 0.35 and changed == 0 else "OVER TARGET"
    print(f"  first run {first:.1f} s, re-run {again:.1f} s (changed={changed})")
    print(f"P2 idempotent re-run / first run = {ratio:.0%} (target <= 35%, changed=0: {verdict})")
    print("   the re-run's slowest tasks (longest host, seconds):")
    for seconds, task in slowest:
        print(f"   {seconds:6.2f}  {task}")


def slowest_tasks(events: list[dict], count: int = 10) -> list[tuple[float, str]]:
    """The ``count`` tasks of a run that took longest on their slowest host."""
    labelled = [
        (seconds, f"{data.get('role', '')}: {data.get('task', '')}".strip(": "))
        for seconds, data in finished_tasks(events).values()
    ]
    return sorted(labelled, reverse=True)[:count]


FLOOR_TASKS = (
    "Initialise the control plane with kubeadm (once)",
    "Join the cluster",
    "Wait for the control-plane node to be Ready",
    "Wait for the worker to be Ready",
)


def floor_seconds(events: list[dict]) -> float:
    """Seconds spent inside kubeadm init, kubeadm join and the Ready waits, from the run's own
    events (parallel joins count once: the longest)."""
    per_task: dict[str, float] = {}
    for event in events:
        data = event.get("event_data", {})
        if event.get("event") == "runner_on_ok" and data.get("task") in FLOOR_TASKS:
            per_task[data["task"]] = max(per_task.get(data["task"], 0.0), data.get("duration", 0.0))
    return sum(per_task.values())


def p3() -> None:
    from e2e_support import read_host_sysctls, real_lab_standins, restore_host_sysctls

    served, problem = mirror_or_reason()
    if served is None:
        print(f"P3 NOT RUN: {problem}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        host_sysctls = read_host_sysctls()  # kubelet in the privileged stand-ins writes some
        lab = real_lab_standins(Path(tmp), served, prefix="labctl-bench", octet=10).up()
        try:
            up = [str(BIN / "labctl"), "up", "--json", "--only"]
            prep, _ = timed([*up, "prepare,nfs"], lab.env())
            cluster, out = timed([*up, "cluster"], lab.env())
            events = run_events(json.loads(out)["artifacts"])
            floor = floor_seconds(events)
            slowest = slowest_tasks(events)
            delivery = task_seconds(events, "image_bundles")
            if floor <= 0:
                raise SystemExit(f"P3: no {', '.join(FLOOR_TASKS)} events in that run")
            again, out = timed([*up, "prepare,nfs,cluster"], lab.env())
            timed([*up, "addons"], lab.env())
            demo_rows = p4(lab.env())
        finally:
            lab.down()
            restore_host_sysctls(host_sysctls)
            served.stop()
    first = prep + cluster
    changed = json.loads(out)["changed"]
    print(f"  up --only cluster {cluster:.1f} s; kubeadm init + join + Ready wait {floor:.1f} s")
    verdict = "ok" if cluster <= 1.5 * floor else "OVER TARGET"
    print(f"P3a up --only cluster / its floor = {cluster / floor:.2f}x (target <= 1.5x: {verdict})")
    print(
        f"   image delivery (image_bundles: copy + import, the offline stand-in for kubeadm's "
        f"pulls) {delivery:.1f} s; against floor + delivery: {cluster / (floor + delivery):.2f}x"
    )
    print("   that run's slowest tasks (longest host, seconds):")
    for seconds, task in slowest:
        print(f"   {seconds:6.2f}  {task}")
    print(
        f"P3b first full up from fresh stand-ins: {first:.1f} s (prepare,nfs {prep:.1f} s + cluster)"
    )
    ratio = again / first
    verdict = "ok" if ratio <= 0.35 and changed == 0 else "OVER TARGET"
    print(
        f"P3c idempotent re-run / first run = {ratio:.0%} ({again:.1f} s, changed={changed}; "
        f"target <= 35%: {verdict})"
    )
    for line in demo_rows:
        print(line)


DEMOS = ("externalip", "nodeport", "loadbalancer", "headless", "externalname", "none-selector",
         "ingress")  # fmt: skip


def run_events(artifacts: str) -> list[dict]:
    root = Path(artifacts)
    return [json.loads(p.read_text()) for p in root.rglob("job_events/*.json")]


def finished_tasks(events: list[dict]) -> dict[str, tuple[float, dict]]:
    """Each finished task once (by its uuid): its longest host's duration and that event's data."""
    per_task: dict[str, tuple[float, dict]] = {}
    for event in events:
        data = event.get("event_data", {})
        if event.get("event") not in ("runner_on_ok", "runner_on_failed", "runner_on_skipped"):
            continue
        key = data.get("task_uuid", "") or data.get("task", "")
        seconds = float(data.get("duration", 0.0) or 0.0)
        if key not in per_task or seconds > per_task[key][0]:
            per_task[key] = (seconds, data)
    return per_task


def task_seconds(events: list[dict], where: str = "", name: str = "") -> float:
    """Summed durations of the finished tasks whose file path contains ``where`` and whose name
    contains ``name`` (one host per task: these run once)."""
    return sum(
        seconds
        for seconds, data in finished_tasks(events).values()
        if where in data.get("task_path", "") and name.lower() in data.get("task", "").lower()
    )


def p4(env: dict[str, str]) -> list[str]:
    import datetime

    rows = []
    demo = [str(BIN / "labctl"), "demo"]
    for name in DEMOS:
        _, out = timed([*demo, name, "--json"], env)
        checks = task_seconds(run_events(json.loads(out)["artifacts"]), "/tasks/checks/")
        verdict = "ok" if checks <= 10 else "OVER TARGET"
        rows.append(
            f"P4a demo {name}: checks {checks:.1f} s after Ready (target <= 10 s: {verdict})"
        )
    started = time.time()
    wall, out, table = timed_both([*demo, "all", "--json"], env)
    events = run_events(json.loads(out)["artifacts"])
    first = min(
        datetime.datetime.fromisoformat(e["created"]).replace(tzinfo=datetime.UTC)
        for e in events
        if e.get("created")
    )
    startup = first.timestamp() - started
    waits = task_seconds(events, name="wait")
    rows.append(
        f"P4b demo all: {wall:.1f} s wall; Ansible start-up {startup:.1f} s "
        f"({startup / wall:.0%}), wait tasks {waits:.1f} s ({waits / wall:.0%})"
    )
    rows.append("P4c the report of that demo all (its table, on stderr with --json):")
    rows += [f"    {line}" for line in table.splitlines()]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--skip-standins", action="store_true")
    parser.add_argument("--skip-real-lab", action="store_true")
    args = parser.parse_args()
    sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "e2e")]  # the stand-in helpers
    p1(args.rounds)
    if not args.skip_standins:
        p2()
    if not args.skip_real_lab:
        p3()


if __name__ == "__main__":
    main()
