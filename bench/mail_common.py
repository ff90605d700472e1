"""What the mail benchmarks share: test messages, a private Dovecot, our `mailserver serve`
on a temporary config, and a small IMAP client fast enough not to be what is measured.

Everything runs on loopback in a temporary directory; nothing system-wide is touched
(Dovecot gets its own base_dir, state_dir, log and passwd-file).
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.procs import stop

HOST = "127.0.0.1"
PASSWORD = "bench-password"
DOMAIN = "bench.test"

_BODY_LINE = b"The quick brown fox jumps over the lazy dog, again and again. 0123456789\r\n"


#: Messages come in conversations of this many: each after the first refers to those before.
THREAD_LENGTH = 5


def message(i: int, size: int = 4096) -> bytes:
    """The i-th test message: distinct Subject, From and Message-ID, about `size` octets; a
    References field naming the earlier messages of its conversation (THREAD_LENGTH)."""
    first = i - i % THREAD_LENGTH
    refs = " ".join(f"<bench.{n}@example.test>" for n in range(first, i))
    head = (
        f"From: Sender {i % 97} <sender{i % 97}@example.test>\r\n"
        f"To: Bench User <bench@{DOMAIN}>\r\n"
        f"Subject: msg {i} about topic{i % 13}\r\n"
        f"Date: Sun, 29 Nov 2026 {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d} +0000\r\n"
        f"Message-ID: <bench.{i}@example.test>\r\n"
        + (f"References: {refs}\r\n" if refs else "")
        + "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
    ).encode()
    body = _BODY_LINE * max(1, (size - len(head)) // len(_BODY_LINE))
    return head + body


def rss_mb(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def tree_rss_mb(pid: int) -> float:
    """RSS of a process and all its descendants (Dovecot and Postfix are several)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        with contextlib.suppress(OSError):
            total += rss_mb(p)
        todo.extend(children.get(p, []))
    return total


def wait_greeting(host: str, port: int, deadline: float, proc: subprocess.Popen[bytes]) -> bytes:
    """Wait until something at host:port sends a first line; that line."""
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with status {proc.returncode}")
        try:
            with socket.create_connection((host, port), timeout=2) as s, s.makefile("rb") as f:
                return f.readline()
        except OSError as e:
            last = e
            time.sleep(0.1)
    raise TimeoutError(f"nothing greets on {host}:{port} ({last})")


_handed_out: set[int] = set()


def free_tcp_port(host: str = HOST, low: int = 33000, high: int = 36000) -> int:
    """A free TCP port in [low, high): this machine's benchmarks keep to their own range. A
    port is handed out once per process (a config names several before any is bound)."""
    start = low + os.getpid() * 7 % (high - low)
    for n in range(high - low):
        port = low + (start - low + n) % (high - low)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            _handed_out.add(port)
            return port
    raise OSError(f"no free TCP port in {low}..{high - 1}")


# --- Maildir delivery without a server (Dovecot's mailbox is filled this way) -------------


def maildir_fill(maildir: Path, messages: Sequence[bytes], *, start: int = 0) -> None:
    """Put messages straight into `maildir`/cur as a delivery agent would (no fsync: the
    benchmark fills, it does not measure this)."""
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    now = int(time.time())
    for n, data in enumerate(messages, start):
        name = f"{now}.M{n}P{os.getpid()}.bench,S={len(data)}:2,"
        with open(maildir / "cur" / name, "wb") as f:
            f.write(data)


def count_files(maildir: Path) -> int:
    return sum(len(os.listdir(maildir / sub)) for sub in ("cur", "new") if (maildir / sub).is_dir())


# --- Dovecot ------------------------------------------------------------------------------


