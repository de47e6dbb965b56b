"""The chapter's lessons on the real lab: `labctl demo NAME` applies, waits and verifies against
the real cluster (its own checks: curl from the laptop, dig and curl from the master), and the
evidence it reports is cross-checked against the API. The lab of test_e2e_1_lab.py is reused.

Covered here: externalip, nodeport, headless, externalname, none-selector, before any add-on is
installed. The LoadBalancer and Ingress demos, and `demo all`, follow the add-ons in
test_e2e_3_addons.py.
"""

from __future__ import annotations

import json

import pytest
from e2e_support import RealLab, report, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.docker]


@pytest.fixture(scope="module")
def demo_lab(real_lab: RealLab) -> RealLab:
    wait_for(
        lambda: all(
            next(c.status for c in n.status.conditions if c.type == "Ready") == "True"
            for n in real_lab.core().list_node().items
        ),
        240, "every node Ready before the demos",
    )  # fmt: skip
    return real_lab


def demo(lab: RealLab, name: str, *extra: str) -> dict:
    proc = lab.timed(f"demo {name}", "demo", name, "--json", *extra)
    result = json.loads(proc.stdout)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert result["status"] == "passed", result
    return result


def checks(result: dict) -> dict[str, dict]:
    return {c["check"]: c for d in result["demos"] for c in d["checks"]}


def ready_pods(lab: RealLab, selector: str) -> dict[str, str]:
    pods = lab.core().list_namespaced_pod("default", label_selector=selector).items
    return {
        p.metadata.name: p.status.pod_ip
        for p in pods
        if p.status.phase == "Running"
        and p.metadata.deletion_timestamp is None  # an earlier demo's pods may still be going
        and all(c.ready for c in p.status.container_statuses or [])
    }


def test_nodeport_answers_on_every_node_from_ready_pods_and_pods_reach_across_workers(
    demo_lab: RealLab,
):
    result = demo(demo_lab, "nodeport", "--keep")
    balance = checks(result)["http_balance"]["evidence"]
    urls = balance["urls"]
    assert set(urls) == {f"http://{a}:30080/" for h, a in demo_lab.standins.hosts.items()
                         if demo_lab.standins.groups[h] in ("master", "workers")}  # fmt: skip
    pods = ready_pods(demo_lab, "app=sample-app")
    answered = {pod for url in urls.values() for pod in url["answers"]}
    assert len(answered) >= 2
    assert answered <= set(pods), (answered, pods)
    report(f"nodeport answered from {sorted(answered)}")
    # a pod on one worker reaches a pod on the other, across flannel's vxlan
    placed = {}
    for pod in (
        demo_lab.core().list_namespaced_pod("default", label_selector="app=sample-app").items
    ):
        if pod.metadata.name in pods and pod.spec.node_name != "raspi001":
            placed.setdefault(pod.spec.node_name, pod.metadata.name)
    assert len(placed) >= 2, placed
    (_, pod_a), (_, pod_b) = sorted(placed.items())[:2]
    for src, dst in ((pod_a, pod_b), (pod_b, pod_a)):
        answer = demo_lab.kubectl(
            "exec",
            src,
            "-c",
            "nginx-container",
            "--",
            "curl",
            "-s",
            "-m",
            "5",
            f"http://{pods[dst]}/",
        )
        assert answer.stdout.strip() == dst, (src, dst, answer.stdout, answer.stderr)
    clean = demo_lab.labctl("demo", "clean", "nodeport")
    assert clean.returncode == 0, clean.stdout + clean.stderr


def test_externalip_balances_over_ready_pods(demo_lab: RealLab):
    result = demo(demo_lab, "externalip")
    urls = checks(result)["http_balance"]["evidence"]["urls"]
    assert list(urls) == [f"http://{demo_lab.standins.hosts['raspi002']}:8080/"]
    answered = {pod for url in urls.values() for pod in url["answers"]}
    assert len(answered) >= 2


def test_headless_records_are_the_ready_pods_ips(demo_lab: RealLab):
    result = demo(demo_lab, "headless", "--keep")
    evidence = checks(result)["dns_records"]["evidence"]
    assert evidence["server"].startswith(demo_lab.core().read_namespaced_service(
        "kube-dns", "kube-system").spec.cluster_ip)  # fmt: skip
    ips = set(ready_pods(demo_lab, "app=sample-app").values())
    assert set(evidence["got"]) == ips, (evidence, ips)
    clean = demo_lab.labctl("demo", "clean", "headless")
    assert clean.returncode == 0, clean.stdout + clean.stderr


def test_externalname_cname_comes_from_the_real_coredns(demo_lab: RealLab):
    result = demo(demo_lab, "externalname")
    evidence = checks(result)["dns_records"]["evidence"]
    assert evidence["type"] == "CNAME"
    assert [r.rstrip(".") for r in evidence["got"]] == ["example.com"], evidence


def test_none_selector_reaches_the_nfs_node_through_the_cluster_ip(demo_lab: RealLab):
    result = demo(demo_lab, "none-selector")
    evidence = checks(result)["http_marker"]["evidence"]
    assert evidence["status"] == 200 and "labctl-marker:nfspi" in evidence["body"], evidence


def test_demo_clean_leaves_nothing(demo_lab: RealLab):
    clean = demo_lab.labctl("demo", "clean")
    assert clean.returncode == 0, clean.stdout + clean.stderr

    def leftovers() -> list[str]:
        core, apps = demo_lab.core(), demo_lab.apps()
        names = [s.metadata.name for s in core.list_namespaced_service("default").items
                 if s.metadata.name != "kubernetes"]  # fmt: skip
        names += [d.metadata.name for d in apps.list_namespaced_deployment("default").items]
        names += [s.metadata.name for s in apps.list_namespaced_stateful_set("default").items]
        return names

    wait_for(lambda: not leftovers(), 120, "demo objects removed")
