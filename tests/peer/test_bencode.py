"""The strict bencoding decoder: canonical spellings only, bounds at their edges, spans of the
top-level values, and the points where bencode.py (bencodepy) is too lax for untrusted input."""

from __future__ import annotations

import inspect
import re

import bencodepy
import pytest
from hypothesis import given
from hypothesis import strategies as st

from peer.bencode import MAX_DEPTH, MAX_VALUES, BencodeError, Value, decode, decode_dict

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
VALUES: st.SearchStrategy[Value] = st.recursive(
    INT64 | st.binary(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.binary(max_size=6), inner),
    max_leaves=20,
)


@pytest.mark.parametrize(
    ("data", "value"),
    [
        (b"i0e", 0),
        (b"i7e", 7),
        (b"i-7e", -7),
        (b"i10e", 10),
        (b"i9223372036854775807e", 2**63 - 1),
        (b"i9999999999999999999e", 9999999999999999999),  # 19 digits: the most taken
        (b"i-9999999999999999999e", -9999999999999999999),
        (b"0:", b""),
        (b"3:abc", b"abc"),
        (b"10:0123456789", b"0123456789"),
        (b"3:i1e", b"i1e"),
        (b"le", []),
        (b"de", {}),
        (b"li1e0:lee", [1, b"", []]),
        (b"d1:Bi1e1:ai2e2:abi3e1:bdee", {b"B": 1, b"a": 2, b"ab": 3, b"b": {}}),
        (b"d0:i0e1:\x00i1e1:\xffi2ee", {b"": 0, b"\x00": 1, b"\xff": 2}),  # byte order
    ],
)
def test_canonical_values(data: bytes, value: Value) -> None:
    assert decode(data) == value


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "truncated at byte 0"),
        (b"l", "truncated at byte 1"),
        (b"li1e", "truncated at byte 4"),
        (b"d1:a", "truncated at byte 4"),
        (b"d1:ai1e", "truncated at byte 7"),
        (b"i03e", "invalid integer at byte 0"),
        (b"i00e", "invalid integer at byte 0"),
        (b"i-0e", "invalid integer at byte 0"),
        (b"i-03e", "invalid integer at byte 0"),
        (b"i+3e", "invalid integer at byte 0"),
        (b"i 3e", "invalid integer at byte 0"),
        (b"i3 e", "invalid integer at byte 0"),
        (b"i1_0e", "invalid integer at byte 0"),
        (b"ie", "invalid integer at byte 0"),
        (b"i-e", "invalid integer at byte 0"),
        (b"i--1e", "invalid integer at byte 0"),
        (b"i1", "invalid integer at byte 0"),
        (b"i\xd9\xa3e", "invalid integer at byte 0"),  # an Arabic-Indic 3 in UTF-8
        (b"i10000000000000000000e", "invalid integer at byte 0"),  # 20 digits
        (b"i-10000000000000000000e", "invalid integer at byte 0"),
        (b"li1ei03ee", "invalid integer at byte 4"),
        (b"03:abc", "invalid value at byte 0"),
        (b"-1:", "invalid value at byte 0"),
        (b"+3:abc", "invalid value at byte 0"),
        (b" 3:abc", "invalid value at byte 0"),
        (b"3 :abc", "invalid value at byte 0"),
        (b"1_0:aaaaaaaaaa", "invalid value at byte 0"),
        (b"3abc", "invalid value at byte 0"),
        (b"e", "invalid value at byte 0"),
        (b"x", "invalid value at byte 0"),
        (b"12345678901:", "invalid value at byte 0"),  # 11 digits of length
        (b"1234567890:", "string at byte 0 runs past the end"),  # 10 digits: read, too long
        (b"4:abc", "string at byte 0 runs past the end"),
        (b"l5:abce", "string at byte 1 runs past the end"),
        (b"di1ei2ee", "invalid value at byte 1"),  # keys are strings
        (b"dlei1ee", "invalid value at byte 1"),
        (b"d1:bi1e1:ai2ee", "unsorted dictionary key b'a' at byte 7"),
        (b"d2:abi1e1:ai2ee", "unsorted dictionary key b'a' at byte 8"),
        (b"d1:ai1e1:ai2ee", "duplicate dictionary key b'a' at byte 7"),
        (b"d0:i1e0:i2ee", "duplicate dictionary key b'' at byte 6"),
        (b"i1ei2e", "data after the end of the value at byte 3"),
        (b"lee", "data after the end of the value at byte 2"),
        (b"0:\x00", "data after the end of the value at byte 2"),
    ],
)
def test_everything_else_is_refused_saying_where(data: bytes, reason: str) -> None:
    with pytest.raises(BencodeError, match=rf"^{re.escape(reason)}$") as info:
        decode(data)
    assert info.value.reason == reason


@pytest.mark.parametrize(("open_", "close"), [(b"l", b"e"), (b"d1:a", b"e")])
def test_nesting_is_bounded_at_max_depth(open_: bytes, close: bytes) -> None:
    inner = b"le" if open_ == b"l" else b"de"
    deepest = open_ * (MAX_DEPTH - 1) + inner + close * (MAX_DEPTH - 1)
    assert decode(deepest)  # MAX_DEPTH containers, one in the other
    too_deep = open_ * MAX_DEPTH + inner + close * MAX_DEPTH
    at = len(open_) * MAX_DEPTH
    with pytest.raises(BencodeError, match=rf"^nested deeper than 32 at byte {at}$"):
        decode(too_deep)


def test_max_depth_is_32() -> None:
    assert MAX_DEPTH == 32


