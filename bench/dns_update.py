"""Dynamic updates applied durably, and a 100,000-record AXFR: ours beside BIND and NSD.

1. Updates per second: BIND 9 `named` and our dnsserver each serve a small dynamic zone
   (dyn.test: SOA, NS, one A) updatable with one TSIG key (hmac-sha256), journal on disk;
   both fsync the journal before answering (BIND by default, ours always). An nsupdate-like
   client (dnspython) sends UPDATEs that add ONE A record each, TSIG-signed, over UDP (as
   nsupdate does for small updates; 3 tries of 3 s, TCP on truncation) and waits for each
   answer (NOERROR, signature checked). The messages are built and signed before the clock
   starts, so the client's Python costs little beside the servers'. Measured with 1 client
   (sequential, as nsupdate) and with 8 concurrent clients (threads), `--updates` per
   configuration (bounded by `--max-seconds` too): BIND 1 client, ours 1 client, BIND 8
   clients, ours 8 clients; each client count on freshly started servers and a fresh copy
   of the zone (both servers slow down as the zone grows). Afterwards each zone is
   transferred to check that every acknowledged record is there. Target: at least BIND's
   rate (printed, not enforced: the exit status is 1 only when something broke).
2. AXFR of a 100,000-record zone (A, AAAA, MX, TXT): NSD and ours serve the same file; a raw
   TCP client sends the AXFR query and reads the length-prefixed messages until the closing
   SOA, adding up the header counts (only the first and last messages are parsed, after the
   clock stops), and checks the record count. `--tries` alternating runs each; the best counts.

Addresses: BIND 127.0.0.1 (named listens only on the addresses interfaces have, and lo has
only 127.0.0.1/8), ours (updates) 127.0.0.212, NSD 127.0.0.213, ours (AXFR) 127.0.0.214,
each on a free port. Every server is a child process, stopped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rdtypes.ANY.SOA
import dns.tsig
import dns.update

from bench.dns_auth import nsd_conf
from bench.procs import free_port, stop
from dnsserver import tsigkeys

DYN_ZONE = "dyn.test."
BIG_ZONE = "big.test."
DYN_RECORDS = 3  # in the zone written by write_dyn_zone
KEY_NAME = "bench-update-key"
BIND_HOST, OURS_UPDATE_HOST, NSD_HOST, OURS_AXFR_HOST = (
    "127.0.0.1",  # named binds interface addresses only: lo's
    "127.0.0.212",
    "127.0.0.213",
    "127.0.0.214",
)
UDP_TIMEOUT = 3.0  # nsupdate -u 3 (its default)
UDP_TRIES = 3  # nsupdate -r 3 (its default: 3 retries; we allow 3 tries in all)
TCP_TIMEOUT = 10.0
AXFR_TIMEOUT = 120.0  # one whole transfer
START_TIMEOUT = 60.0  # a server loading the 100,000-record zone


# ---------------------------------------------------------------------------------------------
# zones


def write_dyn_zone(path: Path) -> None:
    """The small zone (DYN_RECORDS records) the update servers start from."""
    records = [
        "@ IN SOA ns1 hostmaster ( 1 7200 3600 1209600 300 )",
        "@ IN NS ns1",
        "ns1 IN A 127.0.0.1",
    ]
    path.write_text(f"$ORIGIN {DYN_ZONE}\n$TTL 3600\n" + "\n".join(records) + "\n")


def write_big_zone(path: Path, records: int) -> int:
    """A zone of exactly `records` records: SOA, NS, glue, then A (60%), AAAA, MX, TXT."""
    with path.open("w") as f:
        f.write(f"$ORIGIN {BIG_ZONE}\n$TTL 3600\n")
        f.write("@ IN SOA ns1 hostmaster ( 2026120101 7200 3600 1209600 300 )\n@ IN NS ns1\n")
        f.write("ns1 IN A 192.0.2.1\n")
        for i in range(records - 3):
            kind = i % 10
            if kind < 6:
                f.write(f"h{i} IN A 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}\n")
            elif kind < 8:
                f.write(f"h{i} IN AAAA 2001:db8::{i >> 16:x}:{i & 0xFFFF:x}\n")
            elif kind == 8:
                f.write(f"h{i} IN MX 10 h{i - 1}\n")
            else:
                f.write(f'h{i} IN TXT "record {i}"\n')
    return records


# ---------------------------------------------------------------------------------------------
# servers


def soa_of(host: str, port: int, zone: str, deadline: float) -> dns.rdtypes.ANY.SOA.SOA:
    """The zone's SOA as the server answers it, waiting until it does (zone loaded)."""
    q = dns.message.make_query(zone, "SOA")
    while time.monotonic() < deadline:
        try:
            r = dns.query.udp(q, host, port=port, timeout=0.5)
        except (OSError, dns.exception.DNSException):
            time.sleep(0.1)
            continue
        if r.rcode() == dns.rcode.NOERROR and r.answer:
            return cast(dns.rdtypes.ANY.SOA.SOA, r.answer[0][0])
        time.sleep(0.1)
    raise TimeoutError(f"{host}:{port} does not answer the SOA of {zone}")


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextlib.contextmanager
def bind(tmp: Path, zone: Path, keyfile: Path, *, show: bool = True) -> Iterator[tuple[str, int]]:
    """BIND 9 `named` (foreground, as the current user) with `zone` dynamic; (host, port)."""
    host = BIND_HOST
    port = free_port(host)
    conf = tmp / "named.conf"
    conf.write_text(
        f"""include "{keyfile}";
options {{
    directory "{tmp}";
    pid-file "{tmp}/named.pid";
    session-keyfile "{tmp}/session.key";
    managed-keys-directory "{tmp}";
    dump-file "{tmp}/named.dump";
    statistics-file "{tmp}/named.stats";
    listen-on port {port} {{ {host}; }};
    listen-on-v6 {{ none; }};
    recursion no;
    notify no;
    dnssec-validation no;
    automatic-interface-scan no;
}};
controls {{ }};
zone "{DYN_ZONE.rstrip(".")}" {{
    type primary;
    file "{zone}";
    update-policy {{ grant {KEY_NAME} zonesub ANY; }};
    allow-transfer {{ 127.0.0.0/8; }};
}};
"""
    )
    log = tmp / "named.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["named", "-g", "-4", "-c", str(conf)],
            start_new_session=True,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        try:
            soa_of(host, port, DYN_ZONE, time.monotonic() + START_TIMEOUT)
        except TimeoutError:
            print(f"named did not start; its log:\n{tail(log)}", file=sys.stderr)
            raise
        version = subprocess.run(["named", "-v"], capture_output=True, text=True).stdout.strip()
        print(
            f"BIND on {host}:{port}"
            if not show
            else f"BIND ({version}): named -g -4 on {host}:{port}, worker threads: named's "
            "default (one per CPU), update-policy grant KEY zonesub ANY, journal "
            f"{zone.name}.jnl (fsynced per update)",
            flush=True,
        )
        yield host, port
    finally:
        stop(proc)


