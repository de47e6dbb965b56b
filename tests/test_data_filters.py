"""labctl's small data helpers (TOML writer, network addresses, image bundles) and the Jinja
filters of playbooks/filter_plugins/labctl_data.py over them. The bundles are real tarballs
built here with tarfile; the TOML is read back with Python's own tomllib."""

from __future__ import annotations

import gzip
import importlib.util
import io
import json
import tarfile
import tomllib
from pathlib import Path
from types import ModuleType

import pytest
from ansible.errors import AnsibleFilterError

from labctl import bundles, netaddr, tomlwrite
from labctl.errors import LabctlError, UsageError

PLUGIN = Path(__file__).resolve().parents[1] / "playbooks/filter_plugins/labctl_data.py"


@pytest.fixture(scope="module")
def f() -> ModuleType:
    spec = importlib.util.spec_from_file_location("labctl_data_filters", PLUGIN)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_filter_module_lists_its_filters(f):
    assert set(f.FilterModule().filters()) == {
        "labctl_to_toml",
        "labctl_nth_address",
        "labctl_lb_address",
        "labctl_bundle_images",
        "labctl_normalize_image",
    }


# ---------------------------------------------------------------------------------------
# TOML

CRI_RUNTIME = "io.containerd.cri.v1.runtime"
CRI_IMAGES = "io.containerd.cri.v1.images"


def containerd_config():
    return {
        "version": 3,
        "root": "/var/lib/containerd",
        "plugins": {
            CRI_RUNTIME: {
                "enable_unprivileged_ports": True,
                "containerd": {
                    "default_runtime_name": "runc",
                    "runtimes": {
                        "runc": {
                            "runtime_type": "io.containerd.runc.v2",
                            "options": {"SystemdCgroup": True},
                        }
                    },
                },
                "cni": {"bin_dirs": ["/opt/cni/bin", "/usr/lib/cni"], "conf_dir": "/etc/cni/net.d"},
            },
            CRI_IMAGES: {
                "snapshotter": "overlayfs",
                "pinned_images": {"sandbox": "registry.k8s.io/pause:3.10.2"},
                "registry": {"config_path": "/etc/containerd/certs.d"},
            },
            "io.containerd.grpc.v1.cri": {},
        },
        "timeouts": {"io.containerd.timeout.shim.cleanup": "5s"},
    }


def test_containerd_v3_config_round_trips_through_tomllib():
    config = containerd_config()
    text = tomlwrite.dumps(config)
    assert tomllib.loads(text) == config
    runc = tomllib.loads(text)["plugins"][CRI_RUNTIME]["containerd"]["runtimes"]["runc"]
    assert runc["options"]["SystemdCgroup"] is True
    lines = text.splitlines()
    # top-level values first, then the tables, with dotted keys quoted
    assert lines[:2] == ["version = 3", 'root = "/var/lib/containerd"']
    assert f"[plugins.'{CRI_RUNTIME}'.containerd.runtimes.runc.options]" in lines
    assert "SystemdCgroup = true" in lines
    assert f"[plugins.'{CRI_IMAGES}'.pinned_images]" in lines
    assert 'sandbox = "registry.k8s.io/pause:3.10.2"' in lines
    assert 'bin_dirs = ["/opt/cni/bin", "/usr/lib/cni"]' in lines
    # an empty table is still written, as a bare header
    assert "[plugins.'io.containerd.grpc.v1.cri']" in lines


def test_values_come_before_sub_tables_and_keys_keep_their_order():
    text = tomlwrite.dumps({"t": {"sub": {"x": 1}, "b": 2, "a": 1}, "z": "last-but-top"})
    assert text == 'z = "last-but-top"\n\n[t]\nb = 2\na = 1\n\n[t.sub]\nx = 1\n'


