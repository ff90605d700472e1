"""NOTIFY (RFC 5465): the command, and what a session that asked for events is told.

    NOTIFY NONE
    NOTIFY SET [STATUS] (filter events) ...

A filter names mailboxes: SELECTED and SELECTED-DELAYED the selected one (DELAYED: its
expunges wait for the end of a command, as without NOTIFY), INBOXES (INBOX: the only mailbox
mail is delivered to here), PERSONAL (all of the user's), SUBSCRIBED, SUBTREE m (m and the
mailboxes under it), MAILBOXES m (those). Events: MessageNew (with FETCH items for the
selected mailbox), MessageExpunge, FlagChange, MailboxName, SubscriptionChange; the METADATA
and ANNOTATE ones need extensions this server has not: NO [BADEVENT].

A mailbox is told about by the first group whose filter names it (§6), the selected mailbox
only by a SELECTED group (without one, not at all: §3.1). `Watch` keeps what this session
last told of each mailbox and says what changed, in the forms Dovecot uses: the selected
mailbox's updates come from its View, as in IDLE; another mailbox's new or expunged messages
as `* STATUS name (MESSAGES n UIDNEXT n UNSEEN n)`, a change of its unseen count (FlagChange)
as `(UNSEEN n)`, with HIGHESTMODSEQ under CONDSTORE; NOTIFY SET STATUS says MESSAGES,
UIDNEXT, UIDVALIDITY and UNSEEN of each at once; a mailbox made, removed or renamed is a
`* LIST` (with OLDNAME for a rename: the new name has the old one's UIDVALIDITY), a
subscription changed a `* LIST` with or without \\Subscribed. Own changes are told too (a
SHOULD NOT of §5 that Dovecot does not keep either for names).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from mailserver.imap import encode
from mailserver.imap.command import Command
from mailserver.imap.fetchatt import FetchItem, parse_items
from mailserver.imap.fetching import Plan, needs_message, needs_summary
from mailserver.imap.syntax import Reader
from mailserver.store import StoreError, UserStore

if TYPE_CHECKING:
    from mailserver.imap.view import View

__all__ = [
    "EVENTS",
    "FILTERS",
    "MAX_WATCHED",
    "Counts",
    "EventGroup",
    "Notify",
    "Overflow",
    "Watch",
    "new_fetched",
    "others",
    "parse_notify",
]

#: The events this server can tell, as RFC 5465 spells them.
EVENTS = ("MessageNew", "MessageExpunge", "FlagChange", "MailboxName", "SubscriptionChange")
_UNSUPPORTED = ("AnnotationChange", "MailboxMetadataChange", "ServerMetadataChange")
_BY_UPPER = {e.upper(): e for e in (*EVENTS, *_UNSUPPORTED)}
_MESSAGE_EVENTS = frozenset(("MessageNew", "MessageExpunge", "FlagChange", "AnnotationChange"))
FILTERS = (
    "SELECTED",
    "SELECTED-DELAYED",
    "INBOXES",
    "PERSONAL",
    "SUBSCRIBED",
    "SUBTREE",
    "MAILBOXES",
)
#: The most mailboxes one session watches (a STATUS query each when something changes): more
#: is NO [NOTIFICATIONOVERFLOW] for NOTIFY SET, or `* OK [NOTIFICATIONOVERFLOW]` and the end
#: of the notifications when mailboxes made later go over (RFC 5465 §3.1, §5.8).
MAX_WATCHED = 1000
#: (MESSAGES, UIDNEXT, UIDVALIDITY, UNSEEN, HIGHESTMODSEQ) of a mailbox.
Counts = tuple[int, int, int, int, int]


class Overflow(Exception):
    """More mailboxes than MAX_WATCHED to watch."""


MAX_GROUPS = 64


@dataclass(frozen=True, slots=True)
class EventGroup:
    """`(filter events)`: `mailboxes` for SUBTREE and MAILBOXES, `fetch` MessageNew's items."""

    filter: str
    mailboxes: tuple[str, ...]
    events: frozenset[str]
    fetch: tuple[FetchItem, ...] = ()

    @property
    def selected(self) -> bool:
        return self.filter.startswith("SELECTED")


