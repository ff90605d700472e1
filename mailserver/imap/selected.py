"""The selected-state commands: SELECT/EXAMINE's answer, FETCH, STORE, SEARCH, COPY, MOVE,
EXPUNGE, UID EXPUNGE and CLOSE's silent expunge, against the session's View.

Each command function returns (actions, tagged line): the session appends the mailbox's
updates before the tagged line (view.py says which). A FETCH returns its tagged line as None:
it streams, and its stream ends with the updates and the tagged line itself.
FETCH rendering and SEARCH evaluation are fetching.py's and searching.py's; this module
resolves the sets, reads the store, sets \\Seen and numbers the answers.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from dataclasses import replace
from typing import TypeVar

from mailserver.imap import encode, fetching, mailboxes, qresync, searching, sorting
from mailserver.imap.actions import Action, Notify, Send, Stream
from mailserver.imap.commands import (
    Copy,
    Expunge,
    Fetch,
    Resync,
    Select,
    Store,
)
from mailserver.imap.fetchatt import FetchItem
from mailserver.imap.search import (
    ModSeqKey,
    SearchKey,
    SeqKey,
    any_leaf,
    dated,
    map_leaves,
)
from mailserver.imap.search_commands import CancelUpdate, Search, Sort
from mailserver.imap.seqset import Ranges, SeqSet, compact, runs
from mailserver.imap.view import KEPT, MAX_CONTEXTS, MAX_KEPT, MAX_KEPT_ALL, Context, Valuer, View
from mailserver.message import Message, UnknownEncoding
from mailserver.message.summary import Summary
from mailserver.store import MessageMeta, StoreError, UserStore
from mailserver.store.errors import NONEXISTENT

__all__ = [
    "CHUNK",
    "close",
    "copy",
    "expunge",
    "fetch",
    "search",
    "select",
    "store",
    "uses_modseq",
]

CHUNK = 64 * 1024  # a FETCH stream's chunks are about this big
T = TypeVar("T")
BATCH = 100  # messages whose summaries are read from the index at once
#: The last THREAD ... ALL answers, shared by every session of this process (threads.Answers).
SUBJECT_BATCH = 5000  # messages whose subject texts SEARCH reads at once
EAGER = 256  # a metadata-only FETCH of at most this many messages is one Send

Reply = tuple[list[Action], bytes | None]


def _ok(tag: str, text: str, code: bytes | None = None) -> bytes:
    return encode.tagged(tag, "OK", text, code)


def _no(tag: str, text: str, code: bytes | None = None) -> bytes:
    return encode.tagged(tag, "NO", text, code)


def _bad(tag: str, text: str) -> bytes:
    return encode.tagged(tag, "BAD", text)


READ_ONLY = "the mailbox is read-only (EXAMINE)"
GONE = "some of the messages were expunged"


# -- SELECT ----------------------------------------------------------------------------------


def select(
    store: UserStore, cmd: Select, condstore: bool, qresync: bool, rev2: bool
) -> tuple[View, bytes]:
    """Open the mailbox (StoreError if it cannot be) and SELECT/EXAMINE's whole answer; with
    the QRESYNC parameter, what changed since the client's MODSEQ before the tagged OK. Under
    IMAP4rev2 (RFC 9051 §6.3.2): the mailbox's LIST line, and no RECENT nor [UNSEEN n]."""
    snap = store.select(cmd.mailbox, readonly=cmd.readonly)
    view = View(store, snap, readonly=cmd.readonly, condstore=condstore, qresync=qresync, rev2=rev2)
    out = view.flags_lines()
    out += view.exists_lines()
    if rev2:
        use = store.mailbox(snap.name).special_use
        out += encode.list_response("LIST", [use] if use else [], "/", snap.name, utf8=True)
    elif snap.first_unseen is not None and view.has(snap.first_unseen):
        out += encode.untagged_status(
            "OK", "First unseen", encode.code("UNSEEN", view.seq_of(snap.first_unseen))
        )
    out += encode.untagged_status("OK", "UIDs valid", encode.code("UIDVALIDITY", view.uidvalidity))
    out += encode.untagged_status("OK", "Predicted next UID", encode.code("UIDNEXT", view.uidnext))
    out += encode.untagged_status("OK", "Highest", encode.code("HIGHESTMODSEQ", view.modseq))
    if cmd.qresync is not None and cmd.qresync.uidvalidity == view.uidvalidity:
        out += _resynced(view, cmd.qresync)  # (another UIDVALIDITY: a plain SELECT, §3.2.5)
    mode = "READ-ONLY" if cmd.readonly else "READ-WRITE"
    out += _ok(cmd.tag, f"{cmd.name} completed", encode.code(mode))
    return view, out


