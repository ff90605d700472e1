"""ENVELOPE (RFC 3501 §7.4.2) of a message header, as the IMAP encoder's Python values."""

from __future__ import annotations

from mailserver.message.address import Address, parse_addresses
from mailserver.message.header import Header

ImapValue = None | int | bytes | list["ImapValue"]


def address_list(header: Header, name: bytes) -> list[Address] | None:
    """The addresses of the first field of that name, or None when absent or empty."""
    return parse_addresses(header.get(name)) or None


def envelope(header: Header) -> list[ImapValue]:
    """(date subject from sender reply-to to cc bcc in-reply-to message-id).

    Strings are the raw unfolded header values (encoded words left as they are); an absent
    field is NIL; an empty or absent Sender or Reply-To is the From list (RFC 3501).
    """
    from_ = address_list(header, b"from")
    sender = address_list(header, b"sender") or from_
    reply_to = address_list(header, b"reply-to") or from_
    values: list[ImapValue] = [
        header.get(b"date"),
        header.get(b"subject"),
        _imap(from_),
        _imap(sender),
        _imap(reply_to),
        _imap(address_list(header, b"to")),
        _imap(address_list(header, b"cc")),
        _imap(address_list(header, b"bcc")),
        header.get(b"in-reply-to"),
        header.get(b"message-id"),
    ]
    return values


def _imap(addresses: list[Address] | None) -> ImapValue:
    if addresses is None:
        return None
    return [list(a) for a in addresses]
