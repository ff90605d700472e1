"""The `minternet` help texts say what the commands do and list what they accept."""

from __future__ import annotations

import pytest

from minternet import cli, topology


def help_of(capsys, monkeypatch, *argv: str) -> str:
    monkeypatch.setenv("COLUMNS", "1000")  # no line wrapping: argparse breaks words at hyphens
    with pytest.raises(SystemExit) as e:
        cli.main([*argv, "--help"])
    assert e.value.code == 0
    return capsys.readouterr().out


def option_help(text: str, option: str) -> str:
    """The help of one option: its line and the indented lines under it, joined."""
    lines = text.split("\n  -")  # options start at column 2; their help is indented further
    return " ".join(next(chunk for chunk in lines if chunk.startswith(option[1:])).split())


def test_up_only_lists_every_role_and_service(capsys, monkeypatch):
    text = help_of(capsys, monkeypatch, "up")
    only = option_help(text, "--only")
    for role in ("dns-root", "dns-tld", "dns-auth", "resolver", "tracker"):
        assert role in only
    for host in topology.DEFAULT.hosts:
        assert host.name in only


def test_standard_ports_names_only_the_listeners_the_topology_has(capsys, monkeypatch):
    # It said "53, 25, ..." when no mail server (port 25) existed yet.
    text = help_of(capsys, monkeypatch, "up")
    line = option_help(text, "--standard-ports")
    used = {kind for h in topology.DEFAULT.hosts for kind in h.listeners}
    assert "dns 53" in line and "needs root" in line
    for kind, port in topology.STANDARD_PORTS.items():
        assert (f"{kind} {port}" in line) == (kind in used), (kind, line)


def test_down_says_it_stops_a_foreground_topology_too(capsys, monkeypatch):
    text = help_of(capsys, monkeypatch)
    down = next(line for line in text.splitlines() if line.strip().startswith("down "))
    assert "detached" not in down.replace("detached or not", "")
    assert "stop every service" in down
