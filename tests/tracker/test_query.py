"""Raw query string parsing: percent-encoded binary, '+', bad escapes, duplicates."""

from __future__ import annotations

import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st

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


@pytest.mark.parametrize(
    "bad", [b"%", b"%4", b"%zz", b"%g0", b"a%", b"%4%41", b"% 4", b"%\xff\xff"]
)
def test_bad_escapes_are_errors_not_literals(bad: bytes) -> None:
    with pytest.raises(RequestError, match="bad percent escape"):
        parse_query(b"info_hash=" + bad)
    with pytest.raises(RequestError, match="bad percent escape"):
        parse_query(b"port=1&peer_id=" + bad + b"&x=%41")


def test_repeated_info_hash_is_collected_in_order() -> None:
    _, hashes = parse_query(b"info_hash=" + enc(b"a" * 20) + b"&info_hash=" + enc(b"b" * 20))
    assert hashes == [b"a" * 20, b"b" * 20]


def test_duplicate_single_valued_parameter_is_an_error() -> None:
    with pytest.raises(RequestError, match="duplicate parameter 'port'"):
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
