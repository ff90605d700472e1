"""The authenticated-state commands on mailboxes: CREATE, DELETE, RENAME, SUBSCRIBE,
UNSUBSCRIBE, LIST (RFC 3501 and LIST-EXTENDED, RFC 5258, with SPECIAL-USE, CHILDREN and
LIST-STATUS), LSUB, STATUS and APPEND (APPENDUID, RFC 4315; MULTIAPPEND, RFC 3502; CATENATE,
RFC 4469).

Each function takes the user's store and the parsed command and returns (actions, tagged
line); a StoreError it lets through becomes `NO [code]` in the session. Names arrive decoded
(commands.py) and leave in modified UTF-7 (encode.py).
"""

from __future__ import annotations

from dataclasses import replace

from mailserver.imap import encode, imapurl
from mailserver.imap.actions import Action, Notify, Send
from mailserver.imap.commands import (
    Append,
    AppendMessage,
    ListMailboxes,
    MailboxCommand,
    QuotaCommand,
    Rename,
    Status,
)
from mailserver.imap.seqset import compact
from mailserver.message.header import parse_header
from mailserver.message.message import Message
from mailserver.message.section import Section
from mailserver.store import ListEntry, StoreError, UserStore, names
from mailserver.store import Status as MailboxStatus
from mailserver.store.errors import NONEXISTENT
from mailserver.store.quota import kibibytes

__all__ = [
    "SEP",
    "append",
    "canonical",
    "create",
    "delete",
    "list_mailboxes",
    "rename",
    "status",
    "status_items",
    "subscribe",
    "unsubscribe",
]

SEP = "/"
Reply = tuple[list[Action], bytes]


def _ok(tag: str, text: str, code: bytes | None = None) -> bytes:
    return encode.tagged(tag, "OK", text, code)


def _no(tag: str, text: str, code: bytes | None = None) -> bytes:
    return encode.tagged(tag, "NO", text, code)


def canonical(name: str) -> str:
    """The store's spelling of a valid mailbox name (`inbox/x` is `INBOX/x`, one trailing
    separator dropped), for Notify and the selected name; other names as they are."""
    if name.endswith(SEP) and len(name) > 1:
        name = name[:-1]
    try:
        return names.normalize(name)
    except StoreError:
        return name


#: What CREATE (USE (...)) may give a mailbox: one of these (RFC 6154 §3; \\All and \\Flagged
#: name virtual mailboxes, which this server does not have)
CREATE_USES = {u.lower(): u for u in ("\\Archive", "\\Drafts", "\\Junk", "\\Sent", "\\Trash")}


def create(store: UserStore, cmd: MailboxCommand) -> Reply:
    """CREATE, with a special use when asked (CREATE-SPECIAL-USE): a use the server cannot
    give is NO [USEATTR] and no mailbox (RFC 6154 §3)."""
    use = None
    if cmd.uses:
        if len(cmd.uses) > 1:
            return [], _no(cmd.tag, "a mailbox has one special use here", b"USEATTR")
        use = CREATE_USES.get(cmd.uses[0].lower())
        if use is None:
            return [], _no(cmd.tag, f"no mailbox may be {cmd.uses[0][:40]} here", b"USEATTR")
    store.create(cmd.mailbox, use)
    return [Notify(mailbox=canonical(cmd.mailbox))], _ok(cmd.tag, "CREATE completed")


def delete(store: UserStore, cmd: MailboxCommand) -> Reply:
    store.delete(cmd.mailbox)
    return [Notify(mailbox=canonical(cmd.mailbox))], _ok(cmd.tag, "DELETE completed")


def rename(store: UserStore, cmd: Rename) -> Reply:
    """RENAME; renaming INBOX moves its messages and leaves it empty (the store does it)."""
    store.rename(cmd.old, cmd.new)
    return [Notify(mailbox=canonical(cmd.old))], _ok(cmd.tag, "RENAME completed")


