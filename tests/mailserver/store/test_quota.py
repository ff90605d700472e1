"""Quotas (mailserver/store/quota.py): the rule, pure; the usage the index counts; COPY's check
in its own transaction; the Store giving each user its limits when it opens the user."""

from __future__ import annotations

import shutil
import tempfile

import pytest

from mailserver.store import NO_QUOTA, Quota, Store, StoreError, Usage, UserStore
from mailserver.store.errors import OVERQUOTA
from mailserver.store.quota import kibibytes

from .conftest import ADDRESS, SCRATCH, Clock, message


def test_no_limit_refuses_nothing() -> None:
    assert not NO_QUOTA.limited
    assert NO_QUOTA.refusal(Usage(10**12, 10**9), 10**12, 10**9) is None
    assert NO_QUOTA.full(Usage(10**12, 10**9), 10**12) is None


def test_refusal_is_exact_at_the_edge() -> None:
    q = Quota(storage=100, messages=3)
    assert q.limited
    assert q.refusal(Usage(60, 1), 40, 2) is None  # exactly at both limits: fits
    assert q.refusal(Usage(60, 1), 41, 1) == "over quota: 101 octets of 100 allowed (60 used)"
    assert q.refusal(Usage(60, 2), 10, 2) == "over quota: 4 messages of 3 allowed (2 kept)"
    assert Quota(storage=100).refusal(Usage(0, 10**6), 100, 10**6) is None
    assert Quota(messages=1).refusal(Usage(10**9, 0), 10**9, 1) is None


def test_full_refuses_a_delivery_only_at_the_limit_or_past_the_room_left() -> None:
    q = Quota(storage=100, messages=3)
    assert q.full(Usage(99, 2), 0) is None  # room for one more, whatever its size
    assert q.full(Usage(100, 0), 0) == "mailbox full: 100 octets of 100 used"
    assert q.full(Usage(50, 0), 51) == "mailbox full: 50 octets of 100 used"  # SIZE=51
    assert q.full(Usage(50, 0), 50) is None
    assert q.full(Usage(0, 3), 0) == "mailbox full: 3 messages of 3 kept"
    assert Quota(messages=3).full(Usage(10**9, 2), 10**9) is None


def test_check_raises_overquota() -> None:
    with pytest.raises(StoreError, match="over quota: 2 messages of 1 allowed") as e:
        Quota(messages=1).check(Usage(0, 1), 5, 1)
    assert e.value.code == OVERQUOTA
    Quota(messages=1).check(Usage(0, 0), 5, 1)


def test_a_quota_is_never_negative() -> None:
    said = r"^a quota is a number of octets or messages, 0 for none$"
    with pytest.raises(ValueError, match=said):
        Quota(storage=-1)
    with pytest.raises(ValueError, match=said):
        Quota(messages=-1)


@pytest.mark.parametrize(("octets", "kib"), [(0, 0), (1, 1), (1023, 1), (1024, 1), (1025, 2)])
def test_kibibytes_round_up(octets: int, kib: int) -> None:
    assert kibibytes(octets) == kib


def test_usage_counts_every_mailbox(user: UserStore) -> None:
    assert user.usage() == Usage(0, 0)
    user.deliver("INBOX", message(1))
    user.deliver("Sent", message(2, body="longer body"))
    assert user.usage() == Usage(len(message(1)) + len(message(2, body="longer body")), 2)


def test_check_quota_uses_the_users_limits(user: UserStore) -> None:
    user.check_quota(10**12, 10**9)  # no limits: anything fits
    user.quota = Quota(messages=1)
    user.check_quota(10**12, 1)
    user.deliver("INBOX", message(1))
    with pytest.raises(StoreError) as e:
        user.check_quota(1, 1)
    assert e.value.code == OVERQUOTA


def test_copy_is_checked_in_its_transaction_and_move_is_not(user: UserStore) -> None:
    uids = [user.deliver("INBOX", message(n)) for n in (1, 2)]
    user.quota = Quota(storage=3 * len(message(1)))
    with pytest.raises(StoreError, match="over quota") as e:
        user.copy("INBOX", uids, "Sent")
    assert e.value.code == OVERQUOTA
    assert user.status("Sent").messages == 0
    assert user.copy("INBOX", uids[:1], "Sent").mapping == [(uids[0], 1)]
    user.move("INBOX", uids, "Trash")  # the usage stays 3 messages
    assert user.usage().messages == 3


def test_the_store_gives_each_user_its_limits(clock: Clock) -> None:
    root = tempfile.mkdtemp(prefix="store-quota-", dir=SCRATCH)
    limits = {ADDRESS: Quota(storage=5)}
    store = Store(root, clock=clock, host="mx.test", quota=lambda a: limits.get(a, NO_QUOTA))
    try:
        assert store.user("Bob@Hamburger.edu").quota == Quota(storage=5)
        assert store.user("alice@crepes.fr").quota == NO_QUOTA
    finally:
        store.close()
        shutil.rmtree(root, ignore_errors=True)