def _resynced(view: View, param: Resync) -> bytes:
    """QRESYNC's part of SELECT's answer (RFC 7162 §3.2.5): `* VANISHED (EARLIER) uids` for
    the known messages expunged since the client's MODSEQ (qresync.py), then `* n FETCH (UID u
    MODSEQ (m) FLAGS (...))` for each known message changed or added since. Both as of the
    view's snapshot: what happened after it is told as updates, as in any session."""
    known = qresync.known_uids(param.known, view.uidnext)
    floor = qresync.matched_below(view.uids, param.match)
    out = _vanished_earlier(view, known, param.modseq, floor)
    changed = view.store.changed_since(view.name, param.modseq)
    return out + b"".join(
        [
            view.flag_fetch(m)
            for m in changed
            if m.modseq <= view.modseq and m.uid in known and view.has(m.uid)
        ]
    )


def _vanished_earlier(view: View, known: Ranges, since: int, floor: int = 0) -> bytes:
    """`* VANISHED (EARLIER) uids` for the UIDs of `known` expunged since MODSEQ `since`
    (qresync.vanished, from the store's expunge log), or b"" for none."""
    logged = view.store.expunged_since(view.name, since)
    gone = qresync.vanished(view.uids, view.uidnext, known, logged, floor)
    return b"* VANISHED (EARLIER) " + gone.to_bytes() + b"\r\n" if gone else b""


# -- FETCH -----------------------------------------------------------------------------------


def fetch_items(cmd: Fetch) -> tuple[FetchItem, ...]:
    """The items a FETCH answers: UID first for UID FETCH (RFC 3501 §6.4.8). The MODSEQ that
    CHANGEDSINCE asks for (RFC 7162 §3.1.4.1) comes as with every FETCH once CONDSTORE is on
    (the Plan adds it), and the session turns CONDSTORE on for a CHANGEDSINCE first."""
    if cmd.uid and "UID" not in {i.name for i in cmd.items}:
        return (FetchItem("UID"), *cmd.items)
    return cmd.items


def fetch(view: View, cmd: Fetch, expunges: bool) -> Reply:
    """FETCH / UID FETCH; the tagged line comes at the end of the stream (None here)."""
    store = view.store
    items = fetch_items(cmd)
    uids = view.resolve(cmd.seqset, cmd.uid)
    metas = {m.uid: m for m in store.fetch(view.name, uids)}
    missing = len(metas) < len(uids)
    actions: list[Action] = []
    if cmd.vanished and cmd.changedsince is not None:  # QRESYNC (RFC 7162 §3.2.6)
        asked = (  # (`*` reaches past the last message now: to the last UID given)
            Ranges.merge((u, u) for u in view.saved)
            if cmd.seqset.saved
            else cmd.seqset.resolve_uid(view.uidnext - 1)
        )
        earlier = _vanished_earlier(view, asked, cmd.changedsince)
        if earlier:
            actions.append(Send(data=earlier))
    if cmd.changedsince is not None:
        since = cmd.changedsince
        uids = [u for u in uids if u in metas and metas[u].modseq > since]
    seen: frozenset[int] = frozenset()
    if fetching.sets_seen(items) and not view.readonly:
        unseen = [u for u in uids if u in metas and "\\Seen" not in metas[u].flags]
        if unseen:
            result = store.store(view.name, unseen, "add", ["\\Seen"])
            for m in result.messages:
                metas[m.uid] = m
            for u in result.changed:
                view.own[u] = result.modseq
            seen = result.changed
            if seen:
                actions.append(Notify(mailbox=view.name))
    wanted = [u for u in uids if u in metas]
    chunks = _render(view, cmd.tag, items, wanted, metas, seen, missing, expunges)
    needs_files = fetching.needs_message(items) or fetching.needs_summary(items)
    if not needs_files and len(wanted) <= EAGER:
        actions.append(Send(data=b"".join(chunks)))
    else:
        actions.append(Stream(chunks=chunks))
    return actions, None