def subscribe(store: UserStore, cmd: MailboxCommand) -> Reply:
    store.subscribe(cmd.mailbox)
    return [Notify(mailbox=canonical(cmd.mailbox))], _ok(cmd.tag, "SUBSCRIBE completed")


def unsubscribe(store: UserStore, cmd: MailboxCommand) -> Reply:
    if not store.unsubscribe(cmd.mailbox):
        return [], _no(cmd.tag, "not subscribed to that name", b"NONEXISTENT")
    return [Notify(mailbox=canonical(cmd.mailbox))], _ok(cmd.tag, "UNSUBSCRIBE completed")


# -- STATUS ----------------------------------------------------------------------------------


def status_items(st: MailboxStatus, items: tuple[str, ...]) -> list[tuple[str, int]]:
    """STATUS items in the order asked."""
    values = {
        "MESSAGES": st.messages,
        "RECENT": st.recent,
        "UIDNEXT": st.uidnext,
        "UIDVALIDITY": st.uidvalidity,
        "UNSEEN": st.unseen,
        "HIGHESTMODSEQ": st.highestmodseq,
        "SIZE": st.size,
        "DELETED": st.deleted,
        "DELETED-STORAGE": st.deleted_storage,
    }
    return [(item, values[item]) for item in items]


def status(store: UserStore, cmd: Status) -> Reply:
    st = store.status(cmd.mailbox)
    line = encode.status_response(cmd.mailbox, status_items(st, cmd.items), utf8=cmd.utf8)
    return [Send(data=line)], _ok(cmd.tag, "STATUS completed")


# -- APPEND ----------------------------------------------------------------------------------


def append(store: UserStore, cmd: Append, max_size: int, selected: str | None = None) -> Reply:
    """APPEND of one message or several (MULTIAPPEND): `OK [APPENDUID uidvalidity uid-set]`,
    the new UIDs in the order of the messages (RFC 3502, RFC 4315).

    All are stored or none (RFC 3502 §6.3.11): a message over max_size or empty, or messages
    that together go over the user's quota (NO [OVERQUOTA], RFC 9208 §4.3), refuse them all
    before the store is touched, and the store's deliver_many commits them in one
    transaction, its files removed if anything fails. TRYCREATE when the mailbox does not
    exist (RFC 3501 §6.3.11). A CATENATE message (RFC 4469) is put together first, its URLs
    read from the user's mailbox or from `selected` (the selected mailbox, for `;UID=n`).
    """
    if any(m.catenate for m in cmd.messages):
        built = _catenate(store, cmd, max_size, selected)
        if isinstance(built, bytes):
            return [], built
        cmd = built
    refusal = _refusal(cmd, max_size) or (None if cmd.utf8 else _eight_bit_header(cmd))
    if refusal is not None:
        return [], refusal
    try:
        info = store.mailbox(cmd.mailbox)
    except StoreError as e:
        if e.code != NONEXISTENT:
            raise
        return [], _no(cmd.tag, f"no mailbox {cmd.mailbox!r}", b"TRYCREATE")
    store.check_quota(sum(len(m.data) for m in cmd.messages), len(cmd.messages))  # OVERQUOTA
    uids = store.deliver_many(
        [
            (info.name, m.data, m.flags, None if m.date is None else m.date.timestamp())
            for m in cmd.messages
        ]
    )
    code = encode.code("APPENDUID", info.uidvalidity, compact(uids))
    return [Notify(mailbox=info.name)], _ok(cmd.tag, "APPEND completed", code)


#: What one APPEND's CATENATE URLs may read of stored messages, in messages of the largest
#: size: parts of the same message one after the other are read once (the usual forward), but
#: a thousand URLs of small parts of different big messages would read gigabytes.
CATENATE_READ_FACTOR = 8


