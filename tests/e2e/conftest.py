"""The real lab (marker ``e2e``): four stand-in Pis in Kubernetes-node mode that labctl's own
roles turn into a real kubeadm cluster, offline.

The fixture only starts the containers (``--cgroupns=private``, a volume for
``/var/lib/containerd``; the image makes ``/`` shared at boot, as a booted Pi has it) and
authorises the SSH key. Everything else (containerd from the mirror's containerd.io, the
Kubernetes packages, the image bundles, kubeadm init and join, flannel, CoreDNS) is done by
``labctl up`` through the real CLI. Tests never apply objects themselves: they read the API.

One lab per session: the tests of the real lab, its demos and its faults share it, in file
order (``test_e2e_1_lab.py`` builds it). The tier runs after every other test (see
``pytest_collection_modifyitems`` in ``tests/conftest.py``): a running control plane on two
cores starved the stand-ins other tests boot (seen in CI). At teardown the host sysctls
kubelet changed are put back. Without a Docker engine or root the tier is skipped
with ``e2e NOT RUN: <reason>``; with ``LABCTL_REQUIRE_E2E=1`` (CI) that fails instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import RealLab, read_host_sysctls, real_lab_standins, restore_host_sysctls
from mirror import Mirror, require_e2e


@pytest.fixture(scope="session")
def real_lab(
    docker_available: None,
    mirror: Mirror,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RealLab]:
    """The four stand-ins of the real lab, booted and reachable, not yet configured."""
    if os.geteuid() != 0:
        reason = "e2e NOT RUN: not root (the lab needs dockerd and debootstrap)"
        if require_e2e():
            pytest.fail(f"LABCTL_REQUIRE_E2E=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    standins = real_lab_standins(tmp_path_factory.mktemp("real-lab"), mirror)
    host_sysctls = read_host_sysctls()
    standins.up()
    try:
        yield RealLab(standins)
    finally:
        if os.environ.get("LABCTL_E2E_KEEP") == "1":  # debugging: leave the lab running
            print(
                f"\nLABCTL_E2E_KEEP=1: lab left running; env: {standins.env()['LABCTL_INVENTORY']}"
            )
        else:
            standins.down()
            restore_host_sysctls(host_sysctls)


@pytest.fixture(scope="session")
def docker_engine() -> None:
    from standins import engine_problem

    problem = engine_problem()
    if problem is not None:
        if os.environ.get("LABCTL_REQUIRE_DOCKER") == "1":
            pytest.fail(f"LABCTL_REQUIRE_DOCKER=1 but {problem}")
        pytest.skip(f"needs Docker: {problem}")


@pytest.fixture(scope="session")
def pause_binary(mirror: Mirror, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pause program of the k8s.io/kubernetes module (build/pause/linux/pause.c, kept by
    e2e/build.sh), compiled as e2e/build.sh compiles it."""
    import shutil
    import subprocess

    sources = sorted(Path(mirror_mod_cache()).glob("bin/kubernetes-*/pause.c"))
    if shutil.which("gcc") is None or not sources:
        pytest.skip("needs gcc and e2e/build.sh's Kubernetes build (pause.c)")
    out = tmp_path_factory.mktemp("pause") / "pause"
    subprocess.run(["gcc", "-static", "-O2", "-o", str(out), str(sources[-1])], check=True)
    return out


def mirror_mod_cache() -> str:
    return os.environ.get("LABCTL_E2E_CACHE", "/var/cache/labctl-e2e")
