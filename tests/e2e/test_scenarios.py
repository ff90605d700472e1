"""The notes' scenarios on `minternet up`, by the module the compose test runs too
(tests/scenarios.py): the resolution walk for a name of every zone, Alice -> Bob and back
relayed between the two mail servers, and a swarm download from the seeder."""

from __future__ import annotations

from pathlib import Path

import pytest

from minternet import topology
from tests import scenarios

from .conftest import E2E_PORT_OFFSET

pytestmark = pytest.mark.e2e


@pytest.fixture
def deployment(topology_up) -> scenarios.Deployment:
    state = Path(topology_up.state_dir)
    return scenarios.Deployment(
        topology=topology.DEFAULT,
        reach={h.name: h.address for h in topology.DEFAULT.hosts},
        ports=topology.port_scheme(offset=E2E_PORT_OFFSET),
        ca=state / "tls" / "ca.pem",
        torrent=state / "torrents" / "sample.torrent",
    )


def test_dig_walks_to_a_name_of_every_zone(deployment) -> None:
    assert scenarios.resolution_walk(deployment) == 17 + 2 * 18 + 1  # zones, hosts both ways, MX
    assert scenarios.dig(deployment, "mail.hamburger.edu", "A") == ["127.0.0.41"]


def test_alice_and_bob_mail_each_other_through_their_servers(deployment) -> None:
    to_bob, _ = scenarios.mail_round_trip(deployment)
    assert "from mail.crepes.fr ([127.0.0.40])" in to_bob, to_bob  # the loopback addresses


def test_a_peer_downloads_the_sample_from_the_seeder(deployment, tmp_path) -> None:
    out = scenarios.swarm_download(deployment, tmp_path / "downloads")
    assert f"tracker=http://127.0.0.50:{6969 + E2E_PORT_OFFSET}/announce" in out
