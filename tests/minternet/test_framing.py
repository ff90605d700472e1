"""The framing cores: whole frames whatever the chunking, errors for what can never be one."""

from __future__ import annotations

import itertools
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minternet.framing import FramingError, Inflating, LengthPrefixed, Lines, LiteralRequest


def chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


Framers = LengthPrefixed | Lines | Inflating[object]


def frames_of(framer: Framers, pieces: list[bytes]) -> list[object]:
    out: list[object] = []
    for piece in pieces:
        framer.feed(piece)
        while (frame := framer.next_frame()) is not None:
            out.append(frame)
    return out


# -- length-prefixed ---------------------------------------------------------------------


@given(st.lists(st.binary(min_size=12, max_size=300), max_size=8), st.lists(st.integers(0, 4000)))
def test_length_prefixed_frames_survive_any_chunking(messages: list[bytes], cuts: list[int]):
    wire = b"".join(len(m).to_bytes(2, "big") + m for m in messages)
    framer = LengthPrefixed(2, min_message=12, max_message=300)
    assert frames_of(framer, chunks(wire, cuts)) == messages
    assert framer.pending() == 0


def test_length_prefixed_holds_a_partial_message_and_counts_it():
    framer = LengthPrefixed(4, max_message=100)
    framer.feed(b"\x00\x00\x00\x05ab")
    assert framer.next_frame() is None
    assert framer.pending() == 6
    framer.feed(b"cde\x00\x00\x00\x00")
    assert framer.next_frame() == b"abcde"
    assert framer.next_frame() == b""  # a zero-length message (BitTorrent keep-alive)
    assert framer.pending() == 0


@pytest.mark.parametrize(("length", "why"), [(11, "11 outside 12..512"), (513, "513 outside")])
def test_length_prefixed_refuses_a_length_out_of_bounds_before_buffering_it(length, why):
    framer = LengthPrefixed(2, min_message=12, max_message=512)
    framer.feed(length.to_bytes(2, "big"))
    with pytest.raises(FramingError, match=why):
        framer.next_frame()


def test_length_prefixed_refuses_sizes_other_than_2_and_4():
    with pytest.raises(ValueError, match=r"^length prefix of 2 or 4 octets$"):
        LengthPrefixed(3, max_message=10)


def test_length_prefixed_takes_messages_of_exactly_the_bounds():
    framer = LengthPrefixed(2, min_message=12, max_message=512)
    for n in (12, 512):
        framer.feed(n.to_bytes(2, "big") + bytes(n))
        assert framer.next_frame() == bytes(n)
    framer = LengthPrefixed(4, max_message=70000)
    framer.feed((70000).to_bytes(4, "big") + b"z" * 70000)  # big-endian, over 16 bits
    assert framer.next_frame() == b"z" * 70000


def test_clear_forgets_what_was_buffered():
    framer = LengthPrefixed(2, max_message=100)
    framer.feed(b"\x00\x10abc")
    framer.clear()
    assert framer.pending() == 0 and framer.next_frame() is None


# -- lines -----------------------------------------------------------------------------------


@given(
    st.lists(st.binary(max_size=50).map(lambda b: b.replace(b"\r\n", b"")), max_size=10),
    st.lists(st.integers(0, 1000)),
)
def test_lines_survive_any_chunking(lines: list[bytes], cuts: list[int]):
    wire = b"".join(line + b"\r\n" for line in lines)
    framer = Lines(max_line=200)
    frames = frames_of(framer, chunks(wire, cuts))
    assert frames == [line + b"\r\n" for line in lines]


def test_a_bare_lf_ends_no_line():
    framer = Lines(max_line=100)
    framer.feed(b"EHLO x\nMAIL FROM:<a>\r\n")
    assert framer.next_frame() == b"EHLO x\nMAIL FROM:<a>\r\n"


def test_a_line_over_the_limit_is_refused_even_before_its_end_arrives():
    framer = Lines(max_line=10)
    framer.feed(b"0123456789A")
    with pytest.raises(FramingError, match="longer than 10"):
        framer.next_frame()
    framer = Lines(max_line=10)
    framer.feed(b"0123456789AB\r\n")
    with pytest.raises(FramingError, match="longer than 10 octets"):
        framer.next_frame()


