"""Fixtures for the unit tests: an in-process cluster with no Docker."""

from __future__ import annotations

import pytest

from kubedeck.engine.cluster import Cluster, Settings


@pytest.fixture
def cluster(tmp_path):
    """A Cluster on a fresh store in tmp_path, with its base objects (namespaces, nodes)
    and no Docker: controllers can be driven by hand."""
    c = Cluster(Settings(state=tmp_path, docker=False))
    c._ensure_base_objects()
    yield c
    c.store.close()
