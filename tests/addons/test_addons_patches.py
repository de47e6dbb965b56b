"""Manifest patches (labctl.manifests.apply_patches and Transform.patches), on a small
flannel-like manifest written here (never upstream's)."""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

from labctl import manifests as m

FLANNEL = """\
apiVersion: v1
kind: Namespace
metadata:
  name: kube-flannel
---
kind: ConfigMap
apiVersion: v1
metadata:
  name: kube-flannel-cfg
  namespace: kube-flannel
data:
  cni-conf.json: |
    {
      "name": "cbr0",
      "cniVersion": "1.0.0",
      "plugins": [{"type": "flannel", "delegate": {"hairpinMode": true}}]
    }
  net-conf.json: |
    {"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: kube-flannel-ds
  namespace: kube-flannel
  labels:
    app: flannel
spec:
  selector:
    matchLabels:
      app: flannel
  template:
    metadata:
      labels:
        app: flannel
    spec:
      containers:
      - name: kube-flannel
        image: ghcr.io/flannel-io/flannel:v0.26.1
        command: ["/opt/bin/flanneld"]
        args: ["--ip-masq", "--kube-subnet-mgr"]
"""

CNI_VERSION = {
    "kind": "ConfigMap",
    "name": "kube-flannel-cfg",
    "namespace": "kube-flannel",
    "ops": [
        {
            "op": "edit",
            "path": "/data/cni-conf.json",
            "regexp": r'"cniVersion": "1\.0\.0"',
            "replace": '"cniVersion": "0.4.0"',
        }
    ],
}
IFACE = {
    "kind": "DaemonSet",
    "name": "kube-flannel-ds",
    "ops": [
        {"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "--iface=eth0"}
    ],
}


def objs():
    return m.parse(FLANNEL)


def by_kind(items, kind):
    (found,) = [o for o in items if o["kind"] == kind]
    return found


def args_of(items):
    return by_kind(items, "DaemonSet")["spec"]["template"]["spec"]["containers"][0]["args"]


def test_flannel_patches_edit_the_cni_version_and_append_an_arg():
    before = objs()
    original = copy.deepcopy(before)
    after = m.apply_patches(before, [CNI_VERSION, IFACE])
    assert before == original  # the input is not mutated
    conf = json.loads(by_kind(after, "ConfigMap")["data"]["cni-conf.json"])
    assert conf["cniVersion"] == "0.4.0"
    assert conf["plugins"] == [{"type": "flannel", "delegate": {"hairpinMode": True}}]
    assert args_of(after) == ["--ip-masq", "--kube-subnet-mgr", "--iface=eth0"]
    assert by_kind(after, "Namespace") == by_kind(before, "Namespace")
    # deep copies: changing the output leaves the input (and the patch's value) alone
    args_of(after).append("--more")
    by_kind(after, "Namespace")["metadata"]["name"] = "changed"
    assert before == original


def test_inserted_values_are_copies_of_the_patch_value():
    value = {"name": "FLANNEL_MTU", "value": "1450"}
    patch = {
        "kind": "DaemonSet",
        "name": "kube-flannel-ds",
        "ops": [{"op": "add", "path": "/spec/template/spec/containers/0/env", "value": [value]}],
    }
    after = m.apply_patches(objs(), [patch])
    env = by_kind(after, "DaemonSet")["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [value]
    env[0]["value"] = "9000"
    assert value["value"] == "1450"


def test_add_replace_remove_and_pointer_escapes():
    obj = {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {"name": "c", "annotations": {"a/b": "1", "x~y": "2"}},
        "data": {"list": ["a", "c"]},
    }
    patch = {
        "kind": "ConfigMap",
        "name": "c",
        "ops": [
            {"op": "replace", "path": "/metadata/annotations/a~1b", "value": "slash"},
            {"op": "remove", "path": "/metadata/annotations/x~0y"},
            {"op": "add", "path": "/metadata/annotations/new~1key", "value": "k"},
            {"op": "add", "path": "/data/list/1", "value": "b"},
            {"op": "add", "path": "/data/list/3", "value": "d"},
            {"op": "replace", "path": "/data/list/0", "value": "A"},
            {"op": "remove", "path": "/data/list/3"},
            {"op": "add", "path": "/metadata/name", "value": "c"},
        ],
    }
    (out,) = m.apply_patches([obj], [patch])
    assert out["metadata"]["annotations"] == {"a/b": "slash", "new/key": "k"}
    assert out["data"]["list"] == ["A", "b", "c"]


def test_namespace_narrows_the_match_and_every_match_is_patched():
    def cm(namespace):
        return {"kind": "ConfigMap", "metadata": {"name": "c", "namespace": namespace}, "data": {}}

    label = {"op": "add", "path": "/data/patched", "value": "yes"}
    out = m.apply_patches([cm("a"), cm("b")], [{"kind": "ConfigMap", "name": "c", "ops": [label]}])
    assert [o["data"] for o in out] == [{"patched": "yes"}, {"patched": "yes"}]
    narrowed = {"kind": "ConfigMap", "name": "c", "namespace": "b", "ops": [label]}
    out = m.apply_patches([cm("a"), cm("b")], [narrowed])
    assert [o["data"] for o in out] == [{}, {"patched": "yes"}]


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (
            {**IFACE, "name": "kube-flannel"},
            r"^patch 1 \(DaemonSet kube-flannel\) matched no object: the upstream manifest changed",
        ),
        (
            {**IFACE, "kind": "Deployment"},
            r"^patch 1 \(Deployment kube-flannel-ds\) matched no object",
        ),
        (
            {**CNI_VERSION, "namespace": "kube-system"},
            r"^patch 1 \(ConfigMap kube-system/kube-flannel-cfg\) matched no object",
        ),
        (
            {
                **IFACE,
                "ops": [
                    {"op": "add", "path": "/spec/template/spec/containers/1/args/-", "value": "x"}
                ],
            },
            r"op 1 \(add /spec/template/spec/containers/1/args/-\): DaemonSet/kube-flannel/kube-flannel-ds "
            r"has no /spec/template/spec/containers/1 \(a list of 1 items\): the upstream manifest changed",
        ),
        (
            {
                **IFACE,
                "ops": [
                    {"op": "add", "path": "/spec/template/spec/containers/0/args/5", "value": "x"}
                ],
            },
            r"has no /spec/template/spec/containers/0/args/5 \(a list of 2 items\)",
        ),
        (
            {**IFACE, "ops": [{"op": "add", "path": "/spec/missing/deeper", "value": 1}]},
            r"has no /spec/missing: the upstream manifest changed",
        ),
        (
            {**IFACE, "ops": [{"op": "replace", "path": "/spec/updateStrategy", "value": {}}]},
            r"op 1 \(replace /spec/updateStrategy\): .* has no /spec/updateStrategy",
        ),
        (
            {**IFACE, "ops": [{"op": "remove", "path": "/metadata/annotations"}]},
            r"op 1 \(remove /metadata/annotations\): .* has no /metadata/annotations",
        ),
        (
            {**IFACE, "ops": [{"op": "remove", "path": "/spec/template/spec/containers/0/args/-"}]},
            r"has no /spec/template/spec/containers/0/args/-",
        ),
        (
            {
                **CNI_VERSION,
                "ops": [{**CNI_VERSION["ops"][0], "regexp": r'"cniVersion": "9\.9\.9"'}],
            },
            r"regexp '\"cniVersion\": \"9\\\\.9\\\\.9\"' matches nothing in /data/cni-conf.json of "
            r"ConfigMap/kube-flannel/kube-flannel-cfg: the upstream manifest changed",
        ),
        (
            {**CNI_VERSION, "ops": [{**CNI_VERSION["ops"][0], "path": "/data/other.json"}]},
            r"has no /data/other.json",
        ),
        (
            {
                **IFACE,
                "ops": [
                    {
                        "op": "edit",
                        "path": "/spec/template/spec/containers/0/args",
                        "regexp": "x",
                        "replace": "y",
                    }
                ],
            },
            r"is a list, not a string to edit",
        ),
    ],
)
def test_patches_that_no_longer_fit_the_manifest_are_refused(patch, message):
    with pytest.raises(m.ManifestError, match=message) as info:
        m.apply_patches(objs(), [patch])
    assert not isinstance(info.value, m.PinError)
    assert "\n" not in str(info.value)


