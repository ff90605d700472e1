"""The tracker's one error family: every error carries the failure reason a client is sent."""

from __future__ import annotations


class TrackerError(Exception):
    """A request the tracker refuses; `reason` is the bencoded `failure reason` / UDP error text.

    `kind` names the class of fault for rate-limited logging (one log line per kind per interval).
    """

    kind = "bad-request"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RequestError(TrackerError):
    """The client sent something malformed (the client's fault): missing/invalid parameters."""

    kind = "bad-request"


class RefusedError(TrackerError):
    """A well-formed request the tracker's policy refuses: whitelist, passkey, limits, rate."""

    kind = "refused"


class PacketError(TrackerError):
    """A UDP datagram that is not a BEP 15 request; `reply` says whether it earns an error packet.

    Datagrams too short to carry a transaction ID cannot be answered and are dropped.
    """

    kind = "bad-packet"

    def __init__(self, reason: str, *, reply: bool = True) -> None:
        super().__init__(reason)
        self.reply = reply
