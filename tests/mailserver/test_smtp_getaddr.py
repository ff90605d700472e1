"""The MX's fast reading of MAIL FROM/RCPT TO paths gives what aiosmtpd's parser gives."""

from __future__ import annotations

from aiosmtpd.smtp import SMTP
from hypothesis import given, settings
from hypothesis import strategies as st

from mailserver.aio.smtp import MxSMTP

PIECES = [
    "a",
    "Z9",
    ".",
    "@",
    "<",
    ">",
    " ",
    "\t",
    "(c)",
    '"q"',
    "[1.2.3.4]",
    "-",
    "+x",
    "é",
    "SIZE=1",
    "\\",
]


def outcome(fn: object, arg: str) -> object:
    try:
        return fn(arg)  # type: ignore[operator]
    except (IndexError, ValueError):  # aiosmtpd's own raises on some inputs ("a@"): ours
        return (None, None)  # says "malformed" there


def both(arg: str) -> tuple[object, object]:
    ours = MxSMTP.__new__(MxSMTP)
    theirs = SMTP.__new__(SMTP)
    ours.local_part_limit = theirs.local_part_limit = 0
    return outcome(ours._getaddr, arg), outcome(theirs._getaddr, arg)


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=12))
def test_any_path_reads_as_aiosmtpd_reads_it(pieces: list[str]) -> None:
    arg = "".join(pieces)
    ours, theirs = both(arg)
    assert ours == theirs


@given(
    st.from_regex(r"[a-z0-9+_-]{1,8}(\.[a-z0-9]{1,4}){0,2}", fullmatch=True),
    st.from_regex(r"[a-z0-9-]{1,8}(\.[a-z0-9-]{1,5}){0,3}", fullmatch=True),
    st.sampled_from(
        ["", " SIZE=100", "  BODY=8BITMIME SMTPUTF8", "\tSIZE=1", "x", " (c) SIZE=1", " "]
    ),
)
def test_plain_paths_read_as_aiosmtpd_reads_them(local: str, domain: str, rest: str) -> None:
    arg = f"<{local}@{domain}>{rest}"
    ours, theirs = both(arg)
    assert ours == theirs and ours[0] == f"{local}@{domain}"  # type: ignore[index]


def test_a_local_part_limit_still_applies() -> None:
    ours = MxSMTP.__new__(MxSMTP)
    ours.local_part_limit = 3
    assert ours._getaddr("<abcd@x>") == (None, None)
    assert ours._getaddr("<abc@x> SIZE=1") == ("abc@x", "SIZE=1")


def test_a_path_the_email_parser_chokes_on_is_malformed() -> None:
    ours = MxSMTP.__new__(MxSMTP)
    ours.local_part_limit = 0
    assert ours._getaddr("a@") == (None, None)
