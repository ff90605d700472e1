"""The MX's core without a loop: recipients, replies, content, trace fields, settings."""

from __future__ import annotations

import re
from pathlib import Path

import aiosmtpd.smtp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailserver import smtp
from mailserver.smtp import MxPolicy, MxSettings, TlsInfo

NOW = 1795982746.0  # Sun, 29 Nov 2026 20:05:46 +0000


class Users:
    def __init__(self, *addresses: str) -> None:
        self.addresses = set(addresses)
        self.asked: list[str] = []

    def exists(self, address: str) -> bool:
        self.asked.append(address)
        return address in self.addresses


def settings(**kw: object) -> MxSettings:
    base: dict[str, object] = {"hostname": "mail.hamburger.edu", "domains": ("hamburger.edu",)}
    return MxSettings(**{**base, **kw})  # type: ignore[arg-type]


def policy(max_recipients: int = 100, domains: tuple[str, ...] = ("hamburger.edu",)) -> MxPolicy:
    users = Users("bob@hamburger.edu", "carol@hamburger.edu", "postmaster@hamburger.edu",
                  "dave@second.test")  # fmt: skip
    return MxPolicy(settings(max_recipients=max_recipients, domains=domains), users)


# -- recipients and senders ------------------------------------------------------------------


def test_a_local_user_is_accepted_with_the_domain_lowercased() -> None:
    assert policy().recipient("bob@HamBurger.EDU", utf8=False, accepted=[]) == (
        "250 2.1.5 Ok",
        "bob@hamburger.edu",
    )


def test_an_unknown_local_user_gets_550_5_1_1_naming_the_address() -> None:
    assert policy().recipient("eve@hamburger.edu", utf8=False, accepted=[]) == (
        "550 5.1.1 <eve@hamburger.edu>: no such user here",
        None,
    )


def test_the_domain_is_after_the_last_at_sign() -> None:
    # aiosmtpd unquotes "a@b"@hamburger.edu into a@b@hamburger.edu: a local part, still ours
    assert policy().recipient("a@b@hamburger.edu", utf8=False, accepted=[])[0] == (
        "550 5.1.1 <a@b@hamburger.edu>: no such user here"
    )
    assert policy().recipient("a@hamburger.edu@crepes.fr", utf8=False, accepted=[])[0] == (
        smtp.RELAY_DENIED
    )


def test_another_domain_is_relaying_denied_without_asking_the_users() -> None:
    p = policy()
    assert p.recipient("bob@crepes.fr", utf8=False, accepted=[]) == (
        "550 5.7.1 relaying denied",
        None,
    )
    assert p.recipient("bob@[127.0.0.41]", utf8=False, accepted=[]) == (smtp.RELAY_DENIED, None)
    assert p.recipient("bob@hamburger.edu.evil", utf8=False, accepted=[])[0] == smtp.RELAY_DENIED
    assert p.users.asked == []  # type: ignore[attr-defined]


def test_every_configured_domain_is_local() -> None:
    p = policy(domains=("hamburger.edu", "Second.Test"))
    assert p.recipient("dave@second.test", utf8=False, accepted=[])[1] == "dave@second.test"
    assert p.recipient("bob@second.test", utf8=False, accepted=[])[0].startswith("550 5.1.1")


def test_a_trailing_dot_on_the_domain_is_the_same_domain() -> None:
    assert policy().recipient("bob@hamburger.edu.", utf8=False, accepted=[])[1] == (
        "bob@hamburger.edu"
    )


def test_postmaster_without_a_domain_is_the_first_domains() -> None:
    p = policy(domains=("hamburger.edu", "second.test"))
    for name in ("Postmaster", "postmaster", "POSTMASTER"):
        assert p.recipient(name, utf8=False, accepted=[]) == (
            "250 2.1.5 Ok",
            "postmaster@hamburger.edu",
        )
    assert p.recipient("Postmaster@second.test", utf8=False, accepted=[])[0].startswith("550 5.1.1")


@pytest.mark.parametrize("address", ["bob", "@hamburger.edu", "bob@", ""])
def test_an_address_without_both_parts_is_bad_syntax(address: str) -> None:
    assert policy().recipient(address, utf8=False, accepted=[]) == (
        "553 5.1.3 Bad recipient address syntax",
        None,
    )


