"""`minternet status` exit statuses: 0 all running, 3 one not running, 1 nothing recorded."""

from __future__ import annotations

import json
import os
import signal
import time

from minternet import cli, supervisor

from .fakes import HOSTS, fake_command


def test_status_exits_1_when_nothing_is_recorded(tmp_path, capsys):
    argv = ["status", "--state-dir", str(tmp_path)]
    assert cli.main(argv) == cli.STATUS_NOTHING == 1
    assert capsys.readouterr().out == f"nothing is running from {tmp_path}\n"
    assert cli.main([*argv, "--json"]) == 1
    assert json.loads(capsys.readouterr().out) == {"services": []}


def test_status_exits_3_when_a_service_is_not_running(ctx, capsys):
    alpha, _ = supervisor.start(HOSTS, ctx, command=fake_command)
    argv = ["status", "--state-dir", str(ctx.state_dir)]
    assert cli.main(argv) == cli.STATUS_RUNNING == 0
    capsys.readouterr()
    os.kill(alpha.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while supervisor.running(alpha) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert cli.main(argv) == cli.STATUS_NOT_RUNNING == 3
    out = capsys.readouterr().out
    assert f"{alpha.pid} (dead)" in out
    assert out.splitlines()[-1] == (
        f"not running: alpha (see their logs in {ctx.state_dir / 'logs'}; "
        "`minternet restart NAME` starts one again)"
    )
    assert cli.main([*argv, "--json"]) == 3
    running = {s["name"]: s["running"] for s in json.loads(capsys.readouterr().out)["services"]}
    assert running == {"alpha": False, "beta": True}
