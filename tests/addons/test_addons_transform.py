"""The manifest transformations of labctl.manifests, on small manifests written here."""

from __future__ import annotations

import copy

import pytest
from addons_fixtures import INGRESS, METALLB_073
from addons_schema import validate

from labctl import manifests as m

CONTROL_PLANE = {
    "key": "node-role.kubernetes.io/control-plane",
    "operator": "Exists",
    "effect": "NoSchedule",
}


def by_kind(objs, kind, name=None):
    found = [
        o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"expected one {kind}/{name}, got {len(found)}"
    return found[0]


def test_parse_skips_empty_documents_and_refuses_non_objects():
    objs = m.parse("---\n" + METALLB_073 + "\n---\n")
    assert [o["kind"] for o in objs] == ["Namespace", "Role", "DaemonSet", "Deployment"]
    with pytest.raises(m.ManifestError, match="not a Kubernetes object"):
        m.parse("just: a mapping\n")


def test_api_upgrade_keeps_selectors_labels_and_namespaces():
    before = m.parse(METALLB_073)
    after = m.upgrade_api_versions(before)
    for kind in ("DaemonSet", "Deployment"):
        old, new = by_kind(before, kind), by_kind(after, kind)
        assert old["apiVersion"] == "apps/v1beta2"
        assert new["apiVersion"] == "apps/v1"
        assert new["spec"]["selector"] == old["spec"]["selector"]
        assert new["metadata"] == old["metadata"]
        assert new["spec"]["template"] == old["spec"]["template"]
    assert by_kind(after, "Deployment")["spec"]["revisionHistoryLimit"] == 3
    assert by_kind(after, "Role")["apiVersion"] == "rbac.authorization.k8s.io/v1"
    assert by_kind(after, "Role")["rules"] == by_kind(before, "Role")["rules"]
    assert by_kind(after, "Namespace") == by_kind(before, "Namespace")
    # pure: the input is untouched
    assert by_kind(before, "DaemonSet")["apiVersion"] == "apps/v1beta2"


def test_api_upgrade_output_validates_and_the_original_does_not():
    """apps/v1beta2 has no schema at kubernetes_version: that must count as a failure."""
    before = [o for o in m.parse(METALLB_073) if o["kind"] in ("DaemonSet", "Deployment")]
    for obj in before:
        with pytest.raises(AssertionError, match="no schema"):
            validate(obj)
    for obj in m.upgrade_api_versions(before):
        validate(obj)


def test_api_upgrade_derives_a_missing_selector_from_the_template_labels():
    ds = by_kind(m.parse(METALLB_073), "DaemonSet")
    del ds["spec"]["selector"]
    ds["apiVersion"] = "extensions/v1beta1"
    (new,) = m.upgrade_api_versions([ds])
    assert new["apiVersion"] == "apps/v1"
    assert new["spec"]["selector"] == {"matchLabels": {"app": "metallb", "component": "speaker"}}
    ds["spec"]["template"]["metadata"]["labels"] = {}
    with pytest.raises(m.ManifestError, match=r"spec\.selector"):
        m.upgrade_api_versions([ds])


@pytest.mark.parametrize(
    ("api", "kind"),
    [
        ("extensions/v1beta1", "Ingress"),
        ("policy/v1beta1", "PodSecurityPolicy"),
        ("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition"),
    ],
)
def test_api_upgrade_refuses_removed_kinds_without_a_successor(api, kind):
    with pytest.raises(m.ManifestError, match="no mechanical successor"):
        m.upgrade_api_versions([{"apiVersion": api, "kind": kind, "metadata": {"name": "x"}}])


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("metallb/speaker:v0.7.3", m.ImageRef("docker.io", "metallb/speaker", "v0.7.3")),
        ("nginx:1.12", m.ImageRef("docker.io", "library/nginx", "1.12")),
        ("registry.lan:5000/metallb/speaker", m.ImageRef("registry.lan:5000", "metallb/speaker")),
        (
            "registry.k8s.io/ingress-nginx/controller:v1.15.1@sha256:" + "a" * 64,
            m.ImageRef(
                "registry.k8s.io", "ingress-nginx/controller", "v1.15.1", "sha256:" + "a" * 64
            ),
        ),
    ],
)
def test_image_reference_parsing(ref, expected):
    assert m.ImageRef.parse(ref) == expected


def test_image_map_overrides_by_repository_whatever_the_spelling():
    objs = m.parse(METALLB_073)
    mapped = m.map_images(
        objs,
        {
            "docker.io/metallb/speaker:v0.7.3": "mirror.lan/speaker:v0.7.3",
            "metallb/controller": "mirror.lan/controller:v0.7.3",
        },
    )
    assert by_kind(mapped, "DaemonSet")["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "mirror.lan/speaker:v0.7.3"
    )
    assert by_kind(mapped, "Deployment")["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "mirror.lan/controller:v0.7.3"
    )
    assert m.images_of(objs) == ["metallb/speaker:v0.7.3", "metallb/controller:v0.7.3"]


def test_registry_override_keeps_repository_tag_and_digest():
    assert (
        m.map_image("metallb/speaker:v0.7.3", registry="quay.io")
        == "quay.io/metallb/speaker:v0.7.3"
    )
    digest = "sha256:" + "b" * 64
    assert m.map_image(
        f"registry.k8s.io/ingress-nginx/controller:v1.15.1@{digest}", registry="mirror.lan:5000/"
    ) == (f"mirror.lan:5000/ingress-nginx/controller:v1.15.1@{digest}")
    # an explicit override wins over the registry override
    assert (
        m.map_image("metallb/speaker:v0.7.3", {"metallb/speaker": "x.io/s:1"}, registry="quay.io")
        == "x.io/s:1"
    )
    with pytest.raises(m.PinError):
        m.map_image("metallb/speaker:v0.7.3", registry="not a registry")