@pytest.mark.parametrize(
    "address", ["bo\rb@hamburger.edu", "bo\nb@hamburger.edu", "b\x00@hamburger.edu",
                "bo b@hamburger.edu", "b\x7f@hamburger.edu", "b<@hamburger.edu", "b>@hamburger.edu",
                "\tb@hamburger.edu"],
)  # fmt: skip
def test_control_characters_spaces_and_brackets_are_refused_before_any_header(address: str) -> None:
    assert policy().recipient(address, utf8=True, accepted=[]) == (smtp.BAD_RECIPIENT, None)
    assert policy().sender(address, utf8=True) == "553 5.1.7 Bad sender address syntax"


def test_an_address_over_254_octets_is_refused() -> None:
    local = "b" * (254 - len("@hamburger.edu"))
    assert (
        policy()
        .recipient(local + "@hamburger.edu", utf8=False, accepted=[])[0]
        .startswith("550 5.1.1")
    )
    assert policy().recipient("b" + local + "@hamburger.edu", utf8=False, accepted=[])[0] == (
        smtp.BAD_RECIPIENT
    )
    # octets, not characters: 127 two-octet characters are 254 octets
    assert policy().sender("é" * 120 + "@x.fr", utf8=True) is None
    assert policy().sender("é" * 125 + "@x.fr", utf8=True) == smtp.BAD_SENDER


def test_a_non_ascii_address_needs_smtputf8() -> None:
    p = policy()
    assert p.recipient("bøb@hamburger.edu", utf8=False, accepted=[]) == (
        "553 5.6.7 Non-ASCII address needs SMTPUTF8",
        None,
    )
    assert p.recipient("bøb@hamburger.edu", utf8=True, accepted=[])[0].startswith("550 5.1.1")
    assert p.sender("ålice@crepes.fr", utf8=False) == smtp.NEEDS_SMTPUTF8
    assert p.sender("ålice@crepes.fr", utf8=True) is None


def test_the_recipient_limit_is_exact_and_says_452_4_5_3() -> None:
    p = policy(max_recipients=2)
    assert p.recipient("bob@hamburger.edu", utf8=False, accepted=["carol@hamburger.edu"])[1] == (
        "bob@hamburger.edu"
    )
    full = ["carol@hamburger.edu", "postmaster@hamburger.edu"]
    assert p.recipient("bob@hamburger.edu", utf8=False, accepted=full) == (
        "452 4.5.3 Too many recipients",
        None,
    )


def test_a_recipient_named_twice_is_acknowledged_and_not_added_again() -> None:
    p = policy(max_recipients=1)
    assert p.recipient("bob@HAMBURGER.edu", utf8=False, accepted=["bob@hamburger.edu"]) == (
        "250 2.1.5 Ok",
        None,
    )


def test_the_relay_check_comes_before_the_recipient_limit() -> None:
    p = policy(max_recipients=1)
    assert p.recipient("x@crepes.fr", utf8=False, accepted=["bob@hamburger.edu"])[0] == (
        smtp.RELAY_DENIED
    )


def test_any_well_formed_sender_is_taken_a_forged_local_one_too() -> None:
    p = policy()
    assert p.sender("alice@crepes.fr", utf8=False) is None
    assert p.sender("bob@hamburger.edu", utf8=False) is None  # proves nothing: RCPT decides
    assert p.sender("<>", utf8=False) is None  # the null reverse-path of bounces
    assert p.sender("postmaster", utf8=False) == smtp.BAD_SENDER


# -- replies ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("250 OK", "250 2.0.0 OK"),
        ("221 Bye", "221 2.0.0 Bye"),
        ("220 Ready to start TLS", "220 2.0.0 Ready to start TLS"),
        ("252 Cannot VRFY user", "252 2.0.0 Cannot VRFY user"),
        ("421 closing", "421 4.3.2 closing"),
        ("451 later", "451 4.3.0 later"),
        ("454 TLS not available", "454 4.7.0 TLS not available"),
        ("500 Error: bad syntax", "500 5.5.2 Error: bad syntax"),
        ('500 Error: command "X" not recognized', '500 5.5.1 Error: command "X" not recognized'),
        ("500 Line too long (see RFC)", "500 5.5.2 Line too long (see RFC)"),
        ("501 Syntax: MAIL FROM: <address>", "501 5.5.4 Syntax: MAIL FROM: <address>"),
        ("502 EXPN not implemented", "502 5.5.1 EXPN not implemented"),
        ("503 Error: need MAIL command", "503 5.5.1 Error: need MAIL command"),
        ("504 x", "504 5.5.4 x"),
        ("530 Must issue a STARTTLS command", "530 5.7.0 Must issue a STARTTLS command"),
        ("552 Error: Too much mail data", "552 5.3.4 Error: Too much mail data"),
        ("553 x", "553 5.1.3 x"),
        ("555 MAIL FROM parameters", "555 5.5.4 MAIL FROM parameters"),
        ("554 Command refused", "554 5.0.0 Command refused"),
        ("450 busy", "450 4.0.0 busy"),
        ("211 status", "211 2.0.0 status"),
        ("200 x", "200 2.0.0 x"),
        ("400 x", "400 4.0.0 x"),
        ("599 x", "599 5.0.0 x"),
        ("250", "250 2.0.0"),
    ],
)  # fmt: skip
def test_a_reply_without_an_enhanced_code_gets_the_right_one(reply: str, expected: str) -> None:
    assert smtp.enhance(reply) == expected