def _render(
    view: View,
    tag: str,
    items: tuple[FetchItem, ...],
    uids: list[int],
    metas: dict[int, MessageMeta],
    seen: frozenset[int],
    missing: bool,
    expunges: bool,
) -> Iterator[bytes]:
    """The FETCH responses in chunks of about CHUNK octets, then the updates and the tagged
    line. A message whose file vanished is skipped (NO [EXPUNGEISSUED] at the end), and so is
    one with a part whose transfer encoding BINARY cannot take off (NO [UNKNOWN-CTE], RFC
    3516); a store failure ends the answer with NO [SERVERBUG] (there is no one to raise to)."""
    store = view.store
    need_summary = fetching.needs_summary(items)
    need_message = fetching.needs_message(items)
    asked_flags = any(i.name == "FLAGS" for i in items)
    asked_uid = any(i.name == "UID" for i in items)
    plan = fetching.Plan(items, rev2=view.rev2)
    buf: list[bytes] = []
    size = 0
    undecoded: UnknownEncoding | None = None
    try:
        for start in range(0, len(uids), BATCH):
            batch = uids[start : start + BATCH]
            summaries = _summaries(store, view.name, batch) if need_summary else {}
            files = store.message_files(view.name, batch) if need_message else {}
            for uid in batch:
                summary = summaries.get(uid)
                message = None
                if need_message or (
                    need_summary and (summary is None or fetching.rereads(items, summary))
                ):
                    try:
                        message = Message(store.read_file(view.name, uid, files.get(uid)))
                    except StoreError as e:
                        if e.code != NONEXISTENT:
                            raise
                        missing = True
                        continue
                meta = metas[uid]
                shown = meta  # with the flags this session shows: \\Recent added if it has it
                if uid in view.recent:
                    shown = replace(meta, flags=view.flags_of(meta))
                if plan.index_only:  # (these items never set \\Seen: `seen` is empty)
                    line = plan.index_line(view.seq_of(uid), shown, view.condstore)
                else:
                    try:
                        pairs = plan.values(
                            shown, summary=summary, message=message, modseq=view.condstore
                        )
                    except UnknownEncoding as e:
                        undecoded = e
                        continue
                    if uid in seen and not asked_flags:
                        pairs.append((b"FLAGS", encode.flags(shown.flags)))
                    if uid in seen and view.qresync and not asked_uid:  # (RFC 7162)
                        pairs.insert(0, (b"UID", uid))
                    line = encode.fetch(view.seq_of(uid), pairs)
                buf.append(line)
                size += len(line)
                if size >= CHUNK:
                    yield b"".join(buf)
                    buf, size = [], 0
        tail = view.updates(expunges=expunges)
    except (StoreError, OSError) as e:
        tail = _no(tag, f"FETCH failed: {e}", b"SERVERBUG")
    except Exception as e:  # a bug; the stream has no one to raise to
        tail = _no(tag, f"internal server error: {type(e).__name__}", b"SERVERBUG")
    else:
        if missing:
            tail += _no(tag, GONE, b"EXPUNGEISSUED")
        elif undecoded is not None:
            tail += _no(tag, str(undecoded), b"UNKNOWN-CTE")
        else:
            tail += _ok(tag, "FETCH completed", view.modseq_code())
    buf.append(tail)
    yield b"".join(buf)