def test_a_line_of_exactly_the_limit_is_fine():
    framer = Lines(max_line=10)
    framer.feed(b"0123456789\r\n")
    assert framer.next_frame() == b"0123456789\r\n"


def test_a_line_of_exactly_the_limit_may_arrive_in_pieces():
    framer = Lines(max_line=10)
    framer.feed(b"0123456789")  # the limit, its CRLF not yet here
    assert framer.next_frame() is None
    framer.feed(b"\r")  # the CR of its CRLF: still a line of 10 octets
    assert framer.next_frame() is None
    framer.feed(b"\nab")
    assert framer.next_frame() == b"0123456789\r\n" and framer.pending() == 2


@pytest.mark.parametrize("data", [b"0123456789A\r", b"0123456789\n", b"0123456789\r\r"])
def test_a_line_over_the_limit_is_refused_even_if_it_ends_in_a_cr(data: bytes):
    framer = Lines(max_line=10)
    framer.feed(data)
    with pytest.raises(FramingError, match=r"^line longer than 10 octets$"):
        framer.next_frame()


def test_with_bare_lf_a_cr_counts_in_the_line():
    framer = Lines(max_line=10, bare_lf=True)
    framer.feed(b"0123456789")
    assert framer.next_frame() is None
    framer.feed(b"\r")
    with pytest.raises(FramingError, match=r"^line longer than 10 octets$"):
        framer.next_frame()
    framer = Lines(max_line=10, bare_lf=True)
    framer.feed(b"012345678\r\nstats\n")
    assert framer.next_frame() == b"012345678\r\n" and framer.next_frame() == b"stats\n"


def test_literals_are_plain_text_when_the_protocol_has_none():
    framer = Lines(max_line=100)
    framer.feed(b"a1 LOGIN {3}\r\n")
    assert framer.next_frame() == b"a1 LOGIN {3}\r\n"


def imap(**kw: int) -> Lines:
    return Lines(max_line=100, literals=True, max_literal=kw.get("max_literal", 50))


def test_a_synchronising_literal_waits_for_the_continuation():
    framer = imap()
    framer.feed(b"a1 LOGIN {5}\r\n")
    request = framer.next_frame()
    assert request == LiteralRequest(5, b"a1 LOGIN {5}\r\n", True)
    framer.feed(b"alice {6}\r\n")
    assert framer.next_frame() is None  # nothing until the protocol has answered
    framer.accept_literal()
    assert framer.next_frame() == LiteralRequest(6, b"a1 LOGIN {5}\r\n", True)  # its 1st line
    framer.accept_literal()
    framer.feed(b"secret\r\nb2 NOOP\r\n")
    assert framer.next_frame() == b"a1 LOGIN {5}\r\nalice {6}\r\nsecret\r\n"
    assert framer.next_frame() == b"b2 NOOP\r\n"


def test_a_literal_may_hold_crlf_and_braces():
    framer = imap()
    framer.feed(b"a APPEND INBOX {12+}\r\nx\r\n{3}\r\n\r\nyz\r\n")
    assert framer.next_frame() == b"a APPEND INBOX {12+}\r\nx\r\n{3}\r\n\r\nyz\r\n"


def test_a_synchronising_literal_over_the_limit_is_announced_as_not_fitting():
    framer = imap(max_literal=10)
    framer.feed(b"a APPEND INBOX {11}\r\n")
    request = framer.next_frame()
    assert isinstance(request, LiteralRequest) and not request.fits
    with pytest.raises(RuntimeError):
        framer.accept_literal()
    framer.reject_literal()  # the protocol said NO: the command is gone, the next one comes
    framer.feed(b"b NOOP\r\n")
    assert framer.next_frame() == b"b NOOP\r\n"
    assert framer.pending() == 0


def test_a_non_synchronising_literal_over_the_limit_closes():
    framer = imap(max_literal=10)
    framer.feed(b"a APPEND INBOX {11+}\r\n")
    with pytest.raises(FramingError, match="non-synchronising literal of 11"):
        framer.next_frame()