@dataclass
class Dovecot:
    host: str
    port: int
    root: Path
    users: list[str]
    owner: tuple[int, int]  # uid, gid the mail files belong to
    proc: subprocess.Popen[bytes] | None = None
    version: str = ""

    def maildir(self, user: str) -> Path:
        return self.root / "home" / user / "Maildir"

    def chown(self) -> None:
        """Give the filled Maildirs to the mail user (as root Dovecot's mail user is not root)."""
        if os.geteuid() != 0:
            return
        uid, gid = self.owner
        for dirpath, _dirs, filenames in os.walk(self.root / "home"):
            os.chown(dirpath, uid, gid)
            for name in filenames:
                os.chown(os.path.join(dirpath, name), uid, gid)

    def rss_mb(self) -> float:
        return tree_rss_mb(self.proc.pid) if self.proc else float("nan")


def _dovecot_accounts() -> tuple[str, str, tuple[int, int]]:
    """(default_login_user, default_internal_user, mail uid/gid) for root or not."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        return me.pw_name, me.pw_name, (me.pw_uid, me.pw_gid)
    nobody = pwd.getpwnam("nobody")
    login = "dovenull" if _has_user("dovenull") else "nobody"
    internal = "dovecot" if _has_user("dovecot") else "nobody"
    return login, internal, (nobody.pw_uid, nobody.pw_gid)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def add_dovecot_user(root: Path, user: str, password: str, owner: tuple[int, int]) -> Path:
    """A passwd-file of its own for `user` (one file per user: Dovecot rereads a changed
    file only when its mtime moves on a whole second); the user's home. `password` is the
    password, or a hash with its {SCHEME} prefix."""
    home = root / "home" / user
    (home / "Maildir").mkdir(parents=True, exist_ok=True)
    uid, gid = owner
    stored = password if password.startswith("{") else "{PLAIN}" + password
    if os.geteuid() == 0:
        os.chown(home, uid, gid)
        os.chown(home / "Maildir", uid, gid)
    (root / "passwd" / user).write_text(f"{user}:{stored}:{uid}:{gid}::{home}::\n")
    return home


@contextlib.contextmanager
def dovecot_setup(
    tmp: Path,
    users: Sequence[str],
    port: int = 0,
    *,
    tls: tuple[Path, Path] | None = None,
    imaps_port: int = 0,
    scheme: str = "PLAIN",
) -> Iterator[Dovecot]:
    """A Dovecot config in `tmp` (Maildir, passwd-file users); `running_dovecot` runs it.
    With `tls` (certificate chain, key): STARTTLS on `port` and IMAPS on `imaps_port`.
    `scheme`: how the passwords are stored (`doveadm pw -s`), e.g. ARGON2ID, memory-hard as
    our scrypt hashes are, so a login costs both servers alike."""
    login, internal, owner = _dovecot_accounts()
    root = tmp / "dovecot"
    os.chmod(tmp, 0o755)  # Dovecot's auth and mail processes run as other users when root
    for d in ("run", "state", "home"):
        (root / d).mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)
    port = port or free_tcp_port()
    uid, gid = owner
    (root / "passwd").mkdir(exist_ok=True)
    stored = PASSWORD
    if scheme != "PLAIN":
        stored = subprocess.run(
            ["doveadm", "pw", "-s", scheme, "-p", PASSWORD],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    for user in users:
        add_dovecot_user(root, user, stored, (uid, gid))
    internal_group = unprivileged = login_chroot = ""
    if os.geteuid() != 0:  # the unix sockets' group ("dovecot"), no chroot: a normal user
        internal_group = f"default_internal_group = {grp.getgrgid(os.getegid()).gr_name}\n"
        unprivileged = "service anvil {\n  chroot =\n}\n"
        login_chroot = "chroot ="
    ssl = "ssl = no"
    if tls is not None:
        ssl = f"ssl = yes\nssl_cert = <{tls[0]}\nssl_key = <{tls[1]}"
    special_use = "".join(  # the special-use mailboxes, as ours has them
        f"  mailbox {name} {{\n    special_use = \\{name}\n    auto = subscribe\n  }}\n"
        for name in ("Sent", "Drafts", "Trash", "Junk", "Archive")
    )
    (root / "dovecot.conf").write_text(
        f"""# a private benchmark instance (bench/mail_common.py)
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = {HOST}
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login}
default_internal_user = {internal}
{internal_group}first_valid_uid = {min(uid, 1) if uid else 0}
first_valid_gid = 0
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
{special_use}}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd/%u
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/passwd/%u
}}
{unprivileged}service imap-login {{
  {login_chroot}
  inet_listener imap {{
    address = {HOST}
    port = {port}
  }}
  inet_listener imaps {{
    address = {HOST}
    port = {imaps_port}
  }}
}}
protocol imap {{
  mail_plugins = $mail_plugins imap_zlib
}}
service imap {{
  process_limit = 1024
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""
    )
    yield Dovecot(HOST, port, root, list(users), owner)


@contextlib.contextmanager
def running_dovecot(dc: Dovecot) -> Iterator[Dovecot]:
    """Dovecot in the foreground (`dovecot -F -c FILE`) until the block ends."""
    dc.chown()
    conf = dc.root / "dovecot.conf"
    proc = subprocess.Popen(
        ["dovecot", "-F", "-c", str(conf)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,  # it logs to log_path
    )
    dc.proc = proc
    try:
        wait_greeting(dc.host, dc.port, time.monotonic() + 20, proc)
        dc.version = subprocess.run(
            ["dovecot", "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
        yield dc
    except BaseException:
        log = dc.root / "dovecot.log"
        if log.exists():
            print(log.read_text()[-3000:], file=sys.stderr)
        raise
    finally:
        stop(proc)
        dc.proc = None
        # "Dovecot is already running" if the next one starts before the master has gone
        deadline = time.monotonic() + 10
        while (dc.root / "run" / "master.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.05)


# --- ours -------------------------------------------------------------------------------


@dataclass
class Ours:
    host: str
    ports: dict[str, int]
    config: Path
    state: Path
    users: list[str]
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(default_factory=Path)

    @property
    def port(self) -> int:
        return self.ports["imap"]

    def rss_mb(self) -> float:
        return tree_rss_mb(self.proc.pid) if self.proc else float("nan")


def ours_setup(
    tmp: Path,
    users: Sequence[str],
    kinds: Sequence[str] = ("imap",),
    *,
    per_user: int = 100,
    workers: int = 1,
) -> Ours:
    """A config for `mailserver serve` in `tmp` and its users (added in-process with the
    same UserDb the `mailserver user add` command uses); `workers`: the processes that serve
    IMAP and POP3 (mailserver/aio/workers.py)."""
    from mailserver import config as mailconfig
    from mailserver.users import UserDb

    root = tmp / "ours"
    root.mkdir(parents=True, exist_ok=True)
    ports = {kind: free_tcp_port() for kind in kinds}
    listen = "\n".join(f'{kind} = "{HOST}:{port}"' for kind, port in ports.items())
    conf = root / "mail.toml"
    conf.write_text(
        f"""hostname = "mail.{DOMAIN}"
domains = ["{DOMAIN}"]
address = "{HOST}"
state_dir = "state"
workers = {workers}
[listen]
{listen}
[limits]
max_connections = 2000
max_connections_per_user = {per_user}
[auth]
plaintext = "always"
"""
    )
    cfg = mailconfig.load(conf)
    db = UserDb(cfg.paths().users)
    for user in users:
        if not db.exists(user):
            db.add(user, PASSWORD.encode())
    return Ours(HOST, ports, conf, Path(cfg.paths().mail), list(users), log=root / "serve.log")


def ours_store(ours: Ours):  # type: ignore[no-untyped-def]
    """The store our server will open, for filling it before the server starts (the same
    root and summariser the daemon uses)."""
    from mailserver.message import store_summary
    from mailserver.store.store import Store

    return Store(str(ours.state), summarize=store_summary)


def ours_fill(ours: Ours, user: str, messages: Sequence[bytes], batch: int = 1000) -> None:
    """Deliver messages to `user`'s INBOX in-process with Store.deliver_batch (durable, as an
    SMTP delivery: files fsynced, index rows and cached summaries written)."""
    from mailserver.store.records import Delivery

    store = ours_store(ours)
    try:
        for at in range(0, len(messages), batch):
            store.deliver_batch([Delivery(address=user, data=m) for m in messages[at : at + batch]])
    finally:
        store.close()


@contextlib.contextmanager
def running_ours(ours: Ours, *, uvloop: bool = True) -> Iterator[Ours]:
    """`mailserver serve --config FILE` until the block ends."""
    ready = ours.config.with_name("ready.json")
    ready.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "mailserver", "serve", "--config", str(ours.config),
           "--ready-file", str(ready)]  # fmt: skip
    with open(ours.log, "ab") as log:
        proc = subprocess.Popen(cmd, start_new_session=True, stdout=log, stderr=log)
    ours.proc = proc
    try:
        first = min(ours.ports, key=lambda k: k != "imap")
        deadline = time.monotonic() + 120
        wait_greeting(ours.host, ours.ports[first], deadline, proc)
        while not ready.exists():  # (written once the workers listen too)
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not become ready")
            time.sleep(0.05)
        yield ours
    except BaseException:
        print(ours.log.read_text(errors="replace")[-3000:], file=sys.stderr)
        raise
    finally:
        stop(proc)
        ours.proc = None


def have(*programs: str) -> str | None:
    """The first program of `programs` that is missing, else None."""
    for p in programs:
        if shutil.which(p) is None and not os.path.exists(p):
            return p
    return None


# --- an IMAP client -----------------------------------------------------------------------

_LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")


class ImapError(Exception):
    pass


class Imap:
    """One IMAP connection (asyncio streams): send a command, read to its tagged answer.

    `command` returns (tagged line, untagged lines) where a literal inside a response is
    read and appended to its line, so untagged lines are whole responses.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.n = 0
        self.capabilities: set[str] = set()

    @classmethod
    async def connect(cls, host: str, port: int) -> Imap:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 22)
        conn = cls(reader, writer)
        greeting = await conn._response()
        if not greeting.startswith(b"* OK"):
            raise ImapError(f"greeting: {greeting!r}")
        return conn

    async def _response(self) -> bytes:
        line = await self.reader.readuntil(b"\r\n")
        m = _LITERAL.search(line)
        if m is None:
            return line
        parts = [line]
        while m is not None:
            parts.append(await self.reader.readexactly(int(m.group(1))))
            line = await self.reader.readuntil(b"\r\n")
            parts.append(line)
            m = _LITERAL.search(line)
        return b"".join(parts)

    async def command(
        self, text: str, literal: bytes | None = None, *, ok: bool = True
    ) -> tuple[bytes, list[bytes]]:
        self.n += 1
        tag = f"b{self.n}".encode()
        if literal is None:
            self.writer.write(tag + b" " + text.encode() + b"\r\n")
        elif "LITERAL+" in self.capabilities:
            self.writer.write(
                tag + b" " + text.encode() + b" {%d+}\r\n" % len(literal) + literal + b"\r\n"
            )
        else:
            self.writer.write(tag + b" " + text.encode() + b" {%d}\r\n" % len(literal))
            line = await self._response()
            if not line.startswith(b"+"):
                raise ImapError(f"{text}: {line!r}")
            self.writer.write(literal + b"\r\n")
        untagged: list[bytes] = []
        while True:
            line = await self._response()
            if line.startswith(tag + b" "):
                if ok and not line.startswith(tag + b" OK"):
                    raise ImapError(f"{text[:80]}: {line!r}")
                return line, untagged
            untagged.append(line)

    async def login(self, user: str, password: str = PASSWORD) -> None:
        _, untagged = await self.command("CAPABILITY")
        for line in untagged:
            if line.startswith(b"* CAPABILITY"):
                self.capabilities = set(line.decode().split()[2:])
        await self.command(f'LOGIN "{user}" "{password}"')
        _, untagged = await self.command("CAPABILITY")
        for line in untagged:
            if line.startswith(b"* CAPABILITY"):
                self.capabilities = set(line.decode().split()[2:])

    async def logout(self) -> None:
        with contextlib.suppress(OSError, ImapError, asyncio.IncompleteReadError):
            await self.command("LOGOUT", ok=False)
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


def run(coro):  # type: ignore[no-untyped-def]
    """asyncio.run on uvloop when it is installed (the client side of every benchmark)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)
