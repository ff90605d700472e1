"""Talking to trackers, without I/O: the announce a peer sends and the reply it reads.

- HTTP (BEP 3): `http_url` appends the announce parameters to the tracker's URL (`info_hash`
  and `peer_id` percent-encoded byte by byte, `compact=1` for BEP 23's 6-byte peers, `event`
  left out for a regular re-announce); `read_http` reads the bencoded reply: `failure reason`
  (the tracker refused: TrackerFailure), `interval`, `min interval`, `warning message`,
  `tracker id`, the counts, and peers in any of the three forms trackers use (a compact string,
  a list of dictionaries, BEP 7's `peers6`).
- UDP (BEP 15): a connect exchange gives a connection id, then the 98-byte announce. A reply
  whose transaction id is not the one sent is someone else's (None: keep waiting); action 3 is
  the tracker's error message (TrackerFailure).
- Tiers (BEP 12): the URLs of each tier are shuffled once, tried in order, and one that answers
  moves to the front of its tier.
- When to announce again: at the tracker's interval (never sooner than its `min interval` or
  than FLOOR, so a tracker saying 0 cannot make us hammer it); after a failure, RETRY_FIRST
  doubling up to RETRY_MAX.

A reply is untrusted input: anything malformed is a TrackerError saying what, never another
exception; peers that are not valid (a port of 0, an address that does not parse) are left out
and counted in `dropped`.
"""

from __future__ import annotations

import ipaddress
import random
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote_from_bytes, urlsplit

import bencodepy

__all__ = [
    "AnnounceReply",
    "AnnounceRequest",
    "Schedule",
    "Tiers",
    "TrackerError",
    "TrackerFailure",
    "http_url",
    "read_http",
    "read_udp_announce",
    "read_udp_connect",
    "udp_address",
    "udp_announce",
    "udp_connect",
]

EVENTS = ("", "started", "completed", "stopped")
_UDP_EVENT = {"": 0, "completed": 1, "started": 2, "stopped": 3}  # BEP 15's numbering
PROTOCOL_ID = 0x41727101980  # BEP 15: the magic constant of a connect request
CONNECT, ANNOUNCE, ERROR = 0, 1, 3

FLOOR = 5.0  # seconds: the shortest re-announce interval we accept from a tracker
RETRY_FIRST = 15.0  # seconds before the first retry of a tracker that failed
RETRY_MAX = 1800.0  # the longest wait between retries (30 minutes)

_HEADER = struct.Struct(">II")  # action, transaction id: the start of every UDP reply
_CONNECT = struct.Struct(">QII")  # protocol id / connection id, action, transaction id
_ANNOUNCE = struct.Struct(">QII20s20sQQQIIIiH")  # 98 bytes
_ANNOUNCE_REPLY = struct.Struct(">IIIII")  # action, tid, interval, leechers, seeders
_V4, _V6 = 6, 18  # bytes per compact peer: address and port


class TrackerError(Exception):
    """A tracker's reply that cannot be read (malformed bencoding, a field of the wrong type,
    a compact peer string of the wrong length): the tracker's fault, not ours."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TrackerFailure(TrackerError):
    """The tracker answered and refused: its `failure reason` (HTTP) or error message (UDP)."""


@dataclass(frozen=True, slots=True)
class AnnounceRequest:
    """What a peer tells the tracker. `event` is one of EVENTS ("" for a regular
    re-announce); `key` is the 32-bit number that lets the tracker know us when our address
    changes; `numwant` how many peers we would like; `ip` the IPv4 address other peers reach
    us at when it is not the one the tracker sees (a peer behind NAT or a container's published
    port: BEP 3's `ip`, BEP 15's address field), None: the tracker takes the sender's."""

    info_hash: bytes
    peer_id: bytes
    port: int
    uploaded: int
    downloaded: int
    left: int
    event: str = ""
    numwant: int = 50
    key: int = 0
    ip: str | None = None

    def __post_init__(self) -> None:
        if len(self.info_hash) != 20 or len(self.peer_id) != 20:
            raise ValueError("info_hash and peer_id are 20 bytes each")
        if self.event not in EVENTS:
            raise ValueError(f"unknown announce event {self.event!r}")
        if not 0 < self.port < 65536:
            raise ValueError(f"port {self.port} is not 1-65535")
        if not 0 <= self.key < 1 << 32:
            raise ValueError("key is a 32-bit unsigned number")
        if self.ip is not None:
            try:
                ipaddress.IPv4Address(self.ip)
            except ValueError:
                raise ValueError(f"announce address {self.ip!r} is not an IPv4 address") from None


