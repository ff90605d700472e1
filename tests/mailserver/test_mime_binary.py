"""BINARY[section] (RFC 3516) in the message core: the decoders (RFC 2045's robust base64 and
quoted-printable), leaf parts, and parts that hold others, with each leaf inside decoded and
its Content-Transfer-Encoding field saying "binary". The golden bytes for the whole message and
the message/rfc822 part are what Dovecot 2.3.19 answered to the same FETCH."""

from __future__ import annotations

import base64
import binascii

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailserver.message import Message, UnknownEncoding
from mailserver.message.binary import binary_section, decode
from mailserver.message.structure import parse_structure

BLOB = bytes(range(256)) * 2
ONE = (
    b"From: a@b\r\nTo: c@d\r\nSubject: one\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    + base64.encodebytes(b"line one\nline two\r\nline three\n").replace(b"\n", b"\r\n")
)
INNER = (
    b"From: x@y\r\nSubject: inner\r\nContent-Type: text/plain\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(b"inner body") + b"\r\n"
)


def mixed(*parts: bytes) -> bytes:
    """A multipart/mixed message of these parts (each its header, blank line and body)."""
    body = b"".join(b"--XX\r\n" + p + b"\r\n" for p in parts)
    return (
        b"From: a@b\r\nSubject: two\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=XX\r\n\r\npreamble\r\n" + body + b"--XX--\r\n"
    )


TWO = mixed(
    b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable"
    b"\r\n\r\ncaf=C3=A9 soft=\r\nbreak =3D sign=20\r\nbad =ZZ end",
    b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    + base64.encodebytes(BLOB).replace(b"\n", b"\r\n").rstrip(),
    b"Content-Type: message/rfc822\r\n\r\n" + INNER.rstrip(),
    b"Content-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\ncaf\xc3\xa9 eight",
    b"Content-Type: multipart/alternative; boundary=YY\r\n\r\n--YY\r\nContent-Type: text/plain"
    b"\r\nContent-Transfer-Encoding: BASE64\r\n\r\naGk=\r\n--YY--",
)
UUENCODED = b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: x-uuencode"


def binary(raw: bytes, *part: int) -> bytes:
    return bytes(binary_section(raw, parse_structure(raw), part))


# -- the decoders ----------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", [b"", b"7bit", b"8bit", b"binary"])
def test_identity_encodings_give_the_body_as_it_is(encoding: bytes) -> None:
    body = memoryview(b"=41 QUJD\r\n\x00")
    assert decode(encoding, body) is body  # not even copied


@pytest.mark.parametrize(
    ("body", "octets"),
    [
        (b"QUJD", b"ABC"),
        (b"QU\r\nJD\r\n", b"ABC"),  # line breaks are outside the alphabet
        (b"Q*U!J D\t", b"ABC"),  # so is anything else: skipped (RFC 2045 §6.8)
        (b"QUI=", b"AB"),
        (b"QQ==", b"A"),
        (b"QQ==QUJD", b"A"),  # "=" ends the data
        (b"QQ==QUI=", b"A"),  # the first "=" does
        (b"=QUJD", b""),  # even the first octet
        (b"QQ\r\n", b"A"),  # the padding missing counts only the alphabet's characters
        (b"QUI\r\n", b"AB"),
        (b"QUI", b"AB"),  # padding missing
        (b"QQ", b"A"),
        (b"QUJDR", b"ABC"),  # six bits left over: not an octet
        (b"", b""),
        (b"====", b""),
    ],
)
def test_base64_is_decoded_robustly(body: bytes, octets: bytes) -> None:
    assert decode(b"base64", body) == octets
    assert decode(b"base64", memoryview(body)) == octets


