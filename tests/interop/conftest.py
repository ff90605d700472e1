"""One `mailserver serve` on a temporary config for the mail interop tests, with a
certificate from a CA made by minternet/pki.py (the clients verify it), and a fresh user
per test (added with `mailserver user add` while the server runs), so tests stay
independent in any order.

Ports: MINTERNET_TEST_MAIL_PORT (default 31400) and the next ones: smtp +25, imap +43,
imaps +93, pop3 +10, pop3s +95.
"""

from __future__ import annotations

import contextlib
import email.utils
import itertools
import os
import re
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from minternet import pki

BASE_PORT = int(os.environ.get("MINTERNET_TEST_MAIL_PORT", "31400"))
OFFSETS = {"smtp": 25, "imap": 43, "imaps": 93, "pop3": 10, "pop3s": 95}
HOST = "127.0.0.1"
HOSTNAME = "mail.crepes.fr"  # in the certificate, with localhost and 127.0.0.1
DOMAIN = "crepes.fr"
_serial = itertools.count(1)
_LITERAL = re.compile(rb"\{(\d+)\}\r\n$")


def serve_available() -> bool:
    """True once the daemon has landed (`mailserver serve --help` works)."""
    done = subprocess.run(
        [sys.executable, "-m", "mailserver", "serve", "--help"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    return done.returncode == 0


@dataclass
class MailServer:
    """The running server: where it listens, its CA, its state and config files."""

    host: str
    hostname: str
    ports: dict[str, int]
    ca: Path
    config: Path
    state: Path
    log: Path

    def add_user(self, local: str = "") -> tuple[str, str]:
        """A new user (through the `mailserver user add` command); (address, password)."""
        address = f"{local or 'user'}{next(_serial)}.{os.getpid()}@{DOMAIN}"
        password = f"pw-{address}-Secret!"
        done = subprocess.run(
            [sys.executable, "-m", "mailserver", "user", "add", address,
             "--config", str(self.config)],
            input=password + "\n",
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return address, password

    def maildir(self, address: str) -> Path:
        local, _, domain = address.lower().rpartition("@")
        return self.state / "mail" / domain / local / "Maildir"

    def deliver(
        self,
        to: str,
        subject: str,
        body: str = "",
        *,
        sender: str = "",
        headers: str = "",
        date: str = "",
    ) -> bytes:
        """Send one message over SMTP (no TLS) and return what was sent; `headers`, lines
        ending in CRLF, replace its Message-ID when they have one; `date` is its Date field
        (now if not given)."""
        ident = f"<{subject.replace(' ', '.')}.{time.time_ns()}@example.org>"
        msg = (
            f"From: Sender <{sender or 'someone@example.org'}>\r\n"
            f"To: <{to}>\r\n"
            f"Subject: {subject}\r\n"
            f"Date: {date or email.utils.formatdate()}\r\n" + _message_id(ident, headers) + "\r\n"
            f"{body or 'Hello from the interop tests, ' + subject}\r\n"
        ).encode()
        with smtplib.SMTP(self.host, self.ports["smtp"], timeout=30) as s:
            s.sendmail(sender or "someone@example.org", [to], msg)
        return msg

    def client_context(self) -> ssl.SSLContext:
        return pki.client_context(self.ca)

    def needs(self, *kinds: str) -> None:
        """Skip the test unless every listener kind named is served (see DovecotReference)."""


def _message_id(ident: str, headers: str) -> str:
    """The header lines a test gave, with a Message-ID field of `ident` unless they have one."""
    if "message-id:" in headers.lower():
        return headers
    return f"Message-ID: {ident}\r\n" + headers


def _wait_listening(host: str, port: int, proc: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mailserver serve exited with status {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
            return
        time.sleep(0.1)
    raise TimeoutError(f"mailserver serve is not listening on {host}:{port}")


class DovecotReference(MailServer):
    """MAIL_INTEROP_REFERENCE=dovecot: the IMAP tests against Dovecot, to check the tests
    themselves (users in its passwd-file, delivery by a file in Maildir/new; no SMTP, POP3)."""

    passwd: Path
    owner: tuple[int, int]

    def needs(self, *kinds: str) -> None:
        if set(kinds) - {"imap", "imaps"}:
            pytest.skip(f"the Dovecot reference serves IMAP only, not {', '.join(kinds)}")

    def add_user(self, local: str = "") -> tuple[str, str]:
        from bench.mail_common import add_dovecot_user

        address = f"{local or 'user'}{next(_serial)}.{os.getpid()}@{DOMAIN}"
        password = f"pw-{address}-Secret!"
        add_dovecot_user(self.passwd.parent, address, password, self.owner)
        return address, password

    def maildir(self, address: str) -> Path:
        return self.state / address / "Maildir"

    def deliver(
        self,
        to: str,
        subject: str,
        body: str = "",
        *,
        sender: str = "",
        headers: str = "",
        date: str = "",
    ) -> bytes:
        from bench.mail_common import maildir_fill

        msg = (
            f"From: Sender <{sender or 'someone@example.org'}>\r\nTo: <{to}>\r\n"
            f"Subject: {subject}\r\nDate: {date or email.utils.formatdate()}\r\n"
            + _message_id(f"<{time.time_ns()}@example.org>", headers)
            + "\r\n"
            f"{body or 'Hello from the interop tests, ' + subject}\r\n"
        ).encode()
        box = self.maildir(to)
        maildir_fill(box, [], start=0)
        tmp = box / "tmp" / f"{time.time_ns()}.ref"
        tmp.write_bytes(msg)
        uid, gid = self.owner
        for path in (box.parent, box, box / "cur", box / "new", box / "tmp", tmp):
            os.chown(path, uid, gid)
        os.rename(tmp, box / "new" / tmp.name)
        return msg


def _dovecot_reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailServer]:
    # not under pytest's base folder: that is 0700, and Dovecot's processes are not root
    with tempfile.TemporaryDirectory(prefix="mailref-") as d:
        yield from _dovecot_in(Path(d))


def _dovecot_in(root: Path) -> Iterator[MailServer]:
    from bench.mail_common import dovecot_setup, running_dovecot

    ca = pki.CertificateAuthority.ensure(root / "ca")
    issued = ca.issue(HOSTNAME, [HOSTNAME, "localhost"], [HOST])
    ports = {kind: BASE_PORT + off for kind, off in OFFSETS.items()}
    tls = (issued.cert, issued.key)
    with (
        dovecot_setup(root, [], ports["imap"], tls=tls, imaps_port=ports["imaps"]) as dc,
        running_dovecot(dc),
    ):
        ref = DovecotReference(
            HOST, HOSTNAME, ports, ca.cert_path, root, dc.root / "home", dc.root / "dovecot.log"
        )
        ref.passwd, ref.owner = dc.root / "passwd", dc.owner
        yield ref


@pytest.fixture(scope="session")
def mail_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailServer]:
    """A mail server for the whole session (each test adds its own users)."""
    if os.environ.get("MAIL_INTEROP_REFERENCE") == "dovecot":
        yield from _dovecot_reference(tmp_path_factory)
        return
    if not serve_available():
        pytest.skip("`mailserver serve` is not there yet")
    root = tmp_path_factory.mktemp("mailinterop")
    ca = pki.CertificateAuthority.ensure(root / "ca")
    issued = ca.issue(HOSTNAME, [HOSTNAME, "localhost"], [HOST])
    ports = {kind: BASE_PORT + off for kind, off in OFFSETS.items()}
    listen = "\n".join(f'{kind} = "{HOST}:{port}"' for kind, port in ports.items())
    config = root / "mail.toml"
    config.write_text(
        f"""hostname = "{HOSTNAME}"
domains = ["{DOMAIN}"]
address = "{HOST}"
state_dir = "state"
tls_cert = "{issued.cert}"
tls_key = "{issued.key}"
[listen]
{listen}
"""
    )
    log = root / "serve.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mailserver", "serve", "--config", str(config)],
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    try:
        for port in ports.values():
            _wait_listening(HOST, port, proc, time.monotonic() + 60)
        yield MailServer(HOST, HOSTNAME, ports, ca.cert_path, config, root / "state", log)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        text = log.read_text(errors="replace")
        assert "Traceback" not in text, text[-4000:]


@pytest.fixture
def mail_user(mail_server: MailServer) -> tuple[str, str]:
    """A fresh user of the server: (address, password)."""
    return mail_server.add_user()


# --- a raw IMAP client: what a real client sends, byte for byte, every answer kept (imaplib
# of Python 3.11 has no IDLE and hides what the server sent) ---


class Wire:
    """One IMAP connection; `command` returns (tagged line, untagged responses)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.file = sock.makefile("rb")
        self.n = 0
        self.transcript: list[bytes] = []

    @classmethod
    def open(
        cls,
        host: str,
        port: int,
        *,
        tls: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        timeout: float = 15.0,
    ) -> Wire:
        sock = socket.create_connection((host, port), timeout=timeout)
        if tls is not None:
            sock = tls.wrap_socket(sock, server_hostname=server_hostname or host)
        return cls(sock)

    def starttls(self, tls: ssl.SSLContext, server_hostname: str) -> None:
        tagged, _ = self.command("STARTTLS")
        assert tagged.split()[1] == b"OK", tagged
        self.file.close()
        self.sock = tls.wrap_socket(self.sock, server_hostname=server_hostname)
        self.file = self.sock.makefile("rb")

    def send(self, data: bytes) -> None:
        self.transcript.append(b"C: " + data)
        self.sock.sendall(data)

    def response(self) -> bytes:
        """One whole response line, with the literals inside it."""
        line = self.file.readline(1 << 20)
        if not line.endswith(b"\r\n"):
            raise ConnectionError(f"connection closed or line cut: {line!r}")
        parts = [line]
        while (m := _LITERAL.search(line)) is not None:
            parts.append(self.file.read(int(m.group(1))))
            line = self.file.readline(1 << 20)
            parts.append(line)
        whole = b"".join(parts)
        self.transcript.append(b"S: " + whole)
        return whole

    def command(self, text: str | bytes) -> tuple[bytes, list[bytes]]:
        self.n += 1
        tag = b"t%d" % self.n
        raw = text.encode() if isinstance(text, str) else text
        self.send(tag + b" " + raw + b"\r\n")
        untagged: list[bytes] = []
        while True:
            line = self.response()
            if line.startswith(tag + b" "):
                return line, untagged
            untagged.append(line)

    def ok(self, text: str | bytes) -> list[bytes]:
        tagged, untagged = self.command(text)
        assert tagged.split(b" ", 2)[1] == b"OK", self.dump()
        return untagged

    def wait_for(self, pattern: bytes, seconds: float) -> tuple[bytes, float]:
        """Read responses until one matches `pattern` (a regex); (it, seconds waited)."""
        t0 = time.monotonic()
        deadline = t0 + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {pattern!r} within {seconds} s\n{self.dump()}")
            self.sock.settimeout(left)
            try:
                line = self.response()
            except TimeoutError:
                raise TimeoutError(f"no {pattern!r} within {seconds} s\n{self.dump()}") from None
            if re.search(pattern, line):
                return line, time.monotonic() - t0

    def dump(self) -> str:
        return "\n".join(x.decode("utf-8", "replace").rstrip() for x in self.transcript[-60:])

    def close(self) -> None:
        try:
            self.sock.settimeout(5)
            self.command("LOGOUT")
        except (OSError, ConnectionError):
            pass
        self.file.close()
        self.sock.close()
