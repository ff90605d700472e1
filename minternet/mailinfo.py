"""What `minternet up` and `minternet status --json` say about the mail hosts: their domains,
their demo users with passwords (so scripts, tests and people can log in), and copy-paste lines
for curl and a mail client."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from minternet import topology
from minternet.supervisor import Service

#: The mail listeners, in the order they are shown.
MAIL_PORTS = ("smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s")


def mail_fields(name: str, topo: topology.Topology = topology.DEFAULT) -> dict[str, Any] | None:
    """`domains` and `users` of the mail service `name` for `status --json`; None if it is not
    a mail host. The first user of each domain is its protagonist (alice@, bob@)."""
    try:
        host = topo.host(name)
    except KeyError:
        return None
    if host.role != "mail":
        return None
    return {
        "domains": [d.rstrip(".") for d in host.mail_domains],
        "users": [{"address": u.address, "password": u.password} for u in host.users],
    }


def mail_lines(services: Sequence[Service], ca: Path) -> list[str]:
    """The mail section `up` prints: each mail host's users, ports, and lines to try."""
    out: list[str] = []
    for s in services:
        fields = mail_fields(s.name)
        if fields is None:
            continue
        fqdn = s.fqdn.rstrip(".")
        ports = "  ".join(f"{k} {s.ports[k]}" for k in MAIL_PORTS if k in s.ports)
        users = ", ".join(f"{u['address']} / {u['password']}" for u in fields["users"])
        out.append(f"{fqdn} ({s.address}), mail for {', '.join(fields['domains'])}: {ports}")
        out.append(f"  users (address / password): {users}")
        user = fields["users"][0]
        login = f"{user['address']}:{user['password']}"
        at = s.address
        if "imaps" in s.ports:
            url = f"imaps://{at}:{s.ports['imaps']}/INBOX"
            out.append(f"  curl --cacert {ca} {url} -u {login}")
            out.append(f"  curl --cacert {ca} '{url}/;UID=1' -u {login}")
        if "imap" in s.ports:
            out.append(
                f"  curl --cacert {ca} --ssl-reqd imap://{at}:{s.ports['imap']}/INBOX -u {login}"
            )
        if "pop3s" in s.ports:
            out.append(f"  curl --cacert {ca} pop3s://{at}:{s.ports['pop3s']}/1 -u {login}")
        if "smtp" in s.ports:
            out.append(
                f"  printf 'Subject: hi\\r\\n\\r\\nhello\\r\\n' | curl smtp://{at}:{s.ports['smtp']}"
                f" --mail-from someone@example.com --mail-rcpt {user['address']} -T -"
            )
        if "imaps" in s.ports:
            out.append(
                f"  mail client: IMAP server {at} port {s.ports['imaps']} SSL/TLS, user "
                f"{user['address']}, password {user['password']}; trust {ca}"
            )
    return out
