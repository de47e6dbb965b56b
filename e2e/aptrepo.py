#!/usr/bin/env python3
"""Index and sign the test lab's two local apt repositories, laid out like their upstreams.

- ``--flat DIR``: a flat repository as pkgs.k8s.io serves one per minor
  (``deb [signed-by=...] <DIR's URL> /``): ``Packages``, ``Packages.gz``, ``Release``,
  ``InRelease``, ``Release.gpg`` and the key as ``Release.key``, beside the .debs.
- ``--dists DIR --suite S --component C``: a pool/dists repository as Docker's
  ``linux/debian`` is (``deb [signed-by=...] <DIR's URL> S C``): ``pool/C/*.deb``,
  ``dists/S/C/binary-<arch>/Packages{,.gz}``, ``dists/S/{Release,InRelease,Release.gpg}``, and
  the key as ``gpg`` at the top, where Docker publishes its key.

The signing key is a throw-away OpenPGP key made once in ``--key-dir`` (never committed,
no passphrase): the tests pin its fingerprint, as the roles pin the real repositories' keys.
Indexing uses apt-ftparchive; signing uses gpg. Bad input prints one line and exits 2.
"""

from __future__ import annotations

import argparse
import gzip
import os
import subprocess
import sys
import tempfile
from pathlib import Path

KEY_UID = "labctl test lab repository signing key (throw-away) <labctl@labctl.invalid>"


class BadInput(Exception):
    """A problem the caller must fix; one line, exit 2."""


def _run(args: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def _gpg_env(key_dir: Path) -> dict[str, str]:
    key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key_dir.chmod(0o700)
    return {**os.environ, "GNUPGHOME": str(key_dir)}


def ensure_key(key_dir: Path) -> str:
    """The fingerprint of the throw-away signing key, made on first use."""
    env = _gpg_env(key_dir)
    listing = _run(["gpg", "--batch", "--with-colons", "--list-secret-keys"], env=env)
    fprs = [ln.split(":")[9] for ln in listing.splitlines() if ln.startswith("fpr:")]
    if not fprs:
        _run(
            ["gpg", "--batch", "--passphrase", "", "--quick-gen-key", KEY_UID,
             "ed25519", "sign", "2y"],
            env=env,
        )  # fmt: skip
        listing = _run(["gpg", "--batch", "--with-colons", "--list-secret-keys"], env=env)
        fprs = [ln.split(":")[9] for ln in listing.splitlines() if ln.startswith("fpr:")]
    return fprs[0]


def export_key(key_dir: Path, fingerprint: str, dest: Path) -> None:
    dest.write_text(
        _run(["gpg", "--batch", "--armor", "--export", fingerprint], env=_gpg_env(key_dir))
    )


def sign(key_dir: Path, fingerprint: str, release: Path) -> None:
    env = _gpg_env(key_dir)
    base = ["gpg", "--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", ""]
    base += ["--local-user", fingerprint, "--digest-algo", "SHA256"]
    _run([*base, "--clearsign", "-o", str(release.with_name("InRelease")), str(release)], env=env)
    _run([*base, "--armor", "--detach-sign", "-o", str(release) + ".gpg", str(release)], env=env)


def write_packages(root: Path, subdir: str, dest_dir: Path) -> None:
    """``apt-ftparchive packages SUBDIR`` run in ``root`` (Filename fields relative to it)."""
    text = _run(["apt-ftparchive", "packages", subdir], cwd=root)
    if "Package:" not in text:
        raise BadInput(f"no .deb packages under {root / subdir}")
    dest_dir.mkdir(parents=True, exist_ok=True)
    (dest_dir / "Packages").write_text(text)
    with gzip.open(dest_dir / "Packages.gz", "wt", compresslevel=9) as handle:
        handle.write(text)


def write_release(directory: Path, fields: dict[str, str]) -> Path:
    args = ["apt-ftparchive"]
    for name, value in fields.items():
        args += ["-o", f"APT::FTPArchive::Release::{name}={value}"]
    text = _run([*args, "release", "."], cwd=directory)
    release = directory / "Release"
    with tempfile.NamedTemporaryFile("w", dir=directory, delete=False) as handle:
        handle.write(text)
    Path(handle.name).replace(release)
    return release


def arch() -> str:
    return _run(["dpkg", "--print-architecture"]).strip()


def flat(directory: Path, key_dir: Path, fingerprint: str) -> None:
    write_packages(directory, ".", directory)
    for stale in ("Release", "InRelease", "Release.gpg"):
        (directory / stale).unlink(missing_ok=True)
    release = write_release(
        directory, {"Origin": "labctl test lab", "Label": "kubernetes (labctl test lab)",
                    "Architectures": arch()}
    )  # fmt: skip
    sign(key_dir, fingerprint, release)
    export_key(key_dir, fingerprint, directory / "Release.key")


def dists(directory: Path, suite: str, component: str, key_dir: Path, fingerprint: str) -> None:
    machine = arch()
    dist = directory / "dists" / suite
    write_packages(directory, f"pool/{component}", dist / component / f"binary-{machine}")
    for stale in ("Release", "InRelease", "Release.gpg"):
        (dist / stale).unlink(missing_ok=True)
    release = write_release(
        dist,
        {"Origin": "labctl test lab", "Label": "containerd.io (labctl test lab)",
         "Suite": suite, "Codename": suite, "Components": component, "Architectures": machine},
    )  # fmt: skip
    sign(key_dir, fingerprint, release)
    export_key(key_dir, fingerprint, directory / "gpg")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--key-dir", required=True, type=Path)
    parser.add_argument("--flat", type=Path, action="append", default=[])
    parser.add_argument("--dists", type=Path, action="append", default=[])
    parser.add_argument("--suite", default="bookworm")
    parser.add_argument("--component", default="stable")
    parser.add_argument("--fingerprint-file", type=Path)
    args = parser.parse_args(argv)
    try:
        for directory in [*args.flat, *args.dists]:
            if not directory.is_dir():
                raise BadInput(f"{directory}: not a directory")
        fingerprint = ensure_key(args.key_dir)
        for directory in args.flat:
            flat(directory, args.key_dir, fingerprint)
        for directory in args.dists:
            dists(directory, args.suite, args.component, args.key_dir, fingerprint)
        if args.fingerprint_file:
            args.fingerprint_file.write_text(fingerprint + "\n")
    except BadInput as problem:
        print(f"aptrepo: {problem}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
