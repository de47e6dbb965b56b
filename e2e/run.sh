#!/usr/bin/env bash
# The real-cluster tier in one command: build what is missing (cached), then run the tests
# marked e2e against a single k3s node on this machine.
#
#   e2e/run.sh                build (cold: up to an hour on 2 cores), then pytest -m e2e
#   e2e/run.sh --cached-only  never build: when the cache is not ready, print
#                             "e2e NOT RUN: <reason>" and exit 0 (what .ci/run calls)
#
# Extra arguments after the option go to pytest. Exit codes: pytest's; 3 when the build is
# blocked (the Go module proxy refuses k3s), after printing the NOT RUN line.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
python=${LABCTL_PYTHON:-$root/.venv/bin/python}
[[ -x $python ]] || python=python3

cached_only=false
if [[ ${1:-} == --cached-only ]]; then cached_only=true; shift; fi

if ! $cached_only; then
  rc=0
  "$here/build.sh" all || rc=$?
  if ((rc == 3)); then
    echo "e2e NOT RUN: $("$here/build.sh" status || true)"
    exit 3
  fi
  ((rc == 0)) || exit "$rc"
fi

if ! reason=$("$here/build.sh" status); then
  echo "e2e NOT RUN: $reason"
  exit 0
fi
cd "$root"
exec "$python" -m pytest -m e2e tests/e2e "$@"
