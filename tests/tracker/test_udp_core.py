"""BEP 15 packets: golden vectors, every wrong length, connection-id window, random garbage."""

from __future__ import annotations

import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minternet.bounded import BoundedMap
from tests.tracker.conftest import IH, pid
from tracker import udp_app
from tracker.config import TrackerConfig
from tracker.connid import ConnectionIds
from tracker.registry import Registry
from tracker.udp_app import UdpReply, UdpTrackerApp

KEY = b"k" * 32
CLIENT = ("10.0.0.1", 40000)


def make(**cfg: object) -> UdpTrackerApp:
    reg = Registry(TrackerConfig(**{"rate_per_ip": 0.0, **cfg}), random.Random(1))  # type: ignore[arg-type]
    return UdpTrackerApp(reg, ConnectionIds(KEY))


def connect(app: UdpTrackerApp, now: float = 1000.0, client: tuple[str, int] = CLIENT) -> int:
    out = app.handle(bytes.fromhex("00000417271019800000000012345678"), *client, now)
    assert out.reply is not None and out.reply[:8] == bytes.fromhex("0000000012345678")
    return int.from_bytes(out.reply[8:16], "big")


def announce_packet(
    cid: int,
    *,
    tid: int = 0xABCD,
    peer: int = 1,
    left: int = 5,
    event: int = 0,
    port: int = 6881,
    num_want: int = -1,
    info_hash: bytes = IH,
    key: int = 0,
) -> bytes:
    return struct.pack(
        ">QII20s20sQQQIIIiH",
        cid,
        1,
        tid,
        info_hash,
        pid(peer),
        0,
        left,
        0,
        event,
        0,
        key,
        num_want,
        port,
    )


def test_connect_golden() -> None:
    app = make()
    out = app.handle(bytes.fromhex("000004172710198000000000deadbeef"), "10.0.0.1", 40000, 1000.0)
    assert out.reply is not None and len(out.reply) == 16
    assert out.reply[:8] == bytes.fromhex("00000000deadbeef")
    assert out.reply[8:] == ConnectionIds(KEY).issue(
        bytes([10, 0, 0, 1]) + (40000).to_bytes(2, "big"), 1000.0
    )


def test_announce_golden() -> None:
    app = make()
    cid = connect(app)
    other = connect(app, client=("10.0.0.2", 40001))
    assert app.handle(
        announce_packet(other, peer=2, left=0, port=7000), "10.0.0.2", 40001, 1000.0
    ).reply
    out = app.handle(announce_packet(cid, tid=0x01020304), *CLIENT, 1000.0)
    # action 1, tid, interval 300, leechers 1 (me), seeders 1, then 10.0.0.2:7000
    assert out.reply == bytes.fromhex("00000001010203040000012c00000001000000010a0000021b58")


def test_ipv6_client_gets_18_byte_peers() -> None:
    app = make()
    a = ("2001:db8::2", 5000)
    b = ("2001:db8::3", 5001)
    app.handle(announce_packet(connect(app, client=a), peer=2, port=7000), *a, 1000.0)
    out = app.handle(announce_packet(connect(app, client=b), peer=3), *b, 1000.0)
    assert out.reply is not None
    assert out.reply[20:] == bytes.fromhex("20010db8000000000000000000000002") + b"\x1b\x58"


def test_scrape_golden() -> None:
    app = make()
    cid = connect(app)
    app.handle(announce_packet(cid, event=1, left=0), *CLIENT, 1000.0)
    pkt = struct.pack(">QII", cid, 2, 77) + IH + b"\x00" * 20
    out = app.handle(pkt, *CLIENT, 1000.0)
    assert out.reply == bytes.fromhex(
        "000000020000004d000000010000000100000000000000000000000000000000"
    )


def error_text(reply: bytes | None, tid: int) -> str:
    assert reply is not None
    assert reply[:8] == struct.pack(">II", 3, tid)
    return reply[8:].decode()


def error_of(out: UdpReply, tid: int) -> str:
    """The error a client is sent, checked to be the fault the shell logs."""
    text = error_text(out.reply, tid)
    assert out.fault is not None and out.fault.reason.encode()[: len(text)] == text.encode()
    return text


