"""What every parsed IMAP command is: a tag and a name (commands.py, search_commands.py)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Command"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """What every command has: its tag and its name in upper case (UID FETCH is FETCH, uid),
    and whether it was read under UTF8=ACCEPT (RFC 6855), so that its answer names mailboxes
    in UTF-8 rather than modified UTF-7."""

    tag: str
    name: str
    utf8: bool = False
