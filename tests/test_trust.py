"""`labctl trust`: first contact with host-key checking on, and refusal of a changed key."""

from __future__ import annotations

import subprocess

import clirun


def labctl(lab, *args: str) -> subprocess.CompletedProcess[str]:
    return clirun.run(*args, env=lab.env())


def test_trust_run_then_refuse_a_changed_key(fresh_standins):
    lab = fresh_standins("raspi001", "raspi002")
    lab.known_hosts_path.unlink()  # a first contact: labctl knows no key yet

    before = labctl(lab, "up", "--only", "prepare")
    assert before.returncode == 1, before.stdout + before.stderr
    assert "labctl does not know the SSH host key of raspi001" in before.stdout

    asked = labctl(lab, "trust")
    assert asked.returncode == 2
    assert "--yes" in asked.stderr
    assert not lab.known_hosts_path.exists()

    trusted = labctl(lab, "trust", "--yes")
    assert trusted.returncode == 0, trusted.stdout + trusted.stderr
    assert trusted.stdout.count("new ") >= 2 and "SHA256:" in trusted.stdout
    lines = lab.known_hosts_path.read_text().splitlines()
    assert {ln.split()[0] for ln in lines} == set(lab.hosts.values())
    assert lab.known_hosts_path.stat().st_mode & 0o777 == 0o600

    again = labctl(lab, "trust", "--yes")
    assert again.returncode == 0
    assert "already trusted" in again.stdout

    reachable = labctl(lab, "doctor", "--json")
    assert "Host key verification failed" not in reachable.stdout + reachable.stderr
    assert "UNREACHABLE" not in reachable.stderr

    # a reflashed Pi: new host keys, and a reboot that ends every SSH session to the old one
    lab.regenerate_host_key("raspi002")
    lab.stop("raspi002")
    lab.start("raspi002")
    refused = labctl(lab, "trust", "--yes")
    assert refused.returncode == 1
    assert "raspi002 changed since you trusted it" in refused.stderr
    assert "ssh-keygen -R" in refused.stderr

    run = labctl(lab, "up", "--only", "prepare")
    assert run.returncode == 1
    assert "UNREACHABLE raspi002" in run.stdout
    assert "changed since labctl trusted it" in run.stdout
