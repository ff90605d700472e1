"""Workers (mailserver/aio/workers.py): the datagrams between the processes, the first
process's side with real child processes on real socket pairs, and the config key."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from mailserver.aio import workers
from mailserver.aio.server import MailDaemon
from tests.mailserver.daemon_harness import config

# --- the datagrams ------------------------------------------------------------------------


def test_a_notice_names_the_user_and_the_mailbox() -> None:
    data = workers.notice("bob@hamburger.edu", "Archive/2026")
    assert data == b"Nbob@hamburger.edu\0Archive/2026"
    assert workers.read(data) == workers.Notice("bob@hamburger.edu", "Archive/2026")
    utf8 = workers.notice("zoë@crêpes.fr", "Entwürfe")
    assert workers.read(utf8) == workers.Notice("zoë@crêpes.fr", "Entwürfe")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"N",
        b"Nbob@x",  # no mailbox
        b"N\0INBOX",  # no user
        b"Nbob@x\0",  # an empty mailbox
        b"N\xff\xfe\0INBOX",  # not UTF-8
        b"S",
        b"S[1, 2]",  # a report is an object
        b"S{not json",
        b"X{}",  # an unknown kind
    ],
)
def test_anything_else_is_unreadable(data: bytes) -> None:
    assert workers.read(data) is None


def test_a_report_carries_the_counters_and_drops_users_when_too_big() -> None:
    stats = {"stats": {"connections": 3}, "sessions_by_user": {"a@x": 1}, "pid": 7}
    assert workers.read(workers.report(stats)) == stats
    many = {f"user{i:06d}@example.org": 1 for i in range(5000)}
    data = workers.report({**stats, "sessions_by_user": many})
    assert len(data) <= workers.MAX_DATAGRAM
    assert workers.read(data) == {**stats, "sessions_by_user": {}}


def test_combine_adds_up_every_count_and_lists_each_process() -> None:
    own: dict[str, object] = {
        "stats": {"logins": 2, "connections": 3, "sessions": 2, "queue": 1},
        "logins_by_protocol": {"imap": 2},
        "sessions_by_user": {"a@x": 2},
        "listeners": {"imap": 3, "smtp": 0},
    }
    other: Mapping[str, object] = {
        "stats": {"logins": 5, "connections": 4, "sessions": 4, "odd": True, "name": "w"},
        "logins_by_protocol": {"imap": 3, "pop3": 1},
        "sessions_by_user": {"a@x": 1, "b@x": 3},
        "listeners": {"imap": 4},
        "pid": 4242,
    }
    out = workers.combine(own, {1: other})
    assert out["stats"] == {
        "logins": 7, "connections": 7, "sessions": 6, "queue": 1, "processes": 2
    }  # fmt: skip
    assert out["logins_by_protocol"] == {"imap": 5, "pop3": 1}
    assert out["sessions_by_user"] == {"a@x": 3, "b@x": 3}
    assert out["listeners"] == {"imap": 7, "smtp": 0}
    assert out["workers"] == [
        {"worker": 0, "pid": os.getpid(), "connections": 3, "sessions": 2},
        {"worker": 1, "pid": 4242, "connections": 4, "sessions": 4},
    ]
    assert own["stats"] == {"logins": 2, "connections": 3, "sessions": 2, "queue": 1}  # as was


def test_combine_names_each_worker_by_its_number_when_another_is_missing() -> None:
    own: dict[str, object] = {"stats": {"connections": 1}}
    late = {"stats": {"connections": 2, "sessions": 2}, "pid": 99}
    out = workers.combine(own, {3: late})  # workers 1 and 2 did not report lately
    assert out["workers"] == [
        {"worker": 0, "pid": os.getpid(), "connections": 1, "sessions": 0},
        {"worker": 3, "pid": 99, "connections": 2, "sessions": 2},
    ]
    assert out["stats"] == {"connections": 3, "sessions": 2, "processes": 2}


def test_worker_ports_are_read_back_as_written() -> None:
    ports = {"imap": 10143, "imaps": 10993, "pop3": 10110}
    assert workers.format_ports(ports) == "imap=10143,imaps=10993,pop3=10110"
    assert workers.parse_ports(workers.format_ports(ports)) == ports
    for bad in ("smtp=25", "imap=0", "imap=65536", "imap", "imap=x", ""):
        with pytest.raises(ValueError, match="bad --worker-ports item"):
            workers.parse_ports(bad)


# --- the config and the daemon --------------------------------------------------------------


def test_workers_is_one_by_default_and_bounded(tmp_path: Path) -> None:
    import dataclasses

    cfg = config(tmp_path)
    assert cfg.workers == 1
    assert dataclasses.replace(cfg, workers=16).workers == 16
    for bad in (0, 17):
        with pytest.raises(ValueError, match="workers must be from 1 to 16"):
            dataclasses.replace(cfg, workers=bad)


def test_the_connection_cap_is_shared_among_the_processes(tmp_path: Path) -> None:
    import dataclasses

    cfg = dataclasses.replace(config(tmp_path), workers=3)
    assert MailDaemon(cfg).processes() == 1  # no way to start workers: it serves alone
    worker = MailDaemon(cfg, role=workers.Role(2, -1, {"imap": 1}, 1))
    assert worker.processes() == 3


# --- the first process's side, with child processes ---------------------------------------

# What every stand-in worker does first: take its socket pair's end and say it listens.
STAND_IN = """
import json, os, socket, sys, time
s = socket.socket(fileno=int(sys.argv[2]))
n = sys.argv[1]
s.send(b"R")
"""


def stand_in(body: str) -> workers.Command:
    """The argv of a stand-in worker that runs STAND_IN, then `body`."""

    def command(n: int, fd: int, ports: Mapping[str, int]) -> list[str]:
        assert ports == {"imap": 10143}
        return [sys.executable, "-c", STAND_IN + body, str(n), str(fd)]

    return command


# It tells of a change to INBOX of "N@x" (N its number), reports, and echoes each notice it is
# told as "echo-" + the notice (not an echo itself).
child = stand_in("""
s.send(b"N" + n.encode() + b"@x\\0INBOX")
s.send(b"S" + json.dumps({"stats": {"connections": int(n)}, "pid": os.getpid()}).encode())
while True:
    data = s.recv(65536)
    if data.startswith(b"N") and not data.startswith(b"Necho-"):
        s.send(b"Necho-" + data[1:])
