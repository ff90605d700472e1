"""Root hints: what a named.root file gives the resolver, and what it says about a bad one."""

from __future__ import annotations

import locale
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dnsserver.resolver import hints
from dnsserver.resolver.errors import ResolverError
from dnsserver.resolver.hints import RootHints

A, B = (b"a", b"root"), (b"b", b"root")

NAMED_ROOT = """\
; a named.root in miniature: the NS set split in two, names in any case, one relative
.          3600000 IN NS A.Root.
a.root     3600000    A  127.0.0.10
.          3600000    NS b.root.
b.root.    3600000    A  127.0.0.11
b.root.    3600000    AAAA 0:0:0:0:0:0:0:1
.          3600000    NS a.root.
other.root. 3600000   A  127.0.0.99
root.      3600000    NS c.root.
"""


def test_named_root_gives_the_root_servers_and_their_addresses() -> None:
    got = hints.parse(NAMED_ROOT, "named.root")
    assert got == RootHints((A, B), {A: ("127.0.0.10",), B: ("127.0.0.11", "::1")})
    assert got.all_addresses() == ["127.0.0.10", "127.0.0.11", "::1"]


def test_a_root_server_without_an_address_is_left_out() -> None:
    got = hints.parse(". 1 IN NS a.root.\n. 1 IN NS b.root.\nb.root. 1 IN A 127.0.0.11\n", "x")
    assert got.ns_names == (A, B) and got.addresses == {B: ("127.0.0.11",)}
    assert got.all_addresses() == ["127.0.0.11"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "my.hints: no NS records for the root"),
        ("a.root. 1 IN A 127.0.0.10\n", "my.hints: no NS records for the root"),
        (
            ". 1 IN NS a.root.\n. 1 IN NS b.root.\nc.root. 1 IN A 127.0.0.1\n",
            r"my.hints: no addresses for the root servers \(a.root., b.root.\)",
        ),
        ("this is not a hints file\n", "my.hints: <input>:1: unknown rdatatype 'is'"),
        (". 1 CH NS a.root.\n", "my.hints: <input>:1: RR class is not zone's class"),
    ],
)
def test_a_bad_hints_file_is_an_error_that_names_it(text: str, message: str) -> None:
    with pytest.raises(ResolverError, match=f"^{message}$"):
        hints.parse(text, "my.hints")


def test_load_reads_a_file_and_names_it_in_errors(tmp_path: Path) -> None:
    p = tmp_path / "root.hints"
    p.write_text(NAMED_ROOT)
    assert hints.load(str(p)).all_addresses() == ["127.0.0.10", "127.0.0.11", "::1"]
    p.write_text(". 1 IN NS a.root.\n")
    with pytest.raises(ResolverError, match=f"^{p}: no addresses for the root servers"):
        hints.load(str(p))
    with pytest.raises(ResolverError, match=f"^{tmp_path}/none: cannot read: No such file"):
        hints.load(str(tmp_path / "none"))
    p.write_bytes(b". 1 IN NS a.root.\n\xff")
    with pytest.raises(ResolverError, match=rf"^{p}: not UTF-8 text \(byte 18\)$"):
        hints.load(str(p))


@pytest.fixture
def ascii_locale() -> Iterator[None]:
    """LC_CTYPE "C": Python's locale encoding is ASCII (unless in UTF-8 mode)."""
    if sys.flags.utf8_mode:
        pytest.skip("in UTF-8 mode the locale does not choose the encoding")
    old = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")
    try:
        yield
    finally:
        locale.setlocale(locale.LC_CTYPE, old)


def test_load_reads_utf8_whatever_the_locale(tmp_path: Path, ascii_locale: None) -> None:
    p = tmp_path / "root.hints"
    p.write_bytes(("; named.root, éditée à la main\n" + NAMED_ROOT).encode())
    assert hints.load(str(p)).all_addresses() == ["127.0.0.10", "127.0.0.11", "::1"]
