"""The add-ons on the real lab, and the two lessons that need them: a plain `labctl up` installs
MetalLB 0.16.1 (controller, speakers, webhook, the layer-2 pool) and Traefik, then
`labctl demo loadbalancer|ingress|all` verify against the real cluster. The failure paths that
only a cluster shows are asserted here too: MetalLB v0.7.3's and ingress-nginx's images are
served nowhere (the pull check stops before any apply), and switching MetalLB's mode in place
is refused. Last, a worker lost during a demo. The lab of test_e2e_1_lab.py is reused.
"""

from __future__ import annotations

import json

import pytest
from e2e_support import RealLab, changed_tasks, inventory_vars, report, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.docker]


def nodes_ready(lab: RealLab) -> bool:
    return all(
        next(c.status for c in n.status.conditions if c.type == "Ready") == "True"
        for n in lab.core().list_node().items
    )


@pytest.fixture(scope="module")
def addon_lab(real_lab: RealLab) -> RealLab:
    wait_for(lambda: nodes_ready(real_lab), 240, "every node Ready before the add-ons")
    return real_lab


def namespaces(lab: RealLab) -> set[str]:
    return {n.metadata.name for n in lab.core().list_namespace().items}


def failed_addons_up(lab: RealLab, name: str, **changes: object) -> str:
    """`labctl up --only addons` with the inventory changed: it must fail (exit 1); the text
    of its failures (host, task, message)."""
    with inventory_vars(lab, **changes):
        proc = lab.timed(name, "up", "--only", "addons", "--json")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    data = json.loads(proc.stdout)
    return " ".join(f"{f['host']} {f['task']} {f['message']}" for f in data["failures"])


def demo_json(lab: RealLab, name: str, *extra: str) -> tuple[int, dict]:
    proc = lab.timed(f"demo {name}", "demo", name, "--json", *extra)
    return proc.returncode, json.loads(proc.stdout)


def checks(result: dict) -> dict[str, dict]:
    return {f"{d['name']}.{c['check']}": c for d in result["demos"] for c in d["checks"]}


def ready_pod_names(lab: RealLab, selector: str = "app=sample-app") -> set[str]:
    return {
        p.metadata.name
        for p in lab.core().list_namespaced_pod("default", label_selector=selector).items
        if p.status.phase == "Running"
        and p.metadata.deletion_timestamp is None
        and all(c.ready for c in p.status.container_statuses or [])
    }


def test_metallb_073_stops_at_the_pull_check_before_any_apply(addon_lab: RealLab):
    # metallb_version removed: the default, the chapter's v0.7.3
    text = failed_addons_up(addon_lab, "up, MetalLB v0.7.3", metallb_version=None)
    assert "cannot pull metallb/controller:v0.7.3 on raspi001" in text, text
    assert "metallb_registry" in text and "current release (0.16.1)" in text, text
    assert "metallb-system" not in namespaces(addon_lab)


def test_plain_up_installs_metallb_and_traefik(addon_lab: RealLab):
    proc = addon_lab.timed("up, every part", "up", "--json")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-3000:]
    assert f"export KUBECONFIG={addon_lab.kubeconfig}\n" in proc.stderr  # a line to paste
    apps = addon_lab.apps()
    controller = apps.read_namespaced_deployment("controller", "metallb-system")
    assert (controller.status.available_replicas or 0) >= 1
    speakers = apps.read_namespaced_daemon_set("speaker", "metallb-system")
    assert speakers.status.number_ready == speakers.status.desired_number_scheduled >= 3
    from kubernetes import client

    custom = client.CustomObjectsApi(addon_lab.api())
    pool = custom.get_namespaced_custom_object(
        "metallb.io", "v1beta1", "metallb-system", "ipaddresspools", "default"
    )
    assert pool["spec"]["addresses"] == addon_lab.standins.metallb_addresses
    custom.get_namespaced_custom_object(
        "metallb.io", "v1beta1", "metallb-system", "l2advertisements", "default"
    )
    traefik = apps.read_namespaced_deployment("traefik", "traefik")
    assert (traefik.status.available_replicas or 0) >= 1
    ports = {p.name: p.node_port for p in addon_lab.core().read_namespaced_service(
        "traefik", "traefik").spec.ports}  # fmt: skip
    assert ports == {"http": 30090, "https": 30443}
    classes = client.NetworkingV1Api(addon_lab.api()).list_ingress_class().items
    assert {c.metadata.name: c.spec.controller for c in classes} == {
        "traefik": "traefik.io/ingress-controller"
    }
    status = addon_lab.labctl("status", "--json")
    assert json.loads(status.stdout)["addons"] == {"metallb": "ready", "traefik": "ready"}


