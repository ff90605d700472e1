"""The selected mailbox as one session sees it: its UIDs in order (sequence numbers are their
positions), its \\Recent set, and the store's change feed applied when RFC 3501 allows.

Other sessions and deliveries change the mailbox at any moment; this session learns of it by
asking the store for `changes_since` its last known MODSEQ and UIDNEXT, and tells its client:

- new messages (`* n EXISTS`, `* n RECENT`) and flag changes (`* n FETCH (UID u FLAGS (...))`,
  with MODSEQ once CONDSTORE is on) after any command, since they move no sequence number;
- expunges (`* n EXPUNGE`) only when the command allows them (RFC 3501 §7.4.1: never during
  FETCH, STORE or SEARCH; the UID forms, NOOP, CHECK, IDLE, EXPUNGE, COPY, MOVE... may). An
  expunge seen earlier stays in `gone` with its message still numbered until then, so sequence
  numbers never shift under the client.

The session's own flag changes are announced by the command that made them; `own` remembers
their MODSEQs so the feed does not announce them a second time.
"""

from __future__ import annotations

import weakref
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from mailserver.imap import encode
from mailserver.imap.search import SearchKey
from mailserver.imap.seqset import SeqSet, compact
from mailserver.imap.sorting import Ranking
from mailserver.store import MessageMeta, Snapshot, UserStore

__all__ = ["KEPT", "MAX_CONTEXTS", "MAX_KEPT", "MAX_KEPT_ALL", "SYSTEM_FLAGS", "Context", "View"]

SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
RECENT = "\\Recent"
MAX_CONTEXTS = 16  # searches one session keeps up to date at once (RFC 5267 UPDATE)
#: What kept searches may hold, in messages (a SORT's count twice: it keeps their sort values
#: too; about 160 octets each, measured): one session's together, enough for a SORT of a
#: 100,000-message mailbox and a search of half of it (about 40 MB); and every session's of the
#: process together (about 250 MB). Without them a client could make each of its sessions keep
#: 16 SORTs of a big mailbox (measured: 160 MB a session at 50,000 messages).
MAX_KEPT = 250_000
MAX_KEPT_ALL = 1_500_000

#: Which of some UIDs (ascending) a search key matches: the selected mailbox's SEARCH.
Matcher = Callable[[SearchKey, list[int]], set[int]]


#: The sort values of some UIDs (those still in the store) for a SORT kept up to date.
Valuer = Callable[[list[int]], dict[int, tuple[int | str, ...]]]


@dataclass(slots=True, eq=False, weakref_slot=True)
class Context:
    """A SEARCH or SORT kept up to date (RFC 5267 §4.3, RETURN (UPDATE)): the tag that asked,
    whether it was UID SEARCH or UID SORT, its key (`$` already made the set it named), and
    the UIDs it matches; for a SORT (CONTEXT=SORT), also the result in its order and how the
    sort values of messages that join it are found."""

    tag: str
    uid: bool
    key: SearchKey
    result: set[int] = field(default_factory=set)
    ranking: Ranking | None = None
    values_of: Valuer | None = None
    cost: int = 0  # what it held when it was made, counted as MAX_KEPT counts


#: Every session's kept searches, for MAX_KEPT_ALL: one leaves when it is gone from memory
#: (cancelled, or its session's view let go), which is when what it held is given back.
KEPT: weakref.WeakSet[Context] = weakref.WeakSet()


