"""Queries signed with TSIG at a server that holds the key (dnsserver/signed.py), in the core and
from the real `dig -y` over UDP and TCP."""

from __future__ import annotations

import asyncio
import base64
import shutil
import struct
import time
from pathlib import Path

import dns.message
import dns.name
import dns.rcode
import dns.tsig
import pytest

from dnsserver import signed, tsigkeys
from dnsserver.aio.server import DnsServer
from dnsserver.config import AuthConfig
from dnsserver.dynamic import BADKEY, BADSIG

KEY = tsigkeys.generate("query-key", bytes(range(32)))
OTHER = tsigkeys.generate("other-key", bytes(range(1, 33)))
RING = tsigkeys.keyring([KEY])


def query(name: str = "www.live.test.", *, key: tsigkeys.TsigKey | None = KEY, edns: bool = False):
    q = dns.message.make_query(name, "A", use_edns=0 if edns else None)
    if key is not None:
        q.use_tsig(tsigkeys.keyring([key]), keyname=key.name)
    return q


def sign_answer(wire: bytes, *args, **kwargs) -> signed.Reply:  # type: ignore[no-untyped-def]
    start = signed.tsig_start(wire)
    assert start is not None
    return signed.answer(wire, start, RING, *args, **kwargs)


def answer_of(q: dns.message.Message) -> bytes:
    """What the engine would send for the unsigned query: an answer with one A record."""
    r = dns.message.make_response(dns.message.from_wire(q.to_wire(), keyring=False))
    r.find_rrset(r.answer, q.question[0].name, 1, 1, create=True).add(
        dns.rdata.from_text(1, 1, "192.0.2.1"), 60
    )
    r.keyring = None
    r.tsig = None
    return r.to_wire()


def test_tsig_start_finds_the_last_record_only_when_it_is_tsig() -> None:
    plain = query(key=None).to_wire()
    assert signed.tsig_start(plain) is None
    assert signed.tsig_start(query(key=None, edns=True).to_wire()) is None  # OPT only
    for q in (query(), query(edns=True)):
        wire = q.to_wire()
        start = signed.tsig_start(wire)
        assert start is not None and wire[start:].startswith(b"\x09query-key\x00\x00\xfa\x00\xff")
        bare = signed.unsigned(wire, start)
        assert struct.unpack("!H", bare[10:12]) == (int(q.edns >= 0),)
        assert dns.message.from_wire(bare).tsig is None
    assert signed.tsig_start(b"\x00" * 11) is None and signed.tsig_start(plain[:12]) is None
    assert signed.tsig_start(plain[:10] + b"\x00\x01" + plain[12:]) is None  # counted, missing


def test_tsig_start_skips_the_records_of_every_section() -> None:
    import dns.update

    u = dns.update.UpdateMessage("live.test")
    u.present("www")  # one record in the second section (prerequisites)
    u.add("a", 60, "A", "192.0.2.1")
    u.add("b", 60, "A", "192.0.2.2")  # two in the third (updates)
    u.use_tsig(RING, keyname=KEY.name)
    wire = u.to_wire()
    start = signed.tsig_start(wire)
    assert start is not None and wire[start:].startswith(b"\x09query-key\x00\x00\xfa")
    assert dns.message.from_wire(signed.unsigned(wire, start)).tsig is None


def test_unsigned_counts_one_additional_record_less() -> None:
    head = struct.pack("!HHHHHH", 7, 0, 0, 0, 0, 0x0100)  # 256 additional records
    assert signed.unsigned(head + b"body" + b"tsig", 16) == head[:10] + b"\x00\xff" + b"body"


def test_a_signed_query_gets_the_answer_signed_with_its_key() -> None:
    q = query()
    asked: list[bytes] = []

    def respond(bare: bytes) -> bytes:
        asked.append(bare)
        return answer_of(q)

    got = sign_answer(q.to_wire(), respond, lambda _: 512, lambda _: None)
    assert got.why == "" and got.key == "query-key." and got.wire is not None
    assert dns.message.from_wire(asked[0]).tsig is None  # the engine saw it unsigned
    r = dns.message.from_wire(got.wire, keyring=RING, request_mac=q.mac)  # verifies the MAC
    assert r.had_tsig and r.rcode() == dns.rcode.NOERROR and r.answer[0][0].to_text() == "192.0.2.1"


