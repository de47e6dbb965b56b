"""Pinned upstream manifests: fetch (sha256-checked), parse and transform.

Upstream manifests (MetalLB, ingress-nginx, flannel) are never committed. The laptop fetches
each from the URL pinned in its role's defaults, refuses it unless its sha256 matches the
pin, then transforms it with the plain functions below:

- removed apiVersions become their successors (MetalLB v0.7.3's ``apps/v1beta2`` -> ``apps/v1``);
- images are mapped (explicit overrides, a registry override, or the ``-<arch>`` image names of
  releases from before multi-arch images);
- tolerations are added to chosen pod templates;
- objects labctl authors itself (the ingress NodePort Service) replace upstream's;
- patches (JSON-pointer add/replace/remove, and regex edits of strings) change chosen objects.

Ansible reaches this module through ``playbooks/filter_plugins/labctl_manifests.py``;
``labctl render <addon> --upstream`` through :func:`upstream_objects`.
"""

from __future__ import annotations

import copy
import hashlib
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labctl import addons as addons_table
from labctl import atomicfile
from labctl.errors import LabctlError, UsageError

Obj = dict[str, Any]

# Kinds whose pods are described by spec.template (the objects images and tolerations live in).
_POD_TEMPLATE_KINDS = frozenset({"Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "Job"})
_APPS_KINDS = frozenset({"Deployment", "DaemonSet", "StatefulSet", "ReplicaSet"})
_OLD_APPS_GROUPS = ("apps/v1beta1", "apps/v1beta2", "extensions/v1beta1")
_RBAC_KINDS = frozenset({"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"})
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

# Node architecture as Ansible reports it (ansible_architecture) -> the suffix of the
# per-architecture image names used before multi-arch images (e.g. ingress-nginx 0.24.1).
ARCH_SUFFIX: Mapping[str, str] = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "armv6l": "arm",
}


class ManifestError(LabctlError):
    """An upstream manifest could not be fetched, verified or transformed (exit 1)."""


class ChecksumMismatch(ManifestError):
    """The fetched bytes do not match the sha256 pinned in the role defaults."""


class PinError(UsageError):
    """Unknown add-on or version, or a malformed pin: bad input, exit 2."""


# ---------------------------------------------------------------------------------------
# fetching


def mirror_url(url: str, mirror: str = "") -> str:
    """``url`` served from ``mirror`` instead: the mirror's base URL plus the URL's path.

    A lab behind a mirror of the pinned upstream files (an air-gapped lab, the test lab) sets
    ``lab_manifest_mirror``; the sha256 pin still decides whether the file is accepted.
    """
    if not mirror:
        return url
    if not re.fullmatch(r"https?://[^/\s]+(/[^\s]*)?", mirror):
        raise PinError(
            f"lab_manifest_mirror {mirror!r} is not an http(s) base URL like http://mirror.lan/manifests"
        )
    path = urllib.parse.urlsplit(url).path
    return mirror.rstrip("/") + path


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(url: str, sha256: str, *, cache_dir: Path | None = None, timeout: float = 60) -> bytes:
    """Download ``url`` (or take it from the cache) and return its bytes if they match ``sha256``.

    The cache is keyed by the checksum, so a changed pin never reuses stale bytes, and a
    cached file is checked again on every read.
    """
    expected = sha256.strip().lower()
    if not _SHA256.match(expected):
        raise PinError(f"pinned sha256 for {url} is not 64 hex digits ({sha256!r}): fix the pin")
    if not url.startswith(("https://", "http://")):
        raise PinError(f"manifest URL must be http(s): {url!r}: fix the pin")
    cached = cache_dir / f"{expected}.yaml" if cache_dir else None
    if cached is not None and cached.is_file():
        data = cached.read_bytes()
        if sha256_hex(data) == expected:
            return data
        cached.unlink()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # scheme checked above
            data = response.read()
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ManifestError(
            f"cannot download {url}: {reason}: check the laptop's internet access and retry"
        ) from exc
    actual = sha256_hex(data)
    if actual != expected:
        raise ChecksumMismatch(
            f"refusing {url}: its sha256 is {actual}, the pin in the role defaults is {expected}; "
            "the upstream file changed or was tampered with: review it and update the pin"
        )
    if cached is not None:
        atomicfile.write(cached, data, mode=0o644)
    return data


def parse(text: str | bytes) -> list[Obj]:
    """Every non-empty document of a multi-document YAML manifest, in order."""
    import yaml

    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise ManifestError(f"manifest is not valid YAML: {exc}".splitlines()[0]) from exc
    objs: list[Obj] = []
    for doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
            raise ManifestError("manifest holds a document that is not a Kubernetes object")
        if doc["kind"] == "List":
            objs.extend(doc.get("items") or [])
        else:
            objs.append(doc)
    return objs


# ---------------------------------------------------------------------------------------
# transformations (pure: they return new objects and never touch their input)


def identity(obj: Mapping[str, Any]) -> str:
    """``Kind/namespace/name`` (``Kind/name`` for cluster-scoped objects)."""
    meta = obj.get("metadata") or {}
    parts = [str(obj.get("kind")), meta.get("namespace"), str(meta.get("name"))]
    return "/".join(p for p in parts if p)


def upgrade_api_versions(objs: Iterable[Obj]) -> list[Obj]:
    """Replace apiVersions that current Kubernetes no longer serves with their successors.

    Workloads in ``apps/v1beta1``, ``apps/v1beta2`` and ``extensions/v1beta1`` (removed in 1.16)
    move to ``apps/v1``; apps/v1 requires ``spec.selector``, so a missing one is derived from
    the pod template's labels, as the old API defaulted it. RBAC ``v1beta1`` (removed in 1.22)
    moves to ``v1``. Removed kinds with no mechanical successor are refused.
    """
    out: list[Obj] = []
    for original in objs:
        obj = copy.deepcopy(original)
        api, kind = obj.get("apiVersion"), obj.get("kind")
        if api in _OLD_APPS_GROUPS and kind in _APPS_KINDS:
            obj["apiVersion"] = "apps/v1"
            spec = obj.setdefault("spec", {})
            if not spec.get("selector"):
                labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
                if not labels:
                    raise ManifestError(
                        f"{identity(obj)}: apps/v1 needs spec.selector and the pod template has "
                        "no labels to derive it from"
                    )
                spec["selector"] = {"matchLabels": dict(labels)}
        elif api == "rbac.authorization.k8s.io/v1beta1" and kind in _RBAC_KINDS:
            obj["apiVersion"] = "rbac.authorization.k8s.io/v1"
        elif api in (
            "extensions/v1beta1",
            "policy/v1beta1",
            "apiextensions.k8s.io/v1beta1",
            "networking.k8s.io/v1beta1",
        ):
            raise ManifestError(
                f"{identity(obj)}: {api} is no longer served and has no mechanical successor: "
                "pin a newer upstream release"
            )
        out.append(obj)
    return out


@dataclass(frozen=True)
class ImageRef:
    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, ref: str) -> ImageRef:
        name, _, digest = ref.partition("@")
        first, sep, rest = name.partition("/")
        if sep and ("." in first or ":" in first or first == "localhost"):
            registry, path = first, rest
        else:
            registry, path = "docker.io", name
        repository, _, tag = (
            path.partition(":") if ":" in path.rsplit("/", 1)[-1] else (path, "", "")
        )
        if registry == "docker.io" and "/" not in repository:
            repository = f"library/{repository}"
        return cls(registry, repository, tag or None, digest or None)

    @property
    def name(self) -> str:
        """``registry/repository``: what image maps are keyed by (tag and digest left out)."""
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        ref = self.name
        if self.tag:
            ref += f":{self.tag}"
        if self.digest:
            ref += f"@{self.digest}"
        return ref


