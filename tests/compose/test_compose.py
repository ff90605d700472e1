"""`docker compose up`: the whole miniature Internet in containers, from the repository's own
Dockerfile and docker-compose.yml, used from this machine through the ports published on its
loopback by the same scenarios as `minternet up` (tests/scenarios.py).

Run by `make test-compose` (`.ci/run` runs it as root): tools/compose-env brings the engine,
Compose v2 and a base image built with debootstrap, and exports BASE_IMAGE.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import bencodepy
import pytest

from minternet import compose, topology
from peer.metainfo import from_bytes
from tests import readme, scenarios

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 900  # a first build downloads every dependency into the image
LABEL = "org.opencontainers.image.title=minternet"  # the Dockerfile's, on both stages
# the first test also builds and starts the stack (the module's fixture), the last stops it
pytestmark = pytest.mark.timeout(2 * TIMEOUT + 600)


def docker(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["docker", "compose", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, check=False)  # fmt: skip
    assert done.returncode == 0, f"docker compose {' '.join(args)}:\n{done.stdout}{done.stderr}"
    return done


def down(*args: str) -> None:
    """`docker compose down`: every container removed. Docker 20.10 (Debian's docker.io) now and
    then keeps a stale endpoint on a network whose containers are all gone, and refuses to remove
    the network ("has active endpoints") until dockerd restarts; `up` reuses that network, so
    only that error is let through, with a warning."""
    done = subprocess.run(["docker", "compose", "down", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=False)  # fmt: skip
    errors = [line for line in done.stderr.splitlines() if "rror" in line]
    stale = bool(errors) and all("has active endpoints" in e for e in errors)
    assert done.returncode == 0 or stale, f"docker compose down {' '.join(args)}:\n{done.stderr}"
    if stale:
        print(f"warning: docker compose down: {errors[-1].strip()}", file=sys.stderr)
    left = docker("ps", "--all", "--quiet").stdout.split()
    assert not left, f"docker compose down left containers: {left}"


def mailserver(host: str, *args: str) -> str:
    config = str(compose.STATE_DIR / host / "mail.toml")
    return docker("exec", "-T", host, "mailserver", "queue", "--config", config, *args).stdout


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[scenarios.Deployment]:
    out = tmp_path_factory.mktemp("compose")
    subprocess.run(
        ["docker", "compose", "down", "-v", "--remove-orphans"],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
        check=False,
    )  # a run cut short before
    try:
        docker("build", timeout=TIMEOUT)
        # the images of earlier builds, left untagged by this one (about 0.5 GB each): only
        # ours, by the Dockerfile's label
        subprocess.run(["docker", "image", "prune", "--force", "--filter", f"label={LABEL}"],
                       capture_output=True, timeout=300, check=True)  # fmt: skip
        docker("up", "-d", "--wait", timeout=TIMEOUT)
        docker("cp", f"{compose.SETUP}:{compose.STATE_DIR}/tls/ca.pem", str(out / "ca.pem"))
        torrent = f"{compose.STATE_DIR}/torrents/sample.torrent"
        docker("cp", f"seeder:{torrent}", str(out / "sample.torrent"))
        yield scenarios.Deployment(
            topology=compose.compose_topology(),
            reach={h.name: h.address for h in topology.DEFAULT.hosts},
            ports=topology.port_scheme(standard=True),
            ca=out / "ca.pem",
            torrent=out / "sample.torrent",
        )
        logs = docker("logs", "--no-color").stdout
        assert "Traceback" not in logs, logs[-5000:]
    finally:
        subprocess.run(["docker", "compose", "down", "-v"], cwd=ROOT, capture_output=True,
                       timeout=300, check=False)  # fmt: skip


def test_every_host_runs_healthy_in_its_container_at_its_address(stack) -> None:
    lines = docker("ps", "--format", "json").stdout.splitlines()
    running = {c["Service"]: c for c in map(json.loads, lines)}
    assert set(running) == {h.name for h in topology.DEFAULT.hosts}  # setup has exited
    for h in stack.topology.hosts:
        assert running[h.name]["Health"] == "healthy", running[h.name]
        inspect = subprocess.run(["docker", "inspect", running[h.name]["ID"]], capture_output=True,
                                 text=True, timeout=60, check=True)  # fmt: skip
        (info,) = json.loads(inspect.stdout)
        networks = info["NetworkSettings"]["Networks"]
        assert networks[f"{compose.PROJECT}_{compose.NETWORK_NAME}"]["IPAddress"] == h.address
        assert info["Config"]["User"] == "minternet"  # no daemon runs as root
        assert info["HostConfig"]["Dns"] == [compose.container_address("127.0.0.2")]


def test_dig_walks_to_a_name_of_every_zone_through_the_local_dns_server(stack) -> None:
    # one more zone than on loopback: the containers' network's reverse zone
    assert scenarios.resolution_walk(stack) == 18 + 2 * 18 + 1  # zones, hosts both ways, MX
    assert scenarios.dig(stack, "mail.hamburger.edu", "A") == ["10.53.0.41"]  # not 127.0.0.41


def test_alice_and_bob_mail_each_other_through_their_servers(stack) -> None:
    _, to_alice = scenarios.mail_round_trip(stack)
    assert "from mail.hamburger.edu ([10.53.0.41])" in to_alice, to_alice  # the containers'


def test_a_peer_here_downloads_the_sample_from_the_seeding_container(stack, tmp_path) -> None:
    out = scenarios.swarm_download(stack, tmp_path / "downloads")
    assert "tracker=http://127.0.0.50:6969/announce" in out


def test_mail_waits_in_the_queue_while_bobs_server_is_down_and_survives_restarts(stack) -> None:
    tag = uuid.uuid4().hex[:8]
    docker("stop", "mail-hamburger")
    try:
        scenarios.submit(stack, "alice@crepes.fr", "bob@hamburger.edu", f"queued {tag}", "Hi.")

        # Alice's server tried Bob's, found nothing there, and keeps the message for later
        def deferred() -> str | None:
            listed = mailserver("mail-crepes", "list")
            return listed if "attempt 1" in listed else None

        listed = scenarios.eventually(deferred, "a deferred attempt in Alice's queue")
        assert "<alice@crepes.fr> -> <bob@hamburger.edu>" in listed
        assert "mail.hamburger.edu[10.53.0.41]" in listed, listed
    finally:
        docker("start", "mail-hamburger")
        docker("up", "-d", "--wait", timeout=TIMEOUT)
    # the next try would be minutes away (Postfix's schedule): ask for it now, as an operator
    assert mailserver("mail-crepes", "retry").strip() == "1 message(s) will be tried now"
    assert scenarios.imap_holds(stack, "bob@hamburger.edu", f"queued {tag}")
    scenarios.eventually(
        lambda: "" if "the queue is empty" in mailserver("mail-crepes", "list") else None,
        "Alice's queue emptied once Bob's server took the message",
    )
    docker("restart", "mail-hamburger")
    docker("up", "-d", "--wait", timeout=TIMEOUT)
    assert scenarios.imap_holds(stack, "bob@hamburger.edu", f"queued {tag}")
    down()  # keeps the named volumes
    docker("up", "-d", "--wait", timeout=TIMEOUT)
    assert scenarios.imap_holds(stack, "bob@hamburger.edu", f"queued {tag}")


def test_the_readmes_container_commands_work_as_typed(stack, tmp_path) -> None:
    """The README's block "from this machine", pasted into a shell in an empty folder."""
    block = readme.code_blocks(compose=True)[1]
    lines = readme.commands(block)
    assert [line.split()[0] for line in lines] == [
        "docker", "docker", "dig", "dig", "swaks", "curl", ".venv/bin/peer",
    ]  # fmt: skip
    env = {**os.environ, "COMPOSE_FILE": str(ROOT / compose.FILENAME)}
    for line in lines:
        command = line.replace(".venv/bin/", f"{Path(sys.executable).parent}/")
        if command.startswith("curl"):  # the relay takes a moment: until Bob's INBOX has it
            out = scenarios.eventually(lambda c=command: _found(c, tmp_path, env), command)
        else:
            done = subprocess.run(command, shell=True, cwd=tmp_path, env=env, text=True,
                                  capture_output=True, timeout=180, check=False)  # fmt: skip
            assert done.returncode == 0, f"{command}:\n{done.stdout}{done.stderr}"
            out = done.stdout
        if command.startswith("dig"):
            assert "status: NOERROR" in out and "ANSWER: 1" in out, out
        if "mail.hamburger.edu" in command:
            assert re.search(r"^mail\.hamburger\.edu\.\s+\d+\s+IN\s+A\s+10\.53\.0\.41$", out, re.M)
    assert (tmp_path / "ca.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")
    got = (tmp_path / "downloads" / "sample.bin").read_bytes()
    assert hashlib.sha256(got).digest() == scenarios.sample_digest()


def _found(command: str, folder: Path, env: dict[str, str]) -> str | None:
    done = subprocess.run(command, shell=True, cwd=folder, env=env, text=True,
                          capture_output=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, f"{command}:\n{done.stdout}{done.stderr}"
    return done.stdout if re.match(r"\* SEARCH \d", done.stdout) else None


def test_only_the_seeder_may_name_its_address_to_the_tracker(stack) -> None:
    """A client here that claims another address (ip=, X-Forwarded-For) is listed at the one the
    tracker sees; the seeder at the published address it announced."""
    meta = from_bytes(stack.torrent.read_bytes())
    host, port = stack.at("tracker", "http")

    def announce(peer_id: str, **headers: str) -> dict[bytes, object]:
        query = urlencode({"info_hash": meta.info_hash, "peer_id": peer_id, "port": 7000,
                           "uploaded": 0, "downloaded": 0, "left": 1, "compact": 0,
                           "ip": "6.6.6.6"})  # fmt: skip
        request = urllib.request.Request(f"http://{host}:{port}/announce?{query}", headers=headers)
        with urllib.request.urlopen(request, timeout=10) as reply:
            return bencodepy.decode(reply.read())

    announce("-XX0001-hostile-0001", **{"X-Forwarded-For": "7.7.7.7"})
    peers = announce("-XX0001-hostile-0002")[b"peers"]
    seen = {(p[b"ip"].decode(), p[b"port"]) for p in peers}  # type: ignore[index]
    gateway = str(compose.NETWORK.network_address + 1)  # where published ports' traffic comes from
    assert {(gateway, 7000), ("127.0.0.60", 6881)} <= seen, seen
    assert not {ip for ip, _ in seen} & {"6.6.6.6", "7.7.7.7"}, seen
