"""The IMAP session before and around login: greeting, capabilities, LOGIN, AUTHENTICATE
PLAIN (SASL-IR and continuation), STARTTLS, LOGINDISABLED, literal(), wrong states, LOGOUT,
ID, ENABLE, NAMESPACE and the answers to commands that do not parse. Exact bytes throughout."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import replace

import pytest

import mailserver.imap.session
from mailserver.imap.session import (
    CheckPassword,
    Close,
    Log,
    Send,
    Session,
    StartTls,
    State,
)
from mailserver.store import Store, StoreError
from tests.mailserver.imap.session_kit import BOB, CAPS, SETTINGS, Client, store_fixture

LOGGED_IN = b"L OK [CAPABILITY " + CAPS + b" COMPRESS=DEFLATE APPENDLIMIT=5000] Logged in\r\n"


@pytest.fixture
def store() -> Iterator[Store]:
    yield from store_fixture()


@pytest.fixture
def client(store: Store) -> Client:
    return Client(store)


def plain(authzid: bytes, user: bytes, password: bytes) -> bytes:
    return base64.b64encode(authzid + b"\x00" + user + b"\x00" + password)


# -- greeting and capabilities -----------------------------------------------------------


def test_greeting_lists_starttls_and_auth_plain_before_tls():
    session = Session(SETTINGS, tls_active=False)
    assert session.greeting() == (
        b"* OK [CAPABILITY " + CAPS + b" STARTTLS AUTH=PLAIN APPENDLIMIT=5000]"
        b" mail.test IMAP4rev1 ready\r\n"
    )
    assert not session.authenticated and session.address is None and session.selected is None


def test_logindisabled_before_tls_when_plaintext_is_not_ok():
    session = Session(replace(SETTINGS, plaintext_ok=False), tls_active=False)
    assert session.capabilities()[-3:] == ["STARTTLS", "LOGINDISABLED", "APPENDLIMIT=5000"]
    assert "AUTH=PLAIN" not in session.capabilities()


def test_no_starttls_once_tls_is_active_and_login_allowed():
    session = Session(replace(SETTINGS, plaintext_ok=False), tls_active=True)
    assert session.capabilities()[-2:] == ["AUTH=PLAIN", "APPENDLIMIT=5000"]
    assert "STARTTLS" not in session.capabilities()


def test_no_starttls_when_not_offered():
    session = Session(replace(SETTINGS, starttls=False), tls_active=False)
    assert session.capabilities()[-2:] == ["AUTH=PLAIN", "APPENDLIMIT=5000"]


def test_capability_command_and_after_login(client: Client):
    assert client(b"a CAPABILITY") == (
        b"* CAPABILITY " + CAPS + b" STARTTLS AUTH=PLAIN APPENDLIMIT=5000\r\n"
        b"a OK CAPABILITY completed\r\n"
    )
    assert client.login() == LOGGED_IN
    assert client(b"b CAPABILITY") == (
        b"* CAPABILITY " + CAPS + b" COMPRESS=DEFLATE APPENDLIMIT=5000\r\n"
        b"b OK CAPABILITY completed\r\n"
    )


# -- LOGIN -------------------------------------------------------------------------------


def test_login_asks_the_shell_to_check_the_password(store: Store):
    session = Session(SETTINGS, tls_active=False)
    actions = session.receive(b'L LOGIN "bob@hamburger.edu" {6}\r\nsecret\r\n')
    assert actions == [
        CheckPassword(user=b"bob@hamburger.edu", password=b"secret", mechanism="LOGIN")
    ]
    assert session.receive(b"x NOOP\r\n") == [
        Send(data=b"x BAD wait for the password to finish\r\n")
    ]
    assert session.receive(b"\r\n") == [Send(data=b"* BAD wait for the password to finish\r\n")]
    assert session.login_result(BOB, store.user(BOB)) == [Send(data=LOGGED_IN)]
    assert session.authenticated and session.address == BOB
    assert session.state is State.AUTHENTICATED
    assert session.login_result(BOB, store.user(BOB)) == []  # nothing pending any more


def test_wrong_password_and_limit(store: Store, client: Client):
    assert client(b"a LOGIN bob@hamburger.edu wrong") == (
        b"a NO [AUTHENTICATIONFAILED] Authentication failed\r\n"
    )
    session = Session(SETTINGS, tls_active=False)
    session.receive(b"b LOGIN bob@hamburger.edu secret\r\n")
    assert session.login_result(None, None, "too many sessions for this user") == [
        Send(data=b"b NO [LIMIT] too many sessions for this user\r\n")
    ]
    assert not session.authenticated


def test_login_refused_before_tls_when_plaintext_is_not_ok(store: Store):
    client = Client(store, replace(SETTINGS, plaintext_ok=False))
    assert client(b"a LOGIN bob@hamburger.edu secret") == (
        b"a NO [PRIVACYREQUIRED] passwords are not taken before TLS here: use STARTTLS\r\n"
    )
    assert client(b"b AUTHENTICATE PLAIN " + plain(b"", b"bob@hamburger.edu", b"secret")) == (
        b"b NO [PRIVACYREQUIRED] passwords are not taken before TLS here: use STARTTLS\r\n"
    )
    assert client(b"c STARTTLS") == b"c OK Begin TLS negotiation now\r\n"
    assert client.last[-1] == StartTls()
    assert client.session.tls_started() == []
    assert client.session.tls_active
    assert client.login() == LOGGED_IN


def test_login_twice_is_bad(client: Client):
    client.login()
    assert client(b"a LOGIN bob@hamburger.edu secret") == (
        b"a BAD LOGIN is not allowed once authenticated\r\n"
    )


# -- AUTHENTICATE PLAIN --------------------------------------------------------------------


def test_authenticate_plain_with_initial_response(client: Client):
    actions = client.session.receive(
        b"A AUTHENTICATE PLAIN " + plain(b"", b"bob@hamburger.edu", b"secret") + b"\r\n"
    )
    assert actions == [
        CheckPassword(user=b"bob@hamburger.edu", password=b"secret", mechanism="PLAIN")
    ]


def test_authenticate_plain_with_continuation(client: Client):
    assert client(b"A AUTHENTICATE plain") == b"+ \r\n"
    assert client(plain(b"bob@hamburger.edu", b"bob@hamburger.edu", b"secret")) == (
        LOGGED_IN.replace(b"L OK", b"A OK")
    )
    assert client.session.authenticated


def test_authenticate_failures(client: Client):
    assert client(b"A AUTHENTICATE PLAIN") == b"+ \r\n"
    assert client(b"*") == b"A BAD AUTHENTICATE cancelled\r\n"
    assert client(b"B AUTHENTICATE PLAIN") == b"+ \r\n"
    assert client(b"not base64!") == b"B BAD invalid base64 in the SASL response\r\n"
    assert client(b"C AUTHENTICATE PLAIN =") == b"C BAD invalid PLAIN response\r\n"
    bad = base64.b64encode(b"only\x00two")
    assert client(b"D AUTHENTICATE PLAIN " + bad) == b"D BAD invalid PLAIN response\r\n"
    empty_user = plain(b"", b"", b"secret")
    assert client(b"E AUTHENTICATE PLAIN " + empty_user) == b"E BAD invalid PLAIN response\r\n"
    other = plain(b"alice@crepes.fr", b"bob@hamburger.edu", b"secret")
    assert client(b"F AUTHENTICATE PLAIN " + other) == (
        b"F NO [AUTHORIZATIONFAILED] cannot log in as another user\r\n"
    )
    assert client(b"G AUTHENTICATE CRAM-MD5") == b"G NO unsupported SASL mechanism CRAM-MD5\r\n"
    long = b"X-" + b"M" * 38 + b"-CUT-HERE"  # the name is echoed up to its 40th character
    assert client(b"G AUTHENTICATE " + long) == (
        b"G NO unsupported SASL mechanism X-" + b"M" * 38 + b"\r\n"
    )
    wrong = plain(b"", b"bob@hamburger.edu", b"nope")
    assert client(b"H AUTHENTICATE PLAIN " + wrong) == (
        b"H NO [AUTHENTICATIONFAILED] Authentication failed\r\n"
    )
    assert not client.session.authenticated


# -- STARTTLS ------------------------------------------------------------------------------


def test_starttls_refused_when_active_or_not_offered(store: Store):
    assert Client(store, tls=True)(b"a STARTTLS") == b"a BAD TLS is already active\r\n"
    client = Client(store, replace(SETTINGS, starttls=False))
    assert client(b"a STARTTLS") == b"a BAD STARTTLS is not offered here\r\n"


def test_starttls_waits_for_the_handshake(client: Client):
    assert client.session.receive(b"a STARTTLS\r\n") == [
        Send(data=b"a OK Begin TLS negotiation now\r\n"),
        StartTls(),
    ]
    assert client(b"b NOOP") == b"b BAD wait for the tls to finish\r\n"
    client.session.tls_started()
    assert client(b"c NOOP") == b"c OK NOOP completed\r\n"
    assert client.session.tls_started() == [] and client.session.tls_active
    assert "STARTTLS" not in client.session.capabilities()


def test_tls_started_without_starttls_changes_nothing(client: Client):
    assert client.session.tls_started() == []
    assert not client.session.tls_active


# -- literals ------------------------------------------------------------------------------


def test_literal_answers(client: Client):
    session = client.session
    assert session.literal(1000, True, b"a LOGIN {1000}\r\n") == (
        b"+ Ready for literal data\r\n",
        True,
    )
    assert session.literal(1001, True, b"a LOGIN {1001}\r\n") == (
        b"a NO [TOOBIG] literal over the 1000-octet limit\r\n",
        False,
    )
    assert session.literal(10, False, b"a LOGIN {10}\r\n") == (
        b"a NO [TOOBIG] literal over the 1000-octet limit\r\n",
        False,
    )
    # before login an APPEND literal has the small limit
    assert session.literal(2000, True, b"a APPEND INBOX {2000}\r\n")[1] is False
    client.login()
    assert session.literal(5000, True, b"a append INBOX {5000}\r\n") == (
        b"+ Ready for literal data\r\n",
        True,
    )
    assert session.literal(5001, True, b"t1 APPEND INBOX (\\Seen) {5001}\r\n") == (
        b"t1 NO [TOOBIG] message over the 5000-octet limit (APPENDLIMIT)\r\n",
        False,
    )
    # a message within APPENDLIMIT that the framer says does not fit: the messages of a
    # MULTIAPPEND together are over what one command may hold (8192 + 2 + 5000)
    assert SETTINGS.max_command == 13194
    assert session.literal(5000, False, b"t2 APPEND INBOX {10}\r\n") == (
        b"t2 NO [TOOBIG] APPEND over the 13194-octet limit for a whole command (its messages)\r\n",
        False,
    )
    assert session.literal(1001, True, b"a SEARCH TEXT {1001}\r\n")[1] is False
    assert session.literal(5001, True, b"{5001}\r\n") == (
        b"* BAD [TOOBIG] literal over the 1000-octet limit\r\n",
        False,
    )


def test_literal_during_authenticate_is_refused(client: Client):
    client(b"A AUTHENTICATE PLAIN")
    assert client.session.literal(3, True, b"abc {3}\r\n") == (
        b"* BAD a literal is not expected here\r\n",
        False,
    )


# -- states ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "answer"),
    [
        (b"a SELECT INBOX", b"a BAD SELECT needs authentication first (LOGIN or AUTHENTICATE)"),
        (b"a FETCH 1 FLAGS", b"a BAD FETCH needs authentication first (LOGIN or AUTHENTICATE)"),
        (b"a UID FETCH 1 FLAGS", b"a BAD FETCH needs authentication first (LOGIN or AUTHENTICATE)"),
        (b"a ENABLE CONDSTORE", b"a BAD ENABLE needs authentication first (LOGIN or AUTHENTICATE)"),
        (b"a IDLE", b"a BAD IDLE needs authentication first (LOGIN or AUTHENTICATE)"),
    ],
)
def test_commands_before_login(client: Client, frame: bytes, answer: bytes):
    assert client(frame) == answer + b"\r\n"


AUTHENTICATED_COMMANDS = [
    b"a SELECT INBOX",
    b"a EXAMINE INBOX",
    b"a CREATE x",
    b"a DELETE x",
    b"a RENAME x y",
    b"a SUBSCRIBE x",
    b"a UNSUBSCRIBE x",
    b'a LIST "" *',
    b'a LSUB "" *',
    b"a STATUS INBOX (MESSAGES)",
    b"a APPEND INBOX {1}\r\nx",
    b"a NAMESPACE",
]
SELECTED_COMMANDS = [
    b"a CHECK",
    b"a CLOSE",
    b"a UNSELECT",
    b"a EXPUNGE",
    b"a SEARCH ALL",
    b"a FETCH 1 FLAGS",
    b"a STORE 1 FLAGS ()",
    b"a COPY 1 x",
    b"a MOVE 1 x",
    b"a UID SEARCH ALL",
    b"a UID FETCH 1 FLAGS",
    b"a UID STORE 1 FLAGS ()",
    b"a UID COPY 1 x",
    b"a UID MOVE 1 x",
    b"a UID EXPUNGE 1",
]


@pytest.mark.parametrize("frame", AUTHENTICATED_COMMANDS + SELECTED_COMMANDS)
def test_every_command_needs_login(client: Client, frame: bytes):
    name = frame.split(b" ")[1]
    if name == b"UID":
        name = frame.split(b" ")[2]
    assert client(frame) == (
        b"a BAD " + name + b" needs authentication first (LOGIN or AUTHENTICATE)\r\n"
    )


@pytest.mark.parametrize("frame", SELECTED_COMMANDS)
def test_every_selected_command_needs_a_mailbox(client: Client, frame: bytes):
    client.login()
    name = frame.split(b" ")[1]
    if name == b"UID":
        name = frame.split(b" ")[2]
    assert client(frame) == (
        b"a BAD " + name + b" needs a selected mailbox (SELECT or EXAMINE)\r\n"
    )


@pytest.mark.parametrize(
    ("frame", "answer"),
    [
        (b"a FETCH 1 FLAGS", b"a BAD FETCH needs a selected mailbox (SELECT or EXAMINE)"),
        (b"a CLOSE", b"a BAD CLOSE needs a selected mailbox (SELECT or EXAMINE)"),
        (b"a UID EXPUNGE 1", b"a BAD EXPUNGE needs a selected mailbox (SELECT or EXAMINE)"),
        (b"a CHECK", b"a BAD CHECK needs a selected mailbox (SELECT or EXAMINE)"),
        (b"a STARTTLS", b"a BAD STARTTLS is not allowed once authenticated"),
        (b"a AUTHENTICATE PLAIN", b"a BAD AUTHENTICATE is not allowed once authenticated"),
    ],
)
def test_commands_in_the_authenticated_state(client: Client, frame: bytes, answer: bytes):
    client.login()
    assert client(frame) == answer + b"\r\n"


def test_enable_only_before_select(client: Client):
    client.select()
    assert client(b"e ENABLE CONDSTORE") == b"e BAD ENABLE is only allowed before SELECT\r\n"


def test_parse_errors(client: Client):
    assert client(b"") == b"* BAD empty command line\r\n"
    assert client(b"a FROB") == b"a BAD unknown command FROB\r\n"
    assert client(b"a LOGIN") == b"a BAD expected a space\r\n"
    client.login()
    assert client(b"a SEARCH CHARSET KOI8-R ALL") == (
        b"a NO [BADCHARSET (UTF-8 US-ASCII)] charset KOI8-R is not supported\r\n"
    )


# -- any state -----------------------------------------------------------------------------


def test_noop_id_namespace_enable(client: Client):
    assert client(b"a NOOP") == b"a OK NOOP completed\r\n"
    assert client(b'b ID ("name" "test")') == (
        b'* ID ("name" "minternet mailserver")\r\nb OK ID completed\r\n'
    )
    assert client(b"c ID NIL") == b'* ID ("name" "minternet mailserver")\r\nc OK ID completed\r\n'
    client.login()
    assert client(b"d NAMESPACE") == (
        b'* NAMESPACE (("" "/")) NIL NIL\r\nd OK NAMESPACE completed\r\n'
    )
    assert client(b"e ENABLE CONDSTORE X-UNKNOWN") == (
        b"* ENABLED CONDSTORE\r\ne OK ENABLE completed\r\n"
    )
    assert client.session.condstore
    assert client(b"f ENABLE CONDSTORE") == b"* ENABLED\r\nf OK ENABLE completed\r\n"
    assert not client.session.qresync
    assert client(b"g ENABLE QRESYNC CONDSTORE") == (
        b"* ENABLED QRESYNC\r\ng OK ENABLE completed\r\n"
    )
    assert client.session.qresync
    assert client(b"h ENABLE QRESYNC") == b"* ENABLED\r\nh OK ENABLE completed\r\n"


def test_enable_qresync_turns_condstore_on_too(client: Client) -> None:
    client.login()
    assert client(b"e ENABLE qresync") == b"* ENABLED QRESYNC\r\ne OK ENABLE completed\r\n"
    assert client.session.condstore and client.session.qresync
    assert client(b"f ENABLE CONDSTORE") == b"* ENABLED\r\nf OK ENABLE completed\r\n"


def test_logout(client: Client):
    client.select()
    actions = client.session.receive(b"z LOGOUT\r\n")
    assert actions == [
        Send(data=b"* BYE mail.test logging out\r\nz OK LOGOUT completed\r\n"),
        Close(reason="logout"),
    ]
    assert client.session.state is State.LOGOUT
    assert client.session.selected is None
    assert client.session.receive(b"a NOOP\r\n") == []


def test_logout_before_login(client: Client):
    assert client(b"z logout") == b"* BYE mail.test logging out\r\nz OK LOGOUT completed\r\n"


# -- failures of the store -------------------------------------------------------------------


class Failing:
    """A UserStore stand-in whose every call fails as given."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __getattr__(self, name: str) -> object:
        def fail(*args: object, **kwargs: object) -> object:
            raise self.error

        return fail