@dataclass(frozen=True, slots=True, kw_only=True)
class Notify(Command):
    """NOTIFY NONE (`groups` empty, `none`) or NOTIFY SET [STATUS] groups."""

    none: bool = False
    status: bool = False
    groups: tuple[EventGroup, ...] = ()


def parse_notify(r: Reader, tag: str, name: str) -> Notify:
    r.sp()
    word = r.atom("SET or NONE").upper()
    if word == b"NONE":
        return Notify(tag=tag, name=name, none=True)
    if word != b"SET":
        raise r.error("NOTIFY takes SET or NONE")
    r.sp()
    status = False
    if r.peek() != 0x28:
        if r.atom("STATUS or an event group").upper() != b"STATUS":
            raise r.error("expected STATUS or an event group")
        status = True
        r.sp()
    groups = [_group(r)]
    while r.skip(0x20):
        if len(groups) == MAX_GROUPS:
            raise r.error(f"more than {MAX_GROUPS} event groups")
        groups.append(_group(r))
    if sum(g.selected for g in groups) > 1:
        raise r.error("one SELECTED or SELECTED-DELAYED filter at most (RFC 5465 section 6.1)")
    return Notify(tag=tag, name=name, status=status, groups=tuple(groups))


def _group(r: Reader) -> EventGroup:
    """`"(" filter-mailboxes SP events ")"`, the rules of §5 and §6 checked (BAD)."""
    r.expect(0x28, '"(" and an event group')
    kind = r.atom("a filter").decode().upper()  # an atom is ASCII
    if kind not in FILTERS:
        raise r.error(f"unknown NOTIFY filter {kind[:40]}")
    mailboxes: tuple[str, ...] = ()
    if kind in ("SUBTREE", "MAILBOXES"):
        r.sp()
        mailboxes = _mailboxes(r)
    r.sp()
    events: list[str] = []
    fetch: tuple[FetchItem, ...] = ()
    if r.peek() == 0x28:
        r.pos += 1
        while True:
            word = r.atom("an event").decode()
            event = _BY_UPPER.get(word.upper())
            if event is None:
                raise r.error(f"unknown NOTIFY event {word[:40]}")
            events.append(event)
            if event == "MessageNew" and r.data[r.pos : r.pos + 2] == b" (":
                if not kind.startswith("SELECTED"):
                    raise r.error("MessageNew takes FETCH items for the selected mailbox only")
                r.pos += 1
                fetch = parse_items(r)
                if needs_summary(fetch) or needs_message(fetch):
                    raise r.error(
                        "MessageNew takes the FETCH items of the index here: UID, FLAGS,"
                        " INTERNALDATE, RFC822.SIZE, MODSEQ, SAVEDATE"
                    )
            if r.skip(0x29):
                break
            r.sp()
    elif r.atom("events or NONE").upper() != b"NONE":
        raise r.error("expected events or NONE")
    r.expect(0x29, '")" after the events')
    got = frozenset(events)
    if kind.startswith("SELECTED") and got - _MESSAGE_EVENTS:
        raise r.error(f"{kind} takes message events only (RFC 5465 section 6.1)")
    if ("MessageNew" in got) != ("MessageExpunge" in got):
        raise r.error("MessageNew and MessageExpunge go together (RFC 5465 section 5)")
    if "FlagChange" in got and "MessageNew" not in got:
        raise r.error("FlagChange needs MessageNew and MessageExpunge (RFC 5465 section 5)")
    return EventGroup(kind, mailboxes, got, fetch)


def _mailboxes(r: Reader) -> tuple[str, ...]:
    """`one-or-more-mailbox`: a mailbox, or a parenthesised list of them."""
    if not r.skip(0x28):
        return (r.mailbox(),)
    names = [r.mailbox()]
    while not r.skip(0x29):
        r.sp()
        if len(names) == MAX_WATCHED:
            raise r.error(f"more than {MAX_WATCHED} mailboxes in a filter")
        names.append(r.mailbox())
    return tuple(names)


def unsupported(groups: Iterable[EventGroup]) -> bool:
    """Whether an event this server cannot tell was asked (NO [BADEVENT])."""
    return any(e in _UNSUPPORTED for g in groups for e in g.events)


BADEVENT = encode.Raw(b"BADEVENT (" + b" ".join(e.encode() for e in EVENTS) + b")")