def test_bad_connection_id_and_expiry_window() -> None:
    app = make()
    cid = connect(app, now=1000.0)
    assert app.handle(announce_packet(cid), *CLIENT, 1000.0 + 119.9).fault is None  # 2 minutes
    out = app.handle(announce_packet(cid, tid=5), *CLIENT, 1000.0 + 151.0)
    assert error_of(out, 5).startswith("invalid connection id")
    out = app.handle(announce_packet(cid ^ 1, tid=6), *CLIENT, 1000.0)
    assert error_of(out, 6).startswith("invalid connection id")
    out = app.handle(announce_packet(cid, tid=7), "10.0.0.9", CLIENT[1], 1000.0)  # other address
    assert error_of(out, 7).startswith("invalid connection id")
    out = app.handle(announce_packet(cid, tid=8), CLIENT[0], CLIENT[1] + 1, 1000.0)  # other port
    assert error_of(out, 8).startswith("invalid connection id")


@pytest.mark.parametrize("length", range(16))
def test_datagrams_too_short_for_a_transaction_id_are_dropped(length: int) -> None:
    out = make().handle(bytes.fromhex("00000417271019800000000012345678")[:length], *CLIENT, 1.0)
    assert out.reply is None and out.fault is not None
    assert out.fault.reason == f"datagram of {length} bytes is too short"


@pytest.mark.parametrize("length", [17, 20, 98, 200])
def test_connect_of_wrong_length_gets_an_error(length: int) -> None:
    pkt = bytes.fromhex("00000417271019800000000012345678").ljust(length, b"\0")
    out = make().handle(pkt, *CLIENT, 1.0)
    reply = out.reply
    text = error_of(out, 0x12345678)
    # A connect proves nothing about its source: the error is cut to the request's size.
    assert reply is not None and len(reply) <= length
    assert "malformed connect: must be 16 bytes".startswith(text) and len(text) >= 9
    if length >= 98:
        assert text == "malformed connect: must be 16 bytes"


def test_connect_without_protocol_id_is_dropped() -> None:
    out = make().handle(bytes(8) + bytes.fromhex("0000000012345678"), *CLIENT, 1.0)
    assert out.reply is None
    assert out.fault is not None and out.fault.kind == "bad-packet"  # for the log line
    assert out.fault.reason == "connect without the BEP 15 protocol id"


@pytest.mark.parametrize("length", [16, *range(17, 98, 9), 97])
def test_short_announce_gets_an_error(length: int) -> None:
    app = make()
    pkt = announce_packet(connect(app))[:length]
    assert error_of(app.handle(pkt, *CLIENT, 1000.0), 0xABCD).startswith("malformed announce")


def test_announce_with_bep41_options_is_accepted() -> None:
    app = make()
    pkt = announce_packet(connect(app)) + b"\x02\x05/path\x01\x00"
    out = app.handle(pkt, *CLIENT, 1000.0)
    assert out.fault is None and out.reply is not None and out.reply[:4] == b"\0\0\0\1"


@pytest.mark.parametrize("extra", [0, 1, 19, 21, 39, 74 * 20 + 20])
def test_scrape_of_wrong_length_gets_an_error(extra: int) -> None:
    app = make()
    pkt = struct.pack(">QII", connect(app), 2, 9) + b"x" * extra
    reason = error_of(app.handle(pkt, *CLIENT, 1000.0), 9)
    assert reason.startswith(("malformed scrape", "too many"))


def test_bad_event_port_and_unknown_action() -> None:
    app = make()
    cid = connect(app)
    assert (
        error_of(app.handle(announce_packet(cid, event=4), *CLIENT, 1000.0), 0xABCD)
        == "invalid event"
    )
    assert (
        error_of(app.handle(announce_packet(cid, port=0), *CLIENT, 1000.0), 0xABCD)
        == "invalid port"
    )
    pkt = struct.pack(">QII", cid, 9, 3) + bytes(16)  # long enough for the whole reason
    assert error_of(app.handle(pkt, *CLIENT, 1000.0), 3) == "unknown action 9"


