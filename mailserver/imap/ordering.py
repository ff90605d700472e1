"""The selected-state commands that order what they find: SORT (RFC 5256, RFC 5957, ESORT and
CONTEXT=SORT of RFC 5267) and THREAD (RFC 5256, and Dovecot's REFS), against the session's
View. The search itself, the saved and kept results and the answers are selected.py's; this
module reads what the ordering needs from the index, as little and in as few queries as it
can, and keeps the THREAD answers of whole mailboxes (`THREADS`)."""

from __future__ import annotations

import gc
import hashlib
from array import array
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from mailserver.imap import selected, sorting, threads
from mailserver.imap.actions import Action, Send
from mailserver.imap.search import All
from mailserver.imap.search_commands import Sort, Thread
from mailserver.imap.selected import Reply
from mailserver.imap.view import View
from mailserver.message.summary import Summary
from mailserver.store import MessageMeta, UserStore

__all__ = ["THREADS", "sort", "thread"]

THREADS = threads.Answers(entries=32, octets=32 << 20)


def _values_by_uid(
    view: View, uids: list[int], criteria: Sequence[sorting.Criterion]
) -> dict[int, tuple[int | str, ...]]:
    """The sort values of messages (those still in the store), by UID."""
    present, columns = _sort_values(view, uids, criteria)
    return {u: tuple(c[i] for c in columns) for i, u in enumerate(present)}


def sort(view: View, cmd: Sort) -> Reply:
    """SORT / UID SORT (RFC 5256, RFC 5957): `* SORT` with the found messages in the order
    of the criteria (sorting.py), with `(MODSEQ n)` after a search with a MODSEQ key. The
    values come from `_sort_values`; only they are kept, one list per criterion."""
    if cmd.tag in view.contexts:  # RFC 5267 §4.3
        return [], selected._bad(cmd.tag, f"tag {cmd.tag[:40]} names a search kept up to date")
    key = selected._resolved(view, cmd.key)
    criteria = sorting.effective(cmd.criteria)
    metas: Mapping[int, MessageMeta] = {}
    if isinstance(key, All):  # SORT's usual search: every message, nothing to test
        uids: Sequence[int] = view.uids
    else:
        found, metas = selected._found(view, key)
        uids = [c.uid for c in found]
    with _no_cycle_collection():  # a tuple or two per message, all kept until the answer
        whole = _whole_mailbox_keys(view, criteria) if isinstance(key, All) else None
        present, columns = whole or _sort_values(view, uids, criteria)
        positions = sorting.positions(columns, criteria)
        ordered = [present[i] for i in positions]
    numbers = ordered if cmd.uid else [view.seq_of(u) for u in ordered]
    refused: list[Action] = []
    if cmd.returns is not None and "UPDATE" in cmd.returns:
        members = [(present[i], tuple(c[i] for c in columns)) for i in positions]
        ranking = sorting.Ranking(criteria, members)
        refused = selected._keep_updated(
            view, cmd, key, set(ordered), ranking, lambda u: _values_by_uid(view, u, criteria)
        )
    if cmd.returns is not None and "SAVE" in cmd.returns:
        selected._save(view, cmd.returns, ordered, cmd.partial)
    modseq = None
    if selected.uses_modseq(cmd.key):  # (a MODSEQ key reads the index data of every message)
        modseq = max((metas[u].modseq for u in ordered), default=None)
    actions, tagged = selected._answer(cmd, numbers, modseq, "SORT")
    return [*actions, *refused], tagged


def _whole_mailbox_keys(
    view: View, criteria: Sequence[sorting.Criterion]
) -> tuple[list[int], list[list[int | str]]] | None:
    """`_sort_values` of every message, the usual SORT (... ALL by keys the index keeps), in
    one pass over the index's rows: when they are exactly the messages the session sees, each
    with its keys and a sent date; else None (`_sort_values` then reads them message by
    message)."""
    names = [c.key for c in criteria]
    if not all(n in sorting.KEY_COLUMNS for n in names):
        return None
    columns = [sorting.KEY_COLUMNS[n] for n in names]
    rows = view.store.sort_key_rows(view.name, columns)
    uids = [r[0] for r in rows]
    if len(uids) != len(view.uids) or array("I", uids) != view.uids:
        return None
    out: list[list[int | str]] = [[r[i] for r in rows] for i in range(1, len(columns) + 1)]
    if "DATE" in names and None in out[names.index("DATE")]:
        return None
    return uids, out


