"""The IMAP URL core (RFC 5092 relative URLs of a message or a part, RFC 5550 PARTIAL), as
CATENATE takes them: what each form names, and every refusal with its reason."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailserver.imap.imapurl import MAX_URL, MessageUrl, UrlError, parse_url, resp_text
from mailserver.message.section import Section


@pytest.mark.parametrize(
    ("url", "want"),
    [
        (b"/INBOX/;UID=20", MessageUrl("INBOX", None, 20)),
        (b"/Drafts;UIDVALIDITY=385759045/;UID=20", MessageUrl("Drafts", 385759045, 20)),
        (b"/inbox;uidvalidity=7/;uid=3", MessageUrl("inbox", 7, 3)),
        (b";UID=5", MessageUrl(None, None, 5)),
        (b";uid=5/;section=1.2", MessageUrl(None, None, 5, Section((1, 2)))),
        (b"/a/b/c/;UID=1", MessageUrl("a/b/c", None, 1)),
        (b"/caf%C3%A9%20bar/;UID=1", MessageUrl("caf\u00e9 bar", None, 1)),
        (b"/x&AOk-/;UID=1", MessageUrl("x&AOk-", None, 1)),  # "&" is a bchar
        (b"/INBOX/;UID=1/;SECTION=HEADER", MessageUrl("INBOX", None, 1, Section((), "HEADER"))),
        (b"/INBOX/;UID=1/;SECTION=1.mime", MessageUrl("INBOX", None, 1, Section((1,), "MIME"))),
        (
            b"/INBOX/;UID=1/;SECTION=HEADER.FIELDS%20(From%20To)",
            MessageUrl("INBOX", None, 1, Section((), "HEADER.FIELDS", (b"From", b"To"))),
        ),
        (b"/INBOX/;UID=1/;PARTIAL=0", MessageUrl("INBOX", None, 1, None, (0, None))),
        (b"/INBOX/;UID=1/;PARTIAL=10.20", MessageUrl("INBOX", None, 1, None, (10, 20))),
        (
            b"/INBOX/;UID=4294967295/;SECTION=2/;PARTIAL=4294967295.1",
            MessageUrl("INBOX", None, 4294967295, Section((2,)), (4294967295, 1)),
        ),
        (b";UID=1/;PARTIAL=3", MessageUrl(None, None, 1, None, (3, None))),
    ],
)
def test_what_a_url_names(url: bytes, want: MessageUrl) -> None:
    assert parse_url(url) == want


RELATIVE = "relative URL required (/MAILBOX;UIDVALIDITY=n/;UID=n)"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        (b"", "empty URL"),
        (b"imap://bob@mail.test/INBOX/;UID=1", RELATIVE),
        (b"IMAP://mail.test/INBOX/;UID=1", RELATIVE),
        (b"/INBOX/;UID=0", "bad UID 0"),
        (b"/INBOX/;UID=4294967296", "bad UID 4294967296"),
        (b"/INBOX/;UID=01", "bad UID 01"),
        (b"/INBOX;UIDVALIDITY=0/;UID=1", "bad UIDVALIDITY 0"),
        (b"/INBOX/;UID=1/;PARTIAL=1.0", "bad PARTIAL length 0"),
        (b"/INBOX/;UID=1/;PARTIAL=4294967296", "bad PARTIAL offset 4294967296"),
        (b"/INBOX/;UID=1/;PARTIAL=.5", "not a message"),
        (b"/INBOX/;UID=1/;SECTION=BOGUS", "unknown section [BOGUS]"),
        (b"/INBOX/;UID=1/;SECTION=0", "bad part number"),
        (b"/INBOX/;UID=1/;SECTION=%FF", "the section is not UTF-8"),
        (b"/%FF/;UID=1", "the mailbox name is not UTF-8"),
        (b"/INBOX?SUBJECT%20x", "a character that must be percent-encoded"),
        (b"/INBOX/;UID=1 ", "a character that must be percent-encoded"),
        (b'/IN"BOX/;UID=1', "a character that must be percent-encoded"),
        (b"/INBOX/;UID=1/;SECTION=1%2", "a character that must be percent-encoded"),
        (b"/INBOX", "not a message"),
        (b"/INBOX/", "not a message"),
        (b"/;UID=1", "not a message"),
        (b"INBOX/;UID=1", "not a message"),
        (b"/INBOX;UID=1", "not a message"),
        (b"/INBOX/;UID=1;EXPIRE=2030-01-01T00:00:00Z", "not a message"),
        (b"/INBOX/;UID=1;URLAUTH=anonymous", "not a message"),
        (b"/INBOX/;UID=1/;PARTIAL=1/;SECTION=1", "not a message"),
        (b"/INBOX/;UID=x", "not a message"),
        (b"/" + b"a" * MAX_URL + b"/;UID=1", f"URL longer than {MAX_URL} octets"),
    ],
)
def test_what_is_refused_and_why(url: bytes, why: str) -> None:
    with pytest.raises(UrlError) as e:
        parse_url(url)
    said = str(e.value)  # what the client is told: the whole text, or after this prefix
    assert said == why or said.startswith("invalid IMAP URL: " + why), said


def test_the_longest_url_is_read() -> None:
    url = b"/" + b"a" * (MAX_URL - len(b"//;UID=1")) + b"/;UID=1"
    assert len(url) == MAX_URL
    assert parse_url(url).uid == 1


def test_resp_text_encodes_what_would_end_the_code_or_the_line() -> None:
    assert resp_text(b"/INBOX/;UID=1") == b"/INBOX/;UID=1"
    assert resp_text(b"a]b\r\n\x00\x7f\xff") == b"a%5Db%0D%0A%00%7F%FF"
    assert resp_text(b"[\\") == b"[\\"
    assert resp_text(b"") == b"%20"  # url-resp-text is 1*
    assert resp_text(b"x" * (MAX_URL + 5)) == b"x" * MAX_URL


@given(st.binary(max_size=80))
def test_any_bytes_are_a_url_or_a_reason(url: bytes) -> None:
    try:
        parsed = parse_url(url)
    except UrlError as e:
        assert str(e)
    else:
        assert parsed.uid >= 1
    text = resp_text(url)
    assert text and all(0x01 <= b <= 0x7E and b not in b"]\r\n" for b in text)
