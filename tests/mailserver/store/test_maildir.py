"""Maildir files: names, CRLF normalisation, durable writes, listings."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailserver.store import maildir


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        (b"a\nb\n", b"a\r\nb\r\n"),
        (b"a\r\nb\r\n", b"a\r\nb\r\n"),
        (b"a\rb", b"a\r\nb"),
        (b"a\r\r\nb", b"a\r\n\r\nb"),
        (b"a\n\r\nb", b"a\r\n\r\nb"),
        (b"", b""),
        (b"no line end", b"no line end"),
    ],
)
def test_normalize_crlf(raw: bytes, normal: bytes) -> None:
    assert maildir.normalize_crlf(raw) == normal


@given(st.binary(max_size=200))
def test_normalize_crlf_leaves_only_crlf(data: bytes) -> None:
    out = maildir.normalize_crlf(data)
    assert out.replace(b"\r\n", b"") == data.replace(b"\r", b"").replace(b"\n", b"")
    assert b"\r" not in out.replace(b"\r\n", b"")
    assert maildir.normalize_crlf(out) == out


def test_new_base_format() -> None:
    base = maildir.new_base(1_700_000_000.25, "mx.test", 1234)
    m = re.fullmatch(r"1700000000\.M250000P(\d+)Q(\d+)\.mx\.test,S=1234", base)
    assert m is not None
    assert int(m.group(1)) == os.getpid()
    other = maildir.new_base(1_700_000_000.25, "mx.test", 1234)
    assert other != base


def test_safe_host() -> None:
    assert maildir.safe_host("a/b:c") == "a\\057b\\072c"
    assert maildir.safe_host("") == "localhost"
    assert maildir.safe_host("mx.test") == "mx.test"


@pytest.mark.parametrize(
    ("name", "base", "info", "size"),
    [
        ("1.M2P3Q4.h,S=10", "1.M2P3Q4.h,S=10", None, 10),
        ("1.M2P3Q4.h,S=10:2,RS", "1.M2P3Q4.h,S=10", "RS", 10),
        ("1.M2P3Q4.h,S=10:2,", "1.M2P3Q4.h,S=10", "", 10),
        ("1.M2P3Q4.h,S=10,W=12:2,S", "1.M2P3Q4.h,S=10,W=12", "S", 10),
        ("1.h:1,experimental", "1.h", None, None),
        ("plain", "plain", None, None),
        ("1.h,S=x", "1.h,S=x", None, None),
    ],
)
def test_file_name_parse(name: str, base: str, info: str | None, size: int | None) -> None:
    parsed = maildir.FileName.parse(name)
    assert (parsed.base, parsed.info, parsed.size()) == (base, info, size)


def test_file_name() -> None:
    assert maildir.file_name("b", None) == "b"
    assert maildir.file_name("b", "S") == "b:2,S"
    assert maildir.file_name("b", "") == "b:2,"


def test_ensure_and_write(tmp_path: Path) -> None:
    md = str(tmp_path / "Maildir")
    assert maildir.ensure(md)
    assert not maildir.ensure(md)
    assert sorted(os.listdir(md)) == ["cur", "new", "tmp"]
    sub = str(tmp_path / "Maildir" / ".Sent")
    assert maildir.ensure(sub, subfolder=True)
    assert sorted(os.listdir(sub)) == ["cur", "maildirfolder", "new", "tmp"]
    path = maildir.write_tmp(md, "base1", b"data", 1_600_000_000)
    assert path == os.path.join(md, "tmp", "base1")
    assert Path(path).read_bytes() == b"data"
    assert os.stat(path).st_mtime == 1_600_000_000
    with pytest.raises(FileExistsError):
        maildir.write_tmp(md, "base1", b"other", 0)
    assert Path(path).read_bytes() == b"data"


def test_listing_prefers_cur(tmp_path: Path) -> None:
    md = str(tmp_path)
    maildir.ensure(md)
    for rel in ("new/a", "cur/a:2,S", "cur/b:2,", "new/c", "cur/.hidden"):
        (tmp_path / rel).write_bytes(b"x")
    assert maildir.listing(md) == {"a": ("cur", "a:2,S"), "b": ("cur", "b:2,"), "c": ("new", "c")}
    assert maildir.listing(str(tmp_path / "missing")) == {}


def test_stale_tmp(tmp_path: Path) -> None:
    md = str(tmp_path)
    maildir.ensure(md)
    (tmp_path / "tmp" / "x").write_bytes(b"x")
    ctime = os.stat(tmp_path / "tmp" / "x").st_ctime
    assert maildir.stale_tmp(md, ctime + maildir.TMP_MAX_AGE) == []
    assert maildir.stale_tmp(md, ctime + maildir.TMP_MAX_AGE + 1) == [str(tmp_path / "tmp" / "x")]
    assert maildir.stale_tmp(str(tmp_path / "missing"), 0) == []
