"""`dnsserver flood`: the names and queries it sends, its pacing and tally, its refusals, and a
short real run against a server on loopback."""

from __future__ import annotations

import random
import socket
import subprocess
import sys
import threading

import dns.message
import dns.rcode
import pytest

from dnsserver.flood import (
    LABEL_LENGTH,
    FloodError,
    Queries,
    Tally,
    due,
    loopback_only,
    zone_wire,
)
from dnsserver.flood_cli import send_flood, spread


def test_every_query_asks_for_a_fresh_name_under_the_zone() -> None:
    q = Queries("Hamburger.EDU.", random.Random(7))
    seen = set()
    for _ in range(500):
        qid, wire = q.query()
        msg = dns.message.from_wire(wire)
        assert msg.id == qid and msg.flags == 0x0100  # a query, RD, nothing else
        assert len(msg.question) == 1 and not msg.additional
        name = msg.question[0].name.to_text()
        label, _, zone = name.partition(".")
        assert zone == "Hamburger.EDU." and len(label) == LABEL_LENGTH
        assert label.isalnum() and label == label.lower()
        assert msg.question[0].to_text().endswith(" IN A")
        seen.add(name)
    assert len(seen) == 500


def test_zone_names_in_wire_form_and_refused_ones() -> None:
    assert zone_wire("hamburger.edu") == b"\x09hamburger\x03edu\x00"
    assert zone_wire("hamburger.edu.") == zone_wire("hamburger.edu")
    assert zone_wire(".") == b"\x00"
    assert zone_wire(" shop.BOX ") == b"\x04shop\x03BOX\x00"  # the case is kept, X too
    assert zone_wire("a" * 63 + ".test") == b"\x3f" + b"a" * 63 + b"\x04test\x00"
    with pytest.raises(
        FloodError, match=r"^bad zone name 'bücher\.de': give an IDN as its A-label$"
    ):
        zone_wire("bücher.de")
    assert zone_wire("xn--bcher-kva.de") == b"\x0dxn--bcher-kva\x02de\x00"
    with pytest.raises(FloodError, match=r"^bad zone name 'a\.\.b'$"):
        zone_wire("a..b")
    with pytest.raises(FloodError, match="bad zone name"):
        zone_wire("x" * 64 + ".test")
    # a name under it: 1 + 12 octets of label, the zone's labels, the root's 0: at most 255
    widest = ".".join(["a" * 60] * 3 + ["b" * 57])  # 241 octets of labels: a name of 255
    assert len(zone_wire(widest)) == 242
    assert len(Queries(widest, random.Random(1)).name()) == 255
    with pytest.raises(FloodError, match=r"^zone name '.*' is too long for a name under it$"):
        zone_wire(widest + "b")


def test_pacing_sends_what_is_due_by_now() -> None:
    assert [due(t, 1000) for t in (0.0, 0.0005, 0.001, 0.5, 2.0)] == [0, 0, 1, 500, 2000]
    assert due(-1.0, 1000) == 0 and due(1.5, 0) == 0


def test_the_tally_counts_answers_by_code_and_ignores_strangers() -> None:
    t = Tally()
    for qid in (1, 2, 3, 3):
        t.sending(qid)
    t.received(bytes((0, 1, 0x81, 0x83)) + bytes(8))  # NXDOMAIN
    t.received(bytes((0, 3, 0x83, 0x82)) + bytes(8))  # SERVFAIL, TC=1
    t.received(bytes((0, 3, 0x81, 0x80)) + bytes(8))  # the second query with ID 3
    t.received(bytes((0, 3, 0x81, 0x80)) + bytes(8))  # a third answer to ID 3: a stranger
    t.received(bytes((0, 9, 0x81, 0x80)) + bytes(8))  # an ID never sent
    t.received(bytes((0, 2, 0x01, 0x00)) + bytes(8))  # a query, not an answer
    t.received(b"\x00\x02")  # too short
    t.received(bytes((0, 2, 0x81, 0x8B)) + bytes(8))  # an rcode without a name here
    assert (t.sent, t.answered, t.truncated, t.unmatched) == (4, 4, 1, 4)
    assert t.rcodes == {"NXDOMAIN": 1, "SERVFAIL": 1, "NOERROR": 1, "RCODE11": 1}
    u = Tally()
    u.sending(5)
    u.sending(6)
    u.received(bytes((0, 5, 0x83, 0x86)) + bytes(8))  # the first rcode past REFUSED, TC=1
    u.received(bytes((0, 6, 0x83, 0x85)) + bytes(8))  # REFUSED, the last named, TC=1
    assert u.truncated == 2 and u.rcodes == {"RCODE6": 1, "REFUSED": 1}
    assert u.summary(0.5).splitlines()[0] == "sent 2 queries in 0.5 s (4/s)"
    text = t.summary(2.0)
    assert text.splitlines() == [
        "sent 4 queries in 2.0 s (2/s)",
        "answered 4 (100.0%): NOERROR 1, NXDOMAIN 1, RCODE11 1, SERVFAIL 1",
        "truncated (TC=1) 1",
        "no answer 0",
        "unmatched datagrams 4",
    ]
    many = Tally()
    for _ in range(300):  # one ID sent 300 times: counted up to 255 answers, never overflowing
        many.sending(7)
    assert many.sent == 300 and many.outstanding[7] == 255
    assert Tally().summary(0.0).splitlines() == [
        "sent 0 queries in 0.0 s (0/s)",
        "answered 0 (0.0%): none",
        "no answer 0",
    ]