def test_a_signed_answer_too_long_for_udp_is_truncated_then_signed() -> None:
    q = query()
    tc = dns.message.make_response(dns.message.from_wire(q.to_wire(), keyring=False))
    tc.flags |= dns.flags.TC
    tc.tsig = None
    bare = signed.unsigned(q.to_wire(), signed.tsig_start(q.to_wire()) or 0)
    truncated: list[bytes] = []

    def truncate(query: bytes) -> bytes:
        truncated.append(query)
        return tc.to_wire()

    got = sign_answer(q.to_wire(), lambda _: answer_of(q), lambda _: 60, truncate)
    assert got.wire is not None and truncated == [bare]  # the query it truncates, unsigned
    r = dns.message.from_wire(got.wire, keyring=RING, request_mac=q.mac)
    assert r.flags & dns.flags.TC and r.answer == [] and r.had_tsig
    nothing = sign_answer(q.to_wire(), lambda _: answer_of(q), lambda _: 60, lambda _: None)
    assert nothing.wire is None and nothing.why == "cannot truncate the answer"
    assert nothing.key == "query-key."  # (for the log line)
    silent = sign_answer(q.to_wire(), lambda _: None, lambda _: 512, lambda _: None)
    assert silent.wire is None and silent.why == "nothing to answer" and silent.key == "query-key."


def test_a_signed_answer_that_just_fits_is_not_truncated() -> None:
    q = query()
    now = int(time.time())
    whole = sign_answer(
        q.to_wire(), lambda _: answer_of(q), lambda _: None, lambda _: None, lambda: now
    )
    assert whole.wire is not None
    size = len(whole.wire)

    def truncate(_: bytes) -> bytes:
        raise AssertionError("an answer that fits is not truncated")

    fits = sign_answer(q.to_wire(), lambda _: answer_of(q), lambda _: size, truncate, lambda: now)
    assert fits.wire == whole.wire


@pytest.mark.parametrize("error", [BADKEY, BADSIG])
def test_an_unknown_key_or_a_bad_mac_is_notauth_and_never_answered(error: int) -> None:
    wire = bytearray(query(key=OTHER if error == BADKEY else KEY).to_wire())
    if error == BADSIG:
        wire[-20] ^= 1  # a bit of the MAC

    def respond(_: bytes) -> bytes:
        raise AssertionError("a query that fails its TSIG check is not answered")

    got = sign_answer(bytes(wire), respond, lambda _: 512, lambda _: None)
    assert got.wire is not None
    r = dns.message.from_wire(got.wire, keyring=False)
    assert r.rcode() == dns.rcode.NOTAUTH and r.tsig is not None and r.tsig[0].error == error


def test_the_answer_is_signed_at_now() -> None:
    q = query()
    now = int(time.time()) - 100
    got = sign_answer(
        q.to_wire(), lambda _: answer_of(q), lambda _: None, lambda _: None, lambda: now
    )
    assert got.wire is not None
    r = dns.message.from_wire(got.wire, keyring=RING, request_mac=q.mac)
    assert r.tsig is not None and r.tsig[0].time_signed == now


ZONE = """$ORIGIN live.test.
$TTL 60
@ SOA ns1 hostmaster 1 7200 3600 1209600 30
@ NS ns1
ns1 A 127.0.0.1
www A 192.0.2.1
big TXT "{}"
""".format("x" * 200)


@pytest.mark.skipif(shutil.which("dig") is None, reason="dig is not installed")
@pytest.mark.parametrize("tcp", [False, True])
async def test_dig_y_gets_a_signed_answer_it_verifies(tmp_path: Path, tcp: bool) -> None:
    (tmp_path / "live.zone").write_text(ZONE)
    (tmp_path / "q.key").write_text(KEY.text())
    server = DnsServer(
        AuthConfig(
            zones=(str(tmp_path / "live.zone"),),
            listen=("127.0.0.1:0",),
            keys=(str(tmp_path / "q.key"),),
        ),
        name="signed",
    )
    await server.start()
    try:
        secret = base64.b64encode(bytes(range(32))).decode()
        proc = await asyncio.create_subprocess_exec(
            "dig", "@127.0.0.1", "-p", str(server.addresses[0][1]),
            "-y", f"hmac-sha256:query-key:{secret}", *(["+tcp"] if tcp else []),
            "www.live.test", "A",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 20)
        text = out.decode()
        assert proc.returncode == 0, err.decode()
        assert "status: NOERROR" in text and "192.0.2.1" in text
        assert "TSIG PSEUDOSECTION" in text and "NOERROR" in text.split("TSIG PSEUDOSECTION")[1]
        assert "verify" not in text.lower() and "failure" not in text.lower()
        # a key dig has and we do not: NOTAUTH, BADKEY (dig says it could not verify)
        other = base64.b64encode(bytes(range(1, 33))).decode()
        proc = await asyncio.create_subprocess_exec(
            "dig", "@127.0.0.1", "-p", str(server.addresses[0][1]),
            "-y", f"hmac-sha256:other-key:{other}", "www.live.test", "A",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(proc.communicate(), 20)
        assert "BADKEY" in out.decode() or "NOTAUTH" in out.decode()
    finally:
        await server.stop()