@pytest.mark.parametrize(
    "reply", ["550 5.1.1 <a@b>: no such user here", "421 4.7.0 too many", "250 2.0.0",
              "502 5.5.1 Too many unrecognized commands, goodbye."]
)  # fmt: skip
def test_a_reply_with_an_enhanced_code_is_left_alone(reply: str) -> None:
    assert smtp.enhance(reply) == reply


def test_a_code_lookalike_in_the_text_is_not_taken_for_one() -> None:
    assert smtp.enhance("250 2.0.0x") == "250 2.0.0 2.0.0x"
    assert smtp.enhance("250 6.0.0 x") == "250 2.0.0 6.0.0 x"
    assert smtp.enhance("250 2.1234.0 x") == "250 2.0.0 2.1234.0 x"
    assert smtp.enhance("250 2.¹.0 x") == "250 2.0.0 2.¹.0 x"


def test_what_is_no_reply_is_left_alone_but_for_control_characters() -> None:
    assert smtp.enhance("hello") == "hello"
    assert smtp.enhance("25x ok") == "25x ok"
    assert smtp.enhance("25¹ ok") == "25¹ ok"  # a digit to str.isdigit(), not to SMTP
    assert smtp.enhance("250-mail.example") == "250-mail.example"
    assert smtp.enhance("250\tok") == "250?ok"


def test_control_characters_echoed_from_the_client_become_question_marks() -> None:
    assert smtp.enhance('500 Error: command "A\rB\x00\x7f" not recognized') == (
        '500 5.5.1 Error: command "A?B??" not recognized'
    )


def _aiosmtpd_replies() -> list[str]:
    """Every reply literal in aiosmtpd's protocol module ('503 Error: ...', f-strings' heads)."""
    source = Path(aiosmtpd.smtp.__file__).read_text()
    found = re.findall(r"""['"]([2345]\d\d [^'"{]*)""", source)
    return sorted({r for r in found if not r.startswith("3")})


def test_every_reply_aiosmtpd_can_send_comes_out_with_an_enhanced_code() -> None:
    replies = _aiosmtpd_replies()
    assert len(replies) > 30  # the scan found them
    for reply in replies:
        assert re.match(r"\d{3} [245]\.\d{1,3}\.\d{1,3}( |\Z)", smtp.enhance(reply)), reply


def test_ehlo_advertises_the_extensions_and_starttls_only_when_offered() -> None:
    assert smtp.ehlo_lines("mx.test", max_size=1000, starttls=True) == [
        "250-mx.test",
        "250-SIZE 1000",
        "250-8BITMIME",
        "250-SMTPUTF8",
        "250-PIPELINING",
        "250-ENHANCEDSTATUSCODES",
        "250 STARTTLS",
    ]
    lines = smtp.ehlo_lines("mx.test", max_size=5, starttls=False)
    assert lines[-1] == "250 ENHANCEDSTATUSCODES"
    assert "STARTTLS" not in " ".join(lines)
    assert not any("AUTH" in line for line in lines)
    # submission, once encrypted: AUTH with the two mechanisms, last (RFC 4954 §3)
    assert smtp.ehlo_lines("mx.test", max_size=5, starttls=False, auth=True)[-2:] == [
        "250-ENHANCEDSTATUSCODES",
        "250 AUTH PLAIN LOGIN",
    ]


def test_client_text_in_log_lines_is_one_line_and_bounded() -> None:
    assert smtp.loggable("MAIL FROM:<a\r\nFAKE LINE\x00>") == "MAIL FROM:<a??FAKE LINE?>"
    assert smtp.loggable("x" * 301) == "x" * 300
    assert smtp.loggable("ålice") == "ålice"


