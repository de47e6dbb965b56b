"""Shared pytest fixtures: the stand-in Raspberry Pis (see tests/standins.py).

- ``standins`` (session): the four stand-ins of CONTRIBUTING.md on network ``labctl-test``
  (10.77.1.0/24). Tests may configure them; later tests see that state.
- ``fresh_standins`` (factory, function scope): ``fresh_standins("raspi001", ...)`` gives
  unconfigured stand-ins on a network of their own, removed when the test ends.

Both give a ``StandinLab``: ``inventory_path``, ``known_hosts_path``, ``private_key_path``,
``env()`` (XDG dirs + LABCTL_INVENTORY for running labctl), ``ansible_env()``,
``exec(host, *cmd)``, ``ssh(host, command)``, ``stop(host)``, ``start(host)``,
``regenerate_host_key(host)``, ``refresh_known_hosts()``.

Without Docker or the image the tests using them are skipped with the reason, unless
``LABCTL_REQUIRE_DOCKER=1`` (CI), where they fail instead. Tests using them are marked
``docker`` automatically.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import mirror as mirror_mod
import pytest
from standins import HOSTS, StandinLab, docker_problem, fresh_lab, session_lab, session_lock

STANDIN_FIXTURES = {"standins", "fresh_standins"}


E2E_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if STANDIN_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.docker)
    # The real lab (tests/e2e) runs last, in its own file order: its control plane keeps
    # running until the session ends, and stand-ins booted beside it on two cores missed
    # their boot deadlines (seen in CI).
    items.sort(key=lambda item: str(item.path).startswith(E2E_DIR + os.sep))


@pytest.fixture(scope="session")
def docker_available() -> None:
    """Skip (or, with LABCTL_REQUIRE_DOCKER=1, fail) when the stand-ins cannot run here."""
    problem = docker_problem()
    if problem is None:
        return
    if os.environ.get("LABCTL_REQUIRE_DOCKER") == "1":
        pytest.fail(f"LABCTL_REQUIRE_DOCKER=1 but {problem}", pytrace=False)
    pytest.skip(f"stand-in Pis unavailable: {problem}")


@pytest.fixture(scope="session")
def mirror(docker_available: None) -> Iterator[mirror_mod.Mirror]:
    """The test lab's signed apt repositories, image bundles and manifests (e2e/build.sh's
    offline directory, built here when it is missing: cached by version), served over HTTP on
    the gateway of the labctl-mirror network. Every run of labctl's prepare step needs it."""
    problem = mirror_mod.build_problem()
    if problem is not None:
        if os.geteuid() != 0:
            pytest.skip(
                f"e2e NOT RUN: the offline directory is incomplete and building it needs root ({problem})"
            )
        mirror_mod.build()
    served = mirror_mod.Mirror(mirror_mod.offline_dir()).start()
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture(scope="session")
def standin_lock() -> Iterator[None]:
    """Held for the rest of the session by whatever uses fixed container names (the session
    lab, molecule), so concurrent pytest sessions on one Docker engine wait for each other."""
    with session_lock():
        yield


@pytest.fixture(scope="session")
def standins(
    docker_available: None,
    standin_lock: None,
    mirror: mirror_mod.Mirror,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[StandinLab]:
    """The session's four stand-in Pis (raspi001..003, nfspi), booted and trusted."""
    lab = session_lab(tmp_path_factory.mktemp("standins"), mirror.inventory_vars())
    lab.up()
    try:
        yield lab
    finally:
        lab.down()


@pytest.fixture
def fresh_standins(
    docker_available: None, mirror: mirror_mod.Mirror, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., StandinLab]]:
    """Factory of unconfigured stand-ins: ``fresh_standins("raspi001")`` (default: all four)."""
    labs: list[StandinLab] = []

    def make(*hosts: str) -> StandinLab:
        lab = fresh_lab(
            tmp_path_factory.mktemp("fresh"), hosts or tuple(HOSTS), mirror.inventory_vars()
        )
        labs.append(lab)
        return lab.up()

    try:
        yield make
    finally:
        for lab in labs:
            lab.down()
