"""The users of one mail server: a passwd-file of addresses and scrypt hashes, read by the
running server and changed by `mailserver user ...`.

The file has one user a line, `address:$scrypt$ln=15,r=8,p=1$SALT$HASH` (SALT and HASH in
base64 without padding), `#` comments and blank lines; in the manner of Dovecot's passwd-file,
but its hash scheme is ours: scrypt (RFC 7914) from the standard library, which is memory-hard
and needs no new dependency (argon2-cffi would be one, with a C extension, for a small gain at
these sizes). The cost parameters live in each hash, so they can be raised later and old hashes
still verify. It is written whole, atomically (temporary file, fsync, rename, fsync of the
directory) under a lock file, so a crash or two `user add` at once never leave it half written.

The running server sees changes without a restart: every lookup compares the file's inode,
size and modification time with those it last read (one stat), and reads it again when they
differ. A file that became unreadable or malformed keeps the previous users and says why in
`problem`. Verifying a password costs the same whether or not the user exists, and failures
never say which it was. A check takes about 0.1 s of CPU: shells call `verify` in a worker
thread (a reload replaces the table whole, so threads only ever see one version of it).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import hmac
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import idna

from minternet.durable import write_atomically

#: Local parts we accept: what a person types, without quoting (RFC 5321 §4.1.2's quoted
#: strings and the characters that would break the file or the protocols' syntax are refused).
_LOCAL_FORBIDDEN = re.compile(r'[\x00-\x20\x7f:"\\@<>(),;\[\]]')
MAX_LOCAL = 64  # octets, RFC 5321 §4.5.3.1.1


class UserError(ValueError):
    """An address, password, hash or users file that cannot be used; the message says why."""


def normalise(address: str) -> str:
    """`address` as the users file keys it: the local part as given, the domain in lowercase
    ASCII (IDNA for an internationalised one; a trailing dot dropped)."""
    local, at, domain = address.rpartition("@")
    if not at or not local:
        raise UserError(f"{address!r} is not an address: it needs a local part, @ and a domain")
    if _LOCAL_FORBIDDEN.search(local):
        raise UserError(f"{address!r}: the local part has a space, control or special character")
    if len(local.encode("utf-8", "surrogateescape")) > MAX_LOCAL:
        raise UserError(f"{address!r}: the local part is longer than {MAX_LOCAL} octets")
    return f"{local}@{normalise_domain(domain)}"


# An ASCII name of letter-digit-hyphen labels that IDNA would only lowercase: no label with
# hyphens in its third and fourth places (IDNA 2008 reserves them: "xn--" is punycode, which
# idna must check). Most names are such, and idna.encode costs 0.1 ms a call: SMTP asks for
# every MAIL and RCPT.
_PLAIN_LABEL = r"(?![a-z0-9-]{2}--)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_PLAIN_NAME = re.compile(rf"{_PLAIN_LABEL}(?:\.{_PLAIN_LABEL})*")


def normalise_domain(domain: str) -> str:
    """A domain name in lowercase ASCII (IDNA 2008), without a trailing dot."""
    name = domain[:-1] if domain.endswith(".") else domain
    if name.isascii() and len(name) <= 253:
        lower = name.lower()
        if _PLAIN_NAME.fullmatch(lower):
            return lower
    try:
        # IDNA 2008 with the UTS 46 mapping (case folded, Straße -> xn--strae-oqa), as mail
        # clients and browsers do; Python's own "idna" codec is IDNA 2003 (Straße -> strasse).
        ascii_name = idna.encode(name, uts46=True).decode("ascii")
    except (UnicodeError, ValueError):
        raise UserError(f"{domain!r} is not a domain name") from None
    return ascii_name  # idna checked the labels (letters, digits, hyphens; 63) and the length


@dataclass(frozen=True, slots=True)
class ScryptParams:
    """scrypt's cost: N = 2**ln, block size r, parallelism p. The default (N=32768, r=8)
    takes 32 MiB and about 0.1 s per hash here: a login is a thread's tenth of a second, a
    guess at a stolen file costs as much."""

    ln: int = 15
    r: int = 8
    p: int = 1

    def __post_init__(self) -> None:
        # Bounded, so that a hand-edited hash cannot make one login take gigabytes or minutes.
        if not (1 <= self.ln <= 20 and 1 <= self.r <= 32 and 1 <= self.p <= 16):
            raise UserError(f"scrypt parameters out of range: ln={self.ln} r={self.r} p={self.p}")
        if self.memory > MAX_MEMORY:
            raise UserError(f"scrypt parameters need more than {MAX_MEMORY >> 20} MiB")

    @property
    def memory(self) -> int:
        """Octets scrypt needs: 128 * r * N for its table, and 128 * r * p for its blocks."""
        return 128 * self.r * (2**self.ln + self.p)

    def to_text(self) -> str:
        return f"ln={self.ln},r={self.r},p={self.p}"


MAX_MEMORY = 256 << 20
SALT_SIZE = 16
KEY_SIZE = 32
_HASH = re.compile(
    r"\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)\Z"
)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    # `text` is of the alphabet only (_HASH matched it): there is nothing to validate
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: bytes, salt: bytes, params: ScryptParams, size: int) -> bytes:
    return hashlib.scrypt(
        password,
        salt=salt,
        n=2**params.ln,
        r=params.r,
        p=params.p,
        maxmem=params.memory + (1 << 20),
        dklen=size,
    )


def hash_password(password: bytes, salt: bytes, params: ScryptParams | None = None) -> str:
    """The users file's text for `password`: `$scrypt$ln=..,r=..,p=..$SALT$HASH`."""
    params = params or ScryptParams()
    key = _scrypt(password, salt, params, KEY_SIZE)
    return f"$scrypt${params.to_text()}${_b64(salt)}${_b64(key)}"