def test_the_error_names_the_failing_patch_by_its_position():
    missing = {**IFACE, "name": "gone"}
    with pytest.raises(m.ManifestError, match=r"^patch 2 \(DaemonSet gone\) matched no object"):
        m.apply_patches(objs(), [CNI_VERSION, missing])


ADD = {"op": "add", "path": "/spec/x", "value": 1}


@pytest.mark.parametrize(
    ("patches", "message"),
    [
        ({"kind": "DaemonSet"}, r"patches must be a list of patches, not a dict"),
        (["DaemonSet/kube-flannel-ds"], r"^patch 1 is not a mapping"),
        ([{"name": "kube-flannel-ds", "ops": [ADD]}], r"^patch 1 lacks 'kind'"),
        ([{"kind": "DaemonSet", "ops": [ADD]}], r"^patch 1 lacks 'name'"),
        (
            [{**IFACE, "namepsace": "x"}],
            r"^patch 1 \(DaemonSet kube-flannel-ds\) has unknown keys \['namepsace'\]",
        ),
        ([{**IFACE, "namespace": 3}], r"namespace 3 is not a string"),
        ([{**IFACE, "ops": []}], r"^patch 1 \(DaemonSet kube-flannel-ds\) has no list of ops"),
        ([{**IFACE, "ops": "add"}], r"has no list of ops"),
        ([{**IFACE, "ops": [ADD, "remove /spec"]}], r"op 2 is not a mapping"),
        (
            [{**IFACE, "ops": [{"op": "move", "path": "/a", "from": "/b"}]}],
            r"op 1: unknown op 'move': use one of add, replace, remove, edit",
        ),
        ([{**IFACE, "ops": [{"path": "/a", "value": 1}]}], r"op 1: unknown op None"),
        ([{**IFACE, "ops": [{"op": "add", "path": "/a"}]}], r"op 1 \(add\) lacks 'value'"),
        ([{**IFACE, "ops": [{"op": "replace", "value": 1}]}], r"op 1 \(replace\) lacks 'path'"),
        (
            [{**IFACE, "ops": [{"op": "edit", "path": "/a", "regexp": "x"}]}],
            r"op 1 \(edit\) lacks 'replace'",
        ),
        (
            [{**IFACE, "ops": [{"op": "remove", "path": "/a", "value": 1}]}],
            r"op 1 \(remove\) has unknown keys \['value'\]",
        ),
        (
            [{**IFACE, "ops": [{"op": "add", "path": "spec/x", "value": 1}]}],
            r"op 1 \(add\): path 'spec/x' is not a JSON pointer string starting with '/'",
        ),
        (
            [{**IFACE, "ops": [{"op": "add", "path": "", "value": 1}]}],
            r"path '' is not a JSON pointer",
        ),
        (
            [{**IFACE, "ops": [{"op": "remove", "path": ["spec"]}]}],
            r"path \['spec'\] is not a JSON pointer",
        ),
        (
            [{**IFACE, "ops": [{"op": "remove", "path": "/a~2b"}]}],
            r"op 1 \(remove /a~2b\): .*not ~0",
        ),
        (
            [{**IFACE, "ops": [{"op": "edit", "path": "/a", "regexp": "(", "replace": ""}]}],
            r"regexp '\(' is not a valid Python regular expression",
        ),
        (
            [{**IFACE, "ops": [{"op": "edit", "path": "/a", "regexp": "x", "replace": 1}]}],
            r"regexp and replace must both be strings",
        ),
    ],
)
def test_malformed_patches_are_bad_input(patches, message):
    with pytest.raises(m.PinError, match=message) as info:
        m.apply_patches(objs(), patches)
    assert info.value.exit_code == 2
    assert "\n" not in str(info.value)


