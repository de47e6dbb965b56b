"""The real lab: `labctl up --only prepare,nfs,cluster` builds a real kubeadm cluster on the
stand-in Pis (raspi001 master, raspi002 and raspi003 workers, nfspi), offline, through the
real CLI; every assertion reads the cluster itself through the kubeconfig labctl fetched.

The tests run in file order and build on each other (one lab per session): bare nodes, trust
and doctor, the first `up`, what the cluster then is, a converged re-run, status, reset and up
again, a fourth Pi added, and the faults.
"""

from __future__ import annotations

import json
import re
import stat
import time

import clirun
import pytest
from e2e_support import RealLab, all_text_under, changed_tasks, report, run_dirs, wait_for
from standins import add_host

pytestmark = [pytest.mark.e2e, pytest.mark.docker]

PARTS = "prepare,nfs,cluster"
NODES = ("raspi001", "raspi002", "raspi003")


def up(lab: RealLab, name: str, *extra: str):
    proc = lab.timed(name, "up", "--only", PARTS, "--json", *extra)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return json.loads(proc.stdout)


def node_table(lab: RealLab) -> dict[str, dict[str, str]]:
    table = {}
    for node in lab.core().list_node().items:
        ready = next((c.status for c in node.status.conditions if c.type == "Ready"), "Unknown")
        table[node.metadata.name] = {
            "ready": ready,
            "kubelet": node.status.node_info.kubelet_version,
            "runtime": node.status.node_info.container_runtime_version,
        }
    return table


def doctor_rows(stdout: str) -> list[dict[str, str]]:
    by_host = json.loads(stdout)["doctor"]
    return [{**row, "host": host} for host, rows in by_host.items() for row in rows]


def cluster_dns(lab: RealLab) -> str:
    return lab.core().read_namespaced_service("kube-dns", "kube-system").spec.cluster_ip


def test_nodes_start_bare(real_lab: RealLab):
    """Nothing of Kubernetes is on the stand-ins before labctl: no containerd, kubelet,
    images or CNI files (the fixture only booted them)."""
    for host in (*NODES, "nfspi"):
        probe = real_lab.standins.exec(
            host, "sh", "-c",
            "command -v containerd kubelet kubeadm ctr crictl runc;"
            " find /etc/cni /opt/cni /var/lib/containerd /etc/kubernetes /etc/containerd -mindepth 1"
            " 2>/dev/null",
        )  # fmt: skip
        assert probe.stdout.strip() == "", f"{host} is not bare: {probe.stdout}"


def test_trust_and_doctor_before_up(real_lab: RealLab):
    trust = real_lab.labctl("trust", "--yes")
    assert trust.returncode == 0, trust.stdout + trust.stderr
    doctor = real_lab.labctl("doctor", "--json")
    rows = doctor_rows(doctor.stdout)
    runtime = [r for r in rows if r["check"] == "container runtime"]
    assert {r["host"] for r in runtime} == set(NODES), runtime
    # nothing installed yet: up's prepare step will install containerd.io 2.x
    assert {r["status"] for r in runtime} == {"WARN"}, runtime
    assert all("not installed" in r["detail"] for r in runtime), runtime


def test_up_builds_a_real_cluster(real_lab: RealLab):
    result = up(real_lab, "first up")
    assert result["status"] == "ok"
    nodes = wait_for(
        lambda: (t := node_table(real_lab)) and all(v["ready"] == "True" for v in t.values()) and t,
        120, "every node Ready",
    )  # fmt: skip
    report(
        "nodes asserted: "
        + "; ".join(
            f"{n} Ready={v['ready']} {v['kubelet']} {v['runtime']}"
            for n, v in sorted(nodes.items())
        )
    )
    assert set(nodes) == set(NODES)
    for name, node in nodes.items():
        assert node["kubelet"].startswith("v1.36."), (name, node)
        assert re.match(r"containerd://2\.\d+\.\d+", node["runtime"]), (name, node)


def test_flannel_and_coredns_run(real_lab: RealLab):
    def running(namespace: str, selector: str) -> list[str]:
        pods = real_lab.core().list_namespaced_pod(namespace, label_selector=selector).items
        return [p.metadata.name for p in pods if p.status.phase == "Running"
                and all(c.ready for c in p.status.container_statuses or [])]  # fmt: skip

    flannel = wait_for(
        lambda: len(p := running("kube-flannel", "app=flannel")) == 3 and p, 120, "flannel"
    )
    assert len(flannel) == 3
    assert wait_for(lambda: running("kube-system", "k8s-app=kube-dns"), 120, "CoreDNS")


def test_cluster_dns_answers_from_the_master(real_lab: RealLab):
    dns = cluster_dns(real_lab)
    assert dns == "10.96.0.10"  # the tenth address of lab_service_cidr (10.96.0.0/12)
    api = real_lab.core().read_namespaced_service("kubernetes", "default").spec.cluster_ip

    def answer() -> str:
        return real_lab.standins.exec(
            "raspi001", "dig", "+short", "+time=2", "+tries=1", f"@{dns}",
            "kubernetes.default.svc.cluster.local",
        ).stdout.strip()  # fmt: skip

    assert wait_for(answer, 60, "cluster DNS answer") == api
    # nothing is forwarded: a name outside the cluster gets no address
    outside = real_lab.standins.exec(
        "raspi001", "dig", "+time=2", "+tries=1", f"@{dns}", "example.org"
    ).stdout
    assert "status: NOERROR" not in outside or "ANSWER: 0" in outside, outside


