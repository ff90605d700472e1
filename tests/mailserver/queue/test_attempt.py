"""One delivery attempt: what each remote reply means for each recipient."""

from __future__ import annotations

import pytest

from mailserver.queue.attempt import Transaction, next_host, outcome, reply_status, unreachable
from mailserver.queue.retry import Deferred, Delivered, Failed

MX = "mail.hamburger.edu"
BOB, CAROL, DAVE = "bob@hamburger.edu", "carol@hamburger.edu", "dave@hamburger.edu"


@pytest.mark.parametrize(
    ("code", "text", "status"),
    [
        (550, "5.1.1 <bob@x>: no such user", "5.1.1"),
        (550, "no such user", "5.0.0"),
        (451, "4.3.0 try later", "4.3.0"),
        (451, "5.3.0 the class disagrees", "4.0.0"),
        (250, "2.0.0 Ok: queued as X", "2.0.0"),
        (452, "4.05.003 zero-padded", "4.5.3"),
        (550, "5.1.1", "5.1.1"),
        (550, "5.1.1x not a code", "5.0.0"),
        (550, "5.1234.1 too long", "5.0.0"),
        (354, "go ahead", "4.0.0"),
        (600, "nonsense", "4.0.0"),
    ],
)
def test_reply_status(code: int, text: str, status: str) -> None:
    assert reply_status(code, text) == status


def test_outcome_of_each_reply_class() -> None:
    assert outcome(BOB, 250, "2.0.0 Ok", MX) == Delivered(BOB, MX, "250 2.0.0 Ok")
    assert outcome(BOB, 550, "5.1.1 no such user", MX) == Failed(
        BOB, "5.1.1", "550 5.1.1 no such user", MX
    )
    assert outcome(BOB, 421, "4.7.0 busy", MX) == Deferred(BOB, "4.7.0", "421 4.7.0 busy", MX)
    assert outcome(BOB, 354, "odd", MX) == Deferred(BOB, "4.0.0", "354 odd", MX)
    assert outcome(BOB, 199, "odd", MX) == Deferred(BOB, "4.0.0", "199 odd", MX)


def test_a_reply_text_is_one_bounded_line() -> None:
    o = outcome(BOB, 550, "5.1.1 a\r\nInjected: yes\n" + "x" * 1000, MX)
    assert isinstance(o, Failed) and "\r" not in o.error and "\n" not in o.error
    assert o.error.startswith("550 5.1.1 a Injected: yes xxx") and len(o.error) == 500
    assert o.error.endswith("x...")


def test_unreachable_defers_everyone_with_4_4_1() -> None:
    assert unreachable([BOB, CAROL], "mail.hamburger.edu[127.0.0.3]: connection refused\n") == [
        Deferred(BOB, "4.4.1", "mail.hamburger.edu[127.0.0.3]: connection refused ", None),
        Deferred(CAROL, "4.4.1", "mail.hamburger.edu[127.0.0.3]: connection refused ", None),
    ]


@pytest.mark.parametrize(
    ("stage", "moves_on"),
    [
        ("connect", True),
        ("greeting", True),
        ("ehlo", True),
        ("starttls", True),
        ("mail", False),
        ("rcpt", False),
        ("data", False),
        ("lost", False),
    ],
)
def test_only_failures_before_mail_move_to_the_next_host(stage: str, moves_on: bool) -> None:
    assert next_host(stage) is moves_on


def test_a_transaction_decides_each_recipient_by_its_rcpt_and_data_replies() -> None:
    t = Transaction([BOB, CAROL, DAVE], MX)
    assert t.mail(250, "2.1.0 Ok") is True
    t.rcpt(BOB, 250, "2.1.5 Ok")
    t.rcpt(CAROL, 550, "5.1.1 no such user")
    t.rcpt(DAVE, 452, "4.2.2 mailbox full")
    assert t.wants_data() and t.outcomes() == [
        Failed(CAROL, "5.1.1", "550 5.1.1 no such user", MX),
        Deferred(DAVE, "4.2.2", "452 4.2.2 mailbox full", MX),
    ]
    t.data(250, "2.0.0 Ok: stored as X1")
    assert t.done and t.outcomes() == [
        Delivered(BOB, MX, "250 2.0.0 Ok: stored as X1"),
        Failed(CAROL, "5.1.1", "550 5.1.1 no such user", MX),
        Deferred(DAVE, "4.2.2", "452 4.2.2 mailbox full", MX),
    ]