@pytest.mark.parametrize(
    ("arch", "suffix"), [("aarch64", "arm64"), ("armv7l", "arm"), ("x86_64", "amd64")]
)
def test_per_arch_image_names_for_releases_before_multi_arch(arch, suffix):
    old = "quay.io/kubernetes-ingress-controller/nginx-ingress-controller:0.24.1"
    mapped = m.map_image(old, arch_suffix=m.arch_suffix_for(arch))
    assert (
        mapped == f"quay.io/kubernetes-ingress-controller/nginx-ingress-controller-{suffix}:0.24.1"
    )
    # idempotent: an already suffixed name stays as it is
    assert m.map_image(mapped, arch_suffix=suffix) == mapped
    # the multi-arch digest no longer applies to the per-arch image
    assert "@" not in m.map_image(old + "@sha256:" + "c" * 64, arch_suffix=suffix)


def test_per_arch_image_map_and_unknown_architecture():
    per_arch = {
        "aarch64": {"registry.k8s.io/ingress-nginx/controller": "m.lan/c-arm64:1"},
        "x86_64": {"registry.k8s.io/ingress-nginx/controller": "m.lan/c-amd64:1"},
    }
    objs = m.parse(INGRESS)
    for arch, image in (("aarch64", "m.lan/c-arm64:1"), ("x86_64", "m.lan/c-amd64:1")):
        mapped = m.map_images(objs, per_arch[arch])
        assert (
            by_kind(mapped, "Deployment")["spec"]["template"]["spec"]["containers"][0]["image"]
            == image
        )
        # the admission Job's image is not in the map and stays pinned by digest
        assert (
            by_kind(mapped, "Job")["spec"]["template"]["spec"]["containers"][0]["image"]
            == (by_kind(objs, "Job")["spec"]["template"]["spec"]["containers"][0]["image"])
        )
    with pytest.raises(m.PinError, match="unknown node architecture 'sparc'"):
        m.arch_suffix_for("sparc")


def test_tolerations_added_to_the_target_only_and_not_twice():
    objs = m.upgrade_api_versions(m.parse(METALLB_073))
    assert "tolerations" not in by_kind(objs, "DaemonSet")["spec"]["template"]["spec"]
    once = m.add_tolerations(objs, [CONTROL_PLANE], ["DaemonSet/speaker"])
    twice = m.add_tolerations(once, [CONTROL_PLANE], ["DaemonSet/speaker"])
    assert by_kind(twice, "DaemonSet")["spec"]["template"]["spec"]["tolerations"] == [CONTROL_PLANE]
    assert "tolerations" not in by_kind(twice, "Deployment")["spec"]["template"]["spec"]
    validate(by_kind(twice, "DaemonSet"))
    with pytest.raises(m.ManifestError, match="DaemonSet/nope"):
        m.add_tolerations(objs, [CONTROL_PLANE], ["DaemonSet/nope"])


def test_nodeport_service_replaces_upstreams_and_validates():
    objs = m.parse(INGRESS)
    upstream = by_kind(objs, "Service")
    ours = m.nodeport_service(
        "ingress-nginx-controller",
        "ingress-nginx",
        upstream["spec"]["selector"],
        {"http": {"port": 80, "nodePort": 30090}, "https": {"port": 443, "nodePort": 30443}},
    )
    replaced = m.replace_objects(objs, [ours])
    svc = by_kind(replaced, "Service")
    assert {p["name"]: p["nodePort"] for p in svc["spec"]["ports"]} == {
        "http": 30090,
        "https": 30443,
    }
    assert [o["kind"] for o in replaced] == [o["kind"] for o in objs]
    validate(svc)
    # upstream's automatic ports are gone; upstream itself had none fixed
    assert all("nodePort" not in p for p in upstream["spec"]["ports"])


def test_replacement_refused_when_upstream_lacks_it_or_selects_differently():
    objs = m.parse(INGRESS)
    selector = by_kind(objs, "Service")["spec"]["selector"]
    ports = {"http": {"port": 80, "nodePort": 30090}}
    with pytest.raises(m.ManifestError, match="no Service/ingress-nginx/other"):
        m.replace_objects(objs, [m.nodeport_service("other", "ingress-nginx", selector, ports)])
    wrong = dict(selector, **{"app.kubernetes.io/name": "something-else"})
    with pytest.raises(m.ManifestError, match="selector"):
        m.replace_objects(
            objs, [m.nodeport_service("ingress-nginx-controller", "ingress-nginx", wrong, ports)]
        )


@pytest.mark.parametrize("bad", [80, 29999, 32768])
def test_nodeport_outside_the_range_is_bad_input(bad):
    with pytest.raises(m.PinError, match="outside 30000-32767") as info:
        m.nodeport_service("s", "ns", {"a": "b"}, {"http": {"port": 80, "nodePort": bad}})
    assert info.value.exit_code == 2


def test_transform_runs_every_step_in_order():
    objs = m.parse(METALLB_073)
    original = copy.deepcopy(objs)
    out = m.transform(
        objs,
        m.Transform(
            registry="quay.io",
            tolerations=[CONTROL_PLANE],
            toleration_targets=["DaemonSet/speaker"],
        ),
    )
    assert objs == original
    ds = by_kind(out, "DaemonSet")
    assert ds["apiVersion"] == "apps/v1"
    assert (
        ds["spec"]["template"]["spec"]["containers"][0]["image"] == "quay.io/metallb/speaker:v0.7.3"
    )
    assert ds["spec"]["template"]["spec"]["tolerations"] == [CONTROL_PLANE]
    for obj in out:
        validate(obj)
