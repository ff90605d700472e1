"""The POP3 core without a loop: transcripts byte for byte, every refusal, limits at their edge."""

from __future__ import annotations

import base64
from collections.abc import Sequence

import pytest

from mailserver import pop3
from mailserver.pop3 import (
    CheckPassword,
    Close,
    MaildropError,
    Send,
    Session,
    Settings,
    StartTls,
    State,
)

HOST = "mail.crepes.fr"
ONE = b"From: bob@hamburger.edu\r\nSubject: hi\r\n\r\nHello Alice.\r\n"
# a lone "." line, a line starting with "..", bare LF line ends and no final line end
TWO = b"Subject: dots\n\n.\n..two\nlast"


class Drop:
    """An in-memory maildrop, as the store's will be."""

    def __init__(self, messages: dict[str, bytes]) -> None:
        self.messages = dict(messages)
        self.deleted: list[list[str]] = []
        self.unreadable: set[str] = set()
        self.fail_delete = False
        self.fail_listing = False

    def listing(self) -> Sequence[tuple[str, int]]:
        if self.fail_listing:
            raise MaildropError("index locked")
        return [(uid, len(pop3.crlf_lines(m))) for uid, m in self.messages.items()]

    def read(self, uid: str) -> bytes:
        if uid in self.unreadable:
            raise MaildropError("gone")
        return self.messages[uid]

    def delete(self, uids: Sequence[str]) -> None:
        self.deleted.append(list(uids))
        if self.fail_delete:
            raise MaildropError("disk full")


def settings(**kw: object) -> Settings:
    base: dict[str, object] = {"hostname": HOST, "tls_available": True, "plaintext_allowed": True}
    base.update(kw)
    return Settings(**base)  # type: ignore[arg-type]


def new(tls: bool = False, **kw: object) -> Session:
    return Session(settings(**kw), tls_active=tls, now=100.0)


def sent(actions: list[pop3.Action]) -> bytes:
    """The bytes of a list of actions that are all Send."""
    assert all(isinstance(a, Send) for a in actions), actions
    return b"".join(a.data for a in actions if isinstance(a, Send))


def say(s: Session, line: bytes, now: float = 101.0) -> bytes:
    return sent(s.receive(line, now))


def logged_in(drop: Drop | None = None, **kw: object) -> tuple[Session, Drop]:
    drop = drop if drop is not None else Drop({"u1": ONE, "u2": TWO})
    s = new(**kw)
    assert say(s, b"USER alice@crepes.fr\r\n") == b"+OK send PASS\r\n"
    assert s.receive(b"PASS secret\r\n", 101.0) == [
        CheckPassword(user="alice@crepes.fr", password=b"secret")
    ]
    out = sent(s.password_checked("alice@crepes.fr", drop))
    assert out.startswith(b"+OK maildrop has ")
    return s, drop


SIZE1, SIZE2 = len(ONE), len(pop3.crlf_lines(TWO))


def test_greeting_names_the_host_and_offers_no_apop_timestamp():
    assert new().greeting() == b"+OK mail.crepes.fr POP3 server ready\r\n"


def test_capa_before_login_with_plaintext_allowed_and_tls_available():
    assert say(new(), b"CAPA\r\n") == (
        b"+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
        b"PIPELINING\r\nUSER\r\nSASL PLAIN\r\nSTLS\r\nIMPLEMENTATION minternet\r\n.\r\n"
    )


def test_capa_hides_passwords_before_tls_when_plaintext_is_refused_and_stls_after_tls():
    s = new(plaintext_allowed=False)
    text = say(s, b"CAPA\r\n")
    assert b"USER\r\n" not in text and b"SASL" not in text and b"STLS\r\n" in text
    assert s.receive(b"STLS\r\n", 101.0) == [
        Send(data=b"+OK begin TLS negotiation\r\n"),
        StartTls(),
    ]
    assert s.tls_started() == []
    text = say(s, b"CAPA\r\n")
    assert b"USER\r\nSASL PLAIN\r\n" in text and b"STLS" not in text


def test_capa_without_a_certificate_offers_no_stls_and_after_login_no_login_commands():
    assert b"STLS" not in say(new(tls_available=False), b"CAPA\r\n")
    s, _ = logged_in()
    assert say(s, b"CAPA\r\n") == (
        b"+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
        b"PIPELINING\r\nIMPLEMENTATION minternet\r\n.\r\n"
    )
    assert say(s, b"CAPA x\r\n") == b"-ERR CAPA takes no argument\r\n"


