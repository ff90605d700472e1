"""`minternet up/status/down`: start every daemon of the topology as its own process, watch them.

State lives in the state directory: `state.json` (who runs where), one log file per service
under `logs/`, generated zone files under `zones/`, and each service's ready file.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from minternet.launch import LaunchContext, command_for
from minternet.topology import Host, Topology

STATE_FILE = "state.json"
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


class SupervisorError(Exception):
    """Something `up`, `status` or `down` cannot do; the message says what and why."""


class Interrupted(SupervisorError):
    """`start` was asked to stop (a signal) before every service was ready."""


@dataclass
class Service:
    name: str
    role: str
    address: str
    fqdn: str
    zones: list[str]
    ports: dict[str, int]
    pid: int
    log: str
    command: list[str] = field(default_factory=list)


#: Processes this process started and has not reaped yet (a detached `up` leaves them behind).
_children: dict[int, subprocess.Popen[bytes]] = {}


def _alive(pid: int) -> bool:
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as dead
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def _cmdline(pid: int) -> list[str] | None:
    """The argv of process `pid` as the kernel shows it; None if it cannot be read."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [os.fsdecode(arg) for arg in raw.split(b"\0")[:-1]]


def _ours(service: Service) -> bool:
    """Whether the service's recorded pid is still the process `up` started.

    A state file outlives its processes (a reboot, a crash, a kill -9 of the supervisor), and
    the kernel reuses pids: a recorded pid may now belong to an unrelated program, which
    `down` must never signal. On Linux the process must still run the exact command line
    recorded for it (it names this state directory's ready file); elsewhere the pid is trusted.
    """
    if service.pid in _children:
        return _alive(service.pid)
    if not _alive(service.pid):
        return False
    if not Path("/proc/self/cmdline").exists():
        return True
    return bool(service.command) and _cmdline(service.pid) == service.command


def _service(entry: object) -> Service:
    """One service record of the state file, checked: a bad pid could signal anything."""
    if not isinstance(entry, dict):
        raise ValueError(f"service entry {entry!r:.60} is not an object")
    try:
        s = Service(**entry)
    except TypeError as e:
        raise ValueError(f"service entry: {e}") from None
    texts = (s.name, s.role, s.address, s.fqdn, s.log)
    if not all(isinstance(t, str) for t in texts):
        raise ValueError(f"service {s.name!r}: name, role, address, fqdn and log must be strings")
    # pid 0 and negative pids name process groups (-1: every process) and 1 is init.
    if type(s.pid) is not int or s.pid <= 1:
        raise ValueError(f"service {s.name!r}: invalid pid {s.pid!r}")
    if not (
        isinstance(s.zones, list)
        and all(isinstance(z, str) for z in s.zones)
        and isinstance(s.command, list)
        and all(isinstance(a, str) for a in s.command)
        and isinstance(s.ports, dict)
        and all(isinstance(k, str) and type(v) is int for k, v in s.ports.items())
    ):
        raise ValueError(f"service {s.name!r}: malformed zones, command or ports")
    return s


def read_state(state_dir: Path) -> list[Service]:
    path = state_dir / STATE_FILE
    try:
        data = json.loads(path.read_text())
        services = data.get("services", []) if isinstance(data, dict) else None
        if not isinstance(services, list):
            raise ValueError("expected an object with a list of services")
        return [_service(s) for s in services]
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as e:
        raise SupervisorError(f"{path}: unreadable state file: {e}") from None


def write_state(state_dir: Path, services: Sequence[Service], supervisor_pid: int | None) -> None:
    path = state_dir / STATE_FILE
    tmp = path.with_name(STATE_FILE + ".tmp")
    data = {"supervisor_pid": supervisor_pid, "services": [asdict(s) for s in services]}
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def select_hosts(topology: Topology, only: Iterable[str] | None) -> list[Host]:
    """Hosts to start; `only` names roles (dns-root, dns-auth, ...) or service names."""
    if not only:
        return list(topology.hosts)
    wanted = set(only)
    known = {h.role for h in topology.hosts} | {h.name for h in topology.hosts}
    unknown = sorted(wanted - known)
    if unknown:
        raise SupervisorError(
            f"--only {unknown[0]!r}: no such role or service (roles: {', '.join(topology.roles())})"
        )
    return [h for h in topology.hosts if h.role in wanted or h.name in wanted]


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join("    " + line for line in text[-lines:])


