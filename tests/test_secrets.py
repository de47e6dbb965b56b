"""Secrets never leak: a known marker planted as the kubeconfig and as the join token must
appear nowhere in what labctl prints, in the run's artifacts or in the events.

The roles' own task files run through labctl's runner over real SSH against a stand-in
master: the kubeconfig really is read on the Pi and written on the laptop (mode 0600); the
join really is attempted and fails (no kubeadm on the stand-ins), which is the hardest case,
since a failing task is where output usually gets printed.
"""

from __future__ import annotations

import base64
import io
import os
import secrets
from pathlib import Path

import pytest
from rich.console import Console


def run_with_events(lab, playbook: Path, monkeypatch):
    from labctl import report
    from labctl.progress import Progress
    from labctl.runner import RunRequest, run

    for key, value in lab.env().items():
        monkeypatch.setenv(key, value)
    events: list[dict] = []

    class Recorder(Progress):
        def on_event(self, event):
            events.append(event)
            super().on_event(event)

    out = io.StringIO()
    console = Console(file=out, width=200)
    with Recorder(console, "secrets", verbose=True) as progress:
        result = run(RunRequest("secrets", str(playbook), lab.inventory_path), observer=progress)
    report.print_recap(console, result, "secrets")
    return result, events, out.getvalue()


def forms(marker: str) -> set[str]:
    """The marker as text and as it appears inside base64 (slurp returns file contents so),
    at each of the three byte alignments."""
    found = {marker}
    for pad in range(3):
        encoded = base64.b64encode(b"x" * pad + marker.encode()).decode()
        found.add(encoded[4:-4])  # the groups that only the marker's bytes decide
    return found


def assert_nowhere(marker: str, result, events, printed: str) -> None:
    run_dir = result.artifacts.parent.parent
    files = {p: p.read_text(errors="replace") for p in run_dir.rglob("*") if p.is_file()}
    for form in forms(marker):
        assert form not in printed
        assert form not in repr(events)
        assert form not in repr(result.failures) + repr(result.stats)
        for path, text in files.items():
            assert form not in text, path


@pytest.fixture
def master(fresh_standins):
    return fresh_standins("raspi001", "raspi002")


def test_kubeconfig_is_copied_0600_and_never_logged(master, tmp_path, monkeypatch):
    marker = f"kubeconfig-marker-{secrets.token_hex(8)}"
    master.exec("raspi001", "sh", "-c",
                f"mkdir -p /etc/kubernetes && printf 'apiVersion: v1\\n# {marker}\\n' "
                "> /etc/kubernetes/admin.conf && chmod 600 /etc/kubernetes/admin.conf",
                check=True)  # fmt: skip
    dest = tmp_path / "laptop" / "kubeconfig"
    playbook = tmp_path / "kubeconfig.yml"
    playbook.write_text(
        f"""---
- name: Fetch the kubeconfig as labctl up does
  hosts: master
  gather_facts: false
  become: true
  tasks:
    - name: The role's kubeconfig tasks
      ansible.builtin.include_role:
        name: k8s_control_plane
        tasks_from: kubeconfig.yml
      vars:
        k8s_control_plane_kubeconfig_dest: "{dest}"
"""
    )
    result, events, printed = run_with_events(master, playbook, monkeypatch)
    assert result.ok, printed
    assert marker in dest.read_text()
    assert dest.stat().st_mode & 0o777 == 0o600
    home = master.exec("raspi001", "stat", "-c", "%a %U", "/home/pi/.kube/config").stdout.split()
    assert home == ["600", "pi"]
    assert_nowhere(marker, result, events, printed)


def test_join_token_stays_hidden_even_when_the_join_fails(master, tmp_path, monkeypatch):
    token = f"abcdef.{secrets.token_hex(8)}"
    playbook = tmp_path / "join.yml"
    playbook.write_text(
        f"""---
- name: Join as labctl up does, with a planted join command
  hosts: workers
  gather_facts: false
  become: true
  tasks:
    - name: The role's join task
      ansible.builtin.include_role:
        name: k8s_worker
        tasks_from: join.yml
      vars:
        _k8s_worker_kubelet_conf: {{stat: {{exists: false}}}}
        _k8s_worker_join:
          stdout: "kubeadm join 10.0.0.1:6443 --token {token} --discovery-token-ca-cert-hash sha256:00"
"""
    )
    result, events, printed = run_with_events(master, playbook, monkeypatch)
    assert not result.ok  # the stand-ins have no kubeadm
    assert [f.host for f in result.failures] == ["raspi002"]
    assert "hidden (no_log)" in result.failures[0].message
    assert_nowhere(token, result, events, printed)
    assert os.path.basename(str(result.artifacts)) == "run"
