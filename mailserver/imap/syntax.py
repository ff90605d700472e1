"""The IMAP lexer (RFC 3501 §9, RFC 9051 §9): the values a command is made of, and ParseError.

A command reaches the parser as the framer (minternet/framing.py `Lines`) delivers it: every
line and literal of it, CRLFs included. `Reader` walks those bytes once, left to right, and
reads the grammar's values: atoms, numbers, quoted strings, literals (`{n}`, `{n+}`), astrings,
nstrings, mailbox names (modified UTF-7, RFC 3501 §5.1.3), flags, dates, date-times and
sequence sets. commands.py builds typed commands from them; search.py the search key tree.

Every error is a ParseError carrying the command's tag (when one was read), a human reason, and
whether the answer is BAD (syntax) or NO (with a response code: BADCHARSET, TOOBIG). Nothing
else escapes: the reader never indexes past its data and never builds anything bigger than its
input.

`literal_verdict` is the flow-control decision for a literal announced in a command: whether
to send the `+` continuation, refuse it before the client sends it, or, for a non-synchronising
literal already on its way, answer BAD and close (RFC 7888).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from typing import TypeVar

from mailserver.imap import utf7
from mailserver.imap.seqset import SeqSet, SeqSetError

__all__ = [
    "LITERAL_MINUS_MAX",
    "MAX_LIST_DEPTH",
    "MAX_MODSEQ",
    "MAX_NUMBER",
    "LiteralVerdict",
    "ParseError",
    "Reader",
    "literal_verdict",
]

_T = TypeVar("_T")

MAX_NUMBER = 4294967295  # number, nz-number: 32-bit unsigned (RFC 3501 §9)
MAX_MODSEQ = 9223372036854775807  # mod-sequence-value: 63-bit (RFC 7162 §7)
MAX_LIST_DEPTH = 32  # nesting of parenthesised lists read by Reader.value
LITERAL_MINUS_MAX = 4096  # the largest non-synchronising literal under LITERAL- (RFC 7888 §5)


class ParseError(Exception):
    """A command the server cannot accept: answered `tag BAD reason` (or `* BAD` without a tag).

    `kind` is "BAD" for syntax errors and "NO" for well-formed commands refused for a reason
    the client can act on; `code` is the response code to send in brackets (b"BADCHARSET
    (UTF-8 US-ASCII)", b"TOOBIG"), or None.
    """

    def __init__(
        self, tag: str | None, reason: str, *, kind: str = "BAD", code: bytes | None = None
    ) -> None:
        super().__init__(reason)
        self.tag = tag
        self.reason = reason
        self.kind = kind
        self.code = code


class LiteralVerdict(enum.Enum):
    """What the session does with a literal announced in a command (RFC 7888, RFC 3501 §7.5)."""

    ACCEPT = "accept"  # synchronising: send `+ ...`; non-synchronising: read it
    REFUSE = "refuse"  # synchronising and too big: `tag NO [TOOBIG]`, the client sends nothing
    CLOSE = "close"  # non-synchronising and too big: it is on its way; `tag BAD [TOOBIG]`, close


def literal_verdict(
    size: int, *, synchronizing: bool, max_literal: int, literal_plus: bool
) -> LiteralVerdict:
    """Accept, refuse or close for a literal of `size` octets announced by the client.

    `max_literal` is the server's limit for any literal; `literal_plus` says LITERAL+ was
    advertised (any size of non-synchronising literal up to the limit), otherwise LITERAL- is
    (at most LITERAL_MINUS_MAX octets without a continuation).
    """
    if synchronizing:
        return LiteralVerdict.ACCEPT if size <= max_literal else LiteralVerdict.REFUSE
    limit = max_literal if literal_plus else min(max_literal, LITERAL_MINUS_MAX)
    return LiteralVerdict.ACCEPT if size <= limit else LiteralVerdict.CLOSE


# RFC 3501 §9: ATOM-CHAR is any CHAR (0x01-0x7F) but atom-specials: ( ) { SP CTL % * " \ ]
_ATOM = re.compile(rb'[^\x00-\x20\x7f-\xff(){%*"\\\]]+')
_ASTRING = re.compile(rb'[^\x00-\x20\x7f-\xff(){%*"\\]+')  # ATOM-CHAR plus resp-specials "]"
_LIST_MAILBOX = re.compile(rb'[^\x00-\x20\x7f-\xff(){"\\]+')  # plus list-wildcards % *
_QUOTED = re.compile(rb'"((?:[^\x00\r\n"\\\x80-\xff]|\\["\\])*)"')
_QUOTED_UTF8 = re.compile(rb'"((?:[^\x00\r\n"\\]|\\["\\])*)"')
_QUOTED_ESCAPE = re.compile(rb'\\(["\\])')
_LITERAL = re.compile(rb"(~?)\{(\d{1,10})(\+?)\}\r\n")
_NUMBER = re.compile(rb"0*(\d+)")  # leading zeros are allowed (1*DIGIT): group 1 counts
_FIELD_NAME = re.compile(rb"[\x21-\x39\x3b-\x7e]+")  # RFC 5322 §2.2: printable ASCII but ":"
_SEQSET = re.compile(rb"[0-9:*,$]+")
_DATE = re.compile(rb"(\d{1,2})-([A-Za-z]{3})-(\d{4})")
_DATE_TIME = re.compile(
    rb'"([ \d]\d)-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)"'
)
_MONTH = {
    m: i + 1 for i, m in enumerate(b"JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split())
}

# System flags (RFC 3501 §2.3.2) by their upper-case spelling -> canonical spelling.
SYSTEM_FLAGS = {f.upper(): f for f in ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")}


def is_atom(text: str) -> bool:
    """`text` can be sent as an atom (a keyword, a flag name without its backslash)."""
    return _ATOM.fullmatch(text.encode()) is not None


class Reader:
    """A cursor over one command's bytes; every method reads one grammar value or raises.

    `tag` is set once the tag is read, so every error after that carries it. `utf8` is
    UTF8=ACCEPT (RFC 6855, issue 16): 8-bit quoted strings and UTF-8 mailbox names.
    `literal_minus` refuses non-synchronising literals over LITERAL_MINUS_MAX (RFC 7888).
    """

    __slots__ = ("data", "end", "literal_minus", "pos", "searchres", "tag", "utf8")

    def __init__(
        self,
        data: bytes,
        *,
        utf8: bool = False,
        literal_minus: bool = False,
        searchres: bool = False,
    ) -> None:
        self.data = data
        self.end = len(data)
        self.pos = 0
        self.tag: str | None = None
        self.utf8 = utf8
        self.literal_minus = literal_minus
        self.searchres = searchres

    def error(self, reason: str, *, kind: str = "BAD", code: bytes | None = None) -> ParseError:
        return ParseError(self.tag, reason, kind=kind, code=code)

    # -- position ------------------------------------------------------------------------

    def at_end(self) -> bool:
        return self.pos >= self.end

    def peek(self) -> int:
        """The next octet, or -1 at the end."""
        return self.data[self.pos] if self.pos < self.end else -1

    def skip(self, octet: int) -> bool:
        """Consume `octet` if it comes next."""
        if self.pos < self.end and self.data[self.pos] == octet:
            self.pos += 1
            return True
        return False

    def expect(self, octet: int, what: str) -> None:
        if not self.skip(octet):
            raise self.error(f"expected {what}")

    def sp(self) -> None:
        self.expect(0x20, "a space")

    def end_of_command(self, name: str) -> None:
        if self.pos < self.end:
            raise self.error(f"unexpected characters after the {name} command")

    # -- atoms and numbers ---------------------------------------------------------------

    def atom(self, what: str = "an atom") -> bytes:
        m = _ATOM.match(self.data, self.pos)
        if m is None:
            raise self.error(f"expected {what}")
        self.pos = m.end()
        return m.group()

    def keyword(self) -> str:
        """An atom read as a keyword of the grammar (FETCH, FLAGS.SILENT...): upper case."""
        return self.atom().decode().upper()

    def field_name(self) -> str:
        """A header field name (an astring of printable ASCII but ":"), as written."""
        raw = self.astring()
        if _FIELD_NAME.fullmatch(raw) is None:
            raise self.error("invalid header field name")
        return raw.decode()

    def number(self, *, limit: int = MAX_NUMBER, nonzero: bool = False) -> int:
        m = _NUMBER.match(self.data, self.pos)
        if m is None:
            raise self.error("expected a number")
        significant = m.group(1)
        if len(significant) > len(str(limit)) or int(significant) > limit:
            raise self.error(f"number {m.group()[:24].decode()} is too large")
        n = int(significant)
        if nonzero and n == 0:
            raise self.error("expected a nonzero number")
        self.pos = m.end()
        return n

    # -- strings -------------------------------------------------------------------------

    def quoted(self) -> bytes:
        m = (_QUOTED_UTF8 if self.utf8 else _QUOTED).match(self.data, self.pos)
        if m is None:
            raise self.error("invalid quoted string")
        self.pos = m.end()
        text = m.group(1)
        return _QUOTED_ESCAPE.sub(rb"\1", text) if b"\\" in text else text

    def literal(self, *, binary: bool = False) -> bytes:
        """`{n}` or `{n+}` and its octets; with `binary` (APPEND's message, RFC 3516 §4.4)
        also a literal8, `~{n}`, whose octets may include NUL."""
        m = _LITERAL.match(self.data, self.pos)
        if m is None:
            raise self.error("invalid literal")
        if m.group(1) and not binary:
            raise self.error("literal8 (~{n}) is not supported here")
        size = int(m.group(2))
        if m.group(3) and self.literal_minus and size > LITERAL_MINUS_MAX:
            raise self.error(
                f"non-synchronising literal over {LITERAL_MINUS_MAX} octets", code=b"TOOBIG"
            )
        start = m.end()
        if self.end - start < size:
            raise self.error("literal shorter than announced")
        value = self.data[start : start + size]
        if not m.group(1) and b"\x00" in value:
            raise self.error("NUL octet in a literal")
        self.pos = start + size
        return value

    def at_string(self) -> bool:
        """A quoted string or a literal comes next (`~` alone is an atom character)."""
        c = self.peek()
        if c == 0x22 or c == 0x7B:  # " {
            return True
        return c == 0x7E and self.data[self.pos + 1 : self.pos + 2] == b"{"

    def string(self) -> bytes:
        if self.peek() == 0x22:
            return self.quoted()
        if self.at_string():
            return self.literal()
        raise self.error("expected a string")

    def astring(self) -> bytes:
        if self.at_string():
            return self.string()
        m = _ASTRING.match(self.data, self.pos)
        if m is None:
            raise self.error("expected an atom or a string")
        self.pos = m.end()
        return m.group()

    def nstring(self) -> bytes | None:
        m = _ATOM.match(self.data, self.pos)
        if m is not None and m.group().upper() == b"NIL":
            self.pos = m.end()
            return None
        return self.string()

    def text(self, raw: bytes, what: str) -> str:
        """UTF-8 text from a string value (RFC 6855 and the search CHARSET say UTF-8)."""
        try:
            return raw.decode()
        except UnicodeDecodeError:
            raise self.error(f"{what} is not valid UTF-8") from None

    # -- mailbox names and flags ----------------------------------------------------------

    def name_of(self, raw: bytes) -> str:
        """A mailbox name or pattern from its wire form (modified UTF-7, or UTF-8)."""
        if self.utf8:
            return self.text(raw, "mailbox name")
        try:
            return utf7.decode(raw)
        except utf7.Utf7Error as e:
            raise self.error(f"mailbox name is not valid modified UTF-7: {e}") from None

    def mailbox(self) -> str:
        """A mailbox name: decoded from modified UTF-7; any case of INBOX is INBOX."""
        name = self.name_of(self.astring())
        return "INBOX" if name.upper() == "INBOX" else name

    def list_mailbox(self) -> str:
        """A LIST pattern (RFC 3501 `list-mailbox`): wildcards allowed, decoded, case kept."""
        if self.at_string():
            return self.name_of(self.string())
        m = _LIST_MAILBOX.match(self.data, self.pos)
        if m is None:
            raise self.error("expected a mailbox pattern")
        self.pos = m.end()
        return self.name_of(m.group())

    def flag(self, *, recent: bool = False) -> str:
        """A flag: a system flag in its canonical spelling, or a keyword as written.

        \\Recent only where the grammar has `flag-fetch` (`recent`): a client cannot set it.
        """
        if self.skip(0x5C):  # backslash
            name = "\\" + self.atom("a flag name").decode()
            upper = name.upper()
            canonical = SYSTEM_FLAGS.get(upper)
            if canonical is not None:
                return canonical
            if upper == "\\RECENT" and recent:
                return "\\Recent"
            raise self.error(f"{name} is not a flag a client may set")
        return self.atom("a flag").decode()

    def flag_list(self) -> tuple[str, ...]:
        """`(flag flag ...)`, possibly empty."""
        self.expect(0x28, "'('")
        flags: list[str] = []
        if not self.skip(0x29):
            while True:
                flags.append(self.flag())
                if self.skip(0x29):
                    break
                self.sp()
        return tuple(flags)

    # -- dates ---------------------------------------------------------------------------

    def date(self) -> date:
        """`date` (RFC 3501 §9): dd-Mon-yyyy, one or two digit day, any case, maybe quoted."""
        quoted = self.skip(0x22)
        m = _DATE.match(self.data, self.pos)
        if m is None:
            raise self.error("expected a date (dd-Mon-yyyy)")
        self.pos = m.end()
        if quoted:
            self.expect(0x22, "'\"' after the date")
        day, month, year = m.groups()
        return self._make(lambda: date(int(year), self._month(month), int(day)))

    def date_time(self) -> datetime:
        """`date-time`: "dd-Mon-yyyy hh:mm:ss +zzzz" (the day may be one digit after a space)."""
        m = _DATE_TIME.match(self.data, self.pos)
        if m is None:
            raise self.error('expected a date-time ("dd-Mon-yyyy hh:mm:ss +zzzz")')
        self.pos = m.end()
        day, month, year, hh, mm, ss, sign, zh, zm = m.groups()
        if day[0] == 0x20 and day[1] == 0x30:  # " 0"
            raise self.error("day 0 in a date-time")
        if int(zm) > 59:
            raise self.error("time zone minutes over 59")
        offset = timedelta(hours=int(zh), minutes=int(zm))
        tz = timezone(-offset if sign == b"-" else offset)
        return self._make(
            lambda: datetime(
                int(year), self._month(month), int(day), int(hh), int(mm), int(ss), tzinfo=tz
            )
        )

    def _month(self, name: bytes) -> int:
        month = _MONTH.get(name.upper())
        if month is None:
            raise self.error(f"unknown month {name.decode()}")
        return month

    def _make(self, build: Callable[[], _T]) -> _T:
        try:
            return build()
        except (ValueError, OverflowError) as e:  # 31-Feb-2026, 25:00:00
            raise self.error(f"invalid date: {e}") from None

    # -- generic values --------------------------------------------------------------------

    def value(self, depth: int = 0) -> object:
        """Any value of the data grammar: NIL (None), a number (int), a string (bytes), an
        atom (str) or a parenthesised list of them (list), nested at most MAX_LIST_DEPTH deep.

        Commands do not need it; it reads back what encode.py writes (round-trip tests, and
        the ID and extension arguments that are plain data).
        """
        if depth >= MAX_LIST_DEPTH:
            raise self.error(f"lists nested deeper than {MAX_LIST_DEPTH} levels")
        if self.skip(0x28):
            items: list[object] = []
            if not self.skip(0x29):
                while True:
                    items.append(self.value(depth + 1))
                    if self.skip(0x29):
                        break
                    self.sp()
            return items
        if self.at_string():
            return self.string()
        m = _NUMBER.match(self.data, self.pos)
        if m is not None and (m.end() == self.end or self.data[m.end()] in b" )"):
            return self.number(limit=MAX_MODSEQ)
        if self.skip(0x5C):  # a flag such as \Seen
            return "\\" + self.atom("a flag name").decode()
        word = self.atom("a value").decode()
        return None if word.upper() == "NIL" else word

    # -- sets ----------------------------------------------------------------------------

    def seqset(self) -> SeqSet:
        m = _SEQSET.match(self.data, self.pos)
        if m is None:
            raise self.error("expected a sequence set")
        self.pos = m.end()
        try:
            return SeqSet.parse(m.group(), allow_saved=self.searchres)
        except SeqSetError as e:
            raise self.error(str(e)) from None
