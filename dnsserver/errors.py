"""The dnsserver error base class; every error carries the DNS rcode it is answered with."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dnsserver.problems import Problem

# RFC 1035 §4.1.1 / RFC 6891 §9 response codes used by the server.
NOERROR = 0
FORMERR = 1
SERVFAIL = 2
NXDOMAIN = 3
NOTIMP = 4
REFUSED = 5
NOTAUTH = 9  # RFC 8945 §5.2: a TSIG error
BADVERS = 16
BADKEY = 17  # RFC 8945 §5.2.2, in the TSIG record's Error field


class DnsError(Exception):
    """Base class of dnsserver errors; `rcode` is what the client is told (None: say nothing)."""

    rcode: int | None = SERVFAIL


class Unanswerable(DnsError):
    """Input that gets no response at all: too short for a header, or a response (QR=1)."""

    rcode = None


class FormatError(DnsError):
    """A malformed query (RFC 1035 §4.1.1 FORMERR)."""

    rcode = FORMERR


class NotImplementedOpcode(DnsError):
    """An opcode other than QUERY (RFC 1035 §4.1.1 NOTIMP)."""

    rcode = NOTIMP


class ZoneError(DnsError):
    """A master file that cannot be served; the message names the file and, when known, the line.
    `problems` holds every error and warning found, when the zone was checked as a whole."""

    rcode = SERVFAIL

    def __init__(self, message: str, problems: tuple[Problem, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems
