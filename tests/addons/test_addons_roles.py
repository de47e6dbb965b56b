"""The metallb and ingress_nginx roles, run by real ansible-playbook on this machine.

- ``tasks/objects.yml`` of each role renders what labctl authors (no cluster); every object
  validates strictly against the ``kubernetes_version`` schema.
- ``playbooks/addons.yml`` runs with ``--skip-tags needs_kubeadm`` (no cluster here) against
  two inventory hosts that are this machine (local connection): node facts, architecture
  checks and the sha256-pinned pipeline through the filter plugin, fed by a real HTTP server
  on 127.0.0.1 serving the small manifests of addons_fixtures. Everything tagged
  needs_kubeadm (crictl pulls, mode-switch check, apply, waits) can only be read here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from addons_fixtures import INGRESS, METALLB_073, sha256
from addons_schema import schema_version, validate

from labctl import ansiblecfg

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
POOL = ["10.77.9.100-10.77.9.110", "10.77.9.128/28"]


def ansible_env(tmp_path: Path) -> dict[str, str]:
    """labctl's own Ansible environment (the shipped ansible.cfg), plus a private temp dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ansiblecfg.environment(tmp_path / "known_hosts"))
    env.update(
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        XDG_CACHE_HOME=str(tmp_path / "cache"),
    )
    return env


def play(tmp_path: Path, playbook: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ANSIBLE_PLAYBOOK), str(playbook), *args],
        env=ansible_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def render(tmp_path: Path, role: str, extra: dict) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    book = tmp_path / f"render-{role}.yml"
    book.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Render what labctl authors",
                    "hosts": "localhost",
                    "connection": "local",
                    "gather_facts": False,
                    "tasks": [
                        {
                            "name": "Objects",
                            "ansible.builtin.include_role": {"name": role, "tasks_from": "objects"},
                        },
                        {
                            "name": "Write them out",
                            "ansible.builtin.copy": {
                                "content": "{{ " + role + "_objects | to_json }}",
                                "dest": str(out / f"{role}.json"),
                                "mode": "0644",
                            },
                        },
                    ],
                }
            ]
        )
    )
    vars_file = tmp_path / f"vars-{role}.json"
    vars_file.write_text(json.dumps({"ansible_python_interpreter": sys.executable, **extra}))
    return play(tmp_path, book, "-i", "localhost,", "-e", f"@{vars_file}"), out / f"{role}.json"


def test_metallb_073_pool_is_the_chapters_configmap(tmp_path):
    result, out = render(tmp_path, "metallb", {"metallb_addresses": POOL})
    assert result.returncode == 0, result.stdout + result.stderr
    (cm,) = json.loads(out.read_text())
    assert (cm["kind"], cm["metadata"]["name"], cm["metadata"]["namespace"]) == (
        "ConfigMap",
        "config",
        "metallb-system",
    )
    assert yaml.safe_load(cm["data"]["config"]) == {
        "address-pools": [{"name": "default", "protocol": "layer2", "addresses": POOL}]
    }
    assert validate(cm) == schema_version()


