"""QRESYNC (RFC 7162 §3.2) through sessions on a real store: ENABLE, VANISHED for expunges
(with the tagged OK's HIGHESTMODSEQ, and a lower one while expunges wait), SELECT/EXAMINE
with the QRESYNC parameter, UID FETCH's VANISHED modifier, UIDs in the FETCH responses a
change causes, the fallback when the expunge log does not reach back, and a client that
resyncs after random changes ending with exactly the mailbox a full resync would give. Exact
bytes, as Dovecot 2.3 answers the same commands (but for the order of FETCH items)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mailserver.store.base
from mailserver.imap.session import Idle
from mailserver.store import Store
from tests.mailserver.imap.session_kit import (
    Client,
    deliver,
    drop_store,
    make_store,
    store_fixture,
    wire,
)

UV = 1_700_000_000  # the INBOX's UIDVALIDITY (session_kit's T0)


@pytest.fixture
def store() -> Iterator[Store]:
    yield from store_fixture()


def qresync_client(store: Store) -> Client:
    c = Client(store)
    c.login()
    assert c(b"e ENABLE QRESYNC") == b"* ENABLED QRESYNC\r\ne OK ENABLE completed\r\n"
    return c


@pytest.fixture
def changed(store: Store) -> Client:
    """Ten messages (UIDs 1..10, MODSEQs 2..11), then, by a QRESYNC session: \\Seen on 2 and
    4 (MODSEQ 12), \\Deleted on 3 and 7 (13) and their UID EXPUNGE (14)."""
    for n in range(1, 11):
        deliver(store, n)
    a = qresync_client(store)
    a(b"s SELECT INBOX")
    assert a(b"x STORE 2,4 +FLAGS (\\Seen)") == (
        b"* 2 FETCH (UID 2 MODSEQ (12) FLAGS (\\Seen \\Recent))\r\n"
        b"* 4 FETCH (UID 4 MODSEQ (12) FLAGS (\\Seen \\Recent))\r\n"
        b"x OK STORE completed\r\n"
    )
    assert a(b"y STORE 3,7 +FLAGS.SILENT (\\Deleted)") == (  # .SILENT: UID and MODSEQ still
        b"* 3 FETCH (UID 3 MODSEQ (13))\r\n* 7 FETCH (UID 7 MODSEQ (13))\r\n"
        b"y OK STORE completed\r\n"
    )
    assert a(b"z UID EXPUNGE 1:5,7,100") == (
        b"* VANISHED 3,7\r\nz OK [HIGHESTMODSEQ 14] EXPUNGE completed\r\n"
    )
    assert a(b"n NOOP") == b"n OK NOOP completed\r\n"
    assert a(b"w EXPUNGE") == b"w OK EXPUNGE completed\r\n"  # nothing went: no MODSEQ said
    return a


def head(exists: int, highest: int, *, readonly: bool = False) -> bytes:
    permanent = (
        b"* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n"
        if readonly
        else b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)]"
        b" Flags permitted\r\n"
    )
    return (
        b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
        + permanent
        + b"* %d EXISTS\r\n* 0 RECENT\r\n* OK [UNSEEN 1] First unseen\r\n" % exists
        + b"* OK [UIDVALIDITY %d] UIDs valid\r\n* OK [UIDNEXT 11] Predicted next UID\r\n" % UV
        + b"* OK [HIGHESTMODSEQ %d] Highest\r\n" % highest
    )


SEEN_2 = b"* 2 FETCH (UID 2 MODSEQ (12) FLAGS (\\Seen))\r\n"
SEEN_4 = b"* 3 FETCH (UID 4 MODSEQ (12) FLAGS (\\Seen))\r\n"
SEEN = SEEN_2 + SEEN_4
ADDED = b"".join(
    b"* %d FETCH (UID %d MODSEQ (%d) FLAGS ())\r\n" % (seq, uid, uid + 1)
    for seq, uid in ((4, 5), (5, 6), (6, 8), (7, 9), (8, 10))
)


def test_select_qresync_gives_what_changed_since(changed: Client, store: Store) -> None:
    b = qresync_client(store)
    ok = b"s OK [READ-WRITE] SELECT completed\r\n"
    assert b(b"s SELECT INBOX (QRESYNC (%d 11))" % UV) == (
        head(8, 14) + b"* VANISHED (EARLIER) 3,7\r\n" + SEEN + ok
    )
    closed = b"* OK [CLOSED] Previous mailbox closed\r\n"
    # known UIDs narrow both the expunges and the changes told
    assert b(b"s SELECT INBOX (QRESYNC (%d 11 1:3))" % UV) == (
        closed + head(8, 14) + b"* VANISHED (EARLIER) 3\r\n" + SEEN_2 + ok
    )
    assert b(b"s SELECT INBOX (QRESYNC (%d 11 4:6,9))" % UV) == (closed + head(8, 14) + SEEN_4 + ok)
    # from further back: the messages added since are changes too, in mailbox order
    assert b(b"s SELECT INBOX (QRESYNC (%d 5 1:20 (1:10 1:10)))" % UV) == (
        closed + head(8, 14) + b"* VANISHED (EARLIER) 3,7\r\n" + SEEN + ADDED + ok
    )
    # nothing since, or a MODSEQ ahead of the mailbox's: the plain answer
    for since in (14, 99):
        assert b(b"s SELECT INBOX (QRESYNC (%d %d))" % (UV, since)) == closed + head(8, 14) + ok
    # another UIDVALIDITY: the client's data is void, the rest is ignored (§3.2.5)
    assert b(b"s SELECT INBOX (QRESYNC (%d 11 1:10))" % (UV + 1)) == closed + head(8, 14) + ok
    assert b(b"s EXAMINE INBOX (CONDSTORE QRESYNC (%d 11))" % UV) == (
        closed
        + head(8, 14, readonly=True)
        + b"* VANISHED (EARLIER) 3,7\r\n"
        + SEEN
        + b"s OK [READ-ONLY] EXAMINE completed\r\n"
    )


def test_qresync_forms_need_enable_qresync(changed: Client, store: Store) -> None:
    b = Client(store)
    b.login()
    assert b(b"e ENABLE CONDSTORE") == b"* ENABLED CONDSTORE\r\ne OK ENABLE completed\r\n"
    assert b(b"s SELECT INBOX (QRESYNC (%d 11))" % UV) == (
        b"s BAD QRESYNC needs ENABLE QRESYNC first\r\n"
    )
    assert b.session.selected is None
    b(b"s SELECT INBOX")
    assert b(b"f UID FETCH 1:* FLAGS (CHANGEDSINCE 11 VANISHED)") == (
        b"f BAD VANISHED needs ENABLE QRESYNC first\r\n"
    )
    assert b(b"g UID FETCH 1 FLAGS (CHANGEDSINCE 11)") == b"g OK FETCH completed\r\n"
    # without QRESYNC, expunges are told as EXPUNGE and no MODSEQ follows
    deliver_deleted = b(b"h UID STORE 1 +FLAGS.SILENT (\\Deleted)")
    assert deliver_deleted == b"h OK STORE completed\r\n"
    assert b(b"i EXPUNGE") == b"* 1 EXPUNGE\r\ni OK EXPUNGE completed\r\n"


def test_uid_fetch_vanished_reports_the_expunges_in_the_set(changed: Client, store: Store) -> None:
    b = qresync_client(store)
    b(b"s SELECT INBOX")
    assert b(b"f UID FETCH 1:* (FLAGS) (CHANGEDSINCE 11 VANISHED)") == (
        b"* VANISHED (EARLIER) 3,7\r\n"
        b"* 2 FETCH (UID 2 FLAGS (\\Seen) MODSEQ (12))\r\n"
        b"* 3 FETCH (UID 4 FLAGS (\\Seen) MODSEQ (12))\r\n"
        b"f OK FETCH completed\r\n"
    )
    assert b(b"g UID FETCH 1:5 (FLAGS) (VANISHED CHANGEDSINCE 12)") == (
        b"* VANISHED (EARLIER) 3\r\ng OK FETCH completed\r\n"  # (expunged at 14)
    )
    assert b(b"h UID FETCH 3 (FLAGS) (CHANGEDSINCE 5 VANISHED)") == (
        b"* VANISHED (EARLIER) 3\r\nh OK FETCH completed\r\n"
    )
    assert b(b"i UID FETCH 8:* (FLAGS) (CHANGEDSINCE 11 VANISHED)") == b"i OK FETCH completed\r\n"
    # without VANISHED, CHANGEDSINCE tells the changes only
    assert b(b"c UID FETCH 1:* (FLAGS) (CHANGEDSINCE 11)") == (
        b"* 2 FETCH (UID 2 FLAGS (\\Seen) MODSEQ (12))\r\n"
        b"* 3 FETCH (UID 4 FLAGS (\\Seen) MODSEQ (12))\r\n"
        b"c OK FETCH completed\r\n"
    )
    # `*` reaches the last UID given (7 was expunged, and would be named by 7:*)
    assert b(b"j UID FETCH 7:* (UID) (CHANGEDSINCE 11 VANISHED)") == (
        b"* VANISHED (EARLIER) 7\r\nj OK FETCH completed\r\n"
    )
    # `$`, the saved result, names the UIDs saved, gone since or not
    assert b(b"k UID SEARCH RETURN (SAVE) UID 1:6") == b"k OK SEARCH completed\r\n"
    changed(b"d UID STORE 5 +FLAGS.SILENT (\\Deleted)")
    changed(b"x UID EXPUNGE 5")  # MODSEQ 16
    assert b(b"n NOOP") == b"* VANISHED 5\r\nn OK [HIGHESTMODSEQ 16] NOOP completed\r\n"
    assert b(b"l UID FETCH $ (UID) (CHANGEDSINCE 11 VANISHED)") == (
        b"* VANISHED (EARLIER) 5\r\n* 2 FETCH (UID 2 MODSEQ (12))\r\n"
        b"* 3 FETCH (UID 4 MODSEQ (12))\r\nl OK FETCH completed\r\n"
    )
    # the last UID expunged: `*` is still it, so a set past it (20:* is 10:20) names it
    changed(b"d UID STORE 10 +FLAGS.SILENT (\\Deleted)")
    changed(b"x UID EXPUNGE 10")  # MODSEQ 18
    assert b(b"n NOOP") == b"* VANISHED 10\r\nn OK [HIGHESTMODSEQ 18] NOOP completed\r\n"
    assert b(b"o UID FETCH 20:* (UID) (CHANGEDSINCE 16 VANISHED)") == (
        b"* VANISHED (EARLIER) 10\r\no OK FETCH completed\r\n"
    )


def test_expunges_elsewhere_come_as_vanished_with_the_modseq(changed: Client, store: Store) -> None:
    a = changed
    b = Client(store)
    b.select()
    b(b"d UID STORE 5,9 +FLAGS.SILENT (\\Deleted)")  # MODSEQ 15
    assert b(b"x UID EXPUNGE 5") == b"* 4 EXPUNGE\r\nx OK EXPUNGE completed\r\n"  # 16
    # by sequence number, the expunge waits; the MODSEQ said is one it cannot skip
    assert a(b"f FETCH 1 (FLAGS)") == (
        b"* 1 FETCH (FLAGS (\\Recent) MODSEQ (2))\r\n"
        b"* 7 FETCH (UID 9 MODSEQ (15) FLAGS (\\Deleted \\Recent))\r\n"
        b"f OK [HIGHESTMODSEQ 14] FETCH completed\r\n"
    )
    assert a(b"s SEARCH DELETED") == (  # (5 is expunged: not found, but still numbered)
        b"* SEARCH 7\r\ns OK [HIGHESTMODSEQ 14] SEARCH completed\r\n"
    )
    assert a(b"n NOOP") == b"* VANISHED 5\r\nn OK [HIGHESTMODSEQ 16] NOOP completed\r\n"
    assert a(b"m NOOP") == b"m OK NOOP completed\r\n"
    # while idling, the MODSEQ comes untagged after the VANISHED
    assert b(b"y EXPUNGE") == b"* 6 EXPUNGE\r\ny OK EXPUNGE completed\r\n"  # 17
    actions = a.actions(b"i IDLE")
    assert isinstance(actions[-1], Idle)
    assert wire(actions) == (b"+ idling\r\n* VANISHED 9\r\n* OK [HIGHESTMODSEQ 17] Highest\r\n")
    assert wire(a.session.poll()) == b""
    assert a(b"DONE") == b"i OK IDLE terminated\r\n"


def test_move_and_the_seen_a_fetch_sets_carry_uids(changed: Client, store: Store) -> None:
    a = changed
    assert a(b"m UID MOVE 8 Trash") == (
        b"* OK [COPYUID 1700000003 8 1] Moved\r\n* VANISHED 8\r\n"
        b"m OK [HIGHESTMODSEQ 15] MOVE completed\r\n"
    )
    assert a(b"f FETCH 1 (BODY[HEADER.FIELDS (SUBJECT)])") == (
        b"* 1 FETCH (UID 1 BODY[HEADER.FIELDS (SUBJECT)] {18}\r\nSubject: msg 1\r\n\r\n"
        b" MODSEQ (16) FLAGS (\\Seen \\Recent))\r\nf OK FETCH completed\r\n"
    )
    assert a(b"g FETCH 1 (BODY[HEADER.FIELDS (SUBJECT)])") == (  # no change, no UID
        b"* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {18}\r\nSubject: msg 1\r\n\r\n"
        b" MODSEQ (16))\r\ng OK FETCH completed\r\n"
    )
    # a UID the command asks for (UID FETCH's first, or one written later) is not said twice
    assert a(b"h UID FETCH 5 (BODY[HEADER.FIELDS (SUBJECT)])") == (
        b"* 4 FETCH (UID 5 BODY[HEADER.FIELDS (SUBJECT)] {18}\r\nSubject: msg 5\r\n\r\n"
        b" MODSEQ (17) FLAGS (\\Seen \\Recent))\r\nh OK FETCH completed\r\n"
    )
    assert a(b"i FETCH 5 (BODY[HEADER.FIELDS (SUBJECT)] UID)") == (
        b"* 5 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {18}\r\nSubject: msg 6\r\n\r\n"
        b" UID 6 MODSEQ (18) FLAGS (\\Seen \\Recent))\r\ni OK FETCH completed\r\n"
    )


def test_a_failed_select_still_says_the_old_mailbox_closed(changed: Client) -> None:
    assert changed(b"s EXAMINE Nope (QRESYNC (1 1))") == (
        b"* OK [CLOSED] Previous mailbox closed\r\ns NO [NONEXISTENT] no mailbox 'Nope'\r\n"
    )
    assert changed.session.selected is None


def test_when_the_log_forgot_every_known_uid_not_there_is_reported(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mailserver.store.base, "EXPUNGE_LOG_MAX", 1)
    for n in range(1, 11):
        deliver(store, n)
    a = qresync_client(store)
    a(b"s SELECT INBOX")
    a(b"d UID STORE 1 +FLAGS.SILENT (\\Deleted)")
    assert a(b"x EXPUNGE").startswith(b"* VANISHED 1\r\n")  # MODSEQ 13: the client's state
    a(b"d UID STORE 3,7 +FLAGS.SILENT (\\Deleted)")
    a(b"x UID EXPUNGE 3")
    a(b"x UID EXPUNGE 7")  # the log keeps only this one: its floor is past 13
    b = qresync_client(store)
    ok = b"s OK [READ-WRITE] SELECT completed\r\n"

    def vanished(args: bytes) -> bytes:
        out = b(b"s SELECT INBOX (QRESYNC (%d 13%s))" % (UV, args))
        return b"".join(re.findall(rb"\* VANISHED \(EARLIER\) [^\r]*\r\n", out))

    assert vanished(b"") == b"* VANISHED (EARLIER) 1,3,7\r\n"
    assert vanished(b" 2:10") == b"* VANISHED (EARLIER) 3,7\r\n"
    assert vanished(b" 1:5") == b"* VANISHED (EARLIER) 1,3\r\n"
    # match data (the client knew UIDs 2..10 as messages 1..9): a pair that still holds
    # shows that nothing at or below it went, so 1, gone before the client's MODSEQ, is left
    # out; a pair that no longer holds ends the walk, and a pair after it is not trusted
    assert vanished(b" 1:10 (1 2)") == b"* VANISHED (EARLIER) 3,7\r\n"
    assert vanished(b" 1:10 (1:2 2:3)") == b"* VANISHED (EARLIER) 3,7\r\n"
    assert vanished(b" 1:10 (1,2,6 2,3,8)") == b"* VANISHED (EARLIER) 3,7\r\n"
    assert vanished(b" 1:10 (2 3)") == b"* VANISHED (EARLIER) 1,3,7\r\n"
    assert b(b"s SELECT INBOX (QRESYNC (%d 16))" % UV).endswith(b" Highest\r\n" + ok)
    b(b"s SELECT INBOX")
    assert b(b"f UID FETCH 1:4 (UID) (CHANGEDSINCE 13 VANISHED)") == (
        b"* VANISHED (EARLIER) 1,3\r\nf OK FETCH completed\r\n"
    )


# -- a client that resyncs ends with what a full resync would give --------------------------

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("deliver"), st.integers(0, 0)),
        st.tuples(st.just("flag"), st.integers(0, 30)),
        st.tuples(st.just("expunge"), st.integers(0, 30)),
    ),
    max_size=25,
)


def state(client: Client) -> dict[int, bytes]:
    """UID -> flags, by a full resync: UID FETCH 1:* (FLAGS)."""
    out = client(b"f UID FETCH 1:* (FLAGS)")
    return {
        int(uid): flags.replace(b"\\Recent", b"").strip()
        for uid, flags in re.findall(rb"FETCH \(UID (\d+) FLAGS \(([^)]*)\)", out)
    }


def apply(ops: list[tuple[str, int]], store: Store, actor: Client) -> None:
    for op, k in ops:
        uids = sorted(state(actor))
        if op == "deliver":
            deliver(store, 1)
            actor(b"n NOOP")
        elif uids and op == "flag":
            actor(b"s UID STORE %d +FLAGS (\\Seen $k%d)" % (uids[k % len(uids)], k))
        elif uids:
            actor(b"s UID STORE %d +FLAGS.SILENT (\\Deleted)" % uids[k % len(uids)])
            actor(b"x EXPUNGE")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=OPS, after=OPS, log=st.sampled_from([1, 3, 100_000]), known=st.booleans())
def test_a_resync_ends_with_the_mailbox_a_full_resync_gives(
    before: list[tuple[str, int]], after: list[tuple[str, int]], log: int, known: bool
) -> None:
    old = mailserver.store.base.EXPUNGE_LOG_MAX
    mailserver.store.base.EXPUNGE_LOG_MAX = log
    store = make_store()
    try:
        for n in range(5):
            deliver(store, n)
        actor = qresync_client(store)
        actor(b"s SELECT INBOX")
        apply(before, store, actor)
        # the client's copy, and the MODSEQ it had, as it goes offline
        client = qresync_client(store)
        out = client(b"s SELECT INBOX")
        modseq = int(re.search(rb"HIGHESTMODSEQ (\d+)", out).group(1))
        mine = state(client)
        client(b"u UNSELECT")
        apply(after, store, actor)
        last = max(mine, default=0)
        known_set = b" 1:%d" % last if known and last else b""
        out = client(b"s SELECT INBOX (QRESYNC (%d %d%s))" % (UV, modseq, known_set))
        for line in re.findall(rb"\* VANISHED \(EARLIER\) ([^\r]*)\r\n", out):
            for part in line.split(b","):
                lo, _, hi = part.partition(b":")
                for uid in range(int(lo), int(hi or lo) + 1):
                    mine.pop(uid, None)
        for uid, flags in re.findall(rb"FETCH \(UID (\d+) MODSEQ \(\d+\) FLAGS \(([^)]*)\)\)", out):
            mine[int(uid)] = flags.replace(b"\\Recent", b"").strip()
        full = state(client)
        if known_set:  # it asked about the UIDs it knew: new ones it learns by UIDNEXT
            full = {u: f for u, f in full.items() if u <= last}
        assert mine == full
    finally:
        mailserver.store.base.EXPUNGE_LOG_MAX = old
        drop_store(store)


def test_a_kept_search_hears_of_an_expunge_before_its_vanished(changed: Client) -> None:
    # CONTEXT=SEARCH with QRESYNC: REMOVEFROM (numbered as before), then VANISHED
    a = changed
    assert a(b"k SEARCH RETURN (UPDATE) UID 5:6") == (
        b'* ESEARCH (TAG "k")\r\nk OK SEARCH completed\r\n'
    )
    a(b"d UID STORE 5 +FLAGS.SILENT (\\Deleted)")
    assert a(b"x UID EXPUNGE 5") == (
        b'* ESEARCH (TAG "k") REMOVEFROM (0 4)\r\n* VANISHED 5\r\n'
        b"x OK [HIGHESTMODSEQ 16] EXPUNGE completed\r\n"
    )
