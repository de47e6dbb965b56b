"""The runner against real (local) plays: what counts as a failure, and what it reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from labctl.runner import RunRequest, run

PLAY = """---
- name: A local play
  hosts: localhost
  gather_facts: false
  tasks:
    - name: A step that may fail
      block:
        - name: Fail on purpose
          ansible.builtin.fail:
            msg: the disk is on fire
      rescue:
        - name: Recover
          ansible.builtin.debug:
            msg: recovered
          when: {rescue}
    - name: Publish
      ansible.builtin.set_stats:
        data:
          probe: {{answer: 42}}
"""


@pytest.fixture(autouse=True)
def private_state(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def play(tmp_path: Path, rescue: bool):
    path = tmp_path / "play.yml"
    # a rescue whose only task is skipped still rescues; "false" makes it re-raise instead
    body = PLAY.replace("{rescue}", "true")
    if not rescue:
        body = body.replace("      rescue:\n", "      always:\n")
    path.write_text(body.replace("{{answer: 42}}", "{answer: 42}"))
    return run(RunRequest("test", str(path), None))


def test_a_rescued_failure_is_not_a_failure(tmp_path):
    result = play(tmp_path, rescue=True)
    assert result.ok, result.failures
    assert result.failures == []
    assert result.recap["localhost"].rescued == 1
    assert result.stats == {"probe": {"answer": 42}}


def test_a_real_failure_names_host_task_and_reason(tmp_path):
    result = play(tmp_path, rescue=False)
    assert not result.ok
    (failure,) = result.failures
    assert (failure.host, failure.task, failure.message) == (
        "localhost",
        "Fail on purpose",
        "the disk is on fire",
    )
    record = (result.artifacts.parent.parent / "labctl-run.json").read_text()
    assert '"status": "failed"' in record
