"""The mail hosts of `minternet up`: both run, `status --json` gives their ports, domains and
users, `up` prints lines to paste, and Alice's mail reaches Bob's INBOX over SMTP, read back over
IMAPS and POP3S verified against the topology's CA."""

from __future__ import annotations

import imaplib
import json
import poplib
import re
import shutil
import smtplib
import ssl
import subprocess
import time

import pytest

from minternet import topology
from tests.readme import code_blocks

from .conftest import E2E_PORT_OFFSET, minternet

pytestmark = pytest.mark.e2e
MAIL_PORTS = {
    "smtp": 25, "submission": 587, "submissions": 465, "imap": 143, "imaps": 993,
    "pop3": 110, "pop3s": 995, "control": 8953,
}  # fmt: skip


def status(topology_up) -> dict:
    out = minternet("status", "--json", "--state-dir", topology_up.state_dir)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_both_mail_hosts_run_with_their_ports_domains_and_users(topology_up):
    services = {s["name"]: s for s in status(topology_up)["services"]}
    expected = {
        "mail-crepes": ("127.0.0.40", ["crepes.fr"], "alice@crepes.fr", "alice-in-paris"),
        "mail-hamburger": (
            "127.0.0.41", ["hamburger.edu"], "bob@hamburger.edu", "bob-in-hamburg",
        ),
    }  # fmt: skip
    for name, (address, domains, first, password) in expected.items():
        s = services[name]
        assert s["running"] and s["role"] == "mail" and s["address"] == address
        assert s["ports"] == {k: v + E2E_PORT_OFFSET for k, v in MAIL_PORTS.items()}
        assert s["domains"] == domains
        assert s["users"][0] == {"address": first, "password": password}
        assert len(s["users"]) == 2
        assert "error" not in s["stats"] and s["stats"]["logins_refused"] == 0
    imaps = 993 + E2E_PORT_OFFSET
    assert (
        f"curl --cacert {topology_up.state_dir}/tls/ca.pem imaps://127.0.0.41:{imaps}/INBOX "
        "-u bob@hamburger.edu:bob-in-hamburg"
    ) in topology_up.up_output


def test_alice_mails_bob_who_reads_it_over_imaps_and_pop3s(topology_up):
    ca = ssl.create_default_context(cafile=status(topology_up)["ca"])
    bob = topology.DEFAULT.host("mail-hamburger")
    subject = "e2e crepes for Bob"
    with smtplib.SMTP(bob.address, 25 + E2E_PORT_OFFSET, timeout=10) as s:
        s.starttls(context=ca)
        s.sendmail("alice@crepes.fr", ["bob@hamburger.edu"],
                   f"From: alice@crepes.fr\r\nSubject: {subject}\r\n\r\nBonjour.\r\n")  # fmt: skip
    imap = imaplib.IMAP4_SSL(bob.address, 993 + E2E_PORT_OFFSET, ssl_context=ca, timeout=10)
    try:
        assert imap.login("bob@hamburger.edu", "bob-in-hamburg")[0] == "OK"
        imap.select("INBOX", readonly=True)
        status_, found = imap.uid("SEARCH", "SUBJECT", f'"{subject}"')
        assert status_ == "OK" and found[0]
        uid = found[0].split()[-1]
        _, data = imap.uid("FETCH", uid, "(BODY.PEEK[])")
        body = data[0][1]
        assert b"by mail.hamburger.edu with ESMTPS" in body and b"TLSv1.3" in body
        assert body.endswith(b"Bonjour.\r\n")
    finally:
        imap.logout()
    pop = poplib.POP3_SSL(bob.address, 995 + E2E_PORT_OFFSET, context=ca, timeout=10)
    try:
        pop.user("bob@hamburger.edu")
        pop.pass_("bob-in-hamburg")
        count, _ = pop.stat()
        assert count >= 1
    finally:
        pop.quit()