@pytest.mark.parametrize(
    ("body", "octets"),
    [
        (b"caf=C3=A9", b"caf\xc3\xa9"),
        (b"caf=c3=a9", b"caf\xc3\xa9"),  # lower-case hex digits too
        (b"soft=\r\nbreak", b"softbreak"),
        (b"soft=\nbreak", b"softbreak"),
        (b"soft=  \r\nbreak", b"softbreak"),  # white space after a soft break's "="
        (b"trailing   \r\nspace\t\r\n", b"trailing\r\nspace\r\n"),  # dropped (§6.7 (3))
        (b"kept=20\r\n", b"kept \r\n"),  # an encoded space is not transport padding
        (b"bad =ZZ end", b"bad =ZZ end"),  # kept as it is (§6.7's robust decoder)
        (b"x=00y", b"x\x00y"),
        (b"a_b", b"a_b"),  # "_" is a space only in encoded words (RFC 2047), not here
    ],
)
def test_quoted_printable_is_decoded_robustly(body: bytes, octets: bytes) -> None:
    assert decode(b"quoted-printable", body) == octets


@pytest.mark.parametrize("encoding", [b"x-uuencode", b"base-64", b"gzip"])
def test_an_unknown_encoding_is_refused(encoding: bytes) -> None:
    with pytest.raises(
        UnknownEncoding, match=f"^unknown Content-Transfer-Encoding {encoding.decode()}$"
    ):
        decode(encoding, b"data")


def test_the_refusal_names_a_long_or_8bit_encoding_shortly() -> None:
    shown = "^unknown Content-Transfer-Encoding x\ufffd{39}$"  # 40 octets, 8-bit ones replaced
    with pytest.raises(UnknownEncoding, match=shown):
        decode(b"x" + b"\xff" * 60, b"data")


@given(st.binary(max_size=2000))
def test_base64_and_quoted_printable_undo_their_encoders(octets: bytes) -> None:
    assert decode(b"base64", base64.encodebytes(octets)) == octets
    assert decode(b"base64", base64.b64encode(octets)) == octets
    encoded = binascii.b2a_qp(octets.replace(b"\r", b""), istext=False)
    assert decode(b"quoted-printable", encoded) == octets.replace(b"\r", b"")


# -- leaf parts ------------------------------------------------------------------------------


def test_a_single_part_message_is_part_one() -> None:
    assert binary(ONE, 1) == b"line one\nline two\r\nline three\n"  # octets as they were


def test_the_parts_of_a_multipart() -> None:
    assert binary(TWO, 1) == b"caf\xc3\xa9 softbreak = sign \r\nbad =ZZ end"
    assert binary(TWO, 2) == BLOB
    assert binary(TWO, 3, 1) == b"inner body"  # the embedded message's single part
    assert binary(TWO, 4) == b"caf\xc3\xa9 eight"
    assert binary(TWO, 5, 1) == b"hi"  # BASE64: the encoding's name is case-insensitive


def test_a_part_that_does_not_exist_is_empty() -> None:
    for part in [(6,), (2, 1), (3, 2), (1, 9), (5, 2), (9, 9, 9)]:
        assert binary(TWO, *part) == b""
    assert binary(ONE, 2) == b""


def test_a_part_without_an_encoding_field_is_7bit() -> None:
    raw = b"From: a@b\r\nSubject: plain\r\n\r\nplain body\r\n"
    assert binary(raw, 1) == b"plain body\r\n"
    assert binary(raw) == raw  # nothing to convert: the message as it is


def test_an_encoding_with_a_comment() -> None:
    raw = b"Subject: c\r\nContent-Transfer-Encoding: Base64 (the usual)\r\n\r\naGk=\r\n"
    assert binary(raw, 1) == b"hi"
    assert binary(raw) == b"Subject: c\r\nContent-Transfer-Encoding: binary\r\n\r\nhi"
    # the whole value goes, whatever it ends with (here a comment left open)
    raw = b"Subject: c\r\nContent-Transfer-Encoding: base64 (by MUA X\r\n\r\naGk=\r\n"
    assert binary(raw) == b"Subject: c\r\nContent-Transfer-Encoding: binary\r\n\r\nhi"


