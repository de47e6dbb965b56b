"""Strict schema validation for the objects labctl authors, at ``kubernetes_version``.

Core kinds use kubernetes-validate's strict schemas. A missing schema (kubernetes-validate
only warns about it, e.g. for apps/v1beta2) raises here: it counts as a failure.

MetalLB's CRD kinds have no schema in kubernetes-validate. For them this module carries our
own strict JSON schemas, written from the facts of the pinned release's CRDs
(metallb/metallb@v0.16.1:config/crd/bases/metallb.io_{ipaddresspools,l2advertisements}.yaml):
``spec`` fields and types, ``additionalProperties: false``; ``metadata`` is checked against
Kubernetes' own ObjectMeta schema. The v0.7.3 ConfigMap's ``config`` document gets a schema
written from metallb@v0.7.3:internal/config/config.go.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml
from kubernetes_validate.utils import SchemaNotFoundError, all_versions, major_minor
from referencing import Registry, Resource

REPO = Path(__file__).resolve().parents[2]
DEFS_URI = "https://kubernetes.io/api/_definitions.json"
OBJECT_META = {"$ref": f"{DEFS_URI}#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}


def kubernetes_version() -> str:
    """``kubernetes_version`` from playbooks/group_vars/all.yml (CONTRIBUTING.md)."""
    data = yaml.safe_load((REPO / "playbooks/group_vars/all.yml").read_text())
    return str(data["kubernetes_version"])


def schema_version() -> str:
    """The schema set used: ``kubernetes_version`` if kubernetes-validate has it, else its newest
    (say so in the test output)."""
    wanted = kubernetes_version()
    have = [major_minor(v) for v in all_versions()]
    return wanted if wanted in have else have[-1]


def _selector_list() -> dict[str, Any]:
    label_selector = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
            "matchExpressions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["key", "operator"],
                    "properties": {
                        "key": {"type": "string"},
                        "operator": {"type": "string"},
                        "values": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
    }
    return {"type": "array", "items": label_selector}


def _crd_object(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "metallb.io/v1beta1"},
            "kind": {"const": kind},
            "metadata": {
                "allOf": [OBJECT_META],
                "required": ["name", "namespace"],
            },
            "spec": spec,
        },
    }


METALLB_CRD_SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("metallb.io/v1beta1", "IPAddressPool"): _crd_object(
        "IPAddressPool",
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["addresses"],
            "properties": {
                "addresses": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                "autoAssign": {"type": "boolean"},
                "avoidBuggyIPs": {"type": "boolean"},
                "serviceAllocation": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "priority": {"type": "integer"},
                        "namespaces": {"type": "array", "items": {"type": "string"}},
                        "namespaceSelectors": _selector_list(),
                        "serviceSelectors": _selector_list(),
                    },
                },
            },
        },
    ),
    ("metallb.io/v1beta1", "L2Advertisement"): _crd_object(
        "L2Advertisement",
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "ipAddressPools": {"type": "array", "items": {"type": "string"}},
                "ipAddressPoolSelectors": _selector_list(),
                "nodeSelectors": _selector_list(),
                "interfaces": {"type": "array", "items": {"type": "string"}},
            },
        },
    ),
}

# metallb@v0.7.3:internal/config/config.go (configFile, addressPool); what labctl writes uses
# only layer2 pools, so peers/bgp fields are allowed but not described.
METALLB_073_CONFIG = {
    "type": "object",
    "additionalProperties": False,
    "required": ["address-pools"],
    "properties": {
        "peers": {"type": "array"},
        "bgp-communities": {"type": "object"},
        "address-pools": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "protocol", "addresses"],
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "protocol": {"enum": ["bgp", "layer2"]},
                    "addresses": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                    "avoid-buggy-ips": {"type": "boolean"},
                    "auto-assign": {"type": "boolean"},
                    "bgp-advertisements": {"type": "array"},
                },
            },
        },
    },
}


def _definitions(version: str) -> Resource:
    root = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    path = root / f"v{version}.0-local-strict" / "_definitions.json"
    return Resource.from_contents(json.loads(path.read_text()))


def check_address(entry: str) -> None:
    """A MetalLB pool entry: a CIDR without host bits, or ``first-last`` with first <= last."""
    if "-" in entry:
        first, last = (ipaddress.ip_address(p.strip()) for p in entry.split("-", 1))
        if first.version != last.version or first > last:
            raise ValueError(f"bad range {entry!r}")
    else:
        ipaddress.ip_network(entry, strict=True)


def validate(obj: dict[str, Any], version: str | None = None) -> str:
    """Validate one object strictly; return the schema version used. Raises on any problem,
    including a missing schema."""
    version = version or schema_version()
    key = (obj.get("apiVersion"), obj.get("kind"))
    if key in METALLB_CRD_SCHEMAS:
        registry = Registry().with_resource(DEFS_URI, _definitions(version))
        validator = jsonschema.Draft202012Validator(METALLB_CRD_SCHEMAS[key], registry=registry)
        validator.validate(obj)
        if obj["kind"] == "IPAddressPool":
            for entry in obj["spec"]["addresses"]:
                check_address(entry)
        return version
    try:
        used = kubernetes_validate.validate(obj, version, strict=True)
    except SchemaNotFoundError as exc:
        raise AssertionError(f"no schema (counts as failure): {exc.message}") from None
    if (
        obj.get("kind") == "ConfigMap"
        and "config" in (obj.get("data") or {})
        and (obj["metadata"].get("namespace") == "metallb-system")
    ):
        config = yaml.safe_load(obj["data"]["config"])
        jsonschema.validate(config, METALLB_073_CONFIG)
        for pool in config["address-pools"]:
            for entry in pool["addresses"]:
                check_address(entry)
    return used
