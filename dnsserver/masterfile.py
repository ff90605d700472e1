"""Reading RFC 1035 §5 master files into records: directives, owners, TTLs, classes, RDATA.

Our own reader for the file syntax, because dnspython's character-at-a-time tokenizer needs
about 10 s for a zone of 100,000 records here. It handles $ORIGIN, $TTL, $INCLUDE, `@`,
relative names, omitted owner/TTL/class, TTL and class in either order, TTL units (`1h30m`),
parentheses across lines, comments and quoted strings with escapes. RDATA of the common
address and name types is converted directly; every other type (SOA, TXT, SRV, CAA, RFC 3597
`\\# len hex`, ...) is handed to dnspython's per-type RDATA parser (`dns.rdata.from_text`).
Every record remembers its file and line. A bad line is reported (`file:line` through the
$INCLUDE chain) and reading goes on with the next one, as BIND does, so one run shows every
error; a file that cannot be opened or tokenized stops there.
"""

from __future__ import annotations

import contextlib
import io
import re
import socket
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.ttl
from dnslib import CNAME as RD_CNAME
from dnslib import MX as RD_MX
from dnslib import NS as RD_NS
from dnslib import PTR as RD_PTR
from dnslib import QTYPE, RD, RDMAP, DNSBuffer, DNSError, DNSLabel

from dnsserver.errors import ZoneError
from dnsserver.problems import MAX_KEPT, Problems, Source
from dnsserver.wire import Name

MAX_INCLUDE_DEPTH = 8
A, NS, CNAME, SOA, PTR, MX, TXT, AAAA, SRV = 1, 2, 5, 6, 12, 15, 16, 28, 33
_NAMED_TYPES = {"NS", "CNAME", "SOA", "PTR", "MX", "SRV"}  # names compressible in answers
_TOKEN = re.compile(
    r'\s*(?:(?P<q>"(?:[^"\\]|\\.)*")|(?P<p>[()])|(?P<c>;.*)|(?P<w>(?:[^\s"();\\]|\\.)+)|(?P<bad>\S))'
)
_SIMPLE = re.compile(r'["();\\]')
_CLASSES = {"IN", "CH", "CS", "HS", "NONE", "ANY"}


_UNKNOWN = Source("?")


@dataclass(frozen=True, slots=True)
class Record:
    """One record of a zone: owner as written (`labels`) and lowercased (`key`)."""

    labels: Name
    key: Name
    ttl: int
    rtype: int
    rdata: RD
    # Equal for duplicate records (RFC 2181 §5: an RRset has no duplicates): the RDATA, or for
    # the types converted here the target's labels, without case (a dot escaped in a label is
    # no dot between labels)
    identity: Hashable
    target: Name | None = None  # lowercased NS/CNAME/MX/SRV/PTR target
    target_labels: Name | None = None
    source: Source = _UNKNOWN  # the file it was read from, and its line there
    line: int = 0

    def where(self) -> str:
        return self.source.at(self.line)


class _Run:
    """What the files of one zone share: the problems found, and warnings given once."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        self.ttl_warned = False


class _State:
    def __init__(self, source: Source, origin: Name | None, zone: Name | None, run: _Run) -> None:
        self.source = source
        self.origin = origin
        self.zone = zone  # lowercased zone origin: every owner must be at or below it
        self.run = run
        self.default_ttl: int | None = None
        self.last_ttl: int | None = None
        self.soa_minimum: int | None = None
        self.last_owner: Name | None = None


class _Unreadable(Exception):
    """The rest of a file cannot be tokenized: reported at `line`, and the file is left."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


class _TooMany(Exception):
    """MAX_KEPT errors reported: reading stops."""