def test_a_million_values_by_default() -> None:
    assert MAX_VALUES == 1_000_000
    for function in (decode, decode_dict):
        assert inspect.signature(function).parameters["max_values"].default == MAX_VALUES


def test_values_are_counted_up_to_max_values() -> None:
    assert decode(b"l0:0:0:e", max_values=4) == [b"", b"", b""]  # the list and its 3 items
    with pytest.raises(BencodeError, match=r"^more than 3 values$"):
        decode(b"l0:0:0:e", max_values=3)
    assert decode(b"i5e", max_values=1) == 5
    with pytest.raises(BencodeError, match=r"^more than 0 values$"):
        decode(b"i5e", max_values=0)


def test_keys_count_as_values() -> None:
    data = b"ld1:ai1e1:bi2eee"  # a list, a dictionary, two keys, two values
    assert decode(data, max_values=6) == [{b"a": 1, b"b": 2}]
    with pytest.raises(BencodeError, match=r"^more than 5 values$"):
        decode(data, max_values=5)


def test_decode_dict_gives_the_span_of_each_top_level_value() -> None:
    data = b"d1:ai1e4:infod6:lengthi5eee"
    value, spans = decode_dict(data)
    assert value == {b"a": 1, b"info": {b"length": 5}}
    assert spans == {b"a": (4, 7), b"info": (13, 26)}
    assert data[13:26] == b"d6:lengthi5ee"
    assert decode_dict(b"de") == ({}, {})


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "not a dictionary"),
        (b"le", "not a dictionary"),
        (b"i1e", "not a dictionary"),
        (b"dee", "data after the end of the value at byte 2"),
        (b"d1:ai1e", "truncated at byte 7"),
        (b"d1:bi1e1:ai1ee", "unsorted dictionary key b'a' at byte 7"),
        (b"d1:a" + b"l" * MAX_DEPTH + b"e" * MAX_DEPTH + b"e", "nested deeper than 32 at byte 35"),
    ],
)
def test_decode_dict_refuses(data: bytes, reason: str) -> None:
    with pytest.raises(BencodeError, match=rf"^{re.escape(reason)}$"):
        decode_dict(data)


def test_decode_dict_counts_itself_and_nests_like_decode() -> None:
    inside = b"1:a" + b"l" * (MAX_DEPTH - 1) + b"e" * (MAX_DEPTH - 1)
    assert decode_dict(b"d" + inside + b"e")[0] == decode(b"d" + inside + b"e")
    data = b"d1:al0:0:ee"  # the dictionary, its key, the list, two items
    assert decode_dict(data, max_values=5) == ({b"a": [b"", b""]}, {b"a": (4, 10)})
    with pytest.raises(BencodeError, match=r"^more than 4 values$"):
        decode_dict(data, max_values=4)


@given(VALUES)
def test_decode_reads_what_bencode_py_writes(value: Value) -> None:
    data = bencodepy.encode(value)
    assert decode(data) == value


@given(st.dictionaries(st.binary(max_size=6), VALUES, max_size=4))
def test_spans_hold_the_bytes_of_each_value(value: dict[bytes, Value]) -> None:
    data = bencodepy.encode(value)
    decoded, spans = decode_dict(data)
    assert decoded == value
    assert {k: data[a:b] for k, (a, b) in spans.items()} == {
        k: bencodepy.encode(v) for k, v in value.items()
    }


@given(st.binary(max_size=64))
def test_garbage_raises_only_bencode_error(data: bytes) -> None:
    try:
        value = decode(data)
    except BencodeError:
        return
    assert bencodepy.encode(value) == data  # anything taken is in its one canonical spelling


@given(VALUES, st.data())
def test_a_damaged_encoding_is_refused_or_canonical(value: Value, data: st.DataObject) -> None:
    raw = bytearray(bencodepy.encode(value))
    at = data.draw(st.integers(0, len(raw) - 1))
    raw[at] = data.draw(st.sampled_from(b"ilde0123456789-:x "))
    for decoder in (decode, decode_dict):
        try:
            result = decoder(bytes(raw))
        except BencodeError:
            continue
        got = result[0] if decoder is decode_dict else result
        assert bencodepy.encode(got) == bytes(raw)


# bencode.py 4.1.0 (the project's dependency) on the same inputs: why we decode ourselves.
@pytest.mark.parametrize(
    ("data", "lax"),
    [
        (b"i+3e", 3),  # int() reads a sign,
        (b"i 3e", 3),  # spaces,
        (b"i3 e", 3),
        (b"i1_0e", 10),  # and underscores
        (b"1_0:aaaaaaaaaa", b"a" * 10),  # in string lengths too
        (b"3 :abc", b"abc"),
        (b"d1:bi1e1:ai2ee", {b"b": 1, b"a": 2}),  # unsorted keys taken
        (b"d1:ai1e1:ai2ee", {b"a": 2}),  # a duplicate key: the last value silently wins
    ],
)
def test_bencode_py_is_too_lax_for_untrusted_input(data: bytes, lax: object) -> None:
    assert bencodepy.decode(data) == lax
    with pytest.raises(BencodeError):
        decode(data)


def test_a_duplicate_length_would_give_one_info_hash_two_readings() -> None:
    info = b"d6:lengthi1e6:lengthi99999e4:name1:ae"
    assert bencodepy.decode(info)[b"length"] == 99999  # another reader may take 1
    with pytest.raises(BencodeError, match=r"^duplicate dictionary key b'length' at byte 12$"):
        decode(info)