def _catenate(store: UserStore, cmd: Append, max_size: int, selected: str | None) -> Append | bytes:
    """`cmd` with each CATENATE message put together (RFC 4469 §3), or the tagged NO: `[BADURL
    url]` for a URL that names no message this user can read (a UIDVALIDITY that is not the
    mailbox's, a UID it does not hold; a section or range it lacks is empty, as for FETCH),
    `[TOOBIG]` as soon as a message grows past max_size (a URL's whole message is not read
    then), `[LIMIT]` when the URLs read more than CATENATE_READ_FACTOR * max_size octets."""
    several = len(cmd.messages) > 1
    urls = _Urls(store, selected, CATENATE_READ_FACTOR * max_size)
    messages = []
    for n, m in enumerate(cmd.messages, 1):
        if not m.catenate:
            messages.append(m)
            continue
        which = f"message {n}" if several else "message"
        too_big = _no(cmd.tag, f"{which} over the {max_size}-octet limit", b"TOOBIG")
        out = bytearray()
        for kind, value in m.catenate:
            if kind == "TEXT":
                out += value
            else:
                try:
                    out += urls.data(value, max_size - len(out))
                except imapurl.UrlError as e:
                    code = b"BADURL " + imapurl.resp_text(value)
                    return _no(cmd.tag, str(e), code)
                except _TooBig:
                    return too_big
                except _ReadTooMuch:
                    text = f"CATENATE URLs read over {urls.budget} octets of stored messages"
                    return _no(cmd.tag, text, b"LIMIT")
            if len(out) > max_size:
                return too_big
        messages.append(AppendMessage(flags=m.flags, date=m.date, data=bytes(out)))
    return replace(cmd, messages=tuple(messages))


class _TooBig(Exception):
    """A URL's whole message does not fit in what is left of the message being built."""


class _ReadTooMuch(Exception):
    """The URLs of one APPEND have read their budget."""


class _Urls:
    """Reads what URLs name in `store`, `selected` being the mailbox of relative ones, keeping
    the last message read (for its next part) and counting what it reads against `budget`."""

    def __init__(self, store: UserStore, selected: str | None, budget: int) -> None:
        self.store = store
        self.selected = selected
        self.budget = budget
        self.read = 0
        self.last: tuple[tuple[str, int], Message] | None = None

    def data(self, url: bytes, room: int) -> memoryview | bytes:
        """The octets `url` names: the message, a section of it (BODY[section], no decoding),
        a range of that; UrlError when it names none. A whole message bigger than `room` is
        not read: _TooBig says so (its size is all the caller needs to refuse it)."""
        ref = imapurl.parse_url(url)
        mailbox = self.selected if ref.mailbox is None else canonical(ref.mailbox)
        if mailbox is None:
            raise imapurl.UrlError(f"no mailbox is selected for the relative URL ;UID={ref.uid}")
        try:
            message = self._message(mailbox, ref, room)
        except StoreError as e:
            if e.code != NONEXISTENT:
                raise
            raise imapurl.UrlError(f"{mailbox}: {e}") from None
        start, length = ref.partial if ref.partial is not None else (None, None)
        return message.section(ref.section or Section(), start, length)

    def _message(self, mailbox: str, ref: imapurl.MessageUrl, room: int) -> Message:
        info = self.store.mailbox(mailbox)
        if ref.uidvalidity is not None and ref.uidvalidity != info.uidvalidity:
            raise imapurl.UrlError(f"UIDVALIDITY of {mailbox} is {info.uidvalidity} now")
        key = (info.name, ref.uid)
        if self.last is not None and self.last[0] == key:
            return self.last[1]
        where = self.store.message_file(info.name, ref.uid)
        if ref.section is None and ref.partial is None and where.size > room:
            raise _TooBig
        if self.read + where.size > self.budget:
            raise _ReadTooMuch
        message = Message(self.store.read_file(info.name, ref.uid, where))
        self.read += message.size
        self.last = (key, message)
        return message


