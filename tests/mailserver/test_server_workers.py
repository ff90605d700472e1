"""`mailserver serve` with `workers = 2` as real processes: IMAP sessions spread over both,
a delivery in one process wakes IDLE sessions in the other at once, `stats` adds both up, and
the worker goes when the first process goes (stopped or killed)."""

from __future__ import annotations

import imaplib
import json
import signal
import smtplib
import socket
import subprocess
import time
from pathlib import Path

from mailserver.config import MailConfig
from minternet import control
from tests.mailserver.daemon_harness import USERS, add_users, free_port, serve_process

BOB = "bob@hamburger.edu"
SESSIONS = 20  # P(every one in the same process) = 2 * 2**-20 with SO_REUSEPORT's spread


def start(tmp_path: Path, limits: str = "") -> tuple[subprocess.Popen[bytes], dict[str, int], Path]:
    state = tmp_path / "state"
    ports = {kind: free_port() for kind in ("smtp", "imap", "control")}
    config = tmp_path / "mail.toml"
    config.write_text(
        'hostname = "mail.hamburger.edu"\ndomains = ["hamburger.edu"]\n'
        f'state_dir = "{state}"\nworkers = 2\n[auth]\nplaintext = "always"\n'
        f"[limits]\n{limits}\n[listen]\n"
        + "".join(f'{kind} = "127.0.0.1:{port}"\n' for kind, port in ports.items())
    )
    add_users(MailConfig(hostname="mail.hamburger.edu", domains=("hamburger.edu",),
                         state_dir=str(state)))  # fmt: skip
    ready, log = tmp_path / "ready.json", tmp_path / "server.log"
    proc = serve_process(config, ready, log)
    assert json.loads(ready.read_text())["ports"] == ports
    return proc, ports, log


def worker_pid(log: Path) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if " worker 1 started (pid " in line:
                return int(line.rsplit("pid ", 1)[1].rstrip(")"))
        time.sleep(0.05)
    raise AssertionError("no worker started:\n" + log.read_text())


def gone(pid: int, seconds: float = 15.0) -> bool:
    """True once `pid` has exited (a zombie counts: its parent may be gone, and who reaps
    orphans here is not the test's to know)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except (FileNotFoundError, ProcessLookupError):
            return True
        time.sleep(0.05)
    return False


def stats(port: int, sessions: int) -> dict[str, object]:
    """`stats` once both processes' reports count `sessions` sessions."""
    deadline = time.monotonic() + 30
    while True:
        reply = control.request(f"127.0.0.1:{port}", "stats")
        lines = reply.get("workers", [])
        if len(lines) == 2 and reply["stats"]["sessions"] == sessions:
            return reply
        assert time.monotonic() < deadline, reply
        time.sleep(0.1)


def test_sessions_spread_and_idle_hears_of_a_delivery_in_the_other_process(
    tmp_path: Path,
) -> None:
    proc, ports, log = start(tmp_path)
    worker = worker_pid(log)
    conns: list[imaplib.IMAP4] = []
    try:
        for _ in range(SESSIONS):
            c = imaplib.IMAP4("127.0.0.1", ports["imap"], timeout=30)
            c.login(BOB, USERS[BOB])
            c.select("INBOX")
            conns.append(c)
        reply = stats(ports["control"], SESSIONS)
        lines = reply["workers"]
        assert [line["pid"] for line in lines] == [proc.pid, worker]
        assert all(line["sessions"] >= 1 for line in lines), lines  # both serve
        assert sum(line["connections"] for line in lines) == SESSIONS
        assert reply["sessions_by_user"] == {BOB: SESSIONS}
        assert reply["stats"]["logins"] == SESSIONS
        assert reply["stats"]["processes"] == 2
        tags = []
        for c in conns:
            tag = c._new_tag().decode()
            c.send(f"{tag} IDLE\r\n".encode())
            assert c.readline().startswith(b"+ ")
            tags.append(tag)
        # SMTP is the first process's alone: half the sessions hear of it from the other one
        with smtplib.SMTP("127.0.0.1", ports["smtp"], timeout=30) as s:
            s.sendmail("alice@crepes.fr", [BOB], b"Subject: hello\r\n\r\nhi\r\n")
        for c in conns:
            assert c.readline() == b"* 1 EXISTS\r\n"
        for c, tag in zip(conns, tags, strict=True):
            c.send(b"DONE\r\n")
            while not (line := c.readline()).startswith(tag.encode()):
                assert line.startswith(b"* "), line
            assert line.startswith(f"{tag} OK".encode())
        # an APPEND in either process reaches every other session's next command
        conns[0].append("INBOX", None, None, b"Subject: two\r\n\r\nx\r\n")
        for c in conns[1:]:
            typ, _ = c.noop()
            assert typ == "OK" and b"2" in c.untagged_responses.get("EXISTS", [b""])[-1]
        for c in conns:
            c.logout()
        conns.clear()
    finally:
        for c in conns:
            c.shutdown()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert gone(worker), "the worker outlived its first process's stop"
    text = log.read_text()
    assert "mailserver.1 INFO stopped" in text and "Traceback" not in text


def test_a_worker_stops_when_its_first_process_is_killed(tmp_path: Path) -> None:
    proc, _, log = start(tmp_path)
    worker = worker_pid(log)
    proc.kill()
    proc.wait(30)
    assert gone(worker), "the worker outlived its first process"
    assert f"the first process (pid {proc.pid}) is gone: stopping" in log.read_text()


def test_the_connection_cap_is_shared_among_the_processes(tmp_path: Path) -> None:
    proc, ports, log = start(tmp_path, limits="max_connections = 4")
    socks = []
    try:
        greetings = []
        for _ in range(12):
            s = socket.create_connection(("127.0.0.1", ports["imap"]), timeout=30)
            socks.append(s)
            greetings.append(s.recv(200))
        accepted = sum(g.startswith(b"* OK ") for g in greetings)
        refused = sum(g.startswith(b"* BYE Too many connections") for g in greetings)
        # two each: 4 when each process got two or more of the 12, else fewer; never more
        assert 2 <= accepted <= 4 and accepted + refused == 12, greetings
    finally:
        for s in socks:
            s.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert "refusing a connection: 3 open on this process's listeners" in log.read_text()
