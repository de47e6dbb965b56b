"""Filters of the service_demo role: turn raw answers into check verdicts.

Every verdict is a dict {passed, summary, evidence}. The check task files publish it with
set_stats and then assert on it, so the wording lives here once and a failing check keeps
its evidence.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import yaml
from ansible.errors import AnsibleFilterError


def _fmt_counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} x{count}" for name, count in sorted(counts.items()))


def http_balance_verdict(
    results: list[dict[str, Any]], expected: list[str] | None = None, min_distinct: int = 2
) -> dict[str, Any]:
    """Every answer 200 from an expected backend, and >= min_distinct backends per URL."""
    expected_set = {str(e) for e in (expected or [])}
    per_url: dict[str, dict[str, Any]] = {}
    for result in results:
        entry = per_url.setdefault(result["url"], {"answers": Counter(), "problems": Counter()})
        if result.get("error"):
            entry["problems"][f"no answer: {result['error']}"] += 1
        elif int(result["status"]) != 200:
            entry["problems"][f"HTTP {result['status']}"] += 1
        else:
            entry["answers"][result["body"].splitlines()[0] if result["body"] else ""] += 1
    problems: list[str] = []
    for url, entry in per_url.items():
        total = sum(entry["answers"].values()) + sum(entry["problems"].values())
        bad = sum(entry["problems"].values())
        if bad:
            problems.append(
                f"{url}: {bad} of {total} requests did not answer 200 "
                f"({_fmt_counts(entry['problems'])})"
            )
        if expected_set:
            strangers = {n: c for n, c in entry["answers"].items() if n not in expected_set}
            if strangers:
                problems.append(
                    f"{url}: answers from unexpected backends ({_fmt_counts(strangers)}); "
                    f"expected one of {', '.join(sorted(expected_set))}"
                )
        if len(entry["answers"]) < min_distinct:
            who = _fmt_counts(entry["answers"]) or "none"
            problems.append(
                f"{url}: only {len(entry['answers'])} distinct backend(s) answered ({who}); "
                f"load balancing needs at least {min_distinct}"
            )
    if not per_url:
        problems.append("no URL was requested")
    evidence = {
        "urls": {
            url: {
                "answers": dict(entry["answers"]),
                "problems": dict(entry["problems"]),
            }
            for url, entry in per_url.items()
        },
        "expected": sorted(expected_set),
        "requests": len(results),
    }
    if problems:
        return {"passed": False, "summary": "; ".join(problems), "evidence": evidence}
    total = Counter()
    for entry in per_url.values():
        total.update(entry["answers"])
    summary = (
        f"{len(results)} answers from {len(per_url)} URL(s), all 200, "
        f"from {len(total)} backends: {_fmt_counts(total)}"
    )
    return {"passed": True, "summary": summary, "evidence": evidence}


def http_marker_verdict(results: list[dict[str, Any]], marker: str = "") -> dict[str, Any]:
    """One URL answered 200 with the marker in its body (any HTTP answer if no marker)."""
    if not results:
        return {"passed": False, "summary": "no URL was requested", "evidence": {}}
    result = results[0]
    evidence = {
        "url": result["url"],
        "status": result["status"],
        "body": result["body"],
        "error": result.get("error", ""),
        "marker": marker,
    }
    if result.get("error"):
        summary = f"{result['url']}: no HTTP answer ({result['error']})"
        return {"passed": False, "summary": summary, "evidence": evidence}
    if not marker:
        summary = f"{result['url']} answered HTTP {result['status']}"
        return {"passed": True, "summary": summary, "evidence": evidence}
    if int(result["status"]) == 200 and marker in result["body"]:
        summary = f"{result['url']} answered 200 with marker {marker!r}"
        return {"passed": True, "summary": summary, "evidence": evidence}
    summary = (
        f"{result['url']} answered HTTP {result['status']} without marker {marker!r} "
        f"(body starts {result['body'][:60]!r})"
    )
    return {"passed": False, "summary": summary, "evidence": evidence}


def http_reachable_verdict(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Any HTTP status counts (a 301 too); only no answer at all fails."""
    return http_marker_verdict(results, "")


