"""The mail server's TOML configuration: defaults, normalisation, every refusal names the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailserver import config
from mailserver.config import Auth, Limits, MailConfig
from mailserver.store import Quota
from minternet import topology
from minternet.config import ConfigError

MINIMAL = 'hostname = "mail.crepes.fr"\ndomains = ["crepes.fr"]\n'


def load(tmp_path: Path, text: str) -> MailConfig:
    path = tmp_path / "mail.toml"
    path.write_text(text)
    return config.load(path)


def test_defaults(tmp_path):
    cfg = load(tmp_path, MINIMAL)
    assert cfg.hostname == "mail.crepes.fr" and cfg.domains == ("crepes.fr",)
    assert cfg.address == "127.0.0.1"
    assert cfg.endpoints() == {
        "smtp": ("127.0.0.1", 10025),
        "submission": ("127.0.0.1", 10587),
        "submissions": ("127.0.0.1", 10465),
        "imap": ("127.0.0.1", 10143),
        "imaps": ("127.0.0.1", 10993),
        "pop3": ("127.0.0.1", 10110),
        "pop3s": ("127.0.0.1", 10995),
    }
    paths = cfg.paths()
    root = tmp_path / "mailstate"  # relative to the config file, not to the current folder
    assert paths == config.StatePaths(
        root=root,
        users=root / "users",
        mail=root / "mail",
        index=root / "index.sqlite3",
        queue=root / "queue",
        tls=root / "tls",
    )
    assert cfg.tls_cert == cfg.tls_key == ""
    assert cfg.limits == Limits() and cfg.auth == Auth()
    assert Limits().imap_idle_timeout == 1800.0 and Limits().login_timeout == 60.0
    assert Limits().pop3_idle_timeout == 600.0 and Limits().max_line == 8192


def test_the_ports_are_the_topologys():
    assert config.STANDARD_PORTS == {
        "smtp": 25,
        "submission": 587,
        "submissions": 465,
        "imap": 143,
        "imaps": 993,
        "pop3": 110,
        "pop3s": 995,
        "control": 8953,
    }
    scheme = topology.port_scheme(False)
    defaults = MailConfig(hostname="m.x", domains=("x",)).endpoints()
    assert {kind: port for kind, (_, port) in defaults.items()} == {
        kind: scheme[kind] for kind in topology.MAIL_LISTENERS if kind != "control"
    }
    assert {"submissions", "imaps", "pop3s"} == config.IMPLICIT_TLS


def test_a_full_file(tmp_path):
    cfg = load(
        tmp_path,
        'hostname = "Mail.Crepes.FR."\n'
        'domains = ["crepes.fr", "CREPES.fr", "crêpes.fr"]\n'
        'address = "127.0.0.40"\n'
        'state_dir = "/var/lib/mail"\n'
        'users_file = "etc/users"\n'
        'tls_cert = "c.pem"\ntls_key = "/k.pem"\n'
        '[listen]\nsmtp = 25\nimaps = "[::1]:993"\ncontrol = "127.0.0.40:8953"\n'
        "[limits]\nmax_message_size = 1000\nimap_idle_timeout = 3600\n"
        '[auth]\nplaintext = "never"\nfailure_delay = 0\n',
    )
    assert cfg.hostname == "mail.crepes.fr"
    assert cfg.domains == ("crepes.fr", "xn--crpes-isa.fr")  # normalised, duplicates dropped
    assert cfg.endpoints() == {
        "smtp": ("127.0.0.40", 25),
        "imaps": ("::1", 993),
        "control": ("127.0.0.40", 8953),
    }
    assert cfg.paths().root == Path("/var/lib/mail")
    assert cfg.paths().users == tmp_path / "etc" / "users"
    assert (cfg.tls_cert, cfg.tls_key) == (str(tmp_path / "c.pem"), "/k.pem")
    assert cfg.limits.max_message_size == 1000 and cfg.limits.imap_idle_timeout == 3600.0
    assert cfg.auth == Auth(plaintext="never", failure_delay=0.0)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('domains = ["crepes.fr"]\n', "hostname is required"),
        ('hostname = "m.crepes.fr"\n', "domains is required"),
        ('hostname = "m.crepes.fr"\ndomains = []\n', "domains is required"),
        ('hostname = "m_x"\ndomains = ["crepes.fr"]\n', "'m_x' is not a domain name"),
        ('hostname = "m.fr"\ndomains = ["a..b"]\n', "'a..b' is not a domain name"),
        (MINIMAL + 'address = "localhost"\n', "address 'localhost' is not an IP address"),
        (MINIMAL + 'tls_cert = "c.pem"\n', "tls_cert and tls_key go together"),
        (MINIMAL + 'tls_key = "k.pem"\n', "tls_cert and tls_key go together"),
        (MINIMAL + "hostnames = 1\n", "unknown key 'hostnames'"),
        (MINIMAL + "[listen]\nimap4 = 143\n", "listen: unknown listener 'imap4'"),
        (MINIMAL + "[listen]\nimap = 65536\n", "listen: imap: port 65536 out of range"),
        (MINIMAL + "[listen]\nimap = -1\n", "listen: imap: port -1 out of range"),
        (MINIMAL + '[listen]\nimap = "host:143"\n', "listen: imap: 'host' is not an IP address"),
        (MINIMAL + '[listen]\nimap = "127.0.0.1"\n', "listen: imap: '127.0.0.1' has no port"),
        (MINIMAL + "[listen]\nimap = true\n", "expected an integer"),
        (MINIMAL + "[limits]\nmax_line = 0\n", "max_line must be at least 1"),
        (MINIMAL + "[limits]\nmax_message_size = 0\n", "max_message_size must be at least 1"),
        (MINIMAL + "[limits]\nmax_connections = 0\n", "max_connections must be at least 1"),
        (MINIMAL + "[limits]\nmax_connections_per_user = 0\n", "max_connections_per_user must"),
        (MINIMAL + "[limits]\nmax_literal = 0\n", "max_literal must be at least 1"),
        (MINIMAL + "[limits]\nmax_pop3_line = 254\n", "max_pop3_line must be at least 255"),
        (MINIMAL + "[limits]\nlogin_timeout = 0\n", "login_timeout must be a positive number"),
        (MINIMAL + "[limits]\nimap_idle_timeout = nan\n", "imap_idle_timeout must be a positive"),
        (MINIMAL + "[limits]\npop3_idle_timeout = -1\n", "pop3_idle_timeout must be a positive"),
        (MINIMAL + "[limits]\nsmtp_idle_timeout = inf\n", "smtp_idle_timeout must be a positive"),
        (MINIMAL + "[limits]\nhandshake_timeout = 0\n", "handshake_timeout must be a positive"),
        (MINIMAL + "[limits]\nmax_lines = 1\n", "unknown key 'max_lines'"),
        (
            MINIMAL + '[auth]\nplaintext = "yes"\n',
            "plaintext must be one of loopback, always, never",
        ),
        (MINIMAL + "[auth]\nfailure_delay = -1\n", "failure_delay must be a number of seconds"),
        (MINIMAL + "[auth]\nfailure_delay = inf\n", "failure_delay must be a number of seconds"),
        (MINIMAL + "[auth]\nfailure_rate = 0\n", "failure_rate must be a positive number"),
        (MINIMAL + "[auth]\nfailure_rate = nan\n", "failure_rate must be a positive number"),
        (MINIMAL + "[auth]\nfailure_burst = 0.5\n", "failure_burst must be at least 1"),
        (MINIMAL + "[auth]\nfailure_burst = inf\n", "failure_burst must be at least 1"),
        (MINIMAL + '[queue]\nresolver = "dns"\n', "resolver: "),
        (MINIMAL + "[queue]\nrelay_port = 0\n", "relay_port must be a port number"),
        (MINIMAL + "[queue]\nrelay_port = 65536\n", "relay_port must be a port number"),
        (MINIMAL + "[queue]\nconcurrency = 0\n", "concurrency must be at least 1"),
        (MINIMAL + "[queue]\nfirst_retry = 0\n", "first_retry must be a positive number"),
        (MINIMAL + "[queue]\nmax_backoff = nan\n", "max_backoff must be a positive number"),
        (MINIMAL + "[queue]\ngive_up = -1\n", "give_up must be a positive number"),
        (MINIMAL + "[queue]\ntimeout = inf\n", "timeout must be a positive number"),
        (MINIMAL + "[queue]\nwarn_after = -1\n", "warn_after must be a number of seconds"),
        (MINIMAL + "[queue]\nretries = 3\n", "unknown key 'retries'"),
    ],
)
def test_refusals_name_the_key(tmp_path, text, why):
    with pytest.raises(ConfigError, match=why.replace("(", r"\(").replace(".", r"\.")):
        load(tmp_path, text)


def test_limits_at_their_edge():
    assert Limits(max_line=1, max_pop3_line=255, max_literal=1).max_pop3_line == 255
    assert Limits(login_timeout=0.001).login_timeout == 0.001
    assert Auth(failure_delay=0).failure_delay == 0
    assert Auth(failure_burst=1, failure_rate=0.001).failure_burst == 1
    assert (Auth().failure_rate, Auth().failure_burst) == (0.1, 10.0)


@pytest.mark.parametrize(
    ("policy", "host", "allowed"),
    [
        ("loopback", "127.0.0.40", True),
        ("loopback", "::1", True),
        ("loopback", "192.0.2.1", False),
        ("loopback", "0.0.0.0", False),
        ("always", "192.0.2.1", True),
        ("never", "127.0.0.1", False),
    ],
)
def test_plaintext_policy(policy, host, allowed):
    assert Auth(plaintext=policy).allows_plaintext(host) is allowed


def test_serves():
    cfg = MailConfig(hostname="mail.crepes.fr", domains=("crêpes.fr", "crepes.fr"))
    assert cfg.serves("CREPES.FR") and cfg.serves("crepes.fr.") and cfg.serves("Crêpes.fr")
    assert cfg.serves("xn--crpes-isa.fr")
    assert not cfg.serves("hamburger.edu") and not cfg.serves("bad..name")


def test_a_config_built_in_code_keeps_relative_paths():
    cfg = MailConfig(hostname="m.x", domains=("x",), users_file="u")
    assert cfg.paths().users == Path("u") and cfg.paths().root == Path("mailstate")


def test_the_queue_section(tmp_path):
    assert load(tmp_path, MINIMAL).queue.resolver_address() is None  # no mail elsewhere
    queue = '[queue]\nresolver = "127.0.0.2:10053"\nrelay_port = 10025\nca_file = "ca.pem"\n'
    cfg = load(tmp_path, MINIMAL + queue)
    assert cfg.queue.resolver_address() == ("127.0.0.2", 10053)
    assert cfg.queue.relay_port == 10025 and cfg.queue.warn_after == 4 * 3600
    assert cfg.queue.ca_file == str(tmp_path / "ca.pem")  # relative to the file's folder
    assert cfg.serves_address("alice@Crepes.FR") and not cfg.serves_address("b@hamburger.edu")


def test_quotas_default_to_none_and_a_user_may_have_their_own(tmp_path):
    assert load(tmp_path, MINIMAL).quota.of("bob@hamburger.edu") == Quota(0, 0)
    cfg = load(
        tmp_path,
        MINIMAL + '[quota]\nstorage = 1000\nmessages = 9\n[quota.users]\n"Bob@Hamburger.EDU" = '
        "{ storage = 5 }\n",
    )
    assert cfg.quota.of("alice@crepes.fr") == Quota(1000, 9)
    assert cfg.quota.of("bob@hamburger.edu") == Quota(5, 0)  # their own, whole
    assert cfg.quota.of("BOB@hamburger.edu") == Quota(5, 0)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("[quota]\nstorage = -1\n", "storage and messages are counts"),
        ("[quota]\nbytes = 1\n", "unknown key 'bytes'"),
        ('[quota.users]\n"nobody" = { storage = 1 }\n', "quota.users: 'nobody' is not an address"),
        ('[quota.users]\n"a@b.c" = { storage = -5 }\n', "0 for none"),
        ('[quota.users]\n"a@b.c" = { octets = 5 }\n', "unknown key 'octets'"),
    ],
)
def test_quotas_that_cannot_work_are_refused(tmp_path, text, why):
    with pytest.raises(ConfigError, match=why):
        load(tmp_path, MINIMAL + text)