@pytest.mark.parametrize(
    ("error", "answer", "log"),
    [
        (
            StoreError("index busy: locked", "INUSE"),
            b"a NO [INUSE] index busy: locked\r\n",
            "store error for bob@hamburger.edu: index busy: locked",
        ),
        (
            StoreError("index unreadable", "CORRUPTION"),
            b"a NO [CORRUPTION] index unreadable\r\n",
            "store error for bob@hamburger.edu: index unreadable",
        ),
        (
            StoreError("no mailbox 'x'", "NONEXISTENT"),
            b"a NO [NONEXISTENT] no mailbox 'x'\r\n",
            None,
        ),
        (
            OSError(28, "No space left"),
            b"a NO [SERVERBUG] the mail store failed\r\n",
            "store failure for bob@hamburger.edu: OSError(28, 'No space left')",
        ),
        (
            RuntimeError("oops"),
            b"a NO [SERVERBUG] internal server error\r\n",
            "internal error in IMAP session: RuntimeError('oops')",
        ),
    ],
)
def test_store_failures_become_no(error: BaseException, answer: bytes, log: str | None):
    session = Session(SETTINGS, tls_active=False)
    session.receive(b"L LOGIN bob@hamburger.edu secret\r\n")
    session.login_result(BOB, Failing(error))  # type: ignore[arg-type]
    actions = session.receive(b"a CREATE x\r\n")
    assert actions[0] == Send(data=answer)
    assert actions[1:] == ([Log(text=log)] if log else [])