def dig_answer(stdout: str) -> list[dict[str, str]]:
    """Parse `dig +noall +answer` lines into [{name, type, value}]."""
    records = []
    for line in stdout.splitlines():
        fields = line.split()
        if len(fields) < 5 or line.startswith(";"):
            continue
        name, _ttl, _cls, rtype = fields[:4]
        records.append(
            {
                "name": name.rstrip(".").lower(),
                "type": rtype.upper(),
                "value": " ".join(fields[4:]).rstrip(".").lower(),
            }
        )
    return records


def dns_records_verdict(
    dig: dict[str, Any],
    name: str,
    server: str,
    rtype: str = "A",
    expected: list[str] | str | None = None,
    owners: dict[str, str] | None = None,
    min_records: int = 1,
) -> dict[str, Any]:
    """Compare the A set (or the CNAME) dig got for name with the expected one."""
    qname = name.rstrip(".").lower()
    rtype = rtype.upper()
    if isinstance(expected, str):
        expected = [expected]
    want = sorted({str(e).rstrip(".").lower() for e in (expected or [])})
    rc = int(dig.get("rc", 0))
    records = dig_answer(dig.get("stdout", "")) if rc == 0 else []
    got = sorted({r["value"] for r in records if r["name"] == qname and r["type"] == rtype})
    evidence: dict[str, Any] = {
        "name": qname,
        "server": server,
        "type": rtype,
        "expected": want,
        "got": got,
        "answer": records,
    }
    if rc != 0:
        detail = (dig.get("stdout", "") + " " + dig.get("stderr", "")).strip().splitlines()
        reason = detail[-1] if detail else f"dig rc {rc}"
        summary = f"no answer from DNS server {server} for {qname} ({reason})"
        return {"passed": False, "summary": summary, "evidence": evidence}
    if rtype == "CNAME":
        if got == want and got:
            summary = f"{qname} is a CNAME for {got[0]}"
            return {"passed": True, "summary": summary, "evidence": evidence}
        shown = ", ".join(got) if got else "no CNAME"
        summary = f"{qname}: got {shown}, expected CNAME {', '.join(want) or '(none)'}"
        return {"passed": False, "summary": summary, "evidence": evidence}
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    problems = []
    if missing:
        problems.append(f"missing {rtype} records: {', '.join(missing)}")
    if extra:
        problems.append(f"unexpected {rtype} records: {', '.join(extra)}")
    if len(got) < min_records:
        problems.append(f"{len(got)} {rtype} records, at least {min_records} expected")
    if problems:
        summary = f"{qname} @{server}: " + "; ".join(problems)
        return {"passed": False, "summary": summary, "evidence": evidence}
    summary = f"{qname} @{server}: {len(got)} {rtype} records, exactly the expected set"
    if owners:
        by_owner = Counter(owners.get(ip, "unknown") for ip in got)
        evidence["owners"] = dict(by_owner)
        if len(by_owner) > 1:
            summary += (
                f" ({_fmt_counts(by_owner)}: every ready pod that matches the selector is "
                "behind a headless Service, whoever owns it; that is why the chapter saw "
                "6 records)"
            )
    return {"passed": True, "summary": summary, "evidence": evidence}


def lb_assigned_verdict(
    service: dict[str, Any] | None, address: str, timeout: int, attempts: int = 0
) -> dict[str, Any]:
    """The LoadBalancer Service got the requested address."""
    ingress = ((service or {}).get("status") or {}).get("loadBalancer", {}).get("ingress") or []
    got = [i.get("ip") or i.get("hostname") for i in ingress]
    name = ((service or {}).get("metadata") or {}).get("name", "(missing)")
    evidence = {"service": name, "requested": address, "assigned": got, "attempts": attempts}
    if service is None:
        summary = f"Service {name} not found"
        return {"passed": False, "summary": summary, "evidence": evidence}
    if address in got:
        summary = f"MetalLB assigned {address} to {name}"
        return {"passed": True, "summary": summary, "evidence": evidence}
    if got:
        summary = f"{name} got {', '.join(got)}, not the requested {address}"
    else:
        summary = f"{name} got no address within {timeout} s (requested {address})"
    return {"passed": False, "summary": summary, "evidence": evidence}


def lb_ips(resources: list[dict[str, Any]]) -> list[str]:
    """The addresses in status.loadBalancer.ingress of the first resource."""
    if not resources:
        return []
    ingress = (resources[0].get("status") or {}).get("loadBalancer", {}).get("ingress") or []
    return [i.get("ip") or i.get("hostname") for i in ingress]