def _summaries(store: UserStore, mailbox: str, uids: list[int]) -> dict[int, Summary]:
    """The cached summaries of `uids` (those the index has and that read back)."""
    return store.summaries(mailbox, uids)


# -- STORE -----------------------------------------------------------------------------------

_MODES = {"": "set", "+": "add", "-": "remove"}


def store(view: View, cmd: Store) -> Reply:
    """STORE / UID STORE, with .SILENT and UNCHANGEDSINCE (MODIFIED)."""
    if view.readonly:
        return [], _no(cmd.tag, READ_ONLY)
    named = view.resolve(cmd.seqset, cmd.uid)
    uids = [u for u in named if u not in view.gone]
    result = view.store.store(view.name, uids, _MODES[cmd.mode], cmd.flags, cmd.unchangedsince)
    for u in result.changed:
        view.own[u] = result.modseq
    actions: list[Action] = [Notify(mailbox=view.name)] if result.changed else []
    failed = set(result.failed)
    done = [m for m in result.messages if m.uid not in failed]
    out = view.new_keywords(done)
    uid = cmd.uid or view.qresync  # QRESYNC: UID in every FETCH a change causes (RFC 7162)
    if not cmd.silent:
        out += b"".join([view.flag_fetch(m, uid=uid) for m in done])
    elif cmd.unchangedsince is not None or view.qresync:  # (.SILENT: the MODSEQ still)
        out += b"".join([view.flag_fetch(m, uid=uid, flags=False) for m in done])
    actions.append(Send(data=out))
    if len(result.messages) < len(named):  # expunged, known to the view or not yet
        return actions, _no(cmd.tag, GONE, b"EXPUNGEISSUED")
    if failed:
        numbers = sorted(failed) if cmd.uid else sorted(view.seq_of(u) for u in failed)
        modified = encode.code("MODIFIED", compact(numbers))
        return actions, _ok(cmd.tag, "Conditional STORE failed for some messages", modified)
    return actions, _ok(cmd.tag, "STORE completed")


# -- SEARCH ----------------------------------------------------------------------------------


def uses_modseq(key: SearchKey) -> bool:
    """Whether a search key tree has a MODSEQ key (a CONDSTORE-enabling SEARCH)."""
    return any_leaf(key, lambda k: isinstance(k, ModSeqKey))


def search(view: View, cmd: Search) -> Reply:
    """SEARCH / UID SEARCH, as `* SEARCH` or, with RETURN, `* ESEARCH` (RFC 4731); with
    RETURN (UPDATE), kept up to date afterwards (RFC 5267 §4.3, view.py)."""
    if cmd.tag in view.contexts:  # RFC 5267 §4.3
        return [], _bad(cmd.tag, f"tag {cmd.tag[:40]} names a search kept up to date")
    key = _resolved(view, cmd.key)  # (an UPDATE keeps the `$` of now)
    found, metas = _found(view, key)
    numbers = [c.uid if cmd.uid else c.seq for c in found]
    modseq = None
    if uses_modseq(cmd.key):  # a MODSEQ key reads index data: `metas` has every message
        modseq = max((metas[c.uid].modseq for c in found), default=None)
    refused: list[Action] = []
    if cmd.returns is not None and "UPDATE" in cmd.returns:
        refused = _keep_updated(view, cmd, key, {c.uid for c in found})
    if cmd.returns is not None and "SAVE" in cmd.returns:
        _save(view, cmd.returns, [c.uid for c in found], cmd.partial)
    actions, tagged = _answer(cmd, numbers, modseq, "SEARCH")
    return [*actions, *refused], tagged