def test_a_nonsynchronising_literal_over_the_cap_is_refused(client: Client):
    assert client(b"a LOGIN {1001+}\r\n" + b"u" * 1001 + b" x") == (
        b"a BAD [TOOBIG] literal over the 1000-octet limit\r\n"
    )
    assert client(b"b LOGIN {1000+}\r\n" + b"u" * 1000 + b" {3+}\r\nxyz") == (
        b"b NO [AUTHENTICATIONFAILED] Authentication failed\r\n"
    )
    # many literals, each under the cap, and a literal that looks like an announcement
    assert client(b"c LOGIN {600+}\r\n" + b"v" * 600 + b" {600+}\r\n{9999}\r\n" + b"w" * 592) == (
        b"c NO [AUTHENTICATIONFAILED] Authentication failed\r\n"
    )
    # before login, an APPEND has the small cap too; after, the message size cap
    big = b"m" * 1001
    assert client(b"d APPEND INBOX {1001+}\r\n" + big) == (
        b"d BAD [TOOBIG] literal over the 1000-octet limit\r\n"
    )
    client.login()
    assert client(b"e APPEND INBOX {1001+}\r\n" + big) == (
        b"e OK [APPENDUID 1700000000 1] APPEND completed\r\n"
    )
    assert client(b"{1001+}\r\n" + big) == b"* BAD [TOOBIG] literal over the 1000-octet limit\r\n"
    assert client(b"f SEARCH TEXT {1001+}\r\n" + big) == (
        b"f BAD [TOOBIG] literal over the 1000-octet limit\r\n"
    )