def test_an_unknown_encoding_fails_its_part_only() -> None:
    raw = mixed(UUENCODED + b"\r\n\r\nbegin 644 f\r\nend", b"Content-Type: text/plain\r\n\r\nok")
    with pytest.raises(UnknownEncoding, match="x-uuencode"):
        binary(raw, 1)
    assert binary(raw, 2) == b"ok"


def test_an_encoded_message_rfc822_part_is_a_leaf() -> None:
    raw = mixed(
        b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.b64encode(b"Subject: s\r\n\r\nbody")
    )
    assert binary(raw, 1) == b"Subject: s\r\n\r\nbody"


# -- parts that hold others: converted ---------------------------------------------------------


def test_the_whole_message_is_converted_as_dovecot_does() -> None:
    assert binary(ONE) == (
        b"From: a@b\r\nTo: c@d\r\nSubject: one\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        b"line one\nline two\r\nline three\n"
    )


def test_an_embedded_message_is_converted_as_dovecot_does() -> None:
    assert binary(TWO, 3) == (
        b"From: x@y\r\nSubject: inner\r\nContent-Type: text/plain\r\n"
        b"Content-Transfer-Encoding: binary\r\n\r\ninner body"
    )


def test_a_multipart_part_is_its_body_converted() -> None:
    assert binary(TWO, 5) == (
        b"--YY\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\n\r\nhi\r\n--YY--"
    )


def test_every_leaf_of_the_whole_message_is_converted_and_the_rest_kept() -> None:
    whole = binary(TWO)
    assert whole == (
        b"From: a@b\r\nSubject: two\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=XX\r\n\r\npreamble\r\n"
        b"--XX\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: binary"
        b"\r\n\r\ncaf\xc3\xa9 softbreak = sign \r\nbad =ZZ end\r\n"
        b"--XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary"
        b"\r\n\r\n" + BLOB + b"\r\n"
        b"--XX\r\nContent-Type: message/rfc822\r\n\r\nFrom: x@y\r\nSubject: inner\r\n"
        b"Content-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\n\r\ninner body\r\n"
        b"--XX\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        b"caf\xc3\xa9 eight\r\n"
        b"--XX\r\nContent-Type: multipart/alternative; boundary=YY\r\n\r\n--YY\r\n"
        b"Content-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\n\r\nhi\r\n--YY--\r\n"
        b"--XX--\r\n"
    )


def test_a_folded_encoding_field_is_replaced_whole() -> None:
    raw = b"Subject: f\r\nContent-Transfer-Encoding:\r\n  base64\r\nX-After: kept\r\n\r\naGk="
    assert binary(raw) == (
        b"Subject: f\r\nContent-Transfer-Encoding: binary\r\nX-After: kept\r\n\r\nhi"
    )


def test_lf_line_endings_are_kept_around_the_replaced_field() -> None:
    raw = b"Subject: f\nContent-Transfer-Encoding: quoted-printable\n\na=3Db\n"
    assert binary(raw) == b"Subject: f\nContent-Transfer-Encoding: binary\n\na=b\n"


def test_one_unknown_encoding_inside_fails_the_whole() -> None:
    raw = mixed(b"Content-Type: text/plain\r\n\r\nok", UUENCODED + b"\r\n\r\nbegin 644 f")
    with pytest.raises(UnknownEncoding, match="x-uuencode"):
        binary(raw)


# -- through Message, with a partial range ---------------------------------------------------


def test_each_part_is_decoded_once_per_message() -> None:
    msg = Message(TWO)
    assert msg.binary((2,)) is msg.binary((2,))  # BINARY.SIZE[2] BINARY[2]: one decoding
    assert bytes(msg.binary((2,), 0, 1)) == b"\x00"


def test_message_binary_with_a_partial_range_counts_decoded_octets() -> None:
    msg = Message(TWO)
    assert bytes(msg.binary((2,), 10, 20)) == BLOB[10:30]
    assert bytes(msg.binary((2,), 600, 100)) == b""
    assert bytes(msg.binary((2,), 500)) == BLOB[500:]
    assert bytes(msg.binary((2,))) == BLOB
    assert bytes(msg.binary(())) == binary(TWO)
