"""Every demo renders offline (`labctl render <demo>`), every object validates against the
pinned Kubernetes schema (strict; a missing schema fails), and the objects carry the
chapter's names, ports, addresses and selectors (shared/seed/start_the_learning_kubernetes_09).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import clirun
import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHAPTER_INVENTORY = REPO / "inventory" / "hosts.yml"
DEMOS = ["externalip", "nodeport", "loadbalancer", "headless", "externalname", "none-selector"]
DEMOS += ["ingress"]


def kubernetes_version() -> str:
    data = yaml.safe_load((REPO / "playbooks" / "group_vars" / "all.yml").read_text())
    return str(data["kubernetes_version"])


def validate(obj: dict[str, Any]) -> None:
    """Strict schema validation; SchemaNotFoundError propagates (a missing schema fails)."""
    kubernetes_validate.validate(obj, kubernetes_version(), strict=True)


def by_kind(objects: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    found = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    assert len(found) == len(objects), "two objects share a kind and name"
    return found


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """Each demo rendered once through the real CLI against the chapter's inventory."""

    tmp = tmp_path_factory.mktemp("render")
    env = clirun.isolated_env(tmp)
    out: dict[str, list[dict[str, Any]]] = {}
    variants = {name: (name, CHAPTER_INVENTORY) for name in DEMOS}
    variants["loadbalancer@current"] = ("loadbalancer", _inventory(tmp, metallb_version="0.16.1"))
    variants["none-selector@chapter"] = (
        "none-selector",
        _inventory(tmp, service_demo_none_selector_addresses=["172.217.31.164", "172.217.31.165"]),
    )
    for key, (name, inventory) in variants.items():
        proc = clirun.run("render", name, "-i", str(inventory), env=env, cwd=tmp, timeout=120)
        assert proc.returncode == 0, f"render {key}: {proc.stderr}"
        out[key] = [doc for doc in yaml.safe_load_all(proc.stdout) if doc]
    return out


def _inventory(tmp: Path, **lab_vars: Any) -> Path:
    data = yaml.safe_load(CHAPTER_INVENTORY.read_text())
    data["all"]["children"]["lab"]["vars"].update(lab_vars)
    path = tmp / f"hosts-{'-'.join(lab_vars)}.yml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.mark.parametrize("variant", [*DEMOS, "loadbalancer@current", "none-selector@chapter"])
def test_every_object_validates_against_the_pinned_schema(rendered, variant: str) -> None:
    objects = rendered[variant]
    assert objects, f"{variant} rendered no objects"
    for obj in objects:
        validate(obj)


def test_the_validator_can_fail() -> None:
    """A typo'd field, and a kind without a schema, are both failures."""
    bad = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "x"},
        "spec": {"loadBalancerIPs": "192.168.3.100", "ports": [{"port": 80}]},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(bad)
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        validate({"apiVersion": "extensions/v1beta1", "kind": "Ingress", "metadata": {"name": "x"}})