def test_scalar_types():
    data = {"s": "x", "yes": True, "no": False, "i": -7, "f": 0.5, "e": [], "mix": [1, "a", 2.5]}
    text = tomlwrite.dumps(data)
    assert "yes = true\nno = false\n" in text
    assert "e = []\n" in text
    assert tomllib.loads(text) == data
    assert tomllib.loads(tomlwrite.dumps({"big": 1e300, "tiny": 1.5e-7})) == {
        "big": 1e300,
        "tiny": 1.5e-7,
    }
    inf = tomllib.loads(tomlwrite.dumps({"up": float("inf"), "down": float("-inf")}))
    assert inf == {"up": float("inf"), "down": float("-inf")}


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('say "hi"', r'"say \"hi\""'),
        ("C:\\path\\to", r'"C:\\path\\to"'),
        ("two\nlines\r\n", r'"two\nlines\r\n"'),
        ("tab\there", r'"tab\there"'),
        ("bell\x07del\x7f", r'"bell\u0007del\u007F"'),
        ("héllo ✓", '"héllo ✓"'),
    ],
)
def test_strings_are_escaped(value, written):
    text = tomlwrite.dumps({"k": value})
    assert text == f"k = {written}\n"
    assert tomllib.loads(text) == {"k": value}


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("plain_key-1", "plain_key-1"),
        ("io.containerd.cri.v1.runtime", "'io.containerd.cri.v1.runtime'"),
        ("with space", "'with space'"),
        ("", "''"),
        ("it's", '"it\'s"'),
        ('"quoted"', "'\"quoted\"'"),
        ("line\nbreak", '"line\\nbreak"'),
    ],
)
def test_keys_are_bare_literal_or_basic(name, written):
    assert tomlwrite.key(name) == written
    text = tomlwrite.dumps({name: 1, "t": {name: {name: "v"}}})
    assert text.startswith(f"{written} = 1\n")
    assert f"[t.{written}]" in text
    assert tomllib.loads(text) == {name: 1, "t": {name: {name: "v"}}}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"plugins": {"io.x": {"opt": None}}}, r"^plugins\.'io\.x'\.opt is null"),
        ({"a": {"list": [{"x": 1}]}}, r"^a\.list\[0\] is a mapping inside a list"),
        ({"a": [[1, 2]]}, r"^a\[0\] is a list inside a list"),
        ({"a": [1, None]}, r"^a\[1\] is null"),
        ({"when": b"bytes"}, r"^when is a bytes"),
        ({"t": {1: "x"}}, r"^key 1 in t is not a string"),
        ({"n": 2**63}, r"^n = 9223372036854775808 does not fit"),
    ],
)
def test_values_toml_cannot_hold_are_refused_naming_the_key(data, message):
    with pytest.raises(tomlwrite.TomlError, match=message) as info:
        tomlwrite.dumps(data)
    assert isinstance(info.value, LabctlError)
    assert "\n" not in str(info.value)


def test_a_document_must_be_a_mapping():
    with pytest.raises(tomlwrite.TomlError, match="not a list"):
        tomlwrite.dumps([1, 2])  # type: ignore[arg-type]
    assert tomlwrite.dumps({}) == ""


def test_toml_filter(f):
    assert tomllib.loads(f.labctl_to_toml(containerd_config())) == containerd_config()
    with pytest.raises(AnsibleFilterError, match=r"^version is null"):
        f.labctl_to_toml({"version": None})


# ---------------------------------------------------------------------------------------
# network addresses


@pytest.mark.parametrize(
    ("cidr", "n", "address"),
    [
        ("10.96.0.0/12", 10, "10.96.0.10"),
        ("10.96.0.0/12", 0, "10.96.0.0"),
        ("10.96.0.0/12", 256, "10.96.1.0"),
        ("10.43.0.0/16", 10, "10.43.0.10"),
        ("192.168.1.0/30", 3, "192.168.1.3"),
        ("fd00:10:96::/108", 10, "fd00:10:96::a"),
        ("10.0.0.5/32", 0, "10.0.0.5"),
    ],
)
def test_nth_address(cidr, n, address):
    assert netaddr.nth_address(cidr, n) == address


@pytest.mark.parametrize(
    ("cidr", "n", "message"),
    [
        ("10.96.0.1/12", 10, r"has host bits set: the network it lies in is 10\.96\.0\.0/12"),
        ("10.96.0.0", 10, "not a network in CIDR notation"),
        ("10.96.0.0/33", 1, "not an IPv4 or IPv6 network"),
        ("ten.96.0.0/12", 1, "not an IPv4 or IPv6 network"),
        ("", 1, "not a network in CIDR notation"),
        ("192.168.1.0/30", 4, r"too small for address number 4: it has only 4 addresses"),
        ("fd00::/120", 256, "too small"),
        ("10.96.0.0/12", -1, "negative"),
        ("10.96.0.0/12", True, "not an integer"),
    ],
)
def test_nth_address_refusals(cidr, n, message):
    with pytest.raises(netaddr.NetworkError, match=message) as info:
        netaddr.nth_address(cidr, n)
    assert info.value.exit_code == 2


def test_nth_address_filter(f):
    assert f.labctl_nth_address("10.96.0.0/12", 10) == "10.96.0.10"
    assert f.labctl_nth_address("10.96.0.0/12", "10") == "10.96.0.10"
    with pytest.raises(AnsibleFilterError, match="host bits set"):
        f.labctl_nth_address("10.96.0.1/12", 10)
    with pytest.raises(AnsibleFilterError, match="not an integer"):
        f.labctl_nth_address("10.96.0.0/12", "ten")


