"""`minternet up/status/down/restart`: start every daemon of the topology as its own process.

State lives in the state directory: `state.json` (who runs where), one log file per service
under `logs/`, generated zone files under `zones/`, and each service's ready file. `down` and
`restart` change state.json under a lock (`state.lock`) and mark what they are doing in it, so
that a foreground `up` watching the services does not report as dead what they stop.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from minternet import logs
from minternet.launch import LaunchContext, command_for
from minternet.topology import Host, Topology

STATE_FILE = "state.json"
LOCK_FILE = "state.lock"
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


class SupervisorError(Exception):
    """Something `up`, `status` or `down` cannot do; the message says what and why."""


class Interrupted(SupervisorError):
    """`start` was asked to stop (a signal) before every service was ready."""


class UnknownService(SupervisorError):
    """`restart` was given a name that is not a service of the recorded topology."""


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
    ready: str = ""  # the ready file the daemon writes (recorded since `restart` exists)

    def ready_file(self) -> Path | None:
        """Where the daemon reports readiness; older state files only have it in `command`."""
        if self.ready:
            return Path(self.ready)
        argv = self.command
        for i, arg in enumerate(argv[:-1]):
            if arg == "--ready-file":
                return Path(argv[i + 1])
        return None


@dataclass
class State:
    """The contents of state.json."""

    services: list[Service]
    supervisor_pid: int | None = None  # the foreground `up` watching them, if any
    stopping: bool = False  # `down` is stopping every service
    restarting: list[str] = field(default_factory=list)  # services `restart` is replacing


def describe_exit(code: int) -> str:
    """A Popen return code as a user reads it: "exited with status 3", "was killed by SIGKILL"."""
    if code < 0:
        try:
            return f"was killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


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
        return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """Whether `pid` has exited and waits for its parent (another process) to reap it.

    `down` or `restart` run beside a foreground `up`, whose children the services are: a
    service they stopped stays a zombie until `up` reaps it, and must count as stopped.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :].startswith("Z")


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
    texts = (s.name, s.role, s.address, s.fqdn, s.log, s.ready)
    if not all(isinstance(t, str) for t in texts):
        raise ValueError(
            f"service {s.name!r}: name, role, address, fqdn, log and ready must be strings"
        )
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


def load_state(state_dir: Path) -> State | None:
    """The state file of `state_dir`, checked; None when there is none."""
    path = state_dir / STATE_FILE
    try:
        data = json.loads(path.read_text())
        services = data.get("services", []) if isinstance(data, dict) else None
        if not isinstance(services, list):
            raise ValueError("expected an object with a list of services")
        state = State([_service(s) for s in services])
        sup, stopping, restarting = (
            data.get(k) for k in ("supervisor_pid", "stopping", "restarting")
        )
        if sup is not None and (type(sup) is not int or sup <= 1):
            raise ValueError(f"invalid supervisor_pid {sup!r}")
        if not isinstance(restarting, list | None) or not all(
            isinstance(n, str) for n in restarting or []
        ):
            raise ValueError("restarting must be a list of names")
        state.supervisor_pid, state.stopping = sup, stopping is True
        state.restarting = list(restarting or [])
        return state
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise SupervisorError(f"{path}: unreadable state file: {e}") from None


def read_state(state_dir: Path) -> list[Service]:
    state = load_state(state_dir)
    return state.services if state is not None else []


def write_state(
    state_dir: Path,
    services: Sequence[Service],
    supervisor_pid: int | None,
    *,
    stopping: bool = False,
    restarting: Sequence[str] = (),
) -> None:
    path = state_dir / STATE_FILE
    tmp = path.with_name(STATE_FILE + ".tmp")
    data: dict[str, object] = {
        "supervisor_pid": supervisor_pid,
        "services": [asdict(s) for s in services],
    }
    if stopping:
        data["stopping"] = True
    if restarting:
        data["restarting"] = list(restarting)
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def _recorded(state_dir: Path) -> bool:
    """Whether `state_dir` holds a state file; a path that cannot be looked at says why."""
    path = state_dir / STATE_FILE
    try:
        return path.is_file()
    except OSError as e:  # e.g. a name too long: one line from the command, not a traceback
        raise SupervisorError(f"{path}: unreadable state file: {e}") from None


