"""Modified UTF-7 mailbox names: RFC 3501 §5.1.3 examples, strict decoding, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailserver.imap.utf7 import Utf7Error, decode, encode

# RFC 3501 §5.1.3: "~peter/mail/台北/日本語" and the smiley example.
RFC_EXAMPLES = [
    ("~peter/mail/\u53f0\u5317/\u65e5\u672c\u8a9e", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
    ("\u263a!", "&Jjo-!"),
    ("Tom & Jerry", "Tom &- Jerry"),
    ("", ""),
    ("INBOX", "INBOX"),
    ("caf\xe9", "caf&AOk-"),
    ("\U0001f600", "&2D3eAA-"),  # a surrogate pair
    ("a\tb", "a&AAk-b"),  # a control character is encoded, never sent raw
    ("&&", "&-&-"),
    ("\xe9&\xe9", "&AOk-&-&AOk-"),
]


@pytest.mark.parametrize(("name", "wire"), RFC_EXAMPLES)
def test_encode_and_decode_the_examples(name: str, wire: str):
    assert encode(name) == wire
    assert decode(wire) == name
    assert decode(wire.encode("ascii")) == name


@pytest.mark.parametrize(
    ("wire", "why"),
    [
        ("a&b", "'&' without a closing '-'"),
        ("&", "'&' without a closing '-'"),
        ("&AOk", "'&' without a closing '-'"),
        ("&AO/-", "character outside modified base64"),
        ("&AO=-", "character outside modified base64"),
        ("&AOkA-", "encoded run of a length no UTF-16 text has$"),
        ("&A-", "encoded run of a length no UTF-16 text has$"),
        ("&AOl-", "encoded run with nonzero leftover bits$"),
        ("&AGE-", r"encoded run holds printable ASCII \(not the shortest form\)$"),  # "a" encoded
        (
            "&ACY-",
            r"encoded run holds printable ASCII \(not the shortest form\)$",
        ),  # "&" encoded instead of "&-"
        ("&AOk-&AOk-", "two encoded runs side by side"),
        ("&2D0-", "encoded run with a broken surrogate pair$"),  # a lone high surrogate
        ("&3gA-", "encoded run with a broken surrogate pair$"),  # a lone low surrogate
        ("a\tb", "control character"),
        ("a\x7fb", "control character"),
    ],
)
def test_decode_refuses_what_the_rfc_forbids(wire: str, why: str):
    with pytest.raises(Utf7Error, match=r"^" + why):
        decode(wire)


def test_decode_refuses_8bit_octets():
    with pytest.raises(Utf7Error, match=r"^8-bit octet in a mailbox name"):
        decode("caf\xe9".encode("latin-1"))
    with pytest.raises(Utf7Error, match=r"^control character"):
        decode("caf\xe9")


def test_runs_apart_are_allowed_and_an_ampersand_between_is_not_a_run():
    assert decode("&AOk-x&AOk-") == "\xe9x\xe9"
    assert decode("&AOk-&-") == "\xe9&"


def test_a_lone_surrogate_cannot_be_encoded():
    with pytest.raises(Utf7Error, match=r"^a lone surrogate cannot be encoded$"):
        encode("a\ud800b")


def test_long_runs_use_every_length_class():
    for n in range(1, 8):
        name = "\xe9" * n
        assert decode(encode(name)) == name


names = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)


@given(names)
def test_round_trip_and_wire_form_is_printable_ascii(name: str):
    wire = encode(name)
    assert all(0x20 <= ord(c) <= 0x7E for c in wire)
    assert decode(wire) == name


@given(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40))
def test_anything_that_decodes_is_canonical(wire: str):
    try:
        name = decode(wire)
    except Utf7Error:
        return
    assert encode(name) == wire


def test_a_run_stops_at_the_next_printable_character_including_space():
    assert encode("\xe9 \xe9") == "&AOk- &AOk-"
    assert encode("\xe9~") == "&AOk-~"
    assert encode("\x1f\x7f") == "&AB8Afw-"


def test_a_run_of_three_units_keeps_its_last_character():
    """Eight base64 characters and no padding: nothing may be stripped from the end."""
    assert encode("\xe9\xe9\xd7") == "&AOkA6QDX-"
    assert decode("&AOkA6QDX-") == "\xe9\xe9\xd7"


@pytest.mark.parametrize("wire", ["&ACA-", "&AH4-", "&AOkAIA-"])
def test_a_run_may_not_encode_space_or_tilde(wire: str):
    with pytest.raises(Utf7Error, match=r"^encoded run holds printable ASCII"):
        decode(wire)


def test_control_characters_and_del_are_encoded():
    assert decode("&AB8Afw-") == "\x1f\x7f"
