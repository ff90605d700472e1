"""Crash safety of mail part 2 on the running topology: Alice's server is killed (SIGKILL) while
500 messages are being submitted over 8 connections; after `minternet restart`, every message
that got its 250 reaches Bob's mailbox (none lost; a duplicate of one whose 250 never came is
allowed, RFC 5321 §6.1). The test leaves the topology as it found it (the server restarted)."""

from __future__ import annotations

import imaplib
import os
import re
import signal
import smtplib
import ssl
import threading
import time

from minternet import topology

from .conftest import E2E_PORT_OFFSET, minternet
from .test_mail import status

CONNECTIONS, PER_CONNECTION = 8, 63  # 504 messages
KILL_AFTER = 120  # acknowledged messages


def test_killing_alices_server_mid_submission_loses_no_acknowledged_message(topology_up):
    info = status(topology_up)
    ca = ssl.create_default_context(cafile=info["ca"])
    alice = topology.DEFAULT.host("mail-crepes")
    bob = topology.DEFAULT.host("mail-hamburger")
    pid = next(s["pid"] for s in info["services"] if s["name"] == "mail-crepes")
    run = f"{time.time_ns()}"
    acked: list[str] = []
    lock = threading.Lock()
    killed = threading.Event()
    errors: list[str] = []

    def submit(c: int) -> None:
        try:
            with smtplib.SMTP(alice.address, 587 + E2E_PORT_OFFSET, timeout=10) as s:
                s.starttls(context=ca)
                s.login("alice@crepes.fr", "alice-in-paris")
                for n in range(PER_CONNECTION):
                    mid = f"crash-{run}-{c}-{n}@crepes.fr"
                    head = f"From: alice@crepes.fr\r\nMessage-ID: <{mid}>\r\nSubject: crash {n}\r\n"
                    body = ("x" * 78 + "\r\n") * 50  # 4 KB
                    s.sendmail("alice@crepes.fr", ["bob@hamburger.edu"], head + "\r\n" + body)
                    with lock:
                        acked.append(mid)
                        if len(acked) >= KILL_AFTER and not killed.is_set():
                            killed.set()
                            os.kill(pid, signal.SIGKILL)
        except (OSError, smtplib.SMTPException) as e:
            errors.append(repr(e))  # the server died under this connection: acked ones count

    threads = [threading.Thread(target=submit, args=(c,)) for c in range(CONNECTIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert killed.is_set(), (len(acked), errors[:3])
    assert KILL_AFTER <= len(acked) < CONNECTIONS * PER_CONNECTION
    restart = minternet("restart", "mail-crepes", "--state-dir", topology_up.state_dir)
    assert restart.returncode == 0, restart.stderr
    assert "was not running; started again" in restart.stdout

    want = set(acked)
    imap = imaplib.IMAP4_SSL(bob.address, 993 + E2E_PORT_OFFSET, ssl_context=ca, timeout=10)
    try:
        imap.login("bob@hamburger.edu", "bob-in-hamburg")
        deadline = time.monotonic() + 90
        while True:
            imap.select("INBOX", readonly=True)
            _, data = imap.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            got = {
                m.decode()
                for part in data
                if isinstance(part, tuple)
                for m in re.findall(
                    rb"<(crash-" + run.encode() + rb"-[0-9]+-[0-9]+@crepes\.fr)>", part[1]
                )
            }
            if want <= got or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    finally:
        imap.logout()
    lost = sorted(want - got)
    assert not lost, f"{len(lost)} of {len(want)} acknowledged messages lost, e.g. {lost[:5]}"
