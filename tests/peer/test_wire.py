"""The peer wire codec: golden bytes for every message, every limit at and past its edge, and
hypothesis round trips and fuzz (random and mutated streams, cut at random points)."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from minternet.framing import FramingError
from peer import wire
from peer.wire import (
    BLOCK,
    AllowedFast,
    BitfieldMsg,
    Cancel,
    Choke,
    Decoder,
    Event,
    Extended,
    Handshake,
    Have,
    HaveAll,
    HaveNone,
    Interested,
    KeepAlive,
    Message,
    NotInterested,
    NotPlainHandshake,
    Piece,
    Port,
    Reject,
    Request,
    Suggest,
    Unchoke,
    Unknown,
    WireError,
    encode,
    encode_handshake,
    piece_header,
)

IH = bytes(range(20))
PID = b"-MI0001-abcdefghijkl"
HS = Handshake(bytes.fromhex("0000000000100005"), IH, PID)
HS_BYTES = encode_handshake(HS)
LIMIT = wire.message_limit(1000)


def decoder(max_length: int = LIMIT) -> Decoder:
    """A decoder past the handshake."""
    d = Decoder(max_length=max_length)
    d.feed(HS_BYTES)
    assert d.next_event() == HS
    return d


def decode_one(data: bytes, max_length: int = LIMIT) -> Event | None:
    d = decoder(max_length)
    d.feed(data)
    return d.next_event()


def refuse(data: bytes, max_length: int = LIMIT) -> str:
    """The reason the decoder gives for `data` after a handshake (it must refuse it)."""
    d = decoder(max_length)
    d.feed(data)
    with pytest.raises(WireError) as info:
        d.next_event()
    return info.value.reason


def test_constants() -> None:
    assert wire.PROTOCOL == b"BitTorrent protocol"
    assert wire.HANDSHAKE_LEN == 68
    assert BLOCK == 16384
    assert wire.MAX_REQUEST == 16384
    assert wire.MAX_EXTENDED == 16384 + 1024


# -- the handshake ---------------------------------------------------------------------------


def test_handshake_golden_bytes() -> None:
    expected = b"\x13BitTorrent protocol" + bytes.fromhex("0000000000100005") + IH + PID
    assert encode_handshake(HS) == expected
    assert len(expected) == 68


def test_handshake_decodes_only_when_all_68_bytes_are_in() -> None:
    d = Decoder(max_length=LIMIT)
    assert d.pending() == 0
    assert d.next_event() is None
    for i, byte in enumerate(HS_BYTES[:-1]):
        d.feed(bytes([byte]))
        assert d.next_event() is None
        assert d.pending() == i + 1
    assert d.handshake is None
    d.feed(HS_BYTES[-1:])
    assert d.next_event() == HS
    assert d.handshake == HS  # for the shell to look at later (is the fast extension on?)
    assert d.pending() == 0
    assert d.next_event() is None


def test_handshake_then_messages_in_one_read() -> None:
    d = Decoder(max_length=LIMIT)
    d.feed(HS_BYTES + encode(Interested()) + encode(Have(7)))
    assert [d.next_event(), d.next_event(), d.next_event(), d.next_event()] == [
        HS,
        Interested(),
        Have(7),
        None,
    ]


def test_handshake_fields_are_where_bep3_puts_them() -> None:
    reserved, info_hash, peer_id = bytes(range(100, 108)), bytes(range(30, 50)), PID
    d = Decoder(max_length=LIMIT)
    d.feed(b"\x13BitTorrent protocol" + reserved + info_hash + peer_id)
    assert d.next_event() == Handshake(reserved, info_hash, peer_id)


@pytest.mark.parametrize("first", [0, 18, 20, 0x80, 0xFF])
def test_a_first_byte_other_than_19_is_refused_at_once(first: int) -> None:
    d = Decoder(max_length=LIMIT)
    d.feed(bytes([first]))
    with pytest.raises(NotPlainHandshake, match=f"^handshake starts with byte {first}, not 19: "):
        d.next_event()


def test_an_encrypted_handshake_is_refused_on_its_first_byte() -> None:
    d = Decoder(max_length=LIMIT)
    d.feed(bytes.fromhex("8a") + bytes(range(199)))  # MSE/PE: a key and padding, no 19
    with pytest.raises(NotPlainHandshake) as info:
        d.next_event()
    assert info.value.reason == (
        "handshake starts with byte 138, not 19: an encrypted (MSE/PE) handshake or not BitTorrent"
    )
    assert isinstance(info.value, WireError) and isinstance(info.value, FramingError)


@pytest.mark.parametrize(
    "start",
    [
        b"\x13bittorrent protocol",
        b"\x13BitTorrent protocoL",
        b"\x13X",
        b"\x13Bit ",
        b"\x13GET / HTTP/1.1\r\n\r\n",
    ],
)
def test_a_wrong_protocol_string_is_refused_as_soon_as_it_differs(start: bytes) -> None:
    d = Decoder(max_length=LIMIT)
    d.feed(start)
    with pytest.raises(WireError) as info:
        d.next_event()
    assert not isinstance(info.value, NotPlainHandshake)
    assert info.value.reason == "handshake: the protocol string is not 'BitTorrent protocol'"


def test_a_right_protocol_string_waits_for_the_rest() -> None:
    d = Decoder(max_length=LIMIT)
    d.feed(b"\x13BitTorrent protocol")
    assert d.next_event() is None
    d.feed(b"\xff" * 48)  # reserved, info-hash and peer id may be any bytes
    assert d.next_event() == Handshake(b"\xff" * 8, b"\xff" * 20, b"\xff" * 20)


def test_reserved_bits() -> None:
    assert wire.reserved_bits() == bytes(8)
    assert wire.reserved_bits(fast=True) == bytes.fromhex("0000000000000004")
    assert wire.reserved_bits(extension_protocol=True) == bytes.fromhex("0000000000100000")
    assert wire.reserved_bits(dht=True) == bytes.fromhex("0000000000000001")
    assert wire.reserved_bits(fast=True, extension_protocol=True, dht=True) == bytes.fromhex(
        "0000000000100005"
    )


@pytest.mark.parametrize(
    ("reserved", "fast", "ext", "dht"),
    [
        ("0000000000000000", False, False, False),
        ("0000000000000004", True, False, False),
        ("0000000000100000", False, True, False),
        ("0000000000000001", False, False, True),
        ("ffffffffffeffffa", False, False, False),  # every other bit set
        ("0000000010000400", False, False, False),  # the right bits in the wrong bytes
        ("0000000000100005", True, True, True),
    ],
)
def test_handshake_reserved_bit_properties(reserved: str, fast: bool, ext: bool, dht: bool) -> None:
    hs = Handshake(bytes.fromhex(reserved), IH, PID)
    assert (hs.fast, hs.extension_protocol, hs.dht) == (fast, ext, dht)


@pytest.mark.parametrize(
    ("reserved", "info_hash", "peer_id"),
    [(7, 20, 20), (9, 20, 20), (8, 19, 20), (8, 21, 20), (8, 20, 19), (8, 20, 21)],
)
def test_a_handshake_has_fixed_sizes(reserved: int, info_hash: int, peer_id: int) -> None:
    with pytest.raises(
        ValueError, match=r"^a handshake has 8 reserved bytes, a 20-byte info-hash and peer id$"
    ):
        Handshake(bytes(reserved), bytes(info_hash), bytes(peer_id))


# -- golden bytes of every message -----------------------------------------------------------

GOLDEN: list[tuple[Message, str]] = [
    (KeepAlive(), "00000000"),
    (Choke(), "00000001 00"),
    (Unchoke(), "00000001 01"),
    (Interested(), "00000001 02"),
    (NotInterested(), "00000001 03"),
    (Have(0x01020304), "00000005 04 01020304"),
    (BitfieldMsg(b"\xa0\x40"), "00000003 05 a040"),
    (BitfieldMsg(b""), "00000001 05"),
    (Request(1, 0x4000, 0x4000), "0000000d 06 00000001 00004000 00004000"),
    (Piece(1, 0x4000, b"abc"), "0000000c 07 00000001 00004000 616263"),
    (Cancel(0xFFFFFFFF, 2, 3), "0000000d 08 ffffffff 00000002 00000003"),
    (Port(6881), "00000003 09 1ae1"),
    (Suggest(7), "00000005 0d 00000007"),
    (HaveAll(), "00000001 0e"),
    (HaveNone(), "00000001 0f"),
    (Reject(4, 5, 6), "0000000d 10 00000004 00000005 00000006"),
    (AllowedFast(0x10203), "00000005 11 00010203"),
    (Extended(0, b"d1:md6:ut_pexi1eee"), "00000014 14 00 " + b"d1:md6:ut_pexi1eee".hex()),
    (Extended(255, b""), "00000002 14 ff"),
]


@pytest.mark.parametrize(("msg", "hexbytes"), GOLDEN)
def test_golden_bytes(msg: Message, hexbytes: str) -> None:
    data = bytes.fromhex(hexbytes)
    assert encode(msg) == data
    d = decoder()
    d.feed(data)
    assert d.next_event() == msg
    assert d.next_event() is None
    assert d.pending() == 0


def test_piece_header_is_the_piece_message_without_its_block() -> None:
    block = bytes(range(256)) * 64
    assert len(block) == BLOCK
    header = piece_header(3, 0x8000, BLOCK)
    assert header == bytes.fromhex("00004009 07 00000003 00008000")
    assert header + block == encode(Piece(3, 0x8000, block))
    assert decode_one(header + block) == Piece(3, 0x8000, block)
    assert piece_header(0xFFFFFFFF, 0xFFFFFFFF, 1) == bytes.fromhex("0000000a07ffffffffffffffff")


@pytest.mark.parametrize("length", [0, -1, BLOCK + 1])
def test_piece_header_carries_1_to_block_bytes(length: int) -> None:
    with pytest.raises(
        ValueError, match=f"^a piece message carries 1 to 16384 bytes, not {length}$"
    ):
        piece_header(0, 0, length)


@pytest.mark.parametrize(("index", "begin"), [(2**32, 0), (0, 2**32), (-1, 0)])
def test_piece_header_fields_fit_32_bits(index: int, begin: int) -> None:
    with pytest.raises(ValueError, match=f"^piece index {index} or offset {begin} out of range$"):
        piece_header(index, begin, 1)


def test_we_never_send_what_we_would_refuse() -> None:
    assert encode(Request(0, 0, 1)) == bytes.fromhex("0000000d 06 00000000 00000000 00000001")
    assert encode(Request(0, 0, BLOCK))[-4:] == b"\x00\x00\x40\x00"
    for length in (0, BLOCK + 1):
        with pytest.raises(ValueError, match=f"^a request asks for 1 to 16384 bytes, not {length}"):
            encode(Request(0, 0, length))
    with pytest.raises(ValueError, match="carries 1 to 16384 bytes, not 0"):
        encode(Piece(0, 0, b""))
    with pytest.raises(ValueError, match="carries 1 to 16384 bytes, not 16385"):
        encode(Piece(0, 0, bytes(BLOCK + 1)))


@pytest.mark.parametrize(
    ("msg", "name"),
    [
        (Have(2**32), "Have"),
        (Have(-1), "Have"),
        (Suggest(2**32), "Suggest"),
        (AllowedFast(-1), "AllowedFast"),
        (Cancel(0, 2**32, 1), "Cancel"),
        (Reject(0, 0, -1), "Reject"),
        (Request(2**32, 0, 1), "Request"),
        (Port(65536), "Port"),
        (Extended(256, b""), "Extended"),
    ],
)
def test_fields_out_of_range_are_our_bug(msg: Message, name: str) -> None:
    with pytest.raises(ValueError, match=f"^a {name} field is out of range: "):
        encode(msg)


@pytest.mark.parametrize("thing", [Unknown(99, 0), HS, b"\x00"])
def test_only_messages_are_encoded(thing: object) -> None:
    with pytest.raises(TypeError, match=f"^not a message we send: {type(thing).__name__}$"):
        encode(thing)  # type: ignore[arg-type]


# -- limits, at and past each edge ----------------------------------------------------------


def test_the_length_limit_is_checked_on_the_prefix_alone() -> None:
    assert decode_one(bytes.fromhex("00000064 63") + bytes(99), max_length=100) == Unknown(0x63, 99)
    d = decoder(max_length=100)
    d.feed(bytes.fromhex("00000065"))  # 101: nothing more needs to arrive
    with pytest.raises(WireError, match=r"^message length 101 over the limit of 100$"):
        d.next_event()
    reason = refuse(bytes.fromhex("ffffffff"), max_length=100)
    assert reason == "message length 4294967295 over the limit of 100"


def test_message_limit() -> None:
    assert wire.message_limit(8, extended=0) == 9 + BLOCK
    assert wire.message_limit(8) == 2 + BLOCK + 1024
    assert wire.message_limit(8, extended=100_000) == 100_002
    # The bitfield takes over once it is longer than a piece message: ceil(n / 8) + 1 bytes.
    assert wire.message_limit(131_136, extended=0) == 9 + BLOCK
    assert wire.message_limit(131_137, extended=0) == 10 + BLOCK
    assert wire.message_limit(1_000_000) == 125_001


FIXED = [
    (0, "choke", 1),
    (1, "unchoke", 1),
    (2, "interested", 1),
    (3, "not interested", 1),
    (4, "have", 5),
    (6, "request", 13),
    (8, "cancel", 13),
    (9, "port", 3),
    (13, "suggest piece", 5),
    (14, "have all", 1),
    (15, "have none", 1),
    (16, "reject request", 13),
    (17, "allowed fast", 5),
]


@pytest.mark.parametrize(("msg_id", "name", "size"), FIXED)
def test_a_fixed_size_message_of_another_size_is_refused_on_its_id(
    msg_id: int, name: str, size: int
) -> None:
    for wrong in (size - 1, size + 1):
        if wrong == 0:
            continue  # a keep-alive
        header = wrong.to_bytes(4, "big") + bytes([msg_id])  # no payload needed to decide
        reason = refuse(header)
        assert reason == f"{name} message of length {wrong}: must be {size}"
    whole = size.to_bytes(4, "big") + bytes([msg_id]) + bytes.fromhex("00000001 00000002 00000003")
    assert decode_one(whole[: 4 + size]) is not None


def test_choke_with_a_payload_is_refused() -> None:
    assert refuse(bytes.fromhex("00000002 00 00")) == "choke message of length 2: must be 1"


def test_piece_block_sizes() -> None:
    big = LIMIT + 100
    assert refuse(bytes.fromhex("00000009 07"), big) == "piece message of length 9 carries no block"
    assert refuse(bytes.fromhex("00000001 07"), big) == "piece message of length 1 carries no block"
    one = bytes.fromhex("0000000a 07 00000002 00000003 ee")
    assert decode_one(one, big) == Piece(2, 3, b"\xee")
    whole = (9 + BLOCK).to_bytes(4, "big") + b"\x07" + bytes(8) + b"\x01" * BLOCK
    assert decode_one(whole, big) == Piece(0, 0, b"\x01" * BLOCK)
    too_big = (10 + BLOCK).to_bytes(4, "big") + b"\x07"
    assert refuse(too_big, big) == "piece message with a 16385-byte block: at most 16384"


def test_request_lengths() -> None:
    def request(length: int) -> bytes:
        return encode(Request(1, 2, 1))[:13] + length.to_bytes(4, "big")

    assert decode_one(request(1)) == Request(1, 2, 1)
    assert decode_one(request(BLOCK)) == Request(1, 2, BLOCK)
    assert refuse(request(0)) == "request for 0 bytes: must be 1 to 16384 (BEP 3)"
    assert refuse(request(BLOCK + 1)) == "request for 16385 bytes: must be 1 to 16384 (BEP 3)"
    # Cancel and reject echo a request: whether it was ours is for the session to judge.
    assert decode_one(b"\x00\x00\x00\x0d\x08" + request(BLOCK + 1)[5:]) == Cancel(1, 2, BLOCK + 1)
    assert decode_one(b"\x00\x00\x00\x0d\x10" + request(0)[5:]) == Reject(1, 2, 0)


def test_extended_needs_an_extension_id() -> None:
    assert refuse(bytes.fromhex("00000001 14")) == "extended message without an extension id"
    assert decode_one(bytes.fromhex("00000002 14 03")) == Extended(3, b"")
    assert decode_one(bytes.fromhex("00000004 14 01 6465")) == Extended(1, b"de")


@pytest.mark.parametrize("msg_id", [10, 11, 12, 18, 19, 21, 255])
def test_unknown_ids_are_skipped_whole(msg_id: int) -> None:
    d = decoder()
    d.feed(bytes.fromhex("00000004") + bytes([msg_id]) + b"abc" + encode(Have(9)))
    assert d.next_event() == Unknown(msg_id, 3)
    assert d.next_event() == Have(9)
    d.feed(bytes.fromhex("00000001") + bytes([msg_id]))
    assert d.next_event() == Unknown(msg_id, 0)


# -- incremental decoding and the buffer ----------------------------------------------------


def test_a_message_is_returned_only_when_whole() -> None:
    data = encode(Request(5, 6, 7))
    d = decoder()
    for i in range(len(data) - 1):
        d.feed(data[i : i + 1])
        assert d.next_event() is None
        assert d.pending() == i + 1
    d.feed(data[-1:])
    assert d.next_event() == Request(5, 6, 7)
    assert d.pending() == 0


def test_keepalive_between_messages() -> None:
    d = decoder()
    d.feed(encode(KeepAlive()) + encode(Choke()) + encode(KeepAlive()))
    assert [d.next_event(), d.next_event(), d.next_event(), d.next_event()] == [
        KeepAlive(),
        Choke(),
        KeepAlive(),
        None,
    ]


def test_an_error_is_not_consumed_asking_again_raises_it_again() -> None:
    d = decoder()
    d.feed(encode(Have(1)) + bytes.fromhex("00000002 01 00") + encode(Have(2)))
    assert d.next_event() == Have(1)
    for _ in range(2):
        with pytest.raises(WireError, match=r"^unchoke message of length 2: must be 1$"):
            d.next_event()
    assert d.pending() == 6 + 9


def test_consumed_bytes_are_dropped_on_the_next_feed() -> None:
    d = decoder()
    for i in range(1000):
        d.feed(encode(Have(i)) + encode(Request(i, 0, 1))[:7])
        assert d.next_event() == Have(i)
        assert d.next_event() is None
        d.feed(encode(Request(i, 0, 1))[7:])
        assert len(d._buf) == 17  # the request, and nothing already decoded before it
        assert d.next_event() == Request(i, 0, 1)
    assert d.pending() == 0


def test_clear_forgets_what_is_buffered() -> None:
    d = decoder()
    d.feed(encode(Have(1))[:3])
    assert d.pending() == 3
    d.clear()
    assert d.pending() == 0
    d.feed(encode(Have(2)))
    assert d.next_event() == Have(2)
    d.feed(encode(Have(3)))
    d.clear()
    assert d.next_event() is None


def test_it_is_a_minternet_framer() -> None:
    assert Decoder.next_frame is Decoder.next_event
    d = Decoder(max_length=LIMIT)
    d.feed(HS_BYTES + encode(Unchoke()))
    assert d.next_frame() == HS
    assert d.next_frame() == Unchoke()


# -- properties -----------------------------------------------------------------------------

U32 = st.integers(0, 2**32 - 1)
MESSAGES: st.SearchStrategy[Message] = st.one_of(
    st.sampled_from(
        [KeepAlive(), Choke(), Unchoke(), Interested(), NotInterested(), HaveAll(), HaveNone()]
    ),
    st.builds(Have, U32),
    st.builds(BitfieldMsg, st.binary(max_size=40)),
    st.builds(Request, U32, U32, st.integers(1, BLOCK)),
    st.builds(
        Piece,
        U32,
        U32,
        st.one_of(st.binary(min_size=1, max_size=64), st.just(b"\x5a" * BLOCK)),
    ),
    st.builds(Cancel, U32, U32, U32),
    st.builds(Port, st.integers(0, 65535)),
    st.builds(Suggest, U32),
    st.builds(Reject, U32, U32, U32),
    st.builds(AllowedFast, U32),
    st.builds(Extended, st.integers(0, 255), st.binary(max_size=40)),
)
HANDSHAKES = st.builds(
    Handshake, st.binary(min_size=8, max_size=8), st.binary(min_size=20, max_size=20), st.just(PID)
)


def run(data: bytes, cuts: list[int], max_length: int) -> tuple[list[Event], str | None]:
    """Feed `data` cut at `cuts`, taking every event after each read; stop at an error."""
    d = Decoder(max_length=max_length)
    events: list[Event] = []
    bounds = [0, *sorted(c % (len(data) + 1) for c in cuts), len(data)]
    try:
        for start, end in pairwise(bounds):
            d.feed(data[start:end])
            while (event := d.next_event()) is not None:
                events.append(event)
                assert d.pending() <= max_length + 4 + (end - start)
    except WireError as e:
        return events, f"{type(e).__name__}: {e.reason}"
    return events, None


@given(HANDSHAKES, st.lists(MESSAGES, max_size=12), st.lists(st.integers(0, 10**6), max_size=8))
@example(HS, [Piece(0, 0, b"\x5a" * BLOCK), KeepAlive(), Have(1)], [70, 72, 73, 5000])
def test_every_message_round_trips_however_the_stream_is_cut(
    hs: Handshake, msgs: list[Message], cuts: list[int]
) -> None:
    data = encode_handshake(hs) + b"".join(encode(m) for m in msgs)
    assert run(data, cuts, LIMIT) == ([hs, *msgs], None)


@given(
    st.one_of(st.binary(max_size=300), st.binary(max_size=300).map(lambda b: HS_BYTES + b)),
    st.lists(st.integers(0, 10**6), max_size=8),
    st.sampled_from([0, 1, 5, 13, 64, LIMIT]),
)
def test_random_bytes_raise_only_wire_errors_whatever_the_cuts(
    data: bytes, cuts: list[int], max_length: int
) -> None:
    assert run(data, cuts, max_length) == run(data, [], max_length)


@given(
    st.lists(MESSAGES, min_size=1, max_size=8),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=4),
    st.integers(0, 10**6),
    st.lists(st.integers(0, 10**6), max_size=8),
    st.sampled_from([13, 64, LIMIT]),
)
def test_mutated_streams_give_the_same_result_whatever_the_cuts(
    msgs: list[Message],
    changes: list[tuple[int, int]],
    keep: int,
    cuts: list[int],
    max_length: int,
) -> None:
    stream = bytearray(HS_BYTES + b"".join(encode(m) for m in msgs))
    for at, value in changes:
        stream[at % len(stream)] = value
    data = bytes(stream[: keep % (len(stream) + 1)])
    whole = run(data, [], max_length)
    assert run(data, cuts, max_length) == whole
    events, error = whole
    if error is None:
        assert all(isinstance(e, Handshake | Message | Unknown) for e in events)
