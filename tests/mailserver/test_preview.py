"""The PREVIEW core (RFC 8970, message/preview.py): Dovecot's previews of 59 messages made to
show its rules (dovecot_previews.json), each rule on its own, and for any bytes a preview of at
most 200 characters, one line, no space at either end, from a bounded read."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailserver.message import Message
from mailserver.message.preview import MAX_CHARS, READ_LIMIT

DATA = json.loads((Path(__file__).parent / "dovecot_previews.json").read_text())
CASES: list[dict[str, Any]] = DATA["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_as_dovecot_previews(case: dict[str, Any]) -> None:
    assert Message(base64.b64decode(case["message"])).preview() == case["preview"]


def mail(
    body: str | bytes, content_type: str = "text/plain; charset=utf-8", extra: str = ""
) -> bytes:
    data = body.encode() if isinstance(body, str) else body
    head = f"Subject: x\r\nContent-Type: {content_type}\r\n{extra}\r\n".encode()
    return head + data


def prev(raw: bytes) -> str:
    return Message(raw).preview()


@pytest.mark.parametrize(
    ("body", "want"),
    [
        ("Hello  there,\r\n\r\n\tBob.\r\n", "Hello there, Bob."),
        ("> quoted\r\nmine\r\n>> deeper\r\n", "mine"),
        ("> one\r\n>>  two\r\n", ">one two"),
        (" > indented\r\n", "> indented"),
        ("x" * 201, "x" * 200),
        ("x" * 199 + " y", "x" * 199),  # a space at the cut is not kept
        ("\u00e9" * 300, "\u00e9" * 200),  # characters, not octets
        ("a\x00b\ufeffc\u00a0d", "abc\u00a0d"),  # NUL and BOM dropped, NBSP kept
        ("", ""),
        ("   \r\n\t", ""),
        ("X marks the spot X\r\n", "X marks the spot X"),  # only spaces are trimmed
        (">Xavier wrote\r\n", ">Xavier wrote"),  # only the quote marks go
    ],
)
def test_plain_text(body: str, want: str) -> None:
    assert prev(mail(body)) == want


@pytest.mark.parametrize(
    ("html", "want"),
    [
        ("<p>One</p><p>Two</p>", "One Two"),
        ("<style>p{}</style><script>x()</script><!-- c -->Seen", "Seen"),
        ("<title>T</title><b>bold</b>", "T bold"),
        ("<blockquote>old</blockquote>new", "new"),
        ("<blockquote><blockquote>a</blockquote>b</blockquote>", ">a b"),
        ("&lt;tag&gt; &amp; &eacute;&#233;&#x263A; &#0;", "<tag> & éé☺"),
        ("Tom & Jerry &foo; &AMP; &amp x &toolongname1;", "Tom Jerry amp x toolongname1;"),
        ("a&nbsp;b", "a\u00a0b"),
        ("<!-- never closed", ""),
        ("unclosed <p", "unclosed"),
        ("x<!-- c -->y<style>p{}</style>z", "xyz"),  # no space where they were
        ("a<>b", "a b"),
        ("a <", "a <"),  # a "<" that ends the text is text
        ("<blockquote>a<>b</blockquote>", ">a b"),
        ("&nbsp;lead&nbsp;", "\u00a0lead\u00a0"),  # NBSP is no white space to fold
        (
            "&#1;|&#55295;&#55296;&#57343;&#57344;|&#1114111;&#1114112;",
            "\x01|\ud7ff\ue000|\U0010ffff",
        ),
        ("&#x10FFFF;&#x110000;", "\U0010ffff"),
    ],
)
def test_html(html: str, want: str) -> None:
    assert prev(mail(html, "text/html; charset=utf-8")) == want


def multipart(subtype: str, *parts: tuple[str, str]) -> bytes:
    body = "".join(f"--b\r\nContent-Type: {t}\r\n\r\n{text}\r\n" for t, text in parts)
    return mail(body + "--b--\r\n", f'multipart/{subtype}; boundary="b"')


def test_which_part() -> None:
    html, plain = ("text/html", "<p>html</p>"), ("text/plain", "plain")
    assert prev(multipart("alternative", html, plain)) == "plain"
    assert prev(multipart("alternative", ("text/enriched", "rich"), html)) == "html"
    assert prev(multipart("alternative", ("text/enriched", "rich"))) == "rich"
    assert prev(multipart("mixed", ("application/pdf", "%PDF"), html, plain)) == "html"
    assert prev(multipart("mixed", ("text/plain", ""), plain)) == ""  # no other part tried
    assert prev(multipart("mixed", ("application/pdf", "%PDF"))) == ""
    forwarded = "Subject: inner\r\n\r\ninner text"
    assert prev(multipart("mixed", ("message/rfc822", forwarded))) == ""
    assert prev(multipart("mixed", ("message/rfc822", forwarded), plain)) == "plain"
    assert prev(mail("%PDF", "application/pdf")) == ""
    assert prev(b"Subject: no type\r\n\r\nplain by default\r\n") == "plain by default"


def test_decoding() -> None:
    assert (
        prev(
            mail(
                b"Y2Fmw6k=\r\n",
                "text/plain; charset=utf-8",
                "Content-Transfer-Encoding: base64\r\n",
            )
        )
        == "café"
    )
    qp = mail(b"soft=\r\nbreak caf=E9\r\n", "text/plain; charset=iso-8859-1",
              "Content-Transfer-Encoding: quoted-printable\r\n")  # fmt: skip
    assert prev(qp) == "softbreak café"
    assert prev(mail(b"bad \xff\xfe\xfd bytes \xc3 end")) == "bad \ufffd bytes \ufffd end"
    assert prev(mail(b"caf\xe9", "text/plain; charset=x-unknown")) == "caf\ufffd"


def test_only_the_start_of_a_big_part_is_read() -> None:
    big = "own text\r\n" + "> q\r\n" * (READ_LIMIT // 5 + 10) + "late own text"
    assert prev(mail(big)) == "own text"  # the late line lies past READ_LIMIT
    assert prev(mail(" " * READ_LIMIT + "after the limit")) == ""


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400), st.sampled_from(["text/plain", "text/html", "multipart/mixed"]))
def test_any_bytes_give_a_short_single_line(body: bytes, content_type: str) -> None:
    text = prev(mail(body, f'{content_type}; boundary="b"'))
    assert len(text) <= MAX_CHARS
    assert text == text.strip(" ") and not any(c in text for c in "\r\n\t\x00")
