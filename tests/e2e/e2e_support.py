"""Helpers of the real-lab tier (tests/e2e): the lab, labctl through the real CLI, API reads."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import clirun
from mirror import Mirror
from standins import HOSTS, MACHINE_KUBE_VARS, StandinLab

ROOT = Path(__file__).resolve().parents[2]
E2E = ROOT / "e2e"
UP_TIMEOUT = 1800


@dataclass
class RealLab:
    """A StandinLab that labctl turns into a kubeadm cluster, plus what the tests read."""

    standins: StandinLab
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def kubeconfig(self) -> Path:
        return self.standins.state_home / "labctl" / "kubeconfig"

    def labctl(self, *args: str, timeout: float = UP_TIMEOUT) -> subprocess.CompletedProcess[str]:
        return clirun.run(*args, env=self.standins.env(), timeout=timeout)

    def timed(self, name: str, *args: str) -> subprocess.CompletedProcess[str]:
        start = time.monotonic()
        proc = self.labctl(*args)
        self.timings[name] = time.monotonic() - start
        report(
            f"labctl {' '.join(args)} ({name}): {self.timings[name]:.1f} s, exit {proc.returncode}"
        )
        return proc

    def api(self) -> Any:
        """A kubernetes ApiClient through the kubeconfig that `labctl up` fetched."""
        from kubernetes import config

        return config.new_client_from_config(config_file=str(self.kubeconfig))

    def core(self) -> Any:
        from kubernetes import client

        return client.CoreV1Api(self.api())

    def apps(self) -> Any:
        from kubernetes import client

        return client.AppsV1Api(self.api())

    def kubectl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """kubectl on the master node over `docker exec` with the admin kubeconfig: for exec
        into pods (reads and probes only; tests never apply objects)."""
        return self.standins.exec(
            "raspi001", "kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", *args,
            timeout=timeout,
        )  # fmt: skip

    def secret_values(self) -> list[str]:
        """The real secrets a run must never print: the kubeconfig's client key and every
        bootstrap token currently in the cluster."""
        import yaml

        conf = yaml.safe_load(self.kubeconfig.read_text(encoding="utf-8"))
        values = [conf["users"][0]["user"]["client-key-data"]]
        tokens = self.kubectl("-n", "kube-system", "get", "secrets", "-o", "json")
        for item in json.loads(tokens.stdout or "{}").get("items", []):
            if item.get("type") == "bootstrap.kubernetes.io/token":
                values.append(item["data"]["token-secret"])
        return values


# kubelet writes these kernel-global sysctls at start (its "kernel tunables"; with
# protectKernelDefaults it would refuse to start instead). The stand-ins are privileged, so
# the writes reach this machine's kernel: the lab fixture puts the old values back.
KUBELET_HOST_SYSCTLS = (
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
)


def read_host_sysctls() -> dict[str, str]:
    values = {}
    for name in KUBELET_HOST_SYSCTLS:
        path = Path("/proc/sys", name)
        if path.exists():
            values[name] = path.read_text(encoding="ascii").strip()
    return values


def restore_host_sysctls(values: dict[str, str]) -> dict[str, str]:
    """Write back what kubelet changed; returns the entries that differed."""
    changed = {name: old for name, old in values.items() if read_host_sysctls().get(name) != old}
    for name, old in changed.items():
        Path("/proc/sys", name).write_text(old + "\n", encoding="ascii")
    return changed


@contextlib.contextmanager
def inventory_vars(lab: RealLab, **changes: object) -> Iterator[None]:
    """The inventory with some lab vars changed (None removes one: the role default applies),
    put back afterwards."""
    saved = dict(lab.standins.lab_vars)
    for key, value in changes.items():
        if value is None:
            lab.standins.lab_vars.pop(key, None)
        else:
            lab.standins.lab_vars[key] = value
    lab.standins.write_inventory()
    try:
        yield
    finally:
        lab.standins.lab_vars.clear()
        lab.standins.lab_vars.update(saved)
        lab.standins.write_inventory()


def report(line: str) -> None:
    """One line for the run's summary: printed, and appended to $LABCTL_E2E_REPORT (.ci/run
    prints that file at the end, so the timings and node list show without pytest -s)."""
    print(f"\n[real lab] {line}")
    target = os.environ.get("LABCTL_E2E_REPORT")
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what}: not true after {timeout:.0f} s (last: {last!r})")


def changed_tasks(artifacts: str) -> dict[str, set[str]]:
    """Host -> names of the tasks that reported a change, from a run's events."""
    changed: dict[str, set[str]] = {}
    for path in Path(artifacts).glob("job_events/*.json"):
        event = json.loads(path.read_text(encoding="utf-8"))
        data = event.get("event_data", {})
        if event.get("event") == "runner_on_ok" and (data.get("res") or {}).get("changed"):
            changed.setdefault(data["host"], set()).add(data["task"])
    return changed


def run_dirs(lab: RealLab) -> list[Path]:
    root = lab.standins.state_home / "labctl" / "runs"
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def all_text_under(path: Path) -> str:
    chunks = []
    for file in path.rglob("*"):
        if file.is_file():
            chunks.append(file.read_bytes().decode("utf-8", "replace"))
    return "\n".join(chunks)


BUNDLES = {
    "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy", "etcd",
    "coredns", "pause", "flannel", "flannel-cni-plugin", "nginx", "redis",
    "metallb-controller", "metallb-speaker", "traefik",
}  # fmt: skip


def lab_vars(mirror: Mirror) -> dict[str, object]:
    """The real lab's inventory settings: the mirror, this machine's settings, and the
    documented offline features (image bundles, a CoreDNS without forwarding, flannel's
    test images and the CNI version its plugin speaks)."""
    return {
        **mirror.inventory_vars(),
        **MACHINE_KUBE_VARS,
        # what this tier runs (the dig image is not needed: dig runs on the master)
        "lab_image_bundles": [str(p) for p in mirror.images if p.stem in BUNDLES],
        "k8s_control_plane_coredns_manifest": str(E2E / "manifests" / "coredns.yaml"),
        # the add-ons that can be built here: MetalLB's current release (v0.7.3's images are
        # served nowhere) and Traefik (ingress-nginx is retired and cannot be built)
        "metallb_version": "0.16.1",
        "ingress_controller": "traefik",
        # the demos' nginx and redis, from Debian's packages (e2e/build.sh), never pulled
        "service_demo_nginx_image": "docker.io/labctl/nginx:local",
        "service_demo_redis_image": "docker.io/labctl/redis:local",
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


def real_lab_standins(
    workdir: Path, mirror: Mirror, prefix: str = "labctl-e2e", octet: int = 9
) -> StandinLab:
    """The real lab's four stand-ins (not yet started) on network ``prefix``, 10.77.<octet>.0/24:
    Docker hands out addresses from the lower half only, the MetalLB pool lies above it."""
    net = f"10.77.{octet}"
    return StandinLab(
        prefix=prefix,
        network=prefix,
        subnet=f"{net}.0/24",
        hosts={h: f"{net}.{last}" for h, (_, last) in HOSTS.items()},
        groups={h: g for h, (g, _) in HOSTS.items()},
        workdir=workdir,
        metallb_addresses=[f"{net}.200-{net}.220"],
        # not the pool's first free address, so lb_assigned cannot pass by luck (design.md)
        lab_vars={**lab_vars(mirror), "service_demo_lb_address": f"{net}.210"},
        kube_nodes=True,
        ip_range=f"{net}.0/25",
    )
