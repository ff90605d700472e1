"""Connection IDs (BEP 15): the exact window an ID is accepted in, and its memo of checked IDs."""

from __future__ import annotations

import pytest

from tracker.connid import BUCKET, LIFETIME, ConnectionIds

KEY = b"k" * 32
CLIENT = bytes([10, 0, 0, 1]) + (40000).to_bytes(2, "big")


@pytest.mark.parametrize("issued", [-130.0, -100.0, -0.5, 0.0, 1000.0, 1019.999])
def test_an_id_is_accepted_until_the_end_of_the_fifth_bucket_whatever_the_clock_origin(
    issued: float,
) -> None:
    # Buckets are floors of now / 30 s on both sides of zero (a monotonic clock may be anywhere).
    ids = ConnectionIds(KEY)
    cid = ids.issue(CLIENT, issued)
    end = (issued // BUCKET + 5) * BUCKET
    assert end - issued >= LIFETIME  # at least the two minutes BEP 15 asks for
    assert ids.valid(cid, CLIENT, issued)
    assert ConnectionIds(KEY).valid(cid, CLIENT, end - 0.001)  # checked afresh: by the hashes
    assert ids.valid(cid, CLIENT, end - 0.001)  # checked before: by the memo
    assert not ids.valid(cid, CLIENT, end)
    assert not ConnectionIds(KEY).valid(cid, CLIENT, end)


def test_ids_depend_on_the_key_the_client_and_the_bucket() -> None:
    ids = ConnectionIds(KEY)
    cid = ids.issue(CLIENT, 1000.0)
    assert len(cid) == 8 and ids.issue(CLIENT, 1019.0) == cid
    assert ids.issue(CLIENT, 1020.0) != cid  # the next bucket
    assert ConnectionIds(b"j" * 32).issue(CLIENT, 1000.0) != cid
    assert ids.issue(CLIENT[:-1] + b"\x01", 1000.0) != cid  # another port
    assert not ConnectionIds(b"j" * 32).valid(cid, CLIENT, 1000.0)


def test_a_checked_id_is_checked_again_without_hashing_until_its_window_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The memo's promise: one dictionary lookup instead of up to five keyed hashes.
    hashes = 0
    real = ConnectionIds._id

    def counting(self: ConnectionIds, client: bytes, bucket: int) -> bytes:
        nonlocal hashes
        hashes += 1
        return real(self, client, bucket)

    ids = ConnectionIds(KEY)
    cid = ids.issue(CLIENT, 1000.0)  # bucket 33: the window ends at 38 * 30 = 1140
    monkeypatch.setattr(ConnectionIds, "_id", counting)
    assert ids.valid(cid, CLIENT, 1050.0) and hashes == 3  # buckets 35 and 34: no; 33: yes
    for now in (1000.0, 1050.0, 1100.0, 1139.999):
        assert ids.valid(cid, CLIENT, now)
    assert hashes == 3
    assert not ids.valid(cid, CLIENT, 1140.0) and hashes == 8  # the memo has ended: 5 hashes


@pytest.mark.parametrize("size", [15, 65])
def test_the_key_is_16_to_64_bytes(size: int) -> None:
    ConnectionIds(b"k" * 16)
    ConnectionIds(b"k" * 64)
    with pytest.raises(ValueError, match=r"^connection id key must be 16\.\.64 bytes$"):
        ConnectionIds(b"k" * size)
