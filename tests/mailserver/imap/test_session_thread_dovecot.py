"""THREAD REFS and THREAD REFERENCES against Dovecot's own answers (dovecot_threads.json: 207
mailboxes, 47 of them made to tell the rules apart: threads in the order of their newest
message, ties, missing parents, no subject merging for REFS, duplicate and invalid ids, loops,
dates missing or unparseable), each replayed through a session on a real store: the same
APPENDs, then the same THREAD commands, compared byte for byte."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.mailserver.imap.session_kit import Client, drop_store, make_store

DATA = json.loads((Path(__file__).parent / "dovecot_threads.json").read_text())
CASES: list[dict[str, Any]] = DATA["cases"]
FIELDS = ("Subject", "Date", "Message-ID", "References", "In-Reply-To")


def message(n: int, fields: list[str | None]) -> bytes:
    """The message as it was APPENDed to Dovecot: each field only when not null."""
    date, _, subject, message_id, references, in_reply_to = fields
    lines = [f"From: Sender <sender{n}@example.test>", "To: probe@example.test"]
    for name, value in zip(
        FIELDS, (subject, date, message_id, references, in_reply_to), strict=True
    ):
        if value is not None:
            lines.append(f"{name}: {value}")
    lines += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=us-ascii", ""]
    return ("\r\n".join(lines) + f"\r\nbody {n}\r\n").encode()


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_threads_as_dovecot_answers(case: dict[str, Any]) -> None:
    store = make_store()
    try:
        c = Client(store)
        c.login()
        for n, fields in enumerate(case["messages"], 1):
            data = message(n, fields)
            date = fields[1].encode()
            ok = c(b'a APPEND INBOX "%s" {%d+}\r\n' % (date, len(data)) + data)
            assert ok.startswith(b"a OK [APPENDUID "), ok
        c(b"s EXAMINE INBOX")
        for algorithm, want in (("REFS", case["refs"]), ("REFERENCES", case["references"])):
            got = c(b"t THREAD %s UTF-8 ALL" % algorithm.encode())
            assert got == want.encode() + b"\r\nt OK THREAD completed\r\n", algorithm
    finally:
        drop_store(store)


def test_the_cases_tell_the_algorithms_apart() -> None:
    """The data is worth replaying: REFS and REFERENCES differ on many cases."""
    differ = [c["name"] for c in CASES if c["refs"] != c["references"]]
    assert len(differ) > len(CASES) // 3
