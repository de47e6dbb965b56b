"""The real lab (marker ``e2e``): four stand-in Pis in Kubernetes-node mode that labctl's own
roles turn into a real kubeadm cluster, offline.

The fixture only starts the containers (``--cgroupns=private``, a volume for
``/var/lib/containerd``; the image makes ``/`` shared at boot, as a booted Pi has it) and
authorises the SSH key. Everything else (containerd from the mirror's containerd.io, the
Kubernetes packages, the image bundles, kubeadm init and join, flannel, CoreDNS) is done by
``labctl up`` through the real CLI. Tests never apply objects themselves: they read the API.

One lab per session: the tests of the real lab, its demos and its faults share it, in file
order (``test_e2e_1_lab.py`` builds it). Without a Docker engine or root the tier is skipped
with ``e2e NOT RUN: <reason>``; with ``LABCTL_REQUIRE_E2E=1`` (CI) that fails instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import E2E, RealLab
from mirror import Mirror, require_e2e
from standins import HOSTS, MACHINE_KUBE_VARS, StandinLab

SUBNET = "10.77.9.0/24"
#: Docker hands out addresses from the lower half only; the MetalLB pool lies above it.
IP_RANGE = "10.77.9.0/25"
POOL = "10.77.9.200-10.77.9.220"


def lab_vars(mirror: Mirror) -> dict[str, object]:
    """The real lab's inventory settings: the mirror, this machine's settings, and the
    documented offline features (image bundles, a CoreDNS without forwarding, flannel's
    test images and the CNI version its plugin speaks)."""
    return {
        **mirror.inventory_vars(),
        **MACHINE_KUBE_VARS,
        "lab_image_bundles": [str(p) for p in mirror.images],
        "k8s_control_plane_coredns_manifest": str(E2E / "manifests" / "coredns.yaml"),
        # flanneld here is v0.28.10 built with a build-only stub, its CNI plugin the last
        # containernetworking/plugins release with meta/flannel: honest names of their own
        "k8s_control_plane_flannel_images": {
            "ghcr.io/flannel-io/flannel": "docker.io/labctl/flannel:v0.28.10",
            "ghcr.io/flannel-io/flannel-cni-plugin": "docker.io/labctl/flannel-cni-plugin:cnp-v0.9.1",
        },
        # that plugin speaks CNI spec 0.4.0 at most
        "k8s_control_plane_flannel_patches": [
            {
                "kind": "ConfigMap",
                "name": "kube-flannel-cfg",
                "ops": [
                    {
                        "op": "edit",
                        "path": "/data/cni-conf.json",
                        "regexp": '"cniVersion": "1.0.0"',
                        "replace": '"cniVersion": "0.4.0"',
                    }
                ],
            }
        ],
    }


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
    workdir: Path = tmp_path_factory.mktemp("real-lab")
    net_hosts = {h: f"10.77.9.{octet}" for h, (_, octet) in HOSTS.items()}
    standins = StandinLab(
        prefix="labctl-e2e",
        network="labctl-e2e",
        subnet=SUBNET,
        hosts=net_hosts,
        groups={h: g for h, (g, _) in HOSTS.items()},
        workdir=workdir,
        metallb_addresses=[POOL],
        lab_vars=lab_vars(mirror),
        kube_nodes=True,
        ip_range=IP_RANGE,
    )
    standins.up()
    try:
        yield RealLab(standins)
    finally:
        standins.down()
