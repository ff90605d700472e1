"""The `dnsserver serve` command line: configuration errors and zones that refuse to load."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dnsserver.cli import build_config, build_parser
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
