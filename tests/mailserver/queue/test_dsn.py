"""Delivery status notifications (RFC 3464, RFC 6522, RFC 6533)."""

from __future__ import annotations

import email
import email.policy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailserver.message import Message
from mailserver.queue.dsn import MAX_REPLY, notice_message
from mailserver.queue.retry import Notice, Report

T0 = 1_800_000_000.0  # Fri, 15 Jan 2027 08:00:00 GMT
HEADER = (
    b"From: Alice <alice@crepes.fr>\r\nTo: bob@hamburger.edu\r\nSubject: crepes\r\n"
    b"Message-ID: <m1@crepes.fr>\r\n\r\n"
)
BOB = Report(
    "bob@hamburger.edu",
    "5.1.1",
    "550 5.1.1 <bob@hamburger.edu>: no such user",
    "mail.hamburger.edu",
)
NXD = Report("dave@example.org", "5.1.2", "example.org: no such domain (NXDOMAIN)", None)


def notice(n: Notice, sender: str = "alice@crepes.fr", header: bytes = HEADER) -> bytes:
    return notice_message(
        n,
        sender=sender,
        arrival=T0,
        original_header=header,
        reporting_mta="mail.crepes.fr",
        now=T0 + 60,
        retry_until=T0 + 5 * 86400,
        message_id="dsn.1@mail.crepes.fr",
        boundary="b0undary",
    )


def test_a_failed_notice_golden() -> None:
    assert notice(Notice("failed", (BOB, NXD))) == (
        b"From: Mail Delivery System <MAILER-DAEMON@mail.crepes.fr>\r\n"
        b"To: alice@crepes.fr\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\n"
        b"Date: Fri, 15 Jan 2027 08:01:00 GMT\r\n"
        b"Message-ID: <dsn.1@mail.crepes.fr>\r\n"
        b"Auto-Submitted: auto-replied\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: multipart/report; report-type=delivery-status;\r\n"
        b' boundary="b0undary"\r\n'
        b"Content-Transfer-Encoding: 7bit\r\n"
        b"\r\n"
        b"This is a MIME-encapsulated message.\r\n"
        b"\r\n--b0undary\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 7bit\r\n"
        b"Content-Description: Notification\r\n\r\n"
        b"This is the mail system at mail.crepes.fr.\r\n\r\n"
        b"Your message could not be delivered to one or more recipients. It is attached below"
        b" (its header only). The server's reasons follow.\r\n\r\n"
        b"<bob@hamburger.edu>: mail.hamburger.edu said: 550 5.1.1 <bob@hamburger.edu>:"
        b" no such user\r\n"
        b"<dave@example.org>: example.org: no such domain (NXDOMAIN)\r\n"
        b"\r\n--b0undary\r\n"
        b"Content-Type: message/delivery-status\r\n"
        b"Content-Transfer-Encoding: 7bit\r\n"
        b"Content-Description: Delivery report\r\n\r\n"
        b"Reporting-MTA: dns; mail.crepes.fr\r\n"
        b"Arrival-Date: Fri, 15 Jan 2027 08:00:00 GMT\r\n"
        b"\r\n"
        b"Final-Recipient: rfc822; bob@hamburger.edu\r\n"
        b"Action: failed\r\n"
        b"Status: 5.1.1\r\n"
        b"Remote-MTA: dns; mail.hamburger.edu\r\n"
        b"Diagnostic-Code: smtp; 550 5.1.1 <bob@hamburger.edu>: no such user\r\n"
        b"Last-Attempt-Date: Fri, 15 Jan 2027 08:01:00 GMT\r\n"
        b"\r\n"
        b"Final-Recipient: rfc822; dave@example.org\r\n"
        b"Action: failed\r\n"
        b"Status: 5.1.2\r\n"
        b"Last-Attempt-Date: Fri, 15 Jan 2027 08:01:00 GMT\r\n"
        b"\r\n--b0undary\r\n"
        b"Content-Type: text/rfc822-headers\r\n"
        b"Content-Transfer-Encoding: 7bit\r\n"
        b"Content-Description: The original message's header\r\n\r\n"
        + HEADER
        + b"\r\n--b0undary--\r\n"
    )


def test_a_delay_notice_says_until_when_it_is_retried() -> None:
    late = Report("bob@hamburger.edu", "4.4.1", "connection refused", None)
    raw = notice(Notice("delayed", (late,)))
    assert b"Subject: Delayed Mail (still being retried)\r\n" in raw
    assert b"The server keeps trying; you do not need to send it again." in raw
    assert (
        b"Action: delayed\r\nStatus: 4.4.1\r\nLast-Attempt-Date: Fri, 15 Jan 2027 08:01:00 GMT\r\n"
        b"Will-Retry-Until: Wed, 20 Jan 2027 08:00:00 GMT\r\n"
    ) in raw


