"""The whitelist file: hex info-hashes, `#` comments anywhere, blank lines, errors by line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracker.errors import TrackerError
from tracker.whitelist import load_whitelist, parse_whitelist

A, B, C = (bytes([n]) * 20 for n in (0xA1, 0xB2, 0xC3))


def test_hashes_comments_and_blank_lines() -> None:
    text = (
        "# the course's torrents\n"
        f"{A.hex()}\n"
        "\n"  # a blank line in the middle ends nothing
        f"  {B.hex().upper()}  # lecture 2 # (the # in a name is a comment too)\n"
        "   \n"
        f"{C.hex()}#slides, no space before the comment\n"
    )
    assert parse_whitelist(text) == {A, B, C}


def test_an_empty_file_lists_nothing() -> None:
    assert parse_whitelist("") == set()
    assert parse_whitelist("# nothing yet\n\n") == set()


@pytest.mark.parametrize(
    ("line", "number"),
    [
        ("not a hash", 1),
        (A.hex()[:-2], 1),  # 19 bytes
        (A.hex() + "00", 1),  # 21 bytes
        (A.hex()[:-1], 1),  # an odd number of digits
        ("# a comment\n\n" + A.hex() + "zz", 3),
    ],
)
def test_a_bad_line_is_named_by_its_number(line: str, number: int) -> None:
    with pytest.raises(TrackerError, match=f"^whitelist line {number}: not a 40-digit hex"):
        parse_whitelist(f"{line}\n{B.hex()}\n")


def test_load_reads_the_file_and_says_why_it_cannot(tmp_path: Path) -> None:
    path = tmp_path / "whitelist"
    path.write_text(f"{A.hex()}\n")
    assert load_whitelist(path) == {A}
    missing = tmp_path / "nope"
    with pytest.raises(TrackerError) as e:
        load_whitelist(missing)
    assert e.value.reason == f"whitelist {missing}: cannot read: No such file or directory"