def test_a_login_session_transcript():
    s, drop = logged_in()
    assert s.state is State.TRANSACTION and s.user == "alice@crepes.fr"
    assert say(s, b"STAT\r\n") == f"+OK 2 {SIZE1 + SIZE2}\r\n".encode()
    assert say(s, b"LIST\r\n") == (
        f"+OK 2 messages ({SIZE1 + SIZE2} octets)\r\n1 {SIZE1}\r\n2 {SIZE2}\r\n.\r\n".encode()
    )
    assert say(s, b"LIST 2\r\n") == f"+OK 2 {SIZE2}\r\n".encode()
    assert say(s, b"UIDL\r\n") == b"+OK unique-id list\r\n1 u1\r\n2 u2\r\n.\r\n"
    assert say(s, b"UIDL 1\r\n") == b"+OK 1 u1\r\n"
    assert say(s, b"RETR 1\r\n") == f"+OK {SIZE1} octets\r\n".encode() + ONE + b".\r\n"
    assert say(s, b"DELE 1\r\n") == b"+OK message 1 deleted\r\n"
    assert say(s, b"STAT\r\n") == f"+OK 1 {SIZE2}\r\n".encode()
    assert say(s, b"LIST\r\n") == (
        f"+OK 1 messages ({SIZE2} octets)\r\n2 {SIZE2}\r\n.\r\n".encode()
    )
    assert say(s, b"UIDL\r\n") == b"+OK unique-id list\r\n2 u2\r\n.\r\n"
    assert say(s, b"NOOP\r\n") == b"+OK nothing done\r\n"
    actions = s.receive(b"QUIT\r\n", 102.0)
    assert actions == [
        Send(data=b"+OK mail.crepes.fr POP3 server signing off (1 messages left)\r\n"),
        Close(reason="quit"),
    ]
    assert drop.deleted == [["u1"]]
    assert s.state is State.CLOSED
    assert s.receive(b"STAT\r\n", 103.0) == []


def test_retr_dot_stuffs_and_ends_every_line_with_crlf():
    s, _ = logged_in()
    assert say(s, b"RETR 2\r\n") == (
        f"+OK {SIZE2} octets\r\n".encode() + b"Subject: dots\r\n\r\n..\r\n...two\r\nlast\r\n.\r\n"
    )


def test_multiline_and_crlf_lines_golden():
    assert pop3.crlf_lines(b"") == b""
    assert pop3.crlf_lines(b"a") == b"a\r\n"
    assert pop3.crlf_lines(b"a\nb\r\n") == b"a\r\nb\r\n"
    assert pop3.crlf_lines(b"a\r\n\r\n") == b"a\r\n\r\n"
    assert pop3.multiline(b"+OK\r\n", b"") == b"+OK\r\n.\r\n"
    assert pop3.multiline(b"+OK\r\n", b".\r\n") == b"+OK\r\n..\r\n.\r\n"
    assert pop3.multiline(b"+OK\r\n", b".a\r\n.\r\n.\r\nb.\r\n") == (
        b"+OK\r\n..a\r\n..\r\n..\r\nb.\r\n.\r\n"
    )


