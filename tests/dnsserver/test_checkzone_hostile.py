"""Hostile zone text: random and mutated files load, or are refused with ZoneError naming a file."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dnsserver.errors import ZoneError
from dnsserver.zone import load_zone
from tests.dnsserver.test_checkzone import HEAD

VALID = HEAD + (
    "www A 192.0.2.2\n  AAAA 2001:db8::2\nmail MX 10 www\nsub NS ns.sub\nns.sub A 192.0.2.3\n"
    'txt TXT "a ; b" "c\\"d"\n* 60 CNAME www\n$INCLUDE hosts.inc\n_s._tcp SRV 0 1 80 www\n'
    "long (\n  TXT one\n  two )\n"
)
TOKENS = [
    "(", ")", '"', ";", "\\", " ", "\t", "\n", "@", "*", ".", "..", "$ORIGIN", "$TTL",
    "$INCLUDE", "$INCLUDE hosts.inc", "$INCLUDE z.zone", "SOA", "NS", "CNAME", "A", "AAAA", "MX",
    "TXT", "SRV", "TYPE65280", "\\# 2 abcd", "IN", "CH", "1h", "99999999999", "0", "65536",
    "192.0.2.300", "x" * 64, "\u00e9", "ns1", "sub", "\\000",
]  # fmt: skip


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile")


def load_anything(directory: Path, data: bytes) -> None:
    """Load z.zone holding `data`: it loads, or ZoneError whose problems all name a file."""
    (directory / "hosts.inc").write_text("h1 A 192.0.2.50\nh2 CNAME h1\n")
    path = directory / "z.zone"
    path.write_bytes(data)
    try:
        zone = load_zone(path)
    except ZoneError as e:
        assert e.problems and str(e)
        for problem in e.problems:
            assert problem.where.startswith(str(directory)), problem
            assert problem.to_text()
    else:
        assert zone.soa.rdatas and all(p.warning and p.to_text() for p in zone.warnings)


@settings(max_examples=200)
@given(data=st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_random_text_is_loaded_or_refused_with_zone_errors_only(
    directory: Path, data: bytes
) -> None:
    load_anything(directory, data)


@settings(max_examples=300)
@given(
    edits=st.lists(
        st.tuples(
            st.integers(0, len(VALID)),
            st.integers(0, 12),
            st.sampled_from(TOKENS) | st.text(max_size=4),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_mutated_zones_are_loaded_or_refused_with_zone_errors_only(
    directory: Path, edits: list[tuple[int, int, str]]
) -> None:
    text = VALID
    for at, cut, insert in edits:  # replace text[at:at + cut] with `insert`
        text = text[:at] + insert + text[at + cut :]
    load_anything(directory, text.encode("utf-8", "surrogatepass"))
