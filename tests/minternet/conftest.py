"""Fixtures of the supervisor tests."""

from __future__ import annotations

import pytest

from minternet import supervisor, topology
from minternet.launch import LaunchContext


@pytest.fixture
def ctx(tmp_path):
    """A launch context in a fresh state directory; whatever it started is stopped after."""
    c = LaunchContext(topology.DEFAULT, tmp_path / "state", topology.port_scheme(False))
    yield c
    supervisor.down(c.state_dir)
