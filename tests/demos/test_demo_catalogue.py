"""The demo catalogue through the CLI: list, --explain, and bad input (exit 2, one line,
no traceback, no play run)."""

from __future__ import annotations

import json
from pathlib import Path

import clirun
import pytest
import yaml

CHAPTER_DEMOS = [
    "externalip",
    "nodeport",
    "loadbalancer",
    "headless",
    "externalname",
    "none-selector",
    "ingress",
]


def one_line_exit_2(proc, *words: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = clirun.problem_lines(proc)
    assert len(lines) == 1, proc.stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert "PLAY" not in proc.stdout  # caught before any play


def test_list_shows_the_seven_demos_in_the_chapters_order(labctl) -> None:
    proc = labctl("demo", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert [d["name"] for d in data["demos"]] == CHAPTER_DEMOS
    for demo in data["demos"]:
        assert demo["title"] and demo["teaches"] and demo["notes"] and demo["checks"]
    people = labctl("demo", "list")
    assert people.returncode == 0
    for name in CHAPTER_DEMOS:
        assert name in people.stdout


def test_explain_says_how_labctl_differs(labctl) -> None:
    proc = labctl("demo", "externalip", "--explain")
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())
    assert "initContainer" in text and "kubectl exec ... cp /etc/hostname" in text
    lb = " ".join(labctl("demo", "loadbalancer", "--explain").stdout.split())
    assert "192.168.3.0/8" in lb and "metallb.io/loadBalancerIPs" in lb
    none = " ".join(labctl("demo", "none-selector", "--explain").stdout.split())
    assert "EndpointSlice" in none and "172.217.31.164" in none
    headless = " ".join(labctl("demo", "headless", "--explain").stdout.split())
    assert "6 records" in headless


def test_unknown_demo_exits_2_listing_the_valid_ones(labctl) -> None:
    proc = labctl("demo", "nodeprot")
    one_line_exit_2(proc, "unknown demo 'nodeprot'", *CHAPTER_DEMOS)
    one_line_exit_2(labctl("demo", "clean", "bogus"), "unknown demo 'bogus'")
    one_line_exit_2(labctl("demo", "nodeport", "extra"), "only `labctl demo clean` takes a NAME")


def _write(path: Path, demos: object) -> Path:
    path.write_text(yaml.safe_dump({"demos": demos}), encoding="utf-8")
    return path


GOOD = {"name": "mine", "title": "t", "teaches": "x", "checks": [{"id": "http_reachable"}]}


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"name": "list"}, ["'list' is a labctl demo subcommand"]),
        ({"title": ""}, ["title", "missing or empty"]),
        ({"checks": [{"id": "ping"}]}, ["unknown check type 'ping'", "http_balance"]),
        ({"checks": [{"id": "a", "type": "http_marker", "where": "moon"}]}, ["'moon'"]),
        ({"templates": ["nope.yml.j2"]}, ["'nope.yml.j2' not found"]),
        ({"colour": "red"}, ["colour", "unknown key"]),
        ({"checks": []}, ["needs at least one check"]),
        ({"name": "node\u0440ort"}, ["lower-case ASCII"]),  # a Cyrillic er for the p
        ({"name": "Mine"}, ["lower-case ASCII"]),
        ({"templates": ["../outside.yml.j2"]}, ["may not leave those folders"]),
        ({"templates": ["/etc/hostname"]}, ["may not leave those folders"]),
        ({"templates": ["reads.yml.j2"]}, ["'reads.yml.j2' calls lookup()", "on the laptop"]),
        (
            {"checks": [{"id": "http_reachable", "params": {"urls": "{{ query('pipe', 'id') }}"}}]},
            ["checks", "calls lookup(), query() or q()"],
        ),
    ],
)
def test_bad_catalogue_exits_2_naming_the_problem(
    labctl_offline, tmp_path: Path, change, words
) -> None:
    (tmp_path / "outside.yml.j2").write_text("kind: ConfigMap\n")
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "reads.yml.j2").write_text(
        "data: {{ lookup('pipe', 'touch /tmp/never') }}\n"
    )
    path = _write(tmp_path / "cat" / "cat.yml", [{**GOOD, **change}])
    one_line_exit_2(labctl_offline("demo", "list", "--catalogue", str(path)), str(path), *words)


