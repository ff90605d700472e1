"""Queries signed with TSIG (RFC 8945) at a server that holds keys (sans-I/O but for the clock).

`dig -y` and `dig -k` sign their queries. A server without the key answers NOTAUTH with the
TSIG error BADKEY (dnsserver/response.py); one that holds it verifies the signature (dnspython,
as for updates: dnsserver/dynamic.py `read_signed`, which also has the answers to a bad
signature, a bad time and an unknown key), answers the query as it would answer it unsigned,
and signs that answer with the same key over the request's MAC (§5.3). A signed answer too
long for the client's UDP size is truncated first, then signed (§5.3: the TC bit set, the
sections empty), so the client retries over TCP with the signature intact.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Mapping

import dns.name
import dns.tsig

from dnsserver.dynamic import Reply, key_of, read_signed
from dnsserver.errors import DnsError
from dnsserver.tsigkeys import append_tsig
from dnsserver.wire import HEADER, RR_FIXED, TYPE_TSIG, read_name


def tsig_start(data: bytes) -> int | None:
    """Where the message's TSIG record begins, if it has one, last in the additional section
    (None also for a message that does not parse this far)."""
    try:
        _, _, qdcount, ancount, nscount, arcount = HEADER.unpack_from(data)
        if not arcount:
            return None
        records = ancount + nscount + arcount
        pos = 12
        for _ in range(qdcount):
            pos = read_name(data, pos)[1] + 4
        for _ in range(records - 1):
            pos = read_name(data, pos)[1]
            pos += 10 + RR_FIXED.unpack_from(data, pos)[3]
        start = pos
        pos = read_name(data, pos)[1]
        return start if RR_FIXED.unpack_from(data, pos)[0] == TYPE_TSIG else None
    except (DnsError, struct.error):
        return None


def unsigned(data: bytes, start: int) -> bytes:
    """The message without its TSIG record (which begins at `start`)."""
    arcount = int.from_bytes(data[10:12]) - 1
    return data[:10] + arcount.to_bytes(2) + data[12:start]


def answer(
    data: bytes,
    start: int,
    keyring: Mapping[dns.name.Name, dns.tsig.Key],
    respond: Callable[[bytes], bytes | None],
    limit: Callable[[bytes], int | None],
    truncate: Callable[[bytes], bytes | None],
    now: Callable[[], float] = time.time,
) -> Reply:
    """The answer to the signed query `data`, whose TSIG record begins at `start` (`tsig_start`).

    `respond(query)` answers the query without its signature; `limit(query)` is the largest
    answer the client takes (None over TCP); `truncate(query)` is the empty answer with TC set.
    The Reply's `why` says what failed, for the log; its wire is None when nothing is sent."""
    got = read_signed(data, keyring)
    if isinstance(got, Reply):
        return got
    key = got.keyring  # (read_signed verified the TSIG with this key)
    assert isinstance(key, dns.tsig.Key)
    assert got.tsig is not None
    query = unsigned(data, start)
    wire = respond(query)
    if wire is None:
        return Reply(None, "nothing to answer", key_of(got))
    fudge, mac = int(got.tsig[0].fudge), got.mac

    def sign(wire: bytes) -> bytes:
        return append_tsig(wire, key, fudge=fudge, now=int(now()), request_mac=mac)[0]

    signed = sign(wire)
    most = limit(query)
    if most is not None and len(signed) > most:
        short = truncate(query)
        if short is None:
            return Reply(None, "cannot truncate the answer", key_of(got))
        signed = sign(short)
    return Reply(signed, "", key_of(got))
