"""The `minternet` command: bring the miniature Internet up, show its status, take it down."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from dnsserver.resolver.stats import SHED_COUNTERS
from dnsserver.rrl import RrlConfig
from minternet import (
    __version__,
    compose,
    console,
    control,
    experiment,
    logs,
    pointer,
    register_cli,
    registrar,
    supervisor,
    topology,
    zonegen,
)
from minternet.launch import DNS_ROLES, RRL_IPV4_PREFIX, LaunchContext, sample_torrent
from minternet.mailinfo import mail_fields, mail_lines
from minternet.supervisor import Service, SupervisorError
from minternet.watch import Watcher

DEFAULT_STATE_DIR = ".minternet"

#: `minternet status` exit statuses: every service runs, some service does not run (3, as
#: `systemctl status`), nothing is recorded or the state file cannot be read. (systemctl says 4
#: for an unknown unit, but every command of the project exits 0 to 3.)
STATUS_RUNNING, STATUS_NOT_RUNNING, STATUS_NOTHING, STATUS_ERROR = 0, 3, 1, 1


def _ports_text(ports: dict[str, int]) -> str:
    return " ".join(f"{k} {v}" for k, v in ports.items())


def format_table(services: Sequence[tuple[Service, bool]]) -> str:
    rows = [("SERVICE", "ROLE", "ADDRESS", "PORTS", "PID", "NAME / SERVES")]
    for s, alive in services:
        serves = s.fqdn + (f"  [{' '.join(s.zones)}]" if s.zones else "")
        pid = str(s.pid) if alive else f"{s.pid} (dead)"
        rows.append((s.name, s.role, s.address, _ports_text(s.ports), pid, serves))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  " + "  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1]
        for r in rows
    )


def examples(services: Sequence[Service]) -> list[str]:
    """Copy-paste commands that work against what is running, each with what it shows."""
    by_role: dict[str, list[Service]] = {}
    for s in services:
        by_role.setdefault(s.role, []).append(s)
    pairs: list[tuple[str, str]] = []
    for s in by_role.get("resolver", []):
        at = f"@{s.address} -p {s.ports['dns']}"
        pairs.append((f"dig {at} gaia.cs.umass.edu", "the local DNS server walks the hierarchy"))
        pairs.append((f"dig {at} +norec gaia.cs.umass.edu", "... then answers from its cache"))
        pairs.append((f"dig {at} -x 127.0.0.20", "reverse DNS: root -> arpa. -> in-addr.arpa."))
        dnsserver = console.program("dnsserver")
        pairs.append(
            (
                f"{dnsserver} trace gaia.cs.umass.edu --port {s.ports['dns']}",
                "each step of the walk",
            )
        )
        pairs.append((f"{dnsserver} stats --control {s.address}:{s.ports['control']}", "counters"))
    for s in by_role.get("dns-root", [])[:1]:
        pairs.append((f"dig @{s.address} -p {s.ports['dns']} . NS", "the root server"))
    for s in by_role.get("dns-tld", []):
        if "com." in s.zones:
            pairs.append(
                (f"dig @{s.address} -p {s.ports['dns']} networkutopia.com NS", "a referral")
            )
    for s in by_role.get("dns-auth", []):
        at = f"@{s.address} -p {s.ports['dns']}"
        if "networkutopia.com." in s.zones:
            pairs.append((f"dig {at} www.networkutopia.com", "an authoritative answer"))
            pairs.append((f"dig {at} +tcp networkutopia.com MX", "the same over TCP"))
    for s in by_role.get("tracker", []):
        url = f"http://{s.address}:{s.ports['http']}"
        pairs.append((f"curl {url}/stats.json", f"the tracker, {s.fqdn} in the DNS"))
        pairs.append((f"{url}/announce  udp://{s.address}:{s.ports['udp']}", "announce URLs"))
    width = max((len(c) for c, _ in pairs), default=0)
    return [f"{c.ljust(width)}   # {why}" for c, why in pairs]


#: Where the `peer download` example listens: an address no host of the topology has.
DOWNLOADER = "127.0.0.70"


def peer_lines(services: Sequence[Service], state_dir: Path) -> list[str]:
    """The copy-paste download of the seeder's sample file, if a seeder runs."""
    seeders = [s for s in services if s.role == "peer"]
    if not seeders:
        return []
    port = seeders[0].ports["bittorrent"]
    torrent = sample_torrent(state_dir)
    return [
        f"  {console.program('peer')} download {torrent} -o downloads --listen {DOWNLOADER}:{port}",
        f"  (from {seeders[0].fqdn.rstrip('.')} at {seeders[0].address}:{port}, through the "
        "tracker; `peer info` shows what it holds)",
    ]