@contextlib.contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    """Hold the state directory's lock: one `down` or `restart` changes state.json at a time."""
    with open(state_dir / LOCK_FILE, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


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


def _log_lines(path: Path, lines: int = 15) -> list[str] | None:
    try:
        return path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return None


#: Said under a daemon's "address already in use".
IN_USE_HINT = (
    "another program listens there (another minternet topology? `minternet status` shows the "
    "one started last); `minternet up --port-offset N` moves every port"
)


def _died_before_ready(s: Service, code: int) -> str:
    """Why `s` did not start: how it ended, the error it logged, and the end of its log."""
    tail = _log_lines(Path(s.log))
    reason = logs.last_error(tail or [])
    text = f"{s.name} ({s.role} at {s.address}) {describe_exit(code)} before it was ready"
    if reason:
        text += f": {reason}"
        if "address already in use" in reason:
            text += f"\n  {IN_USE_HINT}"
    shown = "\n".join("    " + line for line in tail) if tail is not None else "    (no log)"
    return f"{text}\nend of {s.log}:\n{shown}"


@dataclass
class _Launch:
    service: Service  # with the new process's pid; its ports are those of its ready file
    proc: subprocess.Popen[bytes]
    ready: Path


def _ready_file_of(s: Service) -> Path:
    ready = s.ready_file()
    if not s.command or ready is None:
        raise SupervisorError(
            f"{s.name}: the state file has no command line or ready file for it "
            "(written by an older minternet); run `minternet down` and `up` again"
        )
    return ready


def _launch(template: Service) -> _Launch:
    """Start the recorded command of `template`, its output appended to its log."""
    ready = _ready_file_of(template)
    ready.unlink(missing_ok=True)  # a daemon killed with SIGKILL leaves its ready file behind
    with open(template.log, "ab") as log:
        proc = subprocess.Popen(
            template.command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the supervisor, which stops them
        )
    _children[proc.pid] = proc
    return _Launch(dataclasses.replace(template, pid=proc.pid), proc, ready)


def start(
    hosts: Sequence[Host],
    ctx: LaunchContext,
    *,
    progress: Callable[[str], None] = lambda _msg: None,
    command: Callable[[Host, LaunchContext], list[str]] = command_for,
    cancelled: Callable[[], bool] = lambda: False,
) -> list[Service]:
    """Start `hosts` as detached processes and wait until each reports ready.

    On any failure every process started here is stopped again, what this call created in the
    state directory is removed except the logs (they say why), and SupervisorError says which
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
    existed = _entries(ctx.state_dir)
    (ctx.state_dir / "logs").mkdir(parents=True, exist_ok=True)
    try:
        services = _start_ready(hosts, ctx, progress, command, cancelled)
    except BaseException:
        _remove_created(ctx.state_dir, existed)
        raise
    write_state(ctx.state_dir, services, None)
    return services


def _start_ready(
    hosts: Sequence[Host],
    ctx: LaunchContext,
    progress: Callable[[str], None],
    command: Callable[[Host, LaunchContext], list[str]],
    cancelled: Callable[[], bool],
) -> list[Service]:
    """Launch every host's daemon and wait until each is ready; on any failure (or when
    `cancelled`) stop every one started here, and raise."""
    launched: list[_Launch] = []
    try:
        for host in hosts:
            argv = command(host, ctx)
            ctx.service_dir(host).mkdir(parents=True, exist_ok=True)
            launched.append(_launch(_template(host, ctx, argv)))
            if cancelled():
                raise Interrupted("interrupted while starting")
        return _wait_ready(launched, progress, cancelled)
    except BaseException:
        stop_pids([launch.proc.pid for launch in launched])
        raise


def add(
    hosts: Sequence[Host],
    ctx: LaunchContext,
    *,
    progress: Callable[[str], None] = lambda _msg: None,
    command: Callable[[Host, LaunchContext], list[str]] = command_for,
) -> list[Service]:
    """Start `hosts` beside a running topology (a registered domain's servers) and record them
    in its state file once they are ready; on failure they are stopped and nothing is recorded."""
    if not _recorded(ctx.state_dir):
        raise SupervisorError(f"nothing is running from {ctx.state_dir}")
    with _locked(ctx.state_dir):
        state = load_state(ctx.state_dir)
        if state is None:
            raise SupervisorError(f"nothing is running from {ctx.state_dir}")
        taken = {s.name for s in state.services}
        clash = [h.name for h in hosts if h.name in taken]
        if clash:
            raise SupervisorError(f"a service {clash[0]!r} is recorded already")
        services = _start_ready(hosts, ctx, progress, command, lambda: False)
        write_state(ctx.state_dir, [*state.services, *services], state.supervisor_pid)
    return services


def remove(state_dir: Path, names: Sequence[str]) -> list[Service]:
    """Stop the named services and forget them (a registered domain's servers); the state file
    loses them first, so that a foreground `up` does not report them as dead."""
    if not _recorded(state_dir):
        return []
    with _locked(state_dir):
        state = load_state(state_dir)
        if state is None:
            return []
        gone = [s for s in state.services if s.name in names]
        kept = [s for s in state.services if s.name not in names]
        write_state(state_dir, kept, state.supervisor_pid)
        stop_pids([s.pid for s in gone if _ours(s)])
    return gone


def _template(host: Host, ctx: LaunchContext, argv: list[str]) -> Service:
    return Service(
        name=host.name,
        role=host.role,
        address=host.address,
        fqdn=host.fqdn,
        zones=list(host.zones),
        ports={},
        pid=0,
        log=str(ctx.log_file(host)),
        command=argv,
        ready=str(ctx.ready_file(host)),
    )


def _entries(state_dir: Path) -> set[str]:
    try:
        return {p.name for p in state_dir.iterdir()}
    except OSError:
        return set()


def _remove_created(state_dir: Path, existed: set[str]) -> None:
    """After a failed start: remove the service folders and zones it created, keep the logs."""
    for name in _entries(state_dir) - existed - {"logs"}:
        path = state_dir / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _wait_ready(
    launched: Sequence[_Launch],
    progress: Callable[[str], None],
    cancelled: Callable[[], bool],
) -> list[Service]:
    deadline = time.monotonic() + READY_TIMEOUT
    ready: dict[str, Service] = {}
    while len(ready) < len(launched):
        if cancelled():
            raise Interrupted("interrupted while starting")
        for launch in launched:
            s = launch.service
            if s.name in ready:
                continue
            code = launch.proc.poll()
            if code is not None:
                raise SupervisorError(_died_before_ready(s, code))
            try:
                info = json.loads(launch.ready.read_text())
            except (FileNotFoundError, ValueError):
                continue
            ready[s.name] = dataclasses.replace(s, ports=dict(info["ports"]))
            progress(f"  ready: {s.name:<18} {s.address}")
        if len(ready) < len(launched):
            if time.monotonic() > deadline:
                late = [x.service for x in launched if x.service.name not in ready]
                raise SupervisorError(
                    f"not ready after {READY_TIMEOUT:.0f} s: {', '.join(s.name for s in late)}; "
                    f"see their logs in {Path(late[0].log).parent}"
                )
            time.sleep(0.05)
    return [ready[x.service.name] for x in launched]


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

    Recorded pids that now belong to other programs (see `_ours`) are left alone. The state
    file says `stopping` meanwhile, and is removed at the end.
    """
    if not _recorded(state_dir):
        return []
    with _locked(state_dir):
        state = load_state(state_dir)
        if state is None:
            return []
        services = [s for s in state.services if _ours(s)]
        write_state(state_dir, state.services, state.supervisor_pid, stopping=True)
        try:
            stop_pids([s.pid for s in services])
        finally:
            (state_dir / STATE_FILE).unlink(missing_ok=True)
    return services


def status(state_dir: Path) -> list[tuple[Service, bool]]:
    return [(s, _ours(s)) for s in read_state(state_dir)]


def running(service: Service) -> bool:
    """Whether the service's recorded process still runs (and is still the one started)."""
    return _ours(service)


@dataclass(frozen=True)
class Restarted:
    service: Service  # as it runs now
    old_pid: int
    was_running: bool


def restart(
    state_dir: Path, names: Sequence[str], *, progress: Callable[[str], None] = lambda _m: None
) -> list[Restarted]:
    """Stop the named services if they run and start their recorded commands again.

    Each is waited for until it is ready, and its new pid and ports are recorded. Works for any
    role, detached or beside a foreground `up` (which then watches the new pid through the state
    file, and ignores what happens to the services named in `restarting` meanwhile).
    """
    if not _recorded(state_dir):
        raise SupervisorError(f"nothing is recorded in {state_dir}")
    with _locked(state_dir):
        state = load_state(state_dir)
        if state is None:
            raise SupervisorError(f"nothing is recorded in {state_dir}")
        by_name = {s.name: s for s in state.services}
        wanted = list(dict.fromkeys(names))
        unknown = [n for n in wanted if n not in by_name]
        if unknown:
            raise UnknownService(
                f"no service {unknown[0]!r} in {state_dir} (services: {', '.join(by_name)})"
            )
        for name in wanted:  # before anything is stopped
            _ready_file_of(by_name[name])
        write_state(state_dir, state.services, state.supervisor_pid, restarting=wanted)
        done: list[Restarted] = []
        try:
            for name in wanted:
                old = by_name[name]
                was_running = _ours(old)
                if was_running:
                    stop_pids([old.pid])
                launch = _launch(old)
                try:
                    (new,) = _wait_ready([launch], progress, lambda: False)
                except BaseException:
                    stop_pids([launch.proc.pid])
                    raise
                by_name[name] = new
                done.append(Restarted(new, old.pid, was_running))
        finally:
            services = [by_name[s.name] for s in state.services]
            write_state(state_dir, services, state.supervisor_pid)
    return done


def poll_children() -> dict[int, int | None]:
    """Reap the processes this process started that have ended: pid -> exit code or None."""
    return {pid: child.poll() for pid, child in list(_children.items())}


def forget_children(pids: Iterable[int]) -> None:
    """Stop tracking children that have ended and no longer matter (restarted services)."""
    for pid in pids:
        child = _children.get(pid)
        if child is not None and child.returncode is not None:
            del _children[pid]
