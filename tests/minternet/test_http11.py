"""HTTP/1.1 request framing and responses, sans-I/O: every limit at its edge, every refusal."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minternet.http11 import DateHeader, HttpError, Limits, Request, RequestFramer, response

LIMITS = Limits(max_request_line=40, max_header_line=30, max_headers=3, max_head=100, max_body=5)


def frames(data: bytes, limits: Limits = LIMITS) -> list[Request]:
    framer = RequestFramer(limits)
    framer.feed(data)
    out = []
    while (req := framer.next_frame()) is not None:
        out.append(req)
    return out


def test_a_request_with_headers_and_a_body() -> None:
    (req,) = frames(b"GET /a?b=c HTTP/1.1\r\nHost: t\r\nX-Forwarded-For:  1.2.3.4 \r\n"
                    b"Content-Length: 3\r\n\r\nabc")  # fmt: skip
    assert req.method == b"GET" and req.target == b"/a?b=c" and req.version == b"HTTP/1.1"
    assert req.keep_alive and req.body == b"abc"
    assert req.header(b"x-forwarded-for") == b"1.2.3.4" and req.header(b"nope") is None


def test_a_header_is_looked_up_by_its_name_and_the_last_one_wins() -> None:
    (req,) = frames(b"GET / HTTP/1.1\r\nHost: t\r\nX-Real: 1.2.3.4\r\nx-real: 2001:db8::1\r\n\r\n",
                    Limits())  # fmt: skip
    assert req.header(b"x-real") == b"2001:db8::1"  # the value keeps its colons
    assert req.header(b"host") == b"t" and req.header(b"x") is None


@given(st.lists(st.integers(1, 10), min_size=1, max_size=40))
def test_any_split_gives_the_same_requests(sizes: list[int]) -> None:
    data = b"GET /1 HTTP/1.1\r\nHost: t\r\n\r\nHEAD /2 HTTP/1.0\r\n\r\n"
    framer = RequestFramer(LIMITS)
    got, i = [], 0
    for n in sizes * 10:
        framer.feed(data[i : i + n])
        i += n
        while (req := framer.next_frame()) is not None:
            got.append(req.target)
    framer.feed(data[i:])
    while (req := framer.next_frame()) is not None:
        got.append(req.target)
    assert got == [b"/1", b"/2"] and framer.pending() == 0


@pytest.mark.parametrize(
    ("data", "keep_alive"),
    [
        (b"GET / HTTP/1.1\r\nHost: t\r\n\r\n", True),
        (b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", False),
        (b"GET / HTTP/1.0\r\n\r\n", False),
        (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", True),
    ],
)
def test_persistence_follows_the_version_and_connection(data: bytes, keep_alive: bool) -> None:
    assert frames(data)[0].keep_alive is keep_alive


@pytest.mark.parametrize(
    ("target", "origin"),
    [
        (b"http://t:80/s?x", b"/s?x"),
        (b"HTTPS://t/a/b/c", b"/a/b/c"),
        (b"http://t/a?u=http://x/y", b"/a?u=http://x/y"),
        (b"http://[::1]:8080/", b"/"),
        (b"http://u:p@t:80/x", b"/x"),
    ],
)
def test_the_absolute_form_becomes_the_origin_form(target: bytes, origin: bytes) -> None:
    (req,) = frames(b"GET " + target + b" HTTP/1.1\r\nHost: t\r\n\r\n", Limits())
    assert req.target == origin


@pytest.mark.parametrize(
    ("data", "status", "why"),
    [
        (b"GET /" + b"a" * 40 + b" HTTP/1.1\r\n", 414, "request line too long"),
        (b"GET /" + b"a" * 40, 414, "request line too long"),
        (b"GET /" + b"a" * 40 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414, "request line too long"),
        (b"GET / HTTP/1.1\r\nA: " + b"b" * 30 + b"\r\n\r\n", 431, "header field too large"),
        (b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", 431, "too many header fields"),
        (b"GET / HTTP/1.1\r\n" + b"A: 1234567890\r\n" * 7, 431, "request headers too large"),
        (b"GET / HTTP/1.0\nHost: t\n\n", 400, "bare LF line endings: HTTP needs CRLF"),
        (b"GET /\r\n\r\n", 400, "malformed request line"),
        (b"GET / HTTP/2.0\r\n\r\n", 505, "unsupported HTTP version"),
        (b"GET / FTP/1.0\r\n\r\n", 400, "malformed request line"),
        (b"GET / HTTP/1.1\r\n\r\n", 400, "HTTP/1.1 request without Host"),
        (b"GET / HTTP/1.1\r\nHost: t\r\n Folded: x\r\n\r\n", 400, "malformed header field"),
        (b"GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400, "malformed header field"),
        (b"GET / HTTP/1.0\r\nContent-Length: x\r\n\r\n", 400, "invalid Content-Length"),
        (b"GET / HTTP/1.0\r\nContent-Length: 6\r\n\r\n", 413, "request body too large"),
        (
            b"GET / HTTP/1.0\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            400,
            "conflicting Content-Length fields",
        ),
        (
            b"GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            501,
            "request bodies with Transfer-Encoding are not accepted",
        ),
        (b"GET ftp://t/ HTTP/1.0\r\n\r\n", 400, "malformed request target"),
        (b"GET http://t HTTP/1.0\r\n\r\n", 400, "malformed request target"),
        (b"GET t/x HTTP/1.0\r\n\r\n", 400, "malformed request target"),
        (b"GET http:///x HTTP/1.0\r\n\r\n", 400, "malformed request target"),  # no host
        (b"GET http://:80/x HTTP/1.0\r\n\r\n", 400, "malformed request target"),
        (b"GET http://u@/x HTTP/1.0\r\n\r\n", 400, "malformed request target"),
        (b"GET  / HTTP/1.0\r\n\r\n", 400, "malformed request line"),
        (b"GET\t/\tHTTP/1.0\r\n\r\n", 400, "malformed request line"),
        (b"\r\n\r\n", 400, "malformed request line"),
        (
            b"GET / HTTP/1.0\r\n" + b"A: 1234567890\r\n" * 6 + b"\r\n",
            431,
            "request headers too large",
        ),
        (b"GET / HTTP/1.0\r\n: x\r\n\r\n", 400, "malformed header field"),
        (b"GET / HTTP/1.0\r\nHost\t: t\r\n\r\n", 400, "malformed header field"),
        (b"GET / HTTP/1.0\r\nHost t\r\n\r\n", 400, "malformed header field"),
        (b"GET / HTTP/1.0\r\nContent-Length: 0000000000001\r\n\r\n", 400, "invalid Content-Length"),
        (b"GET / HTTP/1.0\r\nContent-Length: -1\r\n\r\n", 400, "invalid Content-Length"),
        (
            b"GET / HTTP/1.0\r\nContent-Length: 0\r\nContent-Length: 2\r\n\r\n",
            400,
            "conflicting Content-Length fields",
        ),
    ],
)
def test_refusals_carry_their_status(data: bytes, status: int, why: str) -> None:
    with pytest.raises(HttpError) as e:
        frames(data)
    assert (e.value.status, e.value.reason) == (status, why)


@pytest.mark.parametrize(
    ("data", "one_more"),
    [
        (b"GET /" + b"a" * 35, "request line too long"),  # 40 octets, its end not yet here
        (b"GET /" + b"a" * 35 + b"\r\n", None),  # 40 and its CRLF
        (b"GET / HTTP/1.0\r\n" + b"A: " + b"b" * 81, "request headers too large"),  # 100
        (b"\r\n" + b"a" * 60, None),  # an empty first line: the head limit applies
    ],
)
def test_an_incomplete_head_at_its_limits_is_waited_for(data: bytes, one_more: str | None):
    framer = RequestFramer(LIMITS)
    framer.feed(data)
    assert framer.next_frame() is None and framer.pending() == len(data)
    framer.feed(b"x")
    if one_more is None:
        assert framer.next_frame() is None
    else:
        with pytest.raises(HttpError, match=f"^{one_more}$"):
            framer.next_frame()


def test_limits_hold_exactly_at_their_edge() -> None:
    line = b"GET /" + b"a" * 26 + b" HTTP/1.0"  # 40 octets: the limit
    assert frames(line + b"\r\n\r\n")[0].target == b"/" + b"a" * 26
    assert frames(b"GET / HTTP/1.0\r\nContent-Length: 5\r\n\r\n12345")[0].body == b"12345"
    assert frames(b"GET / HTTP/1.0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n")  # 3 fields: the limit
    field = b"A: " + b"b" * 27  # 30 octets: the limit
    assert frames(b"GET / HTTP/1.0\r\n" + field + b"\r\n\r\n")[0].header(b"a") == b"b" * 27
    head = b"GET / HTTP/1.0\r\nA: " + b"b" * 25 + b"\r\nB: " + b"b" * 25 + b"\r\nC: " + b"b" * 21
    assert len(head) == 100  # the whole head at its limit
    assert frames(head + b"\r\n\r\n")[0].header(b"c") == b"b" * 21
    twelve = b"GET / HTTP/1.0\r\nContent-Length: 000000000003\r\n\r\nabc"  # 12 digits
    assert frames(twelve)[0].body == b"abc"


def test_bodies_and_heads_are_exactly_what_was_sent() -> None:
    (req,) = frames(b"GET / HTTP/1.0\r\n\r\n")
    assert (req.head, req.body, req.header(b"xxxx")) == (b"", b"", None)
    one, two = frames(
        b"POST /1 HTTP/1.0\r\nContent-Length: 1\r\nContent-Length: 1\r\nFoo-X: y\r\n\r\nz"
        b"POST /2 HTTP/1.0\r\nContent-Length: 0\r\n\r\n"
    )
    assert (one.target, one.body, one.header(b"foo-x")) == (b"/1", b"z", b"y")
    assert (two.target, two.body) == (b"/2", b"")
    assert one.head == b"Content-Length: 1\r\nContent-Length: 1\r\nFoo-X: y"


def test_a_new_framer_holds_nothing() -> None:
    framer = RequestFramer(LIMITS)
    assert framer.pending() == 0 and framer.next_frame() is None


def test_clear_forgets_a_partial_request() -> None:
    framer = RequestFramer(LIMITS)
    framer.feed(b"GET /old HTTP/1.0\r\nA: 1")
    framer.clear()
    assert framer.pending() == 0 and framer.next_frame() is None
    framer.feed(b"GET /new HTTP/1.0\r\n\r\n")
    req = framer.next_frame()
    assert req is not None and req.target == b"/new" and framer.pending() == 0


def test_a_body_still_coming_is_waited_for() -> None:
    framer = RequestFramer(LIMITS)
    framer.feed(b"GET / HTTP/1.0\r\nContent-Length: 4\r\n\r\nab")
    assert framer.next_frame() is None and framer.pending() > 0
    framer.feed(b"cd")
    req = framer.next_frame()
    assert req is not None and req.body == b"abcd"


def test_responses() -> None:
    date = b"Sun, 29 Nov 2026 17:00:00 GMT"
    assert response(200, b"text/plain", b"hi", date=date) == (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
        b"Date: Sun, 29 Nov 2026 17:00:00 GMT\r\n\r\nhi"
    )
    closing = response(408, b"text/plain", b"x", date=date, keep_alive=False)
    assert b"408 Request Timeout\r\n" in closing and b"\r\nConnection: close\r\n\r\nx" in closing
    head = response(200, b"a/b", b"body", date=date, head_only=True, http10=True)
    assert head.endswith(b"Connection: keep-alive\r\n\r\n") and b"Content-Length: 4" in head


def test_a_status_without_a_reason_phrase_says_error() -> None:
    date = b"Sun, 29 Nov 2026 17:00:00 GMT"
    assert response(299, b"text/plain", b"", date=date).startswith(b"HTTP/1.1 299 Error\r\n")


def test_the_date_header_is_formatted_once_a_second() -> None:
    date = DateHeader()
    first = date(1_800_000_000.2)
    assert first == b"Fri, 15 Jan 2027 08:00:00 GMT"
    assert date(1_800_000_000.9) is first
    assert date(1_800_000_001.0) == b"Fri, 15 Jan 2027 08:00:01 GMT"


def test_the_date_header_is_right_from_the_first_second_of_the_epoch() -> None:
    date = DateHeader()  # a machine without a real-time clock may boot at 1970
    assert date(0.5) == b"Thu, 01 Jan 1970 00:00:00 GMT"
    assert date(1.0) == b"Thu, 01 Jan 1970 00:00:01 GMT"
    assert DateHeader()(1.0) == b"Thu, 01 Jan 1970 00:00:01 GMT"