def test_kubeconfig_is_private(real_lab: RealLab):
    mode = stat.S_IMODE(real_lab.kubeconfig.stat().st_mode)
    assert mode == 0o600, oct(mode)


def test_the_merged_kubeconfig_reaches_the_lab_by_its_context(real_lab: RealLab, tmp_path):
    from kubernetes import client, config

    home = tmp_path / "home"
    env = {**real_lab.standins.env(), "HOME": str(home)}
    proc = clirun.run("kubeconfig", "--merge", "--json", env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    merged = json.loads(proc.stdout)
    target = home / ".kube" / "config"
    assert merged["merged_into"] == str(target) and stat.S_IMODE(target.stat().st_mode) == 0o600
    for value in real_lab.secret_values():
        assert value not in proc.stdout + proc.stderr
    api = config.new_client_from_config(str(target), context=merged["context"])
    names = {n.metadata.name for n in client.CoreV1Api(api).list_node().items}
    assert names >= set(NODES), names


def test_no_secret_in_output_or_artifacts(real_lab: RealLab):
    secrets = real_lab.secret_values()
    # the client key and the join token of the first up (it lives k8s_worker_token_ttl)
    assert len(secrets) >= 2, "no bootstrap token found to look for"
    text = "\n".join(all_text_under(d) for d in run_dirs(real_lab))
    assert text, "no run artifacts found"
    for value in secrets:
        assert value not in text


def test_second_up_changes_nothing_and_preflight_passes(real_lab: RealLab):
    result = up(real_lab, "converged up")
    changed = {h: r["changed"] for h, r in result["recap"].items()}
    assert changed and set(changed.values()) == {0}, changed
    doctor = real_lab.labctl("doctor", "--json")
    rows = doctor_rows(doctor.stdout)
    runtime = [r for r in rows if r["check"] == "container runtime"]
    assert {r["status"] for r in runtime} == {"PASS"}, runtime
    assert not [r for r in rows if r["status"] == "FAIL"], [
        r for r in rows if r["status"] == "FAIL"
    ]


def test_status_lists_the_real_nodes(real_lab: RealLab):
    status = real_lab.labctl("status", "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    assert {n["name"] for n in json.loads(status.stdout)["nodes"]} == set(NODES)


def test_reset_then_up_makes_the_lab_ready_again(real_lab: RealLab):
    reset = real_lab.labctl("reset", "--yes")
    assert reset.returncode == 0, reset.stdout[-3000:] + reset.stderr[-3000:]
    assert not real_lab.kubeconfig.exists()
    for host in NODES:
        assert (
            real_lab.standins.exec(host, "test", "-e", "/etc/kubernetes/kubelet.conf").returncode
            != 0
        )
    up(real_lab, "up after reset")
    wait_for(
        lambda: (t := node_table(real_lab)) and set(t) == set(NODES)
        and all(v["ready"] == "True" for v in t.values()),
        180, "every node Ready after reset",
    )  # fmt: skip


def test_a_fourth_pi_joins_and_nothing_else_changes(real_lab: RealLab):
    add_host(real_lab.standins, "raspi004", "workers", 14)
    trust = real_lab.labctl("trust", "--yes")
    assert trust.returncode == 0, trust.stdout + trust.stderr
    result = up(real_lab, "up with a fourth Pi")
    assert result["recap"]["raspi004"]["changed"] > 0
    # the other Pis only learn the new Pi's name and address (/etc/hosts); nothing else changes
    changed = changed_tasks(result["artifacts"])
    others = {h: tasks for h, tasks in changed.items() if h != "raspi004"}
    assert all(tasks == {"List every lab host in /etc/hosts"} for tasks in others.values()), others
    wait_for(
        lambda: node_table(real_lab).get("raspi004", {}).get("ready") == "True",
        180,
        "raspi004 Ready",
    )


def test_a_reset_worker_without_tokens_joins_again(real_lab: RealLab):
    real_lab.kubectl("-n", "kube-system", "delete", "secrets", "--field-selector",
                     "type=bootstrap.kubernetes.io/token")  # fmt: skip
    assert real_lab.standins.exec("raspi003", "kubeadm", "reset", "-f").returncode == 0
    result = up(real_lab, "up after a worker reset")
    assert result["recap"]["raspi003"]["changed"] > 0
    wait_for(
        lambda: node_table(real_lab).get("raspi003", {}).get("ready") == "True",
        180,
        "raspi003 Ready",
    )


def test_a_worker_stopped_mid_up_is_unreachable_then_converges(real_lab: RealLab):
    import threading

    stopper = threading.Timer(6.0, real_lab.standins.stop, args=("raspi002",))
    stopper.start()
    try:
        proc = real_lab.labctl("up", "--only", PARTS, "--json")
    finally:
        stopper.join()
    result = json.loads(proc.stdout)
    assert proc.returncode == 1, proc.stdout[-3000:]
    failure = next(f for f in result["failures"] if f["host"] == "raspi002")
    assert failure["unreachable"] and failure["task"], failure
    real_lab.standins.start("raspi002")
    again = up(real_lab, "up after the worker came back")
    assert again["status"] == "ok"
    wait_for(
        lambda: node_table(real_lab).get("raspi002", {}).get("ready") == "True",
        240,
        "raspi002 Ready",
    )
    time.sleep(0)
