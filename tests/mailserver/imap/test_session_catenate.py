"""CATENATE (RFC 4469) through sessions on a real store: a message built from TEXT literals and
URLs of stored messages or their parts (RFC 5092 relative URLs, RFC 5550 PARTIAL), checked by
reading back what was stored; every refusal, [BADURL url], [TOOBIG], [TRYCREATE], BAD, stores
nothing. Exact bytes."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from mailserver.imap.commands import MAX_CATENATE_PARTS
from mailserver.imap.mailboxes import CATENATE_READ_FACTOR
from mailserver.store import Store
from tests.mailserver.imap.session_kit import BOB, CAPS, SETTINGS, Client, store_fixture

MIXED = (
    b"From: Alice <alice@crepes.fr>\r\nSubject: two parts\r\n"
    b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n"
    b"--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    b"c2Vjb25k\r\n--b--\r\n"
)
HEADER = MIXED[: MIXED.index(b"\r\n\r\n") + 4]
PART1 = b"first part"


@pytest.fixture
def store() -> Iterator[Store]:
    yield from store_fixture()


def client(store: Store) -> tuple[Client, int]:
    """A logged-in client and the INBOX's UIDVALIDITY; INBOX holds MIXED as UID 1."""
    uid = store.deliver(BOB, "INBOX", MIXED, ())
    assert uid == 1
    c = Client(store)
    c.login()
    return c, store.user(BOB).mailbox("INBOX").uidvalidity


def lit(data: bytes) -> bytes:
    return b"{%d+}\r\n" % len(data) + data


def stored(store: Store, mailbox: str, uid: int) -> bytes:
    return store.user(BOB).read_message(mailbox, uid)


def uids(store: Store, mailbox: str) -> list[int]:
    return list(store.user(BOB).uids(mailbox))


def test_catenate_and_url_partial_are_announced(store: Store) -> None:
    assert b" MULTIAPPEND CATENATE URL-PARTIAL BINARY " in CAPS
    assert Client(store)(b"a CAPABILITY").startswith(b"* CAPABILITY " + CAPS)


def test_the_rfc_example_a_header_and_a_part_of_another_message(store: Store) -> None:
    """RFC 4469 §3's example: a new header as TEXT, then a part of a stored message by URL,
    then the closing boundary as TEXT; the stored part is taken as it is (BODY[1])."""
    c, validity = client(store)
    head = b"From: bob@hamburger.edu\r\nSubject: fwd\r\n\r\n"
    cmd = (
        b"a APPEND Drafts (\\Seen \\Draft) CATENATE (TEXT "
        + lit(head)
        + b' URL "/INBOX;UIDVALIDITY=%d/;UID=1/;SECTION=1" TEXT ' % validity
        + lit(b"\r\n-- \r\nBob\r\n")
        + b")"
    )
    drafts = store.user(BOB).mailbox("Drafts").uidvalidity
    assert c(cmd) == b"a OK [APPENDUID %d 1] APPEND completed\r\n" % drafts
    assert stored(store, "Drafts", 1) == head + PART1 + b"\r\n-- \r\nBob\r\n"
    assert c(b"b SELECT Drafts").count(b"* 1 EXISTS") == 1
    assert c(b"c FETCH 1 FLAGS") == (
        b"* 1 FETCH (FLAGS (\\Seen \\Draft \\Recent))\r\nc OK FETCH completed\r\n"
    )


def test_every_form_of_url_reads_what_fetch_would(store: Store) -> None:
    c, validity = client(store)
    cases = [
        (b"/INBOX/;UID=1", MIXED),
        (b"/inbox;uidvalidity=%d/;uid=1" % validity, MIXED),  # keywords in any case
        (b"/INBOX/;UID=1/;SECTION=HEADER", HEADER),
        (b"/INBOX/;UID=1/;SECTION=TEXT", MIXED[len(HEADER) :]),
        (b"/INBOX/;UID=1/;SECTION=HEADER.FIELDS%20(Subject)", b"Subject: two parts\r\n\r\n"),
        (b"/INBOX/;UID=1/;SECTION=2", b"c2Vjb25k"),  # as stored: no decoding
        (
            b"/INBOX/;UID=1/;SECTION=2.MIME",
            b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n",
        ),
        (b"/INBOX/;UID=1/;SECTION=1/;PARTIAL=6", b"part"),
        (b"/INBOX/;UID=1/;SECTION=1/;PARTIAL=0.5", b"first"),
        (b"/INBOX/;UID=1/;PARTIAL=6.4", b"Alice"[:4]),
    ]
    for n, (url, want) in enumerate(cases, 1):
        reply = c(b't%d APPEND Sent CATENATE (TEXT {1+}\r\n< URL "%s")' % (n, url))
        assert reply.startswith(b"t%d OK [APPENDUID " % n), (url, reply)
        assert stored(store, "Sent", n) == b"<" + want, url