def test_a_second_plain_up_changes_nothing(addon_lab: RealLab):
    proc = addon_lab.timed("up, every part, converged", "up", "--json")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["changed"] == 0, changed_tasks(result["artifacts"])


def test_loadbalancer_gets_the_requested_address_and_balances(addon_lab: RealLab):
    code, result = demo_json(addon_lab, "loadbalancer")
    assert code == 0 and result["status"] == "passed", json.dumps(result)[-3000:]
    found = checks(result)
    requested = addon_lab.standins.lab_vars["service_demo_lb_address"]
    first = addon_lab.standins.metallb_addresses[0].split("-")[0]
    assert requested != first  # the first free address would pass by luck
    assigned = json.dumps(found["loadbalancer.lb_assigned"]["evidence"])
    assert requested in assigned, assigned
    urls = found["loadbalancer.http_balance"]["evidence"]["urls"]
    assert list(urls) == [f"http://{requested}:8080/"]
    answered = {pod for url in urls.values() for pod in url["answers"]}
    assert len(answered) >= 2
    report(f"loadbalancer: {requested} answered from {sorted(answered)}")


def test_ingress_through_traefik_balances_over_ready_pods(addon_lab: RealLab):
    code, result = demo_json(addon_lab, "ingress", "--keep")
    assert code == 0 and result["status"] == "passed", json.dumps(result)[-3000:]
    urls = checks(result)["ingress.http_balance"]["evidence"]["urls"]
    assert set(urls) == {
        f"http://{a}:30090/sample/"
        for h, a in addon_lab.standins.hosts.items()
        if addon_lab.standins.groups[h] in ("master", "workers")
    }
    answered = {pod for url in urls.values() for pod in url["answers"]}
    assert len(answered) >= 2 and answered <= ready_pod_names(addon_lab), answered
    ingress = addon_lab.labctl("demo", "clean", "ingress")
    assert ingress.returncode == 0, ingress.stdout + ingress.stderr


def test_demo_all_passes_on_the_real_lab(addon_lab: RealLab):
    proc = addon_lab.timed("demo all", "demo", "all", "--json")
    code, result = proc.returncode, json.loads(proc.stdout)
    assert code == 0 and result["status"] == "passed", json.dumps(result)[-4000:]
    report("labctl demo all on the real lab, its report (stderr with --json):")
    for line in proc.stderr.splitlines():
        report(f"    {line}")
    names = [d["name"] for d in result["demos"]]
    assert names == [
        "externalip", "nodeport", "loadbalancer", "headless", "externalname",
        "none-selector", "ingress",
    ]  # fmt: skip
    assert all(c["passed"] for d in result["demos"] for c in d["checks"])
    clean = addon_lab.labctl("demo", "clean")
    assert clean.returncode == 0, clean.stdout + clean.stderr


def test_ingress_nginx_stops_at_the_pull_check(addon_lab: RealLab):
    text = failed_addons_up(addon_lab, "up, ingress-nginx", ingress_controller="ingress-nginx")
    assert "cannot pull registry.k8s.io/ingress-nginx/controller:v1.15.1" in text, text
    assert "ingress_nginx_registry" in text and "ingress_controller to traefik" in text, text
    assert "ingress-nginx" not in namespaces(addon_lab)


def test_switching_metallb_mode_in_place_is_refused(addon_lab: RealLab):
    text = failed_addons_up(
        addon_lab, "up, MetalLB mode switch", metallb_version="0.7.3", metallb_check_images=False
    )
    assert "MetalLB with CRDs (0.13 or later) is installed" in text, text
    assert "kubectl delete -f" in text, text
    # nothing of v0.7.3 was applied: the controller still runs 0.16.1
    controller = addon_lab.apps().read_namespaced_deployment("controller", "metallb-system")
    assert controller.spec.template.spec.containers[0].image.endswith(":v0.16.1")


def test_a_worker_lost_during_a_demo_is_named_then_the_demo_converges(addon_lab: RealLab):
    lab = addon_lab
    code, result = demo_json(lab, "nodeport", "--keep")
    assert code == 0, json.dumps(result)[-3000:]
    lost = lab.standins.hosts["raspi003"]
    lab.standins.stop("raspi003")
    try:
        code, result = demo_json(lab, "nodeport")
        assert code == 1, json.dumps(result)[-3000:]
        assert result["status"] == "failed"
        balance = checks(result)["nodeport.http_balance"]
        assert not balance["passed"]
        assert f"http://{lost}:30080/" in balance["summary"], balance
    finally:
        lab.standins.start("raspi003")
    # the failed run removed its objects (no --keep): the re-run applies and waits itself
    wait_for(lambda: nodes_ready(lab), 300, "raspi003 Ready again")
    code, result = demo_json(lab, "nodeport")
    assert code == 0 and result["status"] == "passed", json.dumps(result)[-3000:]
