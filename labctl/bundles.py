"""Image bundles on the laptop: which images an archive holds, read without running anything.

An image bundle is a tarball made by ``docker save`` (a docker-archive: a top-level
``manifest.json`` listing images with their ``RepoTags``) or an OCI image layout tarball
(``docker buildx build --output type=oci``, ``skopeo copy ... oci-archive:``: a top-level
``index.json`` whose manifests carry the name in the ``io.containerd.image.name`` annotation,
or a full reference in ``org.opencontainers.image.ref.name``). Docker 25 and later write both
files; the names of both are taken. Only those small JSON members are read, each bounded by
:data:`MAX_JSON_BYTES`; nothing is extracted and no tool is run.

Names are normalised the way containerd's ``ctr images ls`` shows them
(:func:`normalize_image`), so they can be compared with what a node already holds.

Ansible reaches this module through ``playbooks/filter_plugins/labctl_data.py``.
"""

from __future__ import annotations

import json
import lzma
import re
import tarfile
import zlib
from pathlib import Path
from typing import Any

from labctl.errors import UsageError

MAX_JSON_BYTES = 1024 * 1024

# The grammar of github.com/distribution/reference (what docker and containerd accept).
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOMAIN = re.compile(
    r"(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
    r"(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*"
    r"|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
)
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
_MAX_NAME = 255

CONTAINERD_NAME = "io.containerd.image.name"
OCI_REF_NAME = "org.opencontainers.image.ref.name"


class ImageNameError(UsageError):
    """An image name that docker and containerd would refuse (bad input, exit 2)."""


class BundleError(UsageError):
    """An image bundle on the laptop cannot be read (bad input, exit 2)."""


def normalize_image(name: str) -> str:
    """``name`` as containerd lists it: ``nginx:1`` -> ``docker.io/library/nginx:1``,
    ``labctl/web:local`` -> ``docker.io/labctl/web:local``, ``registry.k8s.io/pause:3.10.2``
    unchanged, and ``:latest`` added when there is neither a tag nor a digest."""
    if not isinstance(name, str) or not name:
        raise ImageNameError(f"image name {name!r} is empty or not a string")
    bad = f"image name {name!r} is not a valid image reference"
    remainder, _, digest = name.partition("@")
    if digest and not _DIGEST.fullmatch(digest):
        raise ImageNameError(f"{bad}: {digest!r} is not a digest like sha256:<64 hex digits>")
    first, slash, rest = remainder.partition("/")
    # distribution/reference: the first component is a registry when it has a '.' or a ':',
    # is localhost, or has upper-case letters (which repositories cannot)
    if slash and (any(c in first for c in ".:") or first == "localhost" or first != first.lower()):
        domain, path = first, rest
    else:
        domain, path = "docker.io", remainder
    last = path.rsplit("/", 1)[-1]
    tag = ""
    if ":" in last:
        path, _, tag = path.rpartition(":")
        if not _TAG.fullmatch(tag):
            raise ImageNameError(f"{bad}: tag {tag!r} is not a valid tag")
    if domain == "index.docker.io":
        domain = "docker.io"
    if not _DOMAIN.fullmatch(domain):
        raise ImageNameError(f"{bad}: {domain!r} is not a registry host")
    if domain == "docker.io" and "/" not in path:
        path = f"library/{path}"
    if not all(_PATH_COMPONENT.fullmatch(part) for part in path.split("/")):
        raise ImageNameError(
            f"{bad}: repository {path!r} must be lower-case letters, digits and . _ - separators"
        )
    if len(f"{domain}/{path}") > _MAX_NAME:
        raise ImageNameError(f"{bad}: it is longer than {_MAX_NAME} characters")
    if not tag and not digest:
        tag = "latest"
    return f"{domain}/{path}" + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def _is_full_reference(ref: str) -> bool:
    """Whether an ``org.opencontainers.image.ref.name`` names an image (``nginx:1``,
    ``docker.io/labctl/web:local``) rather than only a tag (``latest``, ``1.27``)."""
    if "/" not in ref and ":" not in ref:
        return False
    try:
        normalize_image(ref)
    except ImageNameError:
        return False
    return True