@contextlib.contextmanager
def nsd(tmp: Path, zone: Path) -> Iterator[tuple[str, int]]:
    """NSD serving `zone` (AXFR allowed to 127.0.0.0/8); yields (host, port)."""
    host = NSD_HOST
    port = free_port(host)
    conf = tmp / "nsd.conf"
    zone_name = BIG_ZONE.rstrip(".")
    conf.write_text(
        nsd_conf(tmp, host, port, zone_name, zone, "    provide-xfr: 127.0.0.0/8 NOKEY\n")
    )
    proc = subprocess.Popen(
        ["nsd", "-d", "-c", str(conf)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        try:
            soa_of(host, port, BIG_ZONE, time.monotonic() + START_TIMEOUT)
        except TimeoutError:
            print(f"NSD did not start; its log:\n{tail(tmp / 'nsd.log')}", file=sys.stderr)
            raise
        version = subprocess.run(["nsd", "-v"], capture_output=True, text=True).stderr
        print(
            f"NSD ({version.splitlines()[0]}) on {host}:{port}, server-count 1, "
            "provide-xfr 127.0.0.0/8 NOKEY",
            flush=True,
        )
        yield host, port
    finally:
        stop(proc)


@contextlib.contextmanager
def ours(
    tmp: Path,
    host: str,
    zone: Path,
    zone_name: str,
    extra: list[str],
    what: str,
    *,
    show: bool = True,
) -> Iterator[tuple[str, int]]:
    """Our dnsserver serving `zone` (with `extra` options); yields (host, port)."""
    ready = tmp / f"ours-{host}.ready"
    log = tmp / f"ours-{host}.log"
    cmd = [
        sys.executable,
        "-m",
        "dnsserver",
        "serve",
        "--zone",
        str(zone),
        "--listen",
        f"{host}:0",
        "--ready-file",
        str(ready),
        "--no-rrl",
        "--log-level",
        "WARNING",
        *extra,
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, start_new_session=True, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                print(f"dnsserver did not start; its log:\n{tail(log)}", file=sys.stderr)
                raise RuntimeError("dnsserver did not start")
            time.sleep(0.05)
        port = int(json.loads(ready.read_text())["ports"]["dns"])
        soa_of(host, port, zone_name, deadline)
        shown = " ".join(Path(a).name if a.startswith("/") else a for a in cmd[3:])
        print(
            f"ours on {host}:{port}"
            if not show
            else f"ours (dnsserver, Python {sys.version.split()[0]}) on {host}:{port}: "
            f"{what}\n  dnsserver {shown}",
            flush=True,
        )
        yield host, port
    finally:
        stop(proc)
        problems = [line for line in tail(log, 50).splitlines() if line.strip()]
        if problems:
            print(f"ours ({host}) logged (last lines):\n  " + "\n  ".join(problems[-10:]))


# ---------------------------------------------------------------------------------------------
# updates


@dataclass(slots=True)
class Prepared:
    """One UPDATE, signed: the message (its MAC checks the answer's signature) and its wire."""

    message: dns.update.UpdateMessage
    wire: bytes
    mac: bytes


@dataclass(slots=True)
class UpdateRun:
    clients: int
    sent: int = 0
    noerror: int = 0
    seconds: float = 0.0
    rcodes: Counter[str] = field(default_factory=Counter)
    udp_retries: int = 0
    tcp_retries: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.noerror / self.seconds if self.seconds > 0 else 0.0


def prepare(key: dns.tsig.Key, prefix: str, clients: int, count: int) -> list[list[Prepared]]:
    """`count` signed UPDATEs, each adding one A record, dealt out to `clients`."""
    per: list[list[Prepared]] = [[] for _ in range(clients)]
    for i in range(count):
        u = dns.update.UpdateMessage(DYN_ZONE, keyring=key, keyalgorithm=dns.tsig.HMAC_SHA256)
        u.add(f"{prefix}{i}", 300, "A", f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}")
        wire = u.to_wire()
        if u.mac is None:
            raise RuntimeError("dnspython did not sign the UPDATE")
        per[i % clients].append(Prepared(u, wire, u.mac))
    return per


def exchange(
    sock: socket.socket,
    host: str,
    port: int,
    key: dns.tsig.Key,
    p: Prepared,
    run: UpdateRun,
    lock: threading.Lock,
) -> int:
    """Send one UPDATE as nsupdate would (UDP, retries, TCP on truncation); its rcode."""
    for attempt in range(UDP_TRIES):
        if attempt:
            with lock:
                run.udp_retries += 1
        sock.send(p.wire)
        end = time.monotonic() + UDP_TIMEOUT
        while (remaining := end - time.monotonic()) > 0:
            sock.settimeout(remaining)
            try:
                data = sock.recv(65535)
            except TimeoutError:
                break
            if len(data) < 12 or data[:2] != p.wire[:2] or not data[2] & 0x80:
                continue  # not the answer to this message (a late one to an earlier try)
            r = dns.message.from_wire(data, keyring=key, request_mac=p.mac)
            if r.flags & dns.flags.TC:
                with lock:
                    run.tcp_retries += 1
                r = dns.query.tcp(p.message, host, port=port, timeout=TCP_TIMEOUT)
            return int(r.rcode())
    raise TimeoutError(f"no answer after {UDP_TRIES} tries of {UDP_TIMEOUT:.0f} s")


def run_updates(
    host: str, port: int, key: dns.tsig.Key, work: list[list[Prepared]], max_seconds: float
) -> UpdateRun:
    """Every client (a thread) sends its UPDATEs one after the other; all start together."""
    run = UpdateRun(clients=len(work))
    lock = threading.Lock()
    go = threading.Barrier(len(work) + 1)
    deadline = [0.0]

    def client(mine: list[Prepared]) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect((host, port))
            go.wait()
            for p in mine:
                if time.monotonic() > deadline[0]:
                    return
                try:
                    rcode = exchange(sock, host, port, key, p, run, lock)
                except (OSError, dns.exception.DNSException) as e:
                    with lock:
                        run.sent += 1
                        run.errors.append(f"{type(e).__name__}: {e}")
                    if len(run.errors) > 20:
                        return
                    continue
                with lock:
                    run.sent += 1
                    run.rcodes[dns.rcode.to_text(dns.rcode.Rcode.make(rcode))] += 1
                    if rcode == dns.rcode.NOERROR:
                        run.noerror += 1

    threads = [threading.Thread(target=client, args=(w,), daemon=True) for w in work]
    for t in threads:
        t.start()
    deadline[0] = time.monotonic() + max_seconds
    t0 = time.perf_counter()
    go.wait(timeout=30)
    for t in threads:
        t.join(max_seconds + UDP_TRIES * UDP_TIMEOUT + TCP_TIMEOUT + 30)
    run.seconds = time.perf_counter() - t0
    if any(t.is_alive() for t in threads):
        run.errors.append("a client thread did not finish")
    return run


def show_run(label: str, run: UpdateRun) -> None:
    extra = ""
    if run.udp_retries or run.tcp_retries:
        extra += f", {run.udp_retries} UDP retries, {run.tcp_retries} TCP retries"
    others = {k: v for k, v in run.rcodes.items() if k != "NOERROR"}
    if others:
        extra += f", other answers: {others}"
    if run.errors:
        extra += f", {len(run.errors)} errors (first: {run.errors[0]})"
    print(
        f"  {label}, {run.clients} client(s): {run.noerror:,} NOERROR of {run.sent:,} sent "
        f"in {run.seconds:.2f} s = {run.rate:,.0f} updates/s{extra}",
        flush=True,
    )


# ---------------------------------------------------------------------------------------------
# AXFR


@dataclass(slots=True)
class Axfr:
    seconds: float
    records: int  # answer records, the closing SOA included
    messages: int
    octets: int


def _read_exact(f: BinaryIO, n: int) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise ConnectionError("connection closed in the middle of the transfer")
    return data


def raw_axfr(host: str, port: int, zone: str, soa: dns.rdtypes.ANY.SOA.SOA) -> Axfr:
    """One AXFR over TCP, timed from connect to the message ending with the closing SOA.

    Each message's header is checked (ID, QR, RCODE) and its answer count added up; a message
    is the last one when it ends with the SOA's five numbers and is not the first RR; after
    the clock stops, the first and the last messages are parsed: SOA first and last."""
    q = dns.message.make_query(zone, dns.rdatatype.AXFR)
    wire = q.to_wire()
    numbers = struct.pack("!5I", soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum)
    deadline = time.monotonic() + AXFR_TIMEOUT
    records = messages = octets = 0
    first = last = b""
    t0 = time.perf_counter()
    with socket.create_connection((host, port), timeout=AXFR_TIMEOUT) as s:
        s.sendall(struct.pack("!H", len(wire)) + wire)
        f = cast(BinaryIO, s.makefile("rb", buffering=1 << 20))
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError(f"AXFR of {zone} took over {AXFR_TIMEOUT:.0f} s")
            (n,) = struct.unpack("!H", _read_exact(f, 2))
            msg = _read_exact(f, n)
            if n < 12 or msg[:2] != wire[:2] or not msg[2] & 0x80:
                raise ValueError(f"message {messages + 1}: not an answer to the AXFR query")
            if msg[3] & 0x0F:
                rcode = dns.rcode.to_text(dns.rcode.Rcode.make(msg[3] & 0x0F))
                raise ValueError(f"message {messages + 1}: rcode {rcode}")
            records += struct.unpack("!H", msg[6:8])[0]
            messages += 1
            octets += n + 2
            if not first:
                first = msg
            if msg.endswith(numbers) and records >= 2:
                last = msg
                break
        seconds = time.perf_counter() - t0
    head = dns.message.from_wire(first, one_rr_per_rrset=True)
    end = dns.message.from_wire(last, one_rr_per_rrset=True)
    if not head.answer or head.answer[0].rdtype != dns.rdatatype.SOA:
        raise ValueError("the transfer does not start with the SOA")
    if end.answer[-1].rdtype != dns.rdatatype.SOA or end.answer[-1][0] != head.answer[0][0]:
        raise ValueError("the transfer does not end with the same SOA")
    return Axfr(seconds, records, messages, octets)


# ---------------------------------------------------------------------------------------------


def update_phase(
    tmp: Path,
    keyfile: Path,
    key: dns.tsig.Key,
    clients: int,
    args: argparse.Namespace,
    *,
    show: bool,
) -> tuple[dict[str, float], list[str]]:
    """BIND and ours, each on a fresh copy of the zone: `clients` clients send their updates
    to BIND, then to ours; then every acknowledged record must be in the zone (AXFR).
    The rates by server, and what went wrong."""
    rates: dict[str, float] = {}
    broken: list[str] = []
    zones = {}
    for label in ("BIND", "ours"):
        (tmp / label).mkdir(parents=True)
        zones[label] = tmp / label / "dyn.test.zone"
        write_dyn_zone(zones[label])
    zone_arg = DYN_ZONE.rstrip(".")
    with contextlib.ExitStack() as stack:
        servers = {
            "BIND": stack.enter_context(bind(tmp / "BIND", zones["BIND"], keyfile, show=show)),
            "ours": stack.enter_context(
                ours(
                    tmp / "ours",
                    OURS_UPDATE_HOST,
                    zones["ours"],
                    DYN_ZONE,
                    [
                        "--key",
                        str(keyfile),
                        "--allow-update",
                        f"{zone_arg}={KEY_NAME}",
                        "--allow-transfer",
                        f"{zone_arg}=127.0.0.0/8",
                    ],
                    "journal fsynced before every answer",
                    show=show,
                )
            ),
        }
        runs = {}
        for label, (host, port) in servers.items():
            work = prepare(key, f"{label.lower()}-c{clients}-", clients, args.updates)
            run = run_updates(host, port, key, work, args.max_seconds)
            show_run(label, run)
            runs[label] = run
            rates[label] = run.rate
            if run.errors or run.noerror != run.sent:
                broken.append(f"{label}, {clients} client(s): not every update NOERROR")
        for label, (host, port) in servers.items():
            soa = soa_of(host, port, DYN_ZONE, time.monotonic() + 10)
            got = raw_axfr(host, port, DYN_ZONE, soa)
            want = DYN_RECORDS + runs[label].noerror + 1
            ok = got.records == want
            jnl = zones[label].with_name(zones[label].name + ".jnl")
            size = jnl.stat().st_size if jnl.exists() else 0
            print(
                f"  check {label}: serial {soa.serial}, {got.records:,} records transferred "
                f"(closing SOA included), {want:,} expected: {'ok' if ok else 'MISMATCH'}; "
                f"journal {size / 1e6:.2f} MB",
                flush=True,
            )
            if not ok:
                broken.append(f"{label}: {got.records} records after the updates, {want} expected")
    return rates, broken


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.dns_update",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--updates", type=int, default=2000, help="per run (default 2000)")
    parser.add_argument(
        "--clients", type=int, nargs="+", default=[1, 8], help="client counts (default 1 8)"
    )
    parser.add_argument("--max-seconds", type=float, default=60.0, help="per run (default 60)")
    parser.add_argument("--records", type=int, default=100_000, help="AXFR zone size")
    parser.add_argument("--tries", type=int, default=3, help="AXFRs of each server (default 3)")
    args = parser.parse_args(argv)
    for prog, package in (("named", "bind9"), ("nsd", "nsd")):
        if shutil.which(prog) is None:
            print(f"{prog} is missing: apt-get install {package}", file=sys.stderr)
            return 2
    try:
        rates, axfrs, broken = measure(args)
    except Exception:  # a server that did not start or answered wrongly: report, go on
        traceback.print_exc()
        print("bench.dns_update: broken (see the traceback above)")
        return 1
    print("\nsummary")
    print(
        f"updates/s ({args.updates:,} per run, one A record added each, TSIG hmac-sha256, UDP, "
        "journal fsynced before the answer):"
    )
    for clients in args.clients:
        b, o = rates[("BIND", clients)], rates[("ours", clients)]
        ratio = o / b if b else float("inf")
        met = "met" if ratio >= 1.0 else "NOT met"
        print(
            f"  {clients} client(s): BIND {b:,.0f}/s, ours {o:,.0f}/s = {ratio:.0%} of BIND "
            f"(target >= 100%: {met})"
        )
    print(f"AXFR of {args.records:,} records, raw TCP client (best of {args.tries}):")
    for label, runs in axfrs.items():
        each = ", ".join(f"{a.seconds:.3f}" for a in runs)
        print(
            f"  {label}: best {min(a.seconds for a in runs):.3f} s, median "
            f"{statistics.median(a.seconds for a in runs):.3f} s (runs: {each})"
        )
    nsd_best = min(a.seconds for a in axfrs["NSD"])
    ours_best = min(a.seconds for a in axfrs["ours"])
    print(f"  ours takes {ours_best / nsd_best:.1f}x NSD's time (bests)")
    if broken:
        print("\nsomething broke:\n  " + "\n  ".join(broken))
        return 1
    return 0


def measure(
    args: argparse.Namespace,
) -> tuple[dict[tuple[str, int], float], dict[str, list[Axfr]], list[str]]:
    """Both parts: the update rates by (server, clients), the AXFR runs, what went wrong."""
    rates: dict[tuple[str, int], float] = {}
    broken: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-dnsupd-") as d:
        tmp = Path(d)
        key = tsigkeys.generate(KEY_NAME, secrets.token_bytes(32))
        keyfile = tmp / "update.key"
        keyfile.write_text(key.text())
        keyfile.chmod(0o600)
        tkey = key.to_dnspython()
        print(
            f"\n1. dynamic updates: zone {DYN_ZONE} ({DYN_RECORDS} records to start), key "
            f"{KEY_NAME} (hmac-sha256), one A record added per UPDATE, UDP (tries of "
            f"{UDP_TIMEOUT:.0f} s, TCP on truncation), {args.updates:,} updates per run "
            f"(at most {args.max_seconds:.0f} s), clients {args.clients}; each client count "
            "on freshly started servers and a fresh copy of the zone",
            flush=True,
        )
        for n, clients in enumerate(args.clients):
            got_rates, problems = update_phase(
                tmp / f"updates-{clients}", keyfile, tkey, clients, args, show=n == 0
            )
            rates.update({(label, clients): rate for label, rate in got_rates.items()})
            broken += problems
        axfrs, problems = axfr_phase(tmp / "axfr", args)
        broken += problems
    return rates, axfrs, broken


def axfr_phase(tmp: Path, args: argparse.Namespace) -> tuple[dict[str, list[Axfr]], list[str]]:
    """NSD and ours serving the same big zone, AXFRed `args.tries` times each, alternately."""
    print(
        f"\n2. AXFR of a {args.records:,}-record zone ({BIG_ZONE}), raw TCP client, "
        f"best of {args.tries}",
        flush=True,
    )
    tmp.mkdir()
    big = tmp / "big.test.zone"
    write_big_zone(big, args.records)
    axfrs: dict[str, list[Axfr]] = {"NSD": [], "ours": []}
    broken: list[str] = []
    with contextlib.ExitStack() as stack:
        servers = {
            "NSD": stack.enter_context(nsd(tmp, big)),
            "ours": stack.enter_context(
                ours(
                    tmp,
                    OURS_AXFR_HOST,
                    big,
                    BIG_ZONE,
                    ["--allow-transfer", f"{BIG_ZONE.rstrip('.')}=127.0.0.0/8"],
                    "AXFR allowed to 127.0.0.0/8",
                )
            ),
        }
        soas = {
            label: soa_of(host, port, BIG_ZONE, time.monotonic() + 10)
            for label, (host, port) in servers.items()
        }
        for n in range(1, args.tries + 1):
            for label, (host, port) in servers.items():
                got = raw_axfr(host, port, BIG_ZONE, soas[label])
                ok = got.records == args.records + 1
                print(
                    f"  try {n}/{args.tries}: {label}: {got.seconds:.3f} s, "
                    f"{got.records:,} records ({'ok' if ok else 'WRONG COUNT'}, closing SOA "
                    f"included), {got.messages:,} messages, {got.octets / 1e6:.1f} MB",
                    flush=True,
                )
                if not ok:
                    broken.append(
                        f"{label}: AXFR gave {got.records} records, {args.records + 1} expected"
                    )
                axfrs[label].append(got)
    return axfrs, broken


if __name__ == "__main__":
    sys.exit(main())