@dataclass(frozen=True, slots=True)
class AnnounceReply:
    """What the tracker said: seconds until the next announce, the peers to try (IPv4 and
    IPv6 as (address, port)), the swarm's counts when given, and how many peer entries were
    not valid and left out."""

    interval: int
    peers: tuple[tuple[str, int], ...]
    min_interval: int | None = None
    complete: int | None = None
    incomplete: int | None = None
    warning: str | None = None
    tracker_id: bytes | None = None
    dropped: int = 0


# -- HTTP ------------------------------------------------------------------------------------


def http_url(announce: str, req: AnnounceRequest, tracker_id: bytes | None = None) -> str:
    """The GET URL of an announce to the tracker at `announce` (which may carry a query of its
    own: ours is appended to it)."""
    params = [
        ("info_hash", quote_from_bytes(req.info_hash, safe="")),
        ("peer_id", quote_from_bytes(req.peer_id, safe="")),
        ("port", str(req.port)),
        ("uploaded", str(req.uploaded)),
        ("downloaded", str(req.downloaded)),
        ("left", str(req.left)),
        ("compact", "1"),
        ("numwant", str(req.numwant)),
        ("key", f"{req.key:08x}"),
    ]
    if req.event:
        params.append(("event", req.event))
    if req.ip is not None:
        params.append(("ip", req.ip))
    if tracker_id is not None:
        params.append(("trackerid", quote_from_bytes(tracker_id, safe="")))
    query = "&".join(f"{name}={value}" for name, value in params)
    return announce + ("&" if "?" in announce else "?") + query


def read_http(body: bytes) -> AnnounceReply:
    """The reply to an HTTP announce; TrackerFailure when the tracker refused, TrackerError
    when the body is not a reply."""
    try:
        reply = bencodepy.decode(body)
    except Exception as e:  # bencode.py raises several kinds on bad input, RecursionError too
        raise TrackerError(f"the reply is not bencoded ({type(e).__name__})") from None
    if not isinstance(reply, dict):
        raise TrackerError("the reply is not a bencoded dictionary")
    failure = reply.get(b"failure reason")
    if failure is not None:
        raise TrackerFailure(_text(failure, "failure reason"))
    interval = _int(reply, b"interval")
    if interval is None:
        raise TrackerError("the reply has no interval")
    peers: list[tuple[str, int]] = []
    raw = reply.get(b"peers", b"")
    if isinstance(raw, bytes):
        dropped = _compact(raw, _V4, peers, "peers")
    elif isinstance(raw, list):
        dropped = _dictionaries(raw, peers)
    else:
        raise TrackerError("peers is neither a string nor a list")
    raw6 = reply.get(b"peers6", b"")
    if not isinstance(raw6, bytes):
        raise TrackerError("peers6 is not a string")
    dropped += _compact(raw6, _V6, peers, "peers6")
    warning = reply.get(b"warning message")
    tracker_id = reply.get(b"tracker id")
    if tracker_id is not None and not isinstance(tracker_id, bytes):
        raise TrackerError("tracker id is not a string")
    return AnnounceReply(
        interval=interval,
        peers=tuple(peers),
        min_interval=_int(reply, b"min interval"),
        complete=_int(reply, b"complete"),
        incomplete=_int(reply, b"incomplete"),
        warning=None if warning is None else _text(warning, "warning message"),
        tracker_id=tracker_id,
        dropped=dropped,
    )


def _text(value: object, name: str) -> str:
    if not isinstance(value, bytes):
        raise TrackerError(f"{name} is not a string")
    return value.decode("utf-8", "replace")


def _int(reply: dict[bytes, object], key: bytes) -> int | None:
    value = reply.get(key)
    if value is None:
        return None
    if type(value) is not int or value < 0:
        raise TrackerError(f"{key.decode()} is not a non-negative integer")
    return value


def _compact(raw: bytes, size: int, out: list[tuple[str, int]], name: str) -> int:
    """Append the compact peers of `raw` (6 or 18 bytes each); the number left out (port 0)."""
    if len(raw) % size:
        raise TrackerError(f"{name} is {len(raw)} bytes, not a multiple of {size}")
    dropped = 0
    for at in range(0, len(raw), size):
        port = int.from_bytes(raw[at + size - 2 : at + size])
        if port == 0:
            dropped += 1
            continue
        out.append((str(ipaddress.ip_address(raw[at : at + size - 2])), port))
    return dropped


def _dictionaries(raw: list[object], out: list[tuple[str, int]]) -> int:
    """Append the peers of BEP 3's original form, a list of {ip, port, peer id}; the number
    left out (not a dictionary, an address that is not an IP address, a port out of range)."""
    dropped = 0
    for entry in raw:
        ip = entry.get(b"ip") if isinstance(entry, dict) else None
        port = entry.get(b"port") if isinstance(entry, dict) else None
        try:
            address = str(ipaddress.ip_address(ip.decode("ascii")))  # type: ignore[union-attr]
        except (AttributeError, UnicodeDecodeError, ValueError):
            dropped += 1
            continue
        if type(port) is not int or not 0 < port < 65536:
            dropped += 1
            continue
        out.append((address, port))
    return dropped