class Watch:
    """What one session asked to be told, and what it was last told of each mailbox.

    `status_of(name)` reads a mailbox's (MESSAGES, UIDNEXT, UIDVALIDITY, UNSEEN); `names()`
    the user's mailboxes and `subscribed()` the subscribed names, all from the store.
    """

    def __init__(self, groups: tuple[EventGroup, ...]) -> None:
        self.groups = groups
        self.selected = next((g for g in groups if g.selected), None)
        self.known: dict[str, Counts] = {}
        self.names: set[str] | None = None  # None: not looked yet
        self.subscribed: set[str] = set()
        self.validities: dict[str, int] = {}  # name -> UIDVALIDITY: a rename keeps it
        self.name_events = any("MailboxName" in g.events for g in groups)

    def group_of(self, name: str, subscribed: set[str]) -> EventGroup | None:
        """The first group whose filter names `name` (not the selected mailbox's groups)."""
        for g in self.groups:
            if g.selected:
                continue
            if g.filter == "PERSONAL":
                return g
            if g.filter == "INBOXES" and name == "INBOX":
                return g
            if g.filter == "SUBSCRIBED" and name in subscribed:
                return g
            if g.filter == "MAILBOXES" and name in g.mailboxes:
                return g
            if g.filter == "SUBTREE" and any(
                name == m or name.startswith(m + "/") for m in g.mailboxes
            ):
                return g
        return None

    def changes(
        self,
        selected: str | None,
        names: list[str],
        subscribed: set[str],
        status_of: Callable[[str], Counts | None],
        *,
        utf8: bool,
        modseq: bool,
        first: bool,
    ) -> bytes:
        """The STATUS and LIST lines for what changed since the last call (the first call
        only learns, and says the STATUS of each mailbox when `first`: NOTIFY SET STATUS).
        `status_of(name)` is a mailbox's Counts, None when it is gone; `modseq`: CONDSTORE is
        on, so FlagChange is told by HIGHESTMODSEQ too. Overflow past MAX_WATCHED."""
        current = set(names)
        learning = self.names is None
        out = b"" if learning else self._names(current, subscribed, status_of, utf8)
        self.names, self.subscribed = current, set(subscribed)
        watched = 0
        for name in names:
            # the selected mailbox's messages: told by a SELECTED group, from the View, or not
            # at all (§3.1)
            group = None if name == selected else self.group_of(name, subscribed)
            if group is None or "MessageNew" not in group.events:
                if name != selected:
                    self.known.pop(name, None)
                # its UIDVALIDITY, for OLDNAME if it is renamed to a name a filter names (§5.4)
                if self.name_events and name not in self.validities:
                    now = status_of(name)
                    if now is not None:
                        self.validities[name] = now[2]
                continue
            watched += 1
            if watched > MAX_WATCHED:
                raise Overflow(f"more than {MAX_WATCHED} mailboxes to watch")
            now = status_of(name)
            if now is None:  # gone since the listing: its LIST tells it
                continue
            self.validities[name] = now[2]
            before = self.known.get(name)
            self.known[name] = now
            flags = "FlagChange" in group.events
            if before is None:  # watched from now on (NOTIFY SET, CREATE, SUBSCRIBE...)
                # NOTIFY SET STATUS says all; one made (renamed...) with messages in it is told
                # as if it had been empty
                if first or (not learning and now[0]):
                    said = _FIRST if first else _NEW
                    said = (*said, "HIGHESTMODSEQ") if modseq else said
                    out += _status_line(name, now, said, utf8)
            else:
                items = _changed(before, now, flags, modseq)
                if items:
                    out += _status_line(name, now, items, utf8)
        for gone in set(self.known) - current:
            del self.known[gone]
        return out

    def _names(
        self,
        current: set[str],
        subscribed: set[str],
        status_of: Callable[[str], Counts | None],
        utf8: bool,
    ) -> bytes:
        """LIST lines for mailboxes made, removed or renamed (a removed name and a new one with
        its UIDVALIDITY: `("OLDNAME" (old))`, RFC 5465 §5.4) and subscriptions changed."""
        assert self.names is not None
        out = b""
        made = sorted(current - self.names)
        validity = {n: self.validities.pop(n, None) for n in sorted(self.names - current)}
        removed = {v: n for n, v in validity.items() if v is not None}
        unknown = [n for n, v in validity.items() if v is None]
        for name in made:
            now = status_of(name)
            if now is not None:
                self.validities[name] = now[2]
            g = self.group_of(name, subscribed)
            if g is None or "MailboxName" not in g.events:
                continue  # (renamed from a watched name: that one is told gone, below)
            old = removed.pop(now[2], None) if now is not None else None
            extended = () if old is None else (("OLDNAME", [_name(old, utf8)]),)
            out += encode.list_response("LIST", [], "/", name, extended=extended, utf8=utf8)
        for name in sorted([*removed.values(), *unknown]):
            g = self.group_of(name, self.subscribed)
            if g is not None and "MailboxName" in g.events:
                out += encode.list_response("LIST", ["\\NonExistent"], "/", name, utf8=utf8)
        for name in sorted(subscribed ^ self.subscribed):
            g = self.group_of(name, subscribed | self.subscribed)
            if g is not None and "SubscriptionChange" in g.events:
                attrs = ["\\Subscribed"] if name in subscribed else []
                if name not in current:
                    attrs.append("\\NonExistent")
                out += encode.list_response("LIST", attrs, "/", name, utf8=utf8)
        return out


