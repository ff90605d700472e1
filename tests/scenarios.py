"""The end-to-end scenarios of the notes, run against a running miniature Internet by real
clients, whichever way it was started: `minternet up` (tests/e2e/test_scenarios.py) or
`docker compose up` (tests/compose/test_compose.py). One module, so the two cannot diverge.

A `Deployment` says where a client on this machine reaches each host (always a loopback
address), on which port, and what the DNS answers for each host's name (the same loopback
address under `minternet up`, the container's address under compose).
"""

from __future__ import annotations

import hashlib
import random
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from minternet import launch, topology, zonegen
from minternet.topology import Topology

DOWNLOADER = "127.0.0.70"  # the host's peer: an address no host of the topology has


@dataclass(frozen=True)
class Deployment:
    topology: Topology  # as its DNS servers serve it (container addresses under compose)
    reach: dict[str, str]  # host name -> the loopback address a client here dials
    ports: dict[str, int]  # listener kind -> the port a client here dials
    ca: Path  # the miniature Internet's CA certificate
    torrent: Path  # the sample torrent, announcing to a tracker address reachable from here

    def at(self, name: str, kind: str) -> tuple[str, int]:
        return self.reach[name], self.ports[kind]


def need(program: str, package: str) -> str:
    path = shutil.which(program)
    assert path is not None, f"{program} is missing: apt-get install {package}"
    return path


def run(argv: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def eventually(probe: Callable[[], str | None], what: str, timeout: float = 60) -> str:
    """Call `probe` until it returns a value (a retry every half second), or fail with `what`."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.5)


# -- DNS: the local DNS server walks root -> TLD -> authoritative for a name of every zone -----


def dig(d: Deployment, name: str, rtype: str) -> list[str]:
    """`dig +short` through the local DNS server: the answer's rdata, one per line."""
    host, port = d.at("local-dns", "dns")
    done = run([need("dig", "bind9-dnsutils"), f"@{host}", "-p", str(port), "+short", "+tries=2",
                "+time=5", name, rtype])  # fmt: skip
    assert done.returncode == 0, f"dig {name} {rtype}: {done.stdout}{done.stderr}"
    return done.stdout.split("\n")[:-1]


def resolution_walk(d: Deployment) -> int:
    """Every zone's SOA names its primary, every host's name gives its address, and each
    address's PTR gives the name back, all through the local DNS server. Returns the count of
    questions answered."""
    asked = 0
    for zone in d.topology.zones():
        (soa,) = dig(d, zone, "SOA")
        assert soa.split()[0] == d.topology.zone_servers(zone)[0].fqdn, (zone, soa)
        asked += 1
    for h in d.topology.hosts:
        assert dig(d, h.fqdn, "A") == [h.address], h.fqdn
        assert dig(d, zonegen.reverse_owner(h.address), "PTR") == [h.fqdn], h.address
        asked += 2
    mail = d.topology.host("mail-hamburger")
    assert dig(d, "hamburger.edu", "MX") == [f"10 {mail.fqdn}"]
    return asked + 1


# -- Mail: Alice submits to her server, which finds Bob's MX through the DNS and relays -------


def _user(d: Deployment, address: str) -> topology.MailUser:
    return next(u for h in d.topology.mail_hosts() for u in h.users if u.address == address)


def _home(d: Deployment, address: str) -> str:
    domain = address.split("@")[1] + "."
    return next(h.name for h in d.topology.mail_hosts() if domain in h.mail_domains)


def submit(d: Deployment, sender: str, to: str, subject: str, body: str) -> None:
    """swaks submits as `sender` to their own server: STARTTLS checked against the CA, AUTH."""
    host, port = d.at(_home(d, sender), "submission")
    done = run([need("swaks", "swaks"), "--server", host, "--port", str(port), "--from", sender,
                "--to", to, "--tls", "--tls-verify", "--tls-ca-path", str(d.ca), "--auth", "PLAIN",
                "--auth-user", sender, "--auth-password", _user(d, sender).password,
                "--header", f"Subject: {subject}", "--header", f"From: {sender}", "--body", body,
                "--timeout", "30"])  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"<~\s+250 ", done.stdout), done.stdout