def test_a_literal_limit_per_command_keeps_small_literals_small():
    seen = []

    def limit(command: bytes) -> int:
        seen.append(command)
        return 100 if command.split(b" ", 2)[1].upper() == b"APPEND" else 5

    framer = Lines(max_line=60, literals=True, max_literal=50, literal_limit=limit)
    framer.feed(b"a append INBOX {40+}\r\n" + b"x" * 40 + b"\r\n")
    assert framer.next_frame() == b"a append INBOX {40+}\r\n" + b"x" * 40 + b"\r\n"
    assert seen == [b"a append INBOX {40+}\r\n"]  # the command's first line
    framer.feed(b"b LOGIN {5}\r\n")
    assert framer.next_frame() == LiteralRequest(5, b"b LOGIN {5}\r\n", True)
    framer.reject_literal()
    framer.feed(b"c LOGIN {6}\r\n")
    assert framer.next_frame() == LiteralRequest(6, b"c LOGIN {6}\r\n", False)
    framer.reject_literal()
    framer.feed(b"d APPEND INBOX {51}\r\n")  # max_literal still caps what the limit allows
    assert framer.next_frame() == LiteralRequest(51, b"d APPEND INBOX {51}\r\n", False)
    framer.reject_literal()
    framer.feed(b"e LOGIN {6+}\r\n")
    with pytest.raises(FramingError, match=r"^non-synchronising literal of 6 octets: too big$"):
        framer.next_frame()


def test_every_literal_of_a_command_is_judged_by_its_first_line_alone():
    seen = []

    def limit(first_line: bytes) -> int:
        seen.append(first_line)
        return 20

    framer = Lines(
        max_line=60, literals=True, max_literal=50, max_command=1000, literal_limit=limit
    )
    more = b"".join(b" {%d+}\r\n" % n + b"y" * n for n in range(1, 9))
    framer.feed(b"a APPEND x {20+}\r\n" + b"x" * 20 + more + b" {5}\r\n")
    assert framer.next_frame() == LiteralRequest(5, b"a APPEND x {20+}\r\n", True)
    assert seen == [b"a APPEND x {20+}\r\n"] * 10  # not the command so far, which grows


def test_a_non_synchronising_literal_within_its_limit_but_over_the_command_limit_closes():
    framer = Lines(max_line=30, literals=True, max_literal=10, max_command=40)
    framer.feed(b"a XYZ {10+}\r\n0123456789 {10+}\r\n")  # 31 so far: 10 more is 41
    with pytest.raises(FramingError, match=r"^command longer than 40 octets$"):
        framer.next_frame()


def test_head_shows_the_start_of_the_command_not_yet_framed():
    framer = Lines(max_line=10, literals=True, max_literal=50)
    assert framer.head() == b""
    framer.feed(b"t1 X {3+}\r\nabc" + b"y" * 20)
    with pytest.raises(FramingError, match=r"^line longer than 10 octets$"):
        framer.next_frame()
    assert framer.head() == b"t1 X {3+}\r\nabc" + b"y" * 20
    assert framer.head(13) == b"t1 X {3+}\r\nab"
    assert framer.head(5) == b"t1 X "
    framer = Lines(max_line=10)
    framer.feed(b"0123456789abc")
    assert framer.head(4) == b"0123"
    framer = Lines(max_line=100, literals=True, max_literal=100)
    framer.feed(b"t2 APPEND INBOX {90+}\r\n" + bytes(range(90)) + b"\r\n")
    assert framer.next_frame() is not None
    framer.feed(b"t3 " + b"z" * 200)
    with pytest.raises(FramingError, match="longer than 100 octets"):
        framer.next_frame()
    assert framer.head() == b"t3 " + b"z" * 61  # 64 octets unless asked for more


def test_a_command_grows_no_longer_than_its_limit():
    framer = Lines(max_line=30, literals=True, max_literal=10, max_command=40)
    framer.feed(b"a X {10+}\r\n0123456789 {10+}\r\n0123456789 {10+}\r\n")
    with pytest.raises(FramingError, match="longer than 40"):
        while framer.next_frame() is not None:
            pass


def test_a_command_is_by_default_one_line_and_one_literal_at_most():
    framer = Lines(max_line=10, literals=True, max_literal=5)  # max_command: 10 + 2 + 5
    framer.feed(b"a {5+}\r\nabcdexx\r\n")  # 17 octets
    assert framer.next_frame() == b"a {5+}\r\nabcdexx\r\n"
    framer.feed(b"a {5+}\r\nabcdexxx\r\n")  # 18
    with pytest.raises(FramingError, match=r"^command longer than 17 octets$"):
        framer.next_frame()


