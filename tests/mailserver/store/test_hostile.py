"""Whatever names, patterns, flags and UIDs a client sends, the store answers or raises
StoreError: never another exception, never a file outside the user's Maildir."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailserver.store import StoreError, UserStore

texts = st.text(st.characters(codec="utf-8"), max_size=30) | st.sampled_from(
    ["..", "../x", "a/../../b", "/", "INBOX/..", ".", "~", "a\x00b", "*", "%"]
)
hostile = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def only_store_errors(call: Callable[..., object], *args: object) -> None:
    with contextlib.suppress(StoreError):
        call(*args)


def inside(user: UserStore) -> None:
    """Nothing was created beside the user's directory or above it."""
    domain = os.path.dirname(user.home)
    assert os.listdir(domain) == [os.path.basename(user.home)]
    assert os.listdir(os.path.dirname(domain)) == [os.path.basename(domain)]
    assert set(os.listdir(user.home)) <= {
        "Maildir",
        "deleted",
        "index.sqlite",
        "index.sqlite-wal",
        "index.sqlite-shm",
    }
    for entry in os.listdir(user.maildir):
        assert entry in ("cur", "new", "tmp") or (entry.startswith(".") and "/" not in entry)


@hostile
@given(name=texts, other=texts)
def test_mailbox_operations_on_any_name(user: UserStore, name: str, other: str) -> None:
    for op in (
        user.create,
        user.delete,
        user.subscribe,
        user.unsubscribe,
        user.status,
        user.select,
        user.mailbox,
        user.uids,
    ):
        only_store_errors(op, name)
    only_store_errors(user.rename, name, other)
    only_store_errors(user.list_mailboxes, name)
    only_store_errors(user.list_subscribed, name)
    only_store_errors(user.deliver, name, b"x\r\n")
    only_store_errors(user.copy, "INBOX", [1], name)
    inside(user)


@hostile
@given(
    flags=st.lists(texts, max_size=5),
    uids=st.lists(st.integers(-5, 2**33), max_size=5),
    mode=st.sampled_from(["set", "add", "remove", "xor"]),
    since=st.none() | st.integers(-1, 2**63 - 1),
)
def test_message_operations_on_any_flags_and_uids(
    user: UserStore, flags: list[str], uids: list[int], mode: str, since: int | None
) -> None:
    if not user.uids("INBOX"):
        user.deliver("INBOX", b"Subject: x\r\n\r\n")
    only_store_errors(user.store, "INBOX", uids, mode, flags, since)
    only_store_errors(user.deliver, "INBOX", b"x", flags)
    only_store_errors(user.fetch, "INBOX", uids)
    only_store_errors(user.expunge, "INBOX", uids)
    only_store_errors(user.copy, "INBOX", uids, "Trash")
    for uid in uids:
        only_store_errors(user.read_message, "INBOX", uid)
    assert user.fetch("INBOX") == user.fetch("INBOX", user.uids("INBOX"))
