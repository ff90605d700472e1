"""`mailserver user ...` and `mailserver --version`: what a person sees, and the exit status."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from mailserver import cli
from mailserver.users import UserDb
from minternet import __version__


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    path = tmp_path / "mail.toml"
    path.write_text('hostname = "mail.crepes.fr"\ndomains = ["crepes.fr", "crêpes.fr"]\n')
    return path


def run(capsys, *argv: str, stdin: str = "", typed: list[str] | None = None):
    answers = iter(typed or [])
    prompts: list[str] = []

    def prompt(text: str) -> str:
        prompts.append(text)
        return next(answers)

    code = cli.main(list(argv), stdin=Tty() if typed else io.StringIO(stdin), prompt=prompt)
    out = capsys.readouterr()
    return code, out.out, out.err, prompts


def users_of(conf: Path) -> UserDb:
    return UserDb(conf.parent / "mailstate" / "users")


def test_add_with_the_password_on_stdin(capsys, conf):
    code, out, err, _ = run(
        capsys,
        "user",
        "add",
        "Alice@CREPES.fr",
        "--config",
        str(conf),
        stdin="s3cret word\r\nmore\n",
    )
    assert (code, out, err) == (
        0,
        "added Alice@crepes.fr\n",
        "",
    )
    assert users_of(conf).verify("Alice@crepes.fr", b"s3cret word") == "Alice@crepes.fr"


def test_add_at_a_terminal_asks_twice(capsys, conf):
    code, out, _, prompts = run(
        capsys, "user", "add", "bob@crepes.fr", "--config", str(conf), typed=["pw", "pw"]
    )
    assert code == 0 and out == "added bob@crepes.fr\n"
    assert prompts == ["New password for bob@crepes.fr: ", "Retype it: "]
    assert users_of(conf).verify("bob@crepes.fr", b"pw")


def test_passwords_that_differ_or_are_empty_change_nothing(capsys, conf):
    code, _, err, _ = run(
        capsys, "user", "add", "bob@crepes.fr", "--config", str(conf), typed=["a", "b"]
    )
    assert (code, err) == (1, "mailserver user add: the passwords differ; nothing changed\n")
    code, _, err, _ = run(capsys, "user", "add", "bob@crepes.fr", "--config", str(conf), stdin="\n")
    assert (code, err) == (1, "mailserver user add: the password is empty; nothing changed\n")
    assert users_of(conf).addresses() == []


def test_add_refuses_an_existing_user_and_a_domain_not_served(capsys, conf):
    assert run(capsys, "user", "add", "alice@crepes.fr", "--config", str(conf), stdin="a\n")[0] == 0
    code, _, err, _ = run(
        capsys, "user", "add", "alice@Crepes.FR", "--config", str(conf), stdin="b\n"
    )
    assert (code, err) == (1, "mailserver user add: alice@crepes.fr already exists\n")
    code, _, err, _ = run(
        capsys, "user", "add", "eve@example.com", "--config", str(conf), stdin="b\n"
    )
    assert code == 1
    assert err == (
        "mailserver user add: mail.crepes.fr does not serve example.com "
        "(it serves crepes.fr, xn--crpes-isa.fr)\n"
    )
    # an internationalised domain the server serves, given in Unicode
    assert run(capsys, "user", "add", "élise@CRÊPES.fr", "--config", str(conf), stdin="c\n")[
        :2
    ] == (
        0,
        "added élise@xn--crpes-isa.fr\n",
    )


def test_a_malformed_address_is_a_usage_error(capsys, conf):
    code, _, err, _ = run(capsys, "user", "add", "alice", "--config", str(conf), stdin="a\n")
    assert code == 2
    assert (
        err
        == "mailserver user add: 'alice' is not an address: it needs a local part, @ and a domain\n"
    )
    assert run(capsys, "user", "del", "a b@crepes.fr", "--config", str(conf))[0] == 2


def test_passwd_del_and_list(capsys, conf):
    for address in ("zoe@crepes.fr", "alice@crepes.fr", "bob@xn--crpes-isa.fr"):
        assert run(capsys, "user", "add", address, "--config", str(conf), stdin="old\n")[0] == 0
    code, out, _, _ = run(
        capsys, "user", "passwd", "alice@crepes.fr", "--config", str(conf), stdin="new\n"
    )
    assert (code, out) == (0, "changed the password of alice@crepes.fr\n")
    assert users_of(conf).verify("alice@crepes.fr", b"new")
    code, _, err, _ = run(
        capsys, "user", "passwd", "carol@crepes.fr", "--config", str(conf), stdin="x\n"
    )
    assert (code, err) == (1, "mailserver user passwd: no user carol@crepes.fr\n")
    assert run(capsys, "user", "list", "--config", str(conf))[:2] == (
        0,
        "alice@crepes.fr\nzoe@crepes.fr\nbob@xn--crpes-isa.fr\n",
    )
    assert (
        run(capsys, "user", "list", "CRÊPES.fr", "--config", str(conf))[1]
        == "bob@xn--crpes-isa.fr\n"
    )
    code, out, _, _ = run(capsys, "user", "del", "zoe@crepes.fr", "--config", str(conf))
    mail = conf.parent / "mailstate" / "mail"
    assert (code, out) == (0, f"deleted zoe@crepes.fr (their mail stays under {mail})\n")
    code, _, err, _ = run(capsys, "user", "del", "zoe@crepes.fr", "--config", str(conf))
    assert (code, err) == (1, "mailserver user del: no user zoe@crepes.fr\n")
    assert run(capsys, "user", "list", "crepes.fr", "--config", str(conf))[1] == "alice@crepes.fr\n"


def test_a_bad_configuration_is_named(capsys, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('hostname = "h.example"\ndomains = ["example.com"]\nlisten_on = 1\n')
    code, _, err, _ = run(capsys, "user", "list", "--config", str(bad))
    assert code == 1
    assert err.startswith(
        f"mailserver user list: bad configuration: {bad}: unknown key 'listen_on'"
    )
    code, _, err, _ = run(capsys, "user", "list", "--config", str(tmp_path / "none.toml"))
    assert code == 1 and "cannot read" in err


def test_a_broken_users_file_is_reported(capsys, conf):
    state = conf.parent / "mailstate"
    state.mkdir()
    (state / "users").write_text("nonsense\n")
    code, _, err, _ = run(capsys, "user", "list", "--config", str(conf))
    assert (code, err) == (1, f"mailserver user list: {state / 'users'}:1: expected ADDRESS:HASH\n")


def test_interrupting_the_prompt_changes_nothing(capsys, conf):
    def interrupted(text: str) -> str:
        raise KeyboardInterrupt

    code = cli.main(
        ["user", "add", "a@crepes.fr", "--config", str(conf)], stdin=Tty(), prompt=interrupted
    )
    assert code == 1
    assert capsys.readouterr().err == "\nmailserver user add: interrupted; nothing changed\n"


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["user"],
        ["user", "add", "a@crepes.fr"],
        ["user", "list", "bad_domain!", "--config", "x"],
    ],
)
def test_usage_errors_exit_2(capsys, argv):
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 2


def test_version_and_the_console_entry_point(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out == f"mailserver {__version__}\n"
    out = subprocess.run(
        [sys.executable, "-m", "mailserver", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout == f"mailserver {__version__}\n"


def test_help_lists_the_user_command(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = capsys.readouterr().out
    assert "user" in text and "add, change, delete or list the users" in text


def test_queue_finds_the_server_from_its_config(tmp_path, capsys):
    with_control = tmp_path / "a.toml"
    with_control.write_text(
        'hostname = "mail.x.test"\ndomains = ["x.test"]\n[listen]\ncontrol = "127.0.0.1:1"\n'
    )
    # the config's control endpoint is asked (and nothing listens there)
    assert cli.main(["queue", "--config", str(with_control), "list"]) == 1
    assert "Connection refused" in capsys.readouterr().err
    without = tmp_path / "b.toml"
    without.write_text('hostname = "mail.x.test"\ndomains = ["x.test"]\n')
    assert cli.main(["queue", "--config", str(without), "list"]) == 1
    err = capsys.readouterr().err
    assert f"{without} has no [listen] control: give --control ADDR:PORT" in err
    assert cli.main(["queue", "list"]) == 1
    assert "give --config FILE (the server's) or --control ADDR:PORT" in capsys.readouterr().err
