"""Mailbox names: canonical form, Maildir++ folders and LIST/LSUB matching."""

from __future__ import annotations

import contextlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailserver.store import names
from mailserver.store.errors import CANNOT, LIMIT, StoreError


@pytest.mark.parametrize(
    ("given_name", "canonical"),
    [
        ("INBOX", "INBOX"),
        ("inbox", "INBOX"),
        ("InBoX/Sub", "INBOX/Sub"),
        ("Inboxes", "Inboxes"),
        ("Sent", "Sent"),
        ("a/b/c", "a/b/c"),
        ("Été/Reçus", "Été/Reçus"),
        ("a.b", "a.b"),
    ],
)
def test_normalize(given_name: str, canonical: str) -> None:
    assert names.normalize(given_name) == canonical


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("", "empty mailbox name"),
        ("/a", "empty hierarchy level in mailbox name '/a'"),
        ("a/", "empty hierarchy level in mailbox name 'a/'"),
        ("a//b", "empty hierarchy level in mailbox name 'a//b'"),
        ("a*b", "mailbox name 'a*b' contains '*'"),
        ("a%", "mailbox name 'a%' contains '%'"),
        ("a\x00", "mailbox name 'a\\x00' contains '\\x00'"),
        ("tab\there", "mailbox name 'tab\\there' contains '\\t'"),
        ("us\x1f", "mailbox name 'us\\x1f' contains '\\x1f'"),
        ("del\x7f", "mailbox name 'del\\x7f' contains '\\x7f'"),
        ("lone\ud800", "mailbox name 'lone\\ud800' contains '\\ud800'"),
        ("hi\udfff", "mailbox name 'hi\\udfff' contains '\\udfff'"),
    ],
)
def test_normalize_refuses(bad: str, message: str) -> None:
    with pytest.raises(StoreError, match=f"^{re.escape(message)}$") as info:
        names.normalize(bad)
    assert info.value.code == CANNOT


def test_normalize_accepts_the_characters_next_to_refused_ones() -> None:
    for ok in (" ", "\x80", "\ud7ff", "\ue000", "&", "~"):
        assert names.normalize("a" + ok) == "a" + ok


def test_name_length_limit_is_the_folder_entry() -> None:
    ok = "x" * 254  # "." + 254 = 255 bytes
    assert names.normalize(ok) == ok
    with pytest.raises(StoreError, match=r"^mailbox name too long: 'x{40}'\.\.\.$") as info:
        names.normalize("x" * 255)
    assert info.value.code == LIMIT
    # escapes and UTF-8 count: 84 dots are 252 bytes escaped, plus "." and "ab" = 255
    assert names.normalize("." * 84) == "." * 84
    with pytest.raises(StoreError, match="too long"):
        names.normalize("." * 85)
    with pytest.raises(StoreError, match="too long"):
        names.normalize("é" * 128)  # 256 bytes + "."


@pytest.mark.parametrize(
    ("name", "folder"),
    [
        ("INBOX", ""),
        ("Sent", ".Sent"),
        ("Archive/2024", ".Archive.2024"),
        ("INBOX/x", ".INBOX.x"),
        ("a.b/c", ".a~2eb.c"),
        ("til~de", ".til~7ede"),
        ("~2e", ".~7e2e"),
        ("Été", ".Été"),
    ],
)
def test_folder_mapping(name: str, folder: str) -> None:
    assert names.to_folder(name) == folder
    if folder:
        assert names.from_folder(folder) == name


def test_from_folder_leaves_unknown_escapes_literal() -> None:
    assert names.from_folder(".a~zz") == "a~zz"
    assert names.from_folder(".a~2") == "a~2"
    assert names.from_folder(".a~2E") == "a."


@pytest.mark.parametrize(
    ("folder", "message"),
    [
        ("Sent", "not a Maildir++ folder: 'Sent'"),
        (".", "not a Maildir++ folder: '.'"),
        ("..", "not a Maildir++ folder: '..'"),
        (".INBOX", "folder '.INBOX' would be a second INBOX"),
        (".inbox", "folder '.inbox' would be a second INBOX"),
        ("..a", "empty hierarchy level in mailbox name '/a'"),
        (".a.", "empty hierarchy level in mailbox name 'a/'"),
        (".a*", "mailbox name 'a*' contains '*'"),
    ],
)
def test_from_folder_refuses(folder: str, message: str) -> None:
    with pytest.raises(StoreError, match=f"^{re.escape(message)}$"):
        names.from_folder(folder)


