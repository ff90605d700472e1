"""The mail hosts in `minternet up`: the config the launcher writes (read back by mailserver's
loader), the demo users it ensures, and what `status --json` and `up` say about them."""

from __future__ import annotations

from pathlib import Path

from mailserver import config as mailconfig
from mailserver.users import UserDb
from minternet import topology
from minternet.launch import LaunchContext, command_for
from minternet.mailinfo import mail_fields, mail_lines
from minternet.supervisor import Service

TOPO = topology.DEFAULT


def test_the_mail_command_runs_mailserver_serve_on_a_config_it_wrote(tmp_path: Path) -> None:
    ctx = LaunchContext(TOPO, tmp_path / "state", topology.port_scheme(False))
    host = TOPO.host("mail-hamburger")
    argv = command_for(host, ctx)
    assert argv[1:5] == ["-m", "mailserver", "serve", "--config"]
    assert argv[argv.index("--control") + 1] == "127.0.0.41:18953"
    cfg = mailconfig.load(argv[5])
    assert cfg.hostname == "mail.hamburger.edu"
    assert cfg.domains == ("hamburger.edu",)
    assert cfg.address == "127.0.0.41"
    assert Path(cfg.state_dir) == ctx.service_dir(host)
    assert (cfg.tls_cert, cfg.tls_key) == (
        str(ctx.tls_dir / "mail-hamburger.pem"),
        str(ctx.tls_dir / "mail-hamburger.key"),
    )
    assert cfg.endpoints() == {
        "smtp": ("127.0.0.41", 10025),
        "submission": ("127.0.0.41", 10587),
        "submissions": ("127.0.0.41", 10465),
        "imap": ("127.0.0.41", 10143),
        "imaps": ("127.0.0.41", 10993),
        "pop3": ("127.0.0.41", 10110),
        "pop3s": ("127.0.0.41", 10995),
        "control": ("127.0.0.41", 18953),  # also in the config: `mailserver queue --config`
    }
    # mail to other domains: MX from the local DNS server, the topology's SMTP port and CA
    assert cfg.queue.resolver_address() == ("127.0.0.2", 10053)
    assert cfg.queue.relay_port == 10025
    assert cfg.queue.ca_file == str(ctx.tls_dir / "ca.pem")
    users = UserDb(cfg.paths().users)
    assert users.addresses() == ["bob@hamburger.edu", "dave@hamburger.edu"]
    assert users.verify("bob@hamburger.edu", b"bob-in-hamburg") == "bob@hamburger.edu"
    assert users.verify("dave@hamburger.edu", b"dave-in-bremen") == "dave@hamburger.edu"


def test_a_changed_demo_password_is_reset_and_other_users_stay(tmp_path: Path) -> None:
    ctx = LaunchContext(TOPO, tmp_path / "state", topology.port_scheme(False))
    host = TOPO.host("mail-crepes")
    command_for(host, ctx)
    users = UserDb(ctx.service_dir(host) / "users")
    users.set_password("alice@crepes.fr", b"changed")
    users.add("eve@crepes.fr", b"eve")
    command_for(host, ctx)
    assert users.verify("alice@crepes.fr", b"alice-in-paris") == "alice@crepes.fr"
    assert users.verify("eve@crepes.fr", b"eve") == "eve@crepes.fr"


def test_status_fields_of_mail_hosts_only() -> None:
    assert mail_fields("mail-crepes") == {
        "domains": ["crepes.fr"],
        "users": [
            {"address": "alice@crepes.fr", "password": "alice-in-paris"},
            {"address": "carol@crepes.fr", "password": "carol-in-lyon"},
        ],
    }
    fields = mail_fields("mail-hamburger")
    assert fields is not None and fields["users"][0]["address"] == "bob@hamburger.edu"
    assert mail_fields("tracker") is None
    assert mail_fields("no-such-host") is None


def test_up_prints_users_ports_and_lines_to_paste() -> None:
    ports = {"smtp": 10025, "imap": 10143, "imaps": 10993, "pop3s": 10995, "control": 18953}
    mail = Service("mail-hamburger", "mail", "127.0.0.41", "mail.hamburger.edu.", [], ports,
                   1234, "log")  # fmt: skip
    tracker = Service("tracker", "tracker", "127.0.0.50", "t.", [], {"http": 1}, 99, "log")
    ca = "/s/tls/ca.pem"
    assert mail_lines([tracker, mail], Path(ca)) == [
        "mail.hamburger.edu (127.0.0.41), mail for hamburger.edu: smtp 10025  imap 10143  "
        "imaps 10993  pop3s 10995",
        "  users (address / password): bob@hamburger.edu / bob-in-hamburg, "
        "dave@hamburger.edu / dave-in-bremen",
        f"  curl --cacert {ca} imaps://127.0.0.41:10993/INBOX -u bob@hamburger.edu:bob-in-hamburg",
        f"  curl --cacert {ca} 'imaps://127.0.0.41:10993/INBOX/;UID=1' -u "
        "bob@hamburger.edu:bob-in-hamburg",
        f"  curl --cacert {ca} --ssl-reqd imap://127.0.0.41:10143/INBOX -u "
        "bob@hamburger.edu:bob-in-hamburg",
        f"  curl --cacert {ca} pop3s://127.0.0.41:10995/1 -u bob@hamburger.edu:bob-in-hamburg",
        "  printf 'Subject: hi\\r\\n\\r\\nhello\\r\\n' | curl smtp://127.0.0.41:10025 "
        "--mail-from someone@example.com --mail-rcpt bob@hamburger.edu -T -",
        "  mail client: IMAP server 127.0.0.41 port 10993 SSL/TLS, user bob@hamburger.edu, "
        f"password bob-in-hamburg; trust {ca}",
    ]