@dataclass(frozen=True, slots=True)
class PasswordHash:
    """A parsed hash: its parameters, salt and derived key."""

    params: ScryptParams
    salt: bytes
    key: bytes
    text: str  # as the users file has it

    @classmethod
    def from_text(cls, text: str) -> PasswordHash:
        m = _HASH.match(text)
        if not m:
            raise UserError("not a $scrypt$ hash")
        params = ScryptParams(int(m[1]), int(m[2]), int(m[3]))
        try:
            salt, key = _unb64(m[4]), _unb64(m[5])
        except ValueError:
            raise UserError("bad base64 in the hash") from None
        if not 8 <= len(salt) <= 64 or not 16 <= len(key) <= 64:
            raise UserError("salt or hash of a wrong length")
        return cls(params, salt, key, text)

    def matches(self, password: bytes) -> bool:
        """True if `password` gives this key (compared in constant time)."""
        return hmac.compare_digest(
            _scrypt(password, self.salt, self.params, len(self.key)), self.key
        )


def parse_users(text: str, where: str) -> dict[str, PasswordHash]:
    """The users of a file's text; UserError names the line of the first problem."""
    users: dict[str, PasswordHash] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        address, sep, hashed = line.partition(":")
        try:
            if not sep:
                raise UserError("expected ADDRESS:HASH")
            key = normalise(address)
            if key in users:
                raise UserError(f"{key} is listed twice")
            users[key] = PasswordHash.from_text(hashed)
        except UserError as e:
            raise UserError(f"{where}:{number}: {e}") from None
    return users


def render_users(users: dict[str, str]) -> str:
    """The file's text for address -> hash text, sorted by domain then local part."""
    order = sorted(users, key=lambda a: (a.rpartition("@")[2], a.rpartition("@")[0]))
    head = "# users of this mail server: address:hash (written by `mailserver user`)\n"
    return head + "".join(f"{a}:{users[a]}\n" for a in order)


_Stamp = tuple[int, int, int, int]


