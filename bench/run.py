"""labctl's benchmarks (design.md "Performance targets"), each measured side by side in one run.

P1: `labctl --help` against the --help of a one-command Typer app in the same venv
    (target <= 1.25x), and against `python -c "import typer"` (reported for reference).
P2: an idempotent re-run of `labctl up --only prepare,nfs` on fresh stand-in Pis against the
    first run (target <= 35%, and changed=0).

Usage: .venv/bin/python bench/run.py [--rounds N] [--skip-standins]
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
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-500:]}")
    return took, proc.stdout


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


def p2() -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from standins import docker_problem, fresh_lab

    problem = docker_problem()
    if problem:
        print(f"P2 NOT RUN: {problem}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        lab = fresh_lab(Path(tmp)).up()
        try:
            cmd = [str(BIN / "labctl"), "up", "--only", "prepare,nfs", "--json"]
            first, _ = timed(cmd, lab.env())
            again, out = timed(cmd, lab.env())
        finally:
            lab.down()
    changed = json.loads(out)["changed"]
    ratio = again / first
    verdict = "ok" if ratio <= 0.35 and changed == 0 else "OVER TARGET"
    print(f"  first run {first:.1f} s, re-run {again:.1f} s (changed={changed})")
    print(f"P2 idempotent re-run / first run = {ratio:.0%} (target <= 35%, changed=0: {verdict})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--skip-standins", action="store_true")
    args = parser.parse_args()
    p1(args.rounds)
    if not args.skip_standins:
        p2()


if __name__ == "__main__":
    main()