def rrl_line(services: Sequence[Service], rrl: bool) -> str | None:
    """What `up` says about response rate limiting, if it started a DNS server that does it."""
    if not any(s.role in DNS_ROLES for s in services):
        return None
    if not rrl:
        return "authoritative servers: response rate limiting off (--no-rrl)"
    per = "address: each 127.0.0.x counts alone" if RRL_IPV4_PREFIX == 32 else "/24"
    return (
        f"authoritative servers: response rate limiting on ({RrlConfig().rate:g}/s per client"
        f" {per}); --no-rrl turns it off"
    )


def cmd_up(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir).resolve()
    try:
        # the servers of domains registered with `register --serve` are hosts too
        topo = registrar.topology_for(topology.DEFAULT, registrar.load(state_dir).values())
    except registrar.RegistrarError as e:
        print(f"minternet up: {e}", file=sys.stderr)
        return 1
    try:
        ports = topology.port_scheme(args.standard_ports, offset=args.port_offset)
    except ValueError as e:
        print(f"minternet up: {e}", file=sys.stderr)
        return 2
    ctx = LaunchContext(topo, state_dir, ports, log_level=args.log_level, rrl=not args.no_rrl)
    # Ctrl-C, SIGTERM or SIGHUP (a closed terminal) while the daemons start must stop the
    # ones already started. By default SIGTERM ended this process at once, leaving them
    # running with no state file for `down` to find them by (and Ctrl-C printed a traceback).
    stop = threading.Event()
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in signals}
    try:
        hosts = supervisor.select_hosts(topo, args.only)
        print(f"starting {len(hosts)} services (state and logs in {state_dir})", flush=True)
        services = supervisor.start(
            hosts, ctx, progress=lambda m: print(m, flush=True), cancelled=stop.is_set
        )
    except supervisor.Interrupted:
        print("minternet up: interrupted; stopped the services it had started", file=sys.stderr)
        return 130
    except SupervisorError as e:
        print(f"minternet up: {e}", file=sys.stderr)
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stop.is_set():  # the signal came as the last one became ready
        supervisor.down(state_dir)
        print("minternet up: interrupted; stopped the services it had started", file=sys.stderr)
        return 130
    print(f"\nminternet is up: {len(services)} services\n")
    print(format_table([(s, True) for s in services]))
    rrl = rrl_line(services, ctx.rrl)
    if rrl:
        print("\n" + rrl)
    ex = examples(services)
    if ex:
        print("\nTry:\n" + "\n".join("  " + line for line in ex))
    mail = mail_lines(services, ctx.tls_dir / "ca.pem")
    if mail:
        print("\nMail (passwords are the topology's demo ones):\n" + "\n".join(mail))
    bittorrent = peer_lines(services, state_dir)
    if bittorrent:
        print("\nBitTorrent (a sample file, seeded):\n" + "\n".join(bittorrent))
    try:
        pointer.record(state_dir)
    except OSError as e:
        print(
            f"minternet up: cannot record the state directory in {pointer.location()} ({e}); "
            "`status`, `down` and `restart` need --state-dir",
            file=sys.stderr,
        )
    if args.detach:
        print(f"\nStop it with: {console.program('minternet')} down --state-dir {state_dir}")
        return 0
    return _supervise(state_dir, services)


