"""mutt, in batch mode, reading a message over IMAPS with the certificate verified against
the test CA: it opens the INBOX and pipes the first message to a file, which must hold it;
and the same with `imap_deflate` (COMPRESS=DEFLATE, RFC 4978), where mutt's debug log must
show the compression taken up.

mutt has no real batch reading mode: it runs on a pseudo-terminal (`script`), its muttrc
says where to log in and how, and `push` types the keys (pipe the message, quit). A
certificate it cannot verify would stop it at a question, so the file stays empty and
the test fails on the timeout.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import MailServer
from .mutt_kit import NEEDS_MUTT, muttrc

pytestmark = [
    *NEEDS_MUTT,
    pytest.mark.skipif(
        shutil.which("script") is None, reason="script missing: apt-get install bsdutils"
    ),
]


def test_mutt_reads_a_message_over_imaps(mail_server: MailServer, tmp_path: Path) -> None:
    read_with_mutt(mail_server, tmp_path, "")
    assert not (tmp_path / ".muttdebug0").exists()


def test_mutt_reads_a_message_over_compressed_imaps(
    mail_server: MailServer, tmp_path: Path
) -> None:
    read_with_mutt(mail_server, tmp_path, "set imap_deflate=yes", debug=True)
    log = (tmp_path / ".muttdebug0").read_text(errors="replace")
    asked = re.search(r"> (a\d+) COMPRESS DEFLATE\n", log)
    assert asked is not None, log[-3000:]
    assert re.search(rf"< {asked.group(1)} OK ", log), log[-3000:]  # then read the message


def read_with_mutt(
    mail_server: MailServer, tmp_path: Path, extra: str, debug: bool = False
) -> None:
    address, password = mail_server.add_user("mutt")
    mail_server.deliver(address, "for mutt", "Mutt reads this line over IMAPS.")
    out = tmp_path / "message.txt"
    rc = muttrc(
        mail_server,
        tmp_path,
        address,
        password,
        f'{extra}\npush "<pipe-message>cat > {out}<enter><quit>"\n',
    )
    env = dict(os.environ, TERM="vt100", HOME=str(tmp_path), MAIL="", LC_ALL="C.UTF-8")
    try:
        done = subprocess.run(
            ["script", "-qec", f"mutt -n {'-d 2 ' if debug else ''}-F {rc}", "/dev/null"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=env,
            timeout=30,
            check=False,
        )
    except subprocess.TimeoutExpired as e:  # stopped at a question (an unverified certificate)
        screen = (e.stdout or b"").decode(errors="replace")[-2000:]
        pytest.fail(f"mutt still running after 30 s; its screen:\n{screen}")
    screen = done.stdout.decode(errors="replace")[-2000:]
    assert out.exists(), f"mutt wrote nothing (status {done.returncode}):\n{screen}"
    text = out.read_text()
    assert "Subject: for mutt" in text, text
    assert "Mutt reads this line over IMAPS." in text, text
    assert f"To: <{address}>" in text, text
