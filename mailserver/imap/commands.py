"""IMAP commands as typed values, parsed from one whole command (RFC 3501 §6, §9 and extensions).

`parse_command(frame)` takes a command exactly as the framer delivers it (its lines and
literals, CRLFs included) and returns one of the frozen Command classes below, or raises
syntax.ParseError with the tag (if one was read) and the reason for the `BAD`. Commands the
grammar covers: RFC 3501 (IMAP4rev1) and UIDPLUS (RFC 4315, UID EXPUNGE), MOVE (RFC 6851),
IDLE (RFC 2177), NAMESPACE (RFC 2342), ID (RFC 2971), ENABLE (RFC 5161), LIST-EXTENDED (RFC
5258) with SPECIAL-USE (RFC 6154) and LIST-STATUS (RFC 5819), UNSELECT (RFC 3691), SASL-IR
(RFC 4959), CONDSTORE (RFC 7162) and MULTIAPPEND (RFC 3502); the searching commands, SEARCH,
SORT, THREAD and CANCELUPDATE with their extensions, are parsed in search_commands.py, APPEND
with MULTIAPPEND, literal8, CATENATE and UTF8 in append_commands.py, NOTIFY in notify.py. Each
command has its own function in _PARSERS.

Two lines are not commands: the client's answers during AUTHENTICATE (`parse_sasl_response`)
and the DONE that ends IDLE (`parse_idle_done`).
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from mailserver.imap import fetchatt
from mailserver.imap.append_commands import (
    MAX_APPEND_MESSAGES,
    MAX_CATENATE_PARTS,
    Append,
    AppendMessage,
    parse_append,
)
from mailserver.imap.command import Command
from mailserver.imap.fetchatt import FetchItem
from mailserver.imap.notify import parse_notify
from mailserver.imap.search_commands import (
    parse_cancel_update,
    parse_search,
    parse_sort,
    parse_thread,
)
from mailserver.imap.seqset import SeqSet
from mailserver.imap.syntax import MAX_MODSEQ, ParseError, Reader

__all__ = [
    "MAX_APPEND_MESSAGES",
    "MAX_CATENATE_PARTS",
    "Append",
    "AppendMessage",
    "Authenticate",
    "Command",
    "Compress",
    "Copy",
    "Enable",
    "Expunge",
    "Fetch",
    "Id",
    "ListMailboxes",
    "Login",
    "MailboxCommand",
    "QuotaCommand",
    "Rename",
    "Resync",
    "Select",
    "Simple",
    "Status",
    "Store",
    "parse_command",
    "parse_idle_done",
    "parse_sasl_response",
    "peek_tag",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Simple(Command):
    """A command without arguments: CAPABILITY NOOP LOGOUT STARTTLS CHECK CLOSE UNSELECT
    NAMESPACE IDLE."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Login(Command):
    user: bytes
    password: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Authenticate(Command):
    """AUTHENTICATE mechanism [initial-response] (SASL-IR: `=` is an empty response)."""

    mechanism: str
    initial: bytes | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Resync:
    """The QRESYNC select parameter (RFC 7162 §3.2.5): what the client knew of the mailbox,
    its UIDVALIDITY and MODSEQ, and optionally the UIDs it knew (`known`) and pairs of message
    numbers and the UIDs it knew them by (`match`: the two sets, of equal length)."""

    uidvalidity: int
    modseq: int
    known: SeqSet | None = None
    match: tuple[SeqSet, SeqSet] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Select(Command):
    """SELECT or EXAMINE (`readonly`), with the CONDSTORE or QRESYNC select parameter."""

    mailbox: str
    readonly: bool
    condstore: bool = False
    qresync: Resync | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MailboxCommand(Command):
    """CREATE, DELETE, SUBSCRIBE, UNSUBSCRIBE: one mailbox name; for CREATE, the special uses
    asked for it (CREATE-SPECIAL-USE, RFC 6154 §3: `CREATE name (USE (\\Sent))`)."""

    mailbox: str
    uses: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Rename(Command):
    old: str
    new: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ListMailboxes(Command):
    """LIST (RFC 3501, extended by RFC 5258) or LSUB.

    `select` holds selection options (SUBSCRIBED REMOTE RECURSIVEMATCH SPECIAL-USE),
    `returns` the return options (SUBSCRIBED CHILDREN SPECIAL-USE STATUS), `status` the STATUS
    items asked with RETURN (STATUS (...)) (RFC 5819). `extended` says the client used the
    extended syntax (selection options, several patterns or RETURN), which changes the
    replies (RFC 5258 §3).
    """

    reference: str
    patterns: tuple[str, ...]
    select: frozenset[str] = frozenset()
    returns: frozenset[str] = frozenset()
    status: tuple[str, ...] = ()
    extended: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Status(Command):
    mailbox: str
    items: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Enable(Command):
    capabilities: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class QuotaCommand(Command):
    """GETQUOTA root, GETQUOTAROOT mailbox and SETQUOTA root (resource limit ...) (RFC 9208):
    `root` is the quota root, or GETQUOTAROOT's mailbox; `limits` SETQUOTA's pairs."""

    root: str
    limits: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Compress(Command):
    """COMPRESS mechanism (RFC 4978): the mechanism's name, upper-cased."""

    mechanism: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Id(Command):
    """ID (RFC 2971): the client's field/value pairs, or None for `ID NIL`."""

    params: tuple[tuple[str, str | None], ...] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Expunge(Command):
    """EXPUNGE, or UID EXPUNGE uid-set (UIDPLUS) when `uids` is given."""

    uids: SeqSet | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Copy(Command):
    """COPY or MOVE (by `name`), by sequence numbers or by UID."""

    uid: bool
    seqset: SeqSet
    mailbox: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Fetch(Command):
    """FETCH: macros (ALL FAST FULL) are expanded into `items`.

    The session adds what the RFCs imply: UID for UID FETCH (RFC 3501 §6.4.8), MODSEQ with
    CHANGEDSINCE (RFC 7162 §3.1.4.1).
    """

    uid: bool
    seqset: SeqSet
    items: tuple[FetchItem, ...]
    changedsince: int | None = None
    vanished: bool = False  # UID FETCH's VANISHED modifier (RFC 7162 §3.2.6)