def _name(name: str, utf8: bool) -> encode.Raw:
    return encode.Raw(encode.mailbox_name(name, utf8=utf8))


_FIRST = ("MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN")  # NOTIFY SET STATUS (§3.1)
_NEW = ("MESSAGES", "UIDNEXT", "UNSEEN")  # new or expunged messages
_INDEX = {"MESSAGES": 0, "UIDNEXT": 1, "UIDVALIDITY": 2, "UNSEEN": 3, "HIGHESTMODSEQ": 4}


def _changed(before: Counts, now: Counts, flags: bool, modseq: bool) -> tuple[str, ...]:
    """The STATUS items that tell a change, as Dovecot says them: new or expunged messages
    as MESSAGES, UIDNEXT and UNSEEN (UIDVALIDITY too when it changed: the mailbox was made
    again; HIGHESTMODSEQ under CONDSTORE); with FlagChange, UNSEEN when it changed and
    HIGHESTMODSEQ under CONDSTORE. None: nothing to tell."""
    items: tuple[str, ...] = ()
    if before[:3] != now[:3]:
        items = _NEW
        if before[2] != now[2]:
            items += ("UIDVALIDITY",)
    elif flags and before[3] != now[3]:
        items = ("UNSEEN",)
    if (modseq and items) or (modseq and flags and before[4] != now[4]):
        items += ("HIGHESTMODSEQ",)
    return items


def _status_line(name: str, now: Counts, items: tuple[str, ...], utf8: bool) -> bytes:
    """`* STATUS name (items)` with the values of `now`."""
    return encode.status_response(name, [(i, now[_INDEX[i]]) for i in items], utf8=utf8)


def others(
    watch: Watch,
    store: UserStore,
    selected: str | None,
    *,
    utf8: bool,
    modseq: bool,
    first: bool,
) -> bytes:
    """`watch.changes` on the user's mailboxes as `store` has them now (Overflow past
    MAX_WATCHED)."""

    def status_of(name: str) -> Counts | None:
        try:
            st = store.status(name)
        except StoreError:
            return None
        return st.messages, st.uidnext, st.uidvalidity, st.unseen, st.highestmodseq

    names = store.mailbox_names()
    subscribed = set(store.subscriptions())
    return watch.changes(
        selected, names, subscribed, status_of, utf8=utf8, modseq=modseq, first=first
    )


def new_fetched(view: View, items: tuple[FetchItem, ...], uidnext: int) -> bytes:
    """`* n FETCH (...)` of MessageNew's items for each message of the view new since
    `uidnext` (the items the index answers: _group lets no other through)."""
    new = list(view.uids[bisect_left(view.uids, uidnext) :])
    plan = Plan(items, rev2=view.rev2)
    return b"".join(
        encode.fetch(
            view.seq_of(m.uid),
            plan.values(
                replace(m, flags=view.flags_of(m)),
                summary=None,
                message=None,
                modseq=view.condstore,
            ),
        )
        for m in view.store.fetch(view.name, new)
    )
