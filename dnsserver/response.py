"""Packing an Answer into a response message, with EDNS (RFC 6891) and truncation (TC=1)."""

from __future__ import annotations

import struct

from dnslib import EDNS0, RR, TXT, DNSHeader, DNSLabel, DNSQuestion, DNSRecord, EDNSOption
from dnslib import RD as RawRdata

from dnsserver.chaos import CLASS_CH, TYPE_TXT
from dnsserver.errors import BADKEY, BADVERS, NOTAUTH
from dnsserver.lookup import Answer
from dnsserver.wire import AA, CD, OPTION_NSID, QR, RD, TC, TYPE_TSIG, Query, name_wire

MIN_UDP = 512  # RFC 1035 §4.2.1; RFC 6891 §6.2.5: smaller EDNS sizes are treated as 512
TCP_MAX = 65535  # RFC 7766 §8: the 2-byte length prefix bounds a message


def udp_limit(query: Query, max_udp: int) -> int:
    """The largest UDP response this client accepts (RFC 6891 §6.2.3-6.2.5)."""
    if query.edns is None:
        return MIN_UDP
    return max(MIN_UDP, min(query.edns.payload, max_udp))


def _opt(query: Query, max_udp: int, rcode: int, nsid: bytes | None) -> list[EDNS0]:
    edns = query.edns
    if edns is None:
        return []
    # RFC 6891 §6.1.3: upper 8 bits of the extended rcode; RFC 3225 §3: DO is copied back;
    # RFC 5001 §2.2: NSID only to a query that asked for it.
    opts = [EDNSOption(OPTION_NSID, nsid)] if nsid is not None and edns.nsid else []
    flags = "do" if edns.do else ""
    return [EDNS0(udp_len=max_udp, ext_rcode=rcode >> 4, version=0, flags=flags, opts=opts)]


def _header(query: Query, rcode: int, *, aa: bool, tc: bool = False) -> DNSHeader:
    flags = QR | (query.flags & (RD | CD)) | (rcode & 0xF)  # never RA: we do not recurse
    if aa:
        flags |= AA
    if tc:
        flags |= TC
    return DNSHeader(id=query.id, bitmap=flags)


def _question(query: Query) -> DNSQuestion:
    return DNSQuestion(DNSLabel(query.labels), query.qtype, query.qclass)  # client's case


def pack(query: Query, ans: Answer, limit: int, max_udp: int, nsid: bytes | None = None) -> bytes:
    """Pack `ans`; if it exceeds `limit`, drop additional data, then fall back to TC=1.

    RFC 2181 §9: TC is set only when required data does not fit. Additional data is optional,
    except the glue of a referral (RFC 9471 §3), whose loss also sets TC.
    """
    opt = _opt(query, max_udp, ans.rcode, nsid)
    rec = DNSRecord(
        _header(query, ans.rcode, aa=ans.aa),
        q=_question(query),
        rr=ans.answer,
        auth=ans.authority,
        ar=ans.additional + opt,
    )
    wire = bytes(rec.pack())
    if len(wire) <= limit:
        return wire
    if ans.additional and not ans.glue_required:
        rec.ar = list(opt)
        wire = bytes(rec.pack())
        if len(wire) <= limit:
            return wire
    return truncated(query, ans.rcode, ans.aa, max_udp, nsid)


def truncated(query: Query, rcode: int, aa: bool, max_udp: int, nsid: bytes | None = None) -> bytes:
    """TC=1 with the question (unlike dnslib's truncate()) and OPT, no records."""
    opt = _opt(query, max_udp, rcode, nsid)
    rec = DNSRecord(_header(query, rcode, aa=aa, tc=True), q=_question(query), ar=opt)
    return bytes(rec.pack())


def badvers(query: Query, max_udp: int, nsid: bytes | None = None) -> bytes:
    """RFC 6891 §6.1.3: an unknown EDNS version gets BADVERS and our version (0)."""
    opt = _opt(query, max_udp, BADVERS, nsid)
    rec = DNSRecord(_header(query, BADVERS, aa=False), q=_question(query), ar=opt)
    return bytes(rec.pack())


def error(query: Query, rcode: int, max_udp: int, nsid: bytes | None = None) -> bytes:
    """An error rcode (REFUSED) with the question echoed."""
    opt = _opt(query, max_udp, rcode, nsid)
    rec = DNSRecord(_header(query, rcode, aa=False), q=_question(query), ar=opt)
    return bytes(rec.pack())


def chaos(query: Query, text: str, max_udp: int, nsid: bytes | None = None) -> bytes:
    """One CH TXT record, TTL 0, no AA: the answer to version.bind, id.server and the like."""
    record = RR(DNSLabel(query.labels), TYPE_TXT, CLASS_CH, 0, TXT(text.encode()))
    opt = _opt(query, max_udp, 0, nsid)
    rec = DNSRecord(_header(query, 0, aa=False), q=_question(query), rr=[record], ar=opt)
    return bytes(rec.pack())


def badkey(query: Query, max_udp: int, nsid: bytes | None = None) -> bytes:
    """RFC 8945 §5.2.2, §5.3.2: a query signed with a key we do not have (we have none) gets
    NOTAUTH and an unsigned TSIG record (MAC size 0) with Error BADKEY, after the OPT record."""
    assert query.tsig is not None
    tsig = query.tsig
    rdata = (
        name_wire(tsig.algorithm)  # never compressed (RFC 8945 §4.2)
        + tsig.time_fudge
        + struct.pack("!HHHH", 0, tsig.original_id, BADKEY, 0)
    )
    record = RR(DNSLabel(list(tsig.key)), TYPE_TSIG, 255, 0, RawRdata(rdata))  # class ANY, TTL 0
    rec = DNSRecord(
        _header(query, NOTAUTH, aa=False),
        q=_question(query),
        ar=[*_opt(query, max_udp, NOTAUTH, nsid), record],
    )
    return bytes(rec.pack())