# ---------------------------------------------------------------------------------------
# image bundles


@pytest.mark.parametrize(
    ("name", "normalised"),
    [
        ("nginx:1", "docker.io/library/nginx:1"),
        ("nginx", "docker.io/library/nginx:latest"),
        ("labctl/web:local", "docker.io/labctl/web:local"),
        ("docker.io/nginx:1", "docker.io/library/nginx:1"),
        ("index.docker.io/labctl/web", "docker.io/labctl/web:latest"),
        ("registry.k8s.io/pause:3.10.2", "registry.k8s.io/pause:3.10.2"),
        ("localhost:5000/web", "localhost:5000/web:latest"),
        ("localhost/web:dev", "localhost/web:dev"),
        ("nginx@sha256:" + "a" * 64, "docker.io/library/nginx@sha256:" + "a" * 64),
        ("nginx:1@sha256:" + "b" * 64, "docker.io/library/nginx:1@sha256:" + "b" * 64),
    ],
)
def test_normalize_image(name, normalised):
    assert bundles.normalize_image(name) == normalised
    assert bundles.normalize_image(normalised) == normalised


@pytest.mark.parametrize(
    "bad", ["", "Nginx:1", "nginx:", "nginx:bad tag", "web@sha256:xyz", "a//b"]
)
def test_normalize_image_refuses_invalid_names(bad):
    with pytest.raises(bundles.ImageNameError, match="image name"):
        bundles.normalize_image(bad)


def make_tar(path: Path, members: dict[str, bytes], *, compress: bool = False) -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    raw = buffer.getvalue()
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


def docker_archive(*tag_lists):
    manifest = [
        {"Config": f"blobs/sha256/{i:064x}", "RepoTags": tags, "Layers": []}
        for i, tags in enumerate(tag_lists)
    ]
    return {
        "manifest.json": json.dumps(manifest).encode(),
        "repositories": b"{}",
        "blobs/sha256/" + "0" * 64: b"{}",
    }


def test_docker_archive_names_are_normalised_sorted_and_unique(tmp_path, f):
    members = docker_archive(
        ["nginx:1", "labctl/web:local"], ["registry.k8s.io/pause:3.10.2", "docker.io/nginx:1"]
    )
    expected = [
        "docker.io/labctl/web:local",
        "docker.io/library/nginx:1",
        "registry.k8s.io/pause:3.10.2",
    ]
    bundle = make_tar(tmp_path / "images.tar", members)
    assert bundles.bundle_images(bundle) == expected
    assert bundles.bundle_images(str(bundle)) == expected
    assert f.labctl_bundle_images(str(bundle)) == expected
    gz = make_tar(tmp_path / "images.tar.gz", members, compress=True)
    assert bundles.bundle_images(gz) == expected


def test_oci_layout_names_come_from_the_annotations(tmp_path):
    def desc(annotations):
        return {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": "sha256:" + "c" * 64,
            "size": 100,
            "annotations": annotations,
        }

    index = {
        "schemaVersion": 2,
        "manifests": [
            desc(
                {
                    "io.containerd.image.name": "labctl/web:local",
                    "org.opencontainers.image.ref.name": "local",
                }
            ),
            desc({"org.opencontainers.image.ref.name": "registry.lan:5000/tools/dig:1.2"}),
            desc({"org.opencontainers.image.ref.name": "latest"}),  # a tag only: no name
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1},
        ],
    }
    bundle = make_tar(
        tmp_path / "oci.tar",
        {
            "oci-layout": b'{"imageLayoutVersion": "1.0.0"}',
            "./index.json": json.dumps(index).encode(),
        },
    )
    assert bundles.bundle_images(bundle) == [
        "docker.io/labctl/web:local",
        "registry.lan:5000/tools/dig:1.2",
    ]


def test_docker_25_archives_with_both_files_give_the_names_of_both(tmp_path):
    members = docker_archive(["nginx:1"])
    members["index.json"] = json.dumps(
        {"manifests": [{"annotations": {"io.containerd.image.name": "docker.io/library/redis:7"}}]}
    ).encode()
    assert bundles.bundle_images(make_tar(tmp_path / "both.tar", members)) == [
        "docker.io/library/nginx:1",
        "docker.io/library/redis:7",
    ]


