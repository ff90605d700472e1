"""The users file: addresses normalised, scrypt hashes, atomic writes, reloads a running server
sees, and a password check that costs the same for users who do not exist."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import idna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailserver import users
from mailserver.users import PasswordHash, ScryptParams, UserDb, UserError, normalise_domain

FAST = ScryptParams(ln=4, r=1, p=1)


def counter_bytes() -> object:
    """Salts 00.., 01.., ...: deterministic files."""
    n = iter(range(256))
    return lambda size: bytes([next(n)]) * size


def db(tmp_path: Path, **kw: object) -> UserDb:
    return UserDb(tmp_path / "users", params=FAST, random_bytes=counter_bytes(), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given", "wanted"),
    [
        ("alice@crepes.fr", "alice@crepes.fr"),
        ("Alice@CREPES.FR", "Alice@crepes.fr"),  # the local part is kept as it is
        ("alice@crepes.fr.", "alice@crepes.fr"),
        ("élise@crêpes.fr", "élise@xn--crpes-isa.fr"),
        ("hans@Straße.de", "hans@xn--strae-oqa.de"),  # IDNA 2008: not strasse.de (IDNA 2003)
        ("a.b+tag@x-y.example", "a.b+tag@x-y.example"),
        ("l" * 64 + "@a.b", "l" * 64 + "@a.b"),
        ("a@" + ".".join(["x" * 63] * 3) + "." + "y" * 61, None),  # 253 octets: the most
    ],
)
def test_normalise(given, wanted):
    assert users.normalise(given) == (wanted or given)


def full(message: str) -> str:
    """A pattern that matches exactly `message`."""
    return "^" + re.escape(message) + "$"


@pytest.mark.parametrize(
    ("given", "kind"),
    [
        ("alice", "address"),
        ("@crepes.fr", "address"),
        ("alice@", "domain"),
        ("al ice@crepes.fr", "special"),
        ("al:ice@crepes.fr", "special"),
        ('"al"@crepes.fr', "special"),
        ("a\x00@crepes.fr", "special"),
        ("a\x7f@crepes.fr", "special"),
        ("a@b@crepes.fr", "special"),
        ("l" * 65 + "@a.b", "long"),
        ("é" * 33 + "@a.b", "long"),
        ("a@cre_pes.fr", "domain"),
        ("a@crepes..fr", "domain"),
        ("a@-crepes.fr", "domain"),
        ("a@crepes-.fr", "domain"),
        ("a@" + "x" * 64 + ".fr", "domain"),
        ("a@" + ".".join(["x" * 63] * 3) + "." + "y" * 62, "domain"),
    ],
)
def test_normalise_refuses(given, kind):
    message = {
        "address": f"{given!r} is not an address: it needs a local part, @ and a domain",
        "special": f"{given!r}: the local part has a space, control or special character",
        "long": f"{given!r}: the local part is longer than 64 octets",
        "domain": f"{given.rpartition('@')[2]!r} is not a domain name",
    }[kind]
    with pytest.raises(UserError, match=full(message)):
        users.normalise(given)


def test_scrypt_matches_the_rfc_7914_test_vector():
    # RFC 7914 §12: P="password", S="NaCl", N=1024, r=8, p=16 (the first 32 octets of 64)
    key = bytes.fromhex("fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162")
    vector = PasswordHash(ScryptParams(10, 8, 16), b"NaCl", key, "")
    assert vector.matches(b"password")
    assert not vector.matches(b"Password")


def test_hash_text_is_self_describing_and_verifies():
    text = users.hash_password(b"secret", b"\x01" * 16, FAST)
    assert text == (
        "$scrypt$ln=4,r=1,p=1$AQEBAQEBAQEBAQEBAQEBAQ$"
        + text.rsplit("$", 1)[1]  # the key itself: checked by matches() below
    )
    parsed = PasswordHash.from_text(text)
    assert parsed.params == FAST and parsed.salt == b"\x01" * 16 and len(parsed.key) == 32
    assert parsed.text == text
    assert parsed.matches(b"secret") and not parsed.matches(b"secreT")
    # the parameters travel with the hash: a dearer one still verifies
    dear = PasswordHash.from_text(users.hash_password(b"x", b"\x02" * 16, ScryptParams(5, 2, 2)))
    assert dear.params == ScryptParams(5, 2, 2) and dear.matches(b"x")


def test_a_salt_whose_base64_ends_in_x_keeps_its_last_letter():
    # the text has no "=" padding, and only the padding is stripped: a 9-octet salt ends in
    # X (0x17), a letter of the alphabet like any other
    salt = bytes(8) + b"\x17"
    text = users.hash_password(b"pw", salt, FAST)
    assert text.startswith("$scrypt$ln=4,r=1,p=1$AAAAAAAAAAAX$")
    parsed = PasswordHash.from_text(text)
    assert parsed.salt == salt and parsed.matches(b"pw")


def test_default_cost():
    assert ScryptParams() == ScryptParams(15, 8, 1)
    assert ScryptParams().to_text() == "ln=15,r=8,p=1"
    assert ScryptParams().memory == 128 * 8 * (32768 + 1)


@pytest.mark.parametrize(
    ("ln", "r", "p"), [(0, 8, 1), (21, 1, 1), (10, 0, 1), (10, 33, 1), (10, 8, 0), (10, 8, 17)]
)
def test_scrypt_parameters_are_bounded(ln, r, p):
    with pytest.raises(
        UserError, match=full(f"scrypt parameters out of range: ln={ln} r={r} p={p}")
    ):
        ScryptParams(ln, r, p)
    with pytest.raises(UserError, match=full("scrypt parameters need more than 256 MiB")):
        ScryptParams(20, 2, 1)


def test_the_largest_parameters_allowed():
    assert ScryptParams(20, 1, 16).memory <= users.MAX_MEMORY
    assert ScryptParams(1, 32, 16).r == 32


NOT_SCRYPT = "not a $scrypt$ hash"
LENGTH = "salt or hash of a wrong length"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("{PLAIN}secret", NOT_SCRYPT),
        ("$scrypt$ln=4,r=1,p=1$AAAAAAAAAAA$", NOT_SCRYPT),
        ("$scrypt$ln=4,r=1,p=1$!AAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", NOT_SCRYPT),
        ("$scrypt$ln=4,r=1,p=1$AAAAA$AAAAAAAAAAAAAAAAAAAAAA", "bad base64 in the hash"),
        ("$scrypt$ln=4,r=1,p=1$AAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", LENGTH),  # 7 octets
        ("$scrypt$ln=4,r=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAA", LENGTH),  # 15
        ("$scrypt$ln=4,r=1,p=1$" + "A" * 87 + "$AAAAAAAAAAAAAAAAAAAAAA", LENGTH),  # 65
        ("$scrypt$ln=4,r=1,p=1$AAAAAAAAAAA$" + "A" * 87, LENGTH),
        (
            "$scrypt$ln=30,r=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
            "scrypt parameters out of range: ln=30 r=1 p=1",
        ),
        ("$scrypt$ln=4,r=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA trailing", NOT_SCRYPT),
    ],
)
def test_malformed_hashes(text, why):
    with pytest.raises(UserError, match=full(why)):
        PasswordHash.from_text(text)


def test_shortest_and_longest_salt_and_key_accepted():
    short = PasswordHash.from_text("$scrypt$ln=4,r=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA")
    assert len(short.salt) == 8 and len(short.key) == 16
    long = PasswordHash.from_text("$scrypt$ln=4,r=1,p=1$" + "A" * 86 + "$" + "A" * 86)
    assert len(long.salt) == 64 and len(long.key) == 64


def test_the_file_is_written_sorted_by_domain_with_mode_0600(tmp_path):
    d = db(tmp_path)
    assert d.add("bob@hamburger.edu", b"b") == "bob@hamburger.edu"
    assert d.add("Zoe@CREPES.fr", b"z") == "Zoe@crepes.fr"
    assert d.add("alice@crepes.fr", b"a") == "alice@crepes.fr"
    text = (tmp_path / "users").read_text()
    lines = text.splitlines()
    assert lines[0] == "# users of this mail server: address:hash (written by `mailserver user`)"
    assert [line.split(":")[0] for line in lines[1:]] == [
        "Zoe@crepes.fr",
        "alice@crepes.fr",
        "bob@hamburger.edu",
    ]
    assert lines[1].startswith("Zoe@crepes.fr:$scrypt$ln=4,r=1,p=1$AQEBAQEBAQEBAQEBAQEBAQ$")
    assert lines[3].startswith("bob@hamburger.edu:$scrypt$ln=4,r=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$")
    assert stat.S_IMODE(os.stat(tmp_path / "users").st_mode) == 0o600
    assert d.addresses() == ["Zoe@crepes.fr", "alice@crepes.fr", "bob@hamburger.edu"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["users", "users.lock"]  # no tmp left


def test_verify(tmp_path):
    d = db(tmp_path)
    d.add("alice@crepes.fr", b"right")
    assert d.verify("alice@crepes.fr", b"right") == "alice@crepes.fr"
    assert d.verify("alice@CREPES.FR.", b"right") == "alice@crepes.fr"
    assert d.verify("alice@crepes.fr", b"wrong") is None
    assert d.verify("Alice@crepes.fr", b"right") is None  # local parts are case-sensitive
    assert d.verify("nobody@crepes.fr", b"right") is None
    assert d.verify("not an address", b"right") is None
    assert d.exists("alice@Crepes.fr") and not d.exists("bob@crepes.fr")
    assert not d.exists("no address")


def test_an_unknown_or_malformed_user_costs_one_hash_as_a_known_one(tmp_path, monkeypatch):
    d = db(tmp_path)
    d.add("alice@crepes.fr", b"right")
    calls: list[tuple[bytes, int]] = []
    real = users._scrypt

    def counting(password: bytes, salt: bytes, params: ScryptParams, size: int) -> bytes:
        calls.append((password, params.ln))
        return real(password, salt, params, size)

    monkeypatch.setattr(users, "_scrypt", counting)
    for address in ("alice@crepes.fr", "nobody@crepes.fr", "not an address"):
        calls.clear()
        d.verify(address, b"guess")
        assert calls == [(b"guess", FAST.ln)], address


def test_keys_are_compared_in_constant_time(tmp_path, monkeypatch):
    d = db(tmp_path)
    d.add("alice@crepes.fr", b"right")
    compared: list[int] = []

    def compare(a: bytes, b: bytes) -> bool:
        compared.append(len(a))
        return a == b

    monkeypatch.setattr(users.hmac, "compare_digest", compare)
    assert d.verify("alice@crepes.fr", b"right") == "alice@crepes.fr"
    assert compared == [32]


def test_add_passwd_del_and_their_refusals(tmp_path):
    d = db(tmp_path)
    d.add("alice@crepes.fr", b"one")
    with pytest.raises(UserError, match=r"alice@crepes\.fr already exists"):
        d.add("alice@CREPES.fr", b"two")
    with pytest.raises(UserError, match=full("the password is empty")):
        d.add("carol@crepes.fr", b"")
    with pytest.raises(UserError, match=full("the password is empty")):
        d.set_password("alice@crepes.fr", b"")
    with pytest.raises(UserError, match=r"no user bob@crepes\.fr"):
        d.set_password("bob@crepes.fr", b"x")
    with pytest.raises(UserError, match=r"no user bob@crepes\.fr"):
        d.delete("bob@crepes.fr")
    assert d.verify("alice@crepes.fr", b"one")
    assert d.set_password("alice@Crepes.fr", b"two") == "alice@crepes.fr"
    assert d.verify("alice@crepes.fr", b"two") and not d.verify("alice@crepes.fr", b"one")
    assert d.delete("alice@crepes.fr.") == "alice@crepes.fr"
    assert d.addresses() == [] and d.verify("alice@crepes.fr", b"two") is None
    assert (tmp_path / "users").read_text().count("\n") == 1  # the header line only


def test_a_refused_change_leaves_the_file_as_it_was(tmp_path):
    d = db(tmp_path)
    d.add("alice@crepes.fr", b"one")
    before = (tmp_path / "users").read_bytes()
    with pytest.raises(UserError, match=r"alice@crepes\.fr already exists"):
        d.add("alice@crepes.fr", b"two")
    assert (tmp_path / "users").read_bytes() == before


def test_a_running_server_sees_changes_without_restart(tmp_path):
    server, cli = db(tmp_path), db(tmp_path)
    assert server.verify("alice@crepes.fr", b"pw") is None  # no file yet: no users
    cli.add("alice@crepes.fr", b"pw")
    assert server.verify("alice@crepes.fr", b"pw") == "alice@crepes.fr"
    cli.set_password("alice@crepes.fr", b"new")
    assert server.verify("alice@crepes.fr", b"pw") is None
    assert server.verify("alice@crepes.fr", b"new") == "alice@crepes.fr"
    cli.delete("alice@crepes.fr")
    assert not server.exists("alice@crepes.fr")
    cli.add("bob@hamburger.edu", b"b")
    (tmp_path / "users").unlink()
    assert server.addresses() == []


def test_a_broken_file_keeps_the_previous_users_and_says_why(tmp_path):
    server = db(tmp_path)
    db(tmp_path).add("alice@crepes.fr", b"pw")
    assert server.exists("alice@crepes.fr") and server.problem is None
    path = tmp_path / "users"
    path.write_text(path.read_text() + "garbage line\n")
    assert server.exists("alice@crepes.fr")
    assert server.problem == (f"{path}:3: expected ADDRESS:HASH; the previous users are kept")
    path.write_text("bob@hamburger.edu:" + users.hash_password(b"b", b"\0" * 16, FAST) + "\n")
    assert server.addresses() == ["bob@hamburger.edu"] and server.problem is None


def test_a_broken_file_at_start_is_an_error_naming_the_line(tmp_path):
    path = tmp_path / "users"
    good = users.hash_password(b"x", b"\0" * 16, FAST)
    path.write_text(f"# comment\n\n  a@b.c:{good}  \na@B.C:{good}\n")
    with pytest.raises(UserError, match=r"users:4: a@b.c is listed twice$"):
        UserDb(path).load()
    path.write_text(f"a@b.c:{good}\nbad@@:{good}\n")
    with pytest.raises(UserError, match=r"users:2: 'bad@@': the local part has a space"):
        UserDb(path).load()
    path.write_text("a@b.c:{PLAIN}x\n")
    with pytest.raises(UserError, match=r"users:1: not a \$scrypt\$ hash"):
        UserDb(path).exists("a@b.c")
    path.write_bytes(b"\xff\n")
    with pytest.raises(UserError, match="cannot read"):
        UserDb(path).load()


def test_the_file_is_read_as_utf_8_whatever_the_locale(tmp_path):
    # it is written in UTF-8; a server started in the C locale without UTF-8 mode (Python's
    # locale encoding is then ASCII) still reads it
    d = db(tmp_path)
    d.add("élise@crêpes.fr", b"pw")
    package = Path(users.__file__).parent.parent
    env = {**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    env["PYTHONPATH"] = os.pathsep.join([str(package), env.get("PYTHONPATH", "")])
    script = (
        "import sys; from mailserver.users import UserDb; "
        "print(ascii(UserDb(sys.argv[1]).addresses()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(d.path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (out.returncode, out.stdout, out.stderr) == (0, "['\\xe9lise@xn--crpes-isa.fr']\n", "")


def test_parse_users_skips_comments_and_blank_lines():
    good = users.hash_password(b"x", b"\0" * 16, FAST)
    parsed = users.parse_users(f"# a\n\n   \nx@Y.z:{good}\n", "f")
    assert list(parsed) == ["x@y.z"] and parsed["x@y.z"].text == good


def test_render_users_golden():
    assert users.render_users({"b@y": "H2", "a@z": "H3", "a@y": "H1"}) == (
        "# users of this mail server: address:hash (written by `mailserver user`)\n"
        "a@y:H1\nb@y:H2\na@z:H3\n"
    )


def test_write_atomically_replaces_whole_or_not_at_all(tmp_path, monkeypatch):
    path = tmp_path / "f"
    users.write_atomically(path, b"one", mode=0o640)
    assert path.read_bytes() == b"one" and stat.S_IMODE(path.stat().st_mode) == 0o640

    def broken(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(users.os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        users.write_atomically(path, b"two")
    assert path.read_bytes() == b"one"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]  # the temporary file is gone


def test_write_atomically_raises_the_first_error_when_the_cleanup_fails(tmp_path, monkeypatch):
    def broken(src: object, dst: object) -> None:
        raise OSError("disk full")

    def unlink(path: object) -> None:
        raise PermissionError("cannot remove it either")

    monkeypatch.setattr(users.os, "replace", broken)
    monkeypatch.setattr(users.os, "unlink", unlink)
    with pytest.raises(OSError, match=r"^disk full$"):
        users.write_atomically(tmp_path / "f", b"x")


def test_write_atomically_syncs_the_file_and_its_folder(tmp_path, monkeypatch):
    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real(fd)

    monkeypatch.setattr(users.os, "fsync", fsync)
    users.write_atomically(tmp_path / "f", b"x")
    assert synced == ["file", "dir"]


def test_add_creates_the_folder(tmp_path):
    d = UserDb(tmp_path / "state" / "users", params=FAST)
    d.add("a@b.c", b"pw")
    assert d.verify("a@b.c", b"pw") == "a@b.c"
    assert len(d.path.read_text().splitlines()[1].split("$")[3]) == 22  # a 16-octet salt


def test_an_unchanged_file_is_not_read_again(tmp_path, monkeypatch):
    db(tmp_path).add("alice@crepes.fr", b"pw")
    server = db(tmp_path)
    assert server.problem is None
    reads: list[str] = []
    real = users.parse_users

    def counting(text: str, where: str) -> dict[str, PasswordHash]:
        reads.append(where)
        return real(text, where)

    monkeypatch.setattr(users, "parse_users", counting)
    for _ in range(3):
        assert server.exists("alice@crepes.fr")
    assert len(reads) == 1


def test_an_edit_in_place_of_the_same_size_is_seen(tmp_path):
    path = tmp_path / "users"
    one = users.hash_password(b"one", b"\0" * 16, FAST)
    two = users.hash_password(b"two", b"\0" * 16, FAST)
    path.write_text(f"a@b.c:{one}\n")
    server = db(tmp_path)
    assert server.verify("a@b.c", b"one")
    stamp = os.stat(path)
    with open(path, "r+") as f:  # same inode, same size: only the time differs
        f.write(f"a@b.c:{two}\n")
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1_000_000))
    assert server.verify("a@b.c", b"two") == "a@b.c"


def test_a_line_with_two_colons_is_refused():
    good = users.hash_password(b"x", b"\0" * 16, FAST)
    with pytest.raises(UserError, match=full("f:1: not a $scrypt$ hash")):
        users.parse_users(f"a@b.c:{good}:extra\n", "f")


def test_the_temporary_file_is_a_hidden_sibling(tmp_path, monkeypatch):
    moved: list[tuple[str, str]] = []
    real = os.replace

    def replace(src: str, dst: str) -> None:
        moved.append((str(src), str(dst)))
        real(src, dst)

    monkeypatch.setattr(users.os, "replace", replace)
    users.write_atomically(tmp_path / "users", b"x")
    [(src, dst)] = moved
    assert dst == str(tmp_path / "users")
    assert Path(src).parent == tmp_path
    assert re.fullmatch(r"\.users\.\w+\.tmp", Path(src).name), src


def test_ensure_adds_or_changes_only_when_needed(tmp_path):
    d = db(tmp_path)
    assert d.ensure("alice@CREPES.fr", b"one") is True
    assert d.verify("alice@crepes.fr", b"one") == "alice@crepes.fr"
    before = os.stat(tmp_path / "users")
    text = (tmp_path / "users").read_bytes()
    assert d.ensure("alice@crepes.fr", b"one") is False
    after = os.stat(tmp_path / "users")
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert (tmp_path / "users").read_bytes() == text
    assert d.ensure("alice@crepes.fr", b"two") is True
    assert d.verify("alice@crepes.fr", b"two") and not d.verify("alice@crepes.fr", b"one")
    assert d.addresses() == ["alice@crepes.fr"]
    with pytest.raises(UserError, match=full("the password is empty")):
        d.ensure("bob@crepes.fr", b"")


@settings(max_examples=2000, deadline=None)
@given(
    st.lists(
        st.text(alphabet="aZ09-xn", min_size=0, max_size=8)
        | st.sampled_from(
            ["xn--strae-oqa", "xn--zz", "ab--c", "0---0", "a-b--c", "A" * 63, "a" * 64, "-a", "a-"]
        ),
        min_size=1,
        max_size=4,
    ),
    st.booleans(),
)
def test_the_ascii_shortcut_gives_what_idna_gives(labels: list[str], root: bool) -> None:
    """normalise_domain answers plain ASCII names without idna: for any name, it returns what
    idna.encode (UTS 46) returns, or refuses what idna refuses."""
    name = ".".join(labels) + ("." if root else "")
    bare = name[:-1] if name.endswith(".") else name  # as normalise_domain drops one
    try:
        expected: str | None = idna.encode(bare, uts46=True).decode("ascii")
    except (UnicodeError, ValueError):
        expected = None
    try:
        got: str | None = normalise_domain(name)
    except UserError:
        got = None
    assert got == expected
