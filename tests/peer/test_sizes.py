"""Sizes on the command line: the strict grammar, its edges, and writing sizes back."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peer.sizes import MAX_SIZE, format_size, parse_size

_GRAMMAR = (
    r"^invalid size {}: write a positive whole number of bytes, optionally followed by "
    r"KiB, MiB, GiB or TiB \(e\.g\. 16384, 256KiB, 4MiB\), at most 1024TiB$"
)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1", 1),
        ("16384", 16384),
        ("1KiB", 1024),
        ("64KiB", 65536),
        ("256KiB", 262144),
        ("4MiB", 4194304),
        ("1GiB", 1073741824),
        ("3TiB", 3 * 1099511627776),
        ("1024TiB", MAX_SIZE),
        ("1125899906842624", MAX_SIZE),  # 16 digits: the most the grammar takes
        ("1048576GiB", MAX_SIZE),
    ],
)
def test_sizes_people_write(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0",
        "0KiB",
        "00",
        "016384",
        "-1",
        "-4KiB",
        "+4KiB",
        "1.5MiB",
        "1_000",
        "256kb",
        "256KB",
        "256kib",
        "4MB",
        "4mib",
        "1PiB",
        "KiB",
        "256 KiB",
        " 256KiB",
        "256KiB ",
        "256KiB\n",
        "4MiBKiB",
        "1024TiB1",
        "\u0663",  # an Arabic-Indic digit 3: int() takes it, the grammar does not
        "12345678901234567",  # 17 digits: refused by the grammar, never given to int()
        "9" * 5000,
    ],
)
def test_everything_else_is_refused_saying_how_to_write_a_size(text: str) -> None:
    with pytest.raises(ValueError, match=_GRAMMAR.format(re.escape(repr(text)))):
        parse_size(text)


@pytest.mark.parametrize("text", ["1125899906842625", "1025TiB", "1048577GiB", "9999999999999999"])
def test_past_the_limit_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=rf"^invalid size '{text}': more than 1024TiB$"):
        parse_size(text)


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0"),
        (1, "1"),
        (1000, "1000"),
        (1023, "1023"),
        (1024, "1KiB"),
        (1536, "1536"),
        (16384, "16KiB"),
        (65536, "64KiB"),
        (262144, "256KiB"),
        (1 << 20, "1MiB"),
        (4 << 20, "4MiB"),
        ((1 << 20) + 1024, "1025KiB"),
        (1 << 30, "1GiB"),
        (3 << 30, "3GiB"),
        (1 << 40, "1TiB"),
        (1 << 50, "1024TiB"),
        ((1 << 40) + (1 << 30), "1025GiB"),
    ],
)
def test_format_uses_the_largest_exact_unit(n: int, text: str) -> None:
    assert format_size(n) == text


def test_format_refuses_a_negative_size() -> None:
    with pytest.raises(ValueError, match=r"^a size cannot be negative: -1$"):
        format_size(-1)


@given(st.integers(min_value=1, max_value=MAX_SIZE))
def test_format_then_parse_gives_the_size_back(n: int) -> None:
    assert parse_size(format_size(n)) == n


@given(st.text(max_size=20))
def test_garbage_is_a_size_or_a_value_error(text: str) -> None:
    try:
        size = parse_size(text)
    except ValueError as e:
        assert str(e).startswith(f"invalid size {text!r}: ")
    else:
        assert 1 <= size <= MAX_SIZE
