"""TSIG key files in BIND's form: read, written, turned into a keyring."""

from __future__ import annotations

import base64
import io
import re
import struct
import time
from pathlib import Path

import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.tsig
import pytest

from dnsserver import tsigkeys
from dnsserver.tsigkeys import KeyFileError

SECRET = base64.b64encode(bytes(range(32))).decode()
SHORT = base64.b64encode(bytes(15)).decode()


def test_a_tsig_keygen_file_is_read() -> None:
    text = f"""// made by tsig-keygen
key "NetworkUtopia.com" {{
\talgorithm hmac-sha256;
\tsecret "{SECRET}";
}};
# a second key, bare name, other algorithm
key registrar. {{ algorithm HMAC-SHA512; secret "{SECRET}"; }};
/* a block
   comment */
"""
    keys = tsigkeys.parse(text, "k.key")
    assert [(k.name, k.algorithm, k.secret) for k in keys] == [
        ("networkutopia.com.", "hmac-sha256", bytes(range(32))),
        ("registrar.", "hmac-sha512", bytes(range(32))),
    ]


def test_a_written_key_reads_back_as_bind_writes_it() -> None:
    key = tsigkeys.generate("networkutopia.com", bytes(range(32)))
    assert key.text() == (
        f'key "networkutopia.com" {{\n\talgorithm hmac-sha256;\n\tsecret "{SECRET}";\n}};\n'
    )
    assert tsigkeys.parse(key.text()) == [key]
    assert tsigkeys.generate(".", bytes(32)).text().startswith('key "." {')


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "k: no key statement"),
        ("# only a comment\n", "k: no key statement"),
        ("junk", 'k: line 1: expected key "NAME" { ... };'),
        (f'\n\nkey "a" {{ algorithm hmac-sha256; secret "{SECRET}"; }}', "k: line 3: expected"),
        ('key "a" { algorithm hmac-sha256; };', "k: key 'a' needs both an algorithm and a secret"),
        (f'key "a" {{ secret "{SECRET}"; }};', "k: key 'a' needs both an algorithm and a secret"),
        (f'key "a" {{ algorithm rot13; secret "{SECRET}"; }};', "unknown algorithm 'rot13'"),
        ('key "a" { algorithm hmac-sha256; secret "not base64!"; };', "the secret is not base64"),
        (
            f'key "a" {{ algorithm hmac-sha256; secret "{SHORT}"; }};',
            "a secret of 15 octets is too short (at least 16)",
        ),
        (
            f'key "a" {{ algorithm hmac-sha256; algorithm hmac-sha1; secret "{SECRET}"; }};',
            "unexpected or repeated 'algorithm'",
        ),
        (
            f'key "a" {{ algorithm hmac-sha256; secret "{SECRET}"; owner "x"; }};',
            "unexpected or repeated 'owner'",
        ),
        (f'key "a" {{ algorithm hmac-sha256 secret "{SECRET}"; }};', "expected `algorithm NAME;`"),
        (f'key "a..b" {{ algorithm hmac-sha256; secret "{SECRET}"; }};', "bad key name 'a..b'"),
    ],
)
def test_bad_key_files_say_what_is_wrong(text: str, message: str) -> None:
    if not message.startswith(("k:", "bad key name")):
        message = "k: key 'a': " + message
    with pytest.raises(KeyFileError, match="^" + re.escape(message)):
        tsigkeys.parse(text, "k")


def test_sixteen_octets_are_enough() -> None:
    ok = base64.b64encode(bytes(16)).decode()
    assert tsigkeys.parse(f'key a {{ algorithm hmac-sha256; secret "{ok}"; }};')[0].secret == bytes(
        16
    )


def test_load_reads_every_file_and_refuses_a_name_twice(tmp_path: Path) -> None:
    a, b = tmp_path / "a.key", tmp_path / "b.key"
    a.write_text(tsigkeys.generate("one", bytes(32)).text())
    b.write_text(tsigkeys.generate("two", bytes(32)).text())
    keys = tsigkeys.load([a, b])
    assert sorted(keys) == ["one.", "two."] and keys["one."].secret == bytes(32)
    b.write_text(tsigkeys.generate("ONE.", bytes(32)).text())
    with pytest.raises(KeyFileError, match=rf"^{b}: key 'one.' is defined twice$"):
        tsigkeys.load([a, b])
    with pytest.raises(KeyFileError, match=r"missing.key: cannot read: No such file"):
        tsigkeys.load([tmp_path / "missing.key"])
    (tmp_path / "bin.key").write_bytes(b"\xff\xfe")
    with pytest.raises(KeyFileError, match=r"bin.key: not UTF-8 text$"):
        tsigkeys.load([tmp_path / "bin.key"])