def _supervise(state_dir: Path, services: list[Service]) -> int:
    """Foreground mode: report services that die; stop all on Ctrl-C/SIGTERM.

    Exits by itself, saying why, when nothing it watches runs any more: 0 when `minternet
    down` stopped them, 1 when they all died.
    """
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    supervisor.write_state(state_dir, services, supervisor_pid=None)
    print("\nPress Ctrl-C to stop.", flush=True)
    watcher = Watcher(state_dir)
    while not stop.wait(0.5):
        look = watcher.look()
        for s, how in look.died:
            print(
                f"minternet: {s.name} {how}; see {s.log} "
                f"(`minternet restart {s.name}` starts it again)",
                file=sys.stderr,
                flush=True,
            )
        if look.state_removed and not look.left_running:
            pointer.clear(state_dir)
            print("minternet: every service was stopped by `minternet down`; exiting", flush=True)
            return 0
        if look.state_removed:
            print(
                f"minternet: {state_dir / supervisor.STATE_FILE} was removed; "
                "stopping the services this `up` started",
                file=sys.stderr,
                flush=True,
            )
            supervisor.stop_pids(look.left_running)
            pointer.clear(state_dir)
            return 1
        if look.all_dead:
            print("minternet: every service has exited; exiting", file=sys.stderr, flush=True)
            supervisor.down(state_dir)
            pointer.clear(state_dir)
            return 1
    print("\nstopping ...", flush=True)
    supervisor.down(state_dir)
    pointer.clear(state_dir)
    print("stopped.")
    return 0


def find_state_dir(args: argparse.Namespace, command: str) -> Path:
    """The state directory `status`, `down` and `restart` act on.

    --state-dir if given; else ./.minternet if it records a topology; else the one the last
    `minternet up` recorded in the pointer file (said on stderr); else ./.minternet.
    """
    if args.state_dir is not None:
        return Path(args.state_dir).resolve()
    local = Path(DEFAULT_STATE_DIR).resolve()
    if _holds_state(local):
        return local
    pointed = pointer.read()
    if pointed is not None and _holds_state(pointed):
        print(
            f"minternet {command}: using {pointed} (recorded by `minternet up` in "
            f"{pointer.location()})",
            file=sys.stderr,
        )
        return pointed
    return local


def _holds_state(state_dir: Path) -> bool:
    try:
        return (state_dir / supervisor.STATE_FILE).is_file()
    except OSError:  # a pointer to a name too long, say: nothing found there
        return False


def nothing_here(args: argparse.Namespace, state_dir: Path) -> str:
    """Says that no topology is recorded in `state_dir`, and how to name the right one."""
    text = f"nothing is running from {state_dir}"
    if args.state_dir is None:
        where = pointer.location()
        text += (
            " (and no running topology is recorded"
            + (f" in {where}" if where is not None else "")
            + "); name the state directory of `minternet up` with --state-dir DIR"
        )
    return text


#: The resolver's counters shown under the table (`status --json` has them all); other
#: daemons report a few, and all of theirs are shown.
RESOLVER_COUNTERS = (
    "queries",
    "cache_hits",
    "cache_misses",
    "upstream_queries",
    "servfail",
    "cache_entries",
)


def counters_text(role: str, stats: dict[str, object]) -> str:
    keys = RESOLVER_COUNTERS if role == "resolver" else tuple(stats)
    shown = [k for k in keys if isinstance(stats.get(k), int | float)]
    text = ", ".join(f"{k.replace('_', ' ')} {stats[k]}" for k in shown)
    rates = stats.get("last_second")
    if role == "resolver" and isinstance(rates, dict) and rates:
        # the notes' DDoS discussion, made visible: what a flood costs and what is shed
        reasons = {k.removeprefix("shed_"): v for k, v in rates.items() if k in SHED_COUNTERS}
        shed = sum(reasons.values())
        why = ", ".join(f"{k} {v}" for k, v in reasons.items() if v)
        text += (
            f"; last second: {rates.get('queries', 0)} queries, {rates.get('answers', 0)} "
            f"answers, {rates.get('cache_hits', 0)} cache hits, "
            f"{rates.get('resolutions', 0)} resolutions in progress, {shed} shed"
            + (f" ({why})" if why else "")
            + f", {rates.get('upstream_queries', 0)} upstream ({rates.get('upstream_tcp', 0)} TCP)"
        )
    return text


