"""What the store caches per message so that FETCH, SORT, THREAD and SEARCH SUBJECT need not
read the file.

A Summary holds the ENVELOPE, BODY and BODYSTRUCTURE values, already in IMAP syntax (encoded
once, at delivery: a FETCH ENVELOPE then copies bytes instead of unpacking and encoding some
twenty nested lists per message, which made it twice as fast), the size, the sent date and the
keys of SORT (RFC 5256 §3, RFC 5957 DISPLAY) and THREAD (base subject, Message-ID, In-Reply-To,
References). `to_bytes` packs it with MessagePack (the msgpack package: compact, bytes kept as
bytes, and decoded by C code, which matters when 100,000 of them are read for one SORT; JSON
has no bytes type and pickle is unsafe and slow), `from_bytes` reads it back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta, timezone
from typing import Any, cast

import msgpack

from mailserver.imap.encode import value as imap_syntax
from mailserver.message.casemap import casemap
from mailserver.message.charsets import decode_bytes
from mailserver.message.envelope import ImapValue
from mailserver.message.errors import MessageError
from mailserver.message.message import Message
from mailserver.message.msgid import message_id, message_ids
from mailserver.message.subject import base_subject
from mailserver.message.textsearch import header_texts, index_text
from mailserver.message.words import decode_words

# 2: unopened message/rfc822 parts got their envelope and body in BODYSTRUCTURE;
# 3: ENVELOPE, BODY and BODYSTRUCTURE kept in IMAP syntax
VERSION = 3


@dataclass(frozen=True, slots=True)
class Summary:
    """A message's cached facts. Strings from the message are bytes; derived text is str."""

    size: int
    envelope: bytes  # IMAP syntax: the parenthesised list FETCH sends
    body: bytes
    bodystructure: bytes
    sent: int | None  # the Date: header as a UTC POSIX timestamp, None when absent or bad
    sent_offset: int  # its zone, in seconds east of UTC (0 without a date)
    base_subject: str  # RFC 5256 §2.1, not case-folded
    is_reply: bool  # the subject was a reply or forward (THREAD ORDEREDSUBJECT)
    message_id: bytes | None
    in_reply_to: bytes | None  # the first id of In-Reply-To
    references: list[bytes]
    sort_from: bytes  # addr-mailbox of the first From address (b"" without one)
    sort_to: bytes
    sort_cc: bytes
    display_from: str  # RFC 5957: display name of the first From, else its addr-spec
    display_to: str

    def sent_datetime(self) -> datetime | None:
        """The sent date in the zone the message gave (see dates.parse_date)."""
        if self.sent is None:
            return None
        return datetime.fromtimestamp(self.sent, timezone(timedelta(seconds=self.sent_offset)))

    def to_bytes(self) -> bytes:
        """The packed form, for the store's index."""
        packed: bytes = msgpack.packb([VERSION, *(getattr(self, name) for name in _NAMES)])
        return packed

    @classmethod
    def from_bytes(cls, data: bytes) -> Summary:
        """Read a packed Summary; MessageError when it is not one of this version."""
        try:
            values = msgpack.unpackb(data)  # bytes stay bytes, str str, arrays lists
        except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as e:
            raise MessageError(f"not a message summary: {e}") from None
        if not isinstance(values, list) or len(values) != len(_NAMES) + 1 or values[0] != VERSION:
            raise MessageError(f"not a message summary of version {VERSION}")
        del values[0]
        _check(values)
        return cls(*values)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def store_fields(self) -> dict[str, object]:
        """The row the store's index keeps (mailserver/store's `Summarize` contract): `blob`,
        this Summary packed, the SORT/THREAD columns as text (ids and addr-mailboxes are
        ASCII in practice; other octets are read as Latin-1, so nothing fails or is lost), and
        SORT's string keys in the i;unicode-casemap form it compares (casemap.py)."""
        from_ = decode_bytes(self.sort_from, None)
        to = decode_bytes(self.sort_to, None)
        cc = decode_bytes(self.sort_cc, None)
        return {
            "blob": self.to_bytes(),
            "date": self.sent,
            "subject": self.base_subject,
            "from": from_,
            "to": to,
            "cc": cc,
            "message_id": _text(self.message_id),
            "in_reply_to": _text(self.in_reply_to),
            "references": " ".join(r.decode("latin-1") for r in self.references),
            "reply": int(self.is_reply),
            "subject_key": casemap(self.base_subject),
            "from_key": casemap(from_),
            "to_key": casemap(to),
            "cc_key": casemap(cc),
        }


