"""Quotas (RFC 9208): how much mail one user may keep, and the check before mail is added.

A user has one quota root, which holds every mailbox of the user. Two resources are counted:
STORAGE (the octets of every message, as RFC822.SIZE counts them) and MESSAGE (the number of
messages); a limit of 0 is no limit. The usage is read from the index in the same transaction
as the addition it checks (COPY), or just before it (APPEND): what is in the index is what
counts, so a crash never leaves a counter wrong.

`Quota.refusal` is the rule, pure: the reason an addition is refused, or None. APPEND and COPY
must fit whole (a MULTIAPPEND all or none, as RFC 3502 asks); a delivery is refused only once
the user is at or over a limit (`full`), so the message that crosses it is still taken, as
Dovecot's default grace lets it be: SMTP can refuse at RCPT, before the message's size is known
(it is known only from the SIZE parameter, when the client gives it).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import OVERQUOTA, StoreError

__all__ = ["NO_QUOTA", "Quota", "Usage", "kibibytes"]


@dataclass(frozen=True, slots=True)
class Usage:
    """What a user keeps: octets and messages, every mailbox together."""

    storage: int = 0
    messages: int = 0


@dataclass(frozen=True, slots=True)
class Quota:
    """A user's limits: `storage` octets and `messages` messages; 0 is no limit."""

    storage: int = 0
    messages: int = 0

    def __post_init__(self) -> None:
        if self.storage < 0 or self.messages < 0:
            raise ValueError("a quota is a number of octets or messages, 0 for none")

    @property
    def limited(self) -> bool:
        return bool(self.storage or self.messages)

    def refusal(self, usage: Usage, octets: int, messages: int) -> str | None:
        """Why `messages` more messages of `octets` octets in all do not fit, or None."""
        if self.storage and usage.storage + octets > self.storage:
            return (
                f"over quota: {usage.storage + octets} octets of {self.storage} allowed"
                f" ({usage.storage} used)"
            )
        if self.messages and usage.messages + messages > self.messages:
            return (
                f"over quota: {usage.messages + messages} messages of {self.messages} allowed"
                f" ({usage.messages} kept)"
            )
        return None

    def full(self, usage: Usage, octets: int) -> str | None:
        """Why a delivery of `octets` (0 if the sender did not say) is refused: the user is at
        or over a limit already, or the message is bigger than the room left. None: it is
        taken."""
        if self.storage and usage.storage + max(octets, 1) > self.storage:
            return f"mailbox full: {usage.storage} octets of {self.storage} used"
        if self.messages and usage.messages >= self.messages:
            return f"mailbox full: {usage.messages} messages of {self.messages} kept"
        return None

    def check(self, usage: Usage, octets: int, messages: int) -> None:
        """StoreError OVERQUOTA if the addition does not fit."""
        why = self.refusal(usage, octets, messages)
        if why is not None:
            raise StoreError(why, OVERQUOTA)


NO_QUOTA = Quota()


def kibibytes(octets: int) -> int:
    """STORAGE as RFC 9208 §5.1 counts it: units of 1024 octets, rounded up."""
    return -(-octets // 1024)
