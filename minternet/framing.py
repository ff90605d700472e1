"""Framing cores (sans-I/O): where one message of a byte stream ends and the next begins.

A stream listener (minternet/stream.py) feeds a connection's bytes to its protocol's framer and
hands each whole frame to the protocol. The contract every framer keeps:

- `feed(data)` appends bytes; `next_frame()` returns the next whole frame, or None when more
  bytes are needed; it raises FramingError (with the reason, for the log line and the reply)
  for input that can never become a valid frame, and after that the connection is closed;
- `pending()` is the number of octets held that do not yet make a frame: the listener runs
  the per-frame deadline while it is not zero, so a frame sent a byte at a time cannot hold a
  connection open;
- `clear()` forgets everything buffered (STARTTLS: RFC 3207 §4.2 and RFC 2595 §3.1 require
  that nothing sent before the TLS handshake is acted on after it);
- memory is bounded: a framer never holds more than its largest valid frame plus one read.

Here: length-prefixed messages (DNS over TCP, RFC 7766 §8, 2 octets; the BitTorrent peer wire,
BEP 3, 4 octets), CRLF lines with IMAP literals (RFC 9051 §4.3, RFC 7888), and `Inflating`,
which puts any of them behind raw DEFLATE (IMAP's COMPRESS=DEFLATE, RFC 4978). The HTTP/1.1
request framer is minternet/http11.py.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

F_co = TypeVar("F_co", covariant=True)


class FramingError(Exception):
    """Bytes that can never become a valid frame; `reason` is for the log and the reply.
    `too_big`: a frame over a limit (IMAP says so with [TOOBIG]), not bytes that are wrong."""

    def __init__(self, reason: str, *, too_big: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.too_big = too_big


class Framer(Protocol[F_co]):
    def feed(self, data: bytes) -> None: ...

    def next_frame(self) -> F_co | None: ...

    def pending(self) -> int: ...

    def clear(self) -> None: ...


class LengthPrefixed:
    """Messages preceded by their length as a `size`-octet big-endian integer.

    A length outside [min_message, max_message] raises FramingError at once (a DNS message is
    at least a 12-octet header; a huge length must not make us buffer that much first).
    """

    __slots__ = ("_buf", "max_message", "min_message", "size")

    def __init__(self, size: int, *, max_message: int, min_message: int = 0) -> None:
        if size not in (2, 4):
            raise ValueError("length prefix of 2 or 4 octets")
        self.size = size
        self.min_message = min_message
        self.max_message = max_message
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data

    def next_frame(self) -> bytes | None:
        buf, size = self._buf, self.size
        if len(buf) < size:
            return None
        n = int.from_bytes(buf[:size], "big")
        if n < self.min_message or n > self.max_message:
            raise FramingError(f"message length {n} outside {self.min_message}..{self.max_message}")
        end = size + n
        if len(buf) < end:
            return None
        msg = bytes(buf[size:end])
        del buf[:end]
        return msg

    def pending(self) -> int:
        return len(self._buf)

    def clear(self) -> None:
        self._buf.clear()


@dataclass(frozen=True, slots=True)
class LiteralRequest:
    """A synchronising literal `{n}` announced (RFC 9051 §4.3): the client waits for a `+`.

    The protocol answers with a continuation and calls `Lines.accept_literal()`, or refuses
    (a tagged NO) and calls `Lines.reject_literal()`, which drops the command so far. `fits` is
    False when the literal is over the framer's limits: then it must be refused. `first_line`
    is the command's first line (its tag and name: IMAP's tagged NO needs no more), not the
    whole command so far, which a command of many literals would copy once per literal.
    """

    size: int
    first_line: bytes
    fits: bool


# A line that ends in a literal announcement: {123}, {123+} (LITERAL+), ~{123} (BINARY).
_LITERAL = re.compile(rb"~?\{(\d{1,10})(\+?)\}\r\n\Z")


class Lines:
    """CRLF-terminated lines; with `literals`, IMAP commands whose lines end in `{n}` or `{n+}`.

    A frame is the whole command as bytes: every line and literal, CRLFs included, so that the
    protocol's parser sees exactly what was sent. A line longer than `max_line` (without its
    literals) raises FramingError; so does a non-synchronising literal over `max_literal`
    (RFC 7888 §4: the client sends it without waiting, so the only answer is to close) and a
    command over `max_command` in all. A synchronising literal over `max_literal` comes back
    as a LiteralRequest like any other: the protocol refuses it before the client sends it.
    A bare LF ends nothing: lines end at CRLF only (RFC 9051 §2.2, RFC 5321 §2.3.8), unless
    `bare_lf` (a line protocol for people and scripts: `echo stats | nc`), where LF ends a line.

    `literal_limit`, when given, is asked the limit of each literal with the command's first line:
    IMAP's APPEND takes a message as big as the server accepts, while a literal anywhere else (a
    password, a search string) stays small, even a non-synchronising one. The first line, not
    the command so far: each literal then costs the framer a line's worth of work, however many
    come before it in the command (MULTIAPPEND sends a message per literal).
    """

    __slots__ = (
        "_awaiting",
        "_buf",
        "_command",
        "_eol",
        "_first_line",
        "_literal_left",
        "_scan",
        "literal_limit",
        "literals",
        "max_command",
        "max_line",
        "max_literal",
    )

    def __init__(
        self,
        *,
        max_line: int,
        literals: bool = False,
        max_literal: int = 0,
        max_command: int | None = None,
        bare_lf: bool = False,
        literal_limit: Callable[[bytes], int] | None = None,
    ) -> None:
        self.max_line = max_line
        self._eol = b"\n" if bare_lf else b"\r\n"
        self.literals = literals
        self.max_literal = max_literal
        self.literal_limit = literal_limit
        self.max_command = max_command if max_command is not None else max_line + 2 + max_literal
        self._buf = bytearray()
        self._command = bytearray()  # the lines and literals of the command so far
        self._first_line = b""  # the command's first line, once it has one
        self._literal_left = 0  # octets of a literal still to come
        self._awaiting: LiteralRequest | None = None  # a {n} the protocol has not answered
        self._scan = 0  # where to resume looking for CRLF in _buf

    def feed(self, data: bytes) -> None:
        self._buf += data

    def next_frame(self) -> bytes | LiteralRequest | None:
        if self._awaiting is not None:
            return None  # the client waits for our continuation: so do we
        buf = self._buf
        while True:
            if self._literal_left:
                take = min(self._literal_left, len(buf))
                self._command += buf[:take]
                del buf[:take]
                self._literal_left -= take
                if self._literal_left:
                    return None
            eol = self._eol
            end = buf.find(eol, self._scan)
            if end < 0:
                # Too long already, unless all past max_line is the CR of a CRLF cut in two.
                if len(buf) > self.max_line and buf[self.max_line :] != eol[:1]:
                    raise FramingError(f"line longer than {self.max_line} octets")
                self._scan = max(0, len(buf) - 1)
                return None
            if end > self.max_line:
                raise FramingError(f"line longer than {self.max_line} octets")
            end += len(eol)
            line = bytes(buf[:end])
            del buf[:end]
            self._scan = 0
            if not self._command:
                self._first_line = line
            self._command += line
            if len(self._command) > self.max_command:
                raise FramingError(f"command longer than {self.max_command} octets")
            m = _LITERAL.search(line) if self.literals else None
            if m is None:
                command = bytes(self._command)
                self._command.clear()
                return command
            size = int(m.group(1))
            limit = self.max_literal
            if self.literal_limit is not None:
                limit = min(limit, self.literal_limit(self._first_line))
            within = len(self._command) + size <= self.max_command
            fits = size <= limit and within
            if m.group(2):  # {n+}: it is on its way, no continuation is asked for
                if size > limit:
                    raise FramingError(f"non-synchronising literal of {size} octets: too big")
                if not within:
                    raise FramingError(f"command longer than {self.max_command} octets")
                self._literal_left = size
                continue
            self._awaiting = LiteralRequest(size, self._first_line, fits)
            return self._awaiting

    def accept_literal(self) -> None:
        """The protocol sent `+`: the announced literal follows, then the rest of the command."""
        if self._awaiting is None or not self._awaiting.fits:
            raise RuntimeError("no literal is waiting, or it is over the limits")
        self._literal_left = self._awaiting.size
        self._awaiting = None

    def reject_literal(self) -> None:
        """The protocol refused the literal: the command so far is dropped; the client knows."""
        if self._awaiting is None:
            raise RuntimeError("no literal is waiting")
        self._awaiting = None
        self._command.clear()

    def pending(self) -> int:
        return len(self._buf) + len(self._command)

    def head(self, size: int = 64) -> bytes:
        """The first `size` octets of the command not yet framed: after a FramingError, where
        the protocol finds the tag to answer (IMAP: `tag BAD` for a line too long)."""
        start = bytes(self._command[:size])
        return start + bytes(self._buf[: size - len(start)])

    def clear(self) -> None:
        self._buf.clear()
        self._command.clear()  # (the next line is the next command's first)
        self._literal_left = 0
        self._awaiting = None
        self._scan = 0


INFLATE_CHUNK = 64 * 1024  # octets inflated at a time, before the inner framer looks at them


class Inflating(Generic[F_co]):
    """The frames of `inner`, from a stream compressed with raw DEFLATE (RFC 1951, no zlib or
    gzip wrapper): the client's side of IMAP after COMPRESS DEFLATE (RFC 4978 §3).

    Compressed bytes are inflated only when the inner framer has no whole frame, `chunk`
    octets at a time, so the inner framer's limits (a line too long, a command too big) meet
    the inflated bytes before more are inflated: DEFLATE inflates up to about 1000:1, and a
    small compressed read must not become a large buffer. Bytes that are not DEFLATE, and
    an end of the compressed stream (the client never ends it: after the end nothing more
    could be read), raise FramingError.
    """

    __slots__ = ("_input", "_tail", "_z", "chunk", "inner")

    def __init__(self, inner: Framer[F_co], *, chunk: int = INFLATE_CHUNK) -> None:
        self.inner = inner
        self.chunk = chunk
        self._z = zlib.decompressobj(-zlib.MAX_WBITS)
        self._input: list[bytes] = []  # compressed, not yet given to the inflater
        self._tail = b""  # compressed, given to the inflater but not consumed (chunk reached)

    def feed(self, data: bytes) -> None:
        if data:
            self._input.append(data)

    def next_frame(self) -> F_co | None:
        inner, z = self.inner, self._z
        while True:
            frame = inner.next_frame()
            if frame is not None:
                return frame
            data = self._tail
            if not data:
                if not self._input:
                    return None
                data = b"".join(self._input)
                self._input.clear()
            try:
                out = z.decompress(data, self.chunk)
            except zlib.error as e:
                raise FramingError(f"not DEFLATE data ({e})", too_big=False) from None
            self._tail = z.unconsumed_tail
            if z.eof:
                raise FramingError("the DEFLATE stream ended", too_big=False)
            inner.feed(out)

    def pending(self) -> int:
        return self.inner.pending() + len(self._tail) + sum(map(len, self._input))

    def clear(self) -> None:
        self.inner.clear()
        self._input.clear()
        self._tail = b""