def service_stats(s: Service, alive: bool) -> dict[str, object] | None:
    """The counters of a running service that has a control endpoint, or None."""
    if not alive or "control" not in s.ports:
        return None
    try:
        reply = control.request(f"{s.address}:{s.ports['control']}", "stats", timeout=2.0)
    except (OSError, ValueError) as e:
        return {"error": f"control endpoint did not answer: {e}"}
    if isinstance(reply.get("stats"), dict):
        return control.flat_stats(reply)
    return {"error": f"unexpected reply {reply!r:.80}"}


def cmd_status(args: argparse.Namespace) -> int:
    state_dir = find_state_dir(args, "status")
    try:
        rows = supervisor.status(state_dir)
    except SupervisorError as e:
        print(f"minternet status: {e}", file=sys.stderr)
        return STATUS_ERROR
    if not rows:
        code = STATUS_NOTHING
    elif all(alive for _, alive in rows):
        code = STATUS_RUNNING
    else:
        code = STATUS_NOT_RUNNING
    if args.json:
        out = []
        for s, alive in rows:
            out.append(
                {
                    "name": s.name,
                    "role": s.role,
                    "address": s.address,
                    "fqdn": s.fqdn,
                    "zones": s.zones,
                    "ports": s.ports,
                    "pid": s.pid,
                    "running": alive,
                    "log": s.log,
                    "stats": service_stats(s, alive),
                    **(mail_fields(s.name) or {}),
                    **({"torrents": [str(sample_torrent(state_dir))]} if s.role == "peer" else {}),
                }
            )
        ca = state_dir / "tls" / "ca.pem"
        registered = [
            {"domain": r.domain, "servers": [list(s) for s in r.servers], "served": r.served}
            for r in _registered(state_dir).values()
        ]
        print(json.dumps({"ca": str(ca) if ca.exists() else None, "services": out,
                          "registered": registered}, indent=2))  # fmt: skip
        return code
    if not rows:
        print(nothing_here(args, state_dir))
        return code
    print(format_table(rows))
    asked = [(s, service_stats(s, alive)) for s, alive in rows]
    counters = [(s, c) for s, c in asked if c is not None]
    if counters:
        print("\ncounters (each daemon's control endpoint):")
        width = max(len(s.name) for s, _ in counters)
        for s, c in counters:
            shown = c["error"] if "error" in c else counters_text(s.role, c)
            print(f"  {s.name:<{width}}  {shown}")
    regs = _registered(state_dir)
    if regs:
        print("\nregistered domains (`minternet register`):")
        for r in regs.values():
            ns = ", ".join(f"{n} {a}" for n, a in r.servers)
            print(f"  {r.domain}  {ns}{'  (served here)' if r.served else ''}")
    dead = [s for s, alive in rows if not alive]
    if dead:
        names = ", ".join(s.name for s in dead)
        print(
            f"\nnot running: {names} (see their logs in {Path(dead[0].log).parent}; "
            "`minternet restart NAME` starts one again)"
        )
    return code


def _registered(state_dir: Path) -> dict[str, registrar.Registration]:
    try:
        return registrar.load(state_dir)
    except registrar.RegistrarError as e:
        print(f"minternet status: {e}", file=sys.stderr)
        return {}


def cmd_register(args: argparse.Namespace) -> int:
    return register_cli.register(args, find_state_dir(args, "register"))


def cmd_unregister(args: argparse.Namespace) -> int:
    return register_cli.unregister(args, find_state_dir(args, "unregister"))


def cmd_down(args: argparse.Namespace) -> int:
    state_dir = find_state_dir(args, "down")
    try:
        stopped = supervisor.down(state_dir)
    except SupervisorError as e:
        print(f"minternet down: {e}", file=sys.stderr)
        return 1
    pointer.clear(state_dir)
    if not stopped:
        print(nothing_here(args, state_dir).replace("is running", "was running", 1))
    else:
        print(f"stopped {len(stopped)} service{'' if len(stopped) == 1 else 's'}")
    return 0