def _keep_updated(
    view: View,
    cmd: Search | Sort,
    key: SearchKey,
    result: set[int],
    ranking: sorting.Ranking | None = None,
    values_of: Valuer | None = None,
) -> list[Action]:
    """Keep a SEARCH or SORT up to date (RETURN (UPDATE)): nothing to say, or `* NO
    [NOUPDATE "tag"]` (RFC 5267 §4.3.1 lets a server refuse) when the session keeps
    MAX_CONTEXTS already, or when this one would take the session's searches past MAX_KEPT
    messages or every session's past MAX_KEPT_ALL. Its sequence and UID sets are the messages
    they name now (§4.3: evaluated when the command came). A SORT's result is kept in order
    (`ranking`), and the values of the messages that join it are read by `values_of`."""
    cost = len(result) * (1 if ranking is None else 2)
    why = None
    if len(view.contexts) >= MAX_CONTEXTS:
        why = f"{MAX_CONTEXTS} searches are kept up to date already"
    elif sum(c.cost for c in view.contexts.values()) + cost > MAX_KEPT:
        why = f"the searches kept up to date would hold over {MAX_KEPT} messages"
    elif sum(c.cost for c in list(KEPT)) + cost > MAX_KEPT_ALL:
        why = "the server keeps as many searches up to date as it can"
    if why is not None:
        tag = encode.string(cmd.tag.encode())
        return [Send(data=encode.untagged_status("NO", why, encode.code("NOUPDATE", tag)))]
    if view.match is None:
        view.match = lambda k, uids: {c.uid for c in _found(view, k, uids)[0]}
    frozen = map_leaves(key, lambda k: _as_uids(view, k) if isinstance(k, SeqKey) else k)
    context = Context(cmd.tag, cmd.uid, frozen, result, cost=cost)
    context.ranking, context.values_of = ranking, values_of
    view.contexts[cmd.tag] = context
    KEPT.add(context)
    return []


def _as_uids(view: View, key: SeqKey) -> SeqKey:
    """A sequence set or UID set key as the UIDs it names now (numbers past the end name
    nothing, as in a search)."""
    if key.uid:
        return _uid_key(view.resolve(key.seqset, True))
    named: list[int] = []  # (clamped, where View.resolve refuses numbers past the end)
    for a, b in key.seqset.resolve_uid(view.exists).spans:
        named.extend(view.uids[a - 1 : b])
    return _uid_key(named)


def _uid_key(uids: list[int]) -> SeqKey:
    """The search key of exactly these UIDs (ascending)."""
    return SeqKey(SeqSet(tuple(runs(uids))), uid=True)


def cancel_update(view: View, cmd: CancelUpdate) -> Reply:
    """CANCELUPDATE (RFC 5267 §4.3): those searches are no longer kept up to date; NO, and
    none cancelled, when one of the tags names none."""
    unknown = [t for t in cmd.tags if t not in view.contexts]
    if unknown:
        return [], _no(cmd.tag, f"no search of tag {unknown[0][:40]} is kept up to date")
    for t in cmd.tags:
        del view.contexts[t]
    return [], _ok(cmd.tag, "CANCELUPDATE completed")


def _save(
    view: View, returns: frozenset[str], ordered: list[int], partial: tuple[int, int] | None
) -> None:
    """SAVE (RFC 5182 §2.1): the result becomes `$`, the saved search result: all of it; only
    PARTIAL's window of it when that is asked for (RFC 9394 §3.2); or, when MIN or MAX are the
    only other options, only those messages (the first and last in `ordered`, which is the sort
    order for SORT)."""
    kept = ordered
    if partial is not None:
        kept = ordered[partial[0] - 1 : partial[1]]
    elif returns & {"MIN", "MAX"} and not returns & {"ALL", "COUNT"}:
        ends = [ordered[0]] if ordered and "MIN" in returns else []
        kept = ends + ([ordered[-1]] if ordered and "MAX" in returns else [])
    view.saved = sorted(set(kept))


def _resolved(view: View, key: SearchKey) -> SearchKey:
    """A command's search program as it runs now: `$` the saved result's UIDs, OLDER and
    YOUNGER counted back from the store's clock."""
    return dated(_without_saved(view, key), view.store.clock())


def _saved_is_in(key: SearchKey) -> bool:
    return isinstance(key, SeqKey) and key.seqset.saved


def _without_saved(view: View, key: SearchKey) -> SearchKey:
    """A search program with `$` (RFC 5182) made the UID set of the saved result."""
    if not any_leaf(key, _saved_is_in):
        return key
    saved = _uid_key(view.saved_uids())
    return map_leaves(key, lambda k: saved if _saved_is_in(k) else k)


