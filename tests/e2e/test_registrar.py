"""The notes' "inserting records into the DNS", end to end on a DNS-only topology of its own:
register a domain with its servers, resolve it, update it with TSIG, watch the secondary follow
and the resolver's cache hold the old answer, survive `down`/`up`, and unregister it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.update
import pytest

from dnsserver import tsigkeys

from .conftest import E2E_PORT_OFFSET, minternet

pytestmark = pytest.mark.e2e
OFFSET = E2E_PORT_OFFSET + 10300  # beside the session's topology and the foreground tests
DNS = 53 + OFFSET
ROLES = ("dns-root", "dns-tld", "dns-auth", "resolver")
NS1, NS2 = "127.0.0.80", "127.0.0.81"
RESOLVER, TLD = "127.0.0.2", "127.0.0.11"


def up(state: Path) -> None:
    run = minternet("up", "--detach", "--state-dir", str(state), "--port-offset", str(OFFSET),
                    "--only", *ROLES)  # fmt: skip
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    state = tmp_path_factory.mktemp("registrar") / "state"
    up(state)
    try:
        yield state
    finally:
        down = minternet("down", "--state-dir", str(state))
        assert down.returncode == 0, down.stderr
        for log in sorted((state / "logs").glob("*.log")):
            text = log.read_text(errors="replace")
            assert "Traceback" not in text, f"{log.name}:\n{text[-3000:]}"


def ask(server: str, name: str, rdtype: str = "A", *, rd: bool = False) -> dns.message.Message:
    q = dns.message.make_query(name, rdtype)
    if not rd:
        q.flags &= ~dns.flags.RD
    return dns.query.udp(q, server, port=DNS, timeout=3)


def addresses(answer: dns.message.Message) -> set[str]:
    return {rd.to_text() for rrset in answer.answer for rd in rrset if rrset.rdtype == 1}


def eventually(check, seconds: float = 10.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while True:
        got = check()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def status(state: Path) -> dict:
    run = minternet("status", "--json", "--state-dir", str(state))
    return json.loads(run.stdout)


def test_register_resolve_update_restart_unregister(state: Path) -> None:
    # nothing is known of the name yet (asked of the TLD, so no resolver caches an NXDOMAIN)
    assert ask(TLD, "www.example.com.").rcode() == dns.rcode.NXDOMAIN
    servers = ["--ns", f"ns1.example.com={NS1}", "--ns", f"ns2.example.com={NS2}"]
    run = minternet("register", "example.com", *servers, "--serve", "--state-dir", str(state))
    assert run.returncode == 0, run.stderr
    assert "registered example.com. in com.: a signed UPDATE to tld-com" in run.stdout
    assert f"glue: ns1.example.com. A {NS1}" in run.stdout
    assert "started example.com-ns2 (secondary)" in run.stdout

    referral = ask(TLD, "www.example.com.")  # the registrar's records, in the TLD
    ns = {rd.to_text() for rrset in referral.authority for rd in rrset}
    assert ns == {"ns1.example.com.", "ns2.example.com."}
    assert {rd.to_text() for rrset in referral.additional for rd in rrset} == {NS1, NS2}

    answer = ask(RESOLVER, "www.example.com.", rd=True)  # resolved through root, com., ns1/2
    assert addresses(answer) == {NS1} and answer.answer[0].ttl <= 300
    assert eventually(lambda: addresses(ask(NS2, "www.example.com.")) == {NS1})  # transferred

    # the user's nsupdate: the key minternet made for the domain
    key = tsigkeys.load([state / "keys" / "example.com.key"])["example.com."]
    update = dns.update.UpdateMessage("example.com.", keyring=tsigkeys.keyring([key]),
                                      keyname=key.name)  # fmt: skip
    update.replace("www", 300, "A", "192.0.2.80")
    assert dns.query.tcp(update, NS1, port=DNS, timeout=5).rcode() == dns.rcode.NOERROR
    assert addresses(ask(NS1, "www.example.com.")) == {"192.0.2.80"}
    # the secondary follows (NOTIFY, IXFR); the resolver holds the old answer until its TTL ends
    assert eventually(lambda: addresses(ask(NS2, "www.example.com.")) == {"192.0.2.80"})
    assert addresses(ask(RESOLVER, "www.example.com.", rd=True)) == {NS1}

    listed = status(state)
    assert listed["registered"] == [{"domain": "example.com.", "served": True,
                                     "servers": [["ns1.example.com.", NS1],
                                                 ["ns2.example.com.", NS2]]}]  # fmt: skip
    names = {s["name"]: s for s in listed["services"]}
    assert names["example.com-ns1"]["running"] and names["example.com-ns2"]["zones"] == [
        "example.com."
    ]

    again = minternet("register", "example.com", "--ns", f"ns1.example.com={NS1}",
                      "--state-dir", str(state))  # fmt: skip
    assert again.returncode == 1 and "is registered already" in again.stderr
    taken = minternet("register", "networkutopia.com", "--ns", "ns.x.net=192.0.2.1",
                      "--state-dir", str(state))  # fmt: skip
    assert taken.returncode == 1 and "exists in com. already" in taken.stderr

    # down and up with the same state directory: the domain, its servers and the update stay
    assert minternet("down", "--state-dir", str(state)).returncode == 0
    up(state)
    assert {rd.to_text() for rrset in ask(TLD, "www.example.com.").authority for rd in rrset} == ns
    assert addresses(ask(NS1, "www.example.com.")) == {"192.0.2.80"}

    gone = minternet("unregister", "example.com", "--state-dir", str(state))
    assert gone.returncode == 0, gone.stderr
    assert "stopped example.com-ns1" in gone.stdout
    assert ask(TLD, "www.example.com.").rcode() == dns.rcode.NXDOMAIN
    listed = status(state)
    assert listed["registered"] == []
    assert not {"example.com-ns1", "example.com-ns2"} & {s["name"] for s in listed["services"]}
