"""The `dnsserver serve` and `checkzone` command lines: configuration errors, zones that refuse
to load, and what checkzone prints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dnsserver.cli import build_config, build_parser, main
from minternet.config import ConfigError


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dnsserver", *args], capture_output=True, text=True, timeout=60
    )


def test_bad_zone_refuses_to_start_naming_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zone"
    bad.write_text("$ORIGIN b.test.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nx A 999.1.1.1\n")
    p = run("serve", "--zone", str(bad), "--listen", "127.0.0.1:0")
    assert p.returncode == 1
    assert "refusing to start" in p.stderr and "bad.zone:5:" in p.stderr
    assert "Traceback" not in p.stderr


def test_unknown_config_key_is_named(tmp_path: Path) -> None:
    cfg = tmp_path / "dns.toml"
    cfg.write_text('zones = ["x.zone"]\nlisten = ["127.0.0.1:0"]\n[rrl]\nrat = 5\n')
    p = run("serve", "--config", str(cfg))
    assert p.returncode == 2 and "'rat'" in p.stderr


def test_config_file_and_flags_combine(tmp_path: Path) -> None:
    cfg = tmp_path / "dns.toml"
    cfg.write_text(
        'zones = ["a.zone"]\nlisten = ["127.0.0.10:10053"]\n'
        "[rrl]\nrate = 50.0\nslip = 3\n[limits]\ntcp_idle_timeout = 2.5\n"
    )
    args = build_parser().parse_args(
        ["serve", "--config", str(cfg), "--zone", "b.zone", "--rrl-rate", "75"]
    )
    c = build_config(args)
    assert c.zones == ("a.zone", "b.zone") and c.listen == ("127.0.0.10:10053",)
    assert c.rrl.rate == 75 and c.rrl.slip == 3 and c.rrl.enabled
    assert c.limits.tcp_idle_timeout == 2.5
    args = build_parser().parse_args(["serve", "--config", str(cfg), "--no-rrl"])
    assert not build_config(args).rrl.enabled


def test_missing_zone_or_listen_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no zone"):
        build_config(build_parser().parse_args(["serve", "--listen", "127.0.0.1:53"]))
    with pytest.raises(ConfigError, match="no listen"):
        build_config(build_parser().parse_args(["serve", "--zone", "a.zone"]))


@pytest.mark.parametrize("command", ["serve", "resolve"])
def test_a_bad_log_level_is_a_usage_error_not_a_traceback(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args([command, "--log-level", "bogus"])
    assert e.value.code == 2
    assert "invalid log level 'bogus'" in capsys.readouterr().err


def test_rrl_ipv4_prefix_flag(tmp_path: Path) -> None:
    argv = ["serve", "--zone", "a.zone", "--listen", "127.0.0.1:0", "--rrl-ipv4-prefix", "32"]
    assert build_config(build_parser().parse_args(argv)).rrl.ipv4_prefix == 32
    zone = tmp_path / "t.zone"
    zone.write_text("$ORIGIN t.test.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 127.0.0.1\n")
    p = run("serve", "--zone", str(zone), "--listen", "127.0.0.1:0", "--rrl-ipv4-prefix", "33")
    assert p.returncode == 2 and "rrl prefix lengths must fit the address family" in p.stderr
    assert "Traceback" not in p.stderr


def test_rrl_exempt_flags_add_to_the_config_file_s_list(tmp_path: Path) -> None:
    conf = tmp_path / "auth.toml"
    conf.write_text('[rrl]\nexempt = ["10.0.0.0/8"]\n')
    argv = ["serve", "--config", str(conf), "--zone", "a.zone", "--listen", "127.0.0.1:0"]
    argv += ["--rrl-exempt", "127.0.0.2", "--rrl-exempt", "::1"]
    assert build_config(build_parser().parse_args(argv)).rrl.exempt == (
        "10.0.0.0/8",
        "127.0.0.2",
        "::1",
    )


def test_serve_refusing_a_zone_logs_every_error_on_its_own_line(tmp_path: Path) -> None:
    bad = tmp_path / "two.zone"
    bad.write_text("$ORIGIN t.test.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\n@ NS ns2\n")
    p = run("serve", "--zone", str(bad), "--listen", "127.0.0.1:0")
    assert p.returncode == 1 and "Traceback" not in p.stderr
    refused = [line for line in p.stderr.splitlines() if "refusing to start" in line]
    assert [line.split("refusing to start: ")[1] for line in refused] == [
        f"{bad}:4: name server ns1.t.test. (NS of t.test.) is in this zone but has no A or AAAA "
        "record: resolvers sent to it could not reach the zone",
        f"{bad}:5: name server ns2.t.test. (NS of t.test.) is in this zone but has no A or AAAA "
        "record: resolvers sent to it could not reach the zone",
    ]


ZONE = "$ORIGIN example.com.\n$TTL 3600\n@ SOA ns1 hostmaster 7 7200 3600 1209600 300\n@ NS ns1\n"


def checkzone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    monkeypatch.chdir(tmp_path)
    code = main(["checkzone", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_checkzone_prints_loaded_serial_and_ok_like_named_checkzone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "example.com.zone").write_text(ZONE + "ns1 A 192.0.2.1\nsub NS ns.sub\n")
    expected = (
        "example.com.zone:6: warning: delegation of sub.example.com. to ns.sub.example.com. has "
        "no glue: ns.sub.example.com. is inside sub.example.com., so this zone must give its A "
        "or AAAA record (glue), or no resolver can reach sub.example.com.\n"
        "zone example.com/IN: loaded serial 7, 4 records\nOK\n"
    )
    for args in (["example.com.zone"], ["example.com.zone", "example.com"]):
        assert checkzone(tmp_path, monkeypatch, capsys, *args) == (0, expected, "")
    # BIND's order, zone name first, is understood too.
    assert checkzone(tmp_path, monkeypatch, capsys, "example.com", "example.com.zone") == (
        0,
        expected,
        "",
    )


def test_checkzone_errors_exit_1_naming_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.zone").write_text(ZONE + "ns1 A 192.0.2.1\nwww A 192.0.2.256\n")
    assert checkzone(tmp_path, monkeypatch, capsys, "bad.zone") == (
        1,
        "bad.zone:6: error: A record '192.0.2.256' is not an IPv4 address (four numbers 0-255: "
        "192.0.2.1)\nzone example.com/IN: not loaded due to errors.\n",
        "",
    )
    assert checkzone(tmp_path, monkeypatch, capsys, "absent.zone", "example.com") == (
        1,
        "absent.zone: error: cannot read: No such file or directory\n"
        "zone example.com/IN: not loaded due to errors.\n",
        "",
    )


def test_checkzone_outside_the_origin_given_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "z.zone").write_text(ZONE + "ns1 A 192.0.2.1\n")
    code, out, _ = checkzone(tmp_path, monkeypatch, capsys, "z.zone", "example.net")
    assert code == 1
    assert out.splitlines()[0] == "z.zone:3: error: example.com. is outside the zone example.net."
    assert out.splitlines()[-1] == "zone example.net/IN: not loaded due to errors."


def test_checkzone_usage_errors_exit_2_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "z.zone").write_text(ZONE)
    assert checkzone(tmp_path, monkeypatch, capsys, "z.zone", "bad..name") == (
        2,
        "",
        "dnsserver checkzone: bad zone name 'bad..name': A DNS label is empty.\n",
    )
    with pytest.raises(SystemExit) as e:
        checkzone(tmp_path, monkeypatch, capsys)
    assert e.value.code == 2