def _found(
    view: View, key: SearchKey, only: list[int] | None = None
) -> tuple[list[searching.Candidate], dict[int, MessageMeta]]:
    """The view's messages that `key` matches (in mailbox order), and the index data of every
    message when it was read (else {}); with `only` (UIDs, ascending), among those only. The
    key has no `$` (`_resolved`)."""
    store = view.store
    masks = searching.flag_masks(key)
    recent = view.recent
    numbered: Iterable[tuple[int, int]] = enumerate(view.uids, 1)
    if only is not None:
        numbered = [(view.seq_of(u), u) for u in only if view.has(u)]
    if masks is not None:  # SEARCH UNSEEN and the like: the index finds them in one query
        flagged = store.uids_flagged(view.name, masks)
        return [searching.Candidate(i, u, u in recent) for i, u in numbered if u in flagged], {}
    # the index data of every message when a key reads it (one query); else only which of
    # the view's messages the index still has, at a quarter of the cost
    metas: dict[int, MessageMeta] = {}
    present: Container[int]
    if searching.needs_meta(key):
        metas = {m.uid: m for m in store.fetch(view.name, only)}
        present = metas
    else:
        present = set(store.uids(view.name))
    candidates = [
        searching.Candidate(i, u, u in recent)
        for i, u in numbered
        if u in present  # not expunged (whether the client knows yet or not)
    ]
    load_summary, load_subject, load_message = _loaders(
        store, view.name, [c.uid for c in candidates]
    )
    found = searching.search(
        key,
        candidates,
        load_meta=metas.__getitem__,
        load_summary=load_summary,
        load_subject=load_subject,
        load_message=load_message,
        max_seq=view.exists,
        max_uid=view.max_uid,
    )
    return found, metas


def _answer(cmd: Search | Sort, numbers: list[int], modseq: int | None, name: str) -> Reply:
    """The answer to a SEARCH or SORT that found `numbers`, in mailbox order or the sort order
    (with MODSEQ `modseq` when it had a MODSEQ key): `* SEARCH` / `* SORT`, nothing but the
    tagged OK for SAVE alone (RFC 5182 §2.1), else `* ESEARCH` (RFC 4731; for SORT, ESORT's,
    RFC 5267 §3.1: MIN and MAX the first and last in sort order, ALL in that order)."""
    done = _ok(cmd.tag, f"{name} completed")
    if cmd.returns is None:
        out = encode.search(numbers, modseq, name=name.encode())
    elif cmd.returns == {"SAVE"}:
        return [], done
    else:
        out = _esearch(cmd.tag, cmd.uid, cmd.returns, numbers, modseq, cmd.partial)
    return [Send(data=out)], done


def _esearch(
    tag: str,
    uid: bool,
    returns: frozenset[str],
    ordered: list[int],
    modseq: int | None,
    partial: tuple[int, int] | None = None,
) -> bytes:
    """`* ESEARCH` for the return options asked, from the numbers found in `ordered` order
    (ascending for SEARCH, the sort order for SORT): MIN the first, MAX the last, ALL that
    order with ascending runs as ranges (seqset.compact), PARTIAL the range of positions asked
    and the numbers at those positions, so compacted, or NIL for none (RFC 5267 §4.4)."""
    results: list[tuple[str, int | bytes]] = []
    if ordered and "MIN" in returns:
        results.append(("MIN", ordered[0]))
    if ordered and "MAX" in returns:
        results.append(("MAX", ordered[-1]))
    if "COUNT" in returns:
        results.append(("COUNT", len(ordered)))
    if ordered and "ALL" in returns:
        results.append(("ALL", compact(ordered)))
    if partial is not None:
        first, last = partial
        window = compact(ordered[first - 1 : last]) or b"NIL"
        results.append(("PARTIAL", b"(%d:%d %s)" % (first, last, window)))
    if modseq is not None:
        results.append(("MODSEQ", modseq))
    return encode.esearch(tag, uid, results)


