"""`labctl render metallb|ingress-nginx` through the real CLI (render.yml via ansible-runner,
controller only): the printed objects validate strictly; bad names/versions exit 2."""

from __future__ import annotations

import subprocess
from pathlib import Path

import clirun
import pytest
import yaml
from addons_schema import validate

POOL = ["10.77.9.100-10.77.9.110"]


def labctl(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    inventory = tmp_path / "hosts.yml"
    if not inventory.exists():
        inventory.write_text(
            yaml.safe_dump(
                {
                    "all": {
                        "children": {
                            "lab": {
                                "children": {
                                    "master": {
                                        "hosts": {"raspi001": {"ansible_host": "10.77.9.11"}}
                                    },
                                    "workers": {
                                        "hosts": {"raspi002": {"ansible_host": "10.77.9.12"}}
                                    },
                                },
                                "vars": {
                                    "ansible_user": "pi",
                                    "lab_subnet": "10.77.9.0/24",
                                    "metallb_addresses": POOL,
                                },
                            }
                        }
                    }
                }
            )
        )
    env = {k: v for k, v in clirun.isolated_env(tmp_path).items() if not k.startswith("ANSIBLE_")}
    env["LABCTL_INVENTORY"] = str(inventory)
    return clirun.run(*args, env=env, cwd=tmp_path, timeout=120)


@pytest.mark.parametrize(
    ("args", "kinds"),
    [
        (["render", "metallb"], ["ConfigMap"]),
        (["render", "metallb", "--addon-version", "0.16.1"], ["IPAddressPool", "L2Advertisement"]),
        (["render", "ingress-nginx"], ["Service"]),
        (
            ["render", "traefik"],
            [
                "Namespace",
                "ServiceAccount",
                "ClusterRole",
                "ClusterRoleBinding",
                "IngressClass",
                "Deployment",
                "Service",
            ],
        ),
    ],
)
def test_render_prints_valid_objects(tmp_path, args, kinds):
    result = labctl(tmp_path, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    objects = [o for o in yaml.safe_load_all(result.stdout) if o]
    assert [o["kind"] for o in objects] == kinds
    for obj in objects:
        validate(obj)
    text = result.stdout
    assert POOL[0] in text if args[1] == "metallb" else "nodePort: 30090" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["render", "metallb", "--addon-version", "0.9.9"], "unknown metallb version '0.9.9'"),
        (
            ["render", "ingress-nginx", "--addon-version", "0.24.1"],
            "unknown ingress_nginx version '0.24.1'",
        ),
        (["render", "contour"], "unknown name 'contour'"),
        (["render", "traefik", "--addon-version", "3.6.12"], "applies to pinned add-ons only"),
    ],
)
def test_render_refuses_unknown_names_and_versions(tmp_path, args, message):
    result = labctl(tmp_path, *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""
