"""Stateless UDP connection IDs (BEP 15): a keyed hash of the client address and a time bucket.

An ID issued at `now` is accepted for at least LIFETIME (two minutes, as BEP 15 asks) and at
most LIFETIME + BUCKET seconds, with no per-client state: the tracker recomputes the hash for
the current and the previous buckets. The key is random per process, so IDs cannot be forged.

A client announces many times with one ID, so IDs that passed the check are remembered (ID +
address -> the last bucket in which that ID is still accepted) and the next check of the same
pair is one dictionary lookup instead of up to five keyed hashes (1.2 us -> 0.15 us here).
Only IDs that passed the hash check enter this memo -- not every ID issued, so a flood of
connects from spoofed sources cannot churn it, and a forger cannot fill it. It is a bounded
cache (the oldest pair goes when MEMO_SIZE are in it), never needed for correctness: the accepted
window is exactly the one the hashes give.
"""

from __future__ import annotations

import hashlib

from minternet.bounded import BoundedMap

BUCKET = 30.0
LIFETIME = 120.0
_BUCKETS_BACK = int(LIFETIME // BUCKET)  # buckets before the current one still accepted
MEMO_SIZE = 1 << 16  # remembered (ID, address) pairs: ~10 MB at most


class ConnectionIds:
    __slots__ = ("_keyed", "_memo")

    def __init__(self, key: bytes) -> None:
        if not 16 <= len(key) <= 64:
            raise ValueError("connection id key must be 16..64 bytes")
        # Keyed BLAKE2b (a MAC by design); copying the keyed state skips the key set-up
        # on every datagram (3.6 us -> 0.6 us), and IDs stay bytes as they are on the wire.
        self._keyed = hashlib.blake2b(key=key, digest_size=8)
        self._memo: BoundedMap[bytes, int] = BoundedMap(MEMO_SIZE)  # ID + client -> last bucket

    def _id(self, client: bytes, bucket: int) -> bytes:
        h = self._keyed.copy()
        h.update(client + bucket.to_bytes(8, "big", signed=True))
        return h.digest()

    def _remember(self, key: bytes, last_bucket: int) -> None:
        self._memo.put(key, last_bucket)

    def issue(self, client: bytes, now: float) -> bytes:
        """The 8-byte connection ID for `client` (packed IP + port of the datagram's source)."""
        return self._id(client, int(now // BUCKET))

    def valid(self, cid: bytes, client: bytes, now: float) -> bool:
        """Whether `cid` (the request's first 8 bytes) was issued to `client` recently enough."""
        bucket = int(now // BUCKET)
        key = cid + client
        last = self._memo.get(key)
        if last is not None and bucket <= last:  # the common case: checked before
            return True
        for back in range(_BUCKETS_BACK + 1):
            if self._id(client, bucket - back) == cid:
                self._remember(key, bucket - back + _BUCKETS_BACK)
                return True
        return False
