"""HTTP/1.1 requests and responses (RFC 9112), sans-I/O: a request framer and a response encoder.

The framer keeps the stream listener's framing contract (minternet/framing.py): `feed`,
`next_frame` -> Request or None, `pending`, `clear`. What it enforces, each limit explained:

- the request line at most `max_request_line` octets (414), the head at most `max_head` and
  `max_headers` fields of at most `max_header_line` each (431): a head is buffered whole before
  it is parsed, so these bound the memory of a connection;
- CRLF line endings: a head with a bare LF is refused at once (400) rather than waiting for a
  CRLFCRLF that never comes (RFC 9112 §2.2 lets a server refuse them);
- bodies framed by Content-Length only, at most `max_body` (413); two different lengths are
  refused (RFC 9112 §6.3: the way to smuggle a request past a proxy that picks the other one);
  Transfer-Encoding is refused with 501;
- HTTP/1.1 requires Host (RFC 9112 §3.2); other versions than 1.0 and 1.1 get 505;
- the absolute form of a target (`http://host/path`, RFC 9112 §3.2.2) is turned into the
  origin form;
- persistence: 1.1 keeps the connection unless `Connection: close`; 1.0 closes unless
  `Connection: keep-alive`, and then the response must say keep-alive too (RFC 9112 App. C.2.2,
  RFC 2068 §19.7.1), or the client waits for a close.

A refused request raises HttpError with its status: the protocol answers it (see `response`)
and closes the connection, since the rest of the stream cannot be framed any more.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from typing import NamedTuple

from minternet.framing import FramingError

REASONS = {
    200: b"OK",
    204: b"No Content",
    400: b"Bad Request",
    404: b"Not Found",
    405: b"Method Not Allowed",
    408: b"Request Timeout",
    413: b"Content Too Large",
    414: b"URI Too Long",
    431: b"Request Header Fields Too Large",
    500: b"Internal Server Error",
    501: b"Not Implemented",
    503: b"Service Unavailable",
    505: b"HTTP Version Not Supported",
}


class HttpError(FramingError):
    """A request answered with `status` and a closed connection."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    max_request_line: int = 4096
    max_header_line: int = 8190
    max_headers: int = 64
    max_head: int = 16384
    max_body: int = 8192


class Request(NamedTuple):
    method: bytes
    target: bytes  # origin form: /path?query
    version: bytes  # b"HTTP/1.1" or b"HTTP/1.0"
    keep_alive: bool
    head: bytes  # the header lines as received (checked), CRLF-separated; b"" if none
    body: bytes

    def header(self, name: bytes) -> bytes | None:
        """The last value of the field `name` (lower case), or None. Looked up when asked: a
        request is framed without building a table of its fields (the tracker asks for one)."""
        found = None
        for line in self.head.split(b"\r\n"):
            n, _, v = line.partition(b":")
            if n.lower() == name:
                found = v.strip()
        return found


_new_request = tuple.__new__  # skips NamedTuple's Python-level __new__ on the hot path