def test_fixed_replies_carry_their_codes() -> None:
    assert smtp.no_such_user("x@y") == "550 5.1.1 <x@y>: no such user here"
    assert smtp.stored("ABC") == "250 2.0.0 Ok: stored as ABC"
    assert (
        smtp.cap_refusal("mx.test")
        == b"421 4.7.0 mx.test Too many connections; try again later\r\n"
    )
    assert smtp.timed_out("mx.test") == b"421 4.4.2 mx.test Error: timeout exceeded\r\n"


# -- content ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        (b"a\r\nb\r\n", b"a\r\nb\r\n"),
        (b"a\nb\n", b"a\r\nb\r\n"),
        (b"a\rb\r", b"a\r\nb\r\n"),
        (b"a\r\r\nb", b"a\r\n\r\nb"),
        (b"a\n\rb", b"a\r\n\r\nb"),
        (b"x\r\n.\nMAIL FROM:<e@v>\r\n", b"x\r\n.\r\nMAIL FROM:<e@v>\r\n"),
        (b"", b""),
        (b"\n", b"\r\n"),
        (b"\r", b"\r\n"),
    ],
)  # fmt: skip
def test_bare_lf_and_bare_cr_become_crlf(raw: bytes, stored: bytes) -> None:
    assert smtp.normalise_line_ends(raw) == stored


def test_clean_content_is_returned_as_is() -> None:
    data = b"Subject: x\r\n\r\nbody\r\n"
    assert smtp.normalise_line_ends(data) is data


@given(st.binary(max_size=300))
def test_normalised_content_has_only_crlf_line_ends_and_the_same_text(data: bytes) -> None:
    out = smtp.normalise_line_ends(data)
    assert out.count(b"\r") == out.count(b"\n") == out.count(b"\r\n")
    assert out.replace(b"\r\n", b"") == data.replace(b"\r\n", b"").replace(b"\r", b"").replace(
        b"\n", b""
    )
    assert smtp.normalise_line_ends(out) == out


def test_received_fields_are_counted_in_the_header_section_only() -> None:
    data = b"Received: a\r\nreceived: b\r\n x\r\nRECEIVED:c\r\nSubject: s\r\n\r\nReceived: body\r\n"
    assert smtp.count_received(data) == 3
    assert smtp.count_received(b"Received: a\r\nReceived: b") == 2  # no body at all
    assert smtp.count_received(b"X-Received: a\r\nReceivedx: b\r\n\r\n") == 0
    assert smtp.count_received(b"Subject: Received: x\r\n\r\n") == 0  # a field name starts it
    assert smtp.count_received(b"\r\n\r\nReceived: in the body\r\n") == 0
    assert smtp.count_received(b"Received: a\r\n\r\nReceived: body\r\n\r\nend\r\n") == 1
    assert smtp.count_received(b"Subject: x\r\nReceived:") == 1  # no blank line, no body


def test_prepare_refuses_nul_and_loops_and_normalises_the_rest() -> None:
    assert smtp.prepare(b"a\x00b\r\n", max_hops=50) == (
        "554 5.6.0 Message contains NUL characters (not allowed without BINARYMIME)",
        b"",
    )
    hops = b"Received: x\r\n" * 3 + b"\r\nbody\r\n"
    assert smtp.prepare(hops, max_hops=3) == (None, hops)
    assert smtp.prepare(hops, max_hops=2) == (
        "554 5.4.6 Too many hops (Received fields): mail loop?",
        b"",
    )
    # counted after normalisation: bare LF line ends do not hide the fields
    assert smtp.prepare(b"Received: x\nReceived: y\n\nb", max_hops=1)[0] == smtp.TOO_MANY_HOPS
    assert smtp.prepare(b"a\nb", max_hops=1) == (None, b"a\r\nb")


# -- trace fields ----------------------------------------------------------------------------


def test_received_for_one_recipient_over_tls_golden() -> None:
    header = smtp.received_header(
        helo="client.crepes.fr",
        peer="127.0.0.40",
        hostname="mail.hamburger.edu",
        protocol="ESMTPS",
        message_id="1A2B3C",
        recipients=["bob@hamburger.edu"],
        now=NOW,
        tls=TlsInfo(version="TLSv1.3", cipher="TLS_AES_256_GCM_SHA384", bits=256),
    )
    assert header == (
        b"Received: from client.crepes.fr ([127.0.0.40])\r\n"
        b"\tby mail.hamburger.edu with ESMTPS (using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384"
        b" (256 bits))\r\n"
        b"\tid 1A2B3C\r\n"
        b"\tfor <bob@hamburger.edu>; Sun, 29 Nov 2026 20:05:46 +0000\r\n"
    )