def image_key(ref: str) -> str:
    """The normalised ``registry/repository`` of an image reference (the key of image maps)."""
    return ImageRef.parse(ref).name


def map_image(
    ref: str,
    images: Mapping[str, str] | None = None,
    *,
    registry: str | None = None,
    arch_suffix: str | None = None,
) -> str:
    """One image reference after the overrides.

    ``images`` maps ``registry/repository`` (or a full reference) to a replacement reference and
    wins over the rest. Otherwise ``arch_suffix`` renames ``repo`` to ``repo-<suffix>`` (the
    per-architecture names of releases older than multi-arch images; the digest of the
    multi-arch image no longer applies and is dropped), and ``registry`` replaces the registry.
    """
    images = {image_key(k): v for k, v in (images or {}).items()}
    parsed = ImageRef.parse(ref)
    if parsed.name in images:
        return images[parsed.name]
    if not arch_suffix and not registry:
        return ref
    if arch_suffix:
        if not re.fullmatch(r"[a-z0-9]+", arch_suffix):
            raise PinError(f"architecture suffix {arch_suffix!r} is not a plain name like arm64")
        if not parsed.repository.endswith(f"-{arch_suffix}"):
            parsed = ImageRef(parsed.registry, f"{parsed.repository}-{arch_suffix}", parsed.tag)
    if registry:
        registry = registry.strip().rstrip("/")
        if not registry or "/" in registry.split("/", 1)[0] or " " in registry:
            raise PinError(f"registry override {registry!r} is not a registry host")
        parsed = ImageRef(registry, parsed.repository, parsed.tag, parsed.digest)
    return str(parsed)


