"""TSIG key files in BIND's form: read, written, turned into a keyring."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import dns.name
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
