"""`labctl status`: what the lab's cluster holds now: nodes, add-ons, the demos present.

Read-only, through the Kubernetes API with the kubeconfig `labctl up` fetched.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labctl.addons import ADDONS, Addon
from labctl.errors import LabctlError

if TYPE_CHECKING:
    from rich.console import Console

DEMO_PREFIX = "sample-"


@dataclass
class Status:
    nodes: list[dict[str, Any]] = field(default_factory=list)
    addons: dict[str, str] = field(default_factory=dict)
    demo_objects: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def render(self, out: Console) -> None:
        """The people's view: a nodes table, then one line per add-on and the demo objects."""
        from rich.table import Table

        columns = ("name", "ready", "version", "architecture")
        table = Table(title="Nodes", title_justify="left")
        for column in columns:
            table.add_column(column)
        for node in self.nodes:
            table.add_row(*(str(node[c]) for c in columns))
        out.print(table)
        for addon, state in self.addons.items():
            out.print(f"{addon}: {state}", highlight=False)
        out.print(f"demo objects: {', '.join(self.demo_objects) or 'none'}", highlight=False)


def _client(kubeconfig: Path) -> Any:
    from kubernetes import client, config

    from labctl import kubeconfig as kubeconfigs

    kubeconfigs.require(kubeconfig)

    try:
        return client.ApiClient(config.new_client_from_config(str(kubeconfig)).configuration)
    except Exception as exc:  # the library raises bare Exceptions for broken files
        raise LabctlError(f"{kubeconfig}: not a usable kubeconfig ({exc})") from None


def collect(kubeconfig: Path, addons: tuple[Addon, ...] = ADDONS) -> Status:
    """The lab's state; ``addons`` are the ones to report (the inventory's choice)."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    api = _client(kubeconfig)
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    status = Status()
    try:
        for node in core.list_node(_request_timeout=10).items:
            ready = next(
                (c.status for c in node.status.conditions or [] if c.type == "Ready"), "Unknown"
            )
            info = node.status.node_info
            status.nodes.append(
                {
                    "name": node.metadata.name,
                    "ready": ready == "True",
                    "version": info.kubelet_version,
                    "architecture": info.architecture,
                }
            )
        for addon in addons:
            try:
                dep = apps.read_namespaced_deployment(
                    addon.deployment, addon.namespace, _request_timeout=10
                )
                available = dep.status.available_replicas or 0
                status.addons[addon.name] = "ready" if available > 0 else "not ready"
            except ApiException as exc:
                state = "absent" if exc.status == 404 else f"error {exc.status}"
                status.addons[addon.name] = state
        for kind, items in (
            ("Service", core.list_namespaced_service("default", _request_timeout=10).items),
            ("Deployment", apps.list_namespaced_deployment("default", _request_timeout=10).items),
            (
                "StatefulSet",
                apps.list_namespaced_stateful_set("default", _request_timeout=10).items,
            ),
        ):
            status.demo_objects += [
                f"{kind}/{o.metadata.name}"
                for o in items
                if o.metadata.name.startswith(DEMO_PREFIX)
            ]
    except (ApiException, HTTPError, OSError) as exc:
        raise LabctlError(f"the cluster did not answer ({exc}): is the master up?") from None
    return status