def test_top_gives_the_header_and_that_many_body_lines():
    msg = b"A: 1\r\nB: 2\r\n\r\nl1\r\n.l2\r\nl3\r\n"
    assert pop3.top_of(msg, 0) == b"A: 1\r\nB: 2\r\n\r\n"
    assert pop3.top_of(msg, 1) == b"A: 1\r\nB: 2\r\n\r\nl1\r\n"
    assert pop3.top_of(msg, 2) == b"A: 1\r\nB: 2\r\n\r\nl1\r\n.l2\r\n"
    assert pop3.top_of(msg, 3) == msg
    assert pop3.top_of(msg, 4) == msg  # one more than it has
    assert pop3.top_of(msg, 99) == msg
    # only the first blank line ends the header
    assert pop3.top_of(b"A: 1\n\nl1\n\nl3\n", 1) == b"A: 1\r\n\r\nl1\r\n"
    # an empty header: the message starts with the blank line
    assert pop3.top_of(b"\nl1\nl2\n", 0) == b"\r\n"
    assert pop3.top_of(b"\r\nl1\r\n\r\nl3\r\n", 1) == b"\r\nl1\r\n"
    assert pop3.top_of(b"A: 1\nB: 2", 5) == b"A: 1\r\nB: 2\r\n"  # no body at all
    assert pop3.top_of(b"A: 1\n\n", 5) == b"A: 1\r\n\r\n"  # an empty body
    assert pop3.top_of(b"A: 1\n\nx", 5) == b"A: 1\r\n\r\nx\r\n"
    s, _ = logged_in()
    assert (
        say(s, b"TOP 2 1\r\n") == b"+OK top of message follows\r\nSubject: dots\r\n\r\n..\r\n.\r\n"
    )
    assert say(s, b"TOP 1 0\r\n") == (
        b"+OK top of message follows\r\nFrom: bob@hamburger.edu\r\nSubject: hi\r\n\r\n.\r\n"
    )


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        (b"RETR 0", b"-ERR no such message, only 2\r\n"),
        (b"RETR 3", b"-ERR no such message, only 2\r\n"),
        (b"LIST 3", b"-ERR no such message, only 2\r\n"),
        (b"UIDL 0", b"-ERR no such message, only 2\r\n"),
        (b"DELE 3", b"-ERR no such message, only 2\r\n"),
        (b"TOP 3 1", b"-ERR no such message, only 2\r\n"),
        (b"RETR x", b"-ERR 'x' is not a message number\r\n"),
        (b"RETR -1", b"-ERR '-1' is not a message number\r\n"),
        (b"RETR +1", b"-ERR '+1' is not a message number\r\n"),
        (b"RETR 1234567890", b"-ERR '1234567890' is not a message number\r\n"),
        (b"RETR \xd9\xa1", b"-ERR '\xd9\xa1' is not a message number\r\n"),  # Arabic-Indic 1
        (b"RETR", b"-ERR RETR takes one message number\r\n"),
        (b"RETR 1 2", b"-ERR RETR takes one message number\r\n"),
        (b"DELE", b"-ERR DELE takes one message number\r\n"),
        (b"DELE 1 1", b"-ERR DELE takes one message number\r\n"),
        (b"LIST 1 2", b"-ERR LIST takes at most one argument\r\n"),
        (b"UIDL 1 2", b"-ERR UIDL takes at most one argument\r\n"),
        (b"TOP 1", b"-ERR TOP takes a message number and a number of lines\r\n"),
        (b"TOP 1 2 3", b"-ERR TOP takes a message number and a number of lines\r\n"),
        (b"TOP 1  2", b"-ERR TOP takes a message number and a number of lines\r\n"),
        (b"TOP 1 -1", b"-ERR '-1' is not a number of lines\r\n"),
        (b"TOP x 1", b"-ERR 'x' is not a message number\r\n"),
        (b"STAT 1", b"-ERR STAT takes no argument\r\n"),
        (b"NOOP 1", b"-ERR NOOP takes no argument\r\n"),
        (b"RSET 1", b"-ERR RSET takes no argument\r\n"),
        (b"USER bob", b"-ERR USER is not valid after login\r\n"),
        (b"PASS x", b"-ERR PASS is not valid after login\r\n"),
        (b"AUTH PLAIN", b"-ERR AUTH is not valid after login\r\n"),
        (b"STLS", b"-ERR STLS is not valid after login\r\n"),
        (b"APOP a b", b"-ERR APOP is not valid after login\r\n"),
        (b"XYZZY", b"-ERR unknown command\r\n"),
        (b"", b"-ERR empty command\r\n"),
        (b" STAT", b"-ERR empty command\r\n"),
    ],
)
def test_bad_commands_after_login_say_why(line, reply):
    s, _ = logged_in()
    assert say(s, line + b"\r\n") == reply
    assert say(s, b"STAT\r\n") == f"+OK 2 {SIZE1 + SIZE2}\r\n".encode()  # nothing changed


def test_the_largest_message_number_and_line_count_are_accepted():
    s, _ = logged_in()
    assert say(s, b"RETR 000000001\r\n").startswith(f"+OK {SIZE1} octets\r\n".encode())
    assert say(s, b"RETR 999999999\r\n") == b"-ERR no such message, only 2\r\n"
    assert say(s, b"TOP 1 999999999\r\n").endswith(ONE + b".\r\n")


