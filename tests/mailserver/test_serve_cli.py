"""`mailserver serve` on the command line: what it needs, and how it says what is wrong."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest

from mailserver import cli
from mailserver.aio.server import MailDaemon


@pytest.fixture(autouse=True)
def _root_logger() -> Iterator[None]:
    """`serve` sets up logging for the process: put the test's back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def serve(*argv: str) -> tuple[int, mock.MagicMock]:
    with mock.patch("minternet.service.run", return_value=0) as run:
        return cli.main(["serve", *argv]), run


def test_serve_needs_a_config(capsys: pytest.CaptureFixture[str]) -> None:
    code, run = serve()
    assert code == 2 and not run.called
    assert capsys.readouterr().err.endswith(
        " mailserver ERROR --config FILE is required (the server's TOML configuration)\n"
    )


def test_a_bad_config_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "mail.toml"
    path.write_text('hostname = "mail.example.org"\ndomains = ["example.org"]\nbogus = 1\n')
    code, run = serve("--config", str(path))
    assert code == 2 and not run.called
    err = capsys.readouterr().err
    assert " mailserver ERROR " in err and "bogus" in err


def test_serve_runs_the_daemon_with_the_config_and_control(tmp_path: Path) -> None:
    path = tmp_path / "mail.toml"
    path.write_text('hostname = "mail.example.org"\ndomains = ["example.org"]\n')
    code, run = serve("--config", str(path), "--control", "127.0.0.1:31999", "--name", "m1",
                      "--ready-file", str(tmp_path / "ready"))  # fmt: skip
    assert code == 0
    (daemon,), kwargs = run.call_args
    assert isinstance(daemon, MailDaemon)
    assert daemon.name == "m1" and daemon.control_addr == ("127.0.0.1", 31999)
    assert daemon.config.hostname == "mail.example.org"
    assert daemon.config.state_dir == str(tmp_path / "mailstate")  # relative to the file
    assert kwargs == {"ready_file": str(tmp_path / "ready")}


def test_a_users_file_that_cannot_be_read_stops_the_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mail.toml"
    path.write_text(
        'hostname = "mail.example.org"\ndomains = ["example.org"]\nstate_dir = "s"\n'
        '[listen]\nsmtp = "127.0.0.1:31998"\n'
    )
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "users").write_text("not a users line\n")
    # the real service.run, without its process-wide settings (uvloop's policy, the gc's)
    with mock.patch("minternet.service.tune_gc"), mock.patch("minternet.service.install_uvloop"):
        assert cli.main(["serve", "--config", str(path)]) == 1
    err = capsys.readouterr().err
    assert " mailserver ERROR cannot start: " in err and "users" in err
    assert "Traceback" not in err
