"""Interop: `dnsserver checkzone` against BIND's `named-checkzone` on good and bad zone files.

Both run on the same files; they must agree on the exit code (accept or reject), on the
warnings (as many, naming the same line or the same name server or mail host), and every
error BIND places at a `file:line` must be one of ours at that line. named-checkzone runs with
`-i local`: its default, `full`, also looks names outside the zone up through this machine's
resolver, which a checker of files should not depend on (and ours never does).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from dnsserver.cli import main

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(
        shutil.which("named-checkzone") is None,
        reason="named-checkzone missing: apt-get install bind9-utils",
    ),
]

HEAD = (
    "$ORIGIN example.com.\n$TTL 3600\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n"
    "@ NS ns1\nns1 A 192.0.2.1\n"
)
NO_TTL = "$ORIGIN example.com.\n@ 3600 SOA ns1 hostmaster 1 7200 3600 1209600 300\n"

# name -> (zone text, other files, BIND's exit code)
CASES: dict[str, tuple[str, dict[str, str], int]] = {
    "good": (HEAD + "www A 192.0.2.2\n  AAAA 2001:db8::2\n@ MX 10 www\n", {}, 0),
    # errors
    "ns_no_address": (HEAD + "@ NS ns2\n", {}, 1),
    "ns_no_address_but_txt": (HEAD + "@ NS ns2\nns2 TXT hello\n", {}, 1),
    "ns_alias": (HEAD + "@ NS ns2\nns2 CNAME ns1\n", {}, 1),
    "cname_and_other": (HEAD + "x CNAME ns1\nx A 192.0.2.5\n", {}, 1),
    "other_and_cname": (HEAD + "x TXT hello\nx CNAME ns1\n", {}, 1),
    "two_cnames": (HEAD + "x CNAME ns1\nx CNAME www\n", {}, 1),
    "two_soas": (HEAD + "@ SOA ns2 hostmaster 2 7200 3600 1209600 300\n", {}, 1),
    "soa_not_at_apex": (HEAD + "x SOA ns1 hostmaster 2 7200 3600 1209600 300\n", {}, 1),
    "no_soa": ("$ORIGIN example.com.\n$TTL 3600\n@ NS ns1\nns1 A 192.0.2.1\n", {}, 1),
    "no_ns": ("$ORIGIN example.com.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\nns1 A 192.0.2.1\n", {}, 1),
    "include_missing": (HEAD + "$INCLUDE nosuch.inc\n", {}, 1),
    "include_chain": (
        HEAD + "$INCLUDE mid.inc\n",
        {"mid.inc": "$INCLUDE deep.inc\n", "deep.inc": "ok A 192.0.2.7\nbad A 300.1.1.1\n"},
        1,
    ),
    "bad_a": (HEAD + "x A 192.0.2.256\n", {}, 1),
    "bad_aaaa": (HEAD + "x AAAA 2001:db8::zz\n", {}, 1),
    "two_bad_lines": (HEAD + "x A 1.2.3.999\ny A 1.2.3.4.5\n", {}, 1),
    # warnings
    "required_glue": (HEAD + "sub NS ns.sub\n", {}, 0),
    "sibling_glue": (HEAD + "a NS ns.b\nb NS ns.b\n", {}, 0),
    "delegation_no_address": (HEAD + "sub NS ns2\n", {}, 0),
    "delegation_alias": (HEAD + "sub NS ns2\nns2 CNAME ns1\n", {}, 0),
    "mx_no_address": (HEAD + "@ MX 10 mail\n", {}, 0),
    "mx_alias": (HEAD + "@ MX 10 mail\nmail CNAME ns1\n", {}, 0),
    "srv_no_address": (HEAD + "_sip._udp SRV 0 5 5060 sip\n", {}, 0),
    "no_ttl": (NO_TTL + "@ NS ns1\nns1 A 192.0.2.1\n", {}, 0),
    "no_ttl_on_the_soa": (
        NO_TTL.replace("@ 3600 SOA", "@ SOA") + "@ NS ns1\nns1 A 1.2.3.4\n",
        {},
        0,
    ),
    # accepted without a word
    "glue": (HEAD + "sub NS ns.sub\nns.sub A 192.0.2.9\n", {}, 0),
    "ipv6_glue": (HEAD + "sub NS ns.sub\nns.sub AAAA 2001:db8::9\n", {}, 0),
    "apex_ns_in_child_with_glue": (
        HEAD + "@ NS ns.sub\nsub NS ns.sub\nns.sub A 192.0.2.9\n",
        {},
        0,
    ),
    "ns_outside": (HEAD + "@ NS ns.example.net.\nsub NS ns.example.org.\n", {}, 0),
    "ns_by_wildcard": (HEAD + "@ NS ns9\n* A 192.0.2.9\n", {}, 0),
    "null_mx": (HEAD + "@ MX 0 .\n", {}, 0),
    "every_ttl_explicit": (NO_TTL + "@ 60 NS ns1\nns1 60 A 192.0.2.1\n", {}, 0),
}


def named_checkzone(directory: Path, origin: str, filename: str) -> tuple[int, list[str]]:
    p = subprocess.run(
        ["named-checkzone", "-i", "local", origin, filename],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return p.returncode, p.stdout.splitlines()


def ours(
    directory: Path, origin: str, filename: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, list[str]]:
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(directory)
        code = main(["checkzone", filename, origin])
    out, err = capsys.readouterr()
    assert err == ""
    return code, out.splitlines()


def agree(directory: Path, origin: str, filename: str, capsys: pytest.CaptureFixture[str]) -> int:
    """Run both on one file; assert they agree; return the exit code."""
    bind_code, bind = named_checkzone(directory, origin, filename)
    code, mine = ours(directory, origin, filename, capsys)
    both = "\n".join(["named-checkzone:", *bind, "ours:", *mine])
    assert code == bind_code, both
    if code == 0:
        assert bind[-1] == mine[-1] == "OK", both
        serial = bind[-2].rsplit(" ", 1)[1]
        assert mine[-2].startswith(f"zone {origin.rstrip('.') or '.'}/IN: loaded serial {serial}, ")
        theirs, warnings = bind[:-2], mine[:-2]
        assert all(": warning: " in w for w in warnings), both
        assert len(warnings) == len(theirs), both
        for line in theirs:  # each of BIND's warnings is one of ours: same line, or same name
            at = re.match(r"(\S+:\d+): ", line)
            names = re.findall(r"'([^']+)'", line)
            key = f"{at.group(1)}: " if at else f" {names[-1]}."
            matches = [w for w in warnings if (w.startswith(key) if at else key in w)]
            assert matches, f"{line!r} has no match in ours\n{both}"
            warnings.remove(matches[0])
    else:
        assert mine[-1] == f"zone {origin.rstrip('.') or '.'}/IN: not loaded due to errors.", both
        for line in bind:
            at = re.search(r"(\S+\.(?:zone|inc)):(\d+): ", line)
            if at and "warning" not in line:
                assert any(m.startswith(f"{at[1]}:{at[2]}: error: ") for m in mine), both
    return code


@pytest.mark.parametrize("case", sorted(CASES))
def test_agrees_with_named_checkzone(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, files, expected = CASES[case]
    for name, content in files.items():
        (tmp_path / name).write_text(content)
    (tmp_path / f"{case}.zone").write_text(text)
    assert agree(tmp_path, "example.com", f"{case}.zone", capsys) == expected


def test_the_topology_zones_pass_both(zone_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = sorted(zone_dir.glob("*.zone"))
    assert len(paths) >= 10
    for path in paths:
        origin = re.search(r"^\$ORIGIN (\S+)", path.read_text(), re.M)
        assert origin is not None
        assert agree(zone_dir, origin[1], path.name, capsys) == 0