@pytest.mark.parametrize("command", [b"RETR 1", b"DELE 1", b"LIST 1", b"UIDL 1", b"TOP 1 0"])
def test_a_deleted_message_is_refused_until_rset(command):
    s, _ = logged_in()
    assert say(s, b"DELE 1\r\n") == b"+OK message 1 deleted\r\n"
    assert say(s, command + b"\r\n") == b"-ERR message 1 already deleted\r\n"
    assert (
        say(s, b"RSET\r\n") == f"+OK maildrop has 2 messages ({SIZE1 + SIZE2} octets)\r\n".encode()
    )
    assert say(s, command + b"\r\n").startswith(b"+OK")


def test_quit_without_deletions_removes_nothing_and_rset_undoes_dele():
    s, drop = logged_in()
    say(s, b"DELE 2\r\nRSET\r\n")
    assert sent(s.receive(b"QUIT\r\n", 102.0)[:1]) == (
        b"+OK mail.crepes.fr POP3 server signing off (2 messages left)\r\n"
    )
    assert drop.deleted == []


def test_quit_after_deleting_everything_says_the_maildrop_is_empty():
    s, drop = logged_in()
    say(s, b"DELE 2\r\nDELE 1\r\n")
    assert s.receive(b"QUIT\r\n", 102.0)[0] == Send(
        data=b"+OK mail.crepes.fr POP3 server signing off (maildrop empty)\r\n"
    )
    assert drop.deleted == [["u1", "u2"]]  # in maildrop order


def test_quit_when_the_store_cannot_delete_says_so():
    s, drop = logged_in()
    drop.fail_delete = True
    say(s, b"DELE 1\r\n")
    assert s.receive(b"QUIT\r\n", 102.0) == [
        Send(data=b"-ERR [SYS/TEMP] some deleted messages not removed\r\n"),
        Close(reason="quit"),
    ]


def test_quit_before_login_closes_without_update():
    s = new()
    assert s.receive(b"QUIT\r\n", 101.0) == [
        Send(data=b"+OK mail.crepes.fr POP3 server signing off\r\n"),
        Close(reason="quit"),
    ]


def test_a_message_the_store_cannot_read_is_an_error_not_a_crash():
    s, drop = logged_in()
    drop.unreadable.add("u1")
    assert say(s, b"RETR 1\r\n") == b"-ERR [SYS/TEMP] message 1 cannot be read now\r\n"
    assert say(s, b"TOP 1 1\r\n") == b"-ERR [SYS/TEMP] message 1 cannot be read now\r\n"
    assert say(s, b"RETR 2\r\n").startswith(b"+OK")


def test_a_maildrop_that_cannot_be_listed_ends_the_session():
    s = new()
    say(s, b"USER a@crepes.fr\r\n")
    s.receive(b"PASS x\r\n", 101.0)
    drop = Drop({})
    drop.fail_listing = True
    assert s.password_checked("a@crepes.fr", drop) == [
        Send(data=b"-ERR [SYS/TEMP] cannot open the maildrop\r\n"),
        Close(reason="maildrop error"),
    ]


def test_an_empty_maildrop():
    s, _ = logged_in(Drop({}))
    assert say(s, b"STAT\r\n") == b"+OK 0 0\r\n"
    assert say(s, b"LIST\r\n") == b"+OK 0 messages (0 octets)\r\n.\r\n"
    assert say(s, b"RETR 1\r\n") == b"-ERR no such message, only 0\r\n"


def test_login_reply_counts_the_maildrop():
    s = new()
    say(s, b"USER alice@crepes.fr\r\n")
    s.receive(b"PASS x\r\n", 101.0)
    assert s.password_checked("alice@crepes.fr", Drop({"a": b"12\r\n"})) == [
        Send(data=b"+OK maildrop has 1 messages (4 octets)\r\n")
    ]


def test_pass_takes_the_rest_of_the_line_with_its_spaces():
    s = new()
    say(s, b"user alice@crepes.fr\r\n")
    assert s.receive(b"pass  two words \r\n", 101.0) == [
        CheckPassword(user="alice@crepes.fr", password=b" two words ")
    ]
    assert "two words" not in repr(s.receive(b"", 101.0)) + repr(
        CheckPassword(user="u", password=b"two words")
    )