""")


async def until(check, seconds: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(seconds):
        while not check():
            await asyncio.sleep(0.02)


async def test_notices_pass_among_all_processes_and_reports_come_back() -> None:
    told: list[tuple[str, str]] = []
    group = workers.Workers(3, child, {"imap": 10143}, lambda a, m: told.append((a, m)))
    await group.start()
    try:
        # each child's notice reaches this process and the other child, which echoes it
        await until(lambda: len(told) >= 4 and len(group.reports()) == 2)
        assert sorted(told) == [
            ("1@x", "INBOX"), ("2@x", "INBOX"), ("echo-1@x", "INBOX"), ("echo-2@x", "INBOX")
        ]  # fmt: skip
        pids = {w.proc.pid for w in group.workers if w.proc is not None}
        assert {r["pid"] for r in group.reports().values()} == pids
        assert sorted(json.dumps(r["stats"]) for r in group.reports().values()) == [
            '{"connections": 1}', '{"connections": 2}'
        ]  # fmt: skip
        # a change here goes to every child (each echoes it, once)
        group.notify("z@x", "Sent")
        await until(lambda: told.count(("echo-z@x", "Sent")) == 2)
    finally:
        await group.stop()
    assert all(w.proc is not None and w.proc.returncode == -signal.SIGTERM for w in group.workers)
    assert all(w.channel is not None and w.channel.sock.fileno() < 0 for w in group.workers)


async def test_a_worker_that_dies_is_started_again(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(workers, "RESTART_AFTER", 0.0)
    group = workers.Workers(2, child, {"imap": 10143}, lambda a, m: None)
    await group.start()
    try:
        (w,) = group.workers
        assert w.proc is not None
        first = w.proc.pid
        await until(lambda: len(group.reports()) == 1)
        os.kill(first, signal.SIGKILL)
        await until(lambda: w.proc is not None and w.proc.pid != first and w.report is not None)
        assert group.restarts == 1
        assert group.reports()[1]["pid"] == w.proc.pid
        assert f"worker 1 (pid {first}) exited with status -9; starting it again" in caplog.text
    finally:
        await group.stop()


async def test_a_stale_report_is_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    group = workers.Workers(2, child, {"imap": 10143}, lambda a, m: None, clock=lambda: now[0])
    await group.start()
    try:
        await until(lambda: len(group.reports()) == 1)
        now[0] += workers.REPORT_STALE
        assert len(group.reports()) == 1
        now[0] += 0.5
        assert group.reports() == {}
    finally:
        await group.stop()


async def test_a_worker_reports_and_stops_when_its_first_process_is_gone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    told: list[tuple[str, str]] = []
    stops: list[int] = []
    monkeypatch.setattr(workers.os, "kill", lambda pid, sig: stops.append(sig))
    up = workers.Upstream(
        workers.Role(1, theirs.detach(), {"imap": 10143}, os.getppid()),
        lambda a, m: told.append((a, m)),
        lambda: {"stats": {"connections": 5}},
    )
    mine.setblocking(False)
    loop = asyncio.get_running_loop()
    try:
        assert await asyncio.wait_for(loop.sock_recv(mine, 65536), 5) == workers.READY
        got = workers.read(await asyncio.wait_for(loop.sock_recv(mine, 65536), 5))
        assert got == {"stats": {"connections": 5}, "pid": os.getpid()}
        up.notify("bob@x", "INBOX")
        assert await asyncio.wait_for(loop.sock_recv(mine, 65536), 5) == b"Nbob@x\0INBOX"
        mine.send(b"Nalice@x\0Sent")
        await until(lambda: told == [("alice@x", "Sent")])
        assert stops == []
        monkeypatch.setattr(workers.os, "getppid", lambda: up.parent + 1)
        await until(lambda: stops == [signal.SIGTERM], seconds=5)
    finally:
        up.close()
        mine.close()


def test_a_report_is_json(tmp_path: Path) -> None:
    assert json.loads(workers.report({"a": 1})[1:]) == {"a": 1}


async def test_a_worker_that_cannot_start_does_not_hold_up_the_start(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(workers, "READY_WAIT", 3600.0)  # waiting for it would time out below

    def failing(n: int, fd: int, ports: Mapping[str, int]) -> list[str]:
        return [sys.executable, "-c", "raise SystemExit(1)"]

    group = workers.Workers(2, failing, {"imap": 10143}, lambda a, m: None)
    try:
        await asyncio.wait_for(group.start(), 30)
        (w,) = group.workers
        assert w.proc is not None and w.proc.returncode == 1 and not w.ready.is_set()
        assert "workers [1] did not start listening" in caplog.text
    finally:
        await group.stop()


# A worker that reports once, and then goes silent (stuck, or SIGSTOPped).
silent = stand_in("""
s.send(b"S" + json.dumps({"stats": {}, "pid": os.getpid()}).encode())
time.sleep(600)
""")


async def test_a_silent_worker_is_killed_and_started_again(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(workers, "HANG_AFTER", 1.0)
    monkeypatch.setattr(workers, "RESTART_AFTER", 0.0)
    group = workers.Workers(2, silent, {"imap": 10143}, lambda a, m: None)
    await group.start()
    try:
        (w,) = group.workers
        assert w.proc is not None
        first = w.proc
        await until(lambda: group.restarts == 1)
        assert first.returncode == -signal.SIGKILL and w.proc is not first
        assert f"worker 1 (pid {first.pid}) has not reported for " in caplog.text
        assert f"worker 1 (pid {first.pid}) exited with status -9; starting it" in caplog.text
    finally:
        await group.stop()


# A worker that reports five times a second.
reporting = stand_in("""
while True:
    s.send(b"S" + json.dumps({"stats": {}, "pid": os.getpid()}).encode())
    time.sleep(0.2)
""")


async def test_a_worker_that_reports_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "HANG_AFTER", 1.0)
    group = workers.Workers(2, reporting, {"imap": 10143}, lambda a, m: None)
    await group.start()
    try:
        (w,) = group.workers
        await asyncio.sleep(2.0)  # past HANG_AFTER since its start, but it reported
        assert w.proc is not None and w.proc.poll() is None and group.restarts == 0
    finally:
        await group.stop()