class RequestFramer:
    """Whole requests out of a connection's bytes (see the module docstring for the rules)."""

    __slots__ = ("_buf", "limits")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._buf = b""

    def feed(self, data: bytes) -> None:
        self._buf += data  # b"" + data is data itself (CPython): no copy of a first read

    def pending(self) -> int:
        return len(self._buf)

    def clear(self) -> None:
        self._buf = b""

    def next_frame(self) -> Request | None:
        buf = self._buf
        if not buf:
            return None
        limits = self.limits
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            self._check_incomplete(buf)
            return None
        line_end = buf.find(b"\r\n")
        if line_end > limits.max_request_line:
            raise HttpError(414, "request line too long")
        if end > limits.max_head:
            raise HttpError(431, "request headers too large")
        parts = buf[:line_end].split(b" ")
        if len(parts) != 3:
            raise HttpError(400, "malformed request line")
        method, target, version = parts
        if version == b"HTTP/1.1":
            keep_alive = True
        elif version == b"HTTP/1.0":
            keep_alive = False
        elif version.startswith(b"HTTP/"):
            raise HttpError(505, "unsupported HTTP version")
        else:
            raise HttpError(400, "malformed request line")
        body_length = -1  # no Content-Length yet
        has_host = False
        head = b""
        if end > line_end:
            head = buf[line_end + 2 : end]
            lines = head.split(b"\r\n")
            if len(lines) > limits.max_headers:
                raise HttpError(431, "too many header fields")
            for line in lines:
                if len(line) > limits.max_header_line:
                    raise HttpError(431, "header field too large")
                name, colon, value = line.partition(b":")
                # No whitespace around the name; a leading space is obsolete line folding.
                if not colon or not name or name[-1:] in b" \t" or name[:1] in b" \t":
                    raise HttpError(400, "malformed header field")
                name = name.lower()
                if name == b"host":
                    has_host = True
                elif name == b"connection":
                    tokens = value.lower()
                    if b"close" in tokens:
                        keep_alive = False
                    elif b"keep-alive" in tokens:
                        keep_alive = True
                elif name == b"content-length":
                    value = value.strip()
                    if not value.isdigit() or len(value) > 12:
                        raise HttpError(400, "invalid Content-Length")
                    if body_length >= 0 and int(value) != body_length:
                        raise HttpError(400, "conflicting Content-Length fields")
                    body_length = int(value)
                    if body_length > limits.max_body:
                        raise HttpError(413, "request body too large")
                elif name == b"transfer-encoding":
                    raise HttpError(501, "request bodies with Transfer-Encoding are not accepted")
        total = end + 4
        body = b""
        if body_length > 0:
            total += body_length
            if len(buf) < total:
                return None  # the rest of the body is still coming
            body = buf[end + 4 : total]
        self._buf = buf[total:]
        if not has_host and version == b"HTTP/1.1":
            raise HttpError(400, "HTTP/1.1 request without Host")
        if not target.startswith(b"/"):
            scheme, sep, rest = target.partition(b"://")
            authority, slash, path = rest.partition(b"/")
            # RFC 9110 §4.2.1: a URI with an empty host is invalid (an IPv6 host starts "[").
            host = authority.rpartition(b"@")[2].partition(b":")[0]
            if not sep or not slash or not host or scheme.lower() not in (b"http", b"https"):
                raise HttpError(400, "malformed request target")
            target = slash + path
        return _new_request(  # type: ignore[no-any-return]
            Request, (method, target, version, keep_alive, head, body)
        )

    def _check_incomplete(self, buf: bytes) -> None:
        limits = self.limits
        if b"\n\n" in buf:
            raise HttpError(400, "bare LF line endings: HTTP needs CRLF")
        line_end = buf.find(b"\r\n")
        if line_end < 0:
            if len(buf) > limits.max_request_line:
                raise HttpError(414, "request line too long")
            return
        if line_end > limits.max_request_line:
            raise HttpError(414, "request line too long")
        if len(buf) > limits.max_head:
            raise HttpError(431, "request headers too large")


KEEP_ALIVE_10 = b"Connection: keep-alive\r\n"


def response(
    status: int,
    content_type: bytes,
    body: bytes,
    date: bytes,
    keep_alive: bool = True,
    head_only: bool = False,
    http10: bool = False,
    extra: bytes = b"",
) -> bytes:
    """One response with Content-Length; `extra` is more header lines, each ending in CRLF."""
    head = b"HTTP/1.1 %d %b\r\nContent-Type: %b\r\nContent-Length: %d\r\nDate: %b\r\n%b%b\r\n" % (
        status,
        REASONS.get(status, b"Error"),
        content_type,
        len(body),
        date,
        extra + (KEEP_ALIVE_10 if keep_alive and http10 else b""),
        b"" if keep_alive else b"Connection: close\r\n",
    )
    return head if head_only else head + body


class DateHeader:
    """The Date header value (RFC 9110 §6.6.1), formatted at most once per wall-clock second."""

    __slots__ = ("_second", "_value")

    def __init__(self) -> None:
        self._second = -1
        self._value = b""

    def __call__(self, wall_time: float) -> bytes:
        second = int(wall_time)
        if second != self._second:
            self._second = second
            self._value = email.utils.formatdate(second, usegmt=True).encode()
        return self._value
