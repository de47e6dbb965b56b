"""Jinja filters over labctl.manifests (the pinned-manifest pipeline), for the add-on roles.

Thin by design: every behaviour lives (and is unit-tested) in labctl/manifests.py.

- ``url | labctl_manifest(sha256, ...)``: fetch (sha256-checked), parse and transform; a list of
  object dicts. Keyword options are the fields of ``labctl.manifests.Transform`` plus
  ``cache_dir`` (default: labctl's cache dir, ``$XDG_CACHE_HOME/labctl/manifests``).
- ``objects | labctl_images``: every container image of a list of objects.
- ``version | labctl_version``: the release key (``v0.7.3`` and ``controller-v1.15.1`` read as
  ``0.7.3`` and ``1.15.1``), the same normaliser labctl's inventory check uses.
- ``ref | labctl_map_image(images, registry=, arch_suffix=)``: one image after the overrides,
  exactly as ``labctl_manifest`` maps the manifest's (so a pull check before the fetch pulls
  what will run).
- ``ansible_architecture | labctl_arch_suffix``: ``aarch64`` -> ``arm64`` (pre-multi-arch names).
- ``ports | labctl_nodeport_service(name, namespace, selector, labels)``: a NodePort Service.
- ``url | labctl_mirror_url(lab_manifest_mirror)``: the URL served from a mirror (or unchanged).
- ``objects | labctl_patch(patches)``: ``manifests.apply_patches`` on objects read elsewhere.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleFilterError

try:
    from labctl import manifests
except ImportError:  # a checkout run without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from labctl import manifests


def manifests_cache() -> Path:
    from labctl import paths

    return paths.cache_dir() / "manifests"


def _call(func: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return func(*args, **kwargs)
    except manifests.LabctlError as exc:
        raise AnsibleFilterError(str(exc)) from None


def labctl_manifest(
    url: str,
    sha256: str,
    cache_dir: str | None = None,
    **options: Any,
) -> list[dict[str, Any]]:
    unknown = set(options) - set(manifests.Transform.__dataclass_fields__)
    if unknown:
        raise AnsibleFilterError(f"labctl_manifest: unknown options {sorted(unknown)}")
    how = manifests.Transform(**options)
    cache = Path(cache_dir).expanduser() if cache_dir else manifests_cache()
    return _call(manifests.pipeline, url, sha256, how, cache_dir=cache)


def labctl_images(objs: list[dict[str, Any]]) -> list[str]:
    return manifests.images_of(objs)


def labctl_map_image(
    ref: str,
    images: dict[str, str] | None = None,
    registry: str | None = None,
    arch_suffix: str | None = None,
) -> str:
    return _call(
        manifests.map_image, ref, images, registry=registry or None, arch_suffix=arch_suffix or None
    )


def labctl_version(version: Any) -> str:
    return manifests.normalize_version(version)


def labctl_arch_suffix(arch: str) -> str:
    return _call(manifests.arch_suffix_for, arch)


def labctl_nodeport_service(
    ports: dict[str, Any],
    name: str,
    namespace: str,
    selector: dict[str, str],
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    return _call(manifests.nodeport_service, name, namespace, selector, ports, labels)


def labctl_mirror_url(url: str, mirror: str = "") -> str:
    return _call(manifests.mirror_url, url, mirror)


def labctl_patch(objs: list[dict[str, Any]], patches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return _call(manifests.apply_patches, objs, patches)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "labctl_manifest": labctl_manifest,
            "labctl_images": labctl_images,
            "labctl_map_image": labctl_map_image,
            "labctl_version": labctl_version,
            "labctl_arch_suffix": labctl_arch_suffix,
            "labctl_nodeport_service": labctl_nodeport_service,
            "labctl_mirror_url": labctl_mirror_url,
            "labctl_patch": labctl_patch,
        }
