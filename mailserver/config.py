"""The mail server's configuration: frozen dataclasses read from TOML by minternet.config.

Example (`mailserver serve --config mail.toml`; every key but hostname and domains has a
default, and unknown keys are errors that name the key):

    hostname = "mail.crepes.fr"
    domains = ["crepes.fr"]
    address = "127.0.0.40"          # where listeners given as a bare port bind
    state_dir = "state"             # relative paths are relative to this file's folder
    workers = 2                     # processes serving IMAP and POP3 (default 1: one process)
    # tls_cert = "cert.pem"         # with tls_key; absent: a certificate from a CA made
    # tls_key = "key.pem"           #   once in state_dir/tls (mailserver/tls.py)
    [listen]                        # absent: every kind below but control, standard port + 10000
    smtp = 10025
    imaps = "127.0.0.40:10993"
    [limits]
    max_message_size = 52428800
    [auth]
    plaintext = "loopback"
    [quota]                         # absent: no quotas
    storage = 104857600             # octets each user may keep, every mailbox together
    messages = 0                    # messages each user may keep; 0: no limit
    [quota.users]                   # a user's own limits instead
    "bob@hamburger.edu" = { storage = 1048576 }

    [queue]                         # absent: no mail to other domains
    resolver = "127.0.0.2:10053"    # the DNS server asked for MX records
    relay_port = 10025              # where the other mail servers listen
    ca_file = "ca.pem"              # their certificates' CA (STARTTLS is verified with it)
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailserver.store.quota import Quota
from mailserver.users import UserError, normalise, normalise_domain
from minternet import config as mconfig
from minternet import topology
from minternet.listen import AddressError, parse_hostport

#: The standard port of every listener kind, from the topology's port scheme (RFC 5321 smtp,
#: RFC 6409 submission, RFC 8314 submissions, imaps and pop3s, RFC 3501 imap, RFC 1939 pop3),
#: and the control endpoint every minternet daemon has.
LISTENER_KINDS = ("smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s", "control")
STANDARD_PORTS: dict[str, int] = {kind: topology.STANDARD_PORTS[kind] for kind in LISTENER_KINDS}
#: Listeners whose connections start with TLS (RFC 8314); the others offer STARTTLS/STLS.
IMPLICIT_TLS = frozenset({"submissions", "imaps", "pop3s"})
DEFAULT_OFFSET = topology.UNPRIVILEGED_OFFSET  # as `minternet up`: no root needed
PLAINTEXT_POLICIES = ("loopback", "always", "never")
MAX_WORKERS = 16


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Every bound of the server. Times are seconds, sizes octets."""

    max_message_size: int = 50 * 1024 * 1024  # SMTP SIZE (RFC 1870) and IMAP APPEND
    max_connections: int = 1000  # every listener together
    max_connections_per_user: int = 20  # logged-in IMAP and POP3 sessions of one user
    # RFC 3501 §5.4: an authenticated IMAP client may stay idle at least 30 minutes (IDLE
    # re-arms it). Before login a client has less time: it has nothing to wait for.
    imap_idle_timeout: float = 30 * 60.0
    login_timeout: float = 60.0  # any protocol, before a successful login
    pop3_idle_timeout: float = 10 * 60.0  # RFC 1939 §3: at least 10 minutes
    smtp_idle_timeout: float = 5 * 60.0  # RFC 5321 §4.5.3.2.7: 5 minutes per command
    handshake_timeout: float = 10.0  # TLS handshake
    # A command line (IMAP: up to its first literal; RFC 7162 §4 asks for at least 8192);
    # POP3 commands are far shorter (RFC 2449 §4: 255 octets), but AUTH PLAIN's initial
    # response can be longer, hence max_pop3_line.
    max_line: int = 8192
    max_pop3_line: int = 1024
    # An IMAP literal other than APPEND's message (that one is bounded by max_message_size).
    max_literal: int = 64 * 1024

    def __post_init__(self) -> None:
        for name in (
            "max_message_size",
            "max_connections",
            "max_connections_per_user",
            "max_line",
            "max_pop3_line",
            "max_literal",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.max_pop3_line < 255:
            raise ValueError("max_pop3_line must be at least 255 (RFC 2449 §4)")
        for name in (
            "imap_idle_timeout",
            "login_timeout",
            "pop3_idle_timeout",
            "smtp_idle_timeout",
            "handshake_timeout",
        ):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds")


@dataclass(frozen=True, slots=True, kw_only=True)
class Auth:
    """Login rules.

    `plaintext` says when a password may travel before TLS (USER/PASS, LOGIN, AUTH PLAIN on
    a connection that has not done STARTTLS/STLS): "never", "always", or by default
    "loopback": refused on listeners bound to any other address (RFC 8314 §2, RFC 2595 §3.1),
    allowed on loopback ones, because loopback traffic never leaves the machine, so nobody on
    a network can sniff it, and the whole miniature Internet lives on 127.0.0.0/8: a user can
    watch a login in the clear there with a plain `nc` or `curl pop3://`, as the course does.
    """

    plaintext: str = "loopback"
    # Seconds a failed login waits before its answer, on every protocol.
    failure_delay: float = 2.0
    # Failed logins per client address (minternet.ratelimit.TokenBuckets: `failure_rate` a
    # second, bursts of `failure_burst`); past them a client's logins are refused unchecked
    # until its bucket refills, so guessing costs a client address hours, not seconds.
    failure_rate: float = 0.1
    failure_burst: float = 10.0

    def __post_init__(self) -> None:
        if self.plaintext not in PLAINTEXT_POLICIES:
            raise ValueError(f"plaintext must be one of {', '.join(PLAINTEXT_POLICIES)}")
        if not (math.isfinite(self.failure_delay) and self.failure_delay >= 0):
            raise ValueError("failure_delay must be a number of seconds, 0 or more")
        if not (math.isfinite(self.failure_rate) and self.failure_rate > 0):
            raise ValueError("failure_rate must be a positive number of failures a second")
        if not (math.isfinite(self.failure_burst) and self.failure_burst >= 1):
            raise ValueError("failure_burst must be at least 1")

    def allows_plaintext(self, listen_host: str) -> bool:
        """True if a listener bound to `listen_host` takes passwords before TLS."""
        if self.plaintext != "loopback":
            return self.plaintext == "always"
        return ipaddress.ip_address(listen_host).is_loopback


@dataclass(frozen=True, slots=True, kw_only=True)
class Queue:
    """The outbound queue (mailserver/queue, mailserver/aio/queue.py). Without `resolver` the
    server sends no mail to other domains: submission refuses such recipients."""

    resolver: str = ""  # "ADDR:PORT" of the DNS server asked for MX records (never the system's)
    relay_port: int = 25  # where other domains' mail servers listen (minternet up: 10025)
    ca_file: str = ""  # CAs that sign their certificates (STARTTLS); empty: the system's
    first_retry: float = 300.0  # the retry schedule (Postfix's defaults), seconds
    max_backoff: float = 3600.0
    give_up: float = 5 * 86400.0
    warn_after: float = 4 * 3600.0  # a delay notice; 0: never
    concurrency: int = 10  # messages tried at once
    timeout: float = 60.0  # each remote SMTP reply

    def __post_init__(self) -> None:
        if self.resolver:
            try:
                parse_hostport(self.resolver)
            except AddressError as e:
                raise ValueError(f"resolver: {e}") from None
        if not 1 <= self.relay_port <= 65535:
            raise ValueError("relay_port must be a port number (1 to 65535)")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        for name in ("first_retry", "max_backoff", "give_up", "timeout"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds")
        if not (math.isfinite(self.warn_after) and self.warn_after >= 0):
            raise ValueError("warn_after must be a number of seconds, 0 for never")

    def resolver_address(self) -> tuple[str, int] | None:
        return parse_hostport(self.resolver) if self.resolver else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Quotas:
    """How much mail each user may keep (RFC 9208 QUOTA; mailserver/store/quota.py): `storage`
    octets and `messages` messages, every mailbox of the user together, 0 for no limit; a
    user named in `users` has those limits instead. IMAP's APPEND and COPY that would go over
    get NO [OVERQUOTA]; SMTP refuses a recipient who is full (452 4.2.2, so the sender's
    queue tries again once the user made room)."""

    storage: int = 0
    messages: int = 0
    users: dict[str, Quota] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.storage < 0 or self.messages < 0:
            raise ValueError("quota: storage and messages are counts, 0 for no limit")
        try:
            users = {normalise(a).lower(): q for a, q in self.users.items()}
        except UserError as e:
            raise ValueError(f"quota.users: {e}") from None
        object.__setattr__(self, "users", users)

    def of(self, address: str) -> Quota:
        """The limits of `address` (any case)."""
        found = self.users.get(address.lower())
        return found if found is not None else Quota(self.storage, self.messages)


@dataclass(frozen=True, slots=True)
class StatePaths:
    """Where the server keeps what it owns, all under the state directory by default."""

    root: Path
    users: Path  # the users file (mailserver/users.py)
    mail: Path  # one Maildir++ per user under it
    index: Path  # the SQLite index
    queue: Path  # the outbound queue (part 2)
    tls: Path  # the certificate made when tls_cert is not configured


@dataclass(frozen=True, slots=True, kw_only=True)
class MailConfig:
    """One mail server: its name, domains, listeners, state, TLS, limits and login rules."""

    hostname: str = ""  # its name (greetings, Received:, the certificate); required
    domains: tuple[str, ...] = ()  # the domains whose users it serves; at least one
    address: str = "127.0.0.1"  # where a listener given as a bare port binds
    listen: dict[str, int | str] = field(default_factory=dict)  # kind -> port or "ADDR:PORT"
    state_dir: str = "mailstate"
    users_file: str = ""  # default: state_dir/users
    tls_cert: str = ""  # PEM chain; with tls_key. Empty: made on first start
    tls_key: str = ""
    limits: Limits = field(default_factory=Limits)
    auth: Auth = field(default_factory=Auth)
    queue: Queue = field(default_factory=Queue)
    quota: Quotas = field(default_factory=Quotas)
    # Processes that serve IMAP and POP3 (mailserver/aio/workers.py): the first also serves
    # SMTP, submission, the queue and control, and starts the others.
    workers: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.workers <= MAX_WORKERS:
            raise ValueError(f"workers must be from 1 to {MAX_WORKERS}")
        if not self.hostname:
            raise ValueError("hostname is required (the server's name, e.g. mail.crepes.fr)")
        if not self.domains:
            raise ValueError("domains is required (the mail domains it serves)")
        try:
            hostname = normalise_domain(self.hostname)
            domains = tuple(dict.fromkeys(normalise_domain(d) for d in self.domains))
        except UserError as e:
            raise ValueError(str(e)) from None
        object.__setattr__(self, "hostname", hostname)
        object.__setattr__(self, "domains", domains)
        try:
            ipaddress.ip_address(self.address)
        except ValueError:
            raise ValueError(f"address {self.address!r} is not an IP address") from None
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("tls_cert and tls_key go together: give both or neither")
        self.endpoints()  # every listener is checked now, not when it binds

    def endpoints(self) -> dict[str, tuple[str, int]]:
        """Every listener to bind: kind -> (address, port). Without a [listen] table, every
        kind but control on `address`, at its standard port + 10000."""
        given = self.listen or {
            kind: port + DEFAULT_OFFSET
            for kind, port in STANDARD_PORTS.items()
            if kind != "control"
        }
        result: dict[str, tuple[str, int]] = {}
        for kind, value in given.items():
            if kind not in STANDARD_PORTS:
                raise ValueError(
                    f"listen: unknown listener {kind!r} (known: {', '.join(STANDARD_PORTS)})"
                )
            if isinstance(value, int):
                if not 0 <= value <= 65535:
                    raise ValueError(f"listen: {kind}: port {value} out of range")
                result[kind] = (self.address, value)
            else:
                try:
                    result[kind] = parse_hostport(value)
                except AddressError as e:
                    raise ValueError(f"listen: {kind}: {e}") from None
        return result

    def serves(self, domain: str) -> bool:
        """True if `domain` (any case, IDNA or Unicode) is one of this server's domains."""
        try:
            return normalise_domain(domain) in self.domains
        except UserError:
            return False

    def serves_address(self, address: str) -> bool:
        """True if `address`'s domain is one of this server's."""
        return self.serves(address.rpartition("@")[2])

    def paths(self) -> StatePaths:
        root = Path(self.state_dir)
        return StatePaths(
            root=root,
            users=Path(self.users_file) if self.users_file else root / "users",
            mail=root / "mail",
            index=root / "index.sqlite3",
            queue=root / "queue",
            tls=root / "tls",
        )


def load(path: str | Path) -> MailConfig:
    """Read a config file; relative paths in it become relative to the file's folder, so the
    server finds its state wherever it is started from."""
    cfg = mconfig.load(path, MailConfig)
    base = Path(path).resolve().parent
    changes: dict[str, Any] = {
        name: str(base / value)
        for name in ("state_dir", "users_file", "tls_cert", "tls_key")
        if (value := getattr(cfg, name)) and not Path(value).is_absolute()
    }
    ca = cfg.queue.ca_file
    if ca and not Path(ca).is_absolute():
        changes["queue"] = dataclasses.replace(cfg.queue, ca_file=str(base / ca))
    return dataclasses.replace(cfg, **changes) if changes else cfg
