"""The store's one error type, carrying the IMAP response code (RFC 5530) a session answers with."""

from __future__ import annotations

# Response codes (RFC 5530 section 3) the store uses; the session puts them in a tagged NO.
NONEXISTENT = "NONEXISTENT"  # the mailbox does not exist
ALREADYEXISTS = "ALREADYEXISTS"  # CREATE or RENAME onto a name that exists
CANNOT = "CANNOT"  # a name or an operation the store will never accept
INUSE = "INUSE"  # another process holds the index's write lock too long: try again
LIMIT = "LIMIT"  # a documented limit (name length, keywords per message) is reached
CORRUPTION = "CORRUPTION"  # the index is unreadable (the store rebuilds it on open)
OVERQUOTA = "OVERQUOTA"  # the user's quota would be exceeded (RFC 9208 §4.3, RFC 5530)


class StoreError(Exception):
    """A refused store operation: `code` is the RFC 5530 response code, str(self) the reason."""

    def __init__(self, message: str, code: str = CANNOT) -> None:
        super().__init__(message)
        self.code = code