def test_with_literals_and_no_max_literal_only_empty_literals_fit():
    framer = Lines(max_line=100, literals=True)
    framer.feed(b"a LOGIN {1}\r\n")
    assert framer.next_frame() == LiteralRequest(1, b"a LOGIN {1}\r\n", False)
    framer.reject_literal()
    framer.feed(b"b LOGIN {0}\r\n")
    assert framer.next_frame() == LiteralRequest(0, b"b LOGIN {0}\r\n", True)


def test_a_literal_fits_only_if_the_command_with_it_stays_within_max_command():
    framer = Lines(max_line=30, literals=True, max_literal=10, max_command=20)
    framer.feed(b"a X {10}\r\n")  # 10 octets and a literal of 10: exactly the limit
    assert framer.next_frame() == LiteralRequest(10, b"a X {10}\r\n", True)
    framer.reject_literal()
    framer.feed(b"a XY {10}\r\n")  # 11 and 10: one octet over, though the literal is not
    assert framer.next_frame() == LiteralRequest(10, b"a XY {10}\r\n", False)
    framer.reject_literal()
    framer.feed(b"a XY {10+}\r\n")  # the command is too long, not the literal
    with pytest.raises(FramingError, match=r"^command longer than 20 octets$"):
        framer.next_frame()


def test_after_clear_the_framer_starts_afresh_even_mid_literal():
    framer = Lines(max_line=10, literals=True, max_literal=20)
    framer.feed(b"a {9}\r\n")
    assert isinstance(framer.next_frame(), LiteralRequest)
    framer.accept_literal()
    framer.feed(b"abc")
    assert framer.next_frame() is None
    framer.clear()  # STARTTLS: nothing sent before the handshake counts
    assert framer.pending() == 0 and framer.head() == b""
    framer.feed(b"\r\nb NOOP\r\n")  # an empty line, then a command: not literal octets
    assert framer.next_frame() == b"\r\n"
    assert framer.next_frame() == b"b NOOP\r\n"
    framer.feed(b"0123456789")
    assert framer.next_frame() is None
    framer.clear()  # also forgets where the search for CRLF had got to
    framer.feed(b"\r\n")
    assert framer.next_frame() == b"\r\n"


def test_accepting_or_rejecting_with_no_literal_waiting_is_a_bug():
    framer = imap()
    with pytest.raises(RuntimeError, match=r"^no literal is waiting, or it is over the limits$"):
        framer.accept_literal()
    with pytest.raises(RuntimeError, match=r"^no literal is waiting$"):
        framer.reject_literal()


def test_an_accepted_literal_is_taken_whole_whatever_it_holds():
    framer = imap()
    framer.feed(b"a APPEND INBOX {13}\r\n")
    assert framer.next_frame() == LiteralRequest(13, b"a APPEND INBOX {13}\r\n", True)
    framer.accept_literal()
    framer.feed(b"x\r\n")
    assert framer.next_frame() is None and framer.pending() == len(b"a APPEND INBOX {13}\r\nx\r\n")
    framer.feed(b"\r\nyz {1}\r\n")  # a CRLF and a literal announcement inside the literal
    assert framer.next_frame() is None
    framer.feed(b" FLAGS\r\n")
    assert framer.next_frame() == b"a APPEND INBOX {13}\r\nx\r\n\r\nyz {1}\r\n FLAGS\r\n"


@given(st.binary(max_size=400), st.lists(st.integers(0, 400)))
def test_garbage_raises_only_framing_errors_and_memory_stays_bounded(data: bytes, cuts):
    framer = Lines(max_line=40, literals=True, max_literal=30, max_command=100)
    try:
        for piece in chunks(data, cuts):
            framer.feed(piece)
            while (frame := framer.next_frame()) is not None:
                if isinstance(frame, LiteralRequest):
                    if frame.fits:
                        framer.accept_literal()
                    else:
                        framer.reject_literal()
            assert framer.pending() <= 100 + 40 + len(piece)
    except FramingError:
        pass


# -- inflating (COMPRESS=DEFLATE) -------------------------------------------------------


def deflate(*parts: bytes, level: int = 6) -> list[bytes]:
    """Each part compressed and flushed (Z_SYNC_FLUSH) as a client sends it: one piece each."""
    z = zlib.compressobj(level, zlib.DEFLATED, -15)
    return [z.compress(p) + z.flush(zlib.Z_SYNC_FLUSH) for p in parts]


