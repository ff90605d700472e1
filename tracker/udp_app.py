"""The UDP tracker as a function (sans-I/O): datagram + source address -> reply datagram.

BEP 15 over the shared registry. Malformed datagrams get an error action when they carry a
transaction ID, and are dropped otherwise; a wrong connection ID gets an error.
"""

from __future__ import annotations

from typing import NamedTuple

from tracker import udp_codec as codec
from tracker.addr import pack_ip_into, packed_cache
from tracker.announce import event_note
from tracker.connid import ConnectionIds
from tracker.errors import PacketError, RefusedError, TrackerError
from tracker.registry import Registry
from tracker.udp_codec import ANNOUNCE, CONNECT, SCRAPE


class UdpReply(NamedTuple):
    reply: bytes | None
    fault: TrackerError | None = None
    note: str | None = None


_new_reply = tuple.__new__  # skips the NamedTuple's Python-level __new__ on the hot path


class UdpTrackerApp:
    def __init__(self, registry: Registry, cids: ConnectionIds) -> None:
        self.registry = registry
        self.config = registry.config
        self.cids = cids
        self._packed = packed_cache()  # source address text -> packed, for the hot path

    def handle(self, data: bytes, ip: str, port: int, now: float) -> UdpReply:
        try:
            connection_id, action, tid = codec.parse_header(data)
        except PacketError as e:
            return UdpReply(None, e)
        proven = False  # the request carried a valid connection id: its source is real
        try:
            packed_ip = self._packed.get(ip)
            if packed_ip is None:
                packed_ip = pack_ip_into(self._packed, ip)
            client = packed_ip + port.to_bytes(2, "big")
            if action == ANNOUNCE:  # the common case first
                if not self.cids.valid(data[:8], client, now):
                    raise PacketError("invalid connection id: connect again")
                proven = True
                return self.announce(data, tid, packed_ip, now)
            if action == CONNECT:
                codec.check_connect(data, connection_id)
                return UdpReply(codec.connect_reply(tid, self.cids.issue(client, now)))
            if action != SCRAPE:
                raise PacketError(f"unknown action {action}")
            if not self.cids.valid(data[:8], client, now):
                raise PacketError("invalid connection id: connect again")
            proven = True
            hashes = codec.parse_scrape(data)
            wl = self.registry.whitelist
            if wl is not None and any(h not in wl for h in hashes):
                raise RefusedError("info_hash not on this tracker's whitelist")
            entries = [self.registry.scrape(h) for h in hashes]
            return UdpReply(codec.scrape_reply(tid, entries))
        except TrackerError as e:
            if isinstance(e, PacketError) and not e.reply:
                return UdpReply(None, e)
            reply = codec.error_reply(tid, e.reason)
            if not proven:
                # The source address may be spoofed (that is what connection ids are for,
                # BEP 15): never send it more bytes than it sent, so the tracker cannot be
                # used to amplify a reflection attack. Real requests are long enough (an
                # announce is 98 bytes) to carry the whole message.
                reply = reply[: len(data)]
            return UdpReply(reply, e)

    def announce(self, data: bytes, tid: int, ip: bytes, now: float) -> UdpReply:
        req, _ip_field = codec.parse_announce(data)  # the ip field is not trusted
        registry = self.registry
        if registry.limiter.rate:
            registry.check_rate(ip, now)
        swarm, me = registry.announce(req, ip + req.port.to_bytes(2, "big"), now)
        config = self.config
        note = event_note(req)
        if swarm is None:
            return UdpReply(codec.announce_reply(tid, config.interval, 0, 0, b""))
        numwant = req.numwant
        if numwant is None:
            numwant = config.numwant_default
        elif numwant > config.numwant_max:
            numwant = config.numwant_max
        if me is None:
            numwant = 0
        if len(ip) == 4:
            peers = swarm.compact(swarm.seeders4, swarm.leechers4, me, numwant, registry.rng)
        else:
            peers = swarm.compact(swarm.seeders6, swarm.leechers6, me, numwant, registry.rng)
        leechers, seeders = swarm.counts()
        reply = codec.announce_reply_parts(tid, config.interval, leechers, seeders, peers)
        return _new_reply(UdpReply, (reply, None, note))