def test_catalogue_from_the_environment_and_unreadable_files(labctl, tmp_path: Path) -> None:
    mine = _write(tmp_path / "mine.yml", [GOOD])
    proc = labctl("demo", "list", "--json", LABCTL_CATALOGUE=str(mine))
    assert proc.returncode == 0, proc.stderr
    assert [d["name"] for d in json.loads(proc.stdout)["demos"]] == ["mine"]
    one_line_exit_2(
        labctl("demo", "list", "--catalogue", str(tmp_path / "missing.yml")),
        "cannot read the demo catalogue",
    )
    broken = tmp_path / "broken.yml"
    broken.write_text("demos: [\n", encoding="utf-8")
    one_line_exit_2(labctl("demo", "list", "--catalogue", str(broken)), "YAML syntax error")
    _write(tmp_path / "dup.yml", [GOOD, GOOD])
    one_line_exit_2(labctl("demo", "list", "--catalogue", str(tmp_path / "dup.yml")), "twice")


def test_cluster_demos_need_the_kubeconfig_first(labctl, loopback_inventory: Path) -> None:
    one_line_exit_2(
        labctl("demo", "nodeport", "-i", str(loopback_inventory)),
        "no kubeconfig at",
        "labctl up",
    )
    one_line_exit_2(labctl("demo", "clean", "-i", str(loopback_inventory)), "no kubeconfig at")
    # the same condition, the same exit code: status too
    one_line_exit_2(
        labctl("status", "-i", str(loopback_inventory)), "no kubeconfig at", "labctl up"
    )


def test_clean_runs_the_clean_play(labctl, tmp_path: Path, loopback_inventory: Path) -> None:
    """A catalogue without objects: demo_clean.yml runs and has nothing to remove."""
    path = _write(tmp_path / "cat.yml", [GOOD])
    proc = labctl("demo", "clean", "--catalogue", str(path), "-i", str(loopback_inventory))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Remove what the Service demos created" in proc.stdout
    assert "clean: ok" in proc.stdout


def test_none_selector_without_an_nfs_node_says_what_is_missing(
    labctl, tmp_path: Path, loopback_inventory: Path
) -> None:
    """The demo's `requires` stops it before anything is applied, naming the fix. (The
    kubeconfig points at a closed loopback port: no cluster exists or is contacted.)"""
    data = yaml.safe_load(loopback_inventory.read_text())
    without_nfs = tmp_path / "no-nfs.yml"
    del data["all"]["children"]["lab"]["children"]["nfs"]
    without_nfs.write_text(yaml.safe_dump(data), encoding="utf-8")
    kubeconfig = tmp_path / "state" / "labctl" / "kubeconfig"
    kubeconfig.parent.mkdir(parents=True)
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "c",
                "users": [{"name": "u", "user": {"token": "none"}}],
            }
        ),
        encoding="utf-8",
    )
    kubeconfig.chmod(0o600)
    missing = "demo none-selector: no NFS node in the inventory"
    proc = labctl("demo", "none-selector", "--json", "-i", str(without_nfs))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["not_run"] == ["none-selector.http_marker"]
    messages = [f["message"] for f in report["failures"]]
    assert any(missing in m and "service_demo_none_selector_addresses" in m for m in messages), (
        messages
    )
    # with the NFS node the requirement holds, and the run gets as far as the (absent) API
    proc = labctl("demo", "none-selector", "--json", "-i", str(loopback_inventory))
    messages = [f["message"] for f in json.loads(proc.stdout)["failures"]]
    assert proc.returncode == 1 and messages
    assert not any(missing in m for m in messages), messages
    assert any("127.0.0.1" in m and "refused" in m for m in messages), messages


def test_a_check_that_cannot_run_is_reported_failed(
    labctl, tmp_path: Path, loopback_inventory: Path
) -> None:
    """A broken check (here: no url) still publishes a failed result and names the cause."""
    path = _write(tmp_path / "cat.yml", [GOOD])
    proc = labctl("demo", "mine", "--json", "--catalogue", str(path), "-i", str(loopback_inventory))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    (check,) = report["demos"][0]["checks"]
    assert check["passed"] is False
    assert check["summary"].startswith("the check could not run:")
    assert "url" in check["summary"]
    assert report["failed_checks"] == ["mine.http_reachable"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("just some words\n", ["plain.yml.j2, document 1", "not a Kubernetes object"]),
        (
            "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n---\n- a\n",
            ["plain.yml.j2, document 2", "not a Kubernetes object"],
        ),
        ("a: [1\n", ["plain.yml.j2 does not render to YAML"]),
    ],
    ids=["words", "a-list", "broken-yaml"],
)
def test_a_template_that_is_not_objects_is_one_clear_line(
    labctl_offline, tmp_path: Path, text, words
):
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "plain.yml.j2").write_text(text)
    path = _write(tmp_path / "cat" / "cat.yml", [{**GOOD, "templates": ["plain.yml.j2"]}])
    proc = labctl_offline("render", "mine", "--catalogue", str(path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    (line,) = clirun.problem_lines(proc)
    assert line.startswith("labctl: render mine failed: demo template"), line
    for word in words:
        assert word in line, line