def test_data_refused_decides_every_accepted_recipient() -> None:
    t = Transaction([BOB, CAROL], MX)
    t.mail(250, "ok")
    t.rcpt(BOB, 250, "ok")
    t.rcpt(CAROL, 251, "will forward")
    t.data(554, "5.6.0 content rejected")
    assert t.outcomes() == [
        Failed(BOB, "5.6.0", "554 5.6.0 content rejected", MX),
        Failed(CAROL, "5.6.0", "554 5.6.0 content rejected", MX),
    ]


def test_mail_refused_decides_everyone_and_ends_the_transaction() -> None:
    t = Transaction([BOB, CAROL], MX)
    assert t.mail(421, "4.3.2 shutting down") is False
    assert t.done and not t.wants_data()
    assert t.outcomes() == [
        Deferred(BOB, "4.3.2", "421 4.3.2 shutting down", MX),
        Deferred(CAROL, "4.3.2", "421 4.3.2 shutting down", MX),
    ]
    t5 = Transaction([BOB], MX)
    assert t5.mail(553, "5.7.1 sender rejected") is False
    assert t5.outcomes() == [Failed(BOB, "5.7.1", "553 5.7.1 sender rejected", MX)]


def test_no_recipient_taken_means_no_data() -> None:
    t = Transaction([BOB], MX)
    t.mail(250, "ok")
    t.rcpt(BOB, 550, "5.1.1 no")
    assert not t.wants_data()
    assert t.outcomes() == [Failed(BOB, "5.1.1", "550 5.1.1 no", MX)]


def test_a_lost_connection_defers_only_the_undecided() -> None:
    t = Transaction([BOB, CAROL, DAVE], MX)
    t.mail(250, "ok")
    t.rcpt(BOB, 550, "5.1.1 no")
    t.rcpt(CAROL, 250, "ok")
    t.lost("connection reset\r\nby peer")
    assert t.done and t.outcomes() == [
        Failed(BOB, "5.1.1", "550 5.1.1 no", MX),
        Deferred(CAROL, "4.4.2", "connection reset by peer", MX),
        Deferred(DAVE, "4.4.2", "connection reset by peer", MX),
    ]
    assert not t.wants_data()


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (199, Deferred(BOB, "4.0.0", "199 x", MX)),
        (200, Delivered(BOB, MX, "200 x")),
        (299, Delivered(BOB, MX, "299 x")),
        (300, Deferred(BOB, "4.0.0", "300 x", MX)),
        (499, Deferred(BOB, "4.0.0", "499 x", MX)),
        (500, Failed(BOB, "5.0.0", "500 x", MX)),
        (599, Failed(BOB, "5.0.0", "599 x", MX)),
        (600, Deferred(BOB, "4.0.0", "600 x", MX)),
    ],
)
def test_the_reply_classes_end_exactly_at_their_hundreds(
    code: int, expected: Delivered | Deferred | Failed
) -> None:
    assert outcome(BOB, code, "x", MX) == expected


@pytest.mark.parametrize(("code", "taken"), [(199, False), (200, True), (299, True), (300, False)])
def test_mail_and_rcpt_take_exactly_the_2xx_replies(code: int, taken: bool) -> None:
    t = Transaction([BOB], MX)
    assert t.mail(code, "x") is taken
    assert t.outcomes() == ([] if taken else [Deferred(BOB, "4.0.0", f"{code} x", MX)])
    t = Transaction([BOB], MX)
    t.mail(250, "ok")
    t.rcpt(BOB, code, "x")
    assert t.accepted == ([BOB] if taken else [])
    assert t.outcomes() == ([] if taken else [Deferred(BOB, "4.0.0", f"{code} x", MX)])


def test_a_reply_of_exactly_500_characters_is_kept_whole() -> None:
    text = "5.1.1 " + "y" * 490  # "550 " + 496 = 500
    assert outcome(BOB, 550, text, MX) == Failed(BOB, "5.1.1", f"550 {text}", MX)
    longer = outcome(BOB, 550, text + "z", MX)
    assert isinstance(longer, Failed) and longer.error == f"550 {text}"[:497] + "..."
