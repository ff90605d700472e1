"""The message core's SEARCH, SORT and THREAD helpers, parameters, and the cached summary."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime, timedelta, timezone

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailserver.imap import encode
from mailserver.message import Message, MessageError, Summary, store_summary, summarize
from mailserver.message.charsets import decode_bytes, text_codec
from mailserver.message.dates import parse_date
from mailserver.message.msgid import message_id, message_ids
from mailserver.message.params import (
    ContentType,
    decode_param,
    merge_2231,
    parse_content_type,
    parse_disposition,
)
from mailserver.message.subject import base_subject
from mailserver.message.textsearch import (
    CHUNK,
    contains,
    decoded_chunks,
    header_matches,
    header_texts,
    index_matches,
    index_text,
    part_text,
    raw_chunks,
)
from mailserver.message.words import decode_words
from tests.mailserver.mimedata import FORWARDED, THUNDERBIRD, crlf

# --- RFC 2047 encoded words ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"plain", "plain"),
        (b"=?UTF-8?Q?Cr=C3=AApes_recipe?=", "Crêpes recipe"),
        (b"=?iso-8859-1?q?caf=E9?= au lait", "café au lait"),
        (b"=?utf-8?B?w6l0w6k=?=", "été"),
        (b"=?utf-8?B?w6l0w6k?=", "été"),  # padding missing
        (b"=?utf-8?b?w6k==?=", "é"),  # too much padding, lowercase b
        # Adjacent words: the white space between them goes, split characters join.
        (b"=?utf-8?B?w6k=?= =?utf-8?B?dA==?=", "ét"),
        (b"=?utf-8?Q?=C3?=\r\n =?utf-8?Q?=A9?=", "é"),
        (b"=?utf-8?Q?a?= b =?utf-8?Q?c?=", "a b c"),
        (b"=?utf-8?Q?a?= =?iso-8859-1?Q?=E9?=", "aé"),
        (b"=?utf-8*en?Q?hi?=", "hi"),  # RFC 2231 language
        (b"=?x-unknown?Q?hi?= there", "=?x-unknown?Q?hi?= there"),
        (b"=?x-unknown?Q?a?= =?utf-8?Q?b?=", "=?x-unknown?Q?a?= b"),
        (b"=?\xff?Q?a?= x", "=?\xff?Q?a?= x"),
        (b"=?koi8-r?Q?=C1?=", "\u0430"),
        (b"=?base64_codec?Q?aGk=?=", "=?base64_codec?Q?aGk=?="),  # not a text encoding
        (b"=?utf-8?B?#?= x", "=?utf-8?B?#?= x"),  # undecodable
        (b"=?utf-8?Q?bad", "=?utf-8?Q?bad"),
        (b"\xc3\xa9t\xc3\xa9", "été"),  # raw UTF-8
        (b"caf\xe9", "café"),  # raw Latin-1
        (b"pre=?utf-8?q?x?=post", "prexpost"),
        (b"=?utf-8?B?YWJX?=", "abW"),  # only the padding is trimmed, not an X before it
    ],
)
def test_decode_words(raw: bytes, text: str) -> None:
    assert decode_words(raw) == text


def test_charsets() -> None:
    assert text_codec("UTF-8") == "utf-8"
    assert text_codec("latin1*fr") == "iso8859-1"
    assert text_codec("x-nope") is None
    assert text_codec("") is None
    assert text_codec("a" * 65) is None
    assert text_codec("rot13") is None
    assert text_codec("idna") is None  # cannot replace what it cannot decode
    assert text_codec("utf\x008") is None
    assert text_codec("utf-8\xe9") is None
    assert decode_bytes(b"\xe9", "utf-8") == "\ufffd"
    assert decode_bytes(b"\xe9", None) == "é"
    assert decode_bytes(b"\xe9", "nope") == "é"
    assert decode_bytes(b"ab", "idna") == "ab"


# --- SEARCH text ----------------------------------------------------------------------------


def test_header_search_decodes_and_knows_addresses() -> None:
    msg = Message(THUNDERBIRD)
    assert msg.header_matches(b"subject", "CRÊPES")
    assert msg.header_matches(b"SUBJECT", "")
    assert not msg.header_matches(b"subject", "Cr=C3")
    assert msg.header_matches(b"from", "alice <alice@crepes.fr>")
    assert msg.header_matches(b"to", "BOB@HAMBURGER")
    assert not msg.header_matches(b"cc", "")
    assert not msg.header_matches(b"to", "alice")


def test_header_texts_add_the_addresses_to_address_fields_only() -> None:
    raw = crlf('From: "Doe, John" <j@x>, G: a@b;\nSubject: "Doe, John" <j@x>\n\n')
    header = Message(raw).header
    assert header_texts(header, b"FROM") == ['"Doe, John" <j@x>, G: a@b;\nDoe, John <j@x>\na@b']
    assert header_texts(header, b"subject") == ['"Doe, John" <j@x>']
    assert header_texts(header, b"to") == []


def test_header_search_encoded_display_name_and_every_field() -> None:
    raw = crlf("To: =?utf-8?q?J=C3=B6rg?= <j@x>\nTo: other@y\nX-Tag: one\nX-Tag: two\n\n")
    msg = Message(raw)
    assert msg.header_matches(b"to", "jörg <j@x>")
    assert msg.header_matches(b"to", "other@y")
    assert msg.header_matches(b"x-tag", "TWO")


def test_body_search_decodes_transfer_encodings_and_charsets() -> None:
    html = base64.b64encode("<p>Grüße aus Köln</p>".encode("iso-8859-1"))
    raw = crlf(
        'Subject: hidden word\nContent-Type: multipart/mixed; boundary="b"\n\n--b\n'
        "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
        "soft=\nbreak and =C3=A9t=C3=A9\n--b\n"
        "Content-Type: text/html; charset=iso-8859-1\nContent-Transfer-Encoding: base64\n\n"
        f"{html.decode()}\n--b\nContent-Type: application/octet-stream\n\nsecret binary\n"
        "--b--\n"
    )
    msg = Message(raw)
    assert msg.body_matches("softbreak")
    assert msg.body_matches("ÉTÉ")
    assert msg.body_matches("GRÜßE")
    # i;unicode-casemap (RFC 5051), as Dovecot: ß has no simple titlecase, so it is not "SS"
    assert not msg.body_matches("GRÜSSE")
    assert msg.body_matches("köln")
    assert not msg.body_matches("secret binary")
    assert not msg.body_matches("hidden word")
    assert msg.text_matches("hidden word")
    assert msg.body_matches("")


def test_body_search_charset_fallbacks_and_part_separation() -> None:
    raw = crlf(
        'Content-Type: multipart/mixed; boundary="b"\n\n--b\n'
        "Content-Type: text/plain; charset=us-ascii\n\ncafé ends in ab\n--b\n"
        "Content-Type: text/plain; charset=x-unknown\n\ncd starts naïve\n--b--\n"
    )
    msg = Message(raw)
    assert msg.body_matches("CAFÉ")
    assert msg.body_matches("NAÏVE")
    assert not msg.body_matches("abcd")  # no match across two parts
    assert not msg.body_matches("ab\n\ncd")
    assert not msg.body_matches("xx")


def test_part_text_replaces_bad_bytes_and_flushes_the_decoder() -> None:
    raw = b"Content-Type: text/plain; charset=utf-8\r\n\r\ncaf\xe9 ok \xc3"
    msg = Message(raw)
    assert "".join(part_text(msg.raw, msg.root)) == "caf\ufffd ok \ufffd"
    assert msg.body_matches("OK")


def test_body_search_looks_into_forwarded_messages() -> None:
    msg = Message(FORWARDED)
    assert msg.body_matches("lunch at noon")
    assert msg.body_matches("alice@crepes.fr")  # the embedded message's header
    assert not msg.body_matches("carol@")  # the top header is not body
    assert msg.text_matches("carol@")
    assert msg.text_matches("see below")  # TEXT is the header and the body


def test_index_text_marks_each_field() -> None:
    assert index_text([]) == ""
    assert index_text([""]) == "\x00"
    assert index_text(["", ""]) == "\x00\x00"
    assert index_text(["Lunch", "dîner"]) == "\x00Lunch\x00dîner"
    assert index_text(["a", "b\x00c"]) is None
    assert index_text(["a\x00"]) is None
    assert index_text(["ok", "\udc80"]) is None


@pytest.mark.parametrize(
    ("stored", "needle", "found"),
    [
        ("", "", False),  # no Subject field
        ("", "a", False),
        ("\x00", "", True),  # one empty field
        ("\x00", "a", False),
        ("\x00Lunch\x00Dinner", "", True),
        ("\x00Lunch\x00Dinner", "lunch", True),
        ("\x00Lunch\x00Dinner", "DINNER", True),
        ("\x00Lunch\x00Dinner", "nchdi", False),  # across two fields
        ("\x00Lunch\x00Dinner", "nch\x00di", False),
        ("\x00Lunch\x00Dinner", "\x00lunch", False),
        ("\x00Lunch\x00Dinner", "\x00", False),
        ("\x00Straße", "STRASSE", False),  # i;unicode-casemap: ß has no simple titlecase
        ("\x00STRASSE", "straße", False),
        ("\x00Straße", "STRAßE", True),
        ("\x00Cre\u0301pes", "CRÉPES", True),  # decomposed or composed: NFKD on both sides
        ("\x00Crêpes", "CRE\u0302PES", True),
        ("\x00\u2460", "1", True),  # NFKD: compatibility decompositions too (①)
        ("\x00Crêpes", "crepes", False),
    ],
)
def test_index_matches_as_header_matches_does(stored: str, needle: str, found: bool) -> None:
    assert index_matches(stored, needle) is found


SUBJECT_CHARS = "aAbBsSßẞΣ\u03c3\u03c2İ\u0131ié \x00"  # sigmas, dotless i: not 1:1 in case
CASES = [str, str.upper, str.lower, str.swapcase, str.casefold]


def subject_field(text: str, encoded: bool) -> bytes:
    if encoded:
        return b"Subject: =?UTF-8?B?" + base64.b64encode(text.encode()) + b"?=\r\n"
    return b"Subject: " + text.encode() + b"\r\n"


@settings(max_examples=400, deadline=None)
@given(
    fields=st.lists(st.tuples(st.text(SUBJECT_CHARS, max_size=6), st.booleans()), max_size=3),
    data=st.data(),
)
def test_the_index_answers_as_header_matches(
    fields: list[tuple[str, bool]], data: st.DataObject
) -> None:
    raw = b"From: a@b\r\n" + b"".join(subject_field(t, e) for t, e in fields) + b"\r\nhi\r\n"
    header = Message(raw).header
    texts = header_texts(header, b"subject")
    joined = "".join(texts)  # its slices span the fields' boundaries too
    start = data.draw(st.integers(0, len(joined)))
    end = data.draw(st.integers(start, len(joined)))
    needle = data.draw(st.sampled_from(CASES))(
        data.draw(st.one_of(st.just(joined[start:end]), st.text(SUBJECT_CHARS, max_size=3)))
    )
    stored = store_summary(raw)["subject_text"]
    assert stored == index_text(texts)
    if stored is None:
        assert any("\x00" in t for t in texts)
    else:
        assert isinstance(stored, str)
        assert index_matches(stored, needle) is header_matches(header, b"subject", needle)


def test_contains_across_chunks() -> None:
    assert contains(["abc", "def"], "CD")
    assert contains(["ab", "c", "d"], "abcd")
    assert not contains(["ab", "c"], "abcd")
    assert contains(["x"], "X")
    assert not contains([], "x")
    assert contains([], "")
    assert not contains(["STRASSE"], "straße")
    assert contains(["cafe\u0301"], "CAFÉ")
    assert contains(["caf", "e\u0301 noir"], "É NOIR")  # a combining mark in the next chunk


def test_raw_chunks_cut_at_line_ends() -> None:
    buf = b"aaaa\nbb\ncccccc"
    assert list(raw_chunks(buf, 0, len(buf), 6)) == [b"aaaa\n", b"bb\n", b"cccccc"]
    assert list(raw_chunks(buf, 1, 3, 100)) == [b"aa"]
    assert list(raw_chunks(b"abcdefgh", 0, 8, 3)) == [b"abc", b"def", b"gh"]
    assert list(raw_chunks(b"a\nb\ncccc", 0, 8, 5)) == [b"a\nb\n", b"cccc"]
    assert list(raw_chunks(b"\nabcdef", 0, 7, 3)) == [b"\n", b"abc", b"def"]
    assert list(raw_chunks(b"ab\ncd", 0, 5, 10)) == [b"ab\ncd"]


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        (b"aGVsbG8gd29y\r\nbGQ=\r\n", b"hello world"),
        (b"aGVs bG8*\r\n", b"hello"),
        (b"aGVsbA", b"hell"),
        (b"aGVsbG8=aGk=", b"hellohi"),
        (b"a", b""),
        (b"aGVsb", b"hel"),
        (b"=aGk=", b"hi"),
        (b"aGk=XYZA", b"hi" + base64.b64decode(b"XYZA")),
        (b"", b""),
    ],
)
def test_base64_is_decoded_leniently(encoded: bytes, decoded: bytes) -> None:
    assert b"".join(decoded_chunks(encoded, 0, len(encoded), b"base64")) == decoded


def test_long_base64_decodes_across_chunks() -> None:
    data = bytes(range(256)) * 20_000
    encoded = base64.encodebytes(data)
    pieces = list(decoded_chunks(encoded, 0, len(encoded), b"base64"))
    assert b"".join(pieces) == data
    # streamed: each raw chunk of about CHUNK octets is decoded as it is read, not held back
    assert len(pieces) >= len(encoded) // CHUNK and max(map(len, pieces)) <= CHUNK
    # Lines of 75 characters: a chunk (cut at a line end) leaves a remainder for the next.
    flat = base64.b64encode(data)
    odd = b"\r\n".join(flat[i : i + 75] for i in range(0, len(flat), 75))
    assert b"".join(decoded_chunks(odd, 0, len(odd), b"base64")) == data


def test_quoted_printable_and_identity() -> None:
    assert b"".join(decoded_chunks(b"a=3Db=\r\nc", 0, 9, b"quoted-printable")) == b"a=bc"
    assert b"".join(decoded_chunks(b"a=3Db", 0, 5, b"8bit")) == b"a=3Db"


# --- dates, ids, base subject ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            b"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)",
            datetime(1996, 7, 17, 2, 23, 25, tzinfo=timezone(timedelta(hours=-7))),
        ),
        (b"17 Jul 1996 02:23 +0000", datetime(1996, 7, 17, 2, 23, tzinfo=UTC)),
        (b"Sun, 29 Nov 26 10:15:00 GMT", datetime(2026, 11, 29, 10, 15, tzinfo=UTC)),
        (b"Sun, 29 Nov 2026 10:15:00 EST", datetime(2026, 11, 29, 15, 15, tzinfo=UTC)),
        (b"29 Nov 2026 10:15:60 +0000", datetime(2026, 11, 29, 10, 15, 59, tzinfo=UTC)),
        (b"garbage", None),
        (b"", None),
        (b"31 Feb 2026 10:00:00 +0000", None),
        (b"1 Jan 0 10:00:00 +0000", datetime(2000, 1, 1, 10, tzinfo=UTC)),
        (b"1 Jan 99999 10:00:00 +0000", None),
        (b"1 Jan 2026 10:00:00 +9999", None),
        (b"1 Jan 2026 10:00:00 +0000".ljust(200), datetime(2026, 1, 1, 10, tzinfo=UTC)),
        (b"1 Jan 2026 10:00:00 +0000".ljust(201), None),
        (None, None),
    ],
)
def test_parse_date(raw: bytes | None, expected: datetime | None) -> None:
    assert parse_date(raw) == expected


def test_sent_day_disregards_the_time_zone() -> None:
    sent = parse_date(b"Mon, 30 Nov 2026 01:00:00 +0300")
    assert sent is not None
    assert sent.date() == date(2026, 11, 30)
    assert sent.astimezone(UTC).date() == date(2026, 11, 29)


@pytest.mark.parametrize(
    ("raw", "ids"),
    [
        (b"<a@b>", [b"a@b"]),
        (b"  <a@b> (comment) <c@d>\r\n\t<e\r\n @f>", [b"a@b", b"c@d", b"e@f"]),
        (b"<> <x> <y@z> junk", [b"y@z"]),  # msg-id is id-left "@" id-right (as Dovecot)
        (b"no brackets", []),
        (b"<a<b@c>", [b"b@c"]),
        (None, []),
    ],
)
def test_message_ids(raw: bytes | None, ids: list[bytes]) -> None:
    assert message_ids(raw) == ids
    assert message_id(raw) == (ids[0] if ids else None)


@pytest.mark.parametrize(
    ("raw", "base", "reply"),
    [
        (b"hello", "hello", False),
        (b"Re: hello", "hello", True),
        (b"RE: Fwd: re:hello", "hello", True),
        (b"Fw: hello (fwd)", "hello", True),
        (b"hello (FWD) (fwd)  ", "hello", True),
        (b"[list] Re: hello", "hello", True),
        (b"Re: [list] hello", "hello", True),
        (b"[Fwd:hello]", "hello", True),
        (b"Re [2]: hello", "hello", True),
        (b"[list] hello", "hello", False),
        (b"[only a blob]", "[only a blob]", False),
        (b"[a] [b] hello", "hello", False),
        (b"[Fwd: hello]", "hello", True),
        (b"[fwd: Re: [list] hello (fwd)]", "hello", True),
        (b"  many   spaces\t here ", "many spaces here", False),
        (b"=?utf-8?q?Re=3A_caf=C3=A9?=", "café", True),
        (b"Re:", "", True),
        (b"", "", False),
        (None, "", False),
        (b"Rex: hello", "Rex: hello", False),
    ],
)
def test_base_subject(raw: bytes | None, base: str, reply: bool) -> None:
    assert base_subject(raw) == (base, reply)


# --- Content-Type and friends ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        (b"text/plain", ContentType(type=b"text", subtype=b"plain", params=())),
        (
            b'Text/HTML ; Charset="UTF-8" ; format=flowed',
            ContentType(
                type=b"Text",
                subtype=b"HTML",
                params=((b"Charset", b"UTF-8"), (b"format", b"flowed")),
            ),
        ),
        (
            b"text/plain; charset=us-ascii (Plain text)",
            ContentType(type=b"text", subtype=b"plain", params=((b"charset", b"us-ascii"),)),
        ),
        (
            b"(c) text (x) / (y) plain ; (z) a (w) = (v) b",
            ContentType(type=b"text", subtype=b"plain", params=((b"a", b"b"),)),
        ),
        (
            b'application/x; name=my file.pdf; q="a\\"b;c"; bare; =x; n="open',
            ContentType(
                type=b"application",
                subtype=b"x",
                params=((b"name", b"my file.pdf"), (b"q", b'a"b;c'), (b"n", b"open")),
            ),
        ),
        (
            b'multipart/mixed; boundary="(a)"; junk junk; x=1',
            ContentType(
                type=b"multipart", subtype=b"mixed", params=((b"boundary", b"(a)"), (b"x", b"1"))
            ),
        ),
        (
            b'application/x; name=foo"bar baz" qux; cs=X-UNKNOWN',
            ContentType(
                type=b"application",
                subtype=b"x",
                params=((b"name", b"foo bar baz qux"), (b"cs", b"X-UNKNOWN")),
            ),
        ),
        (
            b'text/plain;a=b; xx=y junk; "q"=r; c="a\\""; d="X" "Y" z',
            ContentType(
                type=b"text",
                subtype=b"plain",
                params=((b"a", b"b"), (b"xx", b"y junk"), (b"c", b'a"'), (b"d", b"X Y z")),
            ),
        ),
        (b"text/plain junk xx=y; a=b", ContentType(b"text", b"plain", ((b"a", b"b"),))),
        (b'text/plain; a="b\\', ContentType(b"text", b"plain", ((b"a", b"b\\"),))),
        (b'text/plain; a="b\\c', ContentType(b"text", b"plain", ((b"a", b"bc"),))),  # open
        (
            b'text/plain (a \\) (b) c); x="1" (z \\( y); q=2',
            ContentType(b"text", b"plain", ((b"x", b"1"), (b"q", b"2"))),
        ),
        (b"text", None),
        (b"text/", None),
        (b"/plain", None),
        (b"", None),
        (None, None),
    ],
)
def test_parse_content_type(raw: bytes | None, parsed: ContentType | None) -> None:
    assert parse_content_type(raw) == parsed


def test_parse_disposition() -> None:
    assert parse_disposition(b'attachment; filename="a.pdf"') == ContentType(
        type=b"attachment", subtype=b"", params=((b"filename", b"a.pdf"),)
    )
    assert parse_disposition(b"; x=y") is None
    assert parse_disposition(None) is None


@pytest.mark.parametrize(
    ("raw", "merged", "text"),
    [
        ([(b"title", b"x")], [(b"title", b"x")], "x"),
        ([(b"title*0", b"a "), (b"title*1", b"b")], [(b"title", b"a b")], "a b"),
        (
            [(b"title*1*", b"%E9"), (b"x", b"y"), (b"TITLE*0*", b"iso-8859-1'fr'caf")],
            [(b"title*", b"iso-8859-1'fr'caf%E9"), (b"x", b"y")],
            "café",
        ),
        (
            [(b"title*0", b"it's a b"), (b"title*1*", b"%C3%A9")],
            [(b"title*", b"''it%27s%20a%20b%C3%A9")],
            "it's a bé",
        ),
        ([(b"title*", b"utf-8''%C3%A9")], [(b"title*", b"utf-8''%C3%A9")], "é"),
        (
            [(b"t*0", b"a-b.c_d~!#$&+^`| x"), (b"T*1*", b"%C3%A9")],
            [(b"t*", b"''a-b.c_d~!#$&+^`|%20x%C3%A9")],
            None,
        ),
        ([(b"title*0", b"a"), (b"title*2", b"c")], [(b"title", b"a")], "a"),
        ([(b"title*1", b"b")], [], None),
        (
            [(b"t*0", b"a"), (b"plain", b"p"), (b"t*x", b"v"), (b"u*0", b"b"), (b"t*1", b"c")],
            [(b"t", b"ac"), (b"plain", b"p"), (b"t*x", b"v"), (b"u", b"b")],
            None,
        ),
        ([(b"title*10000", b"z")], [(b"title*10000", b"z")], None),
        ([(b"title*0000", b"z")], [(b"title", b"z")], "z"),
        (
            [(b"title*0*", b"utf-8''a"), (b"title*1", b"b c")],
            [(b"title*", b"utf-8''ab%20c")],
            "ab c",
        ),
        ([(b"title*x", b"v")], [(b"title*x", b"v")], None),
        ([(b"title*0", b"a"), (b"title*0", b"b")], [(b"title", b"a")], "a"),
    ],
)
def test_rfc2231(
    raw: list[tuple[bytes, bytes]], merged: list[tuple[bytes, bytes]], text: str | None
) -> None:
    params = merge_2231(raw)
    assert list(params) == merged
    ctype = ContentType(type=b"a", subtype=b"b", params=params)
    assert ctype.text_param(b"title") == text
    assert ctype.text_param(b"TITLE") is None  # names are asked in lower case


def test_decode_param() -> None:
    assert decode_param(b"n", b"caf\xc3\xa9") == "café"
    assert decode_param(b"n*", b"no-quote%41") == "no-quoteA"
    assert decode_param(b"n*", b"bogus''%E9") == "é"
    assert decode_param(b"n*", b"utf-8''it's") == "it's"
    assert decode_param(b"n*", b"koi8-r''%C1") == "\u0430"
    assert decode_param(b"n*", b"\xffcs''x") == "x"
    assert ContentType(type=b"a", subtype=b"b", params=((b"N*", b"x''y"),)).param(b"n") == b"x''y"
    assert ContentType(type=b"a", subtype=b"b", params=()).param(b"n") is None


# --- the summary the store caches -------------------------------------------------------------


def test_summary_of_a_thunderbird_message_round_trips() -> None:
    msg = Message(THUNDERBIRD)
    summary = summarize(msg)
    assert summary.size == len(THUNDERBIRD)
    # kept in IMAP syntax, as FETCH sends them (the fetch tests pin the values themselves)
    assert summary.envelope == encode.value(msg.envelope())
    assert summary.envelope.startswith(b'("Sun, 29 Nov 2026 10:15:00 +0100" "=?UTF-8?Q?Cr=C3')
    assert summary.body == encode.value(msg.body())
    assert summary.bodystructure == encode.value(msg.bodystructure())
    assert summary.bodystructure.endswith(
        b' "alternative" ("boundary" "------------alt0123") NIL ("en-US") NIL)'
    )
    assert summary.sent == int(datetime(2026, 11, 29, 9, 15, tzinfo=UTC).timestamp())
    assert summary.sent_offset == 3600
    assert summary.sent_datetime() == parse_date(b"Sun, 29 Nov 2026 10:15:00 +0100")
    assert summary.base_subject == "Crêpes recipe"
    assert not summary.is_reply
    assert summary.message_id == b"5a6f1d2e-1b3c-4d5e-8f90-123456789abc@crepes.fr"
    assert (summary.in_reply_to, summary.references) == (None, [])
    assert (summary.sort_from, summary.sort_to, summary.sort_cc) == (b"alice", b"bob", b"")
    assert (summary.display_from, summary.display_to) == ("Alice", "Bob")
    packed = summary.to_bytes()
    assert Summary.from_bytes(packed) == summary
    assert len(packed) < len(THUNDERBIRD)


def test_summary_of_a_bare_message() -> None:
    raw = crlf(
        "From: =?utf-8?q?=C3=89lise?= <e@x>\nTo: undisclosed-recipients:;\nCc: G: c@d;\n"
        "Subject: Re: [x] hi\nIn-Reply-To: <p@x>\nReferences: <a@x> <p@x>\n\n"
    )
    summary = summarize(Message(raw))
    assert summary.sent is None and summary.sent_datetime() is None
    assert summary.sent_offset == 0
    assert (summary.base_subject, summary.is_reply) == ("hi", True)
    assert summary.in_reply_to == b"p@x"
    assert summary.references == [b"a@x", b"p@x"]
    assert (summary.sort_from, summary.sort_to, summary.sort_cc) == (b"e", b"", b"c")
    assert (summary.display_from, summary.display_to) == ("Élise", "")
    assert Summary.from_bytes(summary.to_bytes()) == summary
    no_name = summarize(Message(b"To: a@b\r\n\r\n"))
    assert (no_name.display_from, no_name.display_to) == ("", "a@b")
    sender = summarize(Message(b"From: f@x\r\nSender: Sam <s@y>\r\n\r\n"))
    assert (sender.sort_from, sender.display_from) == (b"f", "f@x")
    utc = summarize(Message(b"Date: 1 Jan 2026 00:00:00 +0000\r\n\r\n"))
    assert utc.sent_datetime() == datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", "^not a message summary: "),
        (b"\xc1", "^not a message summary: "),
        (b"\x90\x90", "^not a message summary: "),
        (msgpack.packb([1, 2]), "^not a message summary of version 3$"),
        (msgpack.packb({"a": 1}), "^not a message summary of version 3$"),
        (msgpack.packb([1, *range(16)]), "^not a message summary of version 3$"),
        (msgpack.packb([3, *range(17)]), "^not a message summary of version 3$"),
        (msgpack.packb([3, *range(15)]), "^not a message summary of version 3$"),
        (msgpack.packb([3, *range(16)]), "^message summary field envelope has the wrong type$"),
        (  # a version 2 summary (ENVELOPE, BODY, BODYSTRUCTURE as lists) is computed again
            msgpack.packb(
                [2, 1, [], [], [], None, 0, "", False, None, None, [], b"", b"", b"", "", ""]
            ),
            "^not a message summary of version 3$",
        ),
        (
            msgpack.packb(
                [3, 1, [], [], [], None, 0, "", False, None, None, [], b"", b"", b"", "", ""]
            ),
            "^message summary field envelope has the wrong type$",
        ),
        (
            msgpack.packb(
                [3, True, b"", b"", b"", None, 0, "", False, None, None, [], b"", b"", b"", "", ""]
            ),
            "^message summary field size has the wrong type$",
        ),
        (
            msgpack.packb(
                [3, 1, b"", b"", b"", None, 0, "", 0, None, None, [], b"", b"", b"", "", ""]
            ),
            "^message summary field is_reply has the wrong type$",
        ),
        (
            msgpack.packb(
                [3, 1, b"", b"", b"", None, 0, "", False, None, None, [], b"", b"", b"", "", 7]
            ),
            "^message summary field display_to has the wrong type$",
        ),
    ],
)
def test_summary_from_bytes_refuses_what_is_not_one(data: bytes, error: str) -> None:
    with pytest.raises(MessageError, match=error):
        Summary.from_bytes(data)


def test_store_summary_is_the_row_the_store_keeps() -> None:
    raw = crlf(
        "From: =?utf-8?q?=C3=89lise?= <\u00e9@x>\nTo: t@y\nSubject: Re: Fwd: hi\n"
        "Date: Mon, 30 Nov 2026 01:00:00 +0300\nMessage-ID: <m@x>\nReferences: <a@x>\n"
        " <b@x>\n\nbody\n"
    )
    row = store_summary(raw)
    assert row == {
        "blob": row["blob"],
        "date": int(datetime(2026, 11, 29, 22, tzinfo=UTC).timestamp()),
        "subject": "hi",
        "from": "\u00e9",
        "to": "t",
        "cc": "",
        "message_id": "m@x",
        "in_reply_to": None,
        "references": "a@x b@x",
        "subject_text": "\x00Re: Fwd: hi",
        "reply": 1,
        "subject_key": "HI",  # SORT's keys: casemap.py's form of subject, from, to and cc
        "from_key": "E\u0301",  # (NFKD: É decomposed)
        "to_key": "T",
        "cc_key": "",
    }
    assert isinstance(row["blob"], bytes)
    assert Summary.from_bytes(row["blob"]) == summarize(Message(raw))
    bare = store_summary(b"Message-ID: <\xff@x>\r\nIn-Reply-To: <p> <p@q>\r\n\r\n")
    assert (bare["date"], bare["message_id"], bare["in_reply_to"]) == (None, "\xff@x", "p@q")
    assert bare["subject_text"] == ""  # no Subject field
    assert bare["reply"] == 0


@pytest.mark.parametrize(
    ("head", "text"),
    [
        ("", ""),
        ("Subject:\n", "\x00"),
        ("Subject: =?UTF-8?B?Q3LDqnBlcyDDoCBtaWRp?=\n", "\x00Crêpes à midi"),
        ("Subject: lunch\nX-A: b\nsubject: Dinner\n", "\x00lunch\x00Dinner"),
        ("Subject: a =?utf-8?q?=00?= b\n", None),  # a NUL in the text: not kept
    ],
)
def test_store_summary_keeps_the_subject_fields_as_search_reads_them(
    head: str, text: str | None
) -> None:
    raw = crlf(f"From: a@b\n{head}\nbody\n")
    assert store_summary(raw)["subject_text"] == text
    header = Message(raw).header
    assert index_text(header_texts(header, b"subject")) == text


def test_summary_as_dict() -> None:
    summary = summarize(Message(b"Subject: x\r\n\r\n"))
    assert summary.as_dict()["base_subject"] == "x"
    assert summary.as_dict()["size"] == 14