def _eight_bit_header(cmd: Append) -> bytes | None:
    """The NO for a message with 8-bit octets in its header from a client that has not
    enabled UTF8=ACCEPT (RFC 6855 §4: the server MUST refuse it; an enabled client sends such
    a message as `UTF8 (~{n})`)."""
    several = len(cmd.messages) > 1
    for n, m in enumerate(cmd.messages, 1):
        header = parse_header(m.data, 0)
        if not m.data[header.start : header.end].isascii():
            which = f"message {n}" if several else "the message"
            text = f"8-bit octets in the header of {which}: ENABLE UTF8=ACCEPT first"
            return _no(cmd.tag, text)
    return None


def _refusal(cmd: Append, max_size: int) -> bytes | None:
    """The NO for the first message that cannot be stored, named by its place when there are
    several; an empty one is how a client cancels a MULTIAPPEND (RFC 3502 §6.3.11)."""
    several = len(cmd.messages) > 1
    for n, m in enumerate(cmd.messages, 1):
        which = f"message {n}" if several else "message"
        if len(m.data) > max_size:
            return _no(cmd.tag, f"{which} over the {max_size}-octet limit", b"TOOBIG")
        if not m.data:
            if several:
                return _no(cmd.tag, f"message {n} is empty: APPEND cancelled", b"CANNOT")
            return _no(cmd.tag, "an empty message cannot be stored", b"CANNOT")
    return None


# -- LIST and LSUB ---------------------------------------------------------------------------


def _root(reference: str) -> str:
    """The hierarchy root of a reference, for `LIST ref ""` (RFC 3501 §6.3.8)."""
    return reference[: reference.find(SEP) + 1]  # "" without a separator (find gives -1)


def list_mailboxes(store: UserStore, cmd: ListMailboxes) -> Reply:
    """LIST (basic and extended) and LSUB."""
    patterns = [cmd.reference + p for p in cmd.patterns if p]
    if not patterns:
        root = encode.list_response(
            cmd.name, ["\\Noselect"], SEP, _root(cmd.reference), utf8=cmd.utf8
        )
        return [Send(data=root)], _ok(cmd.tag, f"{cmd.name} completed")
    if cmd.name == "LSUB":
        out = b"".join(
            encode.list_response(
                "LSUB", [] if e.exists else ["\\Noselect"], SEP, e.name, utf8=cmd.utf8
            )
            for e in _gather(store.list_subscribed, patterns)
        )
        return [Send(data=out)], _ok(cmd.tag, "LSUB completed")
    if "SUBSCRIBED" in cmd.select:
        out = _list_subscribed(store, cmd, patterns)
    else:
        out = _list_all(store, cmd, patterns)
    return [Send(data=out)], _ok(cmd.tag, "LIST completed")


def _gather(lister: object, patterns: list[str]) -> list[ListEntry]:
    found: dict[str, ListEntry] = {}
    for pattern in patterns:
        for e in lister(pattern):  # type: ignore[operator]
            found.setdefault(e.name, e)
    return [found[name] for name in sorted(found)]


def _children(e: ListEntry) -> str:
    return "\\HasChildren" if e.has_children else "\\HasNoChildren"


def _list_all(store: UserStore, cmd: ListMailboxes, patterns: list[str]) -> bytes:
    special_only = "SPECIAL-USE" in cmd.select
    subscribed = "SUBSCRIBED" in cmd.returns
    out = b""
    for e in _gather(store.list_mailboxes, patterns):
        if special_only and e.special_use is None:
            continue
        attrs = []
        if not e.exists:
            attrs.append("\\NonExistent" if cmd.extended else "\\Noselect")
        attrs.append(_children(e))
        if subscribed and e.subscribed:
            attrs.append("\\Subscribed")
        if e.special_use is not None:
            attrs.append(e.special_use)
        out += encode.list_response("LIST", attrs, SEP, e.name, utf8=cmd.utf8)
        out += _status(store, cmd, e)
    return out


