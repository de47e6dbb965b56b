"""The test lab's package and manifest mirror: the offline directory of ``e2e/build.sh`` served
over real HTTP to the stand-in Pis and to labctl on this machine.

The directory holds the two signed apt repositories (``apt/kubernetes``, pkgs.k8s.io's flat
layout; ``apt/docker``, Docker's ``linux/debian`` layout), the image bundles (``images/``) and
the pinned upstream manifests (``manifests/``, under their upstream paths). The server listens
on the gateway address of a Docker network the tests create for it (``labctl-mirror``): every
stand-in network reaches the host there, and nothing outside this machine can.
"""

from __future__ import annotations

import functools
import os
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "e2e" / "build.sh"
NETWORK = "labctl-mirror"
SUBNET = "10.77.250.0/24"
GATEWAY = "10.77.250.1"

#: Every registry a test cluster could pull from goes to this dead loopback endpoint.
DEAD_REGISTRY = "http://127.0.0.1:1"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return


def offline_dir() -> Path:
    """Where ``e2e/build.sh`` writes the offline directory (``e2e/build.sh dir``)."""
    out = subprocess.run([str(BUILD), "dir"], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def build_problem() -> str | None:
    """None when the offline directory is complete, else ``e2e/build.sh status``'s reason."""
    proc = subprocess.run([str(BUILD), "status"], capture_output=True, text=True, check=False)
    return None if proc.returncode == 0 else proc.stdout.strip() or proc.stderr.strip()


def build() -> None:
    """Build what the offline directory lacks (cached by version; cold: ~25 min)."""
    subprocess.run([str(BUILD), "all"], check=True, stdin=subprocess.DEVNULL)


@dataclass
class Mirror:
    """The offline directory served on the mirror network's gateway."""

    root: Path
    base_url: str = ""
    _server: ThreadingHTTPServer | None = field(default=None, repr=False)
    _network_created: bool = field(default=False, repr=False)

    @property
    def fingerprint(self) -> str:
        return (self.root / "apt" / "fingerprint").read_text(encoding="utf-8").strip()

    @property
    def images(self) -> list[Path]:
        return sorted((self.root / "images").glob("*.tar"))

    def start(self) -> Mirror:
        subprocess.run(["docker", "network", "rm", NETWORK], capture_output=True, check=False)
        subprocess.run(
            ["docker", "network", "create", "--subnet", SUBNET, "--label", "org.labctl.test=1",
             NETWORK],
            capture_output=True, check=True,
        )  # fmt: skip
        self._network_created = True
        handler = functools.partial(_QuietHandler, directory=str(self.root))
        self._server = ThreadingHTTPServer((GATEWAY, 0), handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.base_url = f"http://{GATEWAY}:{self._server.server_address[1]}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._network_created:
            subprocess.run(["docker", "network", "rm", NETWORK], capture_output=True, check=False)
            self._network_created = False

    def inventory_vars(self) -> dict[str, object]:
        """The test inventory's settings that point labctl's roles at this mirror: only base
        URLs and key fingerprints change, the roles' real tasks run (key download,
        fingerprint check, signed-by, apt install, hold)."""
        return {
            "k8s_packages_base_url": f"{self.base_url}/apt/kubernetes",
            "k8s_packages_key_fingerprint": self.fingerprint,
            "containerd_repo_base_url": f"{self.base_url}/apt/docker",
            "containerd_key_fingerprint": self.fingerprint,
            "lab_manifest_mirror": f"{self.base_url}/manifests",
            # every registry, known or not, goes to a dead loopback endpoint: nothing is pulled
            "containerd_registry_mirrors": {
                "_default": {"endpoints": [DEAD_REGISTRY], "replace_upstream": True}
            },
        }


def molecule_env(mirror: Mirror) -> dict[str, str]:
    """Environment for molecule.yml's ${LABCTL_TEST_MIRROR} and ${LABCTL_TEST_REPO_KEY}."""
    return {"LABCTL_TEST_MIRROR": mirror.base_url, "LABCTL_TEST_REPO_KEY": mirror.fingerprint}


def require_e2e() -> bool:
    return os.environ.get("LABCTL_REQUIRE_E2E") == "1"
