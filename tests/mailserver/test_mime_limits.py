"""The message core at its limits: 1,000 levels of nesting, 10,000 parts, 50 MB bodies (timed).

Kept apart from the fast tests that mutation testing runs for every mutant.
"""

from __future__ import annotations

import time

from mailserver.message import Limits, Message, parse_section
from tests.mailserver.mimedata import depth_of, many_parts, nested_messages, nested_multiparts


def test_nesting_depth_limit_for_messages() -> None:
    raw = nested_messages(1000)
    msg = Message(raw)
    assert depth_of(msg.root) == 100
    assert msg.bodystructure()  # builds without hitting Python's recursion limit
    # The 100th embedded message is not opened: its body is the rest, opaque.
    opaque = bytes(msg.section(parse_section(b".".join([b"1"] * 100) + b".TEXT")))
    assert opaque == nested_messages(899)
    assert bytes(msg.section(parse_section(b".".join([b"1"] * 101) + b".TEXT"))) == b""
    innermost_header = msg.section(parse_section(b".".join([b"1"] * 99) + b".HEADER"))
    assert innermost_header == b"Subject: 0\r\nContent-Type: message/rfc822\r\n\r\n"
    assert Message(nested_messages(99)).section(parse_section(b"1" + b".1" * 99)) == b"x"


def test_nesting_depth_limit_for_multiparts() -> None:
    raw = nested_multiparts(1000)
    root = Message(raw).root
    assert depth_of(root) == 100
    small = nested_multiparts(5)
    msg = Message(small, Limits(max_depth=3))
    assert depth_of(msg.root) == 3
    opaque = msg.root.children[0].children[0].children[0]
    assert opaque.children == [] and opaque.is_multipart
    assert bytes(msg.section(parse_section(b"1.1.1"))).startswith(b"--b3\r\n")
    assert bytes(Message(small).section(parse_section(b"1.1.1.1.1"))) == b"leaf"


def test_ten_thousand_parts_stop_at_the_part_limit() -> None:
    raw = many_parts(10_000)
    msg = Message(raw)
    assert len(msg.root.children) == 9_999  # the message itself is the 10,000th entity
    assert bytes(msg.section(parse_section(b"9999"))) == b"part 9998"
    assert bytes(msg.section(parse_section(b"10000"))) == b""
    assert len(msg.bodystructure()) == 9_999 + 5


def test_fifty_megabyte_attachment_is_parsed_in_linear_time() -> None:
    attachment = (
        b"QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\r\n"
    ) * (50_000_000 // 74)
    raw = (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n\r\nhello\r\n--b\r\n'
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + attachment
        + b"--b--\r\n"
    )
    started = time.perf_counter()
    msg = Message(raw)
    structure = msg.bodystructure()
    elapsed = time.perf_counter() - started
    assert structure[1][6] == len(attachment) - 2
    assert msg.section(parse_section(b"2")).obj is raw
    assert msg.body_matches("hello")
    assert not msg.body_matches("AAAA")  # not a text part: not searched
    # One pass of bytes.find over 50 MB: well under a second even on a loaded 2-core machine.
    assert elapsed < 2.0, elapsed


def test_fifty_megabyte_text_body_is_searched_in_bounded_chunks() -> None:
    body = b"=C3=A9t=C3=A9 line of quoted-printable text\r\n" * (50_000_000 // 44)
    raw = (
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    )
    msg = Message(raw + body + b"needle at the end\r\n")
    started = time.perf_counter()
    assert msg.body_matches("NEEDLE AT THE END")
    assert msg.body_matches("ÉTÉ LINE")
    assert time.perf_counter() - started < 20.0


def timed(raw: bytes) -> tuple[Message, float]:
    """Parse `raw` and build its BODYSTRUCTURE and ENVELOPE; the seconds it took."""
    started = time.perf_counter()
    msg = Message(raw)
    msg.bodystructure()
    msg.envelope()
    return msg, time.perf_counter() - started


# Bounds are loose: the machine is shared with mutation runs; what they catch is a quadratic
# or per-line Python cost, which takes minutes on these inputs.
def test_fifty_megabyte_header_without_blank_line() -> None:
    line = b"X-Header: " + b"a" * 62 + b"\r\n"
    raw = b"Subject: big\r\n" + line * (50_000_000 // len(line))
    msg, elapsed = timed(raw)
    assert elapsed < 10.0, elapsed
    assert msg.envelope()[1] == b"big"
    assert msg.section(parse_section(b"HEADER.FIELDS (subject)")) == b"Subject: big\r\n\r\n"
    assert bytes(msg.section(parse_section(b"TEXT"))) == b""


def test_millions_of_lines_starting_with_dashes() -> None:
    head = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
    for line in (b"--c\r\n", b"--bx\r\n", b"--b-\r\n"):
        msg, elapsed = timed(head + line * 8_000_000)
        assert elapsed < 10.0, (line, elapsed)
        assert msg.root.children == []


def test_millions_of_empty_parts_stop_at_the_part_limit() -> None:
    raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + b"--b\r\n" * 8_000_000
    msg, elapsed = timed(raw)
    assert elapsed < 10.0, elapsed
    assert len(msg.root.children) == 9_999
    assert msg.root.body_end == len(raw)


def test_quoted_printable_with_a_ten_megabyte_run_of_spaces() -> None:
    """BINARY drops the white space at the ends of quoted-printable lines: in one pass, not
    one per space of a run that no line end follows (quadratic: hours for this one)."""
    head = b"Subject: qp\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    for body, decoded in (
        (b" " * 10_000_000 + b"x", b" " * 10_000_000 + b"x"),
        (b"a  \t \r\n" * 2_000_000, b"a\r\n" * 2_000_000),
    ):
        started = time.perf_counter()
        assert bytes(Message(head + body).binary((1,))) == decoded
        assert time.perf_counter() - started < 10.0
