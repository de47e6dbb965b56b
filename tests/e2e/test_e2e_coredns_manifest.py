"""Our CoreDNS manifest for the test cluster (e2e/manifests/coredns.yaml): valid for
kubernetes_version, local image only, and a Corefile that never sends a query off the machine."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from e2e_support import E2E, ROOT

MANIFEST = E2E / "manifests" / "coredns.yaml"


def kubernetes_version() -> str:
    group_vars = yaml.safe_load((ROOT / "playbooks" / "group_vars" / "all.yml").read_text())
    return str(group_vars["kubernetes_version"])


def load(path: Path = MANIFEST) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def by_kind(docs: list[dict], kind: str) -> dict:
    (found,) = [doc for doc in docs if doc["kind"] == kind]
    return found


def corefile_directives(corefile: str) -> list[str]:
    """Every directive (first word of each line) of a Corefile, at any nesting depth."""
    words = []
    for line in corefile.splitlines():
        line = line.split("#", 1)[0].strip()
        if line and line != "}":
            words.append(line.split()[0])
    return words


def egress_problems(corefile: str) -> list[str]:
    """Directives that can send a DNS query to another server."""
    return [d for d in corefile_directives(corefile) if d in {"forward", "proxy", "grpc"}]


@pytest.mark.parametrize("doc", load(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_every_object_validates_strictly(doc: dict) -> None:
    kubernetes_validate.validate(doc, kubernetes_version(), strict=True)


def test_corefile_serves_cluster_names_without_any_upstream() -> None:
    corefile = by_kind(load(), "ConfigMap")["data"]["Corefile"]
    directives = corefile_directives(corefile)
    assert "kubernetes" in directives and "hosts" in directives
    assert egress_problems(corefile) == []


def test_egress_check_catches_forward() -> None:
    bad = ".:53 {\n    kubernetes cluster.local\n    forward . /etc/resolv.conf\n}\n"
    assert egress_problems(bad) == ["forward"]


def test_image_is_the_local_build_and_never_pulled(versions: dict[str, str]) -> None:
    pod = by_kind(load(), "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == versions["E2E_IMAGE_COREDNS"]
    assert container["imagePullPolicy"] == "Never"


def test_service_is_kube_dns_selecting_the_pods() -> None:
    docs = load()
    service = by_kind(docs, "Service")
    labels = by_kind(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["metadata"] == {
        **service["metadata"],
        "name": "kube-dns",
        "namespace": "kube-system",
    }
    assert service["spec"]["selector"].items() <= labels.items()
    assert {(p["port"], p["protocol"]) for p in service["spec"]["ports"]} >= {
        (53, "UDP"),
        (53, "TCP"),
    }
