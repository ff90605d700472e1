"""The tracker's HTTP front: GET and HEAD over HTTP/1.1 on the shared stream layer.

The bytes are framed by minternet/http11.py (request line and head limits, CRLF, bodies by
Content-Length, Host required on 1.1) and the connection rules are the stream listener's
(the connection cap, `http_request_timeout` for a request to arrive whole from its first
byte, `http_keepalive_timeout` between requests, flow control with an abort for a client
that does not read its replies, `http_max_pipeline` requests per turn). What is left here is
the tracker's part: GET and HEAD only (405 otherwise), the app's reply, one log line per
churn event, a rate-limited one per refused request.

Chosen over aiohttp's low-level server because it measured 1.5-2.5x faster on the announce
path (`python -m bench.tracker_http --aiohttp` runs both against opentracker).
"""

from __future__ import annotations

import logging
import time

from minternet import http11
from minternet.framing import FramingError
from minternet.logs import Throttle
from minternet.stream import Connection, StreamHandler, StreamLimits
from tracker.config import TrackerConfig
from tracker.http_app import TrackerApp

log = logging.getLogger(__name__)

_NOT_ALLOWED = b"Allow: GET, HEAD\r\n"


class HttpFront:
    """What the connections of one HTTP listener share: the app, limits, the Date header."""

    def __init__(self, app: TrackerApp, config: TrackerConfig, throttle: Throttle) -> None:
        self.app = app
        self.throttle = throttle
        self.date = http11.DateHeader()
        self._second = -1.0
        self._date = b""
        self.http_limits = http11.Limits(
            max_request_line=config.http_max_request_line,
            max_header_line=config.http_max_header_line,
            max_headers=config.http_max_headers,
            max_head=config.http_max_head,
            max_body=config.http_max_body,
        )
        self.limits = StreamLimits(
            max_connections=config.http_max_connections,
            idle_timeout=config.http_keepalive_timeout,
            frame_timeout=config.http_request_timeout,
            frames_per_turn=config.http_max_pipeline,
        )

    def handler(self, conn: Connection) -> HttpHandler:
        return HttpHandler(conn, self)

    def date_at(self, now: float) -> bytes:
        """The Date header, the wall clock read only when the loop's clock enters a new second."""
        if now - self._second >= 1.0 or now < self._second:
            self._second = now
            self._date = self.date(time.time())
        return self._date


class HttpHandler(StreamHandler[http11.Request]):
    """One client connection: each whole request answered in order."""

    def __init__(self, conn: Connection, front: HttpFront) -> None:
        super().__init__(conn)
        self.front = front
        self.framer = http11.RequestFramer(front.http_limits)

    def frame_received(self, frame: http11.Request) -> None:
        front = self.front
        conn = self.conn
        method, keep_alive = frame.method, frame.keep_alive
        http10 = frame.version == b"HTTP/1.0"
        date = front.date_at(conn.now)
        if method != b"GET" and method != b"HEAD":
            conn.write(
                http11.response(405, b"text/plain", b"only GET\n", date=date,
                                keep_alive=keep_alive, http10=http10, extra=_NOT_ALLOWED)
            )  # fmt: skip
        else:
            peer = conn.peer
            # X-Forwarded-For counts only from a trusted proxy: not looked up otherwise
            xff = frame.header(b"x-forwarded-for") if peer in front.app.trusted else None
            reply = front.app.handle(method, frame.target, peer, xff, conn.now)
            if reply.fault is not None:
                front.throttle(log, reply.fault.kind, "http %s: %s", conn.peer, reply.fault.reason)
            if reply.note is not None:
                log.info("http %s", reply.note)
            conn.write(
                http11.response(reply.status, reply.content_type, reply.body, date,
                                keep_alive, method == b"HEAD", http10)
            )  # fmt: skip
        if not keep_alive:
            conn.close()

    def framing_error(self, error: FramingError) -> None:
        status = error.status if isinstance(error, http11.HttpError) else 400
        body = error.reason.encode() + b"\n"
        date = self.front.date(time.time())
        self.conn.write(http11.response(status, b"text/plain", body, date=date, keep_alive=False))

    def timed_out(self, partial: bool) -> None:
        if partial:
            body = b"request not received in time\n"
            date = self.front.date(time.time())
            self.conn.write(http11.response(408, b"text/plain", body, date=date, keep_alive=False))
