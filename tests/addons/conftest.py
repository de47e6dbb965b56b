"""Fixtures for the add-on tests (tests/addons)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from addons_fixtures import ManifestServer, serve


@pytest.fixture
def manifest_server() -> Iterator[ManifestServer]:
    """A real HTTP server on 127.0.0.1 serving manifests the test puts there."""
    with serve() as server:
        yield server
