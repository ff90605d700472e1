"""UPDATE messages (RFC 2136) with TSIG (RFC 8945): reading, authorising, answering (sans-I/O).

`read_update` parses an UPDATE with dnspython and verifies its TSIG against our keys, then says
what to do: answer at once (`Reply`: a format error, a bad or unknown key, a zone we do not
serve dynamically, a key not allowed for the zone) or apply it (`Request`). `answer` makes the
response to a Request once it has been applied, signed with the request's key as RFC 8945
§5.3 requires. The answers to TSIG failures are the RFC's: NOTAUTH with the TSIG error BADKEY
or BADSIG in an unsigned TSIG record (§5.2.1, §5.2.2: we cannot sign with a key we do not have
or for a MAC we could not verify), BADTIME signed, with our clock in Other Data (§5.2.3).
The time check is dnspython's, against the system clock.
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

from dnsserver.errors import FORMERR, NOTAUTH, NOTIMP, REFUSED
from dnsserver.masterfile import Record, parse_record
from dnsserver.tsigkeys import add_tsig_record, append_tsig
from dnsserver.update import CLASS_IN, Change
from dnsserver.wire import Name, header_only

BADSIG, BADKEY, BADTIME = 16, 17, 18


@dataclass(frozen=True, slots=True)
class Reply:
    """Answer this at once (None: say nothing); `why` is for the log."""

    wire: bytes | None
    why: str
    key: str | None = None


@dataclass(frozen=True, slots=True)
class Request:
    """A verified UPDATE for a zone we update: apply it, then `answer`."""

    message: dns.message.Message
    zone: Name  # lowercased
    key: str | None  # the key it was signed with (absolute, lowercase), None if unsigned
    prerequisites: tuple[Change, ...]
    updates: tuple[Change, ...]


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
        return _reply(msg, REFUSED, "unsigned: updates need a TSIG key", key)
    if key not in keys:
        return _reply(msg, REFUSED, f"key {key} may not update {zrr.name}", key)
    try:
        prerequisites = tuple(_changes(msg.answer))
        updates = tuple(_changes(msg.authority))
    except ValueError as e:
        return _reply(msg, FORMERR, f"bad record: {e}", key)
    return Request(msg, zone, key, prerequisites, updates)


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
    return msg.keyname.to_text().lower() if msg.had_tsig and msg.keyname is not None else None


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
    msg = request.message
    key = msg.keyring if isinstance(msg.keyring, dns.tsig.Key) else None
    if msg.edns >= 0 or msg.tsig is None or key is None:
        return _reply(msg, rcode, "", request.key).wire or b""
    question = msg.question[0]
    flags = 0x8000 | (int(dns.opcode.UPDATE) << 11) | (rcode & 0xF)
    wire = (
        struct.pack("!HHHHHH", msg.id, flags, 1, 0, 0, 0)
        + (question.name.to_wire() or b"")
        + struct.pack("!HH", question.rdtype, question.rdclass)
    )
    signed, _ = append_tsig(wire, key, fudge=int(msg.tsig[0].fudge), now=int(now()),
                            request_mac=msg.mac)  # fmt: skip
    return signed


def _reply(msg: dns.message.Message, rcode: int, why: str, key: str | None) -> Reply:
    response = dns.message.make_response(msg)
    response.set_rcode(dns.rcode.Rcode.make(rcode))
    return Reply(response.to_wire(), why, key)


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
    owner = msg.tsig.name.to_wire() or b""
    return Reply(add_tsig_record(wire, owner, rd.to_wire() or b""), why)


def _badtime(data: bytes, keyring: Mapping[dns.name.Name, dns.tsig.Key]) -> Reply:
    """NOTAUTH, signed, TSIG error BADTIME and our time in Other Data (RFC 8945 §5.2.3)."""
    msg = _unsigned(data)
    if msg is None or msg.tsig is None or msg.keyname is None or msg.keyname not in keyring:
        return Reply(header_only(data, FORMERR), "bad time")
    key = keyring[msg.keyname]
    signed = msg.tsig[0]
    msg.keyring = key
    response = dns.message.make_response(msg)
    response.set_rcode(dns.rcode.Rcode.NOTAUTH)
    now = int(time.time())
    response.use_tsig(
        key,
        fudge=signed.fudge,
        original_id=signed.original_id,
        tsig_error=BADTIME,
        other_data=struct.pack("!HI", now >> 32, now & 0xFFFFFFFF),
        algorithm=signed.algorithm,
    )
    response.request_mac = signed.mac
    skew = now - signed.time_signed
    return Reply(response.to_wire(), f"signed {skew:+d} s from our clock (fudge {signed.fudge} s)")


__all__ = ["CLASS_IN", "Reply", "Request", "answer", "is_update", "read_update"]