def test_alice_submits_to_bob_through_the_queue_and_the_dns(topology_up):
    """The notes' scenario: Alice's client submits to mail.crepes.fr (STARTTLS, AUTH); the
    server asks the local DNS server for hamburger.edu's MX, hands the message over to
    mail.hamburger.edu, and Bob reads it over IMAP."""
    ca = ssl.create_default_context(cafile=status(topology_up)["ca"])
    alice = topology.DEFAULT.host("mail-crepes")
    bob = topology.DEFAULT.host("mail-hamburger")
    subject = "e2e relayed crepes for Bob"
    with smtplib.SMTP(alice.address, 587 + E2E_PORT_OFFSET, timeout=10) as s:
        s.starttls(context=ca)
        s.login("alice@crepes.fr", "alice-in-paris")
        s.sendmail("alice@crepes.fr", ["bob@hamburger.edu"],
                   f"From: alice@crepes.fr\r\nSubject: {subject}\r\n\r\n.dot line\r\n")  # fmt: skip
    imap = imaplib.IMAP4_SSL(bob.address, 993 + E2E_PORT_OFFSET, ssl_context=ca, timeout=10)
    try:
        assert imap.login("bob@hamburger.edu", "bob-in-hamburg")[0] == "OK"
        found = [b""]
        deadline = time.monotonic() + 20
        while not found[0] and time.monotonic() < deadline:
            imap.select("INBOX", readonly=True)
            _, found = imap.uid("SEARCH", "SUBJECT", f'"{subject}"')
            if not found[0]:
                time.sleep(0.2)
        assert found[0], "the relayed message never reached Bob"
        _, data = imap.uid("FETCH", found[0].split()[-1], "(BODY.PEEK[])")
        body = data[0][1]
        assert b"by mail.crepes.fr with ESMTPSA" in body  # Alice's submission
        assert b"by mail.hamburger.edu with ESMTPS" in body  # the relay, over STARTTLS
        assert b"Return-Path: <alice@crepes.fr>" in body
        assert body.endswith(b"\r\n\r\n.dot line\r\n")
    finally:
        imap.logout()


def _wait_for(address: str, password: str, server: topology.Host, key: str, value: str,
              ca: ssl.SSLContext) -> bytes:  # fmt: skip
    """The first message of `address`'s INBOX whose `key` (a SEARCH key) matches, waiting up
    to 20 s for the queue to bring it."""
    imap = imaplib.IMAP4_SSL(server.address, 993 + E2E_PORT_OFFSET, ssl_context=ca, timeout=10)
    try:
        assert imap.login(address, password)[0] == "OK"
        deadline = time.monotonic() + 20
        while True:
            imap.select("INBOX", readonly=True)
            _, found = imap.uid("SEARCH", key, f'"{value}"')
            if found[0] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert found[0], f"nothing with {key} {value!r} reached {address}"
        _, data = imap.uid("FETCH", found[0].split()[-1], "(BODY.PEEK[])")
        return data[0][1]
    finally:
        imap.logout()


def test_bob_replies_over_submissions_and_alice_receives_it(topology_up):
    ca = ssl.create_default_context(cafile=status(topology_up)["ca"])
    alice = topology.DEFAULT.host("mail-crepes")
    bob = topology.DEFAULT.host("mail-hamburger")
    subject = "e2e Re: crepes"
    with smtplib.SMTP_SSL(bob.address, 465 + E2E_PORT_OFFSET, context=ca, timeout=10) as s:
        s.login("bob@hamburger.edu", "bob-in-hamburg")
        reply = f"From: Bob <bob@hamburger.edu>\r\nSubject: {subject}\r\n\r\nDanke!\r\n"
        s.sendmail("bob@hamburger.edu", ["alice@crepes.fr"], reply)
    body = _wait_for("alice@crepes.fr", "alice-in-paris", alice, "SUBJECT", subject, ca)
    assert (
        b"by mail.hamburger.edu with ESMTPSA" in body and b"by mail.crepes.fr with ESMTPS" in body
    )
    assert body.endswith(b"\r\n\r\nDanke!\r\n")


def test_an_unknown_recipient_elsewhere_gets_alice_a_notice(topology_up):
    ca = ssl.create_default_context(cafile=status(topology_up)["ca"])
    alice = topology.DEFAULT.host("mail-crepes")
    with smtplib.SMTP(alice.address, 587 + E2E_PORT_OFFSET, timeout=10) as s:
        s.starttls(context=ca)
        s.login("alice@crepes.fr", "alice-in-paris")
        s.sendmail("alice@crepes.fr", ["nobody@hamburger.edu"],
                   "From: alice@crepes.fr\r\nSubject: e2e to nobody\r\n\r\nhello?\r\n")  # fmt: skip
    notice = _wait_for(
        "alice@crepes.fr", "alice-in-paris", alice, "BODY", "nobody@hamburger.edu", ca
    )
    assert b"Subject: Undelivered Mail Returned to Sender\r\n" in notice
    assert b"Return-Path: <>\r\n" in notice  # the null sender: never bounced itself
    assert (
        b"Final-Recipient: rfc822; nobody@hamburger.edu\r\nAction: failed\r\nStatus: 5.1.1"
        in notice
    )
    assert b"Remote-MTA: dns; mail.hamburger.edu\r\n" in notice
    assert b"Diagnostic-Code: smtp; 550 5.1.1 <nobody@hamburger.edu>: no such user here" in notice
    assert b"Subject: e2e to nobody\r\n" in notice  # the original header, sent back