@given(
    st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
             max_size=8),
    st.lists(st.integers(0, 4000)),
    st.integers(1, 64),
)  # fmt: skip
def test_inflating_frames_survive_any_chunking_and_any_inflate_step(
    lines: list[bytes], cuts: list[int], chunk: int
):
    wire = b"".join(deflate(*(line + b"\r\n" for line in lines)))
    framer = Inflating(Lines(max_line=100), chunk=chunk)
    assert frames_of(framer, chunks(wire, cuts)) == [line + b"\r\n" for line in lines]
    assert framer.pending() == 0


def test_inflating_counts_what_it_holds_compressed_and_inflated():
    framer = Inflating(Lines(max_line=100))
    (piece,) = deflate(b"a NOOP")  # no CRLF yet: a partial line
    framer.feed(piece)
    assert framer.pending() == len(piece)  # not inflated until a frame is asked for
    assert framer.next_frame() is None
    assert framer.pending() == len(b"a NOOP")
    framer.feed(deflate(b"\r\n")[0][:1])
    assert framer.pending() == len(b"a NOOP") + 1
    framer.clear()
    assert framer.pending() == 0
    assert framer.next_frame() is None


def test_inflating_takes_pieces_fed_before_a_frame_is_asked_for():
    (piece,) = deflate(b"a NOOP\r\nb NOOP\r\n")
    framer = Inflating(Lines(max_line=100), chunk=3)
    for i in range(0, len(piece), 5):  # fed in several reads, inflated together
        framer.feed(piece[i : i + 5])
    assert framer.next_frame() == b"a NOOP\r\n"
    # the frame came out of the first inflate steps: the rest is held, partly compressed
    assert 0 < framer.pending() <= len(piece)
    assert framer.next_frame() == b"b NOOP\r\n"
    assert framer.pending() == 0


def test_inflating_inflates_only_what_the_inner_framer_lets_through():
    """A DEFLATE bomb (a megabyte of one octet in about a kilobyte): the inner framer's line
    limit stops it after one inflate step, not after the whole megabyte is inflated."""
    (bomb,) = deflate(b"x" * (1 << 20), level=9)
    assert len(bomb) < 2000
    framer = Inflating(Lines(max_line=100), chunk=4096)
    framer.feed(bomb)
    with pytest.raises(FramingError, match="line longer than 100 octets") as e:
        framer.next_frame()
    assert e.value.too_big is True
    assert framer.inner.pending() <= 4096
    assert framer.pending() > 0  # the rest of the bomb, still compressed


def test_inflating_leaves_frames_after_the_first_compressed_until_asked():
    wire = b"".join(deflate(b"a\r\n" * 3000))
    framer = Inflating(Lines(max_line=100), chunk=1000)
    framer.feed(wire)
    assert framer.next_frame() == b"a\r\n"
    assert framer.inner.pending() < 1000  # one step inflated, the rest waits compressed
    assert len(frames_of(framer, [b""])) == 2999


def test_inflating_refuses_what_is_not_deflate():
    framer = Inflating(Lines(max_line=100))
    framer.feed(b"\xff\xff\xff\xff not compressed")
    with pytest.raises(FramingError, match="not DEFLATE data") as e:
        framer.next_frame()
    assert e.value.too_big is False  # wrong bytes, not a frame over a limit


def test_inflating_refuses_an_ended_stream():
    z = zlib.compressobj(6, zlib.DEFLATED, -15)
    framer = Inflating(Lines(max_line=100))
    framer.feed(z.compress(b"a NOOP\r\n") + z.flush())  # Z_FINISH: the stream ends
    with pytest.raises(FramingError, match=r"^the DEFLATE stream ended$") as e:
        framer.next_frame()
    assert e.value.too_big is False


def test_inflating_keeps_literals_working():
    framer = Inflating(Lines(max_line=100, literals=True, max_literal=50))
    framer.feed(b"".join(deflate(b"a LOGIN {3}\r\n")))
    request = framer.next_frame()
    assert isinstance(request, LiteralRequest) and request.size == 3
    framer.inner.accept_literal()  # type: ignore[attr-defined]
    framer.feed(b"".join(deflate(b"bob pw\r\n")))
    assert framer.next_frame() == b"a LOGIN {3}\r\nbob pw\r\n"