def test_plain_text_file_is_not_a_tar(tmp_path, f):
    text = tmp_path / "notes.txt"
    text.write_text("nginx:1\n")
    with pytest.raises(bundles.BundleError, match="is not a readable tar archive") as info:
        bundles.bundle_images(text)
    assert isinstance(info.value, UsageError)
    assert "\n" not in str(info.value)
    assert "(not a tar, tar.gz, tar.bz2 or tar.xz file)" in str(info.value)
    with pytest.raises(AnsibleFilterError, match="is not a readable tar archive"):
        f.labctl_bundle_images(str(text))


def test_truncated_tarball_is_refused(tmp_path):
    whole = make_tar(tmp_path / "whole.tar", docker_archive(["nginx:1"])).read_bytes()
    broken = tmp_path / "broken.tar"
    broken.write_bytes(whole[:600])  # the first header and part of manifest.json
    with pytest.raises(bundles.BundleError, match="not a readable tar archive") as info:
        bundles.bundle_images(broken)
    assert "\n" not in str(info.value)
    empty = tmp_path / "empty.tar"
    empty.write_bytes(b"")
    with pytest.raises(bundles.BundleError, match="not a readable tar archive"):
        bundles.bundle_images(empty)


def test_damaged_json_is_refused(tmp_path):
    bundle = make_tar(tmp_path / "bad.tar", {"manifest.json": b'[{"RepoTags": ["nginx:1"'})
    with pytest.raises(bundles.BundleError, match=r"manifest\.json in .* is not valid JSON"):
        bundles.bundle_images(bundle)


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"layer.tar": b"x", "config.json": b"{}"}, "neither a docker-archive"),
        ({"sub/manifest.json": b"[]"}, "neither a docker-archive"),
        (docker_archive([]), "holds no image names"),
        ({"manifest.json": b'{"RepoTags": ["nginx:1"]}'}, "not a docker-archive manifest"),
        ({"manifest.json": b'[{"RepoTags": "nginx:1"}]'}, "RepoTags that are not a list"),
        ({"index.json": b'{"manifests": {}}'}, "not an OCI image index"),
        ({"index.json": b'{"manifests": [{"annotations": {}}]}'}, "holds no image names"),
        ({"manifest.json": b'[{"RepoTags": ["Bad:Name:x"]}]'}, "not a valid image reference"),
    ],
)
def test_archives_without_usable_names_are_refused(tmp_path, members, message):
    with pytest.raises(bundles.BundleError, match=message) as info:
        bundles.bundle_images(make_tar(tmp_path / "b.tar", members))
    assert "\n" not in str(info.value)


def test_oversized_json_member_is_refused_without_reading_it(tmp_path):
    big = b"[" + b" " * bundles.MAX_JSON_BYTES + b"]"
    bundle = make_tar(tmp_path / "big.tar", {"manifest.json": big})
    with pytest.raises(bundles.BundleError, match=r"more than the 1048576"):
        bundles.bundle_images(bundle)


def test_a_directory_or_missing_path_is_not_a_file(tmp_path):
    with pytest.raises(bundles.BundleError, match="is a directory, not a file"):
        bundles.bundle_images(tmp_path)
    with pytest.raises(bundles.BundleError, match="does not exist"):
        bundles.bundle_images(tmp_path / "nope.tar")


def test_normalize_filter(f):
    assert f.labctl_normalize_image("nginx:1") == "docker.io/library/nginx:1"
    with pytest.raises(AnsibleFilterError, match="not a valid image reference"):
        f.labctl_normalize_image("Nginx")


# --- the LoadBalancer demo's address follows the pool ---------------------------------------


@pytest.mark.parametrize(
    ("pool", "expected"),
    [
        (["192.168.3.100-192.168.3.200"], "192.168.3.100"),
        (["192.168.3.50-192.168.3.60", "192.168.3.96/28"], "192.168.3.100"),
        (["10.0.0.240-10.0.0.250"], "10.0.0.250"),
        (["10.0.0.128/28", "10.0.1.0/24"], "10.0.0.143"),
        (["10.0.0.7/32"], "10.0.0.7"),
    ],
)
def test_lb_address_is_the_chapters_when_the_pool_holds_it_else_the_pools_last(f, pool, expected):
    assert f.labctl_lb_address(pool) == expected


@pytest.mark.parametrize("pool", [[], ["10.0.0.300-10.0.0.301"], ["10.0.0.1/24"]])
def test_lb_address_of_an_unusable_pool_is_bad_input(f, pool):
    from ansible.errors import AnsibleFilterError

    with pytest.raises(AnsibleFilterError, match=r"metallb_addresses|not a range"):
        f.labctl_lb_address(pool)