def test_a_relative_url_is_in_the_selected_mailbox(store: Store) -> None:
    c, _ = client(store)
    assert c(b"a APPEND Sent CATENATE (URL ;UID=1)") == (
        b"a NO [BADURL ;UID=1] no mailbox is selected for the relative URL ;UID=1\r\n"
    )
    assert c(b"b SELECT INBOX").endswith(b"b OK [READ-WRITE] SELECT completed\r\n")
    assert c(b"c APPEND Sent CATENATE (URL ;UID=1/;SECTION=1)").startswith(b"c OK [APPENDUID")
    assert stored(store, "Sent", 1) == PART1
    assert c(b"d APPEND Sent CATENATE (URL ;uid=1/;section=header)").startswith(b"d OK ")
    assert stored(store, "Sent", 2) == HEADER


def test_reading_a_url_does_not_set_seen(store: Store) -> None:
    c, _ = client(store)
    assert c(b"a APPEND Sent CATENATE (URL /INBOX/;UID=1)").startswith(b"a OK ")
    assert store.user(BOB).fetch("INBOX")[0].flags == ()


def test_a_url_to_nothing_is_badurl_and_stores_nothing(store: Store) -> None:
    c, validity = client(store)
    cases = [
        (b"/INBOX/;UID=2", b"INBOX: no message with UID 2"),
        (
            b"/INBOX;UIDVALIDITY=%d/;UID=1" % (validity + 1),
            b"UIDVALIDITY of INBOX is %d now" % validity,
        ),
        (b"/Nowhere/;UID=1", b"Nowhere: no mailbox 'Nowhere'"),
        (
            b"imap://bob@mail.test/INBOX/;UID=1",
            b"relative URL required (/MAILBOX;UIDVALIDITY=n/;UID=n)",
        ),
        (b"/INBOX/;UID=0", b"invalid IMAP URL: bad UID 0"),
        (b"/INBOX/;UID=1/;PARTIAL=0.0", b"invalid IMAP URL: bad PARTIAL length 0"),
        (b"/INBOX/;UID=1/;SECTION=BOGUS", b"invalid IMAP URL: unknown section [BOGUS]"),
        (b"/INBOX?SUBJECT%20x", b"invalid IMAP URL: a character that must be percent-encoded"),
        (
            b"/INBOX/;UID=1;URLAUTH=x",
            b"invalid IMAP URL: not a message (/MAILBOX/;UID=n[/;SECTION=s])",
        ),
    ]
    for url, why in cases:
        reply = c(b'a APPEND Sent CATENATE (TEXT {2+}\r\nhi URL "%s")' % url)
        assert reply == b"a NO [BADURL %s] %s\r\n" % (url, why), url
    assert uids(store, "Sent") == []


def test_badurl_echoes_the_url_without_what_would_break_the_response(store: Store) -> None:
    c, _ = client(store)
    reply = c(b'a APPEND Sent CATENATE (URL "/x]y/;UID=1")')
    assert reply.startswith(b"a NO [BADURL /x%5Dy/;UID=1] ")


def test_a_section_or_range_the_message_lacks_is_empty(store: Store) -> None:
    """As FETCH BODY[9] is "" (and as Dovecot does), not a BADURL."""
    c, _ = client(store)
    assert c(b"a APPEND Sent CATENATE (TEXT {1+}\r\nx URL /INBOX/;UID=1/;SECTION=9)").startswith(
        b"a OK "
    )
    assert c(
        b"b APPEND Sent CATENATE (TEXT {1+}\r\ny URL /INBOX/;UID=1/;PARTIAL=99999)"
    ).startswith(b"b OK ")
    assert [stored(store, "Sent", u) for u in (1, 2)] == [b"x", b"y"]


def test_an_empty_result_is_refused_like_an_empty_message(store: Store) -> None:
    c, _ = client(store)
    assert c(b"a APPEND Sent CATENATE (URL /INBOX/;UID=1/;SECTION=9)") == (
        b"a NO [CANNOT] an empty message cannot be stored\r\n"
    )


def test_a_message_that_grows_past_the_limit_is_toobig(store: Store) -> None:
    """max_message_size is 5000 in the tests: URLs can build more than any literal carries."""
    c, _ = client(store)
    count = SETTINGS.max_message_size // len(MIXED) + 1
    urls = b" ".join([b"URL /INBOX/;UID=1"] * count)
    assert c(b"a APPEND Sent CATENATE (%s)" % urls) == (
        b"a NO [TOOBIG] message over the 5000-octet limit\r\n"
    )
    # refused as soon as it is too big: what follows is not looked at
    assert c(b"b APPEND Sent CATENATE (%s URL /INBOX/;UID=7)" % urls) == (
        b"b NO [TOOBIG] message over the 5000-octet limit\r\n"
    )
    part = b" ".join([b"URL /INBOX/;UID=1/;SECTION=1"] * 10)
    assert c(b"c APPEND Sent (\\Seen) {1+}\r\nx CATENATE (%s %s)" % (part, urls)) == (
        b"c NO [TOOBIG] message 2 over the 5000-octet limit\r\n"
    )
    assert uids(store, "Sent") == []


