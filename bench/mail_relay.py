"""End-to-end relay against Postfix: messages a second from their submission at the sending
server until they are stored at the receiving one, two servers of each kind in one run.

- Postfix → Postfix: two private instances (bench/mail_smtp.py's): the first relays everything
  it is given (`relayhost = [127.0.0.1]:PORT`, clients of 127.0.0.0/8 may relay) to the second,
  which delivers bench@bench.test into a Maildir with virtual(8). No TLS, no login.
- ours → ours: `mailserver serve` for crepes.test (its submission port, STARTTLS and AUTH, as
  Alice's client would) queues the mail for bench.test, asks a `dnsserver serve` that is
  authoritative for bench.test for its MX (so the lookup is real DNS over UDP, answered from
  one server's zone), and hands it over (STARTTLS, opportunistic) to a second `mailserver
  serve` for bench.test, which stores it. Ours does TLS and a login that Postfix's side skips.

Load: `--connections` client threads (smtplib), `--messages` of about `--size` octets in all,
each thread one connection for its share. Time: from the first connection until every message
is a file in the recipient's Maildir. Target: ours at least Postfix's rate.

    python -m bench.mail_relay [--quick] [--messages 1000] [--connections 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import smtplib
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from bench.mail_common import (
    DOMAIN,
    HOST,
    PASSWORD,
    count_files,
    free_tcp_port,
    have,
    message,
    ours_setup,
    running_ours,
)
from bench.mail_smtp import RECIPIENT, postfix, wait_stored
from bench.procs import stop

SENDER = "alice@crepes.test"


def relay_edit(to_port: int) -> Callable[[str], str]:
    """main.cf of a Postfix that relays everything to the one on `to_port`."""

    def edit(main_cf: str) -> str:
        swaps = {
            f"myhostname = mx.{DOMAIN}": "myhostname = relay.crepes.test",
            "relayhost =": f"relayhost = [{HOST}]:{to_port}",
            "default_transport = discard": "default_transport = smtp",
            "relay_transport = discard": "relay_transport = smtp",
            f"virtual_mailbox_domains = {DOMAIN}": "virtual_mailbox_domains =",
        }
        for old, new in swaps.items():
            assert old in main_cf, old
            main_cf = main_cf.replace(old, new)
        return main_cf + "smtp_connection_cache_on_demand = yes\n"

    return edit


ZONE = """$ORIGIN {domain}.
$TTL 3600
@   SOA ns.{domain}. admin.{domain}. 1 3600 600 86400 60
@   NS  ns.{domain}.
ns  A   {host}
@   MX  10 mx.{domain}.
mx  A   {host}
"""


@contextlib.contextmanager
def dns_server(tmp: Path) -> Iterator[int]:
    """`dnsserver serve` authoritative for bench.test (its MX is mx.bench.test, 127.0.0.1)."""
    zone = tmp / "bench.zone"
    zone.write_text(ZONE.format(domain=DOMAIN, host=HOST))
    port = free_tcp_port()
    ready = tmp / "dns.ready"
    cmd = [sys.executable, "-m", "dnsserver", "serve", "--listen", f"{HOST}:{port}",
           "--zone", str(zone), "--ready-file", str(ready), "--no-rrl"]  # fmt: skip
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("dnsserver serve did not start")
            time.sleep(0.05)
        yield port
    finally:
        stop(proc)


def send(host: str, port: int, count: int, connections: int, size: int, *, login: bool,
         tls: ssl.SSLContext | None) -> None:  # fmt: skip
    """`count` messages over `connections` connections at once."""
    errors: list[BaseException] = []

    def one(c: int) -> None:
        try:
            with smtplib.SMTP(host, port, timeout=60) as s:
                if tls is not None:
                    s.starttls(context=tls)
                if login:
                    s.login(SENDER, PASSWORD)
                for i in range(c, count, connections):
                    their = f"From: Sender {i % 97} <sender{i % 97}@example.test>"
                    data = message(i, size).replace(their.encode(), f"From: {SENDER}".encode(), 1)
                    s.sendmail(SENDER, [RECIPIENT], data)
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=one, args=(c,)) for c in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{len(errors)} client(s) failed: {errors[0]!r}")


def measure(label: str, send_to: tuple[str, int], maildir: Path, args: argparse.Namespace,
            *, login: bool, tls: ssl.SSLContext | None) -> float:  # fmt: skip
    before = count_files(maildir)
    t0 = time.perf_counter()
    send(*send_to, args.messages, args.connections, args.size, login=login, tls=tls)
    n = wait_stored(maildir, before + args.messages, time.monotonic() + 300)
    seconds = time.perf_counter() - t0
    if n != before + args.messages:
        raise AssertionError(f"{label}: {n - before} of {args.messages} messages arrived")
    rate = args.messages / seconds
    print(f"  {label}: {args.messages} messages in {seconds:.2f} s = {rate:,.0f}/s", flush=True)
    return rate


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.mail_relay", description=__doc__)
    p.add_argument("--quick", action="store_true", help="200 messages, 1 round")
    p.add_argument("--messages", type=int, default=1000)
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    if args.quick:
        args.messages, args.rounds = 200, 1
    rates: dict[str, list[float]] = {"Postfix": [], "ours": []}
    with tempfile.TemporaryDirectory(prefix="bench-relay-") as d, contextlib.ExitStack() as stack:
        tmp = Path(d)
        os.chmod(tmp, 0o755)  # Postfix's own users go through it to their folders
        sides = []
        if os.geteuid() == 0 and have("postfix", "/usr/lib/postfix/sbin/virtual") is None:
            (tmp / "pb").mkdir()
            (tmp / "pa").mkdir()
            _, port_b, maildir_b, _ = stack.enter_context(postfix(tmp / "pb"))
            _, port_a, _, _ = stack.enter_context(postfix(tmp / "pa", relay_edit(port_b)))
            print(f"Postfix: relay {HOST}:{port_a} -> {HOST}:{port_b}, virtual(8) Maildir")
            sides.append(("Postfix", (HOST, port_a), maildir_b, False, None))
        else:
            print("Postfix reference skipped (needs root and apt-get install postfix)")
        dns_port = stack.enter_context(dns_server(tmp))
        receiver = ours_setup(tmp / "ob", [RECIPIENT], kinds=("smtp",))
        stack.enter_context(running_ours(receiver))
        sender = ours_setup(tmp / "oa", [SENDER], kinds=("submission",))
        text = sender.config.read_text().replace(
            f'domains = ["{DOMAIN}"]', 'domains = ["crepes.test"]'
        )
        text = text.replace(f'hostname = "mail.{DOMAIN}"', 'hostname = "mail.crepes.test"')
        text += f'[queue]\nresolver = "{HOST}:{dns_port}"\nrelay_port = {receiver.ports["smtp"]}\n'
        sender.config.write_text(text)
        stack.enter_context(running_ours(sender))
        client_tls = ssl.create_default_context(cafile=str(sender.state.parent / "tls" / "ca.pem"))
        client_tls.check_hostname = (
            False  # its certificate names mail.crepes.test, we ask 127.0.0.1
        )
        maildir = receiver.state / DOMAIN / "bench" / "Maildir"
        sub, mx = sender.ports["submission"], receiver.ports["smtp"]
        print(f"ours: submission {HOST}:{sub} -> queue -> DNS {HOST}:{dns_port} -> MX {HOST}:{mx}")
        sides.append(("ours", (HOST, sender.ports["submission"]), maildir, True, client_tls))
        for label, to, md, login, tls in sides:  # warm-up, not counted
            measure(f"{label} (warm-up, not counted)", to, md,
                    argparse.Namespace(messages=20, connections=2, size=args.size),
                    login=login, tls=tls)  # fmt: skip
        for r in range(1, args.rounds + 1):
            print(f"round {r}/{args.rounds}, {args.connections} connections", flush=True)
            for label, to, md, login, tls in sides:
                rates[label].append(measure(label, to, md, args, login=login, tls=tls))
    print(f"\nsummary ({args.messages} messages of {args.size} octets, {args.connections} "
          "connections; medians, submission to stored):")  # fmt: skip
    ours = statistics.median(rates["ours"])
    if rates["Postfix"]:
        pf = statistics.median(rates["Postfix"])
        verdict = "ok" if ours >= pf else "below the target"
        print(f"relay  Postfix {pf:,.0f}/s  ours {ours:,.0f}/s  ours/Postfix {ours / pf:.0%} "
              f"(target >= 100%: {verdict})")  # fmt: skip
    else:
        print(f"relay  ours {ours:,.0f}/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