def test_malformed_patches_are_refused_even_when_an_earlier_one_would_not_match():
    bad = {**IFACE, "ops": [{"op": "frobnicate", "path": "/a"}]}
    with pytest.raises(m.PinError, match=r"^patch 2 .* unknown op 'frobnicate'"):
        m.apply_patches(objs(), [{**IFACE, "name": "gone"}, bad])


def test_an_invalid_replacement_template_is_bad_input():
    op = {**CNI_VERSION["ops"][0], "replace": r"\9"}
    with pytest.raises(m.PinError, match=r"replacement '\\\\9' is invalid"):
        m.apply_patches(objs(), [{**CNI_VERSION, "ops": [op]}])


def test_transform_applies_patches_first_on_upstreams_own_shape():
    old = FLANNEL.replace(
        "apiVersion: apps/v1\nkind: DaemonSet", "apiVersion: apps/v1beta2\nkind: DaemonSet"
    )
    before = m.parse(old)
    original = copy.deepcopy(before)
    # the patch names the image as upstream wrote it; the registry override runs after it
    pin_image = {
        "kind": "DaemonSet",
        "name": "kube-flannel-ds",
        "ops": [
            {
                "op": "edit",
                "path": "/spec/template/spec/containers/0/image",
                "regexp": "^ghcr.io/",
                "replace": "docker.io/",
            },
            {"op": "replace", "path": "/apiVersion", "value": "apps/v1beta2"},
        ],
    }
    out = m.transform(
        before, m.Transform(patches=[CNI_VERSION, IFACE, pin_image], registry="mirror.lan")
    )
    assert before == original
    ds = by_kind(out, "DaemonSet")
    assert ds["apiVersion"] == "apps/v1"  # upgraded after the patch
    assert ds["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "mirror.lan/flannel-io/flannel:v0.26.1"
    )
    assert args_of(out)[-1] == "--iface=eth0"
    assert '"cniVersion": "0.4.0"' in by_kind(out, "ConfigMap")["data"]["cni-conf.json"]
    # no patches: nothing changes but the usual steps
    assert args_of(m.transform(before, m.Transform())) == ["--ip-masq", "--kube-subnet-mgr"]


