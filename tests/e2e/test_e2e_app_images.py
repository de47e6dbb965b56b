"""The app images e2e/build.sh makes from debootstrap root filesystems, run for real in Docker:
nginx serves the pod name an init step wrote (as the demos' initContainer does), redis answers
on every interface, the dnsutils image has dig and curl and idles."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator

import pytest
from e2e_support import BUILD_SH, e2e_cache

pytestmark = pytest.mark.docker


def docker(*args: str, check: bool = True) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout.strip()


@pytest.fixture(scope="session")
def images(docker_engine: None, versions: dict[str, str]) -> Iterator[dict[str, str]]:
    """Build the images (cached) and load them into Docker under their exact names."""
    proc = subprocess.run(
        ["bash", str(BUILD_SH), "images"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    names = {
        "nginx": versions["E2E_IMAGE_NGINX"],
        "redis": versions["E2E_IMAGE_REDIS"],
        "dnsutils": versions["E2E_IMAGE_DNSUTILS"],
    }
    for short in names:
        docker("load", "-i", str(e2e_cache() / "images" / f"{short}.tar"))
    yield names
    for name in names.values():
        docker("rmi", "-f", name, check=False)


@pytest.fixture
def cleanup() -> Iterator[list[list[str]]]:
    undo: list[list[str]] = []
    yield undo
    for args in reversed(undo):
        docker(*args, check=False)


def container_ip(container: str) -> str:
    return docker(
        "inspect", container, "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}"
    )


def wait_http(url: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_names_are_exactly_those_in_versions_env(images: dict[str, str]) -> None:
    for name in images.values():
        tags = json.loads(docker("image", "inspect", name, "--format", "{{json .RepoTags}}"))
        short = name.removeprefix("docker.io/")
        assert tags == [short], f"{name}: loaded as {tags}"


def test_nginx_serves_what_the_init_step_wrote(
    images: dict[str, str], cleanup: list[list[str]]
) -> None:
    volume = f"labctl-e2e-test-{uuid.uuid4().hex[:8]}"
    pod = f"sample-pod-{uuid.uuid4().hex[:5]}"
    cleanup.append(["volume", "rm", "-f", volume])
    # the demos' initContainer: same image, writes the pod name into the shared web root
    docker(
        "run",
        "--rm",
        "--hostname",
        pod,
        "-v",
        f"{volume}:/usr/share/nginx/html",
        images["nginx"],
        "sh",
        "-c",
        "hostname > /usr/share/nginx/html/index.html",
    )
    container = docker("run", "-d", "-v", f"{volume}:/usr/share/nginx/html", images["nginx"])
    cleanup.append(["rm", "-f", container])
    body = wait_http(f"http://{container_ip(container)}/")
    assert body.strip() == pod
    assert "GET / HTTP/1.1" in docker("logs", container), "access log not on stdout"


def test_redis_answers_on_all_interfaces(images: dict[str, str], cleanup: list[list[str]]) -> None:
    container = docker("run", "-d", images["redis"])
    cleanup.append(["rm", "-f", container])
    address = (container_ip(container), 6379)
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(address, timeout=2) as conn:
                conn.sendall(b"PING\r\n")
                reply = conn.recv(64)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    assert reply == b"+PONG\r\n"


def test_dnsutils_has_dig_and_curl_and_idles(
    images: dict[str, str], cleanup: list[list[str]]
) -> None:
    versions_out = subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            "--network",
            "none",
            images["dnsutils"],
            "sh",
            "-c",
            "dig -v 2>&1; curl --version | head -n 1",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "DiG 9." in versions_out and versions_out.count("curl ") >= 1
    container = docker("run", "-d", "--network", "none", images["dnsutils"])
    cleanup.append(["rm", "-f", container])
    time.sleep(1)
    assert docker("inspect", container, "--format", "{{.State.Running}}") == "true"


def test_no_machine_id_is_baked_in(images: dict[str, str]) -> None:
    for name in images.values():
        out = docker(
            "run", "--rm", "--network", "none", "--entrypoint", "", name, "cat", "/etc/machine-id"
        )
        assert out == "", f"{name} ships a machine-id"
