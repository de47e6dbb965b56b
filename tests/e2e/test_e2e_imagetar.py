"""The docker-archive writer (e2e/imagetar.py): format, digests, bad input, and real consumers."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import time
import uuid
from pathlib import Path

import pytest
from e2e_support import E2E

IMAGETAR = E2E / "imagetar.py"


def run_imagetar(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(IMAGETAR), *args], capture_output=True, text=True, check=False
    )


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "tool").write_bytes(b"#!/bin/sh\necho tool\n")
    (root / "bin" / "tool").chmod(0o755)
    (root / "bin" / "alias").symlink_to("tool")
    os.link(root / "bin" / "tool", root / "bin" / "hardtool")
    secret = root / "etc" / "private"
    secret.mkdir(parents=True)
    secret.chmod(0o700)
    (secret / "key").write_text("k\n")
    (secret / "key").chmod(0o600)
    os.chown(secret / "key", 1000, 1001)
    return root


def read_archive(path: Path) -> tuple[dict, dict, bytes, bytes]:
    with tarfile.open(path) as outer:
        manifest = json.loads(outer.extractfile("manifest.json").read())[0]
        config_raw = outer.extractfile(manifest["Config"]).read()
        layer_raw = outer.extractfile(manifest["Layers"][0]).read()
    return manifest, json.loads(config_raw), config_raw, layer_raw


def test_archive_layout_and_digests(rootfs: Path, tmp_path: Path) -> None:
    out = tmp_path / "img.tar"
    proc = run_imagetar(
        "--rootfs",
        str(rootfs),
        "--name",
        "docker.io/labctl/tool:t1",
        "--entrypoint",
        '["/bin/tool"]',
        "--cmd",
        '["-x"]',
        "--env",
        "A=1",
        "--port",
        "80/tcp",
        "--output",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    manifest, config, config_raw, layer_raw = read_archive(out)

    assert manifest["RepoTags"] == ["docker.io/labctl/tool:t1"]
    # content addressing: the config file is named by its digest, diff_id is the layer's digest
    assert manifest["Config"] == hashlib.sha256(config_raw).hexdigest() + ".json"
    layer_digest = hashlib.sha256(layer_raw).hexdigest()
    assert config["rootfs"] == {"type": "layers", "diff_ids": [f"sha256:{layer_digest}"]}
    assert manifest["Layers"] == [f"{layer_digest}/layer.tar"]
    assert config["os"] == "linux"
    assert config["config"]["Entrypoint"] == ["/bin/tool"]
    assert config["config"]["Cmd"] == ["-x"]
    assert config["config"]["Env"] == ["A=1"]
    assert config["config"]["ExposedPorts"] == {"80/tcp": {}}


def test_layer_keeps_types_modes_and_numeric_owners(rootfs: Path, tmp_path: Path) -> None:
    out = tmp_path / "img.tar"
    assert (
        run_imagetar(
            "--rootfs",
            str(rootfs),
            "--name",
            "labctl/tool:t1",
            "--cmd",
            '["/bin/tool"]',
            "--output",
            str(out),
        ).returncode
        == 0
    )
    _, _, _, layer_raw = read_archive(out)
    layer_path = tmp_path / "layer.tar"
    layer_path.write_bytes(layer_raw)
    with tarfile.open(layer_path) as layer:
        members = {m.name: m for m in layer.getmembers()}
    assert not any(name.startswith(("/", "./")) for name in members)
    assert members["bin/alias"].issym() and members["bin/alias"].linkname == "tool"
    # one inode, two names: the first written is the file, the second a hard link to it
    first, second = members["bin/hardtool"], members["bin/tool"]
    assert first.isreg() and first.mode == 0o755 and first.size > 0
    assert second.islnk() and second.linkname == "bin/hardtool"
    assert members["etc/private"].isdir() and members["etc/private"].mode == 0o700
    key = members["etc/private/key"]
    assert (key.mode, key.uid, key.gid, key.uname, key.gname) == (0o600, 1000, 1001, "", "")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--rootfs", "/nonexistent-rootfs"], "--rootfs /nonexistent-rootfs: not a directory"),
        (["--name", "NoTag"], "not an image name with an explicit tag"),
        (["--entrypoint", "/pause"], "--entrypoint must be a JSON list of strings"),
        (["--port", "80"], "expected PORT/PROTO"),
        (["--env", "NOEQUALS"], "expected KEY=VALUE"),
    ],
)
def test_bad_input_one_line_exit_2(
    rootfs: Path, tmp_path: Path, args: list[str], needle: str
) -> None:
    base = {"--rootfs": str(rootfs), "--name": "labctl/x:1", "--cmd": '["/x"]'}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    flat = [item for pair in base.items() for item in pair]
    out = tmp_path / "never.tar"
    proc = run_imagetar(*flat, "--output", str(out))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()


@pytest.mark.docker
def test_docker_loads_and_runs_the_pause_image(
    docker_engine: None, pause_binary: Path, tmp_path: Path
) -> None:
    """A real consumer: Docker loads the archive under its exact name and runs /pause,
    which stops at once on `docker stop` (SIGTERM), not after the kill timeout."""
    root = tmp_path / "pause-rootfs"
    root.mkdir()
    (root / "pause").write_bytes(pause_binary.read_bytes())
    (root / "pause").chmod(0o755)
    name = f"docker.io/labctl-test/pause:{uuid.uuid4().hex[:12]}"
    out = tmp_path / "pause.tar"
    assert (
        run_imagetar(
            "--rootfs",
            str(root),
            "--name",
            name,
            "--entrypoint",
            '["/pause"]',
            "--output",
            str(out),
        ).returncode
        == 0
    )
    container = ""
    try:
        subprocess.run(["docker", "load", "-i", str(out)], check=True, capture_output=True)
        inspect = subprocess.run(
            ["docker", "image", "inspect", name, "--format", "{{json .Config.Entrypoint}}"],
            check=True,
            capture_output=True,
            text=True,
        )
        assert json.loads(inspect.stdout) == ["/pause"]
        container = subprocess.run(
            ["docker", "run", "-d", "--network", "none", name],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        time.sleep(0.5)
        running = subprocess.run(
            ["docker", "inspect", container, "--format", "{{.State.Running}}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        assert running == "true"
        started = time.monotonic()
        subprocess.run(["docker", "stop", "-t", "20", container], check=True, capture_output=True)
        assert time.monotonic() - started < 10, "pause ignored SIGTERM"
        code = subprocess.run(
            ["docker", "inspect", container, "--format", "{{.State.ExitCode}}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        assert code == "0"
    finally:
        if container:
            subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False)
        subprocess.run(["docker", "rmi", "-f", name], capture_output=True, check=False)
