"""The resolver's error base class: errors carry the DNS rcode a client would see."""

from __future__ import annotations

from dnslib import RCODE


class ResolverError(Exception):
    """A resolver fault; `rcode` is what a client gets for it (SERVFAIL unless said otherwise)."""

    def __init__(self, message: str, rcode: int = RCODE.SERVFAIL) -> None:
        super().__init__(message)
        self.rcode = rcode
