"""curl as a mail client: a message by UID over imap:// with STARTTLS required and over
imaps://, the mailbox list, and POP3 over pop3s://, the certificate verified against the
test CA (the server's name resolved to 127.0.0.1 with --resolve, as a user's DNS would), and
a server-side SORT as a custom request."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from .conftest import MailServer

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("curl") is None, reason="curl missing: apt-get install curl"),
]


def curl(server: MailServer, user: tuple[str, str], url: str, *extra: str) -> tuple[str, str]:
    """curl's output and its verbose log (-v) for `url` on the server's name."""
    kind = url.partition("://")[0]
    port = server.ports[kind]
    cmd = ["curl", "-sS", "-v", "--max-time", "30", "--cacert", str(server.ca),
           "--resolve", f"{server.hostname}:{port}:{server.host}",
           "-u", f"{user[0]}:{user[1]}", *extra,
           url.replace("HOST", f"{server.hostname}:{port}")]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, timeout=60, check=False)
    log = done.stderr.decode(errors="replace")
    assert done.returncode == 0, f"{' '.join(cmd)}: status {done.returncode}\n{log[-3000:]}"
    return done.stdout.decode(errors="replace"), log


def test_curl_fetches_by_uid_over_imap_with_starttls(
    mail_server: MailServer, mail_user: tuple[str, str]
) -> None:
    mail_server.deliver(mail_user[0], "curl one", "first body")
    mail_server.deliver(mail_user[0], "curl two", "second body")
    out, log = curl(mail_server, mail_user, "imap://HOST/INBOX;UID=2", "--ssl-reqd")
    assert "Subject: curl two\r\n" in out and "second body" in out, out
    assert "first body" not in out
    assert re.search(r"^> \S+ STARTTLS\r?$", log, re.MULTILINE), log  # the password: over TLS
    assert "SSL certificate verify ok" in log, log


def test_curl_fetches_by_uid_over_imaps(
    mail_server: MailServer, mail_user: tuple[str, str]
) -> None:
    mail_server.deliver(mail_user[0], "curl three", "third body")
    out, log = curl(mail_server, mail_user, "imaps://HOST/INBOX;UID=1")
    assert "Subject: curl three\r\n" in out and "third body" in out, out
    assert "SSL certificate verify ok" in log, log
    assert "STARTTLS" not in log


def test_curl_lists_mailboxes(mail_server: MailServer, mail_user: tuple[str, str]) -> None:
    out, _ = curl(mail_server, mail_user, "imaps://HOST/")
    names = set()
    for line in out.splitlines():
        assert line.startswith("* LIST ("), out
        names.add(line.rsplit(" ", 1)[1].strip('"'))
    assert names >= {"INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive"}, out


def test_curl_retrieves_over_pop3s(mail_server: MailServer, mail_user: tuple[str, str]) -> None:
    mail_server.needs("pop3s")
    sent = [mail_server.deliver(mail_user[0], f"pop {n}", f"pop body {n}") for n in (1, 2)]
    listing, _ = curl(mail_server, mail_user, "pop3s://HOST/")
    lines = listing.splitlines()
    assert [line.split()[0] for line in lines] == ["1", "2"], listing
    # each size is the stored message's: what was sent plus the trace headers the MX adds
    for line, raw in zip(lines, sent, strict=True):
        assert int(line.split()[1]) > len(raw), listing
    out, log = curl(mail_server, mail_user, "pop3s://HOST/2")
    assert "Subject: pop 2\r\n" in out and "pop body 2" in out, out
    assert "pop body 1" not in out
    assert "SSL certificate verify ok" in log, log


def test_curl_retrieves_over_pop3_with_stls(
    mail_server: MailServer, mail_user: tuple[str, str]
) -> None:
    mail_server.needs("pop3")
    mail_server.deliver(mail_user[0], "pop stls", "over STLS")
    out, log = curl(mail_server, mail_user, "pop3://HOST/1", "--ssl-reqd")
    assert "Subject: pop stls\r\n" in out and "over STLS" in out, out
    assert re.search(r"^> STLS\r?$", log, re.MULTILINE), log  # the password went over TLS
    assert "SSL certificate verify ok" in log, log


def test_curl_sorts_on_the_server(mail_server: MailServer, mail_user: tuple[str, str]) -> None:
    # SORT's base subject (RFC 5256 §2.1: no "Re:", no "[list]" blob, no "(fwd)") compared
    # with i;unicode-casemap ("apple" and "Apple" tie: mailbox order), as a custom request
    for subject in ("Re: pear", "apple", "[list] mango (fwd)", "Apple"):
        mail_server.deliver(mail_user[0], subject, "sorted")

    def sort(command: str) -> list[str]:
        out, _ = curl(mail_server, mail_user, "imaps://HOST/INBOX", "-X", command)
        return out.splitlines()

    assert sort("UID SORT (SUBJECT) UTF-8 ALL") == ["* SORT 2 4 3 1"]
    assert sort("SORT (REVERSE SUBJECT) UTF-8 NOT SUBJECT apple") == ["* SORT 1 3"]
    # ESORT (RFC 5267): the same order, as ESEARCH data
    (line,) = sort("UID SORT RETURN (MIN MAX COUNT ALL) (SUBJECT) UTF-8 ALL")
    # (curl's tag: A004 here; it may differ by version; the return data come in any order:
    # Dovecot puts ALL before COUNT)
    m = re.fullmatch(r'\* ESEARCH \(TAG "A\d+"\) UID((?: [A-Z]+ [0-9:,]+)+)', line)
    assert m is not None, line
    data = m.group(1).split()
    assert dict(zip(data[::2], data[1::2], strict=True)) == {
        "MIN": "2",
        "MAX": "1",
        "COUNT": "4",
        "ALL": "2,4,3,1",
    }


def test_curl_threads_on_the_server(mail_server: MailServer, mail_user: tuple[str, str]) -> None:
    # RFC 5256 THREAD as a custom request: 3 answers 1 (References), 4 answers 3 (In-Reply-To
    # only), 5 and 6 answer a message the mailbox does not hold (a dummy parent for both)
    domain = "thread.example"
    for subject, headers in (
        ("lunch", f"Message-ID: <lunch@{domain}>\r\n"),
        ("taxes", ""),
        ("Re: lunch", f"Message-ID: <r3@{domain}>\r\nReferences: <lunch@{domain}>\r\n"),
        ("Re: Re: lunch", f"In-Reply-To: <r3@{domain}>\r\n"),
        ("Re: party", f"References: <gone@{domain}>\r\n"),
        ("Re: party", f"References: <gone@{domain}>\r\n"),
    ):
        mail_server.deliver(mail_user[0], subject, "threaded", headers=headers)

    def thread(command: str) -> list[str]:
        out, _ = curl(mail_server, mail_user, "imaps://HOST/INBOX", "-X", command)
        return out.splitlines()

    assert thread("UID THREAD REFERENCES UTF-8 ALL") == ["* THREAD (1 3 4)(2)((5)(6))"]
    assert thread("THREAD ORDEREDSUBJECT UTF-8 ALL") == ["* THREAD (1 (3)(4))(2)(5 6)"]
    assert thread("THREAD REFERENCES UTF-8 NOT SUBJECT party") == ["* THREAD (1 3 4)(2)"]