def _list_subscribed(store: UserStore, cmd: ListMailboxes, patterns: list[str]) -> bytes:
    """LIST (SUBSCRIBED ...): subscribed names, existing or not (\\NonExistent), and with
    RECURSIVEMATCH the parents of subscribed names with CHILDINFO (RFC 5258 §3)."""
    existing = set(store.mailbox_names())
    special_only = "SPECIAL-USE" in cmd.select
    recursive = "RECURSIVEMATCH" in cmd.select
    out = b""
    for e in _gather(store.list_subscribed, patterns):
        if special_only and e.special_use is None:
            continue
        attrs = []
        if e.name not in existing:
            attrs.append("\\NonExistent")
        elif "CHILDREN" in cmd.returns:
            attrs.append(_children(e))
        if e.exists:
            attrs.append("\\Subscribed")
        elif not recursive:
            continue
        if e.special_use is not None:
            attrs.append(e.special_use)
        extended = () if e.exists else (("CHILDINFO", [b"SUBSCRIBED"]),)
        out += encode.list_response("LIST", attrs, SEP, e.name, extended=extended, utf8=cmd.utf8)
        out += _status(store, cmd, e)  # none for a name that does not exist
    return out


def _status(store: UserStore, cmd: ListMailboxes, e: ListEntry) -> bytes:
    """LIST-STATUS (RFC 5819): the STATUS of a selectable mailbox after its LIST line."""
    if "STATUS" not in cmd.returns or not e.exists:
        return b""
    try:
        st = store.status(e.name)
    except StoreError:
        return b""  # gone since the LIST: RFC 5819 lets the STATUS be left out
    return encode.status_response(e.name, status_items(st, cmd.status), utf8=cmd.utf8)


# -- QUOTA (RFC 9208) ------------------------------------------------------------------------

#: The one quota root of every user, holding all of the user's mailboxes (RFC 9208 §3.2).
QUOTA_ROOT = ""


def _quota_line(store: UserStore) -> bytes:
    """`* QUOTA "" (STORAGE used limit MESSAGE used limit)`: the resources that have a limit;
    STORAGE in units of 1024 octets (RFC 9208 §5.1), the usage rounded up, the limit down."""
    quota, usage = store.quota, store.usage()
    parts: list[bytes] = []
    if quota.storage:
        parts.append(b"STORAGE %d %d" % (kibibytes(usage.storage), quota.storage // 1024))
    if quota.messages:
        parts.append(b"MESSAGE %d %d" % (usage.messages, quota.messages))
    return b'* QUOTA "" (' + b" ".join(parts) + b")" + encode.CRLF


def getquotaroot(store: UserStore, cmd: QuotaCommand) -> Reply:
    """`* QUOTAROOT mailbox ""` and the root's QUOTA; a user without limits has no root."""
    info = store.mailbox(cmd.root)  # NO [NONEXISTENT] for a mailbox that is not there
    name = encode.mailbox_name(info.name, utf8=cmd.utf8)
    if not store.quota.limited:
        return [Send(data=b"* QUOTAROOT " + name + encode.CRLF)], _ok(
            cmd.tag, "GETQUOTAROOT completed"
        )
    line = b"* QUOTAROOT " + name + b' ""' + encode.CRLF
    return [Send(data=line + _quota_line(store))], _ok(cmd.tag, "GETQUOTAROOT completed")


def getquota(store: UserStore, cmd: QuotaCommand) -> Reply:
    if cmd.root != QUOTA_ROOT or not store.quota.limited:
        return [], _no(cmd.tag, "no such quota root", b"NONEXISTENT")
    return [Send(data=_quota_line(store))], _ok(cmd.tag, "GETQUOTA completed")


def setquota(store: UserStore, cmd: QuotaCommand) -> Reply:
    """Quotas are the server's configuration ([quota]), not the user's to change."""
    return [], _no(cmd.tag, "quotas are set in the server's configuration", b"NOPERM")