def _lines(f: TextIO) -> Iterator[tuple[int, bool, list[str]]]:
    """Logical lines: (first line number, owner omitted, tokens), parentheses joined."""
    tokens: list[str]  # start, blank_owner and tokens are set by the first line (depth 0)
    depth = 0
    try:
        for number, line in enumerate(f, 1):
            if depth == 0:
                start, blank_owner, tokens = number, line[:1] in (" ", "\t"), []
            if _SIMPLE.search(line) is None:
                tokens.extend(line.split())
            else:
                for m in _TOKEN.finditer(line):
                    kind = m.lastgroup
                    if kind in ("q", "w"):
                        tokens.append(m.group(kind))  # type: ignore[arg-type]
                    elif kind == "p":
                        depth += 1 if m.group("p") == "(" else -1
                        if depth < 0:
                            raise _Unreadable(number, "unbalanced ')'")
                    elif kind == "bad":
                        raise _Unreadable(number, "unterminated quoted string")
            if depth == 0 and tokens:
                yield start, blank_owner, tokens
    except UnicodeDecodeError as e:
        # The text layer decodes ahead in blocks: find the line that holds the bad byte.
        raise _Unreadable(_bad_utf8_line(f.name), f"not UTF-8 text ({e.reason})") from None
    if depth:
        raise _Unreadable(start, "'(' never closed")