def test_a_failed_login_looks_the_same_whatever_the_reason_and_the_third_closes():
    s = new()
    for attempt in range(3):
        say(s, b"USER nobody@crepes.fr\r\n")
        assert s.receive(b"PASS guess\r\n", 101.0) == [
            CheckPassword(user="nobody@crepes.fr", password=b"guess")
        ]
        assert s.receive(b"STAT\r\n", 101.0) == []  # held while the password is checked
        actions = s.password_checked(None, None)
        if attempt < 2:
            assert actions == [
                Send(data=b"-ERR [AUTH] Authentication failed\r\n"),
                Send(data=b"-ERR STAT is not valid before login\r\n"),
            ]
    assert actions == [
        Send(data=b"-ERR [AUTH] Authentication failed\r\n"),
        Close(reason="too many failed logins"),
    ]
    assert s.state is State.CLOSED


def test_a_user_without_a_maildrop_is_a_failed_login():
    s = new()
    assert s.user is None
    say(s, b"USER a@crepes.fr\r\n")
    s.receive(b"PASS x\r\n", 101.0)
    assert s.password_checked("a@crepes.fr", None) == [
        Send(data=b"-ERR [AUTH] Authentication failed\r\n")
    ]
    assert s.state is State.AUTHORIZATION and s.user is None


def test_pass_needs_user_first_and_user_needs_a_name():
    s = new()
    assert say(s, b"PASS x\r\n") == b"-ERR USER first\r\n"
    assert say(s, b"USER\r\n") == b"-ERR USER needs a name\r\n"
    assert s.receive(b"USER a\r\nPASS x\r\nPASS y\r\n", 1.0) == [
        Send(data=b"+OK send PASS\r\n"),
        CheckPassword(user="a", password=b"x"),
    ]
    assert s.state is State.CHECKING
    assert s.password_checked(None, None) == [
        Send(data=b"-ERR [AUTH] Authentication failed\r\n"),
        Send(data=b"-ERR USER first\r\n"),
    ]


def test_commands_before_login_that_need_a_login_say_so():
    s = new()
    for command in (b"STAT", b"LIST", b"RETR 1", b"DELE 1", b"NOOP", b"RSET", b"TOP 1 1", b"UIDL"):
        name = command.split()[0].decode()
        assert say(s, command + b"\r\n") == f"-ERR {name} is not valid before login\r\n".encode()


def test_apop_is_refused_with_what_to_use_instead():
    assert say(new(), b"APOP alice 0123\r\n") == (
        b"-ERR APOP is not offered: use USER/PASS or AUTH PLAIN over TLS\r\n"
    )


@pytest.mark.parametrize("command", [b"USER alice@crepes.fr", b"PASS x", b"AUTH PLAIN AGEAYg=="])
def test_passwords_before_tls_are_refused_when_plaintext_is_not_allowed(command):
    s = new(plaintext_allowed=False)
    assert say(s, command + b"\r\n") == (
        b"-ERR [AUTH] passwords are not taken before TLS here: use STLS\r\n"
    )
    s.receive(b"STLS\r\n", 101.0)
    s.tls_started()
    assert say(s, b"USER alice@crepes.fr\r\n") == b"+OK send PASS\r\n"


def test_passwords_are_taken_on_a_tls_listener_whatever_the_policy():
    s = new(tls=True, plaintext_allowed=False, tls_available=False)
    assert say(s, b"USER alice@crepes.fr\r\n") == b"+OK send PASS\r\n"
    assert say(s, b"STLS\r\n") == b"-ERR TLS is already on\r\n"


def plain(authzid: bytes, authcid: bytes, password: bytes) -> bytes:
    return base64.b64encode(authzid + b"\0" + authcid + b"\0" + password)


def test_auth_plain_with_an_initial_response():
    s = new()
    assert s.receive(b"AUTH PLAIN " + plain(b"", b"alice@crepes.fr", b"p w") + b"\r\n", 1.0) == [
        CheckPassword(user="alice@crepes.fr", password=b"p w")
    ]