def test_the_keyring_is_dnspythons() -> None:
    key = tsigkeys.generate("NU.com", bytes(range(32)), "hmac-sha512")
    ring = tsigkeys.keyring([key])
    got = ring[dns.name.from_text("nu.com")]
    assert got.secret == bytes(range(32)) and got.algorithm == dns.tsig.HMAC_SHA512
    assert got.name == dns.name.from_text("nu.com.")


def test_generate_checks_its_inputs() -> None:
    with pytest.raises(KeyFileError, match="unknown algorithm 'hmac-rot13'"):
        tsigkeys.generate("a", bytes(32), "hmac-rot13")
    with pytest.raises(KeyFileError, match="a secret of 8 octets is too short"):
        tsigkeys.generate("a", bytes(8))
    assert tsigkeys.key_name("A.B") == "a.b." and tsigkeys.key_name("a.b.") == "a.b."


def test_clauses_may_follow_the_brace_without_space() -> None:
    keys = tsigkeys.parse(f'key a {{algorithm hmac-sha256;secret "{SECRET}";}};')
    assert keys == [tsigkeys.TsigKey("a.", "hmac-sha256", bytes(range(32)))]
    keys = tsigkeys.parse(f'key "b"{{secret {SECRET};algorithm hmac-sha1;}};key c{{'
                          f'algorithm hmac-md5;secret "{SECRET}";}};')  # fmt: skip
    assert [(k.name, k.algorithm) for k in keys] == [("b.", "hmac-sha1"), ("c.", "hmac-md5")]


def test_a_key_with_no_name_is_refused() -> None:
    for name in ('""', '"  "'):
        with pytest.raises(KeyFileError, match=r"^k: a key with no name$"):
            tsigkeys.parse(f'key {name} {{ algorithm hmac-sha256; secret "{SECRET}"; }};', "k")


def test_a_secret_holding_comment_marks_is_read_whole() -> None:
    # base64 has "/" and "+": a random secret may hold "//" or look like "/*" ... "*/"
    for raw in (b"\xff" * 32, b"\xfc\x0f\xff" * 11, bytes(range(200, 232))):
        key = tsigkeys.generate("k", raw)
        assert tsigkeys.parse(key.text())[0].secret == raw
    secret = base64.b64encode(b"\xff" * 32).decode()
    assert "//" in secret
    text = f'key a {{ algorithm hmac-sha256; secret "{secret}"; }}; # "not a secret"\n'
    assert tsigkeys.parse(text)[0].secret == b"\xff" * 32


def test_a_comment_over_several_lines_keeps_the_line_numbers() -> None:
    text = f'key a {{ algorithm hmac-sha256; secret "{SECRET}"; }};\n/* a\nb */ junk\n'
    with pytest.raises(KeyFileError, match=r'^k: line 3: expected key "NAME"'):
        tsigkeys.parse(text, "k")


def test_an_unknown_algorithm_lists_the_known_ones() -> None:
    with pytest.raises(KeyFileError) as info:
        tsigkeys.parse(f'key a {{ algorithm HMAC-SHA999; secret "{SECRET}"; }};')
    assert str(info.value) == (
        "key file: key 'a': unknown algorithm 'hmac-sha999' (known: hmac-sha256, hmac-sha384, "
        "hmac-sha512, hmac-sha224, hmac-sha1, hmac-md5)"
    )


@pytest.mark.parametrize(
    "secret",
    [SECRET[:8] + "!" + SECRET[8:], SECRET[:8] + " " + SECRET[8:], SECRET[:-1], SECRET + "AAAA="],
)
def test_a_secret_with_other_characters_is_not_base64(secret: str) -> None:
    with pytest.raises(KeyFileError, match=r"^k: key 'a': the secret is not base64$"):
        tsigkeys.parse(f'key a {{ algorithm hmac-sha256; secret "{secret}"; }};', "k")


