#!/usr/bin/python
"""Ansible module: send N plain HTTP GETs to each URL and report every answer.

It never fails because of an answer: a 500, a redirect or a refused connection is
evidence for the check that called it, which decides and asserts afterwards.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
---
module: service_demo_http_probe
short_description: Send HTTP GET requests and report status and body of every answer
description:
  - Sends O(requests) GET requests to every URL in O(urls), round-robin over the URLs,
    each on a new connection, without following redirects.
  - Returns one result per request. A connection error is a result, not a module failure;
    the calling check decides what passes.
options:
  urls:
    description: The URLs to request.
    type: list
    elements: str
    required: true
  requests:
    description: Requests per URL.
    type: int
    default: 1
  headers:
    description: Extra request headers, e.g. C(Host) for an Ingress rule.
    type: dict
    default: {}
  timeout:
    description: Seconds per request.
    type: int
    default: 5
  body_bytes:
    description: How many bytes of each body to return.
    type: int
    default: 200
author: labctl
"""

RETURN = r"""
results:
  description: One entry per request, in the order sent.
  returned: always
  type: list
  elements: dict
  contains:
    url: {description: The URL requested., type: str}
    status: {description: HTTP status, or -1 when no HTTP answer came., type: int}
    body: {description: The start of the body, stripped., type: str}
    error: {description: Why no HTTP answer came, or an empty string., type: str}
"""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _probe(url: str, headers: dict[str, str], timeout: int, body_bytes: int) -> dict[str, Any]:
    opener = urllib.request.build_opener(_NoRedirect, urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, headers=headers, method="GET")
    try:
        with opener.open(request, timeout=timeout) as answer:
            body = answer.read(body_bytes)
            status = answer.status
    except urllib.error.HTTPError as err:
        body = err.read(body_bytes) if err.fp is not None else b""
        status = err.code
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        return {"url": url, "status": -1, "body": "", "error": str(reason)}
    return {
        "url": url,
        "status": status,
        "body": body.decode("utf-8", errors="replace").strip(),
        "error": "",
    }


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "urls": {"type": "list", "elements": "str", "required": True},
            "requests": {"type": "int", "default": 1},
            "headers": {"type": "dict", "default": {}},
            "timeout": {"type": "int", "default": 5},
            "body_bytes": {"type": "int", "default": 200},
        },
        supports_check_mode=True,
    )
    params = module.params
    if params["requests"] < 1:
        module.fail_json(msg="requests must be at least 1")
    headers = {str(k): str(v) for k, v in params["headers"].items()}
    results = [
        _probe(url, headers, params["timeout"], params["body_bytes"])
        for _ in range(params["requests"])
        for url in params["urls"]
    ]
    module.exit_json(changed=False, results=results)


if __name__ == "__main__":
    main()