def test_received_for_several_recipients_names_none_of_them() -> None:
    header = smtp.received_header(
        helo="[127.0.0.40]",
        peer="::1",
        hostname="mx.test",
        protocol="ESMTP",
        message_id="X",
        recipients=["a@mx.test", "b@mx.test"],
        now=NOW + 0.9,
    )
    assert header == (
        b"Received: from [127.0.0.40] ([IPv6:::1])\r\n"
        b"\tby mx.test with ESMTP\r\n"
        b"\tid X; Sun, 29 Nov 2026 20:05:46 +0000\r\n"
    )


def test_received_without_cipher_bits_leaves_them_out() -> None:
    header = smtp.received_header(
        helo="h", peer="127.0.0.1", hostname="mx.test", protocol="ESMTPS", message_id="X",
        recipients=[], now=NOW, tls=TlsInfo(version="TLSv1.2", cipher="ECDHE-RSA-AES128-SHA256"),
    )  # fmt: skip
    assert b"with ESMTPS (using TLSv1.2 with cipher ECDHE-RSA-AES128-SHA256)\r\n" in header


@given(st.text(max_size=400))
def test_no_helo_name_can_break_out_of_the_received_field(helo: str) -> None:
    header = smtp.received_header(
        helo=helo, peer="127.0.0.1", hostname="mx.test", protocol="ESMTP", message_id="X",
        recipients=["a@mx.test"], now=NOW,
    )  # fmt: skip
    first = header.split(b"\r\n")[0]
    assert header.count(b"\r") == header.count(b"\n") == 4
    assert first.startswith(b"Received: from ") and first.endswith(b" ([127.0.0.1])")
    name = first[len(b"Received: from ") : -len(b" ([127.0.0.1])")]
    assert 1 <= len(name) <= 255
    assert all(0x21 <= c <= 0x7E and c not in b"()\\;" for c in name)


def test_helo_text_keeps_names_and_literals_and_marks_the_rest() -> None:
    assert smtp.helo_text("client.example") == "client.example"
    assert smtp.helo_text("[IPv6:::1]") == "[IPv6:::1]"
    assert smtp.helo_text("a b(c)d;e\\f\x00é") == "a?b?c?d?e?f??"
    assert smtp.helo_text("") == "?"
    assert smtp.helo_text("x" * 300) == "x" * 255


@pytest.mark.parametrize(
    ("ip", "literal"),
    [
        ("127.0.0.40", "[127.0.0.40]"),
        ("2001:db8:0:0::1", "[IPv6:2001:db8::1]"),
        ("::ffff:192.0.2.7", "[192.0.2.7]"),
        ("?", "[unknown]"),
        ("", "[unknown]"),
    ],
)
def test_address_literals_follow_rfc_5321(ip: str, literal: str) -> None:
    assert smtp.address_literal(ip) == literal


@pytest.mark.parametrize(
    ("esmtp", "tls", "auth", "utf8", "name"),
    [
        (False, False, False, False, "SMTP"),
        (False, True, True, True, "SMTP"),
        (True, False, False, False, "ESMTP"),
        (True, True, False, False, "ESMTPS"),
        (True, False, True, False, "ESMTPA"),
        (True, True, True, False, "ESMTPSA"),
        (True, False, False, True, "UTF8SMTP"),
        (True, True, False, True, "UTF8SMTPS"),
        (True, False, True, True, "UTF8SMTPA"),
        (True, True, True, True, "UTF8SMTPSA"),
    ],
)
def test_with_protocol_names(esmtp: bool, tls: bool, auth: bool, utf8: bool, name: str) -> None:
    assert smtp.with_protocol(esmtp=esmtp, tls=tls, auth=auth, utf8=utf8) == name


def test_return_path_for_a_sender_and_for_a_bounce() -> None:
    assert smtp.return_path("alice@crepes.fr") == b"Return-Path: <alice@crepes.fr>\r\n"
    assert smtp.return_path("<>") == b"Return-Path: <>\r\n"


def test_dates_are_rfc_5322_in_utc() -> None:
    assert smtp.rfc5322_date(NOW) == "Sun, 29 Nov 2026 20:05:46 +0000"
    assert smtp.rfc5322_date(0) == "Thu, 01 Jan 1970 00:00:00 +0000"


# -- settings --------------------------------------------------------------------------------


