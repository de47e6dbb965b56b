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


def test_a_failed_command_is_explained_by_its_own_error_lines() -> None:
    from labctl.runner import _message

    stderr = (
        "\t[WARNING Service-kubelet]: kubelet service is not enabled\n"
        "[preflight] Some fatal errors occurred:\n"
        "\t[ERROR SystemVerification]: cgroups v1 support is deprecated\n"
        "error: error execution phase preflight: preflight checks failed\n"
        "To see the stack trace of this error execute with --v=5 or higher\n"
    )
    message = _message({"res": {"msg": "non-zero return code", "rc": 1, "stderr": stderr}})
    assert message.startswith("exit code 1: [ERROR SystemVerification]: cgroups v1")
    assert "error execution phase preflight" in message
    assert "WARNING" not in message
    plain = _message({"res": {"msg": "non-zero return code", "rc": 3, "stderr": "a\nb\nc\nd"}})
    assert plain == "exit code 3: b c d"


DELEGATED = """---
- name: Two Pis whose play asks the laptop
  hosts: pis
  gather_facts: false
  tasks:
    - name: Ask the API
      ansible.builtin.fail:
        msg: the API server refused the connection
      delegate_to: localhost
"""


def test_a_failure_on_the_laptop_is_blamed_on_the_laptop_once(tmp_path):
    from labctl import report

    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "pis:\n  hosts:\n    raspi001: {ansible_connection: local}\n"
        "    raspi002: {ansible_connection: local}\n"
    )
    path = tmp_path / "play.yml"
    path.write_text(DELEGATED)
    result = run(RunRequest("test", str(path), inventory))
    assert {(f.host, f.on_laptop) for f in result.failures} == {
        ("raspi001", True),
        ("raspi002", True),
    }
    lines = report.failure_lines(result)
    assert len(lines) == 1, lines
    assert lines[0].startswith("FAILED on this laptop (for raspi00"), lines
    assert "Ask the API" in lines[0] and "refused the connection" in lines[0]


def test_the_recorded_command_keeps_no_secret_looking_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", "/home/me/.vault-pass")
    monkeypatch.setenv("ANSIBLE_GALAXY_TOKEN", "ghp-secret-token")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-other-secret")
    result = play(tmp_path, rescue=True)
    text = (result.artifacts / "command").read_text()
    for secret in ("/home/me/.vault-pass", "ghp-secret-token", "ghp-other-secret"):
        assert secret not in text
    assert "ANSIBLE_HOST_KEY_CHECKING" in text  # labctl's own settings stay on record