def test_auth_plain_with_the_continuation_and_authzid_equal_to_the_user():
    s = new()
    assert say(s, b"auth plain\r\n") == b"+ \r\n"
    assert s.state is State.SASL
    response = plain(b"bob@hamburger.edu", b"bob@hamburger.edu", b"pw")
    assert s.receive(response + b"\r\n", 1.0) == [
        CheckPassword(user="bob@hamburger.edu", password=b"pw")
    ]


def test_auth_plain_cancelled_and_malformed():
    s = new()
    assert say(s, b"AUTH PLAIN\r\n*\r\n") == b"+ \r\n-ERR authentication cancelled\r\n"
    assert say(s, b"AUTH PLAIN\r\n!!!\r\n") == b"+ \r\n-ERR bad base64 in the AUTH response\r\n"
    assert say(s, b"AUTH PLAIN =\r\n") == (
        b"-ERR AUTH PLAIN wants authzid NUL authcid NUL password\r\n"
    )
    two = base64.b64encode(b"a\0b")
    assert say(s, b"AUTH PLAIN " + two + b"\r\n") == (
        b"-ERR AUTH PLAIN wants authzid NUL authcid NUL password\r\n"
    )
    assert say(s, b"AUTH PLAIN " + plain(b"", b"", b"pw") + b"\r\n") == (
        b"-ERR AUTH PLAIN wants authzid NUL authcid NUL password\r\n"
    )
    assert say(s, b"AUTH LOGIN\r\n") == b"-ERR unsupported authentication mechanism\r\n"
    assert say(s, b"AUTH\r\n") == b"+OK SASL mechanisms follow\r\nPLAIN\r\n.\r\n"
    assert s.state is State.AUTHORIZATION


def test_auth_plain_with_bytes_that_are_not_utf8():
    s = new()
    assert say(s, b"AUTH PLAIN \xff\xfe\r\n") == b"-ERR bad base64 in the AUTH response\r\n"
    assert s.receive(b"AUTH PLAIN " + plain(b"", b"\xffbob", b"\xfe") + b"\r\n", 1.0) == [
        CheckPassword(user="\udcffbob", password=b"\xfe")
    ]


def test_auth_plain_as_someone_else_fails_like_a_wrong_password():
    s = new(max_auth_failures=2)
    other = plain(b"bob@hamburger.edu", b"alice@crepes.fr", b"alicepw")
    assert say(s, b"AUTH PLAIN " + other + b"\r\n") == b"-ERR [AUTH] Authentication failed\r\n"
    assert s.receive(b"AUTH PLAIN " + other + b"\r\n", 1.0) == [
        Send(data=b"-ERR [AUTH] Authentication failed\r\n"),
        Close(reason="too many failed logins"),
    ]


def test_stls_drops_what_was_pipelined_after_it():
    s = new()
    assert s.receive(b"STLS\r\nUSER evil\r\n", 1.0) == [
        Send(data=b"+OK begin TLS negotiation\r\n"),
        StartTls(),
    ]
    assert s.receive(b"PASS injected\r\n", 1.0) == []  # before the handshake: held, then dropped
    s.tls_started()
    assert s.tls_active
    assert say(s, b"PASS x\r\n") == b"-ERR USER first\r\n"
    assert say(s, b"STLS\r\n") == b"-ERR TLS is already on\r\n"


def test_stls_refusals():
    assert say(new(tls_available=False), b"STLS\r\n") == b"-ERR STLS is not available\r\n"
    assert say(new(), b"STLS now\r\n") == b"-ERR STLS takes no argument\r\n"


def test_calls_out_of_turn_do_nothing():
    s = new()
    assert s.tls_started() == [] and not s.tls_active
    assert s.password_checked("a@b.c", Drop({})) == []
    assert s.state is State.AUTHORIZATION


def test_lines_may_end_with_lf_and_arrive_a_byte_at_a_time():
    s, _ = logged_in()
    out = b"".join(say(s, bytes([b])) for b in b"STAT\nNOOP\r\n")
    assert out == f"+OK 2 {SIZE1 + SIZE2}\r\n+OK nothing done\r\n".encode()