def _sort_values(
    view: View, uids: Sequence[int], criteria: Sequence[sorting.Criterion]
) -> tuple[list[int], list[list[int | str]]]:
    """The messages of `uids` (ascending) still in the store, and each criterion's values for
    them, in that order. Ready-to-compare keys come from the index's covering index in one
    scan (`sort_keys`: DATE and the string keys casemapped at delivery); ARRIVAL and SIZE from
    the message rows in one query. A message without cached keys (summarized before the index
    kept them, or never), and DISPLAYFROM/DISPLAYTO (no column), take the slower road: the
    SORT columns or the summaries, a batch at a time, mapped here. A message that is in
    neither the summaries nor the message rows was expunged meanwhile, and is not answered."""
    store = view.store
    names = [c.key for c in criteria]
    columns = [sorting.KEY_COLUMNS[n] for n in names if n in sorting.KEY_COLUMNS]
    cached: dict[int, tuple[Any, ...]] = {}
    if uids and not {"DISPLAYFROM", "DISPLAYTO"} & set(names):
        cached = store.sort_keys(view.name, uids, columns)
    slow = [u for u in uids if u not in cached]
    undated: list[int] = []
    if "DATE" in names:
        at = columns.index("date")
        undated = [u for u, row in cached.items() if row[at] is None]
    arrived: dict[int, tuple[int, int]] = {}
    if {"ARRIVAL", "SIZE"} & set(names):
        arrived = store.arrivals(view.name)
    elif slow or undated:
        arrived = {m.uid: (m.internaldate, m.size) for m in store.fetch(view.name, slow + undated)}
    fields = _sort_fields(store, view.name, [u for u in slow if u in arrived], set(names))
    # (a message with cached keys whose index data is needed but gone: expunged meanwhile)
    gone = {u for u in undated if u not in arrived}
    if {"ARRIVAL", "SIZE"} & set(names):
        gone |= {u for u in cached if u not in arrived}
    present = [u for u in uids if (u in cached and u not in gone) or u in fields]
    out: list[list[int | str]] = []
    for name in names:
        if name in ("ARRIVAL", "SIZE"):
            i = 0 if name == "ARRIVAL" else 1
            out.append([arrived[u][i] for u in present])
            continue
        col = columns.index(sorting.KEY_COLUMNS[name]) if name in sorting.KEY_COLUMNS else -1
        if col >= 0 and not fields and not undated:  # (the usual case: every key cached)
            out.append([cached[u][col] for u in present])
            continue
        values: list[int | str] = []
        for u in present:
            row = cached.get(u)
            if row is None or col < 0:
                date, size = arrived[u]
                values.append(sorting.value(name, date, size, fields[u]))
            elif row[col] is None:  # DATE of a message without a sent date: its arrival
                values.append(arrived[u][0])
            else:
                values.append(row[col])
        out.append(values)
    return present, out


def _sort_fields(
    store: UserStore, mailbox: str, uids: list[int], names: set[str]
) -> dict[int, sorting.Fields]:
    """The header Fields of messages SORT has no cached keys for: from the index's SORT
    columns in one query when the keys have columns, else (and for messages without) from
    their summaries, read a batch at a time."""
    fields: dict[int, sorting.Fields] = {}
    if uids and names - {"ARRIVAL", "SIZE"} and names <= sorting.COLUMN_KEYS:
        rows = store.sort_columns(mailbox, uids)
        fields = {uid: sorting.Fields(*row) for uid, row in rows.items()}
    known = list(fields)
    unread = [u for u in uids if u not in fields]
    for at in range(0, len(unread), selected.BATCH):
        summaries = store.summaries(mailbox, unread[at : at + selected.BATCH])
        for uid in unread[at : at + selected.BATCH]:
            summary = summaries.get(uid)
            fields[uid] = sorting.fields_of(summary)
            if summary is not None:
                known.append(uid)
    # what was computed here is kept: the next SORT reads the keys (schema 6's columns)
    store.set_sort_keys(mailbox, {u: sorting.string_keys(fields[u]) for u in known})
    return fields