PLUGIN = Path(__file__).resolve().parents[2] / "playbooks/filter_plugins/labctl_manifests.py"


@pytest.fixture(scope="module")
def filters():
    spec = importlib.util.spec_from_file_location("labctl_manifests_filters", PLUGIN)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_manifest_filter_takes_patches(manifest_server, filters, tmp_path):
    data = FLANNEL.encode()
    url = manifest_server.put("kube-flannel.yml", data)
    sha = hashlib.sha256(data).hexdigest()
    out = filters.labctl_manifest(url, sha, cache_dir=str(tmp_path), patches=[CNI_VERSION, IFACE])
    assert args_of(out)[-1] == "--iface=eth0"
    # the cached bytes are upstream's, unpatched and still matching the pin
    cached = tmp_path / f"{sha}.yaml"
    assert cached.read_bytes() == data
    with pytest.raises(AnsibleFilterError, match=r"patch 1 \(DaemonSet gone\) matched no object"):
        filters.labctl_manifest(
            url, sha, cache_dir=str(tmp_path), patches=[{**IFACE, "name": "gone"}]
        )


def test_mirror_url_keeps_the_path_and_only_swaps_the_host() -> None:
    url = "https://raw.githubusercontent.com/flannel-io/flannel/v0.28.10/Documentation/kube-flannel.yml"
    assert m.mirror_url(url, "") == url
    assert (
        m.mirror_url(url, "http://10.0.0.1:8080/manifests/")
        == "http://10.0.0.1:8080/manifests/flannel-io/flannel/v0.28.10/Documentation/kube-flannel.yml"
    )
    with pytest.raises(m.PinError, match="lab_manifest_mirror"):
        m.mirror_url(url, "file:///etc/passwd")