def cmd_restart(args: argparse.Namespace) -> int:
    state_dir = find_state_dir(args, "restart")
    try:
        if not supervisor.read_state(state_dir):
            print(f"minternet restart: {nothing_here(args, state_dir)}", file=sys.stderr)
            return 1
        done = supervisor.restart(state_dir, args.names)
    except supervisor.UnknownService as e:
        print(f"minternet restart: {e}", file=sys.stderr)
        return 2
    except SupervisorError as e:
        print(f"minternet restart: {e}", file=sys.stderr)
        return 1
    for r in done:
        s = r.service
        if r.was_running:
            how = f"restarted (pid {r.old_pid} -> {s.pid})"
        else:
            how = f"was not running; started again (pid {s.pid})"
        print(f"{s.name}: {how}, {s.address} {_ports_text(s.ports)}")
    return 0


def cmd_zones(args: argparse.Namespace) -> int:
    topo = compose.compose_topology() if args.compose else topology.DEFAULT
    ports = topology.port_scheme(args.standard_ports or args.compose)
    if args.write:
        try:
            paths = zonegen.write_zones(topo, Path(args.write), ports)
            hints = Path(args.write) / "root.hints"
            hints.write_text(zonegen.render_root_hints(topo))
        except OSError as e:
            print(f"minternet zones: cannot write to {args.write}: {e.strerror}", file=sys.stderr)
            return 1
        for zone, path in paths.items():
            print(f"{zone:<20} {path}")
        print(f"{'(root hints)':<20} {hints}")
        return 0
    for zone in args.zone or topo.zones():
        name = zone if zone.endswith(".") else zone + "."
        try:
            print(zonegen.render_zone(topo, name, ports))
        except KeyError:
            known = " ".join(topo.zones())
            print(f"minternet zones: no such zone {zone!r} (zones: {known})", file=sys.stderr)
            return 2
    return 0


def cmd_compose(args: argparse.Namespace) -> int:
    text = compose.render()
    if args.output == "-":
        sys.stdout.write(text)
        return 0
    path = Path(args.output)
    try:
        if args.check:
            if (path.read_text() if path.exists() else "") != text:
                print(f"minternet compose: {path} is not what `minternet compose` writes: "
                      "run it again", file=sys.stderr)  # fmt: skip
                return 1
            return 0
        path.write_text(text)
    except (OSError, UnicodeDecodeError) as e:
        why = e.strerror if isinstance(e, OSError) else "not UTF-8"
        print(f"minternet compose: cannot {'read' if args.check else 'write'} {path}: {why}",
              file=sys.stderr)  # fmt: skip
        return 1
    print(f"wrote {path}: {len(topology.DEFAULT.hosts)} services and {compose.SETUP}")
    return 0


def cmd_container(args: argparse.Namespace) -> int:
    ctx = compose.context(Path(args.state_dir))
    try:
        if args.name == "prepare":
            compose.prepare(ctx)
            return 0
        return compose.run(args.name, ctx)
    except OSError as e:
        print(f"minternet container {args.name}: {e.filename or ''}: {e.strerror}",
              file=sys.stderr)  # fmt: skip
        return 1