def _pod_specs(obj: Obj) -> list[Obj]:
    if obj.get("kind") == "Pod":
        return [obj.setdefault("spec", {})]
    if obj.get("kind") in _POD_TEMPLATE_KINDS:
        template = obj.setdefault("spec", {}).setdefault("template", {})
        return [template.setdefault("spec", {})]
    if obj.get("kind") == "CronJob":
        job = obj.setdefault("spec", {}).setdefault("jobTemplate", {}).setdefault("spec", {})
        return [job.setdefault("template", {}).setdefault("spec", {})]
    return []


def images_of(objs: Iterable[Obj]) -> list[str]:
    """Every container and initContainer image, in order, without duplicates."""
    seen: dict[str, None] = {}
    for obj in objs:
        for pod in _pod_specs(copy.deepcopy(obj)):
            for container in (pod.get("initContainers") or []) + (pod.get("containers") or []):
                if container.get("image"):
                    seen.setdefault(container["image"], None)
    return list(seen)


def map_images(
    objs: Iterable[Obj],
    images: Mapping[str, str] | None = None,
    *,
    registry: str | None = None,
    arch_suffix: str | None = None,
) -> list[Obj]:
    """Apply :func:`map_image` to every container and initContainer image."""
    out = []
    for original in objs:
        obj = copy.deepcopy(original)
        for pod in _pod_specs(obj):
            for container in (pod.get("initContainers") or []) + (pod.get("containers") or []):
                if container.get("image"):
                    container["image"] = map_image(
                        container["image"], images, registry=registry, arch_suffix=arch_suffix
                    )
        out.append(obj)
    return out


def add_tolerations(
    objs: Iterable[Obj], tolerations: Sequence[Mapping[str, Any]], targets: Sequence[str] = ()
) -> list[Obj]:
    """Add ``tolerations`` (skipping ones already present) to pod templates.

    ``targets`` lists ``Kind/name`` (e.g. ``DaemonSet/speaker``); empty means every DaemonSet.
    A target that matches nothing is refused: the upstream manifest is not the expected one.
    """
    wanted = set(targets)
    hit: set[str] = set()
    out = []
    for original in objs:
        obj = copy.deepcopy(original)
        key = f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"
        if (key in wanted) or (not wanted and obj.get("kind") == "DaemonSet"):
            hit.add(key)
            for pod in _pod_specs(obj):
                present = pod.setdefault("tolerations", [])
                for toleration in tolerations:
                    if dict(toleration) not in present:
                        present.append(dict(toleration))
        out.append(obj)
    missing = wanted - hit
    if tolerations and missing:
        raise ManifestError(
            f"no {', '.join(sorted(missing))} in the upstream manifest to add tolerations to"
        )
    return out


