"""Packed peer addresses: compact IP + port (BEP 23: 6 bytes IPv4, BEP 7: 18 bytes IPv6)."""

from __future__ import annotations

import ipaddress
import socket

from minternet.bounded import BoundedMap
from tracker.errors import RequestError

_V4_MAPPED = b"\x00" * 10 + b"\xff\xff"


def pack_ip(ip: str) -> bytes:
    """'1.2.3.4' -> 4 bytes, '::1' -> 16 bytes; IPv4-mapped IPv6 becomes IPv4."""
    try:
        return (
            socket.inet_aton(ip) if ":" not in ip else _unmap(socket.inet_pton(socket.AF_INET6, ip))
        )
    except OSError:
        raise RequestError("invalid ip") from None


PACKED_CACHE_SIZE = 65536  # a cache of address text -> packed bytes, bounded


def packed_cache() -> BoundedMap[str, bytes]:
    """A cache of address text -> packed bytes for the hot paths (look it up there first)."""
    return BoundedMap(PACKED_CACHE_SIZE)


def pack_ip_into(cache: BoundedMap[str, bytes], ip: str) -> bytes:
    """pack_ip(ip), remembered in `cache`."""
    packed = pack_ip(ip)
    cache.put(ip, packed)
    return packed


def _unmap(packed: bytes) -> bytes:
    return packed[12:] if packed[:12] == _V4_MAPPED else packed


def parse_ip_param(value: bytes) -> bytes:
    """The `ip` announce parameter (from a trusted proxy): a literal IPv4/IPv6 address."""
    try:
        return _unmap(ipaddress.ip_address(value.decode("ascii")).packed)
    except (UnicodeDecodeError, ValueError):
        raise RequestError("invalid ip") from None


def unpack(addr: bytes) -> tuple[str, int]:
    """6 or 18 packed bytes -> (ip text, port)."""
    port = int.from_bytes(addr[-2:], "big")
    ip = addr[:-2]
    family = socket.AF_INET if len(ip) == 4 else socket.AF_INET6
    return socket.inet_ntop(family, ip), port