def test_whitelist_and_rate_limit_errors() -> None:
    reg = Registry(TrackerConfig(rate_per_ip=1.0, rate_burst=2), random.Random(1), whitelist=[IH])
    app = UdpTrackerApp(reg, ConnectionIds(KEY))
    cid = connect(app)
    out = app.handle(announce_packet(cid, info_hash=b"z" * 20), *CLIENT, 1000.0)  # uses a token
    assert error_of(out, 0xABCD) == "info_hash not on this tracker's whitelist"
    assert app.handle(announce_packet(cid), *CLIENT, 1000.0).reply[:4] == b"\0\0\0\1"  # type: ignore[index]
    out = app.handle(announce_packet(cid), *CLIENT, 1000.0)
    assert error_of(out, 0xABCD) == "rate limited: announcing too often, slow down"


def test_num_want_and_stopped() -> None:
    app = make(numwant_max=3, numwant_default=3)
    for n in range(10):
        c = (f"10.0.1.{n}", 6000)
        app.handle(announce_packet(connect(app, client=c), peer=n + 10), *c, 1000.0)
    cid = connect(app)
    assert (
        len(app.handle(announce_packet(cid, num_want=100), *CLIENT, 1000.0).reply or b"") == 20 + 18
    )
    assert (
        len(app.handle(announce_packet(cid, num_want=2), *CLIENT, 1000.0).reply or b"") == 20 + 12
    )
    assert len(app.handle(announce_packet(cid, event=3), *CLIENT, 1000.0).reply or b"") == 20


@given(st.binary(max_size=200), st.integers(0, 2**32 - 1))
def test_random_datagrams_never_raise(data: bytes, tid: int) -> None:
    app = make()
    app.handle(data, *CLIENT, 1000.0)
    cid = ConnectionIds(KEY).issue(bytes([10, 0, 0, 1]) + CLIENT[1].to_bytes(2, "big"), 1000.0)
    for action in range(4):
        app.handle(cid + struct.pack(">II", action, tid) + data, *CLIENT, 1000.0)


def test_remembered_connection_ids_keep_the_same_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """The memo of checked IDs is bounded and changes nothing a client can see."""
    monkeypatch.setattr("tracker.connid.MEMO_SIZE", 2)
    ids = ConnectionIds(KEY)
    clients = [bytes([10, 0, 0, n]) + b"\x1a\xe1" for n in range(5)]
    issued = [ids.issue(c, 1000.0) for c in clients]
    assert not ids._memo  # issuing remembers nothing: spoofed connects cannot churn it
    for cid, c in zip(issued, clients, strict=True):
        assert ids.valid(cid, c, 1000.0 + 119.9)
        assert ids.valid(cid, c, 1000.0 + 119.9)  # now from the memo
        assert not ids.valid(cid, clients[0] if c != clients[0] else clients[1], 1000.0)
        assert not ids.valid(cid, c, 1000.0 + 151.0)  # remembered, but too old
    assert len(ids._memo) <= 2


def test_churn_events_are_worth_a_log_line_and_re_announces_are_not() -> None:
    app = make()
    cid = connect(app)
    notes = [
        app.handle(announce_packet(cid, event=event, left=left), *CLIENT, 1000.0).note
        for event, left in ((2, 5), (0, 5), (1, 0), (3, 0))
    ]
    ih = IH.hex()
    assert notes == [
        f"started {ih} port 6881 (leecher)",
        None,
        f"completed {ih} port 6881 (seeder)",
        f"stopped {ih} port 6881 (seeder)",
    ]


@settings(max_examples=300)
@given(st.binary(min_size=16, max_size=120), st.integers(0, 255))
def test_a_source_without_a_connection_id_never_gets_more_bytes_than_it_sent(
    data: bytes, action: int
) -> None:
    # A spoofed source is a reflection victim: errors to unproven sources must not amplify.
    app = make()
    for pkt in (data, data[:8] + struct.pack(">I", action) + data[12:]):
        out = app.handle(pkt, *CLIENT, 1000.0)
        assert out.reply is None or len(out.reply) <= len(pkt)