def replace_objects(objs: Iterable[Obj], replacements: Sequence[Obj]) -> list[Obj]:
    """Swap upstream objects for labctl's own ones of the same identity.

    A replacement without an upstream counterpart is refused (the pinned manifest is not the
    expected one), as is one whose Service selector differs from upstream's (it would select
    nothing).
    """
    by_id = {identity(r): r for r in replacements}
    out, used = [], set()
    for obj in objs:
        key = identity(obj)
        if key in by_id:
            ours = by_id[key]
            if obj.get("kind") == "Service":
                theirs_sel = (obj.get("spec") or {}).get("selector")
                ours_sel = (ours.get("spec") or {}).get("selector")
                if theirs_sel != ours_sel:
                    raise ManifestError(
                        f"{key}: labctl's selector {ours_sel} differs from upstream's "
                        f"{theirs_sel}: update the release's service selector in the role defaults"
                    )
            out.append(copy.deepcopy(ours))
            used.add(key)
        else:
            out.append(copy.deepcopy(obj))
    missing = set(by_id) - used
    if missing:
        raise ManifestError(
            f"upstream manifest has no {', '.join(sorted(missing))} for labctl to replace"
        )
    return out


# ---------------------------------------------------------------------------------------
# patches: JSON-pointer edits of chosen upstream objects (Transform.patches)

_PATCH_KEYS = ("kind", "name", "namespace", "ops")
# op -> the keys it takes (besides "op")
_OP_KEYS: Mapping[str, tuple[str, ...]] = {
    "add": ("path", "value"),
    "replace": ("path", "value"),
    "remove": ("path",),
    "edit": ("path", "regexp", "replace"),
}
_LIST_INDEX = re.compile(r"0|[1-9][0-9]*")
_CHANGED = "the upstream manifest changed: review it and update the patch"


@dataclass(frozen=True)
class _Op:
    where: str  # "patch 1 (DaemonSet kube-flannel-ds) op 2 (add /spec/...)", for messages
    op: str
    path: str
    tokens: tuple[str, ...]  # unescaped reference tokens
    value: Any = None
    regexp: re.Pattern[str] | None = None
    replace: str = ""