@given(
    st.lists(
        st.text(min_size=1, max_size=12).filter(lambda s: "/" not in s), min_size=1, max_size=4
    )
)
def test_folder_round_trip(levels: list[str]) -> None:
    name = "/".join(levels)
    try:
        canonical = names.normalize(name)
    except StoreError:
        return
    if canonical == "INBOX":
        assert names.to_folder(canonical) == ""
        return
    folder = names.to_folder(canonical)
    assert "/" not in folder
    assert folder.count(".") == canonical.count("/") + 1 + 0  # every other dot is escaped
    assert names.from_folder(folder) == canonical


@given(st.text(max_size=40))
def test_garbage_names_raise_only_store_error(text: str) -> None:
    for f in (names.normalize, names.from_folder):
        with contextlib.suppress(StoreError):
            f(text)


def test_hierarchy_helpers() -> None:
    assert names.parent("a/b/c") == "a/b"
    assert names.parent("a") is None
    assert names.ancestors("a/b/c") == ["a", "a/b"]
    assert names.ancestors("a") == []
    assert names.is_inferior("a/b", "a")
    assert not names.is_inferior("ab", "a")
    assert not names.is_inferior("a", "a")


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("*", "a/b/c", True),
        ("%", "a", True),
        ("%", "a/b", False),
        ("%/%", "a/b", True),
        ("%/%", "a/b/c", False),
        ("a/*", "a/b/c", True),
        ("a/*", "a", False),
        ("a*", "a", True),
        ("a%", "abc", True),
        ("a%", "a/b", False),
        ("*c", "a/b/c", True),
        ("*c", "a/b/d", False),
        ("a%c", "abc", True),
        ("a%c", "a/c", False),
        ("a*c", "a/c", True),
        ("", "", True),
        ("", "a", False),
        ("abc", "abc", True),
        ("abc", "abd", False),
        ("abc", "ab", False),
        ("inbox", "INBOX", True),
        ("InBox/%", "INBOX/x", True),
        ("inbo%", "INBOX", True),
        ("inbox", "inbox2", False),
        ("Sent", "sent", False),
        ("sent", "Sent", False),
        ("sENT", "Sent", False),
        ("iNBOX/x", "INBOX/X", False),
        ("*%*", "x", True),
        ("%%", "x/y", False),
    ],
)
def test_match(pattern: str, name: str, expected: bool) -> None:
    assert names.match(pattern, name) is expected


def test_match_ends_on_hostile_patterns() -> None:
    # Exponential backtracking would never finish this; the bit-parallel NFA takes milliseconds.
    assert not names.match("*%" * 500 + "x", "a" * 1000)
    assert names.match("*%" * 500 + "a", "a" * 1000)


def test_match_refuses_huge_patterns() -> None:
    with pytest.raises(StoreError, match=r"^LIST pattern too long$") as info:
        names.match("*" * 1025, "a")
    assert info.value.code == LIMIT
    assert names.match("*" * 1024, "a")


def _brute(pattern: str, name: str) -> bool:
    if not pattern:
        return not name
    p = pattern[0]
    if p == "*":
        return any(_brute(pattern[1:], name[i:]) for i in range(len(name) + 1))
    if p == "%":
        stop = name.find("/")
        stop = len(name) if stop < 0 else stop
        return any(_brute(pattern[1:], name[i:]) for i in range(stop + 1))
    return bool(name) and name[0] == p and _brute(pattern[1:], name[1:])


@given(st.text("ab/*%", max_size=8), st.text("ab/", max_size=8))
def test_match_agrees_with_brute_force(pattern: str, name: str) -> None:
    assert names.match(pattern, name) is _brute(pattern, name)


def test_listing_implies_parents() -> None:
    got = names.listing("*", ["a/b/c", "x"])
    assert got == [
        names.Listed(name="a", exists=False, has_children=True),
        names.Listed(name="a/b", exists=False, has_children=True),
        names.Listed(name="a/b/c", exists=True, has_children=False),
        names.Listed(name="x", exists=True, has_children=False),
    ]
    assert names.listing("%", ["a/b/c", "x"]) == [
        names.Listed(name="a", exists=False, has_children=True),
        names.Listed(name="x", exists=True, has_children=False),
    ]
    assert names.listing("a/%", ["a", "a/b"]) == [
        names.Listed(name="a/b", exists=True, has_children=False)
    ]
    assert names.listing("nothing", ["a"]) == []
