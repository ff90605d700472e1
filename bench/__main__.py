"""`make bench`: run every benchmark in turn (or those named), each beside its reference program.

python -m bench                 # all of them
python -m bench dns_auth        # one
"""

from __future__ import annotations

import importlib
import sys
import time

BENCHMARKS = (
    "dns_auth",  # authoritative qps vs NSD (dnsperf)
    "zone_load",  # time and memory to load a 100,000-record zone
    "dns_update",  # signed dynamic updates/s vs BIND (1 and 8 clients); 100,000-record AXFR vs NSD
    "dns_resolver",  # resolver cache hits vs Unbound, cold resolution, cache memory
    "dns_resolver_flood",  # legitimate clients through a random-subdomain flood, vs Unbound
    "tracker_http",  # HTTP announces/s vs opentracker (wrk)
    "tracker_udp",  # UDP announces/s vs opentracker
    "tracker_memory",  # 1,000,000 peers in 100,000 swarms
    "mail_smtp",  # SMTP accepted and stored msg/s vs Postfix (smtp-source)
    "mail_imap",  # IMAP steps vs Dovecot: APPEND, SELECT, FETCH, SEARCH, STORE, 50 sessions
    "mail_memory",  # 10 mailboxes of 100,000 messages
    "mail_queue_memory",  # the outbound queue holding 100,000 deferred messages
    "mail_relay",  # submission to stored at the next server vs Postfix -> Postfix
    "peer_throughput",  # one seeder to one downloader vs libtorrent and aria2c
    "peer_memory",  # a 4 GiB download; a seed under 200 connections
    "p2p_experiment",  # the notes' client-server vs P2P distribution times vs their bounds
)


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    failed = []
    for name in names:
        print(f"\n=== bench.{name} ===", flush=True)
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as e:
            print(f"bench.{name}: not available ({e})")
            failed.append(name)
            continue
        t0 = time.monotonic()
        status = module.main([])
        print(f"=== bench.{name}: exit {status} in {time.monotonic() - t0:.1f} s", flush=True)
        if status:
            failed.append(name)
    if failed:
        print(f"\nfailed or unavailable: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