# -- UDP -------------------------------------------------------------------------------------


def udp_address(url: str) -> tuple[str, int]:
    """(host, port) of a udp://host:port/... tracker URL; ValueError when it has none."""
    parts = urlsplit(url)
    if parts.scheme != "udp" or not parts.hostname or parts.port is None:
        raise ValueError(f"not a udp://host:port tracker URL: {url!r}")
    return parts.hostname, parts.port


def udp_connect(tid: int) -> bytes:
    """The 16-byte connect request with transaction id `tid`."""
    return _CONNECT.pack(PROTOCOL_ID, CONNECT, tid)


def udp_announce(connection_id: int, tid: int, req: AnnounceRequest) -> bytes:
    """The 98-byte announce request (the address field 0 unless `req.ip` is set: the tracker
    takes the sender's)."""
    return _ANNOUNCE.pack(
        connection_id,
        ANNOUNCE,
        tid,
        req.info_hash,
        req.peer_id,
        req.downloaded,
        req.left,
        req.uploaded,
        _UDP_EVENT[req.event],
        0 if req.ip is None else int(ipaddress.IPv4Address(req.ip)),
        req.key,
        req.numwant,
        req.port,
    )


def _udp_reply(data: bytes, tid: int, action: int, size: int) -> bool:
    """Whether `data` is the reply to transaction `tid` (False: someone else's, ignore it);
    TrackerFailure for an error reply, TrackerError for one too short or of another action."""
    if len(data) < _HEADER.size:
        raise TrackerError(f"a UDP reply of {len(data)} bytes")
    got, got_tid = _HEADER.unpack_from(data)
    if got_tid != tid:
        return False
    if got == ERROR:
        raise TrackerFailure(data[_HEADER.size :].decode("utf-8", "replace"))
    if got != action:
        raise TrackerError(f"a UDP reply with action {got}, expected {action}")
    if len(data) < size:
        raise TrackerError(f"a UDP reply of {len(data)} bytes, at least {size} expected")
    return True


def read_udp_connect(data: bytes, tid: int) -> int | None:
    """The connection id of a connect reply to `tid`; None when it answers another request."""
    if not _udp_reply(data, tid, CONNECT, _CONNECT.size):
        return None
    return int.from_bytes(data[8:16])


def read_udp_announce(data: bytes, tid: int, *, ipv6: bool = False) -> AnnounceReply | None:
    """The announce reply to `tid` (peers of 18 bytes when the request went over IPv6, as
    BEP 15 says); None when it answers another request."""
    if not _udp_reply(data, tid, ANNOUNCE, _ANNOUNCE_REPLY.size):
        return None
    _, _, interval, leechers, seeders = _ANNOUNCE_REPLY.unpack_from(data)
    peers: list[tuple[str, int]] = []
    dropped = _compact(data[_ANNOUNCE_REPLY.size :], _V6 if ipv6 else _V4, peers, "peers")
    return AnnounceReply(
        interval=interval,
        peers=tuple(peers),
        complete=seeders,
        incomplete=leechers,
        dropped=dropped,
    )


# -- tiers and timing ------------------------------------------------------------------------


class Tiers:
    """BEP 12's announce-list: tiers tried in order, the URLs of a tier in an order shuffled
    once; a URL that answered moves to the front of its tier."""

    def __init__(self, tiers: Sequence[Sequence[str]], rng: random.Random) -> None:
        self.tiers = [list(tier) for tier in tiers if tier]
        for tier in self.tiers:
            rng.shuffle(tier)

    def order(self) -> list[str]:
        """Every URL in the order to try them."""
        return [url for tier in self.tiers for url in tier]

    def answered(self, url: str) -> None:
        for tier in self.tiers:
            if url in tier:
                tier.remove(url)
                tier.insert(0, url)
                return


class Schedule:
    """When the next announce is due: `replied` after a reply, `failed` after a tracker that
    did not answer or refused (the wait doubles from RETRY_FIRST up to RETRY_MAX, and a reply
    starts it again)."""

    def __init__(
        self,
        *,
        floor: float = FLOOR,
        retry_first: float = RETRY_FIRST,
        retry_max: float = RETRY_MAX,
    ) -> None:
        self.floor = floor
        self.retry_first = retry_first
        self.retry_max = retry_max
        self.failures = 0

    def replied(self, now: float, reply: AnnounceReply) -> float:
        self.failures = 0
        return now + max(reply.interval, reply.min_interval or 0, self.floor)

    def failed(self, now: float) -> float:
        wait = min(self.retry_first * 2**self.failures, self.retry_max)
        if wait < self.retry_max:  # (past it the count stops: 2**n stays small)
            self.failures += 1
        return now + wait