def test_errors_to_unproven_sources_are_cut_to_the_request_size_and_real_requests_get_all() -> None:
    app = make()
    out = app.handle(struct.pack(">QII", 12345, 1, 7), *CLIENT, 1000.0)  # 16-byte "announce"
    assert out.reply == struct.pack(">II", 3, 7) + b"invalid "
    out = app.handle(announce_packet(12345, tid=8), *CLIENT, 1000.0)  # a real 98-byte one
    assert error_of(out, 8) == "invalid connection id: connect again"
    cid = connect(app)  # with a valid connection id, a short request gets the whole reason
    out = app.handle(announce_packet(cid)[:16], *CLIENT, 1000.0)
    assert error_of(out, 0xABCD) == "malformed announce: 16 bytes, need 98"


def scrape_packet(cid: int, hashes: list[bytes], tid: int = 77) -> bytes:
    return struct.pack(">QII", cid, 2, tid) + b"".join(hashes)


def test_a_scrape_of_several_hashes_answers_each_in_the_order_asked() -> None:
    app = make()
    cid = connect(app)
    a, b, unknown = b"a" * 20, b"b" * 20, b"u" * 20
    app.handle(announce_packet(cid, info_hash=a, left=0, event=1), *CLIENT, 1000.0)
    other = ("10.0.0.2", 40001)
    app.handle(announce_packet(connect(app, client=other), info_hash=a, peer=2), *other, 1000.0)
    app.handle(announce_packet(cid, info_hash=b), *CLIENT, 1000.0)
    out = app.handle(scrape_packet(cid, [b, unknown, a]), *CLIENT, 1000.0)
    # action 2, tid 77, then (seeders, completed, leechers) per hash: b, unknown, a
    assert out.reply == bytes.fromhex(
        "00000002" "0000004d"
        "00000000" "00000000" "00000001"
        "00000000" "00000000" "00000000"
        "00000001" "00000001" "00000001"
    )  # fmt: skip


def test_a_scrape_takes_up_to_74_hashes() -> None:
    app = make()
    cid = connect(app)
    hashes = [bytes([n]) * 20 for n in range(75)]
    out = app.handle(scrape_packet(cid, hashes[:74]), *CLIENT, 1000.0)
    assert out.reply == struct.pack(">II", 2, 77) + bytes(12 * 74)
    out = app.handle(scrape_packet(cid, hashes), *CLIENT, 1000.0)
    assert error_of(out, 77) == "too many info_hashes in scrape (at most 74)"
    out = app.handle(scrape_packet(cid, []), *CLIENT, 1000.0)
    assert error_of(out, 77) == "malformed scrape: need 1 or more 20-byte info_hashes"


def test_a_scrape_needs_a_connection_id_and_whitelisted_hashes() -> None:
    reg = Registry(TrackerConfig(rate_per_ip=0.0), random.Random(1), whitelist=[IH])
    app = UdpTrackerApp(reg, ConnectionIds(KEY))
    cid = connect(app)
    assert app.handle(scrape_packet(cid, [IH]), *CLIENT, 1000.0).reply == (
        struct.pack(">II", 2, 77) + bytes(12)
    )
    out = app.handle(scrape_packet(cid, [IH, b"z" * 20]), *CLIENT, 1000.0)
    assert error_of(out, 77) == "info_hash not on this tracker's whitelist"
    out = app.handle(scrape_packet(cid ^ 1, [IH] * 3), *CLIENT, 1000.0)
    assert error_of(out, 77) == "invalid connection id: connect again"


def test_stopped_for_an_unknown_torrent_gets_an_empty_reply_and_creates_nothing() -> None:
    app = make()
    cid = connect(app)
    out = app.handle(announce_packet(cid, tid=9, event=3), *CLIENT, 1000.0)
    # action 1, tid 9, interval 300, 0 leechers, 0 seeders, no peers
    assert out.reply == bytes.fromhex("00000001000000090000012c0000000000000000")
    assert out.fault is None
    assert app.registry.swarms == {} and app.registry.announces == 1


def test_num_want_minus_one_is_the_default_and_zero_is_none() -> None:
    app = make(numwant_max=5, numwant_default=3)
    for n in range(10):
        c = (f"10.0.1.{n}", 6000)
        app.handle(announce_packet(connect(app, client=c), peer=n + 10), *c, 1000.0)
    cid = connect(app)
    for num_want, peers in ((-1, 3), (-7, 3), (0, 0), (1, 1), (5, 5), (6, 5)):
        reply = app.handle(announce_packet(cid, num_want=num_want), *CLIENT, 1000.0).reply
        # action 1, tid, interval 300, 11 leechers (me too), 0 seeders: whatever num_want
        assert reply is not None and reply[:20] == struct.pack(">IIIII", 1, 0xABCD, 300, 11, 0)
        assert len(reply) == 20 + 6 * peers


