"""The submission policy (RFC 6409): login first, nobody sends as another, local recipients
delivered here and remote ones queued, Date and Message-ID added."""

from __future__ import annotations

import pytest

from mailserver import smtp
from mailserver.submission import (
    AUTH_REQUIRED,
    NULL_SENDER,
    Local,
    Remote,
    SubmissionPolicy,
    complete,
)

ALICE = "alice@crepes.fr"
T0 = 1_800_000_000.0  # Fri, 15 Jan 2027 08:00:00 +0000


class Users:
    def __init__(self, *addresses: str) -> None:
        self.addresses = set(addresses)

    def exists(self, address: str) -> bool:
        return address in self.addresses


def policy(max_recipients: int = 100) -> SubmissionPolicy:
    settings = smtp.MxSettings(
        hostname="mail.crepes.fr",
        domains=("crepes.fr", "Crepes.Example"),
        max_recipients=max_recipients,
    )
    return SubmissionPolicy(settings, Users(ALICE, "chef@crepes.fr", "x@crepes.example"))


@pytest.mark.parametrize(
    ("user", "address", "utf8", "reply"),
    [
        (None, ALICE, False, AUTH_REQUIRED),
        (ALICE, ALICE, False, None),
        (ALICE, "alice@CREPES.FR.", False, None),  # the domain without case or root dot
        (
            ALICE,
            "Alice@crepes.fr",
            False,
            "553 5.7.1 <Alice@crepes.fr> is not an address of the logged-in user",
        ),
        (
            ALICE,
            "chef@crepes.fr",
            False,
            "553 5.7.1 <chef@crepes.fr> is not an address of the logged-in user",
        ),
        (ALICE, "<>", False, NULL_SENDER),
        (ALICE, "alice", False, smtp.BAD_SENDER),
        (ALICE, "al ice@crepes.fr", False, smtp.BAD_SENDER),
        (ALICE, "alicé@crepes.fr", False, smtp.NEEDS_SMTPUTF8),
        (
            ALICE,
            "alicé@crepes.fr",
            True,
            "553 5.7.1 <alicé@crepes.fr> is not an address of the logged-in user",
        ),
        (
            ALICE,
            "@crepes.fr",
            False,
            "553 5.7.1 <@crepes.fr> is not an address of the logged-in user",
        ),
    ],
)
def test_mail_from_must_be_the_logged_in_user(
    user: str | None, address: str, utf8: bool, reply: str | None
) -> None:
    assert policy().sender(user, address, utf8=utf8) == reply


def test_recipients_here_are_local_and_must_exist_others_are_queued() -> None:
    p = policy()
    assert p.recipient("chef@CREPES.fr", utf8=False, accepted=[]) == (
        smtp.RECIPIENT_OK,
        Local("chef@crepes.fr"),
    )
    assert p.recipient("x@crepes.example", utf8=False, accepted=[]) == (
        smtp.RECIPIENT_OK,
        Local("x@crepes.example"),
    )
    assert p.recipient("nobody@crepes.fr", utf8=False, accepted=[]) == (
        "550 5.1.1 <nobody@crepes.fr>: no such user here",
        None,
    )
    assert p.recipient("bob@Hamburger.EDU", utf8=False, accepted=[]) == (
        smtp.RECIPIENT_OK,
        Remote("bob@hamburger.edu", "hamburger.edu"),
    )


def test_a_recipient_named_twice_is_taken_once_and_the_count_is_bounded() -> None:
    p = policy(max_recipients=2)
    bob = Remote("bob@hamburger.edu", "hamburger.edu")
    assert p.recipient("bob@hamburger.edu", utf8=False, accepted=[bob]) == (smtp.RECIPIENT_OK, None)
    two = [bob, Local("chef@crepes.fr")]
    assert p.recipient("carol@x.org", utf8=False, accepted=two) == (smtp.TOO_MANY_RECIPIENTS, None)
    assert p.recipient("chef@crepes.fr", utf8=False, accepted=two) == (smtp.RECIPIENT_OK, None)


@pytest.mark.parametrize(
    ("address", "utf8", "reply"),
    [
        ("b ob@x.org", False, smtp.BAD_RECIPIENT),
        ("bob@", False, smtp.BAD_RECIPIENT),
        ("bob", False, smtp.BAD_RECIPIENT),
        ("bob@x..org", False, smtp.BAD_RECIPIENT),
        ("böb@x.org", False, smtp.NEEDS_SMTPUTF8),
        ("x" * 250 + "@x.org", False, smtp.BAD_RECIPIENT),
    ],
)
def test_bad_recipients_are_refused(address: str, utf8: bool, reply: str) -> None:
    assert policy().recipient(address, utf8=utf8, accepted=[]) == (reply, None)