def _loaders(
    store: UserStore, mailbox: str, uids: list[int]
) -> tuple[Callable[[int], Summary | None], Callable[[int], str | None], Callable[[int], Message]]:
    """SEARCH's loaders. Summaries, subject texts and where message files are, are read a
    batch at a time from the one asked for on (searching.py asks in candidate order), the
    previous batch dropped: one index query per batch instead of one (or four) per message,
    memory bounded. Subject texts are small: SUBJECT_BATCH of them at once."""

    def batched(
        read: Callable[[list[int]], Mapping[int, T]], size: int
    ) -> Callable[[int], T | None]:
        held: dict[int, T | None] = {}

        def get(uid: int) -> T | None:
            if uid not in held:
                held.clear()
                at = bisect_left(uids, uid)
                wanted = uids[at : at + size]  # uid is one of the candidates
                held.update(dict.fromkeys(wanted))
                held.update(read(wanted))
            return held.get(uid)

        return get

    load_summary = batched(lambda wanted: store.summaries(mailbox, wanted), BATCH)
    load_subject = batched(lambda wanted: store.subject_texts(mailbox, wanted), SUBJECT_BATCH)
    where = batched(lambda wanted: store.message_files(mailbox, wanted), BATCH)

    def load_message(uid: int) -> Message:
        return Message(store.read_file(mailbox, uid, where(uid)))

    return load_summary, load_subject, load_message


# -- COPY, MOVE, EXPUNGE, CLOSE --------------------------------------------------------------


def copy(view: View, cmd: Copy) -> Reply:
    """COPY / MOVE and their UID forms, with COPYUID (RFC 4315) and MOVE's EXPUNGEs."""
    move = cmd.name == "MOVE"
    uids = view.resolve(cmd.seqset, cmd.uid)
    if any(u in view.gone for u in uids):
        return [], _no(cmd.tag, GONE, b"EXPUNGEISSUED")
    if move and view.readonly:
        return [], _no(cmd.tag, READ_ONLY)
    try:
        view.store.mailbox(cmd.mailbox)
    except StoreError as e:
        if e.code != NONEXISTENT:
            raise
        return [], _no(cmd.tag, f"no mailbox {cmd.mailbox!r}", b"TRYCREATE")
    transfer = view.store.move if move else view.store.copy
    result = transfer(view.name, uids, cmd.mailbox)
    if not result.mapping:
        return [], _ok(cmd.tag, f"{cmd.name} completed (no messages)")
    actions: list[Action] = [Notify(mailbox=mailboxes.canonical(cmd.mailbox))]
    copyuid = encode.code(
        "COPYUID",
        result.uidvalidity,
        compact(m[0] for m in result.mapping),
        compact(m[1] for m in result.mapping),
    )
    if not move:
        return actions, _ok(cmd.tag, "COPY completed", copyuid)
    actions.append(Notify(mailbox=view.name))
    out = encode.untagged_status("OK", "Moved", copyuid)
    out += view.expunge(m[0] for m in result.mapping)
    actions.append(Send(data=out))
    return actions, _ok(cmd.tag, "MOVE completed")


def expunge(view: View, cmd: Expunge) -> Reply:
    """EXPUNGE, or UID EXPUNGE (UIDPLUS): `* n EXPUNGE` for each message removed."""
    if view.readonly:
        return [], _no(cmd.tag, READ_ONLY)
    only = None if cmd.uids is None else view.resolve(cmd.uids, True)
    gone = view.store.expunge(view.name, only)
    if not gone:
        return [], _ok(cmd.tag, "EXPUNGE completed")
    return [Notify(mailbox=view.name), Send(data=view.expunge(gone))], _ok(
        cmd.tag, "EXPUNGE completed"
    )


def close(view: View) -> list[Action]:
    """CLOSE's silent expunge (none for EXAMINE); a Notify when it removed something."""
    if view.readonly:
        return []
    return [Notify(mailbox=view.name)] if view.store.expunge(view.name) else []