def _read_json(archive: tarfile.TarFile, member: tarfile.TarInfo, where: str) -> Any:
    if member.size > MAX_JSON_BYTES:
        raise BundleError(
            f"{where} is {member.size} bytes, more than the {MAX_JSON_BYTES} a bundle's "
            "index may have: this is not an image bundle labctl can read"
        )
    handle = archive.extractfile(member)
    if handle is None:
        raise BundleError(f"{where} cannot be read from the archive")
    with handle:
        data = handle.read(MAX_JSON_BYTES + 1)
    if len(data) > MAX_JSON_BYTES:
        raise BundleError(f"{where} is larger than {MAX_JSON_BYTES} bytes")
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise BundleError(
            f"{where} is not valid JSON: the bundle is damaged; save the image again"
        ) from None


def _docker_names(manifest: Any, where: str) -> list[str]:
    if not isinstance(manifest, list) or not all(isinstance(e, dict) for e in manifest):
        raise BundleError(f"{where} is not a docker-archive manifest (a list of images)")
    names: list[str] = []
    for entry in manifest:
        tags = entry.get("RepoTags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise BundleError(f"{where} has RepoTags that are not a list of names")
        names.extend(tags)
    return names


def _oci_names(index: Any, where: str) -> list[str]:
    manifests = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(manifests, list):
        raise BundleError(f"{where} is not an OCI image index (it has no list of manifests)")
    names: list[str] = []
    for descriptor in manifests:
        annotations = descriptor.get("annotations") if isinstance(descriptor, dict) else None
        if not isinstance(annotations, dict):
            continue
        containerd, ref = annotations.get(CONTAINERD_NAME), annotations.get(OCI_REF_NAME)
        if isinstance(containerd, str) and containerd:
            names.append(containerd)
        elif isinstance(ref, str) and _is_full_reference(ref):
            names.append(ref)
    return names


def _top_level_json(archive: tarfile.TarFile) -> dict[str, tarfile.TarInfo]:
    found: dict[str, tarfile.TarInfo] = {}
    for member in archive:
        name = member.name
        while name.startswith("./"):
            name = name[2:]
        if name in ("manifest.json", "index.json") and member.isfile():
            found.setdefault(name, member)
    return found


def bundle_images(path: str | Path) -> list[str]:
    """The normalised image names inside the image bundle at ``path``, sorted and unique."""
    bundle = Path(path).expanduser()
    if not bundle.is_file():
        what = "is a directory, not a file" if bundle.is_dir() else "does not exist"
        raise BundleError(
            f"image bundle {bundle} {what}: give the path of a tarball made by docker save "
            "or an OCI layout export"
        )
    names: list[str] = []
    try:
        with tarfile.open(bundle, "r:*") as archive:
            members = _top_level_json(archive)
            if not members:
                raise BundleError(
                    f"image bundle {bundle} is neither a docker-archive (manifest.json) nor an "
                    "OCI image layout (index.json): make it with docker save IMAGE:TAG -o FILE"
                )
            if "manifest.json" in members:
                where = f"manifest.json in {bundle}"
                names += _docker_names(_read_json(archive, members["manifest.json"], where), where)
            if "index.json" in members:
                where = f"index.json in {bundle}"
                names += _oci_names(_read_json(archive, members["index.json"], where), where)
    except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        if "could not be opened" in reason:  # tarfile's multi-line "tried every method"
            reason = "not a tar, tar.gz, tar.bz2 or tar.xz file"
        reason = reason.splitlines()[0]
        raise BundleError(
            f"image bundle {bundle} is not a readable tar archive ({reason}): give a tarball "
            "made by docker save or an OCI layout export"
        ) from None
    if not names:
        raise BundleError(
            f"image bundle {bundle} holds no image names (no RepoTags, no "
            f"{CONTAINERD_NAME} annotation): save it by name, e.g. docker save IMAGE:TAG -o FILE"
        )
    normalised = set()
    for name in names:
        try:
            normalised.add(normalize_image(name))
        except ImageNameError as exc:
            raise BundleError(f"image bundle {bundle}: {exc}") from None
    return sorted(normalised)
