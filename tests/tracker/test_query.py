"""Raw query string parsing: percent-encoded binary, '+', bad escapes, duplicates."""

from __future__ import annotations

import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracker import query
from tracker.errors import RequestError
from tracker.query import parse_query, unquote

IH = bytes(range(0x80, 0x94))  # 20 bytes, none printable: must never pass through text


def enc(b: bytes) -> bytes:
    return "".join(f"%{x:02X}" for x in b).encode()


def test_binary_info_hash_and_peer_id_stay_bytes() -> None:
    raw = b"info_hash=" + enc(IH) + b"&peer_id=-AB1234-" + enc(b"\x00\xff" * 6) + b"&port=6881"
    params, hashes = parse_query(raw)
    assert hashes == [IH]
    assert params[b"peer_id"] == b"-AB1234-" + b"\x00\xff" * 6
    assert params[b"port"] == b"6881"


def test_lowercase_escapes_and_literal_bytes_mix() -> None:
    params, hashes = parse_query(b"info_hash=a%62c%2f%2F&x=1")
    assert hashes == [b"abc//"]
    assert params == {b"x": b"1"}


def test_plus_is_a_space_but_encoded_plus_is_a_plus() -> None:
    params, _ = parse_query(b"key=a+b%2Bc")
    assert params[b"key"] == b"a b+c"


# All escapes, but of whitespace, which bytes.fromhex skips ('+' is a space).
_WHITESPACE_ESCAPES = [b"%  ", b"%41% \t", b"%++"]


@pytest.mark.parametrize(
    "bad",
    [b"%", b"%4", b"%zz", b"%g0", b"a%", b"%4%41", b"% 4", b"%\xff\xff", *_WHITESPACE_ESCAPES],
)
def test_bad_escapes_are_errors_not_literals(bad: bytes) -> None:
    with pytest.raises(RequestError, match=r"^malformed query string: bad percent escape$"):
        parse_query(b"info_hash=" + bad)
    with pytest.raises(RequestError, match=r"^malformed query string: bad percent escape$"):
        parse_query(b"port=1&peer_id=" + bad + b"&x=%41")


def test_repeated_info_hash_is_collected_in_order() -> None:
    _, hashes = parse_query(b"info_hash=" + enc(b"a" * 20) + b"&info_hash=" + enc(b"b" * 20))
    assert hashes == [b"a" * 20, b"b" * 20]


def test_duplicate_single_valued_parameter_is_an_error() -> None:
    with pytest.raises(RequestError, match=r"^duplicate parameter 'port'$"):
        parse_query(b"port=1&left=0&port=2")


def test_empty_pairs_and_missing_values() -> None:
    params, hashes = parse_query(b"&a=&&b&c=%41&")
    assert params == {b"a": b"", b"b": b"", b"c": b"A"}
    assert hashes == []
    assert parse_query(b"") == ({}, [])


def test_value_with_equals_sign_keeps_the_rest() -> None:
    params, _ = parse_query(b"key=a=b&port=1")
    assert params == {b"key": b"a=b", b"port": b"1"}


@pytest.mark.parametrize("pair", [b"k%d=1", b"k%d", b"info_hash=%d"])  # fast and general paths
def test_at_most_128_parameters(pair: bytes) -> None:
    params, hashes = parse_query(b"&".join(pair % i for i in range(128)))
    assert len(params) + len(hashes) == 128
    with pytest.raises(RequestError, match=r"^malformed query string: too many parameters$"):
        parse_query(b"&".join(pair % i for i in range(129)))


def test_encoded_keys_are_decoded() -> None:
    params, hashes = parse_query(b"info%5Fhash=" + enc(IH) + b"&p%6Frt=1")
    assert hashes == [IH]
    assert params == {b"port": b"1"}


_QUERY_BYTES = st.binary(max_size=200) | st.lists(
    st.sampled_from(
        [
            b"info_hash=",
            b"peer_id=",
            b"%",
            b"%4",
            b"%41",
            b"+",
            b"&",
            b"=",
            b"a",
            b"port=1",
            b"\\",
            b"\\x41",
            b"%5C",
            b"%%",
        ]
    ),
    max_size=40,
).map(b"".join)


@given(_QUERY_BYTES)
def test_random_query_strings_raise_only_request_error(raw: bytes) -> None:
    try:
        params, hashes = parse_query(raw)
    except RequestError:
        return
    assert all(isinstance(v, bytes) for v in params.values())
    assert all(isinstance(h, bytes) for h in hashes)


@given(st.binary(max_size=60))
def test_unquote_inverts_quoting(value: bytes) -> None:
    assert unquote(urllib.parse.quote_from_bytes(value).encode()) == value
    assert unquote(enc(value)) == value
    assert unquote(urllib.parse.quote_plus(value).encode()) == value


@given(_QUERY_BYTES)
def test_fast_and_general_parsers_agree_with_the_standard_library(raw: bytes) -> None:
    try:
        params, hashes = parse_query(raw)
    except RequestError:
        return
    expected = urllib.parse.parse_qsl(
        raw.decode("latin-1"), keep_blank_values=True, encoding="latin-1"
    )
    got = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in params.items()]
    got += [("info_hash", h.decode("latin-1")) for h in hashes]
    assert sorted(got) == sorted(expected)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (b"info_hash=a+b&key=%41", b"A"),  # one '+' in info_hash, one '%' elsewhere
        (b"peer_id=a%41&key=x+y", b"x y"),
        (b"info_hash=%41%42&peer_id=c+d&key=%2B", b"+"),
    ],
)
def test_escapes_in_any_parameter_are_decoded_whatever_else_has_them(
    raw: bytes, key: bytes
) -> None:
    params, _ = parse_query(raw)
    assert params[b"key"] == key


# What clients send: info_hash all escapes (libtorrent, Transmission), peer_id a client prefix
# and escapes, '+' for a space in a form-encoded value.
ANNOUNCES = [
    b"info_hash=" + enc(IH) + b"&peer_id=-lt0D80-" + enc(b"\x01" * 12) + b"&port=6881&left=0",
    b"info_hash=%41B%43" + b"D" * 17 + b"&peer_id=-TR3000-a+b%21cdefghi&port=51413&key=1a2b",
    b"port=1&info_hash=" + enc(IH) + b"&compact=1&numwant=50&event=started&uploaded=0",
    b"peer_id=-qB4250-" + enc(b"+%" * 6) + b"&info_hash=" + b"x" * 20,
]


@pytest.mark.parametrize("raw", ANNOUNCES)
def test_what_clients_send_is_parsed_on_the_fast_path(
    raw: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The documented cost (one C-level split, no per-pair Python loop): a client's ordinary
    # announce must not fall back to the general parser. Same result either way (tested above).
    expected = query._parse_general(raw)

    def general(raw: bytes) -> None:
        raise AssertionError("an ordinary announce took the general parser")

    monkeypatch.setattr(query, "_parse_general", general)
    assert parse_query(raw) == expected


@pytest.mark.parametrize("value", [b"\x00", b"\\", IH, bytes(range(256)), b"%+ \\x41"])
def test_a_value_that_is_only_escapes_is_decoded_without_the_general_decoder(
    value: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # info_hash as most clients send it: through bytes.fromhex (1.0 us instead of 1.7 us).
    monkeypatch.setattr(query.codecs, "escape_decode", None)
    assert unquote(enc(value)) == value
    assert unquote(enc(value).lower()) == value
