"""Names and record types as people type them (command lines, control commands), checked."""

from __future__ import annotations

import dns.exception
import dns.name
import dns.rdatatype

from dnsserver.errors import FORMERR, DnsError
from dnsserver.resolver.rrset import Name

#: Types that name a transfer or a transaction, not data a resolver can walk to.
META_TYPES = frozenset({0, 41, 249, 250, 251, 252, 253, 254})

_NAME_ERRORS: dict[type[Exception], str] = {
    dns.name.EmptyLabel: "empty label",
    dns.name.LabelTooLong: "label longer than 63 octets",
    dns.name.NameTooLong: "name longer than 255 octets",
    dns.name.BadEscape: "bad escape",
    dns.name.IDNAException: "not a valid internationalised name",
}


class TextError(DnsError, ValueError):
    """A name or type typed by a person that is not one; the message says why, in DNS terms."""

    rcode = FORMERR


def parse_name(text: str) -> Name:
    """'Gaia.cs.umass.edu' (absolute or not, IDNA allowed) -> (b'gaia', b'cs', b'umass', b'edu')."""
    if not text:
        raise TextError("empty name (the root is '.')")
    try:
        name = dns.name.from_text(text)
    except dns.exception.DNSException as e:
        why = next((w for cls, w in _NAME_ERRORS.items() if isinstance(e, cls)), None)
        raise TextError(f"bad name {text!r}: {why or e}") from None
    except UnicodeError:  # IDNA refuses it (a name dnspython cannot encode)
        raise TextError(f"bad name {text!r}: not a valid internationalised name") from None
    return tuple(label.lower() for label in name.labels[:-1])


def parse_type(text: str) -> int:
    """'aaaa', 'AAAA', 'TYPE28' or '28' -> 28; a meta type (AXFR, OPT, ...) is refused."""
    try:
        code = int(text) if text.isdigit() else int(dns.rdatatype.from_text(text))
    except (dns.rdatatype.UnknownRdatatype, ValueError):
        raise TextError(f"unknown record type {text!r}") from None
    if not 0 <= code <= 65535:
        raise TextError(f"record type {text!r} out of range (0 to 65535)")
    if code in META_TYPES:
        what = dns.rdatatype.to_text(dns.rdatatype.RdataType.make(code))
        raise TextError(f"cannot trace {what}: it is not a type of data")
    return code