def _standard_ports_text() -> str:
    """The standard port of each listener the topology has: "dns 53, control 8953, ..."."""
    kinds = dict.fromkeys(k for h in topology.DEFAULT.hosts for k in h.listeners)
    return ", ".join(f"{k} {topology.STANDARD_PORTS[k]}" for k in kinds)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="minternet", description=__doc__)
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def state(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--state-dir",
            default=None,
            metavar="DIR",
            help=f"the state directory `minternet up` used (default: ./{DEFAULT_STATE_DIR} if "
            "it holds a topology, else the one the last `minternet up` recorded)",
        )

    up = sub.add_parser("up", help="start every service of the topology on loopback")
    up.add_argument(
        "--state-dir",
        default=DEFAULT_STATE_DIR,
        metavar="DIR",
        help="where configs, zones, logs and pid files go (default: %(default)s)",
    )
    up.add_argument("--detach", action="store_true", help="return once every service is ready")
    up.add_argument(
        "--only",
        nargs="+",
        metavar="ROLE",
        help=f"start only these roles ({', '.join(topology.DEFAULT.roles())}) or services "
        f"({', '.join(h.name for h in topology.DEFAULT.hosts)})",
    )
    up.add_argument(
        "--standard-ports",
        action="store_true",
        help=f"use the standard ports ({_standard_ports_text()}; needs root) "
        "instead of standard + 10000",
    )
    up.add_argument(
        "--port-offset",
        type=int,
        default=topology.UNPRIVILEGED_OFFSET,
        help="unprivileged ports are standard port + this (default: %(default)s, DNS on 10053)",
    )
    up.add_argument(
        "--log-level",
        default="INFO",
        type=logs.level_arg,
        help="daemons' log level (default: INFO)",
    )
    up.add_argument(
        "--no-rrl",
        action="store_true",
        help="turn response rate limiting off on every DNS server (load tests, benchmarks)",
    )
    up.set_defaults(func=cmd_up)

    st = sub.add_parser(
        "status",
        help="show what runs where; exit 0 if every service runs, 3 if one does not, "
        "1 if nothing is recorded",
    )
    state(st)
    st.add_argument("--json", action="store_true", help="machine-readable output")
    st.set_defaults(func=cmd_status)

    dn = sub.add_parser("down", help="stop every service of the topology (detached or not)")
    state(dn)
    dn.set_defaults(func=cmd_down)

    rs = sub.add_parser("restart", help="stop one or more services and start them again")
    rs.add_argument("names", nargs="+", metavar="NAME", help="service names (`minternet status`)")
    state(rs)
    rs.set_defaults(func=cmd_restart)

    rg = sub.add_parser(
        "register",
        help="register a domain in its TLD (NS and glue, by a signed UPDATE), as a registrar "
        "does; --serve also runs its servers",
    )
    ug = sub.add_parser("unregister", help="take a registered domain's delegation out again")
    register_cli.add_arguments(rg, ug)
    state(rg)
    state(ug)
    rg.set_defaults(func=cmd_register)
    ug.set_defaults(func=cmd_unregister)

    ex = sub.add_parser("experiment", help="the course notes' experiments, measured")
    exsub = ex.add_subparsers(dest="experiment", required=True)
    p2p = exsub.add_parser(
        "p2p",
        help="file distribution, client-server vs P2P, against the notes' bounds, with plots",
    )
    experiment.add_arguments(p2p)
    p2p.set_defaults(func=experiment.main)

    cp = sub.add_parser(
        "compose", help=f"write {compose.FILENAME}: the topology in containers (docker compose)"
    )
    cp.add_argument("-o", "--output", default=compose.FILENAME, metavar="FILE", help="- : stdout")
    cp.add_argument("--check", action="store_true", help="exit 1 if FILE differs, writing nothing")
    cp.set_defaults(func=cmd_compose)

    ct = sub.add_parser(
        "container", help="(in a container of the compose file) become the daemon of host NAME"
    )
    ct.add_argument(
        "name", metavar="NAME", help=f"a host (`minternet status`), {compose.SETUP} or prepare"
    )
    ct.add_argument("--state-dir", default=str(compose.STATE_DIR), metavar="DIR")
    ct.set_defaults(func=cmd_container)

    zs = sub.add_parser("zones", help="print (or --write) the generated zone files")
    zs.add_argument("zone", nargs="*", help="zones to print (default: all)")
    zs.add_argument("--write", metavar="DIR", help="write every zone and the root hints to DIR")
    zs.add_argument("--standard-ports", action="store_true")
    zs.add_argument(
        "--compose",
        action="store_true",
        help=f"as the containers serve them (addresses in {compose.NETWORK}, standard ports)",
    )
    zs.set_defaults(func=cmd_zones)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    console.setup()
    args = build_parser().parse_args(argv)
    return console.piped(lambda: int(args.func(args)))


if __name__ == "__main__":
    sys.exit(main())
