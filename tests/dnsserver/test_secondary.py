"""A secondary zone's timers (dnsserver/secondary.py): refresh, retry, expire, NOTIFY."""

from __future__ import annotations

import pytest

from dnsserver.secondary import MIN_RETRY, Check, SecondaryTimers, Timers

T = Timers(refresh=100.0, retry=20.0, expire=1000.0)
TOP = 2**32 - 1  # the largest serial


def copy(now: float = 0.0, serial: int = 10, timers: Timers = T) -> SecondaryTimers:
    """A secondary with a copy at `serial`, last confirmed at `now`."""
    return SecondaryTimers(now, serial, timers, now)


def test_the_default_timers_before_there_is_a_copy() -> None:
    assert Timers() == Timers(refresh=3600.0, retry=10.0, expire=1209600.0)
    assert MIN_RETRY == 1.0


def test_a_new_secondary_checks_at_once() -> None:
    s = SecondaryTimers(50.0, None, Timers(), None)
    assert (s.serial, s.timers, s.last_ok, s.next_check) == (None, Timers(), None, 50.0)
    assert s.due(50.0) and not s.due(49.5)
    assert s.wait(50.0) == 0.0 and s.wait(40.0) == 10.0 and s.wait(60.0) == 0.0


def test_due_and_wait_at_the_exact_moment() -> None:
    s = copy()
    s.next_check = 100.0
    assert not s.due(99.999) and s.due(100.0) and s.due(100.001)
    assert s.wait(99.0) == 1.0 and s.wait(100.0) == 0.0 and s.wait(250.0) == 0.0


def test_without_a_copy_any_serial_means_a_transfer() -> None:
    s = SecondaryTimers(0.0, None, Timers(), None)
    assert s.checked(5.0, 7) == Check(True, "no copy yet: transfer serial 7")
    assert (s.serial, s.last_ok, s.next_check) == (None, None, 0.0)  # nothing changes yet


@pytest.mark.parametrize(
    ("ours", "theirs"), [(10, 11), (10, 10 + 2**31 - 1), (TOP, 0), (TOP, 5), (TOP - 1, TOP)]
)
def test_a_later_serial_means_a_transfer(ours: int, theirs: int) -> None:
    s = copy(serial=ours)
    assert s.checked(30.0, theirs) == Check(True, f"serial {theirs} is after ours ({ours})")
    assert (s.last_ok, s.next_check) == (0.0, 0.0)  # the transfer, not the check, moves them


def test_the_same_serial_is_up_to_date_until_the_next_refresh() -> None:
    s = copy(serial=10)
    assert s.checked(30.0, 10) == Check(False, "serial 10 is ours: up to date")
    assert s.last_ok == 30.0 and s.next_check == 130.0
    assert not s.due(129.0) and s.due(130.0)
    assert s.expires_at() == 1030.0


@pytest.mark.parametrize(
    ("ours", "theirs"), [(10, 9), (10, 10 + 2**31), (0, TOP), (5, TOP), (TOP, TOP - 1)]
)
def test_a_serial_before_ours_is_not_followed_and_counts_as_failed(ours: int, theirs: int) -> None:
    s = copy(serial=ours)
    assert s.checked(30.0, theirs) == Check(
        False, f"the primary's serial {theirs} is before ours ({ours}): not followed"
    )
    assert s.last_ok == 0.0  # not a successful check: the copy still ages
    assert s.next_check == 50.0  # retried after RETRY
    assert s.serial == ours


def test_a_transfer_takes_the_new_serial_and_timers() -> None:
    s = SecondaryTimers(0.0, None, Timers(), None)
    new = Timers(refresh=300.0, retry=60.0, expire=5000.0)
    s.transferred(40.0, 77, new)
    assert (s.serial, s.timers, s.last_ok, s.next_check) == (77, new, 40.0, 340.0)
    assert s.expires_at() == 5040.0 and not s.expired(40.0)


def test_a_failure_retries_after_retry_seconds() -> None:
    s = copy()
    s.failed(30.0)
    assert s.next_check == 50.0 and s.last_ok == 0.0
    s = SecondaryTimers(0.0, None, Timers(), None)
    s.failed(3.0)
    assert s.next_check == 13.0


@pytest.mark.parametrize(("retry", "after"), [(0.0, 1.0), (0.5, 1.0), (1.0, 1.0), (1.5, 1.5)])
def test_retry_is_never_below_the_minimum(retry: float, after: float) -> None:
    s = copy(timers=Timers(refresh=100.0, retry=retry, expire=1000.0))
    s.failed(30.0)
    assert s.next_check == 30.0 + after


def test_a_notify_makes_the_check_due_at_once() -> None:
    s = copy()
    s.checked(10.0, 10)
    assert s.next_check == 110.0 and not s.due(20.0)
    s.notified(20.0)
    assert s.next_check == 20.0 and s.due(20.0) and s.wait(20.0) == 0.0
    assert s.last_ok == 10.0  # a NOTIFY is no successful check


def test_the_copy_expires_expire_seconds_after_the_last_good_check() -> None:
    s = copy(now=100.0)
    assert s.expires_at() == 1100.0
    assert not s.expired(100.0) and not s.expired(1099.999)
    assert s.expired(1100.0) and s.expired(5000.0)
    s.failed(1050.0)  # a failure does not push the expiry
    assert s.expires_at() == 1100.0 and s.expired(1100.0)
    s.checked(1090.0, 10)  # a good check does
    assert s.expires_at() == 2090.0 and not s.expired(1100.0) and s.expired(2090.0)


@pytest.mark.parametrize(("serial", "last_ok"), [(None, None), (None, 5.0), (10, None)])
def test_no_copy_or_never_confirmed_is_never_served(
    serial: int | None, last_ok: float | None
) -> None:
    s = SecondaryTimers(5.0, serial, T, last_ok)
    assert s.expires_at() is None
    assert s.expired(5.0) and s.expired(0.0)


def test_a_full_cycle() -> None:
    s = SecondaryTimers(0.0, None, Timers(), None)
    assert s.due(0.0)
    assert s.checked(0.0, 1).transfer
    s.failed(0.0)  # the transfer failed
    assert s.wait(0.0) == 10.0 and s.expired(5.0)
    assert s.checked(10.0, 1).transfer
    s.transferred(11.0, 1, T)
    assert not s.expired(11.0) and s.wait(11.0) == 100.0
    assert s.checked(111.0, 2).transfer
    s.transferred(112.0, 2, T)
    assert s.serial == 2 and s.expires_at() == 1112.0