# Each field's types, in the dataclass's order (a Summary is read back 100,000 times for one
# FETCH ENVELOPE of a big mailbox, so the names and types are worked out once, here).
_TYPES: dict[str, tuple[type, ...]] = {
    "size": (int,),
    "envelope": (bytes,),
    "body": (bytes,),
    "bodystructure": (bytes,),
    "sent": (int, type(None)),
    "sent_offset": (int,),
    "base_subject": (str,),
    "is_reply": (bool,),
    "message_id": (bytes, type(None)),
    "in_reply_to": (bytes, type(None)),
    "references": (list,),
    "sort_from": (bytes,),
    "sort_to": (bytes,),
    "sort_cc": (bytes,),
    "display_from": (str,),
    "display_to": (str,),
}
_NAMES = tuple(f.name for f in fields(Summary))
_CHECKS = tuple((name, _TYPES[name], bool in _TYPES[name]) for name in _NAMES)


def _check(values: list[Any]) -> None:
    """MessageError unless each of a Summary's field values has its field's type (a bool is
    not taken for an int)."""
    for (name, types, bool_ok), value in zip(_CHECKS, values, strict=True):
        if not isinstance(value, types) or (value.__class__ is bool and not bool_ok):
            raise MessageError(f"message summary field {name} has the wrong type")


def _first_mailbox(value: ImapValue) -> tuple[bytes | None, bytes, bytes] | None:
    """(name, mailbox, host) of the first address that is not a group marker."""
    if isinstance(value, list):
        for address in value:
            if isinstance(address, list):
                name, _adl, mailbox, host = address
                if isinstance(mailbox, bytes) and isinstance(host, bytes):
                    return cast(bytes | None, name), mailbox, host
    return None


def _sort_mailbox(value: ImapValue) -> bytes:
    address = _first_mailbox(value)
    return b"" if address is None else address[1]


def _display(value: ImapValue) -> str:
    address = _first_mailbox(value)
    if address is None:
        return ""
    name, mailbox, host = address
    return decode_words(name or mailbox + b"@" + host)


def _text(ident: bytes | None) -> str | None:
    return None if ident is None else ident.decode("latin-1")


def store_summary(raw: bytes) -> dict[str, object]:
    """What the store calls on a delivered message: its `store_fields`, and `subject_text`,
    the Subject fields as SEARCH SUBJECT matches them (textsearch.index_text; None when they
    cannot be kept, and SEARCH reads the message)."""
    message = Message(raw)
    fields = summarize(message).store_fields()
    fields["subject_text"] = index_text(header_texts(message.header, b"subject"))
    return fields


def summarize(message: Message) -> Summary:
    """The Summary of a message (parses its whole structure once)."""
    env = message.envelope()
    header = message.header
    sent = message.date()
    subject, reply = base_subject(header.get(b"subject"))
    offset = sent.utcoffset() if sent is not None else None
    return Summary(
        size=message.size,
        envelope=imap_syntax(env),
        body=imap_syntax(message.body()),
        bodystructure=imap_syntax(message.bodystructure()),
        sent=None if sent is None else int(sent.timestamp()),
        sent_offset=0 if offset is None else int(offset.total_seconds()),
        base_subject=subject,
        is_reply=reply,
        message_id=message_id(header.get(b"message-id")),
        in_reply_to=message_id(header.get(b"in-reply-to")),
        references=message_ids(header.get(b"references")),
        sort_from=_sort_mailbox(env[2]),
        sort_to=_sort_mailbox(env[5]),
        sort_cc=_sort_mailbox(env[6]),
        display_from=_display(env[2]),
        display_to=_display(env[5]),
    )