def test_a_non_ascii_recipient_with_smtputf8_is_queued() -> None:
    assert policy().recipient("böb@x.org", utf8=True, accepted=[]) == (
        smtp.RECIPIENT_OK,
        Remote("böb@x.org", "x.org"),
    )


@pytest.mark.parametrize(
    ("header", "reply"),
    [
        (b"From: Alice <alice@crepes.fr>\r\n", None),
        (b"From: alice@CREPES.FR\r\nSender: alice@crepes.fr\r\n", None),
        (b"Subject: no from at all\r\n", None),
        (b"From: friends: alice@crepes.fr;\r\n", None),  # a group of her own address
        (
            b"From: Alice <alice@crepes.fr>, chef@crepes.fr\r\n",
            "553 5.7.1 From: chef@crepes.fr is not an address of the logged-in user",
        ),
        (
            b"From: alice@crepes.fr\r\nSender: Boss <boss@hamburger.edu>\r\n",
            "553 5.7.1 Sender: boss@hamburger.edu is not an address of the logged-in user",
        ),
        (
            b"From: alice@crepes.fr\r\nFrom: eve@crepes.fr\r\n",
            "553 5.7.1 From: eve@crepes.fr is not an address of the logged-in user",
        ),
        (
            b"From: friends: eve@crepes.fr;\r\n",  # the group's start is no reason to stop
            "553 5.7.1 From: eve@crepes.fr is not an address of the logged-in user",
        ),
        (
            b"From: \xff@crepes.fr\r\n",  # not UTF-8: shown with a replacement character
            "553 5.7.1 From: \ufffd@crepes.fr is not an address of the logged-in user",
        ),
        (
            b"From: undisclosed\r\n",
            "553 5.7.1 From: undisclosed@MISSING_DOMAIN is not an address of the logged-in user",
        ),
        (
            b"From: =?utf-8?q?Alice?= <alice@crepes.fr>\r\n\tfolded\r\nfrom: x@y\r\n",
            "553 5.7.1 From: x@y is not an address of the logged-in user",
        ),
    ],
)
def test_from_and_sender_must_be_the_logged_in_user(header: bytes, reply: str | None) -> None:
    assert policy().header_sender(ALICE, header + b"\r\nbody\r\n") == reply


def ids() -> str:
    return "20270115080000.ABC@mail.crepes.fr"


def test_date_and_message_id_are_added_at_the_end_of_the_header() -> None:
    data = b"From: alice@crepes.fr\r\nSubject: hi\r\n\r\nbody\r\n"
    assert complete(data, now=T0, message_id=ids) == (
        b"From: alice@crepes.fr\r\nSubject: hi\r\n"
        b"Date: Fri, 15 Jan 2027 08:00:00 +0000\r\n"
        b"Message-ID: <20270115080000.ABC@mail.crepes.fr>\r\n"
        b"\r\nbody\r\n"
    )


def test_fields_present_are_kept_as_they_are() -> None:
    data = b"DATE: Mon, 1 Jan 2026 00:00:00 +0100\r\nmessage-id: <mine@x>\r\n\r\nbody\r\n"
    assert complete(data, now=T0, message_id=ids) is data
    only_date = b"Date: Mon, 1 Jan 2026 00:00:00 +0100\r\n\r\nbody\r\n"
    assert complete(only_date, now=T0, message_id=ids) == (
        b"Date: Mon, 1 Jan 2026 00:00:00 +0100\r\n"
        b"Message-ID: <20270115080000.ABC@mail.crepes.fr>\r\n\r\nbody\r\n"
    )


def test_a_message_without_header_or_body_still_gets_both() -> None:
    assert complete(b"\r\njust a body\r\n", now=T0, message_id=ids) == (
        b"Date: Fri, 15 Jan 2027 08:00:00 +0000\r\n"
        b"Message-ID: <20270115080000.ABC@mail.crepes.fr>\r\n"
        b"\r\njust a body\r\n"
    )
    assert complete(b"Subject: cut", now=T0, message_id=ids) == (
        b"Subject: cut\r\n"
        b"Date: Fri, 15 Jan 2027 08:00:00 +0000\r\n"
        b"Message-ID: <20270115080000.ABC@mail.crepes.fr>\r\n"
    )

    assert complete(b"X", now=T0, message_id=ids) == (  # one octet of header, unended
        b"X\r\n"
        b"Date: Fri, 15 Jan 2027 08:00:00 +0000\r\n"
        b"Message-ID: <20270115080000.ABC@mail.crepes.fr>\r\n"
    )
