#!/usr/bin/env python3
"""Write a container image as a docker-archive tarball (the `docker save` layout), no daemon.

The real-cluster tier builds every image it runs from a local root filesystem (debootstrap,
or one static binary) because no container registry is reachable. This writer turns such a
directory into one uncompressed layer plus an image config and a `manifest.json` whose
RepoTags carry the exact image name, which `docker load`, `ctr images import` and k3s's
`agent/images/` directory all accept.

    e2e/imagetar.py --rootfs DIR --name docker.io/labctl/pause:local \
        --entrypoint '["/pause"]' --output pause.tar

Bad input prints one line naming the problem and exits 2.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import re
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

# name[:tag] with an optional registry host; the tag is required so that
# imagePullPolicy IfNotPresent never sees an implicit ":latest".
_NAME_RE = re.compile(
    r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r":[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
)
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}


class BadInput(Exception):
    """Input the user must fix; reported as one line with exit code 2."""


@dataclass(frozen=True)
class ImageSpec:
    """What goes into the image config besides the layer."""

    name: str
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    env: list[str] = field(default_factory=list)
    workdir: str = "/"
    ports: list[str] = field(default_factory=list)
    architecture: str = _ARCH.get(platform.machine(), platform.machine())


class _HashingWriter(io.RawIOBase):
    """File wrapper that hashes and counts what is written through it."""

    def __init__(self, target: BinaryIO) -> None:
        self._target = target
        self.sha256 = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._target.write(data)
        self.sha256.update(data)
        self.size += len(data)
        return len(data)


def _layer_member(tar: tarfile.TarFile, path: Path, arcname: str) -> None:
    info = tar.gettarinfo(str(path), arcname=arcname)
    if info is None:  # sockets and other special files have no place in a layer
        return
    info.uname = ""
    info.gname = ""
    if info.isreg():
        with path.open("rb") as handle:
            tar.addfile(info, handle)
    else:
        tar.addfile(info)


def write_layer(rootfs: Path, target: BinaryIO) -> str:
    """Write `rootfs` as one layer tar to `target`; return its sha256 hex digest (diff_id)."""
    hashing = _HashingWriter(target)
    with tarfile.open(fileobj=hashing, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(rootfs):
            dirnames.sort()
            current = Path(dirpath)
            for name in dirnames + sorted(filenames):
                full = current / name
                _layer_member(tar, full, full.relative_to(rootfs).as_posix())
    return hashing.sha256.hexdigest()


def image_config(spec: ImageSpec, diff_id: str, created: str) -> dict[str, object]:
    """The image config JSON (docker image spec v1.2 / OCI config) for a one-layer image."""
    config: dict[str, object] = {"WorkingDir": spec.workdir}
    if spec.entrypoint is not None:
        config["Entrypoint"] = spec.entrypoint
    if spec.cmd is not None:
        config["Cmd"] = spec.cmd
    if spec.env:
        config["Env"] = spec.env
    if spec.ports:
        config["ExposedPorts"] = {port: {} for port in spec.ports}
    return {
        "architecture": spec.architecture,
        "os": "linux",
        "created": created,
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
        "history": [{"created": created, "created_by": "labctl e2e/imagetar.py"}],
    }


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mtime: int) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    info.mtime = mtime
    tar.addfile(info, io.BytesIO(data))


def write_archive(rootfs: Path, spec: ImageSpec, output: Path) -> str:
    """Write the docker-archive for `rootfs` to `output` atomically; return the config digest."""
    now = datetime.now(UTC)
    created = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output.parent, prefix=".imagetar-") as scratch:
        layer_path = Path(scratch) / "layer.tar"
        with layer_path.open("wb") as layer_file:
            diff_id = write_layer(rootfs, layer_file)
        config = json.dumps(image_config(spec, diff_id, created), sort_keys=True).encode()
        config_id = hashlib.sha256(config).hexdigest()
        manifest = [
            {
                "Config": f"{config_id}.json",
                "RepoTags": [spec.name],
                "Layers": [f"{diff_id}/layer.tar"],
            }
        ]
        partial = Path(scratch) / "image.tar"
        mtime = int(now.timestamp())
        with tarfile.open(partial, mode="w", format=tarfile.PAX_FORMAT) as tar:
            tar.add(str(layer_path), arcname=f"{diff_id}/layer.tar")
            _add_bytes(tar, f"{config_id}.json", config, mtime)
            _add_bytes(tar, "manifest.json", json.dumps(manifest).encode(), mtime)
        partial.replace(output)
    return config_id


def _json_list(option: str, value: str | None) -> list[str] | None:
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, list) or not all(isinstance(item, str) for item in parsed):
        raise BadInput(f"{option} must be a JSON list of strings, e.g. '[\"/pause\"]'")
    return parsed


def spec_from_args(args: argparse.Namespace) -> tuple[Path, ImageSpec]:
    """Check the command line; raise BadInput naming the first problem found."""
    rootfs = Path(args.rootfs)
    if not rootfs.is_dir():
        raise BadInput(f"--rootfs {rootfs}: not a directory; build the root filesystem first")
    if not _NAME_RE.match(args.name):
        raise BadInput(
            f"--name {args.name!r}: not an image name with an explicit tag, "
            "e.g. docker.io/labctl/pause:local"
        )
    for env in args.env:
        if "=" not in env:
            raise BadInput(f"--env {env!r}: expected KEY=VALUE")
    for port in args.port:
        if not re.fullmatch(r"[0-9]{1,5}/(tcp|udp|sctp)", port):
            raise BadInput(f"--port {port!r}: expected PORT/PROTO, e.g. 80/tcp")
    spec = ImageSpec(
        name=args.name,
        entrypoint=_json_list("--entrypoint", args.entrypoint),
        cmd=_json_list("--cmd", args.cmd),
        env=list(args.env),
        workdir=args.workdir,
        ports=list(args.port),
    )
    if spec.entrypoint is None and spec.cmd is None:
        raise BadInput("give --entrypoint or --cmd (or both): the image needs something to run")
    return rootfs, spec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rootfs", required=True, help="root filesystem directory")
    parser.add_argument("--name", required=True, help="image name with tag (RepoTags)")
    parser.add_argument("--entrypoint", help="JSON list, e.g. '[\"/pause\"]'")
    parser.add_argument("--cmd", help='JSON list, e.g. \'["nginx", "-g", "daemon off;"]\'')
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE (repeatable)")
    parser.add_argument("--workdir", default="/")
    parser.add_argument("--port", action="append", default=[], help="exposed PORT/PROTO")
    parser.add_argument("--output", required=True, help="docker-archive tarball to write")
    args = parser.parse_args(argv)
    try:
        rootfs, spec = spec_from_args(args)
        write_archive(rootfs, spec, Path(args.output))
    except BadInput as problem:
        print(f"imagetar: {problem}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