class View:
    """One session's picture of its selected mailbox (see the module docstring)."""

    def __init__(
        self,
        store: UserStore,
        snapshot: Snapshot,
        *,
        readonly: bool,
        condstore: bool,
        qresync: bool,
        rev2: bool,
    ) -> None:
        self.store = store
        self.rev2 = rev2  # ENABLE IMAP4rev2 (RFC 9051): no \\Recent, no RECENT responses
        self.name = snapshot.name
        self.readonly = readonly
        self.condstore = condstore
        self.qresync = qresync  # expunges are told as VANISHED (RFC 7162 §3.2.10)
        self.vanished = False  # a VANISHED was sent since the last modseq_code()
        self.held: int | None = None  # the MODSEQ before the first expunge waiting in `gone`
        self.uidvalidity = snapshot.uidvalidity
        self.uidnext = snapshot.uidnext
        self.modseq = snapshot.highestmodseq
        # an array copy of the snapshot's (the store keeps that one for the next SELECT): a
        # copy of 100,000 UIDs is one memcpy, where a list would make 100,000 int objects
        self.uids: array[int] = array("I", snapshot.uids)
        self.recent: set[int] = set(self._within(snapshot.recent))
        self.keywords: list[str] = list(snapshot.keywords)
        self._known = {k.lower() for k in self.keywords}
        self.gone: set[int] = set()  # expunged in the store, not yet announced
        self.own: dict[int, int] = {}  # uid -> MODSEQ of a flag change this session announced
        self.saved: list[int] = []  # the UIDs of the saved search result, `$` (RFC 5182)
        self.contexts: dict[str, Context] = {}  # searches kept up to date, by tag
        self.match: Matcher | None = None  # how they are asked again (set with the first)

    def _within(self, r: range) -> array[int]:
        return self.uids[bisect_left(self.uids, r.start) : bisect_left(self.uids, r.stop)]

    # -- numbers ----------------------------------------------------------------------------

    @property
    def exists(self) -> int:
        return len(self.uids)

    @property
    def max_uid(self) -> int:
        return self.uids[-1] if self.uids else 0

    def seq_of(self, uid: int) -> int:
        """The sequence number of a UID in the view (it must be there)."""
        return bisect_left(self.uids, uid) + 1

    def has(self, uid: int) -> bool:
        i = bisect_left(self.uids, uid)
        return i < len(self.uids) and self.uids[i] == uid

    def resolve(self, seqset: SeqSet, uid: bool) -> list[int]:
        """The UIDs a sequence set or UID set names, ascending; SeqSetError for a message
        number that does not exist (UIDs that name nothing are simply left out). `$` is the
        saved search result, the same messages in either form, less those expunged since."""
        uids = self.uids
        if seqset.saved:
            return self.saved_uids()
        out: list[int] = []
        if uid:
            for a, b in seqset.resolve_uid(self.max_uid).spans:
                out.extend(uids[bisect_left(uids, a) : bisect_right(uids, b)])
        else:
            for a, b in seqset.resolve_seq(len(uids)).spans:
                out.extend(uids[a - 1 : b])
        return out

    def saved_uids(self) -> list[int]:
        """The saved search result, `$` (RFC 5182), less the messages expunged since."""
        return [u for u in self.saved if self.has(u)]

    # -- rendering --------------------------------------------------------------------------

    def flags_of(self, meta: MessageMeta) -> tuple[str, ...]:
        """A message's flags as this session shows them: \\Recent added when it holds it."""
        if meta.uid in self.recent and not self.rev2:
            return (*meta.flags, RECENT)
        return meta.flags

    def exists_lines(self) -> bytes:
        """`* n EXISTS` and, but under IMAP4rev2 (RFC 9051 §7.4.1: RECENT is obsolete), `* n
        RECENT`."""
        out = b"* %d EXISTS\r\n" % len(self.uids)
        return out if self.rev2 else out + b"* %d RECENT\r\n" % len(self.recent)

    def flags_lines(self) -> bytes:
        """`* FLAGS (...)` and `* OK [PERMANENTFLAGS (...)]` (none for EXAMINE)."""
        names = (*SYSTEM_FLAGS, *self.keywords)
        permanent = () if self.readonly else (*names, "\\*")
        return encode.untagged(b"FLAGS", encode.flags(names)) + encode.untagged_status(
            "OK",
            "Flags permitted" if permanent else "Read-only mailbox",
            encode.code("PERMANENTFLAGS", encode.flags(permanent)),
        )

    def new_keywords(self, metas: Iterable[MessageMeta]) -> bytes:
        """FLAGS and PERMANENTFLAGS again when messages carry keywords the client was not
        told of (RFC 3501 §7.2.6); b"" otherwise."""
        fresh = False
        for meta in metas:
            for flag in meta.flags:
                if not flag.startswith("\\") and flag.lower() not in self._known:
                    self._known.add(flag.lower())
                    self.keywords.append(flag)
                    fresh = True
        return self.flags_lines() if fresh else b""

    def flag_fetch(self, meta: MessageMeta, *, uid: bool = True, flags: bool = True) -> bytes:
        """`* n FETCH (UID u MODSEQ (m) FLAGS (...))`: a flag change, announced."""
        pairs: list[tuple[bytes, object]] = []
        if uid:
            pairs.append((b"UID", meta.uid))
        if self.condstore:
            pairs.append((b"MODSEQ", [meta.modseq]))
        if flags:
            pairs.append((b"FLAGS", encode.flags(self.flags_of(meta))))
        return encode.fetch(self.seq_of(meta.uid), pairs)

    # -- changes ----------------------------------------------------------------------------

    def expunge(self, uids: Iterable[int]) -> bytes:
        """Announce and forget expunged UIDs (those still in the view): `* n EXPUNGE` each,
        in ascending order, every number counted after the ones before it went; once QRESYNC
        is on, one `* VANISHED uids` instead."""
        doomed = {u for u in uids if self.has(u)}
        self.gone -= doomed
        if not doomed:
            return b""
        out = self._removed(doomed)  # numbered as before the expunge, so before it
        if not self.gone:
            self.held = None
        if self.qresync:
            out += b"* VANISHED " + compact(sorted(doomed)) + b"\r\n"
            self.vanished = True
        else:
            seqs = sorted(self.seq_of(u) for u in doomed)
            out += b"".join([b"* %d EXPUNGE\r\n" % (s - i) for i, s in enumerate(seqs)])
        self.uids = array("I", [u for u in self.uids if u not in doomed])
        self.recent -= doomed
        return out

    def updates(self, *, expunges: bool) -> bytes:
        """What changed since the last look, as untagged responses; expunges only when
        `expunges` (else they wait in `gone`). StoreError NONEXISTENT when the mailbox went."""
        ch = self.store.changes_since(
            self.name, self.modseq, self.uidnext, claim_recent=not self.readonly
        )
        waiting = bool(self.gone)
        if ch.expunged is not None:
            self.gone.update(u for u in ch.expunged if self.has(u))
        elif ch.uids is not None:
            present = set(ch.uids)
            self.gone.update(u for u in self.uids if u not in present)
        if self.gone and not waiting:
            self.held = self.modseq
        out = self.expunge(list(self.gone)) if expunges else b""
        # (an expunged message is never among the changed ones: its row is gone)
        changed = [m for m in ch.changed if self.own.get(m.uid) != m.modseq]
        out += self.new_keywords([*changed, *ch.added])
        out += b"".join([self.flag_fetch(m) for m in changed])
        if ch.added:
            self.uids.extend(m.uid for m in ch.added)
            self.recent.update(u for u in ch.recent if self.has(u))
            out += self.exists_lines()
        self.modseq = ch.highestmodseq
        self.uidnext = ch.uidnext
        self.own.clear()
        # the session's own flag changes too; a message expunged but not yet announced
        # leaves its searches with its EXPUNGE
        touched = {m.uid for m in (*ch.changed, *ch.added)} - self.gone
        return out + self._rematched(sorted(touched))

    def modseq_code(self) -> bytes | None:
        """Once QRESYNC is on, what the command's tagged OK says of the mailbox's MODSEQ: while
        expunges wait in `gone` (FETCH, STORE, SEARCH by number), `[HIGHESTMODSEQ n]` below
        the first of them, so that a client that keeps the highest MODSEQ it saw in FETCH
        responses does not skip them when it resyncs (RFC 7162 §3.2); after a VANISHED, the
        MODSEQ now (§3.2.7 for EXPUNGE, as Dovecot does for every command). None otherwise."""
        vanished, self.vanished = self.vanished, False
        if not self.qresync:
            return None
        if self.held is not None:
            return encode.code("HIGHESTMODSEQ", self.held)
        return encode.code("HIGHESTMODSEQ", self.modseq) if vanished else None

    # -- searches kept up to date (RFC 5267 §4.3) -------------------------------------------

    def _news(self, ctx: Context, name: str, uids: set[int]) -> bytes:
        """`* ESEARCH (TAG "t") [UID] ADDTO (0 set)` or REMOVEFROM: position 0 (an unsorted
        SEARCH) and the messages, by UID or by sequence number as numbered now. For a SORT,
        a position and a message for each, in order, the result kept in order meanwhile: an
        ADDTO's position is where the message is once inserted, a REMOVEFROM's where it was
        before it was taken out, each counted after the pairs before it (RFC 5267 §4.3.2-3).
        A message that joins a SORT with no values to sort by (expunged meanwhile) does not
        join it, and is not told."""
        ranking = ctx.ranking
        if ranking is None:
            numbers = sorted(uids) if ctx.uid else sorted(self.seq_of(u) for u in uids)
            return encode.esearch(ctx.tag, ctx.uid, [(name, b"(0 " + compact(numbers) + b")")])
        pairs = []
        if name == "REMOVEFROM":
            for u in sorted(uids):
                pairs.append((ranking.remove(u), u))
        else:
            assert ctx.values_of is not None
            values = ctx.values_of(sorted(uids))
            for u in sorted(values):
                pairs.append((ranking.insert(u, values[u]), u))
        if not pairs:
            return b""
        text = b" ".join(b"%d %d" % (p, u if ctx.uid else self.seq_of(u)) for p, u in pairs)
        return encode.esearch(ctx.tag, ctx.uid, [(name, b"(" + text + b")")])

    def _removed(self, doomed: set[int]) -> bytes:
        """REMOVEFROM for expunged messages, for each search that had them."""
        out = b""
        for ctx in self.contexts.values():
            gone = ctx.result & doomed
            if gone:
                out += self._news(ctx, "REMOVEFROM", gone)
                ctx.result -= gone
        return out

    def _rematched(self, touched: list[int]) -> bytes:
        """ADDTO and REMOVEFROM for new and changed messages that a search now finds, or no
        longer finds, asking each search again about those messages only."""
        if not touched or not self.contexts:
            return b""
        match = self.match
        assert match is not None  # (set with the first search kept)
        out = b""
        for ctx in self.contexts.values():
            matching = match(ctx.key, touched)
            removed = {u for u in touched if u in ctx.result and u not in matching}
            added = matching - ctx.result
            if removed:
                out += self._news(ctx, "REMOVEFROM", removed)
                ctx.result -= removed
            if added:
                out += self._news(ctx, "ADDTO", added)
                ranking = ctx.ranking
                ctx.result |= added if ranking is None else {u for u in added if u in ranking}
        return out