def test_a_line_at_the_limit_is_read_and_one_longer_is_refused_once():
    s = new(max_line=300)
    at_limit = b"USER " + b"a" * 295
    assert say(s, at_limit + b"\r\n") == b"+OK send PASS\r\n"
    too_long = b"USER " + b"a" * 296
    assert say(s, too_long + b"\r\n") == b"-ERR line too long\r\n"
    # an endless line is refused once, skipped up to its end, and the next line is read
    assert say(s, b"x" * 301) == b""  # its 301st octet could be the CR before the LF
    assert say(s, b"x") == b"-ERR line too long\r\n"
    assert say(s, b"y" * 1000) == b""
    assert say(s, b"zzz\r\nNOOP\r\n") == b"-ERR NOOP is not valid before login\r\n"


def test_an_over_long_line_is_answered_in_turn_with_the_lines_around_it():
    long = b"x" * 301
    s = new(max_line=300)
    assert say(s, b"NOOP\r\n" + long + b"\r\nCAPA x\r\n") == (
        b"-ERR NOOP is not valid before login\r\n-ERR line too long\r\n"
        b"-ERR CAPA takes no argument\r\n"
    )
    s = new(max_line=300)
    assert say(s, b"NOOP\r\n" + long + b"x") == (
        b"-ERR NOOP is not valid before login\r\n-ERR line too long\r\n"
    )


def test_an_empty_line_first_in_the_buffer_is_a_line():
    s, _ = logged_in()
    assert say(s, b"\nNOOP\r\n") == b"-ERR empty command\r\n+OK nothing done\r\n"


def test_a_line_exactly_at_max_line_without_its_end_is_still_waited_for():
    s = new(max_line=300)
    assert say(s, b"USER " + b"a" * 295) == b""
    assert say(s, b"\r\n") == b"+OK send PASS\r\n"


def test_too_many_bad_commands_close_the_connection():
    s = new(max_bad_commands=3)
    assert say(s, b"A\r\nB\r\n") == b"-ERR unknown command\r\n-ERR unknown command\r\n"
    assert s.receive(b"C\r\nD\r\n", 1.0) == [
        Send(data=b"-ERR unknown command; too many bad commands, closing\r\n"),
        Close(reason="bad commands"),
    ]


def test_input_flood_while_a_password_is_checked_closes():
    s = new()
    say(s, b"USER a\r\n")
    s.receive(b"PASS b\r\n", 1.0)
    assert s.receive(b"x" * pop3.MAX_PENDING, 1.0) == []
    assert s.receive(b"x", 1.0) == [
        Send(data=b"-ERR too much input while waiting\r\n"),
        Close(reason="input flood"),
    ]


def test_deadline_is_shorter_before_login():
    s = new(login_timeout=60.0, idle_timeout=600.0)
    assert s.deadline == 160.0
    say(s, b"CAPA\r\n", now=130.0)
    assert s.deadline == 190.0
    s, _ = logged_in(login_timeout=60.0, idle_timeout=600.0)
    assert s.deadline == 701.0


def test_the_login_reply_never_echoes_the_user_name():
    # hypothesis found it: a name with CR, NUL or bytes that are not UTF-8 (kept as surrogates)
    # went into the +OK line, which raised UnicodeEncodeError or split the reply in two
    s = new()
    say(s, b"USER a\r\n")
    s.receive(b"PASS x\r\n", 101.0)
    assert s.password_checked("\r\x00\udc80ER a", Drop({})) == [
        Send(data=b"+OK maildrop has 0 messages (0 octets)\r\n")
    ]


def test_a_right_password_over_the_session_limit_is_in_use_and_not_a_failure():
    s = new(max_auth_failures=1)
    say(s, b"USER a@crepes.fr\r\n")
    s.receive(b"PASS x\r\nNOOP\r\n", 101.0)
    assert s.password_checked(None, None, "20 sessions already") == [
        Send(data=b"-ERR [IN-USE] 20 sessions already\r\n"),
        Send(data=b"-ERR NOOP is not valid before login\r\n"),  # held input, then answered
    ]
    assert s.state is State.AUTHORIZATION and s.user is None
    say(s, b"USER a@crepes.fr\r\n")
    s.receive(b"PASS x\r\n", 101.0)
    # still no failure counted: one more (max_auth_failures=1) closes only now
    assert s.password_checked(None, None) == [
        Send(data=b"-ERR [AUTH] Authentication failed\r\n"),
        Close(reason="too many failed logins"),
    ]


def test_in_use_outside_a_check_is_ignored():
    s = new()
    assert s.password_checked(None, None, "busy") == []
    assert s.state is State.AUTHORIZATION
