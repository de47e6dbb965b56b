"""The generic checks against REAL servers, through the real CLI and the real play.

A test catalogue (--catalogue) binds http_balance, dns_records, http_marker and
http_reachable to nginx and dnsmasq on 127.0.0.x. Its demos have no templates, so no
cluster is involved: `labctl demo ...` -> demo.yml -> service_demo -> checks -> set_stats
-> runner -> report, exactly as with a lab.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from demo_servers import (
    BACKENDS,
    DNS,
    EXTERNALNAME,
    HEADLESS_IPS,
    HEADLESS_NAME,
    LB_ALL,
    LB_ONE,
    LB_SICK,
    MARKER,
    MARKER_TEXT,
    NOTHING,
    REDIRECT,
    Servers,
)

pytestmark = pytest.mark.servers

NAMES = sorted(BACKENDS)


def _demo(name: str, checks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": name,
        "title": f"test demo {name}",
        "teaches": "Binds the generic checks to real servers on loopback.",
        "checks": checks,
    }


def _balance(servers: Servers, check_id: str, lb: str, expected: list[str]) -> dict[str, Any]:
    return {
        "id": check_id,
        "type": "http_balance",
        "where": "laptop",
        "params": {"urls": [servers.url(lb)], "requests": 9, "expected": expected},
    }


def _dns(servers: Servers, check_id: str, name: str, rtype: str, expected: Any, **extra: Any):
    params = {"name": name, "server": DNS, "port": servers.dns_port, "type": rtype}
    return {
        "id": check_id,
        "type": "dns_records",
        "where": "master",
        "params": {**params, "expected": expected, **extra},
    }


def write_catalogue(servers: Servers, path: Path) -> Path:
    owners = {
        HEADLESS_IPS[0]: "StatefulSet/sample-statefulset-headless",
        HEADLESS_IPS[1]: "StatefulSet/sample-statefulset-headless",
        HEADLESS_IPS[2]: "Deployment/sample-deployment",
    }
    demos = [
        _demo(
            "passing",
            [
                _balance(servers, "http_balance", LB_ALL, NAMES),
                _dns(servers, "dns_records", HEADLESS_NAME, "A", HEADLESS_IPS, owners=owners),
            ],
        ),
        _demo(
            "balance",
            [
                _balance(servers, "three", LB_ALL, NAMES),
                _balance(servers, "single", LB_ONE, NAMES),
                _balance(servers, "sick", LB_SICK, NAMES),
                _balance(servers, "stranger", LB_ALL, NAMES[:2]),
            ],
        ),
        _demo(
            "dns",
            [
                _dns(servers, "a_match", HEADLESS_NAME, "A", HEADLESS_IPS),
                _dns(servers, "a_missing", HEADLESS_NAME, "A", [*HEADLESS_IPS, "10.244.9.9"]),
                _dns(servers, "a_extra", HEADLESS_NAME, "A", HEADLESS_IPS[:2]),
                _dns(servers, "cname", EXTERNALNAME, "CNAME", "example.com"),
                _dns(servers, "cname_wrong", EXTERNALNAME, "CNAME", "other.example"),
            ],
        ),
        _demo(
            "http",
            [
                {
                    "id": "moved",
                    "type": "http_reachable",
                    "params": {"url": servers.url(REDIRECT)},
                },
                {
                    "id": "refused",
                    "type": "http_reachable",
                    "params": {"url": servers.url(NOTHING)},
                },
                {
                    "id": "marker",
                    "type": "http_marker",
                    "where": "master",
                    "params": {"url": servers.url(MARKER), "marker": MARKER_TEXT},
                },
                {
                    "id": "marker_wrong",
                    "type": "http_marker",
                    "params": {"url": servers.url(LB_ALL), "marker": MARKER_TEXT},
                },
            ],
        ),
    ]
    path.write_text(yaml.safe_dump({"demos": demos}, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def catalogue(servers: Servers, tmp_path: Path) -> Path:
    return write_catalogue(servers, tmp_path / "checks.yml")


def _checks(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{c['demo']}.{c['check']}": c for d in report["demos"] for c in d["checks"]}


def test_every_check_type_passes_and_fails_against_real_servers(
    labctl, catalogue: Path, loopback_inventory: Path
) -> None:
    proc = labctl(
        "demo", "all", "--json", "--catalogue", str(catalogue), "-i", str(loopback_inventory)
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    checks = _checks(report)
    assert report["status"] == "failed"
    assert report["not_run"] == []
    assert report["failures"] == [], report["failures"]
    expected_failures = {
        "balance.single",
        "balance.sick",
        "balance.stranger",
        "dns.a_missing",
        "dns.a_extra",
        "dns.cname_wrong",
        "http.refused",
        "http.marker_wrong",
    }
    assert set(report["failed_checks"]) == expected_failures
    assert {k for k, c in checks.items() if not c["passed"]} == expected_failures

    # http_balance: counts per backend, every answer 200, >= 2 distinct backends
    three = checks["balance.three"]
    answers = three["evidence"]["urls"][f"http://{LB_ALL}:{_port(three)}/"]["answers"]
    assert answers == {name: 3 for name in NAMES}
    assert "all 200" in three["summary"] and "from 3 backends" in three["summary"]

    single = checks["balance.single"]
    assert "only 1 distinct backend(s) answered (backend-1 x9)" in single["summary"]
    assert "at least 2" in single["summary"]

    sick = checks["balance.sick"]
    assert "3 of 9 requests did not answer 200 (HTTP 500 x3)" in sick["summary"]
    assert sick["evidence"]["urls"][f"http://{LB_SICK}:{_port(sick)}/"]["answers"] == {
        "backend-1": 3,
        "backend-2": 3,
    }
    assert "unexpected backends (backend-3 x3)" in checks["balance.stranger"]["summary"]

    # dns_records: exact A set, missing and extra records, CNAME right and wrong
    match = checks["dns.a_match"]
    assert match["passed"] and sorted(match["evidence"]["got"]) == sorted(HEADLESS_IPS)
    assert "missing A records: 10.244.9.9" in checks["dns.a_missing"]["summary"]
    assert f"unexpected A records: {HEADLESS_IPS[2]}" in checks["dns.a_extra"]["summary"]
    assert checks["dns.cname"]["summary"].endswith("is a CNAME for example.com")
    assert "got example.com, expected CNAME other.example" in checks["dns.cname_wrong"]["summary"]

    # http_reachable: a 301 counts; nothing listening does not
    assert checks["http.moved"]["passed"] and checks["http.moved"]["evidence"]["status"] == 301
    assert "no HTTP answer" in checks["http.refused"]["summary"]
    assert "refused" in checks["http.refused"]["summary"].lower()
    assert checks["http.marker"]["passed"]
    assert f"without marker '{MARKER_TEXT}'" in checks["http.marker_wrong"]["summary"]

    # the people's report on stderr names every failed check
    for key in expected_failures:
        assert key in proc.stderr


def test_passing_demo_exits_0_with_evidence_in_the_table(
    labctl, catalogue: Path, loopback_inventory: Path
) -> None:
    proc = labctl(
        "demo", "passing", "--json", "--catalogue", str(catalogue), "-i", str(loopback_inventory)
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["status"] == "passed" and report["failed_checks"] == []
    checks = _checks(report)
    assert set(checks) == {"passing.http_balance", "passing.dns_records"}
    # the chapter's 6 records: pods of two owners behind one selector are explained, not flagged
    dns = checks["passing.dns_records"]
    assert dns["passed"]
    assert "that is why the chapter saw 6 records" in dns["summary"]
    assert dns["evidence"]["owners"] == {
        "StatefulSet/sample-statefulset-headless": 2,
        "Deployment/sample-deployment": 1,
    }
    # the people's table (stderr with --json): PASS per check, who answered how often, records
    table = proc.stderr
    assert table.count("PASS") == 2 and "FAIL" not in table
    for name in NAMES:
        assert f"{name} x3" in table
    for ip in HEADLESS_IPS:
        assert ip in table
    assert "every check passed (2)" in table


def test_one_failing_check_exits_1_naming_it(
    servers: Servers, labctl, tmp_path: Path, loopback_inventory: Path
) -> None:
    one = {"demos": [_demo("lonely", [_balance(servers, "http_balance", LB_ONE, NAMES)])]}
    path = tmp_path / "one.yml"
    path.write_text(yaml.safe_dump(one), encoding="utf-8")
    proc = labctl("demo", "lonely", "--catalogue", str(path), "-i", str(loopback_inventory))
    assert proc.returncode == 1
    assert "FAILED: lonely.http_balance" in proc.stdout
    assert "only 1 distinct backend(s) answered" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def _port(check: dict[str, Any]) -> int:
    url = next(iter(check["evidence"]["urls"]))
    return int(url.rsplit(":", 1)[1].strip("/"))
