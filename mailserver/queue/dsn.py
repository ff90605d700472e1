"""Delivery status notifications (RFC 3464 in an RFC 6522 multipart/report), without I/O: what
the queue sends a sender whose message failed, or is still being retried, for some recipients.

The notice comes from MAILER-DAEMON at the reporting server and goes with the null reverse-path
(the caller's business: RFC 5321 §4.5.5), so that it is never bounced itself; it says
`Auto-Submitted: auto-replied` (RFC 3834). Its three parts:

1. text/plain for a person: what happened to each recipient, with the remote server's reply;
2. message/delivery-status for programs: Reporting-MTA and Arrival-Date, then per recipient
   Final-Recipient, Action (failed or delayed), Status, Remote-MTA and Diagnostic-Code (the
   server's reply, when one server said it), Last-Attempt-Date, and for a delay
   Will-Retry-Until;
3. text/rfc822-headers: the original message's header (its body is not sent back).

Text that came from elsewhere (a remote reply, an address) cannot break the structure: control
characters become spaces and long texts are cut, so every line stays under 998 octets. A
non-ASCII address or header makes the report RFC 6533's message/global-delivery-status and
message/global-headers, with addresses of type utf-8.
"""

from __future__ import annotations

import email.utils
import re

from mailserver.queue.retry import Notice, Report

__all__ = ["notice_message"]

MAX_REPLY = 500  # characters of an error kept in a notice
MAX_HEADER = 64 * 1024  # octets of the original header sent back
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")

_SUBJECT = {
    "failed": "Undelivered Mail Returned to Sender",
    "delayed": "Delayed Mail (still being retried)",
}
_INTRO = {
    "failed": (
        "Your message could not be delivered to one or more recipients. It is attached "
        "below (its header only). The server's reasons follow."
    ),
    "delayed": (
        "Your message has not been delivered yet to one or more recipients. The server "
        "keeps trying; you do not need to send it again. The reasons so far follow."
    ),
}


def _clean(text: str, limit: int = MAX_REPLY) -> str:
    text = _CONTROL.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _date(when: float) -> str:
    return email.utils.formatdate(when, localtime=False, usegmt=True)


def _address(address: str) -> str:
    kind = "rfc822" if address.isascii() else "utf-8"
    return f"{kind}; {_clean(address)}"


def _recipient_fields(r: Report, action: str, last_attempt: float, retry_until: float) -> str:
    lines = [
        f"Final-Recipient: {_address(r.address)}",
        f"Action: {action}",
        f"Status: {r.status}",
    ]
    if r.remote is not None:
        lines += [
            f"Remote-MTA: dns; {_clean(r.remote)}",
            f"Diagnostic-Code: smtp; {_clean(r.error)}",
        ]
    lines.append(f"Last-Attempt-Date: {_date(last_attempt)}")
    if action == "delayed":
        lines.append(f"Will-Retry-Until: {_date(retry_until)}")
    return "\r\n".join(lines) + "\r\n"


def _human(r: Report) -> str:
    said = f"{_clean(r.remote)} said: " if r.remote is not None else ""
    return f"<{_clean(r.address)}>: {said}{_clean(r.error)}\r\n"


def _original_header(header: bytes) -> bytes:
    header = header[:MAX_HEADER]
    header = header[: header.rfind(b"\n") + 1]  # whole lines only
    return header.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")


def notice_message(
    notice: Notice,
    *,
    sender: str,
    arrival: float,
    original_header: bytes,
    reporting_mta: str,
    now: float,
    retry_until: float,
    message_id: str,
    boundary: str,
) -> bytes:
    """The notice as message bytes (CRLF line ends), to `sender`. `message_id` is without
    angle brackets; `boundary` must not occur in the parts (a random token does not)."""
    header = _original_header(original_header)
    texts = [_clean(r.address) + (r.remote or "") + r.error for r in notice.reports]
    utf8 = not sender.isascii() or not all(t.isascii() for t in texts) or not header.isascii()
    status_type = "message/global-delivery-status" if utf8 else "message/delivery-status"
    headers_type = "message/global-headers" if utf8 else "text/rfc822-headers"
    mta = _clean(reporting_mta)
    human = f"This is the mail system at {mta}.\r\n\r\n{_INTRO[notice.action]}\r\n\r\n" + "".join(
        _human(r) for r in notice.reports
    )
    status = f"Reporting-MTA: dns; {mta}\r\nArrival-Date: {_date(arrival)}\r\n" + "".join(
        "\r\n" + _recipient_fields(r, notice.action, now, retry_until) for r in notice.reports
    )
    report_type = "global-delivery-status" if utf8 else "delivery-status"
    cte = "8bit" if utf8 else "7bit"
    parts = [
        f"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: {cte}\r\n"
        f"Content-Description: Notification\r\n\r\n{human}",
        f"Content-Type: {status_type}\r\nContent-Transfer-Encoding: {cte}\r\n"
        f"Content-Description: Delivery report\r\n\r\n{status}",
        f"Content-Type: {headers_type}\r\nContent-Transfer-Encoding: {cte}\r\n"
        f"Content-Description: The original message's header\r\n\r\n",
    ]
    top = (
        f"From: Mail Delivery System <MAILER-DAEMON@{mta}>\r\n"
        f"To: {_clean(sender)}\r\n"
        f"Subject: {_SUBJECT[notice.action]}\r\n"
        f"Date: {_date(now)}\r\n"
        f"Message-ID: <{_clean(message_id)}>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        f"Content-Type: multipart/report; report-type={report_type};\r\n"
        f' boundary="{boundary}"\r\n'
        f"Content-Transfer-Encoding: {cte}\r\n"
        "\r\n"
        "This is a MIME-encapsulated message.\r\n"
    )
    out = top.encode()
    for i, part in enumerate(parts):
        out += f"\r\n--{boundary}\r\n".encode() + part.encode()
        if i == len(parts) - 1:
            out += header
    return out + f"\r\n--{boundary}--\r\n".encode()
