"""The service_demo filters that read Kubernetes API objects (what the lookups and
lb_assigned feed them). The objects are written here in the API's own shape; the checks
that talk to servers are tested against real ones in test_demo_checks.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

PLUGIN = Path(__file__).resolve().parents[2] / "roles/service_demo/filter_plugins/service_demo.py"


@pytest.fixture(scope="module")
def f() -> ModuleType:
    spec = importlib.util.spec_from_file_location("service_demo_filters", PLUGIN)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pod(name: str, ip: str, ready: bool = True, **meta: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, **meta},
        "status": {
            "podIP": ip,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def test_ready_pods_skips_unready_and_terminating_and_names_owners(f) -> None:
    rs = {"ownerReferences": [{"kind": "ReplicaSet", "name": "sample-deployment-9dc487867"}]}
    pods = [
        pod(
            "sample-deployment-9dc487867-7n2sz",
            "10.244.1.73",
            labels={"pod-template-hash": "9dc487867"},
            **rs,
        ),
        pod(
            "sample-deployment-9dc487867-old",
            "10.244.1.70",
            deletionTimestamp="2026-11-25T00:00:00Z",
        ),
        pod("sample-deployment-9dc487867-slow", "10.244.1.71", ready=False),
        pod(
            "sample-statefulset-headless-0",
            "10.244.2.72",
            ownerReferences=[{"kind": "StatefulSet", "name": "sample-statefulset-headless"}],
        ),
    ]
    got = f.ready_pods(pods)
    assert got["names"] == ["sample-deployment-9dc487867-7n2sz", "sample-statefulset-headless-0"]
    assert got["ips"] == ["10.244.1.73", "10.244.2.72"]
    assert got["owners"] == {
        "10.244.1.73": "Deployment/sample-deployment",
        "10.244.2.72": "StatefulSet/sample-statefulset-headless",
    }


def test_service_ips_and_lb_ips(f) -> None:
    svc = {
        "metadata": {"name": "sample-nodeport"},
        "spec": {
            "clusterIP": "10.96.173.243",
            "ports": [{"name": "http-port", "port": 8080, "nodePort": 30080}],
        },
    }
    assert f.service_ips([svc]) == {
        "sample-nodeport": {"cluster_ip": "10.96.173.243", "node_ports": {"http-port": 30080}}
    }
    lb = {
        "metadata": {"name": "sample-lb"},
        "status": {"loadBalancer": {"ingress": [{"ip": "192.168.3.100"}]}},
    }
    assert f.lb_ips([lb]) == ["192.168.3.100"]
    assert f.lb_ips([]) == []
    assert f.lb_ips([{"metadata": {"name": "sample-lb"}, "status": {"loadBalancer": {}}}]) == []


def test_lb_assigned_verdicts(f) -> None:
    lb = {
        "metadata": {"name": "sample-lb"},
        "status": {"loadBalancer": {"ingress": [{"ip": "192.168.3.100"}]}},
    }
    ok = f.lb_assigned_verdict(lb, "192.168.3.100", 60, 2)
    assert ok["passed"] and ok["summary"] == "MetalLB assigned 192.168.3.100 to sample-lb"
    other = f.lb_assigned_verdict(lb, "192.168.3.150", 60, 13)
    assert not other["passed"]
    assert other["summary"] == "sample-lb got 192.168.3.100, not the requested 192.168.3.150"
    pending = f.lb_assigned_verdict(
        {"metadata": {"name": "sample-lb"}, "status": {}}, "192.168.3.100", 60, 13
    )
    assert pending["summary"] == "sample-lb got no address within 60 s (requested 192.168.3.100)"
    assert not f.lb_assigned_verdict(None, "192.168.3.100", 60)["passed"]


def test_dig_answer_parses_the_chapters_output(f) -> None:
    out = (
        "sample-externalname.default.svc.cluster.local. 5 IN CNAME example.com.\n"
        "example.com.\t\t5\tIN\tA\t93.184.216.34\n"
    )
    assert f.dig_answer(out) == [
        {
            "name": "sample-externalname.default.svc.cluster.local",
            "type": "CNAME",
            "value": "example.com",
        },
        {"name": "example.com", "type": "A", "value": "93.184.216.34"},
    ]
    verdict = f.dns_records_verdict(
        {"rc": 0, "stdout": out},
        "sample-externalname.default.svc.cluster.local",
        "10.96.0.10:53",
        "CNAME",
        "example.com",
    )
    assert verdict["passed"]
    unreachable = f.dns_records_verdict(
        {"rc": 9, "stdout": ";; no servers could be reached", "stderr": ""},
        "sample-headless.default.svc.cluster.local",
        "10.96.0.10:53",
        "A",
        ["10.244.1.75"],
    )
    assert not unreachable["passed"]
    assert unreachable["summary"].startswith("no answer from DNS server 10.96.0.10:53")