@pytest.mark.parametrize("version", ["0.16.1", "v0.16.1"])  # read as labctl's check reads it
def test_metallb_current_pool_is_ipaddresspool_and_l2advertisement(tmp_path, version):
    result, out = render(
        tmp_path, "metallb", {"metallb_addresses": POOL, "metallb_version": version}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    pool, l2 = json.loads(out.read_text())
    assert pool["kind"] == "IPAddressPool" and pool["spec"]["addresses"] == POOL
    assert l2["kind"] == "L2Advertisement" and l2["spec"]["ipAddressPools"] == ["default"]
    for obj in (pool, l2):
        assert obj["metadata"]["namespace"] == "metallb-system"
        validate(obj)


def test_ingress_nodeport_service_validates(tmp_path):
    result, out = render(tmp_path, "ingress_nginx", {"ingress_nginx_http_nodeport": 30111})
    assert result.returncode == 0, result.stdout + result.stderr
    (svc,) = json.loads(out.read_text())
    assert svc["spec"]["type"] == "NodePort"
    assert {p["name"]: p["nodePort"] for p in svc["spec"]["ports"]} == {
        "http": 30111,
        "https": 30443,
    }
    validate(svc)


@pytest.mark.parametrize(
    ("role", "extra", "message"),
    [
        (
            "metallb",
            {"metallb_addresses": POOL, "metallb_version": "0.9.9"},
            "unknown metallb_version 0.9.9: labctl pins 0.7.3, 0.16.1",
        ),
        ("metallb", {}, "metallb_addresses"),
        (
            "ingress_nginx",
            {"ingress_nginx_version": "0.24.1"},
            "unknown ingress_nginx_version 0.24.1",
        ),
        (
            "ingress_nginx",
            {"ingress_nginx_https_nodeport": 443},
            "node port 443 for 'https' is outside",
        ),
        ("ingress_nginx", {"ingress_nginx_class_name": "traefik"}, "not the IngressClass"),
    ],
)
def test_bad_input_stops_the_render_with_a_clear_message(tmp_path, role, extra, message):
    result, out = render(tmp_path, role, extra)
    assert result.returncode != 0
    assert message in result.stdout, result.stdout
    assert not out.exists()


# ----------------------------------------------------------------------------------------
# playbooks/addons.yml without a cluster


def addons_inventory(tmp_path: Path, **host_vars: dict) -> Path:
    inv = {
        "lab": {
            "children": {
                "master": {"hosts": {"raspi001": host_vars.get("raspi001") or {}}},
                "workers": {"hosts": {"raspi002": host_vars.get("raspi002") or {}}},
            },
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": sys.executable,
                "metallb_addresses": POOL,
            },
        }
    }
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(inv))
    return path


def local_pins(
    tmp_path: Path, server, metallb_body: str = METALLB_073, ingress_body: str = INGRESS
) -> Path:
    """Extra vars pointing every pinned release at the local server (the sha256 is always
    that of the manifest written in the tests: a different body means a mismatch)."""
    pins = {}
    for role, key, body, good in (
        ("metallb", "metallb_releases", metallb_body, METALLB_073),
        ("ingress_nginx", "ingress_nginx_releases", ingress_body, INGRESS),
    ):
        releases = yaml.safe_load((REPO / "roles" / role / "defaults/main.yml").read_text())[key]
        pins[key] = {
            v: dict(p, url=server.put(f"{role}-{v}.yaml", body), sha256=sha256(good))
            for v, p in releases.items()
        }
    path = tmp_path / "pins.json"
    path.write_text(json.dumps(pins))
    return path


def run_addons(tmp_path: Path, inventory: Path, pins: Path, *extra: str):
    return play(
        tmp_path,
        REPO / "playbooks/addons.yml",
        "-i",
        str(inventory),
        "-e",
        f"@{pins}",
        "--skip-tags",
        "needs_kubeadm",
        *extra,
    )


def test_addons_play_runs_the_pipeline_without_a_cluster(tmp_path, manifest_server):
    inventory = addons_inventory(tmp_path)
    pins = local_pins(tmp_path, manifest_server)
    first = run_addons(tmp_path, inventory, pins)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "raspi001                   : ok=" in first.stdout
    assert "changed=0" in first.stdout and "failed=0" in first.stdout
    # the manifests were fetched once and cached by checksum for the next run
    cache = tmp_path / "cache/labctl/manifests"
    assert {p.name for p in cache.iterdir()} == {
        f"{sha256(METALLB_073)}.yaml",
        f"{sha256(INGRESS)}.yaml",
    }
    second = run_addons(tmp_path, inventory, pins)
    assert second.returncode == 0 and "changed=0" in second.stdout
    assert manifest_server.hits == {"metallb-0.7.3.yaml": 1, "ingress_nginx-1.15.1.yaml": 1}