def test_settings_defaults() -> None:
    s = settings()
    assert (s.max_message_size, s.max_recipients, s.timeout, s.max_hops) == (
        52428800,
        100,
        300.0,
        50,
    )
    assert (s.max_connections, s.handshake_timeout, s.data_timeout) == (1000, 10.0, 600.0)
    assert settings(hostname="mail.hamburger.edu.").hostname == "mail.hamburger.edu."


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"hostname": ""}, "hostname '' is not a domain name"),
        ({"hostname": "bad host"}, "hostname 'bad host' is not a domain name"),
        ({"hostname": "-x.test"}, "hostname '-x.test' is not a domain name"),
        ({"domains": ()}, "an MX needs at least one domain"),
        ({"domains": ("ok.test", "bad_domain")}, "domain 'bad_domain' is not a domain name"),
        ({"domains": ("ok.test.",)}, "domain 'ok.test.' is not a domain name"),
        ({"max_message_size": 0}, "limits must be at least 1"),
        ({"max_recipients": 0}, "limits must be at least 1"),
        ({"max_connections": 0}, "limits must be at least 1"),
        ({"max_hops": 0}, "limits must be at least 1"),
        ({"timeout": 0.0}, "timeouts must be positive"),
        ({"timeout": float("nan")}, "timeouts must be positive"),
        ({"handshake_timeout": 0.0}, "timeouts must be positive"),
        ({"data_timeout": 0.0}, "timeouts must be positive"),
        ({"handshake_timeout": -1.0}, "timeouts must be positive"),
    ],
)
def test_settings_refuse_what_cannot_work(kw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        settings(**kw)


def test_the_smallest_limits_are_allowed() -> None:
    s = settings(max_message_size=1, max_recipients=1, max_connections=1, max_hops=1,
                 timeout=0.01, data_timeout=0.01, handshake_timeout=0.01,
                 hostname="mx-X")  # fmt: skip
    assert (s.max_hops, s.timeout, s.data_timeout, s.handshake_timeout, s.hostname) == (
        1, 0.01, 0.01, 0.01, "mx-X")  # fmt: skip


# -- garbage ---------------------------------------------------------------------------------


@given(st.text(max_size=300), st.booleans(), st.lists(st.text(max_size=20), max_size=3))
def test_any_recipient_gets_a_reply_and_only_a_well_formed_local_one_is_added(
    address: str, utf8: bool, accepted: list[str]
) -> None:
    reply, add = policy().recipient(address, utf8=utf8, accepted=accepted)
    assert re.fullmatch(r"[245]\d\d [245]\.\d\.\d{1,3} .+", reply)
    if add is not None:
        assert reply == smtp.RECIPIENT_OK
        assert add.endswith("@hamburger.edu") and "\r" not in add and "\n" not in add


@given(st.text(max_size=300), st.booleans())
def test_any_sender_is_taken_or_refused_with_553(address: str, utf8: bool) -> None:
    refusal = policy().sender(address, utf8=utf8)
    assert refusal in (None, smtp.BAD_SENDER, smtp.NEEDS_SMTPUTF8)
    if refusal is None and address != "<>":
        assert not re.search(r"[\x00-\x20\x7f<>]", address)


@given(st.text(max_size=200))
def test_enhance_never_raises_and_leaves_no_control_character(reply: str) -> None:
    out = smtp.enhance(reply)
    assert not re.search(r"[\x00-\x1f\x7f]", out)
    if re.fullmatch(r"[245]\d\d( .*)?", reply, re.S):
        assert re.match(r"\d{3} [245]\.\d{1,3}\.\d{1,3}( |\Z)", out)


@pytest.mark.parametrize(
    ("options", "size"),
    [
        ([], 0),
        (["SIZE=1234"], 1234),
        (["BODY=8BITMIME", "size=77"], 77),
        (["SIZE="], 0),
        (["SIZE=12x"], 0),
        (["SIZE=-5"], 0),
        (["SIZE=١٢"], 0),  # Arabic-Indic digits: isdigit() says yes, SMTP says no
        (["SIZE=" + "9" * 20], 0),
        (["SIZES=10", "SIZE=3"], 3),
    ],
)
def test_declared_size(options: list[str], size: int) -> None:
    assert smtp.declared_size(options) == size


def test_mailbox_full_is_temporary_with_its_enhanced_code() -> None:
    reply = smtp.mailbox_full("bob@hamburger.edu", "mailbox full: 2 messages of 2 kept")
    assert reply == "452 4.2.2 <bob@hamburger.edu>: mailbox full: 2 messages of 2 kept"
    assert smtp.enhance(reply) == reply