def start(
    hosts: Sequence[Host],
    ctx: LaunchContext,
    *,
    progress: Callable[[str], None] = lambda _msg: None,
    command: Callable[[Host, LaunchContext], list[str]] = command_for,
    cancelled: Callable[[], bool] = lambda: False,
) -> list[Service]:
    """Start `hosts` as detached processes and wait until each reports ready.

    On any failure every process started here is stopped again and SupervisorError says which
    service failed, with the end of its log. `cancelled` is polled between steps (the caller's
    signal handlers set it rather than raising, so that a signal can never land between a
    process's creation and its being recorded here); it raises Interrupted, after stopping them.
    """
    running = [s for s in read_state(ctx.state_dir) if _ours(s)]
    if running:
        raise SupervisorError(
            f"a topology is already running from {ctx.state_dir} "
            f"({len(running)} services); stop it with `minternet down --state-dir {ctx.state_dir}`"
        )
    (ctx.state_dir / "logs").mkdir(parents=True, exist_ok=True)
    procs: list[tuple[Host, subprocess.Popen[bytes], list[str]]] = []
    try:
        for host in hosts:
            argv = command(host, ctx)
            ctx.service_dir(host).mkdir(parents=True, exist_ok=True)
            ctx.ready_file(host).unlink(missing_ok=True)
            with open(ctx.log_file(host), "ab") as log:
                proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # Ctrl-C reaches the supervisor, which stops them
                )
            _children[proc.pid] = proc
            procs.append((host, proc, argv))
            if cancelled():
                raise Interrupted("interrupted while starting")
        services = _wait_ready(procs, ctx, progress, cancelled)
    except BaseException:
        stop_pids([p.pid for _, p, _ in procs])
        raise
    write_state(ctx.state_dir, services, None)
    return services


def _wait_ready(
    procs: list[tuple[Host, subprocess.Popen[bytes], list[str]]],
    ctx: LaunchContext,
    progress: Callable[[str], None],
    cancelled: Callable[[], bool],
) -> list[Service]:
    deadline = time.monotonic() + READY_TIMEOUT
    ready: dict[str, Service] = {}
    while len(ready) < len(procs):
        if cancelled():
            raise Interrupted("interrupted while starting")
        for host, proc, argv in procs:
            if host.name in ready:
                continue
            code = proc.poll()
            if code is not None:
                raise SupervisorError(
                    f"{host.name} ({host.role} at {host.address}) exited with status {code} "
                    f"before it was ready; end of {ctx.log_file(host)}:\n"
                    + _log_tail(ctx.log_file(host))
                )
            try:
                info = json.loads(ctx.ready_file(host).read_text())
            except (FileNotFoundError, ValueError):
                continue
            ready[host.name] = Service(
                name=host.name,
                role=host.role,
                address=host.address,
                fqdn=host.fqdn,
                zones=list(host.zones),
                ports=dict(info["ports"]),
                pid=proc.pid,
                log=str(ctx.log_file(host)),
                command=argv,
            )
            progress(f"  ready: {host.name:<18} {host.address}")
        if len(ready) < len(procs):
            if time.monotonic() > deadline:
                late = [h.name for h, _, _ in procs if h.name not in ready]
                raise SupervisorError(
                    f"not ready after {READY_TIMEOUT:.0f} s: {', '.join(late)}; see their logs in "
                    f"{ctx.state_dir / 'logs'}"
                )
            time.sleep(0.05)
    return [ready[h.name] for h, _, _ in procs]


def stop_pids(pids: Sequence[int], timeout: float = STOP_TIMEOUT) -> list[int]:
    """SIGTERM each process, wait up to `timeout`, SIGKILL what is left; returns killed pids."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    left = [p for p in pids if _alive(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [p for p in left if _alive(p)]
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for pid in pids:  # reap our own children
        child = _children.pop(pid, None)
        if child is not None:
            child.wait()
    return left


def down(state_dir: Path) -> list[Service]:
    """Stop every service recorded in `state_dir` that still runs; returns those stopped.

    Recorded pids that now belong to other programs (see `_ours`) are left alone.
    """
    services = [s for s in read_state(state_dir) if _ours(s)]
    stop_pids([s.pid for s in services])
    (state_dir / STATE_FILE).unlink(missing_ok=True)
    return services


def status(state_dir: Path) -> list[tuple[Service, bool]]:
    return [(s, _ours(s)) for s in read_state(state_dir)]