def test_the_default_place_in_messages_is_key_file() -> None:
    with pytest.raises(KeyFileError, match=r"^key file: no key statement$"):
        tsigkeys.parse("")
    with pytest.raises(KeyFileError, match=r'^key file: line 1: expected key "NAME"'):
        tsigkeys.parse("junk")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("junk\n\n\n", 1),
        ("\n\n  junk\nmore\n\n", 3),
        (f'key a {{ algorithm hmac-sha256; secret "{SECRET}"; }};\n\n# note\n junk\n\n', 4),
        (f'key a {{ algorithm hmac-sha256; secret "{SECRET}"; }}; junk\n\n', 1),
        (f'key a {{ algorithm hmac-sha256; secret "{SECRET}"; }};\n/* a */\n// b\n junk\n\n', 4),
    ],
)
def test_the_line_of_what_is_not_a_key_statement(text: str, line: int) -> None:
    with pytest.raises(KeyFileError) as info:
        tsigkeys.parse(text, "k")
    assert str(info.value) == f'k: line {line}: expected key "NAME" {{ ... }};'


def test_generate_takes_sixteen_octets_but_not_fifteen() -> None:
    key = tsigkeys.generate("Short.Example", bytes(16), "hmac-sha1")
    assert key == tsigkeys.TsigKey("short.example.", "hmac-sha1", bytes(16))
    with pytest.raises(KeyFileError, match=r"^a secret of 15 octets is too short$"):
        tsigkeys.generate("a", bytes(15))
    with pytest.raises(KeyFileError, match=r"^unknown algorithm 'HMAC-SHA256'$"):
        tsigkeys.generate("a", bytes(32), "HMAC-SHA256")