@pytest.mark.parametrize(
    ("addr", "message"),
    [
        (
            "8.8.8.8",
            r"^server 8\.8\.8\.8 is outside 127\.0\.0\.0/8: a flood goes to loopback only$",
        ),
        ("128.0.0.1", "outside 127.0.0.0/8"),
        ("::1", "outside 127.0.0.0/8"),
        ("localhost", r"^server 'localhost' is not an IP address$"),
    ],
)
def test_only_loopback_is_ever_flooded(addr: str, message: str) -> None:
    with pytest.raises(FloodError, match=message):
        loopback_only(addr, "server")
    assert loopback_only("127.255.0.9", "server") == "127.255.0.9"


BASE = ["--server", "127.0.0.1:53", "--zone", "x"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--server", "192.0.2.1:53", "--zone", "x"], "192.0.2.1 is outside 127.0.0.0/8"),
        (["--server", "127.0.0.1:53", "--zone", "x", "--source", "10.0.0.1"], "source 10.0.0.1"),
        (["--server", "127.0.0.1:53", "--zone", "x", "--qps", "-1"], "--qps -1: from 0 to"),
        (["--server", "127.0.0.1:53", "--zone", "x", "--seconds", "0"], "--seconds 0: more than"),
        (["--server", "127.0.0.1:53", "--zone", "x", "--seconds", "601"], "at most 600"),
        (["--server", "127.0.0.1:53", "--zone", "a..b"], "bad zone name"),
        (["--server", "127.0.0.1:53", "--zone", "x", "--sources", "2"], "--sources needs --source"),
        (
            ["--server", "127.0.0.1:53", "--zone", "x", "--source", "127.0.0.9", "--sources", "0"],
            "--sources 0: from 1 to 256",
        ),
        (
            [*BASE, "--source", "127.255.255.255", "--sources", "2"],
            "source 128.0.0.0 is outside 127.0.0.0/8",
        ),
    ],
)
def test_the_command_refuses_what_it_may_not_send(args: list[str], message: str) -> None:
    p = subprocess.run(
        [sys.executable, "-m", "dnsserver", "flood", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert p.returncode == 2 and message in p.stderr and "Traceback" not in p.stderr
    assert p.stdout == ""


def test_a_short_flood_reaches_a_server_and_counts_its_answers() -> None:
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(0.2)
    seen: list[bytes] = []
    senders: set[str] = set()
    stop = threading.Event()

    def answer() -> None:  # NXDOMAIN to every other query, nothing to the rest
        while not stop.is_set():
            try:
                data, addr = server.recvfrom(512)
            except TimeoutError:
                continue
            seen.append(data)
            senders.add(addr[0])
            if len(seen) % 2:
                reply = dns.message.make_response(dns.message.from_wire(data))
                reply.set_rcode(dns.rcode.NXDOMAIN)
                server.sendto(reply.to_wire(), addr)

    t = threading.Thread(target=answer, daemon=True)
    t.start()
    try:
        shown: list[int] = []
        tally, took = send_flood(
            server.getsockname(),
            "hamburger.edu",
            400,
            1.2,
            sources=("127.0.0.77", "127.0.0.78"),
            progress=lambda s, _t: shown.append(s),
        )
    finally:
        stop.set()
        t.join()
        server.close()
    assert 400 <= tally.sent <= 480 and took >= 1.2
    assert len(seen) == tally.sent
    assert tally.answered == (tally.sent + 1) // 2 == tally.rcodes["NXDOMAIN"]
    assert shown == [1] and senders == {"127.0.0.77", "127.0.0.78"}
    names = {dns.message.from_wire(d).question[0].name.to_text() for d in seen}
    assert len(names) == len(seen) and all(n.endswith(".hamburger.edu.") for n in names)


def test_a_spread_flood_comes_from_consecutive_addresses() -> None:
    assert spread("127.0.0.254", 3) == ["127.0.0.254", "127.0.0.255", "127.0.1.0"]
    assert spread("127.0.0.9", 1) == ["127.0.0.9"]
    with pytest.raises(FloodError, match=r"^source 'x' is not an IPv4 address$"):
        spread("x", 2)