@dataclass(frozen=True)
class _Patch:
    label: str
    kind: str
    name: str
    namespace: str | None
    ops: tuple[_Op, ...]

    def matches(self, obj: Mapping[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        return (
            obj.get("kind") == self.kind
            and meta.get("name") == self.name
            and (self.namespace is None or meta.get("namespace") == self.namespace)
        )


def pointer_tokens(path: str) -> tuple[str, ...]:
    """The reference tokens of an RFC 6901 JSON pointer (``/a~1b/c~0d`` -> ``("a/b", "c~d")``)."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise PinError(f"JSON pointer {path!r} is not a string starting with '/'")
    tokens = []
    for token in path.split("/")[1:]:
        if re.search(r"~(?![01])", token):
            raise PinError(
                f"JSON pointer {path!r} has a '~' that is not ~0 ('~') or ~1 ('/'): escape it"
            )
        tokens.append(token.replace("~1", "/").replace("~0", "~"))
    return tuple(tokens)


def _check_op(label: str, op: Any) -> _Op:
    if not isinstance(op, Mapping):
        raise PinError(f"{label} is not a mapping like {{op: add, path: /spec/..., value: ...}}")
    name = op.get("op")
    if name not in _OP_KEYS:
        known = ", ".join(_OP_KEYS)
        raise PinError(f"{label}: unknown op {name!r}: use one of {known}")
    where = f"{label} ({name})"
    takes = _OP_KEYS[name]
    for needed in takes:
        if needed not in op:
            raise PinError(f"{where} lacks {needed!r} (a {name} op takes {', '.join(takes)})")
    unknown = sorted(str(k) for k in op if k != "op" and k not in takes)
    if unknown:
        raise PinError(f"{where} has unknown keys {unknown} (a {name} op takes {', '.join(takes)})")
    path = op["path"]
    if not isinstance(path, str) or not path.startswith("/"):
        raise PinError(f"{where}: path {path!r} is not a JSON pointer string starting with '/'")
    where = f"{label} ({name} {path})"
    try:
        tokens = pointer_tokens(path)
    except PinError as exc:
        raise PinError(f"{where}: {exc}") from None
    if name != "edit":
        return _Op(where, name, path, tokens, copy.deepcopy(op.get("value")))
    regexp, replace = op["regexp"], op["replace"]
    if not isinstance(regexp, str) or not isinstance(replace, str):
        raise PinError(f"{where}: regexp and replace must both be strings")
    try:
        compiled = re.compile(regexp)
    except re.error as exc:
        raise PinError(
            f"{where}: regexp {regexp!r} is not a valid Python regular expression ({exc})"
        ) from None
    return _Op(where, name, path, tokens, regexp=compiled, replace=replace)


def _check_patch(index: int, patch: Any) -> _Patch:
    label = f"patch {index}"
    if not isinstance(patch, Mapping):
        raise PinError(f"{label} is not a mapping of {', '.join(_PATCH_KEYS)}")
    kind, name, namespace = patch.get("kind"), patch.get("name"), patch.get("namespace")
    if isinstance(kind, str) and isinstance(name, str):
        label = f"{label} ({kind} {f'{namespace}/' if namespace else ''}{name})"
    for needed in ("kind", "name"):
        if not isinstance(patch.get(needed), str) or not patch[needed]:
            raise PinError(f"{label} lacks {needed!r}: name the object it edits by kind and name")
    if namespace is not None and not isinstance(namespace, str):
        raise PinError(f"{label}: namespace {namespace!r} is not a string")
    unknown = sorted(str(k) for k in patch if k not in _PATCH_KEYS)
    if unknown:
        raise PinError(f"{label} has unknown keys {unknown} (a patch has {', '.join(_PATCH_KEYS)})")
    ops = patch.get("ops")
    if not isinstance(ops, Sequence) or isinstance(ops, str) or not ops:
        raise PinError(f"{label} has no list of ops: give it at least one op")
    checked = tuple(_check_op(f"{label} op {j}", op) for j, op in enumerate(ops, 1))
    return _Patch(label, kind, name, namespace or None, checked)


def _escape_token(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _list_index(op: _Op, obj: Obj, here: str, token: str, size: int, *, end: bool) -> int:
    """The list index ``token`` names (``end`` allows ``size`` itself, i.e. appending)."""
    if end and token == "-":
        return size
    if not _LIST_INDEX.fullmatch(token) or int(token) > (size if end else size - 1):
        raise ManifestError(
            f"{op.where}: {identity(obj)} has no {here} (a list of {size} items): {_CHANGED}"
        )
    return int(token)


def _apply_op(obj: Obj, op: _Op) -> None:
    container: Any = obj
    here = ""
    for token in op.tokens[:-1]:
        here += "/" + _escape_token(token)
        if isinstance(container, dict) and token in container:
            container = container[token]
        elif isinstance(container, list):
            container = container[_list_index(op, obj, here, token, len(container), end=False)]
        else:
            raise ManifestError(f"{op.where}: {identity(obj)} has no {here}: {_CHANGED}")
    last = op.tokens[-1]
    here += "/" + _escape_token(last)
    if isinstance(container, list):
        index = _list_index(op, obj, here, last, len(container), end=op.op == "add")
    elif isinstance(container, dict) and (op.op == "add" or last in container):
        index = None
    else:
        raise ManifestError(f"{op.where}: {identity(obj)} has no {here}: {_CHANGED}")
    slot: Any = last if index is None else index
    if op.op == "add":
        if index is None:
            container[last] = copy.deepcopy(op.value)
        else:
            container.insert(index, copy.deepcopy(op.value))
    elif op.op == "replace":
        container[slot] = copy.deepcopy(op.value)
    elif op.op == "remove":
        del container[slot]
    else:
        _edit(obj, op, container, slot)


def _edit(obj: Obj, op: _Op, container: Any, slot: Any) -> None:
    assert op.regexp is not None
    text = container[slot]
    if not isinstance(text, str):
        raise ManifestError(
            f"{op.where}: {op.path} of {identity(obj)} is a {type(text).__name__}, not a string "
            f"to edit: {_CHANGED}"
        )
    try:
        edited, count = op.regexp.subn(op.replace, text)
    except (re.error, IndexError) as exc:
        raise PinError(f"{op.where}: replacement {op.replace!r} is invalid ({exc})") from None
    if not count:
        raise ManifestError(
            f"{op.where}: regexp {op.regexp.pattern!r} matches nothing in {op.path} of "
            f"{identity(obj)}: {_CHANGED}"
        )
    container[slot] = edited


def apply_patches(objs: Iterable[Obj], patches: Sequence[Mapping[str, Any]]) -> list[Obj]:
    """Deep copies of ``objs`` with ``patches`` applied, in order.

    A patch is ``{kind, name, namespace?, ops}``; it edits every object of that kind and
    ``metadata.name`` (and namespace, when given), and one that matches nothing is refused.
    Ops are RFC 6902's ``add`` / ``replace`` / ``remove`` on RFC 6901 JSON pointers (``~0``
    and ``~1`` escapes; ``-`` appends to a list), plus labctl's ``edit`` (``path``, ``regexp``,
    ``replace``): a Python regex substitution on the string at ``path``, which must match at
    least once. ``replace``, ``remove`` and ``edit`` need ``path`` to exist. A malformed patch
    is bad input (:class:`PinError`); one that no longer fits the manifest is a
    :class:`ManifestError` saying the upstream changed.
    """
    if isinstance(patches, Mapping | str) or not isinstance(patches, Sequence):
        raise PinError(f"patches must be a list of patches, not a {type(patches).__name__}")
    checked = [_check_patch(index, patch) for index, patch in enumerate(patches, 1)]
    out = [copy.deepcopy(obj) for obj in objs]
    for patch in checked:
        targets = [obj for obj in out if patch.matches(obj)]
        if not targets:
            raise ManifestError(f"{patch.label} matched no object: {_CHANGED}")
        for obj in targets:
            for op in patch.ops:
                _apply_op(obj, op)
    return out


def nodeport_service(
    name: str,
    namespace: str,
    selector: Mapping[str, str],
    ports: Mapping[str, Mapping[str, Any]],
    labels: Mapping[str, str] | None = None,
) -> Obj:
    """A NodePort Service with fixed node ports (the ingress controller's entry point).

    ``ports`` maps a port name to ``{port, nodePort, targetPort?, appProtocol?}``.
    """
    spec_ports = []
    for port_name, spec in ports.items():
        node_port = int(spec["nodePort"])
        if not 30000 <= node_port <= 32767:
            raise PinError(
                f"node port {node_port} for {port_name!r} is outside 30000-32767 (the "
                "kube-apiserver default range): choose a port in that range"
            )
        entry: dict[str, Any] = {
            "name": port_name,
            "port": int(spec["port"]),
            "targetPort": spec.get("targetPort", port_name),
            "nodePort": node_port,
            "protocol": "TCP",
        }
        if spec.get("appProtocol"):
            entry["appProtocol"] = spec["appProtocol"]
        spec_ports.append(entry)
    node_ports = [p["nodePort"] for p in spec_ports]
    if len(set(node_ports)) != len(node_ports):
        raise PinError(f"node ports {node_ports} must differ from each other")
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        metadata["labels"] = dict(labels)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata,
        "spec": {"type": "NodePort", "selector": dict(selector), "ports": spec_ports},
    }


@dataclass(frozen=True)
class Transform:
    """What to do to an upstream manifest, in this order: patches, apiVersions, images,
    tolerations, replacements.

    ``patches`` (see :func:`apply_patches`) are applied first, to the objects exactly as
    parsed from the sha256-checked bytes, so their paths and names are upstream's own (e.g.
    flannel's ``ConfigMap kube-flannel-cfg`` ``/data/cni-conf.json``, or
    ``/spec/template/spec/containers/0/args/-`` of ``DaemonSet kube-flannel-ds``); a patch
    that no longer fits a new upstream release fails instead of being skipped.
    """

    upgrade_api_versions: bool = True
    images: Mapping[str, str] = field(default_factory=dict)
    registry: str | None = None
    arch_suffix: str | None = None
    tolerations: Sequence[Mapping[str, Any]] = ()
    toleration_targets: Sequence[str] = ()
    replace: Sequence[Obj] = ()
    patches: Sequence[Mapping[str, Any]] = ()


def transform(objs: Iterable[Obj], how: Transform) -> list[Obj]:
    out = list(objs)
    if how.patches:
        out = apply_patches(out, how.patches)
    if how.upgrade_api_versions:
        out = upgrade_api_versions(out)
    if how.images or how.registry or how.arch_suffix:
        out = map_images(
            out, how.images, registry=how.registry or None, arch_suffix=how.arch_suffix or None
        )
    if how.tolerations:
        out = add_tolerations(out, how.tolerations, how.toleration_targets)
    if how.replace:
        out = replace_objects(out, how.replace)
    return out


def pipeline(url: str, sha256: str, how: Transform, *, cache_dir: Path | None = None) -> list[Obj]:
    """Fetch (sha256-checked), parse and transform one pinned manifest."""
    return transform(parse(fetch(url, sha256, cache_dir=cache_dir)), how)


# ---------------------------------------------------------------------------------------
# pins from the role defaults, and `labctl render <addon> --upstream`

# add-on name on the command line -> (role, variable prefix), for those with an upstream pin
ADDONS: Mapping[str, tuple[str, str]] = {
    a.name: (a.role, a.role) for a in addons_table.ADDONS if a.upstream
}


def _roles_dir() -> Path:
    from labctl import paths

    return paths.ansible_root() / "roles"


def role_defaults(role: str, roles_dir: Path | None = None) -> dict[str, Any]:
    import yaml

    path = (roles_dir or _roles_dir()) / role / "defaults" / "main.yml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ManifestError(f"cannot read the pins in {path}: {exc.strerror}") from exc
    if not isinstance(data, dict):
        raise ManifestError(f"{path} is not a mapping of variables")
    return data


def normalize_version(version: Any) -> str:
    """The key of a release in ``<prefix>_releases``: ``v0.7.3``, ``0.7.3`` and
    ``controller-v1.15.1`` read as ``0.7.3`` and ``1.15.1``, in Python and (as the filter
    ``labctl_version``) in the roles alike."""
    text = "" if version is None else str(version).strip()
    return text.removeprefix("controller-").removeprefix("v")


def release(
    defaults: Mapping[str, Any], prefix: str, version: str | None = None
) -> tuple[str, dict[str, Any]]:
    """``(version, pin)`` from ``<prefix>_releases`` (``version`` defaults to ``<prefix>_version``).

    An unknown version is bad input (exit 2) and the message lists the pinned ones.
    """
    releases = defaults.get(f"{prefix}_releases") or {}
    chosen = normalize_version(
        version if version is not None else defaults.get(f"{prefix}_version")
    )
    if chosen not in releases:
        known = ", ".join(sorted(releases, key=_version_key)) or "none"
        raise PinError(
            f"unknown {prefix} version {chosen!r}: labctl pins {known}; choose one of them "
            f"({prefix}_version, or --addon-version for labctl render)"
        )
    pin = dict(releases[chosen])
    for key in ("url", "sha256"):
        if not pin.get(key):
            raise PinError(f"{prefix}_releases[{chosen!r}] lacks {key}: fix the role defaults")
    return chosen, pin


def _version_key(version: str) -> tuple[int | str, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"[.-]", version))


def validate_versions(variables: Mapping[str, Any], roles_dir: Path | None = None) -> None:
    """Refuse (exit 2, before any host is touched) an add-on version set in the inventory or
    on the command line that labctl does not pin."""
    for role, prefix in ADDONS.values():
        if f"{prefix}_version" in variables:
            release(role_defaults(role, roles_dir), prefix, str(variables[f"{prefix}_version"]))


def combine(upstream: Sequence[Obj], authored: Sequence[Obj]) -> list[Obj]:
    """Upstream objects followed by labctl's own, each identity printed once: an authored
    object that already replaced its upstream counterpart is not repeated."""
    seen = {identity(o) for o in upstream}
    return [*upstream, *(o for o in authored if identity(o) not in seen)]


def arch_suffix_for(arch: str) -> str:
    try:
        return ARCH_SUFFIX[arch]
    except KeyError:
        raise PinError(
            f"unknown node architecture {arch!r}: expected one of {', '.join(ARCH_SUFFIX)}"
        ) from None


def check_architecture(
    what: str, pin: Mapping[str, Any], arch: str, *, overridden: bool = False
) -> None:
    """Refuse a node architecture the pinned release publishes no image for.

    ``overridden`` (the user mapped the images themselves) skips the check: their images
    are then checked by the pull test on a node.
    """
    archs = list(pin.get("architectures") or [])
    if archs and arch not in archs and not overridden:
        raise PinError(
            f"{what} publishes no image for {arch} (only {', '.join(archs)}): choose another "
            "release, or map the images to ones built for it"
        )


def addon_transform(
    addon: str,
    version: str,
    pin: Mapping[str, Any],
    defaults: Mapping[str, Any],
    arch: str,
    *,
    images: Mapping[str, str] | None = None,
    registry: str | None = None,
) -> Transform:
    """The transformation the role applies, computed from the same role defaults."""
    if addon == "metallb":
        check_architecture(f"MetalLB {version}", pin, arch, overridden=bool(images))
        tolerations: list[Mapping[str, Any]] = []
        if pin.get("mode") == "configmap" and defaults.get("metallb_control_plane_toleration"):
            tolerations = list(defaults.get("metallb_control_plane_tolerations") or [])
        return Transform(
            images=images or {},
            registry=registry or None,
            tolerations=tolerations,
            toleration_targets=["DaemonSet/speaker"] if tolerations else [],
        )
    if addon == "ingress-nginx":
        svc = pin.get("service") or {}
        ports = {
            "http": {
                "port": 80,
                "nodePort": defaults["ingress_nginx_http_nodeport"],
                "appProtocol": "http",
            },
            "https": {
                "port": 443,
                "nodePort": defaults["ingress_nginx_https_nodeport"],
                "appProtocol": "https",
            },
        }
        service = nodeport_service(
            svc["name"], svc["namespace"], svc["selector"], ports, svc.get("labels")
        )
        check_architecture(f"ingress-nginx {version}", pin, arch, overridden=bool(images))
        return Transform(
            images=images or {},
            registry=registry or None,
            arch_suffix=None if pin.get("multiarch", True) else arch_suffix_for(arch),
            replace=[service],
        )
    raise PinError(f"unknown add-on {addon!r}: choose one of {', '.join(ADDONS)}")


def upstream_objects(
    addon: str,
    version: str | None = None,
    arch: str = "aarch64",
    *,
    images: Mapping[str, str] | None = None,
    registry: str | None = None,
    roles_dir: Path | None = None,
    cache_dir: Path | None = None,
) -> list[Obj]:
    """The pinned upstream manifest of ``addon``, fetched, checked and transformed as the role
    would apply it (``labctl render <addon> --upstream``)."""
    if addon not in ADDONS:
        raise PinError(f"unknown add-on {addon!r}: choose one of {', '.join(ADDONS)}")
    role, prefix = ADDONS[addon]
    defaults = role_defaults(role, roles_dir)
    chosen, pin = release(defaults, prefix, version)
    how = addon_transform(addon, chosen, pin, defaults, arch, images=images, registry=registry)
    if cache_dir is None:
        from labctl import paths

        cache_dir = paths.cache_dir() / "manifests"
    return pipeline(pin["url"], pin["sha256"], how, cache_dir=cache_dir)