class UserDb:
    """The users file of one server: lookups that follow the file, and the changes the CLI
    makes. `random_bytes` gives salts (os.urandom; tests pass their own); `params` is the cost
    of new hashes and of the stand-in hash an unknown user is checked against."""

    def __init__(
        self,
        path: str | Path,
        *,
        params: ScryptParams | None = None,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.path = Path(path)
        self.params = params or ScryptParams()
        self._random = random_bytes
        self._users: dict[str, PasswordHash] | None = None
        self._stamp: _Stamp | None = None
        #: Why the last reload failed (the previous users are kept), or None.
        self.problem: str | None = None

    # -- reading -------------------------------------------------------------------------

    def _stat(self) -> _Stamp | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)

    def _read(self) -> tuple[dict[str, PasswordHash], _Stamp | None]:
        stamp = self._stat()
        try:
            text = self.path.read_text("utf-8")
        except FileNotFoundError:
            return {}, None
        except (OSError, UnicodeError) as e:
            raise UserError(f"{self.path}: cannot read: {e}") from None
        return parse_users(text, str(self.path)), stamp

    def load(self) -> None:
        """Read the file now; UserError if it cannot be used (a missing file is no users)."""
        self._users, self._stamp = self._read()
        self.problem = None

    def _current(self) -> dict[str, PasswordHash]:
        if self._users is None:
            self.load()
        elif self._stat() != self._stamp:
            try:
                self.load()
            except UserError as e:
                self.problem = f"{e}; the previous users are kept"
        assert self._users is not None
        return self._users

    def addresses(self) -> list[str]:
        """Every user, in the file's order (by domain, then local part)."""
        return list(self._current())

    def exists(self, address: str) -> bool:
        """True if `address` is a user (for SMTP's RCPT check, which may say so)."""
        try:
            key = normalise(address)
        except UserError:
            return False
        return key in self._current()

    def verify(self, address: str, password: bytes) -> str | None:
        """The user's normalised address if `password` is theirs, else None. An unknown or
        malformed address costs one hash, as a known one does, and fails the same way."""
        try:
            key = normalise(address)
        except UserError:
            key = ""  # no user has it
        entry = self._current().get(key)
        if entry is None:
            PasswordHash(self.params, bytes(SALT_SIZE), bytes(KEY_SIZE), "").matches(password)
            return None
        return key if entry.matches(password) else None

    # -- changing ------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, str]]:
        """The file's users as address -> hash text, written back when the block ends."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.with_name(self.path.name + ".lock")
        with open(lock, "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                users, _ = self._read()
                texts = {a: h.text for a, h in users.items()}
                yield texts
                write_atomically(self.path, render_users(texts).encode("utf-8"))
                self.load()
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _hash(self, password: bytes) -> str:
        if not password:
            raise UserError("the password is empty")
        return hash_password(password, self._random(SALT_SIZE), self.params)

    def add(self, address: str, password: bytes) -> str:
        """Add a user; UserError if they exist. Returns the normalised address."""
        key = normalise(address)
        hashed = self._hash(password)
        with self._locked() as texts:
            if key in texts:
                raise UserError(f"{key} already exists")
            texts[key] = hashed
        return key

    def set_password(self, address: str, password: bytes) -> str:
        """Change a user's password; UserError if there is no such user."""
        key = normalise(address)
        hashed = self._hash(password)
        with self._locked() as texts:
            if key not in texts:
                raise UserError(f"no user {key}")
            texts[key] = hashed
        return key

    def ensure(self, address: str, password: bytes) -> bool:
        """Make `address` a user with `password`, adding or changing it only if needed (for
        demo users seeded at each start, such as the topology's). True if the file changed."""
        key = normalise(address)
        if self.verify(key, password) == key:
            return False
        hashed = self._hash(password)
        with self._locked() as texts:
            texts[key] = hashed
        return True

    def delete(self, address: str) -> str:
        """Remove a user (not their mail); UserError if there is no such user."""
        key = normalise(address)
        with self._locked() as texts:
            if key not in texts:
                raise UserError(f"no user {key}")
            del texts[key]
        return key
