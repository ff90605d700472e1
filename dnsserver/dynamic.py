"""UPDATE messages (RFC 2136) with TSIG (RFC 8945): reading, authorising, answering (sans-I/O).

`read_update` parses an UPDATE and verifies its TSIG against our keys, then says what to do:
answer at once (`Reply`: a format error, a bad or unknown key, a zone we do not serve
dynamically, a key not allowed for the zone) or apply it (`Request`). `answer` makes the
response to a Request once it has been applied, signed with the request's key as RFC 8945 §5.3
requires. The answers to TSIG failures are the RFC's: NOTAUTH with the TSIG error BADKEY or
BADSIG in an unsigned TSIG record (§5.2.1, §5.2.2: we cannot sign with a key we do not have or
for a MAC we could not verify), BADTIME signed, with our clock in Other Data (§5.2.3). The time
check is dnspython's, against the system clock.

The common UPDATE (one zone, records of the types whose RDATA holds no name, one TSIG record and
nothing else in the additional section) is read here, field by field, and its TSIG verified by
dnspython's `dns.tsig.validate`: dnspython's whole-message parser cost half of an update's time.
Anything else, errors included, is read by dnspython's parser, and both readings give the same
Request (a property test checks this).
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import dns.exception
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TSIG
import dns.rrset
import dns.tsig
import dns.update

from dnsserver.errors import FORMERR, NOTAUTH, NOTIMP, REFUSED, FormatError
from dnsserver.masterfile import AAAA, SOA, TXT, Record, data_record, parse_record, plain_name
from dnsserver.masterfile import A as TYPE_A
from dnsserver.tsigkeys import (
    SigningTemplate,
    add_tsig_record,
    append_tsig,
    signing_template,
    wire_of,
)
from dnsserver.update import CLASS_ANY, CLASS_IN, CLASS_NONE, Change
from dnsserver.wire import HEADER, RR_FIXED, TYPE_TSIG, Name, header_only, name_wire, read_name

BADSIG, BADKEY, BADTIME = 16, 17, 18


@dataclass(frozen=True, slots=True)
class Reply:
    """Answer this at once (None: say nothing); `why` is for the log."""

    wire: bytes | None
    why: str
    key: str | None = None


@dataclass(frozen=True, slots=True)
class Signing:
    """What the signed answer to a request takes: its ID, its zone section as sent, the key it
    was signed with, its fudge and its MAC."""

    id: int
    question: bytes
    key: dns.tsig.Key
    fudge: int
    mac: bytes
    template: dns.rdtypes.ANY.TSIG.TSIG | None = None  # the request's TSIG, reused to sign


@dataclass(frozen=True, slots=True)
class Request:
    """A verified UPDATE for a zone we update: apply it, then `answer`."""

    message: dns.message.Message | None  # (None: read without dnspython's parser)
    zone: Name  # lowercased
    key: str | None  # the key it was signed with (absolute, lowercase), None if unsigned
    prerequisites: tuple[Change, ...]
    updates: tuple[Change, ...]
    signing: Signing | None = None  # None: the answer is unsigned, or carries EDNS


def is_update(data: bytes) -> bool:
    """The opcode of the message is UPDATE (5), and it is a request (QR=0)."""
    return len(data) >= 12 and data[2] & 0xF8 == 5 << 3


def read_update(
    data: bytes,
    keyring: Mapping[dns.name.Name, dns.tsig.Key],
    allowed: Callable[[Name], frozenset[str] | None],
) -> Request | Reply:
    """Parse and check one UPDATE; `allowed(zone)` gives the key names that may update a zone
    (None: the zone is not one we update)."""
    fast = _read_common(data, keyring, allowed)
    if fast is not None:
        return fast
    got = read_signed(data, keyring)
    if isinstance(got, Reply):
        return got
    msg = got
    if msg.opcode() != dns.opcode.UPDATE:
        return Reply(header_only(data, NOTIMP), "not an update")
    key = key_of(msg)
    zrr = msg.question[0]  # dnspython refuses an UPDATE whose zone section is not one SOA
    if zrr.rdclass != dns.rdataclass.IN:
        return _reply(msg, NOTAUTH, "only class IN is served", key)
    zone = tuple(label.lower() for label in zrr.name.labels[:-1])
    keys = allowed(zone)
    if keys is None:
        return _reply(msg, NOTAUTH, f"not a zone we update: {zrr.name}", key)
    if key is None:
        return _reply(msg, REFUSED, "unsigned: updates need a TSIG key", None)
    if key not in keys:
        return _reply(msg, REFUSED, f"key {key} may not update {zrr.name}", key)
    try:
        prerequisites = tuple(_changes(msg.answer))
        updates = tuple(_changes(msg.authority))
    except ValueError as e:
        return _reply(msg, FORMERR, f"bad record: {e}", key)
    signing = None
    if msg.edns < 0 and msg.tsig is not None and isinstance(msg.keyring, dns.tsig.Key):
        question = wire_of(zrr.name) + _TYPE_CLASS.pack(zrr.rdtype, zrr.rdclass)
        assert msg.mac is not None  # (verified: it has one)
        signing = Signing(msg.id, question, msg.keyring, int(msg.tsig[0].fudge), msg.mac)
    return Request(msg, zone, key, prerequisites, updates, signing)


_TYPE_CLASS = struct.Struct("!HH")
_FUDGE_SIZE = struct.Struct("!HH")
_ID_ERROR_OTHER = struct.Struct("!HHH")
_QR_OPCODE, _UPDATE_REQUEST = 0xF800, 0x2800  # the QR bit and the opcode: a request, UPDATE
_ADDRESS_SIZE = {TYPE_A: 4, AAAA: 16}
# types no record of an UPDATE may have, even without RDATA: dnspython's parser has its rules
_META = frozenset({0, 41, 249, 250, 251, 252, 253, 254})


def _read_common(
    data: bytes,
    keyring: Mapping[dns.name.Name, dns.tsig.Key],
    allowed: Callable[[Name], frozenset[str] | None],
) -> Request | None:
    """The common UPDATE, read field by field; None if it is anything else (read it again
    with dnspython's parser, which has the answers to every error)."""
    try:
        return _common(data, keyring, allowed)
    except (FormatError, struct.error, dns.exception.DNSException, ValueError, IndexError):
        return None


def _common(
    data: bytes,
    keyring: Mapping[dns.name.Name, dns.tsig.Key],
    allowed: Callable[[Name], frozenset[str] | None],
) -> Request | None:
    qid, flags, zocount, prcount, upcount, adcount = HEADER.unpack_from(data)
    if flags & _QR_OPCODE != _UPDATE_REQUEST or zocount != 1 or adcount != 1:
        return None  # not a request, not an UPDATE, or more than a TSIG record in additional
    zone_labels, pos = read_name(data, 12)
    ztype, zclass = _TYPE_CLASS.unpack_from(data, pos)
    pos += 4
    if ztype != SOA or zclass != CLASS_IN:
        return None
    question = name_wire(zone_labels) + data[pos - 4 : pos]  # (whole: it may have been a pointer)
    sections: list[tuple[Change, ...]] = []
    for count, prerequisite in ((prcount, True), (upcount, False)):
        changes: list[Change] = []  # one per record, as dnspython reads an UPDATE
        for _ in range(count):
            owner, pos = read_name(data, pos)
            rtype, rclass, ttl, rdlength = RR_FIXED.unpack_from(data, pos)
            pos += 10
            end = pos + rdlength
            if not plain_name(owner) or rtype in _META:  # (RDATA past the end: IndexError)
                return None
            if rclass == CLASS_ANY or (rclass == CLASS_NONE and prerequisite):
                if rdlength:
                    return None
                changes.append(Change(owner, rclass, rtype, 0))
            elif rclass in (CLASS_IN, CLASS_NONE) and _plain_rdata(rtype, data, pos, end):
                ttl = 0 if ttl > 0x7FFFFFFF else ttl
                record = data_record(owner, ttl, rtype, data[pos:end])
                changes.append(Change(owner, rclass, rtype, ttl, record))
            else:
                return None
            pos = end
        sections.append(tuple(changes))
    tsig_start = pos
    owner, pos = read_name(data, pos)
    rtype, rclass, _, rdlength = RR_FIXED.unpack_from(data, pos)
    pos += 10
    if rtype != TYPE_TSIG or rclass != CLASS_ANY or pos + rdlength != len(data):
        return None
    keyname = dns.name.Name((*owner, b""))
    key = keyring.get(keyname)
    if key is None:
        return None
    rd = _tsig_rdata(data, pos, pos + rdlength)
    if rd is None:
        return None
    # (it raises on a TSIG error in a request, another algorithm, a bad MAC, a bad time)
    dns.tsig.validate(data, key, keyname, rd, int(time.time()), None, tsig_start)
    zone = tuple(label.lower() for label in zone_labels)
    keys = allowed(zone)
    name = keyname.to_text().lower()
    if keys is None or name not in keys:
        return None
    # (the request's TSIG serves only as written as the key's: an algorithm name in other
    # letter case verifies, but the answer must carry the key's, as dnspython's would)
    same = rd.original_id == qid and rd.algorithm.labels == key.algorithm.labels
    template = rd if same and isinstance(rd, SigningTemplate) else None
    signing = Signing(qid, question, key, int(rd.fudge), rd.mac, template)
    return Request(None, zone, name, sections[0], sections[1], signing)


def _tsig_rdata(data: bytes, pos: int, end: int) -> dns.rdtypes.ANY.TSIG.TSIG | None:
    """RFC 8945 §4.2: Algorithm Name, Time Signed, Fudge, MAC Size, MAC, Original ID, Error,
    Other Len, Other Data, filling the RDATA exactly (None if they do not). Without an error or
    other data it is a signing template, which the answer is signed with
    (`tsigkeys.signing_template`)."""
    algorithm, pos = read_name(data, pos)
    time_signed = int.from_bytes(data[pos : pos + 6])
    fudge, size = _FUDGE_SIZE.unpack_from(data, pos + 6)
    pos += 10
    mac = data[pos : pos + size]
    original_id, error, other_size = _ID_ERROR_OTHER.unpack_from(data, pos + size)
    pos += size + 6
    if pos + other_size != end:
        return None
    name = dns.name.Name((*algorithm, b""))
    if error or other_size:
        return dns.rdtypes.ANY.TSIG.TSIG(
            dns.rdataclass.ANY, dns.rdatatype.TSIG, name, time_signed, fudge, mac, original_id,
            error, data[pos:end],
        )  # fmt: skip
    return signing_template(name, fudge, original_id, time_signed, mac)


def _plain_rdata(rtype: int, data: bytes, pos: int, end: int) -> bool:
    """RDATA the fast reader takes: an address of its size, or TXT strings filling it."""
    size = _ADDRESS_SIZE.get(rtype)
    if size is not None:
        return end - pos == size
    if rtype != TXT or pos == end:
        return False
    while pos < end:
        pos += 1 + data[pos]
    return pos == end


def read_signed(
    data: bytes, keyring: Mapping[dns.name.Name, dns.tsig.Key]
) -> dns.message.Message | Reply:
    """Parse a request and verify its TSIG, if it has one, against `keyring`; a Reply to send
    instead when it is not a request, is malformed, or its TSIG fails (RFC 8945 §5.2)."""
    if len(data) < 12 or data[2] & 0x80:
        return Reply(None, "not a request")
    try:
        return dns.message.from_wire(data, keyring=dict(keyring))
    except dns.message.UnknownTSIGKey:
        return _tsig_failure(data, BADKEY, "signed with a key we do not have")
    except (dns.tsig.BadKey, dns.tsig.BadAlgorithm):
        return _tsig_failure(data, BADKEY, "the key's algorithm does not match")
    except dns.tsig.BadSignature:
        return _tsig_failure(data, BADSIG, "bad TSIG signature")
    except dns.tsig.BadTime:
        return _badtime(data, keyring)
    except dns.tsig.PeerError:
        return Reply(header_only(data, FORMERR), "a TSIG error in a request")
    except (dns.exception.DNSException, ValueError, UnicodeError) as e:
        return Reply(header_only(data, FORMERR), f"malformed request: {str(e) or type(e).__name__}")


def key_of(msg: dns.message.Message) -> str | None:
    """The name of the key a verified request was signed with (absolute, lowercase)."""
    return msg.keyname.to_text().lower() if msg.keyname is not None else None


def reply(msg: dns.message.Message, rcode: int, why: str) -> Reply:
    """A response with `rcode` and no records, signed if the request was."""
    return _reply(msg, rcode, why, key_of(msg))


def _changes(section: list[dns.rrset.RRset]) -> list[Change]:
    out: list[Change] = []
    for rrset in section:
        rclass = int(rrset.deleting) if rrset.deleting is not None else int(rrset.rdclass)
        name = tuple(rrset.name.labels[:-1])
        if not rrset:
            out.append(Change(name, rclass, int(rrset.rdtype), int(rrset.ttl)))
            continue
        for rd in rrset:
            out.append(Change(name, rclass, int(rrset.rdtype), int(rrset.ttl), _record(rrset, rd)))
    return out


def _record(rrset: dns.rrset.RRset, rd: dns.rdata.Rdata) -> Record:
    """The RDATA read as a zone file line is, so that it compares with the zone's records."""
    kind = dns.rdatatype.to_text(rrset.rdtype)
    if rrset.rdtype in (dns.rdatatype.OPT, dns.rdatatype.TSIG, dns.rdatatype.ANY):
        raise ValueError(f"{kind} cannot be a record of a zone")
    text = f"{rrset.name.to_text()} {int(rrset.ttl)} IN {kind} {rd.to_text()}"
    return parse_record(text)


def answer(request: Request, rcode: int, now: Callable[[], float] = time.time) -> bytes:
    """The response to an applied Request, signed if the request was: the header, the zone
    section, and the TSIG record (written here: dnspython's whole-message rendering cost as
    much as applying the update)."""
    s = request.signing
    if s is None:
        assert request.message is not None  # (the fast reader reads signed requests only)
        return _response(request.message, rcode)
    flags = 0x8000 | (int(dns.opcode.UPDATE) << 11) | (rcode & 0xF)
    wire = HEADER.pack(s.id, flags, 1, 0, 0, 0) + s.question
    signed, _ = append_tsig(
        wire, s.key, fudge=s.fudge, now=int(now()), request_mac=s.mac, template=s.template
    )
    return signed


def _reply(msg: dns.message.Message, rcode: int, why: str, key: str | None) -> Reply:
    return Reply(_response(msg, rcode), why, key)


def _response(msg: dns.message.Message, rcode: int) -> bytes:
    """The response with `rcode` and no records, signed if the request was (dnspython's)."""
    response = dns.message.make_response(msg)
    response.set_rcode(dns.rcode.Rcode.make(rcode))
    return response.to_wire()


def _unsigned(data: bytes) -> dns.message.Message | None:
    try:
        return dns.message.from_wire(data, keyring=False)
    except (dns.exception.DNSException, ValueError, UnicodeError):
        return None


def _tsig_failure(data: bytes, error: int, why: str) -> Reply:
    """NOTAUTH with an unsigned TSIG record carrying `error` (RFC 8945 §5.2)."""
    msg = _unsigned(data)
    if msg is None or msg.tsig is None:
        return Reply(header_only(data, FORMERR), why)
    response = dns.message.make_response(msg)
    response.set_rcode(dns.rcode.Rcode.NOTAUTH)
    wire = response.to_wire()
    signed = msg.tsig[0]
    rd = dns.rdtypes.ANY.TSIG.TSIG(
        dns.rdataclass.ANY, dns.rdatatype.TSIG, signed.algorithm, signed.time_signed,
        signed.fudge, b"", signed.original_id, error, b"",
    )  # fmt: skip
    return Reply(add_tsig_record(wire, wire_of(msg.tsig.name), wire_of(rd)), why)


def _badtime(data: bytes, keyring: Mapping[dns.name.Name, dns.tsig.Key]) -> Reply:
    """NOTAUTH, signed, TSIG error BADTIME and our time in Other Data (RFC 8945 §5.2.3)."""
    msg = _unsigned(data)
    if msg is None or msg.tsig is None or msg.tsig.name not in keyring:
        return Reply(header_only(data, FORMERR), "bad time")
    key = keyring[msg.tsig.name]
    signed = msg.tsig[0]
    response = dns.message.make_response(msg)
    response.set_rcode(dns.rcode.Rcode.NOTAUTH)
    now = int(time.time())
    response.use_tsig(
        key,
        fudge=signed.fudge,
        original_id=signed.original_id,
        tsig_error=BADTIME,
        other_data=now.to_bytes(6),
    )
    response.request_mac = signed.mac
    skew = now - signed.time_signed
    return Reply(response.to_wire(), f"signed {skew:+d} s from our clock (fudge {signed.fudge} s)")


__all__ = ["CLASS_IN", "Reply", "Request", "Signing", "answer", "is_update", "read_update"]
