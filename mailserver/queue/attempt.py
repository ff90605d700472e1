"""One delivery attempt of one message to one domain, without I/O: what each SMTP reply of the
remote server means for each recipient (RFC 5321 §4.2, §4.5.3.1; RFC 3463 codes).

The shell (an aiosmtplib client) tries the route's hosts in order and feeds this module what
happened; this module says who was delivered, who failed for good and who waits for a retry:

- a host that cannot be reached, or that refuses the session before MAIL (its greeting, EHLO,
  or a STARTTLS it offered and then broke), is skipped for the next one (`next_host`); when
  no host is left, every recipient is deferred with the last host's error (§5.1: all MX hosts
  are tried before giving up for now);
- once MAIL is answered the host is the one: a 4xx or 5xx to MAIL defers or fails every
  recipient; each RCPT reply decides its recipient (2xx: in the transaction); DATA's reply,
  after the message, decides every recipient the server took;
- a connection lost within the transaction defers whoever was not decided yet: the remote
  server may not have the message (the RFC 5321 §6.1 duplicate risk is the lesser evil).

A reply's enhanced status code is the one it carries ("550 5.1.1 ..."), else its class's
X.0.0. Reply texts come from a stranger: they are kept in one line, at most 500 characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mailserver.queue.retry import Deferred, Delivered, Failed, Outcome

__all__ = ["Transaction", "next_host", "outcome", "reply_status", "unreachable"]

MAX_TEXT = 500
_ENHANCED = re.compile(r"([245])\.([0-9]{1,3})\.([0-9]{1,3})(?: |$)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def _text(code: int, text: str) -> str:
    line = _CONTROL.sub(" ", f"{code} {text}".strip())
    return line if len(line) <= MAX_TEXT else line[: MAX_TEXT - 3] + "..."


def reply_status(code: int, text: str) -> str:
    """The RFC 3463 status of a reply: the one it carries when its class agrees, else X.0.0."""
    klass = code // 100
    m = _ENHANCED.match(text)
    if m is not None and int(m[1]) == klass:
        return f"{m[1]}.{int(m[2])}.{int(m[3])}"
    return f"{klass if klass in (2, 4, 5) else 4}.0.0"


def outcome(address: str, code: int, text: str, remote: str) -> Outcome:
    """What one reply means for one recipient: 2xx delivered, 5xx failed, anything else
    (4xx, or a reply no server should give) a retry."""
    said = _text(code, text)
    if 200 <= code < 300:
        return Delivered(address, remote, said)
    if 500 <= code < 600:
        return Failed(address, reply_status(code, text), said, remote)
    return Deferred(address, reply_status(code, text), said, remote)


def unreachable(addresses: list[str], error: str) -> list[Outcome]:
    """Every recipient deferred: no host of the route could be reached (4.4.1, RFC 3463: no
    answer from host), with the last host's error (no host said it: no remote)."""
    line = _CONTROL.sub(" ", error)[:MAX_TEXT]
    return [Deferred(a, "4.4.1", line) for a in addresses]


def next_host(stage: str) -> bool:
    """After a failure at `stage` ("connect", "greeting", "ehlo", "starttls", "mail", "rcpt",
    "data", "lost"), whether the attempt moves on to the route's next host."""
    return stage in ("connect", "greeting", "ehlo", "starttls")


@dataclass
class Transaction:
    """One message to one host, from MAIL on: feed it the replies in order."""

    recipients: list[str]
    remote: str
    accepted: list[str] = field(default_factory=list)
    decided: dict[str, Outcome] = field(default_factory=dict)
    done: bool = False

    def mail(self, code: int, text: str) -> bool:
        """MAIL's reply; False when it ends the transaction (every recipient decided by it)."""
        if 200 <= code < 300:
            return True
        for a in self.recipients:
            self.decided[a] = outcome(a, code, text, self.remote)
        self.done = True
        return False

    def rcpt(self, address: str, code: int, text: str) -> None:
        """One RCPT's reply: taken into the transaction, or decided here."""
        if 200 <= code < 300:
            self.accepted.append(address)
        else:
            self.decided[address] = outcome(address, code, text, self.remote)

    def wants_data(self) -> bool:
        """Whether DATA is worth sending: some recipient was taken (else RSET and go)."""
        return bool(self.accepted) and not self.done

    def data(self, code: int, text: str) -> None:
        """The reply after the message's final dot (or to DATA itself, when that refused)."""
        for a in self.accepted:
            self.decided[a] = outcome(a, code, text, self.remote)
        self.done = True

    def lost(self, error: str) -> None:
        """The connection broke, or a reply never came: whoever is undecided waits."""
        for a in self.recipients:
            if a not in self.decided:
                self.decided[a] = Deferred(
                    a, "4.4.2", _CONTROL.sub(" ", error)[:MAX_TEXT], self.remote
                )
        self.done = True

    def outcomes(self) -> list[Outcome]:
        """Every recipient's outcome, in the recipients' order (after `data`, `lost` or a
        refused MAIL; before that, the undecided are missing)."""
        return [self.decided[a] for a in self.recipients if a in self.decided]
