"""The store's group commit and the file half of delivery, under failure: deliveries from
threads that arrive while a commit is under way go into the next transaction together; a
lone delivery whose commit fails fails, without a second try; files whose settling fails are
removed and the caller gets that error."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence

import pytest

from mailserver.store import Store, UserStore, maildir
from tests.mailserver.store.conftest import ADDRESS, files, message

NONE = {"new": [], "cur": [], "tmp": []}


def wait_for(condition: object, what: str) -> None:
    for _ in range(1000):
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.005)
    raise AssertionError(f"never: {what}")


def grouped(
    user: UserStore, monkeypatch: pytest.MonkeyPatch, waiting: int, failing: set[int]
) -> tuple[list[int], dict[int, int | BaseException]]:
    """Delivery 1 commits alone while `waiting` more (2, 3, ...) queue behind it, then they
    commit together. A commit call whose number (1-based) is in `failing` raises OSError.
    The size of each commit call, and each delivery's UID or error."""
    real = user._commit_now
    sizes: list[int] = []
    gate = threading.Event()

    def commit_now(placed: Sequence[object]) -> list[int]:
        sizes.append(len(placed))
        if len(sizes) == 1:
            gate.wait(10)
        if len(sizes) in failing:
            raise OSError(f"commit {len(sizes)} failed")
        return real(placed)  # type: ignore[arg-type]

    monkeypatch.setattr(user, "_commit_now", commit_now)
    outcome: dict[int, int | BaseException] = {}

    def deliver(n: int) -> None:
        try:
            outcome[n] = user.deliver("INBOX", message(n))
        except OSError as e:
            outcome[n] = e

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(1, waiting + 2)]
    try:
        threads[0].start()
        wait_for(lambda: sizes, "the first commit began")
        for t in threads[1:]:
            t.start()
        wait_for(lambda: len(user._queue) == waiting, "the others wait")
        assert sizes == [1]  # they wait for the commit under way
    finally:
        gate.set()  # (whatever happened: no thread is left behind on a closed store)
        for t in threads:
            if t.ident is not None:  # started
                t.join(10)
    return sizes, outcome


def test_deliveries_that_wait_for_a_commit_share_the_next(
    user: UserStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes, outcome = grouped(user, monkeypatch, 3, set())
    assert sizes == [1, 3]  # one transaction for the three
    assert outcome[1] == 1 and sorted(outcome.values()) == [1, 2, 3, 4]  # type: ignore[type-var]
    assert [m.uid for m in user.fetch("INBOX")] == [1, 2, 3, 4]


def test_a_failed_group_commit_is_tried_again_one_delivery_at_a_time(
    user: UserStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes, outcome = grouped(user, monkeypatch, 2, {2})
    assert sizes == [1, 2, 1, 1]
    assert sorted(outcome.values()) == [1, 2, 3]  # type: ignore[type-var]


def test_in_a_failed_group_only_the_delivery_that_fails_again_fails(
    user: UserStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes, outcome = grouped(user, monkeypatch, 2, {2, 4})
    assert sizes == [1, 2, 1, 1]
    errors = [n for n, o in outcome.items() if isinstance(o, OSError)]
    assert len(errors) == 1 and str(outcome[errors[0]]) == "commit 4 failed"
    assert sorted(o for o in outcome.values() if isinstance(o, int)) == [1, 2]
    assert [m.uid for m in user.fetch("INBOX")] == [1, 2]


def test_a_lone_delivery_whose_commit_fails_is_not_tried_again(
    user: UserStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = user._commit_now
    calls: list[int] = []

    def once_failing(placed: Sequence[object]) -> list[int]:
        calls.append(len(placed))
        if len(calls) == 1:
            raise OSError("the disk went away")
        return real(placed)  # type: ignore[arg-type]

    monkeypatch.setattr(user, "_commit_now", once_failing)
    with pytest.raises(OSError, match=r"^the disk went away$"):
        user.deliver("INBOX", message(1))
    assert calls == [1]  # its error, not a second try that might go through unannounced
    assert files(user) == NONE  # and its file is gone
    assert user.deliver("INBOX", message(2)) == 1


def test_files_whose_settling_fails_are_removed_and_the_error_told(
    user: UserStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(path: str) -> None:
        raise OSError(f"cannot sync {os.path.basename(path)}")

    monkeypatch.setattr(maildir, "fsync_file", failing)
    with pytest.raises(OSError, match=r"^cannot sync "):
        user.deliver_many([("INBOX", message(1), (), None), ("INBOX", message(2), (), None)])
    assert files(user) == NONE
    assert user.fetch("INBOX") == []


def test_a_file_another_process_adopted_before_the_commit_keeps_its_uid(
    store: Store, user: UserStore
) -> None:
    # the file is in new/ but not yet in the index when another process's store opens the
    # user and reconciles: it adopts the file; this commit then finds it known, not twice
    placed = user.place([("INBOX", message(1), (), None)])
    other = Store(store.root, host="mx.test")
    try:
        adopted = [m.uid for m in other.user(ADDRESS).fetch("INBOX")]
    finally:
        other.close()
    assert adopted == [1]
    assert user.commit_placed(placed) == [1]
    assert [m.uid for m in user.fetch("INBOX")] == [1]