@dataclass(frozen=True, slots=True, kw_only=True)
class Store(Command):
    """STORE: `mode` is "" (replace), "+" (add) or "-" (remove); `silent` for FLAGS.SILENT."""

    uid: bool
    seqset: SeqSet
    mode: str
    silent: bool
    flags: tuple[str, ...]
    unchangedsince: int | None = None


# -- the entry points ------------------------------------------------------------------------

_TAG = re.compile(rb'[^\x00-\x20\x7f-\xff(){%*"\\+]+')  # ASTRING-CHAR except "+"
_BASE64 = re.compile(rb"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_STORE_ITEM = re.compile(rb"([+-]?)FLAGS(\.SILENT)?", re.IGNORECASE)


def parse_command(
    frame: bytes, *, utf8: bool = False, literal_minus: bool = False, searchres: bool = False
) -> Command:
    """One command from its bytes as framed; ParseError (with the tag if read) otherwise.

    `literal_minus`: LITERAL- is advertised instead of LITERAL+ (RFC 7888); `utf8`: UTF8=ACCEPT
    is enabled (RFC 6855); `searchres`: `$` may stand for the saved result (RFC 5182).
    """
    if frame.endswith(b"\r\n"):
        frame = frame[:-2]
    r = Reader(frame, utf8=utf8, literal_minus=literal_minus, searchres=searchres)
    m = _TAG.match(frame)
    if m is None:
        raise r.error("empty command line" if not frame else "invalid tag")
    r.tag = m.group().decode()
    r.pos = m.end()
    r.sp()
    name = r.atom("a command name").decode().upper()
    if name == "UID":
        r.sp()
        sub = r.atom("a command name").decode().upper()
        uid_parser = _UID_PARSERS.get(sub)
        if uid_parser is None:
            raise r.error(f"unknown command UID {sub[:40]}")
        command = uid_parser(r, r.tag, sub, True)
        r.end_of_command("UID " + sub)
    else:
        parser = _PARSERS.get(name)
        if parser is None:
            raise r.error(f"unknown command {name[:40]}")
        command = parser(r, r.tag, name)
        r.end_of_command(name)
    return replace(command, utf8=True) if utf8 else command


def peek_tag(frame: bytes) -> str | None:
    """The tag of a command, whole or in part (the first line of a LiteralRequest that the
    session refuses with `tag NO [TOOBIG]`), or None when it does not start with a valid one."""
    m = _TAG.match(frame)
    if m is None or frame[m.end() : m.end() + 1] != b" ":
        return None
    return m.group().decode()


def parse_sasl_response(line: bytes) -> bytes | None:
    """A client's line during AUTHENTICATE: the decoded response, or None when it cancels (`*`).

    RFC 3501 §6.2.2: a line of base64 (possibly empty), or `*` to cancel, which the session
    answers with `tag BAD`.
    """
    if line.endswith(b"\r\n"):
        line = line[:-2]
    if line == b"*":
        return None
    return _base64(line, None)


def parse_idle_done(line: bytes) -> None:
    """The line that ends IDLE (RFC 2177): DONE, in any case; anything else is a ParseError."""
    if line.endswith(b"\r\n"):
        line = line[:-2]
    if line.upper() != b"DONE":
        raise ParseError(None, "expected DONE to end IDLE")


def _base64(text: bytes, tag: str | None) -> bytes:
    if _BASE64.fullmatch(text) is None:
        raise ParseError(tag, "invalid base64")
    return binascii.a2b_base64(text)


# -- one function per command --------------------------------------------------------------

Parser = Callable[[Reader, str, str], Command]
UidParser = Callable[[Reader, str, str, bool], Command]


def _simple(r: Reader, tag: str, name: str) -> Command:
    return Simple(tag=tag, name=name)


def _login(r: Reader, tag: str, name: str) -> Command:
    r.sp()
    user = r.astring()
    r.sp()
    return Login(tag=tag, name=name, user=user, password=r.astring())


def _authenticate(r: Reader, tag: str, name: str) -> Command:
    r.sp()
    mechanism = r.atom("a SASL mechanism").decode().upper()
    initial = None
    if r.skip(0x20):
        rest = r.data[r.pos : r.end]
        r.pos = r.end
        if not rest:
            raise r.error("expected an initial response (= when empty)")
        initial = b"" if rest == b"=" else _base64(rest, tag)
    return Authenticate(tag=tag, name=name, mechanism=mechanism, initial=initial)


def _select(r: Reader, tag: str, name: str) -> Command:
    r.sp()
    mailbox = r.mailbox()
    condstore = False
    qresync = None
    if r.skip(0x20):
        r.expect(0x28, "'(' before SELECT parameters")
        while True:
            param = r.keyword()
            if param == "CONDSTORE":
                condstore = True
            elif param == "QRESYNC" and qresync is None:
                qresync = _resync(r)
            else:
                raise r.error(f"unknown {name} parameter {param[:40]}")
            if r.skip(0x29):
                break
            r.sp()
    return Select(
        tag=tag,
        name=name,
        mailbox=mailbox,
        readonly=name == "EXAMINE",
        condstore=condstore,
        qresync=qresync,
    )


def _resync(r: Reader) -> Resync:
    """` (uidvalidity modseq [known-uids] [(known-sequence-set known-uid-set)])` (RFC 7162
    §3.2.5, §7): sets without `*`, and the two sets of the match data of equal length."""
    r.sp()
    r.expect(0x28, "'(' after QRESYNC")
    uidvalidity = r.number(nonzero=True)
    r.sp()
    modseq = r.number(limit=MAX_MODSEQ, nonzero=True)
    known = match = None
    if r.skip(0x20):
        if r.peek() != 0x28:
            known = _known_set(r, "known UIDs")
        if known is None or r.skip(0x20):
            r.expect(0x28, "'(' to open the sequence match data")
            numbers = _known_set(r, "known message numbers")
            r.sp()
            uids = _known_set(r, "known UIDs of those messages")
            r.expect(0x29, "')' to close the sequence match data")
            if _count(numbers) != _count(uids):
                raise r.error("the sequence match data's two sets differ in length")
            match = (numbers, uids)
    r.expect(0x29, "')' to close the QRESYNC parameter")
    return Resync(uidvalidity=uidvalidity, modseq=modseq, known=known, match=match)


def _count(seqset: SeqSet) -> int:
    return sum(abs(b - a) + 1 for a, b in seqset.ranges)


def _known_set(r: Reader, what: str) -> SeqSet:
    """A set of UIDs or message numbers a client knew: no `*`, no `$`."""
    seqset = r.seqset()
    if seqset.saved or seqset.has_star():
        raise r.error(f"{what}: * and $ are not allowed here")
    return seqset


def _one_mailbox(r: Reader, tag: str, name: str) -> Command:
    r.sp()
    return MailboxCommand(tag=tag, name=name, mailbox=r.mailbox())


def _create(r: Reader, tag: str, name: str) -> Command:
    """`CREATE mailbox [(USE (use-attr ...))]` (RFC 4466 create-params, RFC 6154 §5); the use
    attributes as written after their backslash, checked by the session."""
    r.sp()
    mailbox = r.mailbox()
    uses: list[str] = []
    if r.skip(0x20):
        r.expect(0x28, "'(' before CREATE parameters")
        if r.keyword() != "USE":
            raise r.error("the CREATE parameter known is USE")
        r.sp()
        r.expect(0x28, "'(' before the special uses")
        while not r.skip(0x29):
            if uses:
                r.sp()
            r.expect(0x5C, "a special use (\\Sent, \\Trash...)")
            uses.append("\\" + r.atom("a special use").decode())
        r.expect(0x29, "')' to close the CREATE parameters")
    return MailboxCommand(tag=tag, name=name, mailbox=mailbox, uses=tuple(uses))


def _rename(r: Reader, tag: str, name: str) -> Command:
    r.sp()
    old = r.mailbox()
    r.sp()
    return Rename(tag=tag, name=name, old=old, new=r.mailbox())


_SELECT_OPTIONS = ("SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE")
_RETURN_OPTIONS = ("SUBSCRIBED", "CHILDREN", "SPECIAL-USE", "STATUS")


def _list(r: Reader, tag: str, name: str) -> Command:
    r.sp()
    select: set[str] = set()
    extended = False
    if name == "LIST" and r.peek() == 0x28:  # ( selection options
        extended = True
        r.pos += 1
        for option in _options(r):
            if option not in _SELECT_OPTIONS:
                raise r.error(f"unknown LIST selection option {option[:40]}")
            select.add(option)
        if "RECURSIVEMATCH" in select and not select & {"SUBSCRIBED", "SPECIAL-USE"}:
            raise r.error("RECURSIVEMATCH needs another selection option")
        r.sp()
    reference = r.name_of(r.astring())
    r.sp()
    patterns: list[str] = []
    if name == "LIST" and r.peek() == 0x28:  # ( several patterns
        extended = True
        r.pos += 1
        patterns.append(r.list_mailbox())
        while not r.skip(0x29):
            r.sp()
            patterns.append(r.list_mailbox())
    else:
        patterns.append(r.list_mailbox())
    returns: set[str] = set()
    status: tuple[str, ...] = ()
    if name == "LIST" and r.skip(0x20):
        extended = True
        if r.keyword() != "RETURN":
            raise r.error("expected RETURN")
        r.sp()
        r.expect(0x28, "'(' after RETURN")
        if not r.skip(0x29):
            while True:
                option = r.keyword()
                if option not in _RETURN_OPTIONS:
                    raise r.error(f"unknown LIST return option {option[:40]}")
                if option == "STATUS":
                    r.sp()
                    status = _status_items(r)
                returns.add(option)
                if r.skip(0x29):
                    break
                r.sp()
    return ListMailboxes(
        tag=tag,
        name=name,
        reference=reference,
        patterns=tuple(patterns),
        select=frozenset(select),
        returns=frozenset(returns),
        status=status,
        extended=extended,
    )


def _options(r: Reader) -> list[str]:
    """Keywords up to and including ")", the "(" already read; empty allowed."""
    options: list[str] = []
    if r.skip(0x29):
        return options
    while True:
        options.append(r.keyword())
        if r.skip(0x29):
            return options
        r.sp()


_STATUS_ITEMS = (  # RFC 3501, HIGHESTMODSEQ (RFC 7162), SIZE (STATUS=SIZE, RFC 8438),
    "MESSAGES",  # DELETED and DELETED-STORAGE (RFC 9208 §4.2: QUOTA=RES-MESSAGE, =RES-STORAGE)
    "RECENT",
    "UIDNEXT",
    "UIDVALIDITY",
    "UNSEEN",
    "HIGHESTMODSEQ",
    "SIZE",
    "DELETED",
    "DELETED-STORAGE",
)


def _status_items(r: Reader) -> tuple[str, ...]:
    r.expect(0x28, "'(' before status items")
    items: list[str] = []
    while True:
        item = r.keyword()
        if item not in _STATUS_ITEMS:
            raise r.error(f"unknown status item {item[:40]}")
        items.append(item)
        if r.skip(0x29):
            return tuple(items)
        r.sp()


def _status(r: Reader, tag: str, name: str) -> Command:
    r.sp()
    mailbox = r.mailbox()
    r.sp()
    return Status(tag=tag, name=name, mailbox=mailbox, items=_status_items(r))


def _enable(r: Reader, tag: str, name: str) -> Command:
    capabilities: list[str] = []
    while r.skip(0x20):
        capabilities.append(r.keyword())
    if not capabilities:
        raise r.error("ENABLE needs at least one capability")
    return Enable(tag=tag, name=name, capabilities=tuple(capabilities))


MAX_QUOTA_LIMIT = 2**63 - 1  # RFC 9208 §5: number64


def _quota(r: Reader, tag: str, name: str) -> Command:
    r.sp()
    if name == "GETQUOTAROOT":
        return QuotaCommand(tag=tag, name=name, root=r.mailbox())
    root = r.text(r.astring(), "a quota root")
    if name == "GETQUOTA":
        return QuotaCommand(tag=tag, name=name, root=root)
    r.sp()
    r.expect(0x28, "'(' before the resource limits")
    limits: list[tuple[str, int]] = []
    while not r.skip(0x29):
        if limits:
            r.sp()
        resource = r.keyword()
        r.sp()
        limits.append((resource, r.number(limit=MAX_QUOTA_LIMIT)))
    return QuotaCommand(tag=tag, name=name, root=root, limits=tuple(limits))


def _compress(r: Reader, tag: str, name: str) -> Command:
    r.sp()
    return Compress(tag=tag, name=name, mechanism=r.keyword())


ID_MAX_PAIRS, ID_MAX_FIELD, ID_MAX_VALUE = 30, 30, 1024  # RFC 2971 §3.3


def _id(r: Reader, tag: str, name: str) -> Command:
    r.sp()
    if r.peek() != 0x28:
        if r.nstring() is not None:
            raise r.error("ID takes a parenthesised list or NIL")
        return Id(tag=tag, name=name, params=None)
    r.pos += 1
    params: list[tuple[str, str | None]] = []
    if not r.skip(0x29):
        while True:
            field = r.string()
            r.sp()
            value = r.nstring()
            if len(field) > ID_MAX_FIELD or (value is not None and len(value) > ID_MAX_VALUE):
                raise r.error("ID field or value too long")
            text = None if value is None else value.decode("utf-8", "replace")
            params.append((field.decode("utf-8", "replace"), text))
            if len(params) > ID_MAX_PAIRS:
                raise r.error(f"ID with more than {ID_MAX_PAIRS} fields")
            if r.skip(0x29):
                break
            r.sp()
    return Id(tag=tag, name=name, params=tuple(params))


def _expunge(r: Reader, tag: str, name: str, uid: bool = False) -> Command:
    if not uid:
        return Expunge(tag=tag, name=name)
    r.sp()
    return Expunge(tag=tag, name=name, uids=r.seqset())


def _copy(r: Reader, tag: str, name: str, uid: bool = False) -> Command:
    r.sp()
    seqset = r.seqset()
    r.sp()
    return Copy(tag=tag, name=name, uid=uid, seqset=seqset, mailbox=r.mailbox())


def _fetch(r: Reader, tag: str, name: str, uid: bool = False) -> Command:
    r.sp()
    seqset = r.seqset()
    r.sp()
    items = fetchatt.parse_items(r)
    changedsince = None
    vanished = False
    if r.skip(0x20):
        r.expect(0x28, "'(' before FETCH modifiers")
        while True:
            modifier = r.keyword()
            if modifier == "CHANGEDSINCE":
                r.sp()
                changedsince = r.number(limit=MAX_MODSEQ, nonzero=True)
            elif modifier == "VANISHED" and uid:
                vanished = True
            else:
                raise r.error(f"unknown {name} modifier {modifier[:40]}")
            if r.skip(0x29):
                break
            r.sp()
        if vanished and changedsince is None:  # RFC 7162 §3.2.6
            raise r.error("VANISHED needs CHANGEDSINCE")
    return Fetch(
        tag=tag,
        name=name,
        uid=uid,
        seqset=seqset,
        items=items,
        changedsince=changedsince,
        vanished=vanished,
    )


def _store(r: Reader, tag: str, name: str, uid: bool = False) -> Command:
    r.sp()
    seqset = r.seqset()
    r.sp()
    unchangedsince = None
    if r.skip(0x28):
        while True:
            modifier = r.keyword()
            if modifier != "UNCHANGEDSINCE":
                raise r.error(f"unknown STORE modifier {modifier[:40]}")
            r.sp()
            unchangedsince = r.number(limit=MAX_MODSEQ)
            if r.skip(0x29):
                break
            r.sp()
        r.sp()
    m = _STORE_ITEM.match(r.data, r.pos)
    if m is None:
        raise r.error("expected FLAGS, +FLAGS or -FLAGS")
    r.pos = m.end()
    r.sp()
    if r.peek() == 0x28:
        flags = r.flag_list()
    else:
        flag_names = [r.flag()]
        while r.skip(0x20):
            flag_names.append(r.flag())
        flags = tuple(flag_names)
    return Store(
        tag=tag,
        name=name,
        uid=uid,
        seqset=seqset,
        mode=m.group(1).decode(),
        silent=m.group(2) is not None,
        flags=flags,
        unchangedsince=unchangedsince,
    )


_PARSERS: dict[str, Parser] = {
    "CAPABILITY": _simple,
    "NOOP": _simple,
    "LOGOUT": _simple,
    "STARTTLS": _simple,
    "CHECK": _simple,
    "CLOSE": _simple,
    "UNSELECT": _simple,
    "NAMESPACE": _simple,
    "IDLE": _simple,
    "LOGIN": _login,
    "AUTHENTICATE": _authenticate,
    "SELECT": _select,
    "EXAMINE": _select,
    "CREATE": _create,
    "DELETE": _one_mailbox,
    "SUBSCRIBE": _one_mailbox,
    "UNSUBSCRIBE": _one_mailbox,
    "RENAME": _rename,
    "LIST": _list,
    "LSUB": _list,
    "STATUS": _status,
    "APPEND": parse_append,
    "ENABLE": _enable,
    "COMPRESS": _compress,
    "GETQUOTA": _quota,
    "GETQUOTAROOT": _quota,
    "SETQUOTA": _quota,
    "ID": _id,
    "EXPUNGE": _expunge,
    "COPY": _copy,
    "MOVE": _copy,
    "FETCH": _fetch,
    "STORE": _store,
    "SEARCH": parse_search,
    "SORT": parse_sort,
    "THREAD": parse_thread,
    "CANCELUPDATE": parse_cancel_update,
    "NOTIFY": parse_notify,
}
_UID_PARSERS: dict[str, UidParser] = {
    "COPY": _copy,
    "MOVE": _copy,
    "FETCH": _fetch,
    "STORE": _store,
    "SEARCH": parse_search,
    "SORT": parse_sort,
    "THREAD": parse_thread,
    "EXPUNGE": _expunge,
}