def test_a_literal_over_the_cap_after_a_small_one_ending_in_crlf_is_refused(client: Client):
    # the first literal's own CRLF is data, not a line end: the scan goes on past it
    assert client(b"a LOGIN {4+}\r\nab\r\n {1001+}\r\n" + b"x" * 1001) == (
        b"a BAD [TOOBIG] literal over the 1000-octet limit\r\n"
    )
    # the cap holds before the syntax is looked at: an announcement right after a literal
    assert client(b"b LOGIN {3+}\r\nbob{1001+}\r\n" + b"x" * 1001) == (
        b"b BAD [TOOBIG] literal over the 1000-octet limit\r\n"
    )


def test_a_bad_sasl_line_after_the_continuation_is_answered_bad(client: Client):
    assert client(b"x AUTHENTICATE PLAIN") == b"+ \r\n"
    assert client(b"!!!") == b"x BAD invalid base64 in the SASL response\r\n"
    assert client(b"y NOOP") == b"y OK NOOP completed\r\n"  # the exchange is over
    # a response that decodes but is not a PLAIN one, or names another user
    assert client(b"z AUTHENTICATE PLAIN") == b"+ \r\n"
    assert client(base64.b64encode(b"only\0two")) == b"z BAD invalid PLAIN response\r\n"
    assert client(b"w AUTHENTICATE PLAIN") == b"+ \r\n"
    assert client(base64.b64encode(b"someone\0" + BOB.encode() + b"\0secret")) == (
        b"w NO [AUTHORIZATIONFAILED] cannot log in as another user\r\n"
    )


def test_a_failure_on_the_sasl_line_is_answered_with_the_authenticate_tag(
    client: Client, monkeypatch: pytest.MonkeyPatch
):
    def boom(line: bytes) -> bytes:
        raise RuntimeError("oops")

    assert client(b"x AUTHENTICATE PLAIN") == b"+ \r\n"
    monkeypatch.setattr(mailserver.imap.session, "parse_sasl_response", boom)
    assert client.actions(plain(b"", BOB.encode(), b"secret")) == [
        Send(data=b"x NO [SERVERBUG] internal server error\r\n"),
        Log(text="internal error in IMAP session: RuntimeError('oops')"),
    ]
    assert client(b"y NOOP") == b"y OK NOOP completed\r\n"  # the exchange is over
