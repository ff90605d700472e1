"""Stateless UDP connection IDs (BEP 15): a keyed hash of the client address and a time bucket.

An ID issued at `now` is accepted for at least LIFETIME (two minutes, as BEP 15 asks) and at
most LIFETIME + BUCKET seconds, with no per-client state: the tracker recomputes the hash for
the current and the previous buckets. The key is random per process, so IDs cannot be forged.
"""

from __future__ import annotations

import hashlib

BUCKET = 30.0
LIFETIME = 120.0
_BUCKETS_BACK = int(LIFETIME // BUCKET)  # buckets before the current one still accepted


class ConnectionIds:
    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if not 16 <= len(key) <= 64:
            raise ValueError("connection id key must be 16..64 bytes")
        self._key = key

    def _id(self, client: bytes, bucket: int) -> int:
        digest = hashlib.blake2b(
            client + bucket.to_bytes(8, "big", signed=True), key=self._key, digest_size=8
        ).digest()
        return int.from_bytes(digest, "big")

    def issue(self, client: bytes, now: float) -> int:
        """A connection ID for `client` (packed IP + port of the datagram's source)."""
        return self._id(client, int(now // BUCKET))

    def valid(self, cid: int, client: bytes, now: float) -> bool:
        bucket = int(now // BUCKET)
        return any(self._id(client, bucket - back) == cid for back in range(_BUCKETS_BACK + 1))