def test_a_url_to_a_whole_message_that_does_not_fit_is_toobig(store: Store) -> None:
    """A whole message bigger than the room left is refused unread; one that fills the room
    exactly is taken, and so is a range of the big one."""
    c, _ = client(store)
    size = SETTINGS.max_message_size - 3
    big = b"Subject: big\r\n\r\n" + b"x" * (size - 18) + b"\r\n"
    store.deliver(BOB, "Junk", big, ())
    assert c(b"a APPEND Sent CATENATE (TEXT {4+}\r\nabcd URL /Junk/;UID=1)") == (
        b"a NO [TOOBIG] message over the 5000-octet limit\r\n"
    )
    assert uids(store, "Sent") == []
    sent = store.user(BOB).mailbox("Sent").uidvalidity
    assert c(b"b APPEND Sent CATENATE (TEXT {4+}\r\nabcd URL /Junk/;UID=1/;PARTIAL=0.12)") == (
        b"b OK [APPENDUID %d 1] APPEND completed\r\n" % sent
    )
    assert c(b"c APPEND Sent CATENATE (TEXT {3+}\r\nabc URL /Junk/;UID=1)") == (
        b"c OK [APPENDUID %d 2] APPEND completed\r\n" % sent
    )
    assert [stored(store, "Sent", u) for u in (1, 2)] == [b"abcdSubject: big", b"abc" + big]
    assert len(stored(store, "Sent", 2)) == SETTINGS.max_message_size


def test_the_internal_date_is_the_one_given(store: Store) -> None:
    c, _ = client(store)
    date = b'"14-Nov-2023 10:00:00 +0100"'
    cmd = b"a APPEND Sent (\\Seen) %s CATENATE (URL /INBOX/;UID=1/;SECTION=1)" % date
    sent = store.user(BOB).mailbox("Sent").uidvalidity
    assert c(cmd) == b"a OK [APPENDUID %d 1] APPEND completed\r\n" % sent
    [meta] = store.user(BOB).fetch("Sent")
    assert (meta.internaldate, meta.flags) == (1699952400, ("\\Seen",))
    assert c(b"b SELECT Sent").endswith(b"b OK [READ-WRITE] SELECT completed\r\n")
    assert c(b"c FETCH 1 INTERNALDATE") == (
        b'* 1 FETCH (INTERNALDATE "14-Nov-2023 09:00:00 +0000")\r\nc OK FETCH completed\r\n'
    )


def test_a_message_file_renamed_behind_the_index_is_still_read(store: Store) -> None:
    """As mutt renames a file it has read (new/ to cur/, `:2,S`) without the store knowing."""
    c, _ = client(store)
    user = store.user(BOB)
    indexed = user.message_file("INBOX", 1).path
    os.rename(indexed, os.path.join(user.maildir, "cur", os.path.basename(indexed) + ":2,S"))
    sent = user.mailbox("Sent").uidvalidity
    assert c(b"a APPEND Sent CATENATE (URL /INBOX/;UID=1)") == (
        b"a OK [APPENDUID %d 1] APPEND completed\r\n" % sent
    )
    assert stored(store, "Sent", 1) == MIXED


def test_with_multiappend_all_or_nothing(store: Store) -> None:
    c, _ = client(store)
    ok = c(b"a APPEND Sent CATENATE (URL /INBOX/;UID=1/;SECTION=1) {2+}\r\nhi"
           b" CATENATE (TEXT {3+}\r\nbye)")  # fmt: skip
    assert ok.startswith(b"a OK [APPENDUID ") and ok.endswith(b" 1:3] APPEND completed\r\n")
    assert [stored(store, "Sent", u) for u in (1, 2, 3)] == [PART1, b"hi", b"bye"]
    bad = c(b"b APPEND Sent {2+}\r\nhi CATENATE (URL /INBOX/;UID=7)")
    assert bad.startswith(b"b NO [BADURL /INBOX/;UID=7] ")
    assert uids(store, "Sent") == [1, 2, 3]


def test_into_a_missing_mailbox_is_trycreate(store: Store) -> None:
    c, _ = client(store)
    assert c(b"a APPEND Nowhere CATENATE (URL /INBOX/;UID=1)") == (
        b"a NO [TRYCREATE] no mailbox 'Nowhere'\r\n"
    )


