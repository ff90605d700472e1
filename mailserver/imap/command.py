"""What every parsed IMAP command is: a tag and a name (commands.py, search_commands.py)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Command"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """What every command has: its tag and its name in upper case (UID FETCH is FETCH, uid)."""

    tag: str
    name: str
