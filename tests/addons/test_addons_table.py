"""labctl/addons.py, the one table of add-ons: it names the roles that exist, its ingress
default is the playbooks' own, and the inventory's choice picks what status reports."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from labctl import addons

REPO = Path(__file__).resolve().parents[2]


def test_every_addon_is_a_role_with_its_deployment_in_its_defaults_or_templates():
    for addon in addons.ADDONS:
        role = REPO / "roles" / addon.role
        assert (role / "tasks" / "main.yml").is_file(), addon
        text = "\n".join(p.read_text() for p in role.rglob("*.yml*"))
        assert addon.deployment in text, addon
        defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text())
        assert (f"{addon.role}_releases" in defaults) == addon.upstream, addon


def test_the_ingress_default_is_the_playbooks_own():
    group_vars = (REPO / "playbooks/group_vars/all.yml").read_text()
    found = re.search(r"lab_ingress_controller: .*default\('([^']+)'\)", group_vars)
    assert found and found.group(1) == addons.DEFAULT_INGRESS
    spec = yaml.safe_load((REPO / "roles/traefik/meta/argument_specs.yml").read_text())
    option = spec["argument_specs"]["main"]["options"]["ingress_controller"]
    assert option["default"] == addons.DEFAULT_INGRESS
    assert tuple(option["choices"]) == addons.INGRESS_CONTROLLERS


@pytest.mark.parametrize(
    ("lab_vars", "names"),
    [
        ({}, ["metallb", "ingress-nginx"]),
        ({"ingress_controller": "traefik"}, ["metallb", "traefik"]),
        ({"ingress_controller": "ingress-nginx"}, ["metallb", "ingress-nginx"]),
    ],
)
def test_the_inventory_chooses_the_ingress_controller(lab_vars, names):
    assert [a.name for a in addons.chosen(lab_vars)] == names


def test_an_unknown_controller_is_named_with_the_choices():
    assert addons.ingress_problem({"ingress_controller": "traefik"}) is None
    problem = addons.ingress_problem({"ingress_controller": "contour"})
    assert problem == (
        "'contour' is not an ingress controller labctl installs: choose ingress-nginx or traefik"
    )