def test_the_target_may_be_the_source(store: Store) -> None:
    c, _ = client(store)
    assert c(b"a APPEND INBOX CATENATE (URL /INBOX/;UID=1)").startswith(b"a OK [APPENDUID ")
    assert stored(store, "INBOX", 2) == MIXED


def test_text_may_be_a_literal8_with_nul(store: Store) -> None:
    c, _ = client(store)
    assert c(b"a APPEND Sent CATENATE (TEXT ~{3+}\r\na\x00b)").startswith(b"a OK ")
    assert stored(store, "Sent", 1) == b"a\x00b"


def test_bad_syntax_is_bad(store: Store) -> None:
    c, _ = client(store)
    cases = {
        b"a APPEND Sent CATENATE ()": b"a BAD expected TEXT or URL\r\n",
        b'a APPEND Sent CATENATE (TEXT "quoted")': b"a BAD CATENATE TEXT needs a literal\r\n",
        b"a APPEND Sent CATENATE (BODY /INBOX/;UID=1)": (
            b"a BAD a CATENATE part is TEXT or URL, not BODY\r\n"
        ),
        b"a APPEND Sent CATENATE URL /INBOX/;UID=1": (
            b'a BAD expected "(" and the CATENATE parts\r\n'
        ),
        b"a APPEND Sent CONCATENATE (URL /INBOX/;UID=1)": (
            b"a BAD APPEND needs the message as a literal or CATENATE\r\n"
        ),
    }
    for cmd, want in cases.items():
        assert c(cmd) == want, cmd
    assert uids(store, "Sent") == []


def test_too_many_parts_is_limit(store: Store) -> None:
    c, _ = client(store)
    parts = b" ".join([b"TEXT {1+}\r\nx"] * (MAX_CATENATE_PARTS + 1))
    reply = c(b"a APPEND Sent CATENATE (%s)" % parts)
    assert reply == b"a NO [LIMIT] more than %d CATENATE parts in one APPEND\r\n" % (
        MAX_CATENATE_PARTS
    )
    assert uids(store, "Sent") == []


def test_another_users_mailbox_is_out_of_reach(store: Store) -> None:
    """A URL is read in the logged-in user's own store: alice's INBOX is not bob's."""
    store.deliver("alice@crepes.fr", "INBOX", b"Subject: private\r\n\r\nsecret\r\n", ())
    c, _ = client(store)
    assert c(b"a APPEND Sent CATENATE (URL /INBOX/;UID=1)").startswith(b"a OK ")
    assert stored(store, "Sent", 1) == MIXED  # bob's own UID 1
    assert c(b"b APPEND Sent CATENATE (URL /INBOX/;UID=2)").startswith(b"b NO [BADURL ")


def test_urls_read_a_bounded_amount_of_stored_mail(store: Store) -> None:
    """Parts of one message in a row read it once; small parts of many big messages stop at
    CATENATE_READ_FACTOR messages of the largest size (NO [LIMIT]), whatever they would add."""
    c, _ = client(store)
    many = b" ".join([b'URL "/INBOX/;UID=1/;SECTION=HEADER.FIELDS%20(Subject)"'] * 200)
    assert c(b"a APPEND Sent CATENATE (%s)" % many).startswith(b"a OK ")
    assert stored(store, "Sent", 1) == b"Subject: two parts\r\n\r\n" * 200
    big = b"Subject: big\r\n\r\n" + b"x" * (SETTINGS.max_message_size - 18) + b"\r\n"
    assert len(big) == SETTINGS.max_message_size  # CATENATE_READ_FACTOR of them: just allowed
    count = CATENATE_READ_FACTOR + 1
    for _ in range(count):
        store.deliver(BOB, "Junk", big, ())
    headers = b" ".join(b"URL /Junk/;UID=%d/;SECTION=HEADER" % u for u in range(1, count + 1))
    assert c(b"b APPEND Sent CATENATE (%s)" % headers) == (
        b"b NO [LIMIT] CATENATE URLs read over %d octets of stored messages\r\n"
        % (CATENATE_READ_FACTOR * SETTINGS.max_message_size)
    )
    fewer = headers.rsplit(b" URL", 1)[0]
    assert c(b"c APPEND Sent CATENATE (%s)" % fewer).startswith(b"c OK ")
    assert stored(store, "Sent", 2) == b"Subject: big\r\n\r\n" * CATENATE_READ_FACTOR
    # the budget spent, a whole message that does not fit is TOOBIG: it is not read at all
    whole = b"URL /Junk/;UID=%d" % count
    assert c(b"d APPEND Sent CATENATE (%s %s)" % (fewer, whole)) == (
        b"d NO [TOOBIG] message over the 5000-octet limit\r\n"
    )
