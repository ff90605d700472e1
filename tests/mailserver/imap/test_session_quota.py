"""QUOTA (RFC 9208) through sessions on a real store: the one root "" of a user with limits,
GETQUOTA and GETQUOTAROOT with STORAGE in KiB (usage rounded up, limit down) and MESSAGE,
SETQUOTA refused, APPEND (MULTIAPPEND whole) and COPY over a limit refused with NO [OVERQUOTA]
and nothing stored, MOVE allowed at the limit, and STATUS DELETED and DELETED-STORAGE. Exact
bytes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailserver.store import Quota, Store
from tests.mailserver.imap.session_kit import BOB, CAPS, Client, deliver, message, store_fixture

SIZE = len(message(1))  # each delivered test message (message(n) for n < 10)


@pytest.fixture
def store() -> Iterator[Store]:
    yield from store_fixture()


def limited(store: Store, storage: int = 0, messages: int = 0) -> Client:
    store.user(BOB).quota = Quota(storage, messages)
    c = Client(store)
    c.login()
    return c


def append(n: int) -> bytes:
    m = message(n)
    return b"{%d+}\r\n" % len(m) + m


def test_quota_is_announced(store: Store) -> None:
    assert b" QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE" in CAPS
    c = Client(store)
    assert c(b"a CAPABILITY").startswith(b"* CAPABILITY " + CAPS)


def test_a_user_without_limits_has_no_quota_root(store: Store) -> None:
    c = Client(store)
    c.login()
    assert c(b"a GETQUOTAROOT INBOX") == b"* QUOTAROOT INBOX\r\na OK GETQUOTAROOT completed\r\n"
    assert c(b'b GETQUOTA ""') == b"b NO [NONEXISTENT] no such quota root\r\n"


def test_getquotaroot_and_getquota_count_every_mailbox(store: Store) -> None:
    deliver(store, 1)
    deliver(store, 2, mailbox="Sent")
    c = limited(store, storage=10 * 1024 + 1023, messages=5)
    used = -(-2 * SIZE // 1024)
    quota = b'* QUOTA "" (STORAGE %d 10 MESSAGE 2 5)\r\n' % used
    assert c(b"a GETQUOTAROOT Sent") == (
        b'* QUOTAROOT Sent ""\r\n' + quota + b"a OK GETQUOTAROOT completed\r\n"
    )
    assert c(b'b GETQUOTA ""') == quota + b"b OK GETQUOTA completed\r\n"
    assert c(b'c GETQUOTA "User quota"') == b"c NO [NONEXISTENT] no such quota root\r\n"
    assert c(b"d GETQUOTAROOT Nowhere").startswith(b"d NO [NONEXISTENT] ")


def test_only_the_limited_resources_are_listed(store: Store) -> None:
    c = limited(store, messages=7)
    assert c(b'a GETQUOTA ""') == b'* QUOTA "" (MESSAGE 0 7)\r\na OK GETQUOTA completed\r\n'
    c = limited(store, storage=2048)
    assert c(b'b GETQUOTA ""') == b'* QUOTA "" (STORAGE 0 2)\r\nb OK GETQUOTA completed\r\n'


def test_setquota_is_not_the_users_to_do(store: Store) -> None:
    c = limited(store, storage=4096)
    assert c(b'a SETQUOTA "" (STORAGE 99999)') == (
        b"a NO [NOPERM] quotas are set in the server's configuration\r\n"
    )
    assert c(b'b GETQUOTA ""').startswith(b'* QUOTA "" (STORAGE 0 4)\r\n')


def test_not_before_login(store: Store) -> None:
    c = Client(store)
    assert c(b'a GETQUOTA ""').startswith(b"a BAD ")
    assert c(b"a GETQUOTAROOT INBOX").startswith(b"a BAD ")


def test_append_over_the_storage_limit_is_refused_and_stores_nothing(store: Store) -> None:
    c = limited(store, storage=2 * SIZE)
    assert c(b"a APPEND INBOX " + append(1)).startswith(b"a OK [APPENDUID ")
    assert c(b"b APPEND INBOX " + append(2)).startswith(b"b OK [APPENDUID ")
    assert c(b"c APPEND INBOX " + append(3)) == (
        b"c NO [OVERQUOTA] over quota: %d octets of %d allowed (%d used)\r\n"
        % (3 * SIZE, 2 * SIZE, 2 * SIZE)
    )
    assert store.user(BOB).status("INBOX").messages == 2


def test_a_multiappend_that_goes_over_stores_none(store: Store) -> None:
    c = limited(store, messages=2)
    deliver(store, 1)
    assert c(b"a APPEND INBOX " + append(2) + b" " + append(3)) == (
        b"a NO [OVERQUOTA] over quota: 3 messages of 2 allowed (1 kept)\r\n"
    )
    assert store.user(BOB).status("INBOX").messages == 1
    assert c(b"b APPEND INBOX " + append(2)).startswith(b"b OK [APPENDUID ")


def test_copy_over_a_limit_is_refused_and_move_is_not(store: Store) -> None:
    for n in (1, 2):
        deliver(store, n)
    c = limited(store, messages=3)
    c(b"s SELECT INBOX")
    assert c(b"a COPY 1:2 Sent") == (
        b"a NO [OVERQUOTA] over quota: 4 messages of 3 allowed (2 kept)\r\n"
    )
    assert store.user(BOB).status("Sent").messages == 0
    assert c(b"b COPY 1 Sent").startswith(b"b OK [COPYUID ")
    assert c(b"c MOVE 1:2 Trash").endswith(b"c OK MOVE completed\r\n")  # at the limit: a move
    assert store.user(BOB).status("Trash").messages == 2
    assert store.user(BOB).usage().messages == 3


def test_status_counts_deleted_messages_and_their_octets(store: Store) -> None:
    for n in (1, 2, 3):
        deliver(store, n)
    c = Client(store)
    c.login()
    c(b"s SELECT INBOX")
    c(b"f STORE 1,3 +FLAGS.SILENT (\\Deleted)")
    assert c(b"a STATUS INBOX (DELETED DELETED-STORAGE MESSAGES SIZE)") == (
        b"* STATUS INBOX (DELETED 2 DELETED-STORAGE %d MESSAGES 3 SIZE %d)\r\n"
        b"a OK STATUS completed\r\n" % (2 * SIZE, 3 * SIZE)
    )