def test_the_notice_parses_as_a_multipart_report() -> None:
    raw = notice(Notice("failed", (BOB, NXD)))
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    parts = [p.get_content_type() for p in msg.iter_parts()]  # type: ignore[attr-defined]
    assert parts == ["text/plain", "message/delivery-status", "text/rfc822-headers"]
    assert not msg.defects
    # and with our own parser, as an IMAP client would see it
    structure = Message(raw).bodystructure()
    assert structure[-5] == b"report"  # type: ignore[index]


def test_a_reply_cannot_inject_lines_or_grow_without_bound() -> None:
    evil = Report(
        "b@x", "5.0.0", "550 no\r\nAction: delivered\r\n\r\n--b0undary--" + "x" * 5000, "h\r\nX: y"
    )
    raw = notice(Notice("failed", (evil,)))
    assert b"\r\nAction: delivered" not in raw and b"\r\nX: y" not in raw
    assert raw.split(b"\r\n").count(b"--b0undary--") == 1  # inside a line it is no boundary
    assert max(len(line) for line in raw.split(b"\r\n")) < 998
    assert ("x" * (MAX_REPLY - 40)).encode() + b"..." in raw


def test_an_original_header_without_crlf_is_sent_as_whole_crlf_lines() -> None:
    raw = notice(Notice("failed", (NXD,)), header=b"Subject: a\nX: b\rY: c\r\nhalf a li")
    assert raw.endswith(
        b"Content-Description: The original message's header\r\n\r\n"
        b"Subject: a\r\nX: b\r\nY: c\r\n\r\n--b0undary--\r\n"
    )


def test_non_ascii_makes_it_a_global_report() -> None:
    r = Report("bob@hämburger.edu", "5.1.1", "550 unknown", "mx.x")
    raw = notice(Notice("failed", (r,)), sender="alice@crêpes.fr")
    assert b"report-type=global-delivery-status;" in raw
    assert b"Content-Type: message/global-delivery-status\r\n" in raw
    assert "Final-Recipient: utf-8; bob@hämburger.edu\r\n".encode() in raw
    assert b"Content-Type: message/global-headers\r\n" in raw
    assert raw.count(b"Content-Transfer-Encoding: 8bit\r\n") == 4


@given(st.text(max_size=300), st.text(max_size=50), st.one_of(st.none(), st.text(max_size=50)))
def test_any_report_keeps_the_structure(error: str, address: str, remote: str | None) -> None:
    raw = notice(Notice("failed", (Report(address, "5.0.0", error, remote),)))
    lines = raw.split(b"\r\n")
    assert lines.count(b"--b0undary") == 3 and lines.count(b"--b0undary--") == 1
    assert all(b"\r" not in line and b"\n" not in line for line in lines)


@pytest.mark.parametrize(
    ("sender", "report", "header"),
    [
        ("alice@crêpes.fr", NXD, HEADER),
        ("alice@crepes.fr", Report("bob@hämburger.edu", "5.1.1", "550 unknown", "mx.x"), HEADER),
        ("alice@crepes.fr", Report("bob@x.org", "5.1.1", "550 inconnu ici à", "mx.x"), HEADER),
        ("alice@crepes.fr", NXD, "Subject: crêpes\r\n\r\n".encode()),
    ],
    ids=["sender", "address", "reply", "header"],
)
def test_any_one_non_ascii_text_alone_makes_it_a_global_report(
    sender: str, report: Report, header: bytes
) -> None:
    raw = notice(Notice("failed", (report,)), sender=sender, header=header)
    assert b"report-type=global-delivery-status;" in raw
    assert b"Content-Type: message/global-delivery-status\r\n" in raw
    assert b"Content-Type: message/global-headers\r\n" in raw
    assert raw.count(b"Content-Transfer-Encoding: 8bit\r\n") == 4


def test_a_reply_of_exactly_max_reply_characters_is_kept_whole_and_longer_is_cut() -> None:
    whole = Report("bob@hamburger.edu", "5.0.0", "e" * MAX_REPLY, "mx.x")
    raw = notice(Notice("failed", (whole,)))
    assert b"\r\nDiagnostic-Code: smtp; " + b"e" * MAX_REPLY + b"\r\n" in raw
    assert b"\r\n<bob@hamburger.edu>: mx.x said: " + b"e" * MAX_REPLY + b"\r\n" in raw
    longer = Report("bob@hamburger.edu", "5.0.0", "e" * (MAX_REPLY + 1), "mx.x")
    raw = notice(Notice("failed", (longer,)))
    assert b"\r\nDiagnostic-Code: smtp; " + b"e" * (MAX_REPLY - 3) + b"...\r\n" in raw
    assert b"\r\n<bob@hamburger.edu>: mx.x said: " + b"e" * (MAX_REPLY - 3) + b"...\r\n" in raw
