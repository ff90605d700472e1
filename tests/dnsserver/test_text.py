"""Names and record types as people type them (trace, cache dump/flush): what each means, and the
one-line message for what is not a name or a type."""

from __future__ import annotations

import dns.exception
import dns.name
import pytest

from dnsserver.errors import FORMERR, DnsError
from dnsserver.text import TextError, parse_name, parse_type


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Gaia.CS.umass.edu", (b"gaia", b"cs", b"umass", b"edu")),  # lowercased
        ("gaia.cs.umass.edu.", (b"gaia", b"cs", b"umass", b"edu")),  # absolute or not
        (".", ()),  # the root
        ("_imap._tcp.crepes.fr", (b"_imap", b"_tcp", b"crepes", b"fr")),
        ("a\\.b.test", (b"a.b", b"test")),  # an escaped dot is inside a label
        ("\\065bc.test", (b"abc", b"test")),  # \DDD, lowercased like the rest
        ("Crêpes.fr", (b"xn--crpes-isa", b"fr")),  # IDNA: the A-label
        ("x" * 63 + ".test", (b"x" * 63, b"test")),  # the longest label
    ],
)
def test_names_as_typed(text: str, name: tuple[bytes, ...]) -> None:
    assert parse_name(text) == name


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty name (the root is '.')"),
        ("a..b", "bad name 'a..b': empty label"),
        ("x" * 64 + ".test", f"bad name '{'x' * 64}.test': label longer than 63 octets"),
        ("a\\", "bad name 'a\\\\': bad escape"),
        ("a\\999.test", "bad name 'a\\\\999.test': bad escape"),
        ("\u200b.test", "bad name '\\u200b.test': not a valid internationalised name"),
        ("\u2488.test", "bad name '\u2488.test': not a valid internationalised name"),
    ],
)
def test_what_is_not_a_name_is_said_in_dns_terms(text: str, message: str) -> None:
    with pytest.raises(TextError) as err:
        parse_name(text)
    assert str(err.value) == message
    assert err.value.rcode == FORMERR and isinstance(err.value, DnsError)
    assert isinstance(err.value, ValueError)  # argparse types report it as a usage error


def test_a_name_over_255_octets_is_refused() -> None:
    text = ".".join(["a" * 63] * 4)  # 4 x 64 + 1 = 257 octets on the wire
    with pytest.raises(TextError, match=r"^bad name 'a{63}\.[a.]+': name longer than 255 octets$"):
        parse_name(text)
    assert len(parse_name(".".join(["a" * 63] * 3 + ["a" * 61]))) == 4  # 255 octets: fine


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("aaaa", 28),
        ("AAAA", 28),
        ("TYPE28", 28),
        ("type65534", 65534),
        ("28", 28),
        ("65535", 65535),
        ("1", 1),
        ("CAA", 257),
        ("ANY", 255),  # a question type, but a resolver answers it
        ("255", 255),
    ],
)
def test_types_by_name_typennn_or_number(text: str, code: int) -> None:
    assert parse_type(text) == code


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bogus", "unknown record type 'bogus'"),
        ("", "unknown record type ''"),
        ("-1", "unknown record type '-1'"),
        ("65536", "record type '65536' out of range (0 to 65535)"),
        ("99999999", "record type '99999999' out of range (0 to 65535)"),
        ("0", "cannot trace TYPE0: it is not a type of data"),
        ("41", "cannot trace OPT: it is not a type of data"),
        ("OPT", "cannot trace OPT: it is not a type of data"),
        ("249", "cannot trace TKEY: it is not a type of data"),
        ("TSIG", "cannot trace TSIG: it is not a type of data"),
        ("IXFR", "cannot trace IXFR: it is not a type of data"),
        ("axfr", "cannot trace AXFR: it is not a type of data"),
        ("253", "cannot trace MAILB: it is not a type of data"),
        ("MAILA", "cannot trace MAILA: it is not a type of data"),
    ],
)
def test_what_is_not_a_type_of_data_is_refused(text: str, message: str) -> None:
    with pytest.raises(TextError) as err:
        parse_type(text)
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("raised", "message"),
    [
        # a dnspython error the table does not name: dnspython's own words
        (dns.exception.SyntaxError("some new complaint"), "bad name 'x.test': some new complaint"),
        # an IDNA codec that raises a bare UnicodeError (older idna releases did)
        (UnicodeError("punycode"), "bad name 'x.test': not a valid internationalised name"),
    ],
)
def test_errors_dnspython_or_the_idna_codec_raise_unnamed(
    monkeypatch: pytest.MonkeyPatch, raised: Exception, message: str
) -> None:
    def refuse(text: str) -> None:
        raise raised

    monkeypatch.setattr(dns.name, "from_text", refuse)
    with pytest.raises(TextError) as err:
        parse_name("x.test")
    assert str(err.value) == message