def test_load_names_the_file_of_a_bad_key(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.key", tmp_path / "bad.key"
    good.write_text(tsigkeys.generate("one", bytes(32)).text())
    bad.write_text('key "two" { algorithm hmac-sha256; };\n')
    with pytest.raises(KeyFileError) as info:
        tsigkeys.load([good, bad])
    assert str(info.value) == f"{bad}: key 'two' needs both an algorithm and a secret"
    bad.write_text("\njunk\n")
    with pytest.raises(KeyFileError) as info:
        tsigkeys.load([str(bad)])
    assert str(info.value) == f'{bad}: line 2: expected key "NAME" {{ ... }};'


def test_load_reads_utf8_comments(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    path.write_bytes(
        "# clé de mise à jour\n".encode() + tsigkeys.generate("un", bytes(32)).text().encode()
    )
    assert list(tsigkeys.load([path])) == ["un."]
    assert tsigkeys.load([]) == {}


def test_a_key_turns_into_dnspythons_key() -> None:
    key = tsigkeys.generate("a.example", bytes(range(20)), "hmac-sha224")
    got = key.to_dnspython()
    assert got.name == dns.name.from_text("a.example.")
    assert got.secret == bytes(range(20)) and got.algorithm == dns.tsig.HMAC_SHA224
    for bind, dnspython in (
        ("hmac-sha256", dns.tsig.HMAC_SHA256),
        ("hmac-sha384", dns.tsig.HMAC_SHA384),
        ("hmac-sha512", dns.tsig.HMAC_SHA512),
        ("hmac-sha224", dns.tsig.HMAC_SHA224),
        ("hmac-sha1", dns.tsig.HMAC_SHA1),
        ("hmac-md5", dns.tsig.HMAC_MD5),
    ):
        assert tsigkeys.ALGORITHMS[bind] == dnspython
    assert list(tsigkeys.ALGORITHMS) == [
        "hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224", "hmac-sha1", "hmac-md5",
    ]  # fmt: skip
    assert tsigkeys.MIN_SECRET == 16


def signed_answer() -> tuple[dns.message.Message, bytes, object]:
    """A query signed by a client, and an answer (header and question) signed by append_tsig."""
    key = tsigkeys.generate("xfr.example", bytes(range(32))).to_dnspython()
    q = dns.message.make_query("example.com.", "SOA", id=0x4242)
    q.use_tsig(key, fudge=200)
    q.to_wire()
    question = (dns.name.from_text("example.com.").to_wire() or b"") + b"\x00\x06\x00\x01"
    wire = struct.pack("!HHHHHH", 0x4242, 0x8400, 1, 0, 0, 0) + question
    signed, ctx = tsigkeys.append_tsig(
        wire, key, fudge=200, now=int(time.time()), request_mac=q.mac
    )
    return q, signed, ctx


def test_append_tsig_adds_one_record_that_a_client_verifies() -> None:
    q, signed, ctx = signed_answer()
    assert ctx is None  # one message, not a chain: nothing to carry on
    keyring = {dns.name.from_text("xfr.example."): q.keyring}
    r = dns.message.from_wire(signed, keyring=keyring, request_mac=q.mac)
    assert r.had_tsig and r.id == 0x4242 and r.tsig is not None
    rd = r.tsig[0]
    assert (rd.fudge, rd.original_id, rd.error, rd.other) == (200, 0x4242, 0, b"")
    assert struct.unpack("!HHHH", signed[4:12]) == (1, 0, 0, 1)
    # the record: the key's name written whole, type TSIG, class ANY, TTL 0
    owner = dns.name.from_text("xfr.example.").to_wire() or b""
    rdata = rd.to_wire() or b""
    assert signed.endswith(owner + struct.pack("!HHIH", 250, 255, 0, len(rdata)) + rdata)


def test_append_tsig_in_a_chain_gives_the_context_for_the_next_message() -> None:
    key = tsigkeys.generate("xfr.example", bytes(range(32))).to_dnspython()
    wire = struct.pack("!HHHHHH", 7, 0x8400, 0, 0, 0, 0)
    now = int(time.time())
    first, ctx = tsigkeys.append_tsig(
        wire, key, fudge=300, now=now, request_mac=b"\x01" * 32, multi=True
    )
    assert ctx is not None
    second, _ = tsigkeys.append_tsig(
        wire, key, fudge=300, now=now, request_mac=None, ctx=ctx, multi=True
    )
    keyring = {key.name: key}
    m1 = dns.message.from_wire(first, keyring=keyring, request_mac=b"\x01" * 32, multi=True)
    m2 = dns.message.from_wire(second, keyring=keyring, multi=True, tsig_ctx=m1.tsig_ctx)
    assert m1.had_tsig and m2.had_tsig


def test_key_files_are_utf_8_whatever_the_locale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text_encoding = io.text_encoding
    # a Latin-1 locale: text files opened without an encoding would be read as Latin-1
    monkeypatch.setattr(io, "text_encoding", lambda e, *a: text_encoding(e or "latin-1", *a))
    path = tmp_path / "latin.key"
    comment = "# clé de l'équipe\n".encode()
    path.write_bytes(comment + tsigkeys.generate("k", bytes(32)).text().encode())
    assert list(tsigkeys.load([path])) == ["k."]
    path.write_bytes(b"# cl\xe9\n" + tsigkeys.generate("k", bytes(32)).text().encode())
    with pytest.raises(KeyFileError, match=r"latin.key: not UTF-8 text$"):
        tsigkeys.load([path])


def test_the_signing_template_replaces_the_fields_it_is_given() -> None:
    alg = dns.tsig.HMAC_SHA256
    template = tsigkeys.SigningTemplate(
        dns.rdataclass.ANY, dns.rdatatype.TSIG, alg, 0, 300, b"", 0x1234, 0, b""
    )
    got = template.replace(time_signed=1_750_000_000, mac=b"m" * 32)
    assert (got.algorithm, got.time_signed, got.fudge, got.mac) == (
        alg, 1_750_000_000, 300, b"m" * 32
    )  # fmt: skip
    assert (got.original_id, got.error, got.other) == (0x1234, 0, b"")
    assert (got.rdclass, got.rdtype) == (dns.rdataclass.ANY, dns.rdatatype.TSIG)
    assert template.replace(other=b"ab", error=18).other == b"ab"
    assert template.time_signed == 0 and template.mac == b""  # unchanged
    with pytest.raises(AttributeError, match="a TSIG record has no colour, size"):
        template.replace(size=1, colour="blue")


def test_add_tsig_record_counts_past_255_additional_records() -> None:
    head = struct.pack("!HHHHHH", 0x4242, 0x8000, 0, 0, 0, 0x01FF)  # 511 records already
    got = tsigkeys.add_tsig_record(head, b"\x00", b"rd")
    assert struct.unpack("!H", got[10:12]) == (0x0200,)
    assert got[12:] == b"\x00" + struct.pack("!HHIH", 250, 255, 0, 2) + b"rd"


def test_wire_of_writes_names_and_rdata_whole() -> None:
    name = dns.name.from_text("Key.Example.")
    assert tsigkeys.wire_of(name) == b"\x03Key\x07Example\x00"
    template = tsigkeys.signing_template(dns.tsig.HMAC_SHA256, 300, 7)
    assert tsigkeys.wire_of(template) == template.to_wire()
    assert tsigkeys.wire_of(template).startswith(b"\x0bhmac-sha256\x00")
