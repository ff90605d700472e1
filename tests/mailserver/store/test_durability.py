"""Crash safety: a delivering process killed with SIGKILL at arbitrary points loses no
acknowledged message and never leaves a partial one visible after reconcile."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mailserver.store import Store

WRITER = r"""
import sys
from mailserver.store import Delivery, Store

root, batch = sys.argv[1], sys.argv[2] == "batch"
store = Store(root, host="crash.test")

def body(n):
    filler = (b"x" * 75 + b"\n") * (n % 7 * 400)  # up to 180 kB: the kill lands mid-write too
    return b"Subject: n=%d\n\n" % n + filler + b"end %d\n" % n

n = 0
while True:
    if batch:
        uids = store.deliver_batch([Delivery(address="bob@h.test", data=body(n)),
                                    Delivery(address="carol@h.test", data=body(n))])
        print(n, uids[0], uids[1], flush=True)
    else:
        print(n, store.deliver("bob@h.test", "INBOX", body(n)), 0, flush=True)
    n += 1
"""


def body(n: int) -> bytes:
    filler = (b"x" * 75 + b"\r\n") * (n % 7 * 400)
    return b"Subject: n=%d\r\n\r\n" % n + filler + b"end %d\r\n" % n


def run_and_kill(root: Path, mode: str, rng: random.Random) -> list[tuple[int, int, int]]:
    """Start the writer, kill it after a random number of acknowledgements (and a random
    extra delay, so the kill lands anywhere in a delivery); the acknowledged lines."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root), mode], stdout=subprocess.PIPE, env=env
    )
    assert proc.stdout is not None
    acked = []
    want = rng.randint(3, 25)
    try:
        while len(acked) < want:
            line = proc.stdout.readline()
            assert line, "the writer died by itself"
            n, a, b = map(int, line.split())
            acked.append((n, a, b))
        time.sleep(rng.random() * 0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate()
    for line in rest.splitlines(keepends=True):  # acknowledged before the kill landed
        if line.endswith(b"\n"):  # a line the kill cut short says nothing for sure
            n, a, b = map(int, line.split())
            acked.append((n, a, b))
    return acked


@pytest.mark.parametrize("mode", ["single", "batch"])
def test_sigkill_mid_stream_loses_nothing_acknowledged(tmp_path: Path, mode: str) -> None:
    rng = random.Random(os.environ.get("PYTEST_SEED", 1234))
    acknowledged: dict[str, dict[int, int]] = {"bob@h.test": {}, "carol@h.test": {}}
    for _ in range(4):  # kill, reconcile, kill again: reconcile must also survive a crash
        for n, a, b in run_and_kill(tmp_path, mode, rng):
            acknowledged["bob@h.test"][a] = n
            if mode == "batch":
                acknowledged["carol@h.test"][b] = n
        store = Store(str(tmp_path), host="check.test")
        for address, expected in acknowledged.items():
            if not expected:
                continue
            user = store.user(address)
            metas = user.fetch("INBOX")
            seen_n = set()
            for meta in metas:
                data = user.read_message("INBOX", meta.uid)
                n = int(data.split(b"n=")[1].split(b"\r\n")[0])
                assert data == body(n), f"partial message visible: UID {meta.uid}"
                assert meta.size == len(data)
                if meta.uid in expected:
                    assert expected[meta.uid] == n  # the acknowledged UID is that message
                seen_n.add(n)
            assert set(expected) <= {m.uid for m in metas}, "an acknowledged UID is missing"
            assert set(expected.values()) <= seen_n
        uidnexts = {
            a: store.user(a).mailbox("INBOX").uidnext for a in acknowledged if acknowledged[a]
        }
        store.close()
        for address, expected in acknowledged.items():
            if expected:
                assert max(expected) < uidnexts[address]