def _service(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return by_kind(objects)[("Service", name)]


def _sample_deployment(objects: list[dict[str, Any]]) -> None:
    dep = by_kind(objects)[("Deployment", "sample-deployment")]
    spec = dep["spec"]
    assert spec["replicas"] == 3
    assert spec["selector"]["matchLabels"] == {"app": "sample-app"}
    pod = spec["template"]["spec"]
    assert spec["template"]["metadata"]["labels"] == {"app": "sample-app"}
    images = {c["name"]: c["image"] for c in pod["containers"]}
    assert images == {"nginx-container": "nginx:1.12", "redis-container": "redis:3.2"}
    # pod identity: initContainer with the same nginx image writes the hostname to an emptyDir
    init = pod["initContainers"][0]
    assert init["image"] == "nginx:1.12" and "hostname > /identity/index.html" in init["command"][2]
    assert pod["volumes"] == [{"name": "identity", "emptyDir": {}}]
    nginx = next(c for c in pod["containers"] if c["name"] == "nginx-container")
    assert {"name": "identity", "mountPath": "/usr/share/nginx/html", "readOnly": True} in nginx[
        "volumeMounts"
    ]


def _port(svc: dict[str, Any]) -> dict[str, Any]:
    (port,) = svc["spec"]["ports"]
    return port


def test_externalip_is_the_chapters(rendered) -> None:
    objects = rendered["externalip"]
    _sample_deployment(objects)
    svc = _service(objects, "sample-externalip")
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["externalIPs"] == ["192.168.3.33"]  # raspi002, from the inventory
    assert _port(svc) == {"name": "http-port", "protocol": "TCP", "port": 8080, "targetPort": 80}
    assert svc["spec"]["selector"] == {"app": "sample-app"}


def test_nodeport_is_the_chapters(rendered) -> None:
    objects = rendered["nodeport"]
    _sample_deployment(objects)
    svc = _service(objects, "sample-nodeport")
    assert svc["spec"]["type"] == "NodePort"
    assert _port(svc)["port"] == 8080 and _port(svc)["targetPort"] == 80
    assert _port(svc)["nodePort"] == 30080
    assert svc["spec"]["selector"] == {"app": "sample-app"}


def test_loadbalancer_asks_metallb_the_way_its_version_reads(rendered) -> None:
    old = _service(rendered["loadbalancer"], "sample-lb")
    assert old["spec"]["type"] == "LoadBalancer"
    assert old["spec"]["loadBalancerIP"] == "192.168.3.100"  # v0.7.3 reads only this
    assert "annotations" not in old["metadata"]
    assert _port(old)["port"] == 8080 and _port(old)["nodePort"] == 30082
    assert old["spec"]["selector"] == {"app": "sample-app"}
    # the chapter's 192.168.3.0/8 has host bits set; the lab subnet is a real network address
    assert old["spec"]["loadBalancerSourceRanges"] == ["192.168.3.0/24"]
    for cidr in old["spec"]["loadBalancerSourceRanges"]:
        ipaddress.ip_network(cidr, strict=True)
    with pytest.raises(ValueError, match="host bits set"):
        ipaddress.ip_network("192.168.3.0/8", strict=True)

    new = _service(rendered["loadbalancer@current"], "sample-lb")
    assert new["metadata"]["annotations"] == {"metallb.io/loadBalancerIPs": "192.168.3.100"}
    assert "loadBalancerIP" not in new["spec"]  # both at once is an error for MetalLB


def test_headless_is_the_chapters(rendered) -> None:
    objects = rendered["headless"]
    sts = by_kind(objects)[("StatefulSet", "sample-statefulset-headless")]
    assert sts["spec"]["serviceName"] == "sample-headless"
    assert sts["spec"]["replicas"] == 3
    assert sts["spec"]["selector"]["matchLabels"] == {"app": "sample-app"}
    assert sts["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.12"
    svc = _service(objects, "sample-headless")
    assert svc["spec"]["clusterIP"] == "None" and svc["spec"]["type"] == "ClusterIP"
    assert _port(svc)["port"] == 80 and _port(svc)["targetPort"] == 80
    assert svc["spec"]["selector"] == {"app": "sample-app"}


def test_externalname_is_the_chapters(rendered) -> None:
    (svc,) = rendered["externalname"]
    assert svc["metadata"]["name"] == "sample-externalname"
    assert svc["spec"] == {"type": "ExternalName", "externalName": "example.com"}


def test_none_selector_points_at_the_nfs_node_or_the_chapters_addresses(rendered) -> None:
    objects = rendered["none-selector"]
    svc = _service(objects, "sample-none-selector")
    assert "selector" not in svc["spec"]
    assert _port(svc)["port"] == 8080 and _port(svc)["targetPort"] == 80
    eps = by_kind(objects)[("EndpointSlice", "sample-none-selector")]
    assert eps["metadata"]["labels"]["kubernetes.io/service-name"] == "sample-none-selector"
    assert eps["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] != "controller"
    assert eps["endpoints"] == [{"addresses": ["192.168.3.35"]}]  # nfspi, from the inventory
    assert eps["ports"] == [{"protocol": "TCP", "port": 80}]

    chapter = by_kind(rendered["none-selector@chapter"])[("EndpointSlice", "sample-none-selector")]
    addresses = [a for e in chapter["endpoints"] for a in e["addresses"]]
    assert addresses == ["172.217.31.164", "172.217.31.165"]


def test_ingress_has_a_host_and_a_path_rule(rendered) -> None:
    objects = rendered["ingress"]
    _sample_deployment(objects)
    ing = by_kind(objects)[("Ingress", "sample-ingress")]
    assert ing["apiVersion"] == "networking.k8s.io/v1"
    assert ing["spec"]["ingressClassName"] == "nginx"
    (rule,) = ing["spec"]["rules"]
    assert rule["host"] == "sample.example.com"
    (path,) = rule["http"]["paths"]
    assert path["path"] == "/sample" and path["pathType"] == "Prefix"
    assert path["backend"]["service"] == {"name": "sample-ingress-svc", "port": {"number": 8888}}
    svc = _service(objects, "sample-ingress-svc")
    assert svc["spec"]["selector"] == {"app": "sample-app"}
    assert _port(svc)["port"] == 8888 and _port(svc)["targetPort"] == 80
    # the pods serve their name under the path too (no controller-specific rewrite)
    init = by_kind(objects)[("Deployment", "sample-deployment")]["spec"]["template"]["spec"][
        "initContainers"
    ][0]
    assert "/identity/sample/index.html" in init["command"][2]


def test_a_users_catalogue_brings_its_own_templates(tmp_path: Path) -> None:
    """Templates next to a --catalogue file win; the role's are still there to reuse."""

    (tmp_path / "my-config.yml.j2").write_text(
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: my-config\n"
        '  namespace: {{ service_demo_namespace }}\ndata:\n  lb: "{{ service_demo_lb_address }}"\n',
        encoding="utf-8",
    )
    catalogue = tmp_path / "mine.yml"
    catalogue.write_text(
        yaml.safe_dump(
            {
                "demos": [
                    {
                        "name": "mine",
                        "title": "my demo",
                        "teaches": "user demos reuse the role's templates and add their own",
                        "templates": ["sample-externalname.yml.j2", "my-config.yml.j2"],
                        "checks": [{"id": "http_reachable", "params": {"url": "http://x/"}}],
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    proc = clirun.run(
        "render",
        "mine",
        "--catalogue",
        str(catalogue),
        "-i",
        str(CHAPTER_INVENTORY),
        env=clirun.isolated_env(tmp_path),
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    objects = [doc for doc in yaml.safe_load_all(proc.stdout) if doc]
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("Service", "sample-externalname"),
        ("ConfigMap", "my-config"),
    ]
    assert objects[1]["data"] == {"lb": "192.168.3.100"}
    for obj in objects:
        validate(obj)


def lb_service(stdout: str) -> dict[str, Any]:
    objects = [doc for doc in yaml.safe_load_all(stdout) if doc]
    return by_kind(objects)[("Service", "sample-lb")]


def test_the_lb_address_follows_a_changed_pool_and_render_warns_outside_it(tmp_path):
    env = clirun.isolated_env(tmp_path)
    moved = _inventory(tmp_path, metallb_addresses=["192.168.3.220-192.168.3.230"])
    proc = clirun.run("render", "loadbalancer", "-i", str(moved), env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert lb_service(proc.stdout)["spec"]["loadBalancerIP"] == "192.168.3.230"
    assert "warning" not in proc.stderr, proc.stderr
    outside = _inventory(
        tmp_path,
        metallb_addresses=["192.168.3.220-192.168.3.230"],
        service_demo_lb_address="192.168.3.100",
    )
    proc = clirun.run("render", "loadbalancer", "-i", str(outside), env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert lb_service(proc.stdout)["spec"]["loadBalancerIP"] == "192.168.3.100"
    warnings = [ln for ln in proc.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1 and "sample-lb asks for 192.168.3.100" in warnings[0], proc.stderr
    assert "outside metallb_addresses" in warnings[0]