def _curl_imap(d: Deployment, owner: str, path: str, *extra: str) -> str:
    host, port = d.at(_home(d, owner), "imaps")
    done = run([need("curl", "curl"), "--silent", "--show-error", "--cacert", str(d.ca),
                "--user", f"{owner}:{_user(d, owner).password}",
                f"imaps://{host}:{port}/{path}", *extra])  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def read_over_imap(d: Deployment, owner: str, subject: str, timeout: float = 90) -> str:
    """curl finds the message with `subject` in `owner`'s INBOX over IMAPS (waiting while it is
    in the sender's queue) and returns it whole."""

    def search() -> str | None:
        reply = _curl_imap(d, owner, "INBOX", "-X", f'UID SEARCH SUBJECT "{subject}"')
        uids = reply.split("SEARCH")[-1].split() if "SEARCH" in reply else []
        return uids[-1] if uids else None

    uid = eventually(search, f"{subject!r} in {owner}'s INBOX", timeout)
    return _curl_imap(d, owner, f"INBOX;UID={uid}")


def mail_round_trip(d: Deployment) -> tuple[str, str]:
    """Alice -> Bob, then Bob's answer -> Alice, each relayed between the two servers; returns
    the two messages as read."""
    tag = uuid.uuid4().hex[:8]
    submit(d, "alice@crepes.fr", "bob@hamburger.edu", f"crepes {tag}", f"Bonjour Bob ({tag}).")
    to_bob = read_over_imap(d, "bob@hamburger.edu", f"crepes {tag}")
    assert f"Bonjour Bob ({tag})." in to_bob and "From: alice@crepes.fr" in to_bob
    bob, alice = d.topology.host("mail-hamburger"), d.topology.host("mail-crepes")
    # relayed: Bob's server took it from Alice's (her address on this deployment's network),
    # which found it through the MX record the local DNS server gave it
    assert f"from {alice.fqdn.rstrip('.')} ([{alice.address}])" in to_bob, to_bob
    assert f"by {bob.fqdn.rstrip('.')}" in to_bob, to_bob
    submit(d, "bob@hamburger.edu", "alice@crepes.fr", f"Re: crepes {tag}", f"Danke ({tag}).")
    to_alice = read_over_imap(d, "alice@crepes.fr", f"Re: crepes {tag}")
    assert f"Danke ({tag})." in to_alice
    assert f"from {bob.fqdn.rstrip('.')} ([{bob.address}])" in to_alice, to_alice
    return to_bob, to_alice


def imap_holds(d: Deployment, owner: str, subject: str) -> bool:
    return f"Subject: {subject}" in read_over_imap(d, owner, subject, timeout=30)


# -- BitTorrent: a peer here downloads the sample file from the seeder, through the tracker ----


def sample_digest() -> bytes:
    data = random.Random(launch.SAMPLE_SEED).randbytes(launch.SAMPLE_SIZE)
    return hashlib.sha256(data).digest()


def swarm_download(d: Deployment, folder: Path) -> str:
    """`peer download` of the sample torrent; returns its output. Checks the file's bytes."""
    port = d.ports["bittorrent"]
    done = run([sys.executable, "-m", "peer", "download", str(d.torrent), "-o", str(folder),
                "--listen", f"{DOWNLOADER}:{port}"], timeout=180)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    seeder = d.reach["seeder"]
    assert f"connected: peer={seeder}:{port}" in done.stdout, done.stdout
    got = (folder / launch.SAMPLE_NAME).read_bytes()
    assert len(got) == launch.SAMPLE_SIZE and hashlib.sha256(got).digest() == sample_digest()
    return done.stdout