def test_the_key_field_lets_a_peer_move_and_keeps_others_from_taking_its_place() -> None:
    app = make()
    cid = connect(app)
    app.handle(announce_packet(cid, key=0xDEADBEEF), *CLIENT, 1000.0)
    thief = ("10.6.6.6", 40000)
    for key in (0, 0xDEADBEEE):
        out = app.handle(announce_packet(connect(app, client=thief), key=key, event=3), *thief,
                         1000.0)  # fmt: skip
        assert error_of(out, 0xABCD) == ("peer_id in use from another address (send the same key)")
    moved = ("10.0.0.7", 7000)
    out = app.handle(announce_packet(connect(app, client=moved), key=0xDEADBEEF), *moved, 1000.0)
    assert out.fault is None
    (peer,) = app.registry.swarms[IH].peers.values()
    assert peer.addr == bytes([10, 0, 0, 7]) + (6881).to_bytes(2, "big")


def test_each_family_gets_the_seeders_and_leechers_of_its_own_family() -> None:
    app = make()
    clients = {
        "v6 seeder": (("2001:db8::2", 5002), 0),
        "v6 leecher": (("2001:db8::3", 5003), 9),
        "v4 seeder": (("10.0.0.4", 5004), 0),
    }
    for n, (client, left) in enumerate(clients.values()):
        app.handle(announce_packet(connect(app, client=client), peer=n, left=left), *client,
                   1000.0)  # fmt: skip
    me = ("2001:db8::9", 5009)
    reply = app.handle(announce_packet(connect(app, client=me), peer=9), *me, 1000.0).reply
    assert reply is not None and reply[8:20] == struct.pack(">III", 300, 2, 2)  # of both families
    got = {reply[i : i + 18] for i in range(20, len(reply), 18)}
    assert got == {
        bytes.fromhex("20010db8000000000000000000000002") + b"\x1a\xe1",
        bytes.fromhex("20010db8000000000000000000000003") + b"\x1a\xe1",
    }


def test_a_udp_peer_expires_from_the_time_of_its_last_announce() -> None:
    app = make(interval=100, min_interval=10)
    cid = connect(app)
    app.handle(announce_packet(cid), *CLIENT, 1000.0)
    app.handle(announce_packet(cid), *CLIENT, 1050.0)
    assert app.registry.expire_all(1250.0) == 0  # silent for 200 s: 2 intervals, not more
    assert app.registry.expire_all(1250.5) == 1


def test_a_stopped_from_an_unknown_ipv6_peer_in_an_ipv4_swarm() -> None:
    app = make()
    app.handle(announce_packet(connect(app)), *CLIENT, 1000.0)
    v6 = ("2001:db8::9", 5009)
    out = app.handle(announce_packet(connect(app, client=v6), peer=9, event=3), *v6, 1000.0)
    assert out.reply == struct.pack(">IIIII", 1, 0xABCD, 300, 1, 0)  # no peers: it wants none
    assert app.registry.swarms[IH].seeders6 is None  # and no IPv6 lists made for nothing


def test_a_source_address_is_packed_once_then_looked_up(monkeypatch: pytest.MonkeyPatch) -> None:
    packed: list[str] = []
    real = udp_app.pack_ip_into

    def counting(cache: BoundedMap[str, bytes], ip: str) -> bytes:
        packed.append(ip)
        return real(cache, ip)

    monkeypatch.setattr(udp_app, "pack_ip_into", counting)
    app = make()
    v6 = ("2001:db8::1", 5001)
    for client, peer in ((CLIENT, 1), (v6, 2), (CLIENT, 1), (v6, 2)):
        out = app.handle(announce_packet(connect(app, client=client), peer=peer), *client, 1000.0)
        assert out.fault is None
    assert packed == [CLIENT[0], v6[0]]
