"""Who answered: CHAOS-class TXT queries (version.bind, id.server, ...) and NSID (RFC 5001).

Sans-I/O: the shell resolves the defaults (the machine's hostname, the package version) and
builds one `Identity`; both servers answer from it the way NSD and Unbound do (checked against
NSD 4.6.1 and Unbound 1.17.1):

- `version.bind` and `version.server` CH TXT give the version, `id.server` (RFC 4892) and
  `hostname.bind` give the identity: one TXT record of class CH, TTL 0, no AA; CH ANY gets the
  same record;
- a hidden item, any other CH name and any other CH type are REFUSED;
- a query carrying an NSID option gets the identity back in one (in every response to it,
  errors included); never without being asked (RFC 5001 §2.1), never when the identity is hidden.
"""

from __future__ import annotations

from dataclasses import dataclass

from dnsserver.wire import Name

CLASS_CH = 3  # RFC 1035 §3.2.4: CHAOS
TYPE_TXT = 16
TYPE_ANY = 255

_VERSION_NAMES: frozenset[Name] = frozenset({(b"version", b"bind"), (b"version", b"server")})
_IDENTITY_NAMES: frozenset[Name] = frozenset({(b"id", b"server"), (b"hostname", b"bind")})


@dataclass(frozen=True, slots=True)
class Identity:
    """What a server says about itself; None hides an item (its queries are REFUSED)."""

    identity: str | None = None
    version: str | None = None

    @classmethod
    def from_settings(
        cls,
        *,
        identity: str,
        hide_identity: bool,
        version: str,
        hide_version: bool,
        hostname: str,
        default_version: str,
    ) -> Identity:
        """From the configuration: an empty identity is `hostname`, an empty version ours.

        Raises ValueError for a text that does not fit one TXT string (255 octets).
        """
        for what, text in (("identity", identity), ("version", version)):
            if len(text.encode()) > 255:
                raise ValueError(f"{what} is longer than 255 octets")
        return cls(
            identity=None if hide_identity else (identity or hostname),
            version=None if hide_version else (version or default_version),
        )

    def txt(self, key: Name, qtype: int) -> str | None:
        """The text answering a CH query for the lowercased name `key`, or None: REFUSED."""
        if qtype not in (TYPE_TXT, TYPE_ANY):
            return None
        if key in _VERSION_NAMES:
            return self.version
        if key in _IDENTITY_NAMES:
            return self.identity
        return None

    @property
    def nsid(self) -> bytes | None:
        """The NSID option's payload (the identity, UTF-8), or None when hidden."""
        return None if self.identity is None else self.identity.encode()