def _bad_utf8_line(path: str) -> int:
    with open(path, "rb") as f:
        for number, line in enumerate(f, 1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return 0


def _name(text: str, origin: Name | None) -> Name:
    """A name in master-file text (RFC 1035 §5.1: relative names get the origin appended)."""
    if text == "@":
        if origin is None:
            raise ValueError("'@' used before any $ORIGIN")
        return origin
    if "\\" in text or not text.isascii():
        base = dns.name.Name((*origin, b"")) if origin is not None else None
        parsed = dns.name.from_text(text, base)
        if not parsed.is_absolute():
            raise ValueError(f"relative name {text!r} before any $ORIGIN")
        return tuple(parsed.labels[:-1])
    if text.endswith("."):
        if text == ".":
            return ()
        labels = tuple(label.encode() for label in text[:-1].split("."))
    else:
        if origin is None:
            raise ValueError(f"relative name {text!r} before any $ORIGIN")
        labels = (*(label.encode() for label in text.split(".")), *origin)
    total = 1
    for label in labels:
        if not 0 < len(label) <= 63:
            raise ValueError(f"bad label in {text!r} (empty or over 63 octets)")
        total += len(label) + 1
    if total > 255:
        raise ValueError(f"name {text!r} is longer than 255 octets")
    return labels


def _ttl(text: str) -> int:
    value = int(text) if text.isdigit() else dns.ttl.from_text(text)
    if value > 0x7FFFFFFF:  # RFC 2181 §8
        raise ValueError(f"TTL {text} is over 2^31-1")
    return value


_TYPE_CACHE: dict[str, int] = {}


def _rtype(text: str) -> int:
    rtype = _TYPE_CACHE.get(text)
    if rtype is None:
        try:
            rtype = int(dns.rdatatype.from_text(text))
        except dns.rdatatype.UnknownRdatatype:
            raise ValueError(f"unknown record type {text!r}") from None
        _TYPE_CACHE[text] = rtype
    return rtype


def name_text(labels: Name) -> str:
    """A name in a message about a zone: absolute, octets that are not ASCII escaped (\\xc8)."""
    return ".".join(label.decode("ascii", "backslashreplace") for label in labels) + "."


def _lower(labels: Name) -> Name:
    return tuple(label.lower() for label in labels)


def _character_string(text: str) -> bytes:
    """RFC 1035 §3.3: a length-prefixed string of at most 255 octets (no escapes here)."""
    data = (text[1:-1] if text.startswith('"') else text).encode()
    if len(data) > 255:
        raise ValueError("TXT string longer than 255 octets")
    return bytes((len(data),)) + data


_Rdata = tuple[RD, Hashable, Name | None, Name | None]


def _rdata(rtype: int, args: list[str], origin: Name | None) -> _Rdata:
    """Convert RDATA text: (rdata, identity, target, target as written).
    A tuple, not a Record: a frozen dataclass costs a setattr per field, twice per record."""
    if rtype == A and len(args) == 1:
        try:
            wire = socket.inet_pton(socket.AF_INET, args[0])
        except OSError:
            raise ValueError(
                f"A record {args[0]!r} is not an IPv4 address (four numbers 0-255: 192.0.2.1)"
            ) from None
        return RD(wire), wire, None, None
    if rtype == AAAA and len(args) == 1:
        try:
            wire = socket.inet_pton(socket.AF_INET6, args[0])
        except OSError:
            raise ValueError(
                f"AAAA record {args[0]!r} is not an IPv6 address (like 2001:db8::1)"
            ) from None
        return RD(wire), wire, None, None
    if rtype in (NS, CNAME, PTR) and len(args) == 1:
        t = _name(args[0], origin)
        cls = RD_NS if rtype == NS else RD_CNAME if rtype == CNAME else RD_PTR
        key = _lower(t)
        return cls(DNSLabel(t)), key, key, t
    if rtype == MX and len(args) == 2 and args[0].isdigit():
        pref = int(args[0])
        if pref > 0xFFFF:
            raise ValueError(f"MX preference {pref} is over 65535")
        t = _name(args[1], origin)
        key = _lower(t)
        rd = RD_MX(DNSLabel(t), pref)
        return rd, (pref, key), key, t
    if rtype == TXT and args and all("\\" not in a for a in args):
        wire = b"".join(_character_string(a) for a in args)
        return RD(wire), wire, None, None
    base = dns.name.Name((*origin, b"")) if origin is not None else None
    parsed = dns.rdata.from_text(
        dns.rdataclass.IN,
        dns.rdatatype.RdataType.make(rtype),
        " ".join(args),
        origin=base,
        relativize=False,
    )
    wire = parsed.to_wire() or b""
    name = QTYPE.forward.get(rtype, "")
    try:
        rd = RDMAP[name].parse(DNSBuffer(wire), len(wire)) if name in _NAMED_TYPES else RD(wire)
    except DNSError as e:  # dnslib reads labels as UTF-8: `\128x` in an SRV target is not
        raise ValueError(f"record data dnslib cannot hold: {e}") from None
    target = getattr(parsed, "target", None) or getattr(parsed, "exchange", None)
    if isinstance(target, dns.name.Name) and rtype in (NS, CNAME, PTR, MX, SRV):
        t = tuple(target.labels[:-1])
        # RFC 4343: the target without case, the numbers as they are (lowercasing the whole
        # RDATA made SRV ports 65 and 97 one record)
        return rd, parsed.to_digestable(), _lower(t), t
    return rd, wire, None, None


def read(
    path: str | Path,
    zone: Name | None = None,
    problems: Problems | None = None,
    *,
    origin: Name | None = None,
) -> Iterator[Record]:
    """Every record of the master file at `path` (and the files it $INCLUDEs). With `zone`
    (lowercased), an owner outside that zone is an error; `origin` is the origin before any
    $ORIGIN (none: relative names need one). Errors and warnings go to `problems` and reading
    goes on; without `problems`, the first error is raised as ZoneError once the file is read."""
    found = problems if problems is not None else Problems()
    path = str(path)
    try:
        f = open(path, encoding="utf-8")  # noqa: SIM115 (closed by _read)
    except OSError as e:
        found.error(Source(path), 0, f"cannot read: {e.strerror or e}")
    else:
        with contextlib.suppress(_TooMany):
            yield from _read(_State(Source(path), origin, zone, _Run(found)), f, 0)
    if problems is None and found.errors:
        raise ZoneError(str(found.errors[0]), tuple(found.items))


def origin_of(path: str | Path) -> Name | None:
    """The first $ORIGIN of a file (the zone origin when none is given)."""
    try:
        with open(path, encoding="utf-8") as f:
            for _, _, tokens in _lines(f):
                if tokens[0].upper() == "$ORIGIN" and len(tokens) == 2:
                    try:
                        return _lower(_name(tokens[1], None))
                    except (ValueError, dns.exception.DNSException):
                        return None
    except (OSError, _Unreadable):
        pass  # reading the file again reports it
    return None


def _read(st: _State, f: TextIO, depth: int) -> Iterator[Record]:
    problems = st.run.problems
    with f:
        try:
            for number, blank_owner, tokens in _lines(f):
                try:
                    if tokens[0].startswith("$") and not blank_owner:
                        yield from _directive(st, tokens, depth, number)
                    else:
                        yield _record(st, blank_owner, tokens, number)
                except (ValueError, OSError, dns.exception.DNSException) as e:
                    problems.error(st.source, number, str(e) or type(e).__name__)
                    if problems.error_count >= MAX_KEPT - 1:  # the next line says so
                        problems.error(st.source, number, "too many errors; reading stopped")
                        raise _TooMany from None
        except _Unreadable as e:
            problems.error(st.source, e.line, str(e))


def _directive(st: _State, tokens: list[str], depth: int, number: int) -> Iterator[Record]:
    word = tokens[0].upper()
    if word == "$ORIGIN" and len(tokens) == 2:
        st.origin = _name(tokens[1], st.origin)
    elif word == "$TTL" and len(tokens) == 2:
        st.default_ttl = _ttl(tokens[1])
    elif word == "$INCLUDE" and len(tokens) in (2, 3):
        if depth >= MAX_INCLUDE_DEPTH:
            raise ValueError(f"$INCLUDE nested deeper than {MAX_INCLUDE_DEPTH} (a loop?)")
        target = Path(tokens[1].strip('"'))
        if not target.is_absolute():  # relative to the including file, like a shell `source`
            target = Path(st.source.path).parent / target
        origin = _name(tokens[2], st.origin) if len(tokens) == 3 else st.origin
        try:
            f = open(target, encoding="utf-8")  # noqa: SIM115 (closed by _read)
        except OSError as e:
            raise ValueError(
                f"$INCLUDE {tokens[1]}: cannot read {target}: {e.strerror or e}"
            ) from None
        # RFC 1035 §5.1: the origin reverts after the included file.
        inner = _State(Source(str(target), st.source, number), origin, st.zone, st.run)
        inner.default_ttl, inner.last_ttl = st.default_ttl, st.last_ttl
        inner.soa_minimum = st.soa_minimum
        yield from _read(inner, f, depth + 1)
    else:
        raise ValueError(f"bad or unsupported directive {' '.join(tokens)!r}")


def _record(st: _State, blank_owner: bool, tokens: list[str], number: int) -> Record:
    i = 0
    if blank_owner:
        if st.last_owner is None:
            raise ValueError("no owner name and no previous owner")
        owner = st.last_owner
    else:
        owner = st.last_owner = _name(tokens[0], st.origin)
        i = 1
    zone = st.zone
    if zone is not None and (
        len(owner) < len(zone) or _lower(owner[len(owner) - len(zone) :]) != zone
    ):
        raise ValueError(f"{name_text(owner)} is outside the zone {name_text(zone)}")
    ttl: int | None = None
    for _ in range(2):  # [TTL] [class] or [class] [TTL] (RFC 1035 §5.1)
        if i >= len(tokens):
            break
        tok = tokens[i]
        if tok[0].isdigit():
            if ttl is not None:
                raise ValueError(f"two TTLs in one record ({tok!r})")
            ttl = _ttl(tok)
            st.last_ttl = ttl
            i += 1
        elif tok.upper() in _CLASSES or tok.upper().startswith("CLASS"):
            if tok.upper() != "IN":
                raise ValueError(f"class {tok} (only IN is served)")
            i += 1
    if i >= len(tokens):
        raise ValueError("missing record type")
    rtype = _rtype(tokens[i].upper())
    args = tokens[i + 1 :]
    try:
        rdata, identity, target, target_labels = _rdata(rtype, args, st.origin)
    except dns.exception.DNSException as e:  # from dnspython's parsers: say which record
        kind = tokens[i].upper()
        if not args:
            raise ValueError(f"{kind} record with no data") from None
        raise ValueError(f"bad {kind} record data {' '.join(args)!r}: {e}") from None
    if rtype == SOA and st.soa_minimum is None:
        st.soa_minimum = rdata.times[-1]  # type: ignore[attr-defined]
    if ttl is None:
        ttl = st.default_ttl if st.default_ttl is not None else _implicit_ttl(st, number)
    return Record(
        owner,
        _lower(owner),
        ttl,
        rtype,
        rdata,
        identity,
        target,
        target_labels,
        st.source,
        number,
    )


def _implicit_ttl(st: _State, number: int) -> int:
    """No TTL and no $TTL: the last TTL written (RFC 1035 §5.1), else the SOA MINIMUM (RFC 2308
    §4). Legal, but rarely what was meant, so the first such record gets a warning (as BIND's)."""
    if st.last_ttl is not None:
        ttl, why = st.last_ttl, "the TTL of the record before it"
    elif st.soa_minimum is not None:
        ttl, why = st.soa_minimum, "the SOA's MINIMUM field"
    else:
        raise ValueError("no TTL: write one or add a $TTL line")
    if not st.run.ttl_warned:
        st.run.ttl_warned = True
        st.run.problems.warn(
            st.source,
            number,
            f"no TTL and no $TTL: this record gets {ttl}, {why} (and so may later ones); "
            "a $TTL line at the top of the file says what you mean",
        )
    return ttl


def parse_record(text: str, zone: Name | None = None) -> Record:
    """One record from one master-file line with an absolute owner (`www.example.com. 300 IN
    A 192.0.2.1`), read exactly as a zone file's line would be (same RDATA and identity).
    With `zone` (lowercased), an owner outside it is an error. ValueError if it is not one
    good record."""
    st = _State(_UNKNOWN, None, zone, _Run(Problems()))
    try:
        lines = list(_lines(io.StringIO(text)))
    except _Unreadable as e:
        raise ValueError(str(e)) from None
    if len(lines) != 1 or lines[0][1] or lines[0][2][0].startswith("$"):
        raise ValueError(f"not one record with its owner: {text!r}")
    try:
        return _record(st, False, lines[0][2], 1)
    except dns.exception.DNSException as e:
        raise ValueError(str(e) or type(e).__name__) from None


def data_record(labels: Name, ttl: int, rtype: int, rdata: bytes) -> Record:
    """A record of a type whose RDATA holds no name (A, AAAA, TXT) from its RDATA on the wire:
    the record `parse_record` reads from its line."""
    return Record(labels, _lower(labels), ttl, rtype, RD(rdata), rdata, None, None, _UNKNOWN, 1)


def plain_name(labels: Name) -> bool:
    """No label of the name needs an escape to be written in a master file."""
    return all(_PLAIN_LABEL.fullmatch(label) is not None for label in labels)


def rdata_wire(rdata: RD) -> bytes:
    """The RDATA as it goes on the wire, its names written whole (never compressed: packed
    alone, a pointer would point into a buffer the RDATA then leaves)."""
    buf = _PlainBuffer()
    rdata.pack(buf)
    return bytes(buf.data)


class _PlainBuffer(DNSBuffer):
    def encode_name(self, name: object) -> None:
        self.encode_name_nocompress(name)


_PLAIN_LABEL = re.compile(rb"[A-Za-z0-9_*-]+")


def _text(labels: Name) -> str | None:
    """An absolute name's presentation form when no label needs escaping, else None."""
    if not plain_name(labels):
        return None
    return ".".join(label.decode("ascii") for label in labels) + "."


def record_text(rec: Record) -> str:
    """A record as one master-file line with absolute names; `parse_record` reads it back as
    the same record. Addresses, names and the SOA are written here; other RDATA, and names
    that need escapes, in dnspython's presentation form."""
    owner = _text(rec.labels)
    if owner is None:
        owner = dns.name.Name((*rec.labels, b"")).to_text()
    rd = rec.rdata
    rtype = rec.rtype
    data: str | None = None
    if rtype in (A, AAAA):
        family = socket.AF_INET if rtype == A else socket.AF_INET6
        data = socket.inet_ntop(family, rd.data)  # type: ignore[attr-defined]
    elif rtype in (NS, CNAME, PTR, MX):
        target = _text(tuple(rd.label.label))  # type: ignore[attr-defined]
        if target is not None:
            data = target if rtype != MX else f"{rd.preference} {target}"  # type: ignore[attr-defined]
    elif rtype == SOA:
        mname, rname = _text(tuple(rd.mname.label)), _text(tuple(rd.rname.label))  # type: ignore[attr-defined]
        if mname is not None and rname is not None:
            data = f"{mname} {rname} " + " ".join(str(t) for t in rd.times)  # type: ignore[attr-defined]
    if data is None:
        wire = rdata_wire(rd)
        parsed = dns.rdata.from_wire(
            dns.rdataclass.IN, dns.rdatatype.RdataType.make(rtype), wire, 0, len(wire)
        )
        data = parsed.to_text()
    return f"{owner} {rec.ttl} IN {type_name(rtype)} {data}"


_TYPE_NAMES: dict[int, str] = {}


def type_name(rtype: int) -> str:
    name = _TYPE_NAMES.get(rtype)
    if name is None:
        name = _TYPE_NAMES[rtype] = dns.rdatatype.to_text(dns.rdatatype.RdataType.make(rtype))
    return name