def ready_pods(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """Ready, not terminating pods: names, IPs and who owns each IP."""
    names: list[str] = []
    ips: list[str] = []
    owners: dict[str, str] = {}
    for pod in resources:
        meta = pod.get("metadata", {})
        status = pod.get("status", {})
        if meta.get("deletionTimestamp"):
            continue
        conditions = status.get("conditions") or []
        if not any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
            continue
        names.append(meta["name"])
        ip = status.get("podIP", "")
        if ip:
            ips.append(ip)
            owners[ip] = _owner(meta)
    return {"names": sorted(names), "ips": sorted(ips), "owners": owners}


def _owner(meta: dict[str, Any]) -> str:
    refs = meta.get("ownerReferences") or []
    if not refs:
        return "Pod/" + meta.get("name", "")
    kind, name = refs[0].get("kind", ""), refs[0].get("name", "")
    pod_hash = (meta.get("labels") or {}).get("pod-template-hash")
    if kind == "ReplicaSet" and pod_hash and name.endswith("-" + pod_hash):
        return "Deployment/" + name[: -len(pod_hash) - 1]
    return f"{kind}/{name}"


def service_ips(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Services by name: ClusterIP and node ports by port number and name."""
    out = {}
    for svc in resources:
        spec = svc.get("spec", {})
        ports = spec.get("ports") or []
        out[svc["metadata"]["name"]] = {
            "cluster_ip": spec.get("clusterIP", ""),
            "node_ports": {
                str(p.get("name") or p.get("port")): p.get("nodePort")
                for p in ports
                if p.get("nodePort")
            },
        }
    return out


def urls(addresses: list[str], port: Any, path: str = "/") -> list[str]:
    """http://<address>:<port><path> for every address."""
    return [f"http://{address}:{port}{path}" for address in addresses]


def template_paths(templates: list[str], catalogue_dir: str) -> list[str]:
    """A catalogue's template: next to the catalogue if it is there, else the role's."""
    out = []
    for template in templates:
        candidate = os.path.join(catalogue_dir, template)
        out.append(candidate if os.path.isfile(candidate) else template)
    return out


def objects_from(texts: list[str], files: list[str]) -> list[dict[str, Any]]:
    """The Kubernetes objects in rendered templates (``texts``, one per entry of ``files``):
    every YAML document must be an object (a mapping with apiVersion, kind, metadata.name)."""
    objects = []
    for text, name in zip(texts, files, strict=True):
        try:
            documents = list(yaml.safe_load_all(str(text)))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f"line {mark.line + 1}: " if mark is not None else ""
            why = getattr(exc, "problem", None) or type(exc).__name__
            raise AnsibleFilterError(
                f"demo template {os.path.basename(name)} does not render to YAML ({at}{why}): "
                "fix that template"
            ) from None
        for number, doc in enumerate(documents, 1):
            if doc is None:
                continue
            metadata = doc.get("metadata") if isinstance(doc, dict) else None
            if not (
                isinstance(metadata, dict)
                and metadata.get("name")
                and doc.get("apiVersion")
                and doc.get("kind")
            ):
                raise AnsibleFilterError(
                    f"demo template {os.path.basename(name)}, document {number}: not a "
                    "Kubernetes object (a mapping with apiVersion, kind and metadata.name): "
                    "fix that template"
                )
            objects.append(doc)
    return unique_objects(objects)


def unique_objects(objects: list[Any]) -> list[dict[str, Any]]:
    """Drop empty YAML documents and later duplicates of the same object."""
    seen = set()
    out = []
    for obj in objects:
        if not obj:
            continue
        meta = obj.get("metadata", {})
        key = (obj.get("apiVersion"), obj.get("kind"), meta.get("namespace"), meta.get("name"))
        if key in seen:
            continue
        seen.add(key)
        out.append(obj)
    return out


class FilterModule:
    """service_demo filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "service_demo_http_balance": http_balance_verdict,
            "service_demo_http_marker": http_marker_verdict,
            "service_demo_http_reachable": http_reachable_verdict,
            "service_demo_dig_answer": dig_answer,
            "service_demo_dns_records": dns_records_verdict,
            "service_demo_lb_assigned": lb_assigned_verdict,
            "service_demo_lb_ips": lb_ips,
            "service_demo_ready_pods": ready_pods,
            "service_demo_service_ips": service_ips,
            "service_demo_template_paths": template_paths,
            "service_demo_urls": urls,
            "service_demo_objects_from": objects_from,
        }