def thread(view: View, cmd: Thread) -> Reply:
    """THREAD / UID THREAD (RFC 5256): `* THREAD` with the found messages in threads by the
    algorithm asked for (threads.py). The sent dates, base subjects (casemapped at delivery)
    and message ids come from the index's THREAD columns in one query; for a message with none
    cached, from its summary, read a batch at a time; the internal dates, only for the
    messages without a sent date. Only what THREAD needs of each message is kept. A THREAD
    ... ALL runs no search."""
    key = selected._resolved(view, cmd.key)
    metas: Mapping[int, MessageMeta] = {}
    kept = None
    if isinstance(key, All):
        # (the answer depends on nothing else: a message's headers and dates never change)
        seen = hashlib.blake2b(view.uids.tobytes(), digest_size=16).digest()
        kept = (view.store.home, view.name, view.uidvalidity, cmd.algorithm, cmd.uid, seen)
        answer = THREADS.get(kept)
        if answer is not None:
            return [Send(data=answer)], selected._ok(cmd.tag, "THREAD completed")
        numbered: list[tuple[int, int]] = list(enumerate(view.uids, 1))
    else:
        found, metas = selected._found(view, key)
        numbered = [(c.seq, c.uid) for c in found]
    store = view.store
    uids = [u for _, u in numbered]
    rows = store.thread_columns(view.name, uids) if uids else {}
    unread = [u for u in uids if u not in rows]
    for at in range(0, len(unread), selected.BATCH):
        summaries = store.summaries(view.name, unread[at : at + selected.BATCH])
        for uid in unread[at : at + selected.BATCH]:
            rows[uid] = _thread_row(summaries.get(uid))
        # the keys computed are kept (schema 6's columns), for SORT and the next THREAD
        keys = {u: sorting.string_keys(sorting.fields_of(s)) for u, s in summaries.items()}
        store.set_sort_keys(view.name, keys)
    # the internal date is the sent date of a message without one (RFC 5256 §2.2); a message
    # that has neither was expunged since the search, and is not answered
    undated = [u for u in uids if rows[u][0] is None and u not in metas]
    if undated:
        metas = {**metas, **{m.uid: m for m in store.fetch(view.name, undated)}}
    make = threads.Threadable
    messages = []
    for seq, uid in numbered:
        date, subject, reply, message_id, in_reply_to, refs = rows[uid]
        if date is None:
            meta = metas.get(uid)
            if meta is None:
                continue
            date = meta.internaldate
        ids = tuple(refs.split()) or ((in_reply_to,) if in_reply_to else ())
        messages.append(make(seq, uid, date, subject, bool(reply), message_id or None, ids))
    with _no_cycle_collection():  # a Node per message, linked both ways: no garbage made
        out = threads.encode(threads.thread(cmd.algorithm, messages), cmd.uid)
    if kept is not None and len(messages) == len(numbered):  # (none expunged meanwhile)
        THREADS.put(kept, out)
    return [Send(data=out)], selected._ok(cmd.tag, "THREAD completed")


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """The cyclic garbage collector paused while a block makes many objects that all live on
    (it would walk them again and again, for nothing: a third of a 100,000-message THREAD)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _thread_row(
    summary: Summary | None,
) -> tuple[int | None, str, bool, str | None, str | None, str]:
    """A message's THREAD columns from its Summary (None: unreadable, threaded as a message
    with no headers), as the index keeps them (the base subject casemapped)."""
    if summary is None:
        return None, "", False, None, None, ""
    ids = summary.message_id, summary.in_reply_to
    message_id, in_reply_to = (None if i is None else i.decode("latin-1") for i in ids)
    refs = " ".join(r.decode("latin-1") for r in summary.references)
    subject = sorting.casemap(summary.base_subject)
    return summary.sent, subject, summary.is_reply, message_id, in_reply_to, refs
