"""TSIG keys (RFC 8945) in BIND's key-file form, read and written (sans-I/O apart from files).

A key file holds one or more statements such as

    key "networkutopia.com" {
        algorithm hmac-sha256;
        secret "base64...";
    };

the form `tsig-keygen`, `nsupdate -k` and `dig -k` use, so one file serves our servers and
BIND's tools alike. Comments (`#`, `//`, `/* */`) are allowed as in named.conf. The keys become
a dnspython keyring (name -> dns.tsig.Key): signing and verifying is dnspython's.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TSIG
import dns.tsig

from dnsserver.wire import RR_FIXED

#: The algorithms accepted in key files (BIND's names), as dnspython names them.
ALGORITHMS: Mapping[str, dns.name.Name] = {
    "hmac-sha256": dns.tsig.HMAC_SHA256,
    "hmac-sha384": dns.tsig.HMAC_SHA384,
    "hmac-sha512": dns.tsig.HMAC_SHA512,
    "hmac-sha224": dns.tsig.HMAC_SHA224,
    "hmac-sha1": dns.tsig.HMAC_SHA1,
    "hmac-md5": dns.tsig.HMAC_MD5,
}
MIN_SECRET = 16  # octets; RFC 8945 §6: at least half the hash length (16 for SHA-256)

# a comment, or a quoted string (kept: a base64 secret may hold "//")
_COMMENT = re.compile(r'("[^"]*")|/\*.*?\*/|(?://|#)[^\n]*', re.S)
_STATEMENT = re.compile(
    r'\s*key\s+(?:"(?P<quoted>[^"]*)"|(?P<bare>[^\s{";]+))\s*\{(?P<body>[^{}]*)\}\s*;', re.I
)
_CLAUSE = re.compile(r'\s*(?P<word>[a-z-]+)\s+(?:"(?P<quoted>[^"]*)"|(?P<bare>[^\s";]+))\s*;', re.I)


class KeyFileError(ValueError):
    """A key file that cannot be used; the message says where and why."""


@dataclass(frozen=True, slots=True)
class TsigKey:
    """One key: its name (absolute, lowercase text with the final dot), algorithm and secret."""

    name: str
    algorithm: str  # BIND's name: hmac-sha256
    secret: bytes

    def to_dnspython(self) -> dns.tsig.Key:
        return dns.tsig.Key(self.name, self.secret, ALGORITHMS[self.algorithm])

    def text(self) -> str:
        """The key as a key-file statement."""
        name = self.name[:-1] if self.name != "." else self.name
        secret = base64.b64encode(self.secret).decode()
        return f'key "{name}" {{\n\talgorithm {self.algorithm};\n\tsecret "{secret}";\n}};\n'


def key_name(text: str) -> str:
    """A key name as the keyring and the configuration compare them: absolute, lowercase."""
    try:
        return dns.name.from_text(text).to_text().lower()
    except dns.exception.DNSException as e:
        raise KeyFileError(f"bad key name {text!r}: {e}") from None


def parse(text: str, where: str = "key file") -> list[TsigKey]:
    """Every key statement of `text`; anything else in it is an error (KeyFileError)."""
    # a comment becomes a space, or its line breaks (the lines after it keep their numbers)
    text = _COMMENT.sub(lambda m: m.group(1) or " " + "\n" * m.group(0).count("\n"), text)
    keys: list[TsigKey] = []
    pos = 0
    while text[pos:].strip():
        m = _STATEMENT.match(text, pos)
        if m is None:
            start = pos + len(text[pos:]) - len(text[pos:].lstrip())
            line = text[:start].count("\n") + 1
            raise KeyFileError(f'{where}: line {line}: expected key "NAME" {{ ... }};')
        keys.append(_key(m.group("quoted") or m.group("bare") or "", m.group("body"), where))
        pos = m.end()
    if not keys:
        raise KeyFileError(f"{where}: no key statement")
    return keys


def _key(name: str, body: str, where: str) -> TsigKey:
    if not name.strip():
        raise KeyFileError(f"{where}: a key with no name")
    clauses: dict[str, str] = {}
    pos = 0
    while body[pos:].strip():
        m = _CLAUSE.match(body, pos)
        if m is None:
            raise KeyFileError(
                f'{where}: key {name!r}: expected `algorithm NAME;` and `secret "...";`'
            )
        word = m.group("word").lower()
        if word not in ("algorithm", "secret") or word in clauses:
            raise KeyFileError(f"{where}: key {name!r}: unexpected or repeated {word!r}")
        clauses[word] = m.group("quoted") if m.group("quoted") is not None else m.group("bare")
        pos = m.end()
    if set(clauses) != {"algorithm", "secret"}:
        raise KeyFileError(f"{where}: key {name!r} needs both an algorithm and a secret")
    algorithm = clauses["algorithm"].lower()
    if algorithm not in ALGORITHMS:
        raise KeyFileError(
            f"{where}: key {name!r}: unknown algorithm {algorithm!r} "
            f"(known: {', '.join(ALGORITHMS)})"
        )
    try:
        secret = base64.b64decode(clauses["secret"], validate=True)
    except (binascii.Error, ValueError):
        raise KeyFileError(f"{where}: key {name!r}: the secret is not base64") from None
    if len(secret) < MIN_SECRET:
        raise KeyFileError(
            f"{where}: key {name!r}: a secret of {len(secret)} octets is too short "
            f"(at least {MIN_SECRET})"
        )
    return TsigKey(key_name(name), algorithm, secret)


def load(paths: Iterable[str | Path]) -> dict[str, TsigKey]:
    """The keys of every file, by name; the same name twice is an error."""
    keys: dict[str, TsigKey] = {}
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise KeyFileError(f"{path}: cannot read: {e.strerror or e}") from None
        except UnicodeDecodeError:
            raise KeyFileError(f"{path}: not UTF-8 text") from None
        for key in parse(text, str(path)):
            if key.name in keys:
                raise KeyFileError(f"{path}: key {key.name!r} is defined twice")
            keys[key.name] = key
    return keys


def generate(name: str, secret: bytes, algorithm: str = "hmac-sha256") -> TsigKey:
    """A key from `secret` (the caller draws it: `secrets.token_bytes(32)`)."""
    if algorithm not in ALGORITHMS:
        raise KeyFileError(f"unknown algorithm {algorithm!r}")
    if len(secret) < MIN_SECRET:
        raise KeyFileError(f"a secret of {len(secret)} octets is too short")
    return TsigKey(key_name(name), algorithm, secret)


def keyring(keys: Iterable[TsigKey]) -> dict[dns.name.Name, dns.tsig.Key]:
    """The dnspython keyring of `keys`."""
    return {dns.name.from_text(k.name): k.to_dnspython() for k in keys}


def signing_template(
    algorithm: dns.name.Name, fudge: int, original_id: int, time_signed: int = 0, mac: bytes = b""
) -> SigningTemplate:
    """The TSIG RDATA `dns.tsig.sign` fills in (time and MAC) for a message with this ID; with
    a time and a MAC, a request's own TSIG RDATA, which can serve as its answer's template."""
    return SigningTemplate(
        dns.rdataclass.ANY, dns.rdatatype.TSIG, algorithm, time_signed, fudge, mac,
        original_id, 0, b"",
    )  # fmt: skip


class SigningTemplate(dns.rdtypes.ANY.TSIG.TSIG):
    """A TSIG RDATA for `dns.tsig.sign` to fill in. dnspython's generic `replace` reads the
    constructor's signature on every call, which cost half of signing an answer; this one
    names the fields."""

    def replace(self, **changes: object) -> dns.rdtypes.ANY.TSIG.TSIG:
        fields = {
            "algorithm": self.algorithm,
            "time_signed": self.time_signed,
            "fudge": self.fudge,
            "mac": self.mac,
            "original_id": self.original_id,
            "error": self.error,
            "other": self.other,
        }
        unknown = changes.keys() - fields.keys()
        if unknown:
            raise AttributeError(f"a TSIG record has no {', '.join(sorted(unknown))}")
        fields.update(changes)
        return dns.rdtypes.ANY.TSIG.TSIG(self.rdclass, self.rdtype, **fields)  # type: ignore[arg-type]


def append_tsig(
    wire: bytes,
    key: dns.tsig.Key,
    *,
    fudge: int,
    now: int,
    request_mac: bytes | None,
    ctx: object = None,
    multi: bool = False,
    template: dns.rdtypes.ANY.TSIG.TSIG | None = None,
) -> tuple[bytes, object]:
    """`wire` (a message, with its OPT record if any: TSIG comes last) signed with `key`
    (RFC 8945 §4.3): its TSIG record appended, computed by dnspython (`dns.tsig.sign`) over the
    request's MAC (or, in a chain of messages, `ctx`). The signed message and the context for
    the next one. `template`, if given, is a `signing_template` of this key, fudge and ID."""
    if template is None:
        template = signing_template(key.algorithm, fudge, int.from_bytes(wire[:2]))
    tsig, ctx = dns.tsig.sign(wire, key, template, now, request_mac, ctx, multi)
    return add_tsig_record(wire, wire_of(key.name), wire_of(tsig)), ctx


def wire_of(thing: dns.name.Name | dns.rdata.Rdata) -> bytes:
    """A name or an RDATA as it goes on the wire, uncompressed (dnspython's `to_wire` returns
    None only when it writes into a file it is given)."""
    wire = thing.to_wire()
    assert wire is not None
    return wire


def add_tsig_record(wire: bytes, owner: bytes, rdata: bytes) -> bytes:
    """`wire` with a TSIG record (class ANY, TTL 0; `owner` the key's name on the wire) last in
    its additional section: after an OPT record, if there is one."""
    record = owner + RR_FIXED.pack(dns.rdatatype.TSIG, dns.rdataclass.ANY, 0, len(rdata))
    arcount = int.from_bytes(wire[10:12]) + 1  # (big-endian: the default)
    return wire[:10] + arcount.to_bytes(2) + wire[12:] + record + rdata
