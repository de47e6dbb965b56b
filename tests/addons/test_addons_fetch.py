"""Fetching pinned manifests (sha256) and `upstream_objects`, against a real HTTP server on
127.0.0.1 serving manifests written in the tests. Also: the real pins are well-formed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from addons_fixtures import INGRESS, METALLB_073, sha256
from addons_schema import validate

from labctl import manifests as m

REPO = Path(__file__).resolve().parents[2]


def test_fetch_returns_bytes_that_match_the_pin(manifest_server, tmp_path):
    url = manifest_server.put("metallb.yaml", METALLB_073)
    assert m.fetch(url, sha256(METALLB_073), cache_dir=tmp_path) == METALLB_073.encode()


def test_checksum_mismatch_refuses_and_caches_nothing(manifest_server, tmp_path):
    url = manifest_server.put("metallb.yaml", METALLB_073 + "# tampered\n")
    with pytest.raises(m.ChecksumMismatch) as info:
        m.fetch(url, sha256(METALLB_073), cache_dir=tmp_path)
    message = str(info.value)
    assert url in message and sha256(METALLB_073) in message and "\n" not in message
    assert "update the pin" in message
    assert list(tmp_path.iterdir()) == []


def test_cache_is_keyed_by_checksum_and_rechecked(manifest_server, tmp_path):
    url = manifest_server.put("metallb.yaml", METALLB_073)
    m.fetch(url, sha256(METALLB_073), cache_dir=tmp_path)
    m.fetch(url, sha256(METALLB_073), cache_dir=tmp_path)
    assert manifest_server.hits["metallb.yaml"] == 1
    cached = tmp_path / f"{sha256(METALLB_073)}.yaml"
    cached.write_text("corrupted")  # a bad cache entry is dropped and fetched again
    assert m.fetch(url, sha256(METALLB_073), cache_dir=tmp_path) == METALLB_073.encode()
    assert manifest_server.hits["metallb.yaml"] == 2


@pytest.mark.parametrize(
    ("url", "pin", "match"),
    [("ftp://127.0.0.1/x", "a" * 64, "http"), ("http://127.0.0.1/x", "abc", "64 hex")],
)
def test_malformed_pins_are_bad_input(url, pin, match):
    with pytest.raises(m.PinError, match=match) as info:
        m.fetch(url, pin)
    assert info.value.exit_code == 2


def test_download_failure_is_one_clear_line(manifest_server, tmp_path):
    with pytest.raises(m.ManifestError, match="cannot download") as info:
        m.fetch(f"{manifest_server.base}/missing.yaml", "a" * 64, cache_dir=tmp_path)
    assert "\n" not in str(info.value)


def _roles(tmp_path: Path, metallb_releases: dict, ingress_releases: dict) -> Path:
    """A roles dir whose defaults are the real ones with the releases pointed at the server."""
    for role, key, releases in (
        ("metallb", "metallb_releases", metallb_releases),
        ("ingress_nginx", "ingress_nginx_releases", ingress_releases),
    ):
        defaults = yaml.safe_load((REPO / "roles" / role / "defaults/main.yml").read_text())
        defaults[key] = releases
        path = tmp_path / role / "defaults" / "main.yml"
        path.parent.mkdir(parents=True)
        path.write_text(yaml.safe_dump(defaults))
    return tmp_path


@pytest.fixture
def local_roles(manifest_server, tmp_path):
    real_metallb = yaml.safe_load((REPO / "roles/metallb/defaults/main.yml").read_text())
    real_ingress = yaml.safe_load((REPO / "roles/ingress_nginx/defaults/main.yml").read_text())
    metallb = {
        v: dict(
            pin,
            url=manifest_server.put(f"metallb-{v}.yaml", METALLB_073),
            sha256=sha256(METALLB_073),
        )
        for v, pin in real_metallb["metallb_releases"].items()
    }
    ingress = {
        v: dict(pin, url=manifest_server.put(f"ingress-{v}.yaml", INGRESS), sha256=sha256(INGRESS))
        for v, pin in real_ingress["ingress_nginx_releases"].items()
    }
    return _roles(tmp_path / "roles", metallb, ingress)


def test_upstream_metallb_073_is_patched_and_validates(local_roles, tmp_path):
    objs = m.upstream_objects(
        "metallb",
        "0.7.3",
        "aarch64",
        roles_dir=local_roles,
        cache_dir=tmp_path / "cache",
        images={"metallb/speaker": "quay.io/metallb/speaker:v0.7.3"},
    )
    kinds = {o["kind"]: o for o in objs}
    assert kinds["DaemonSet"]["apiVersion"] == kinds["Deployment"]["apiVersion"] == "apps/v1"
    assert m.images_of(objs) == ["quay.io/metallb/speaker:v0.7.3", "metallb/controller:v0.7.3"]
    # the chapter's speaker: no control-plane toleration unless asked for
    assert "tolerations" not in kinds["DaemonSet"]["spec"]["template"]["spec"]
    for obj in objs:
        validate(obj)


def test_upstream_metallb_control_plane_toleration_from_the_defaults(local_roles, tmp_path):
    path = local_roles / "metallb/defaults/main.yml"
    defaults = yaml.safe_load(path.read_text())
    defaults["metallb_control_plane_toleration"] = True
    path.write_text(yaml.safe_dump(defaults))
    objs = m.upstream_objects("metallb", "0.7.3", roles_dir=local_roles, cache_dir=tmp_path)
    ds = next(o for o in objs if o["kind"] == "DaemonSet")
    assert (
        ds["spec"]["template"]["spec"]["tolerations"]
        == defaults["metallb_control_plane_tolerations"]
    )


def test_upstream_ingress_gets_fixed_nodeports_from_the_defaults(local_roles, tmp_path):
    objs = m.upstream_objects(
        "ingress-nginx", None, "aarch64", roles_dir=local_roles, cache_dir=tmp_path
    )
    svc = next(o for o in objs if o["kind"] == "Service")
    defaults = yaml.safe_load((REPO / "roles/ingress_nginx/defaults/main.yml").read_text())
    assert {p["name"]: p["nodePort"] for p in svc["spec"]["ports"]} == {
        "http": defaults["ingress_nginx_http_nodeport"],
        "https": defaults["ingress_nginx_https_nodeport"],
    }
    assert svc["spec"]["type"] == "NodePort"
    validate(svc)


def test_upstream_ingress_refuses_an_architecture_without_images(local_roles, tmp_path):
    with pytest.raises(m.PinError, match="no image for s390x") as info:
        m.upstream_objects(
            "ingress-nginx", None, "s390x", roles_dir=local_roles, cache_dir=tmp_path
        )
    assert info.value.exit_code == 2


def test_upstream_pre_multiarch_release_maps_to_arch_names(local_roles, tmp_path):
    path = local_roles / "ingress_nginx/defaults/main.yml"
    defaults = yaml.safe_load(path.read_text())
    pin = defaults["ingress_nginx_releases"]["1.15.1"]
    defaults["ingress_nginx_releases"]["0.24.1"] = dict(
        pin, multiarch=False, architectures=["x86_64", "aarch64"]
    )
    path.write_text(yaml.safe_dump(defaults))
    objs = m.upstream_objects(
        "ingress-nginx", "0.24.1", "aarch64", roles_dir=local_roles, cache_dir=tmp_path
    )
    assert m.images_of(objs) == [
        "registry.k8s.io/ingress-nginx/controller-arm64:v1.15.1",
        "registry.k8s.io/ingress-nginx/kube-webhook-certgen-arm64:v1.6.9",
    ]


@pytest.mark.parametrize(
    ("addon", "version", "match"),
    [
        (
            "metallb",
            "0.9.9",
            r"unknown metallb version '0\.9\.9': labctl pins 0\.7\.3, 0\.16\.1; choose one",
        ),
        ("ingress-nginx", "0.24.1", "unknown ingress_nginx version '0.24.1'"),
        ("traefik", None, "unknown add-on 'traefik'"),
    ],
)
def test_unknown_version_or_addon_is_bad_input(local_roles, addon, version, match):
    with pytest.raises(m.PinError, match=match) as info:
        m.upstream_objects(addon, version, roles_dir=local_roles)
    assert info.value.exit_code == 2
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("role", "prefix"), [("metallb", "metallb"), ("ingress_nginx", "ingress_nginx")]
)
def test_real_pins_are_well_formed(role, prefix):
    defaults = m.role_defaults(role, REPO / "roles")
    version, pin = m.release(defaults, prefix)
    assert version == defaults[f"{prefix}_version"]
    for v, p in defaults[f"{prefix}_releases"].items():
        assert re.fullmatch(r"[0-9a-f]{64}", p["sha256"]), v
        assert p["url"].startswith("https://raw.githubusercontent.com/"), v
        assert f"v{v}/" in p["url"], f"{v}: URL must pin the release tag"
        assert set(p["architectures"]) <= set(m.ARCH_SUFFIX) | {"ppc64le", "s390x"}
        assert "aarch64" in p["architectures"]
    if role == "ingress_nginx":
        for ref in pin["images"].values():
            assert m.ImageRef.parse(ref).digest, f"{ref} must be pinned by digest"


def test_versions_set_in_the_inventory_are_checked_before_any_play():
    m.validate_versions(
        {"metallb_version": "0.7.3", "ingress_nginx_version": "1.15.1"}, REPO / "roles"
    )
    with pytest.raises(
        m.PinError, match=re.escape("unknown ingress_nginx version '1.2.3'")
    ) as info:
        m.validate_versions({"ingress_nginx_version": "1.2.3"}, REPO / "roles")
    assert info.value.exit_code == 2


def test_upstream_metallb_refuses_an_architecture_without_images(local_roles, manifest_server):
    with pytest.raises(m.PinError, match=re.escape("MetalLB 0.7.3 publishes no image for riscv64")):
        m.upstream_objects("metallb", "0.7.3", "riscv64", roles_dir=local_roles)
    assert manifest_server.hits == {}  # refused before any download


def test_combine_prints_each_object_once():
    upstream = m.parse(INGRESS)
    svc = next(o for o in upstream if o["kind"] == "Service")
    extra = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "y"}}
    combined = m.combine(upstream, [svc, extra])
    assert [m.identity(o) for o in combined] == [m.identity(o) for o in upstream] + [
        "ConfigMap/y/x"
    ]
