"""Files labctl writes are never written through a leftover or planted temporary file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from labctl import atomicfile, trust


def test_a_planted_symlink_at_the_old_temporary_name_is_not_followed(tmp_path):
    target = tmp_path / "known_hosts"
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    for leftover in (".known_hosts.tmp", ".known_hosts.labctl-tmp"):
        (tmp_path / leftover).symlink_to(victim)
    key = trust.ScannedKey("raspi001", "raspi001 ssh-ed25519 AAAA", "SHA256:x", "new")
    trust.remember([key], known_hosts=target)
    assert victim.read_text() == "precious\n"
    assert not target.is_symlink()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert "raspi001 ssh-ed25519 AAAA" in target.read_text()
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    assert leftovers == [".known_hosts.labctl-tmp", ".known_hosts.tmp", "known_hosts", "victim"]


def test_the_temporary_file_is_private_before_it_is_renamed(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append((Path(src).name, stat.S_IMODE(os.stat(src).st_mode)))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    atomicfile.write(tmp_path / "kubeconfig", "client-key-data: x\n")
    ((name, mode),) = seen
    assert mode == 0o600 and name.startswith(".kubeconfig.") and name != ".kubeconfig.tmp"
    assert stat.S_IMODE((tmp_path / "kubeconfig").stat().st_mode) == 0o600