def test_neither_server_is_an_open_relay(topology_up):
    ca = ssl.create_default_context(cafile=status(topology_up)["ca"])
    alice = topology.DEFAULT.host("mail-crepes")
    with smtplib.SMTP(alice.address, 25 + E2E_PORT_OFFSET, timeout=10) as s:  # the MX
        s.ehlo("relay.example")
        s.mail("alice@crepes.fr")
        assert s.rcpt("victim@example.org") == (550, b"5.7.1 relaying denied")
    with smtplib.SMTP(alice.address, 587 + E2E_PORT_OFFSET, timeout=10) as s:  # no login
        s.starttls(context=ca)
        s.ehlo("client.example")
        assert s.mail("alice@crepes.fr") == (530, b"5.7.0 Authentication required")
    with smtplib.SMTP_SSL(alice.address, 465 + E2E_PORT_OFFSET, context=ca, timeout=10) as s:
        s.login("carol@crepes.fr", "carol-in-lyon")  # logged in, but sending as Alice
        assert s.mail("alice@crepes.fr") == (
            553, b"5.7.1 <alice@crepes.fr> is not an address of the logged-in user",
        )  # fmt: skip


def _run(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", command + " -sS"], capture_output=True, text=True,
                          timeout=30, check=False)  # fmt: skip


def _mail_block(up_output: str) -> list[str]:
    """The command lines of the mail section `up` prints (curl and the printf | curl)."""
    block = up_output.split("\nMail (", 1)[1].split("\n\n", 1)[0]
    return [line.strip() for line in block.splitlines() if line.startswith(("  curl", "  printf"))]


def _check_commands(commands: list[str]) -> None:
    # delivery first, so that UID 1 and message 1 exist when they are asked for
    ordered = sorted(commands, key=lambda c: not c.startswith("printf"))
    failures = {}
    for command in ordered:
        out = _run(command)
        if out.returncode != 0:
            failures[command] = f"exit {out.returncode}: {out.stdout}{out.stderr}"
        elif " SORT " in command:  # Bob's INBOX, with what the printf lines delivered
            if not re.fullmatch(r"\* SORT( \d+)+\s*", out.stdout):
                failures[command] = out.stdout
        elif " THREAD " in command:  # the same, as threads: (1)(2) or ((1)(2)) or (1 2)...
            if not re.fullmatch(r"\* THREAD (\([\d ()]+\))+\s*", out.stdout):
                failures[command] = out.stdout
        elif "UID=1" in command or "pop3s://" in command:
            if not out.stdout.startswith("Return-Path: <"):
                failures[command] = out.stdout
        elif "imap" in command and '"/" INBOX' not in out.stdout:
            failures[command] = out.stdout
    assert not failures, "\n\n".join(f"{c}:\n{why}" for c, why in failures.items())


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl missing (Debian package curl)")
def test_the_mail_lines_up_prints_work_as_typed(topology_up):
    commands = _mail_block(topology_up.up_output)
    assert len(commands) == 2 * 5, topology_up.up_output
    _check_commands(commands)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl missing (Debian package curl)")
def test_the_readmes_mail_lines_work(topology_up):
    blocks = code_blocks()  # not the containers' section: tests/compose runs those
    lines = [line for block in blocks for line in block.splitlines()]
    commands = [line for line in lines if re.search(r"(imaps?|pop3s|smtp)://127\.0\.0\.4", line)]
    assert len(commands) == 8
    assert sum(" SORT " in c for c in commands) == 1
    assert sum(" THREAD " in c for c in commands) == 1
    ca = f"{topology_up.state_dir}/tls/ca.pem"

    def here(command: str) -> str:
        command = command.replace(".minternet/tls/ca.pem", ca)
        return re.sub(r":1(0\d\d\d)\b", lambda m: f":{int(m.group(1)) + E2E_PORT_OFFSET}", command)

    _check_commands([here(c) for c in commands])
