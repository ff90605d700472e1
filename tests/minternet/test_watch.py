"""What a foreground `up` reports: how a service died, and nothing for what down/restart stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

from minternet import supervisor
from minternet.watch import Look, Watcher

from .fakes import HOSTS, fake_command


def look_until(watcher: Watcher, done: Callable[[Look], bool], timeout: float = 10.0) -> Look:
    deadline = time.monotonic() + timeout
    while True:
        look = watcher.look()
        if done(look) or time.monotonic() > deadline:
            return look
        time.sleep(0.02)


def test_a_killed_service_is_reported_once_with_its_signal_and_noted_in_its_log(ctx):
    alpha, beta = supervisor.start(HOSTS, ctx, command=fake_command)
    watcher = Watcher(ctx.state_dir)
    assert watcher.look() == Look()
    os.kill(alpha.pid, signal.SIGKILL)
    look = look_until(watcher, lambda lk: bool(lk.died))
    assert [(s.name, how) for s, how in look.died] == [("alpha", "was killed by signal SIGKILL")]
    assert not look.all_dead
    last = (ctx.state_dir / "logs" / "alpha.log").read_text().splitlines()[-1]
    assert last.endswith(
        f" alpha ERROR pid {alpha.pid} was killed by signal SIGKILL (seen by minternet up)"
    )
    assert watcher.look() == Look()  # reported once
    os.kill(beta.pid, signal.SIGTERM)  # beta stops gracefully: status 0
    look = look_until(watcher, lambda lk: bool(lk.died))
    assert [(s.name, how) for s, how in look.died] == [("beta", "exited with status 0")]
    assert look.all_dead


def test_services_being_restarted_or_stopped_are_not_reported(ctx):
    alpha, beta = supervisor.start(HOSTS, ctx, command=fake_command)
    watcher = Watcher(ctx.state_dir)
    services = supervisor.read_state(ctx.state_dir)
    supervisor.write_state(ctx.state_dir, services, None, restarting=["alpha"])
    os.kill(alpha.pid, signal.SIGKILL)
    time.sleep(0.3)
    assert look_until(watcher, lambda lk: lk != Look(), timeout=0.5) == Look()
    supervisor.write_state(ctx.state_dir, services, None, stopping=True)
    os.kill(beta.pid, signal.SIGKILL)
    time.sleep(0.3)
    assert look_until(watcher, lambda lk: lk != Look(), timeout=0.5) == Look()


def test_down_while_watching_is_seen_as_the_state_file_removed(ctx):
    supervisor.start(HOSTS, ctx, command=fake_command)
    watcher = Watcher(ctx.state_dir)
    assert len(supervisor.down(ctx.state_dir)) == 2
    assert watcher.look() == Look(state_removed=True)


def test_a_removed_state_file_with_services_running_says_which(ctx):
    alpha, beta = supervisor.start(HOSTS, ctx, command=fake_command)
    (ctx.state_dir / supervisor.STATE_FILE).unlink()
    look = Watcher(ctx.state_dir).look()
    assert look.state_removed and sorted(look.left_running) == sorted([alpha.pid, beta.pid])
    supervisor.stop_pids(look.left_running)


def test_a_service_restarted_by_another_process_is_watched_under_its_new_pid(ctx):
    # `minternet restart` beside a foreground `up`: the new process is not the watcher's child.
    alpha, _ = supervisor.start(HOSTS, ctx, command=fake_command)
    watcher = Watcher(ctx.state_dir)
    argv = [
        sys.executable,
        "-m",
        "minternet",
        "restart",
        "alpha",
        "--state-dir",
        str(ctx.state_dir),
    ]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    new = supervisor.read_state(ctx.state_dir)[0]
    assert out.stdout.startswith(f"alpha: restarted (pid {alpha.pid} -> {new.pid})")
    assert watcher.look() == Look()  # the old child's end is not a death
    assert alpha.pid not in supervisor.poll_children()  # reaped, and no longer tracked
    os.kill(new.pid, signal.SIGKILL)
    look = look_until(watcher, lambda lk: bool(lk.died))
    assert [(s.name, s.pid, how) for s, how in look.died] == [
        ("alpha", new.pid, "is no longer running")
    ]
