"""Flags: parsing, keyword rules, and the Maildir info letters."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailserver.store import flags as fl
from mailserver.store.errors import CANNOT, LIMIT, StoreError


def test_parse_system_flags_case_insensitively() -> None:
    assert fl.parse(["\\seen", "\\ANSWERED", "\\Flagged", "\\Deleted", "\\draft"]) == (31, ())
    assert fl.parse([]) == (0, ())
    assert fl.parse(["\\Seen", "\\Seen"]) == (fl.SEEN, ())


def test_parse_keywords_keeps_first_spelling() -> None:
    assert fl.parse(["$Forwarded", "Junk", "junk", "NonJunk"]) == (
        0,
        ("$Forwarded", "Junk", "NonJunk"),
    )


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("\\Recent", CANNOT),
        ("\\Unknown", CANNOT),
        ("", CANNOT),
        ("a" * 129, LIMIT),
        ("a b", CANNOT),
        ("a(b", CANNOT),
        ("a)", CANNOT),
        ("a]", CANNOT),
        ("a%", CANNOT),
        ("a*", CANNOT),
        ('a"', CANNOT),
        ("a{", CANNOT),
        ("a\\b", CANNOT),
        ("é", CANNOT),
        ("a\x7f", CANNOT),
        ("a\x01", CANNOT),
        ("a\x20", CANNOT),
    ],
)
def test_parse_refuses(name: str, code: str) -> None:
    if name.startswith("\\"):
        message = f"cannot store flag {name!r}"
    elif not name or len(name) > 128:
        message = "keyword must be 1..128 characters"
    else:
        message = f"invalid keyword {name!r}"
    with pytest.raises(StoreError, match=f"^{re.escape(message)}$") as info:
        fl.parse([name])
    assert info.value.code == code


def test_keyword_edge_characters_accepted() -> None:
    assert fl.parse(["$a!#&'+-./:;<=>?@^_`|~[", "\x21\x7e"]) == (
        0,
        ("$a!#&'+-./:;<=>?@^_`|~[", "!~"),
    )


def test_keyword_limits_at_their_edge() -> None:
    fl.check_keyword("a" * 128)
    many = [f"k{i}" for i in range(64)]
    assert len(fl.parse(many)[1]) == 64
    with pytest.raises(StoreError, match=r"^more than 64 keywords on a message$") as info:
        fl.parse([*many, "one-more"])
    assert info.value.code == LIMIT


def test_merge_and_remove() -> None:
    assert fl.merge(("A", "b"), ["a", "C"]) == ("A", "b", "C")
    assert fl.remove(("A", "b", "C"), ["B", "x"]) == ("A", "C")
    assert fl.remove((), ["x"]) == ()


def test_names_order() -> None:
    assert fl.names(31, ("k",)) == (
        "\\Seen",
        "\\Answered",
        "\\Flagged",
        "\\Deleted",
        "\\Draft",
        "k",
    )
    assert fl.names(0) == ()
    assert fl.names(fl.DELETED | fl.SEEN) == ("\\Seen", "\\Deleted")


def test_keywords_text_round_trip() -> None:
    assert fl.join_keywords(("a", "$B")) == "a $B"
    assert fl.split_keywords("a $B") == ("a", "$B")
    assert fl.split_keywords("") == ()


@pytest.mark.parametrize(
    ("bits", "keywords", "keep", "info"),
    [
        (0, (), "", ""),
        (fl.SEEN, (), "", "S"),
        (31, (), "", "DFRST"),
        (fl.SEEN | fl.ANSWERED, ("$forwarded",), "", "PRS"),
        (fl.FLAGGED, ("other",), "ab", "Fab"),
        (fl.FLAGGED, (), "SPa", "Fa"),  # the letters we own come from the flags, not `keep`
    ],
)
def test_to_info(bits: int, keywords: tuple[str, ...], keep: str, info: str) -> None:
    assert fl.to_info(bits, keywords, keep) == info


def test_from_info() -> None:
    assert fl.from_info("DFPRST") == (31, True, "")
    assert fl.from_info("") == (0, False, "")
    assert fl.from_info("Sab") == (fl.SEEN, False, "ab")
    assert fl.from_info("P") == (0, True, "")


@given(st.integers(0, 31), st.booleans())
def test_info_round_trip(bits: int, forwarded: bool) -> None:
    keywords = ("$Forwarded",) if forwarded else ()
    assert fl.from_info(fl.to_info(bits, keywords)) == (bits, forwarded, "")


@given(st.lists(st.text(max_size=10), max_size=5))
def test_garbage_flags_raise_only_store_error(given_names: list[str]) -> None:
    try:
        bits, keywords = fl.parse(given_names)
    except StoreError:
        return
    assert 0 <= bits <= 31
    assert all(k and k.isascii() and " " not in k for k in keywords)
