"""The POP3 core against random and mutated input: it only ever answers +OK, -ERR or the SASL
continuation, one reply per line it reads, and never raises."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailserver.pop3 import (
    MAX_PENDING,
    CheckPassword,
    Close,
    Send,
    Session,
    Settings,
    StartTls,
    State,
)

from .test_pop3 import ONE, TWO, Drop

WORDS = [
    "USER", "PASS", "AUTH", "STLS", "CAPA", "QUIT", "STAT", "LIST", "RETR", "DELE", "NOOP",
    "RSET", "TOP", "UIDL", "APOP", "user", "Retr", "XTND",
]  # fmt: skip
ARGS = ["", "1", "2", "3", "0", "-1", "99999999999", "1 1", "PLAIN", "PLAIN =", "*", "x" * 40]

VALID = [
    b"USER alice@crepes.fr", b"PASS secret", b"AUTH PLAIN AGFsaWNlAHB3", b"CAPA", b"STLS",
    b"STAT", b"LIST 1", b"RETR 2", b"TOP 1 3", b"DELE 1", b"UIDL", b"RSET", b"NOOP", b"QUIT",
]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid command line with a few octets changed, inserted or removed."""
    line = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        where = draw(st.integers(min_value=0, max_value=len(line)))
        octet = draw(st.integers(min_value=0, max_value=255))
        how = draw(st.sampled_from(["change", "insert", "remove"]))
        if how == "insert" or not line:
            line.insert(where, octet)
        elif how == "change":
            line[min(where, len(line) - 1)] = octet
        else:
            del line[min(where, len(line) - 1)]
    return bytes(line)


lines = st.one_of(
    mutated(),
    st.builds(
        lambda w, a: (w + (" " + a if a else "")).encode(),
        st.sampled_from(WORDS),
        st.sampled_from(ARGS),
    ),
    st.binary(max_size=80),
    st.text(max_size=40).map(lambda t: t.encode("utf-8")),
)
endings = st.sampled_from([b"\r\n", b"\n", b"\r", b""])


def well_formed(data: bytes) -> bool:
    """A reply is one status line or a multi-line response, each ending in CRLF."""
    if not data.startswith((b"+OK", b"-ERR ", b"+ \r\n")) or not data.endswith(b"\r\n"):
        return False
    _, _, rest = data.partition(b"\r\n")
    return not rest or rest.endswith(b".\r\n")


def drive(s: Session, chunks: list[bytes], login_ok: list[bool]) -> None:
    for i, chunk in enumerate(chunks):
        pending = s.receive(chunk, float(i))
        while pending:
            action = pending.pop(0)
            if isinstance(action, Send):
                assert well_formed(action.data), action.data
            elif isinstance(action, CheckPassword):
                ok = login_ok[i % len(login_ok)]
                drop = Drop({"u1": ONE, "u2": TWO})
                pending += s.password_checked(action.user if ok else None, drop if ok else None)
            elif isinstance(action, StartTls):
                pending += s.tls_started()
            else:
                assert isinstance(action, Close)
                assert s.state is State.CLOSED
        assert len(s._buffer) <= MAX_PENDING + len(chunk)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.lists(st.tuples(lines, endings), max_size=30),
    st.lists(st.booleans(), min_size=1, max_size=4),
    st.booleans(),
    st.booleans(),
)
def test_random_command_lines_get_only_ok_or_err(pairs, login_ok, plaintext, tls):
    s = Session(
        Settings(hostname="h", tls_available=True, plaintext_allowed=plaintext, max_line=64),
        tls_active=tls,
        now=0.0,
    )
    drive(s, [line + end for line, end in pairs], login_ok)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000), st.integers(min_value=1, max_value=50))
def test_random_bytes_in_random_pieces_after_login(data, piece):
    s = Session(
        Settings(hostname="h", tls_available=False, plaintext_allowed=True),
        tls_active=False,
        now=0.0,
    )
    drive(s, [b"USER a\r\nPASS b\r\n"], [True])
    assert s.state is State.TRANSACTION
    drive(s, [data[i : i + piece] for i in range(0, len(data), piece)], [True])