def test_addons_play_refuses_a_manifest_whose_checksum_differs(tmp_path, manifest_server):
    pins = local_pins(tmp_path, manifest_server, metallb_body=METALLB_073 + "# changed\n")
    result = run_addons(tmp_path, addons_inventory(tmp_path), pins)
    assert result.returncode != 0
    assert "refusing http://127.0.0.1:" in result.stdout
    assert f"the pin in the role defaults is {sha256(METALLB_073)}" in result.stdout
    assert not (tmp_path / "cache/labctl/manifests").exists()


def test_addons_play_refuses_nodes_without_images_for_their_architecture(tmp_path, manifest_server):
    # the worker claims an architecture neither release publishes images for
    inventory = addons_inventory(tmp_path, raspi002={"ansible_architecture": "riscv64"})
    result = run_addons(tmp_path, inventory, local_pins(tmp_path, manifest_server))
    assert result.returncode != 0
    assert "MetalLB 0.7.3 publishes images for" in result.stdout
    assert "the nodes are riscv64, x86_64" in result.stdout


@pytest.mark.skipif(shutil.which("crictl") is not None, reason="this machine has crictl")
@pytest.mark.parametrize(
    ("skip", "extra", "message"),
    [
        ("ingress", {}, "crictl could not run on raspi001 to pull metallb/controller:v0.7.3"),
        (
            "ingress",
            {"metallb_controller_image": "mirror.lan/controller:v0.7.3"},
            "to pull mirror.lan/controller:v0.7.3",
        ),
        (
            "ingress",
            {"metallb_registry": "registry.lan:5000"},
            "to pull registry.lan:5000/metallb/controller:v0.7.3",
        ),
        ("metallb", {}, "crictl could not run on raspi001 to pull registry.k8s.io/ingress-nginx/"),
    ],
)
def test_image_pull_check_stops_before_any_cluster_task(
    tmp_path, manifest_server, skip, extra, message
):
    """Without --skip-tags needs_kubeadm: the pull check is the first task that needs a
    Kubernetes node; this machine has no crictl, so it must stop the play right there. The
    image it names is the one after labctl's overrides."""
    overrides = tmp_path / "overrides.json"
    overrides.write_text(json.dumps(extra))
    result = play(
        tmp_path,
        REPO / "playbooks/addons.yml",
        "-i",
        str(addons_inventory(tmp_path)),
        "-e",
        f"@{local_pins(tmp_path, manifest_server)}",
        "-e",
        f"@{overrides}",
        "--skip-tags",
        skip,
    )
    assert result.returncode != 0
    assert message in result.stdout, result.stdout
    assert "set metallb_check_images to false" in result.stdout or (
        "set ingress_nginx_check_images to false" in result.stdout
    )
    assert "TASK [metallb : Apply" not in result.stdout
    assert "TASK [ingress_nginx : Apply" not in result.stdout
    assert "TASK [ingress_nginx : Look for" not in result.stdout


PINNED_CHECK = """---
- name: The pinned-image check of image_check, on this machine
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Check a manifest against its pin
      ansible.builtin.include_role:
        name: image_check
        tasks_from: pinned
      vars:
        image_check_objects:
          - kind: Deployment
            spec:
              template:
                spec:
                  containers:
                    - {name: c, image: "quay.io/metallb/controller:v0.16.1"}
                    - {name: s, image: "{image}"}
        image_check_images: ["quay.io/metallb/controller:v0.16.1"]
        image_check_what: MetalLB 0.16.1
        image_check_pin: metallb_releases[0.16.1].images
"""


@pytest.mark.parametrize("listed", [True, False])
def test_a_manifest_image_the_pin_does_not_list_stops_the_run(tmp_path, listed):
    image = "quay.io/metallb/controller:v0.16.1" if listed else "quay.io/metallb/rogue:v1"
    book = tmp_path / "pinned.yml"
    book.write_text(PINNED_CHECK.replace("{image}", image))
    proc = play(tmp_path, book)
    if listed:
        assert proc.returncode == 0, proc.stdout[-3000:]
        return
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert "the pinned MetalLB 0.16.1 manifest runs quay.io/metallb/rogue:v1" in proc.stdout
    assert "metallb_releases[0.16.1].images does not list" in proc.stdout
