"""SMTP delivery against Postfix: messages accepted and durably stored per second, with
Postfix's own `smtp-source` as the load generator for both, in one run.

Postfix (Debian postfix) runs as a private instance in a temporary directory: its own
config_directory, queue_directory and data_directory, `postfix -c DIR start-fg`, smtpd on a
loopback port, no chroot, DNS off, and mail for the local domain bench.test delivered by
virtual(8) into a Maildir (`virtual_mailbox_maps`: bench@bench.test -> bench/Maildir/),
so no system account is needed. The system's own Postfix is not touched. Postfix needs
root (its master refuses to run otherwise): as a normal user the benchmark runs ours only.

Ours: `mailserver serve --config FILE` with only its smtp listener, user bench@bench.test.

Load: `smtp-source -4 -d -s {1|8} -m MESSAGES -l 4096 -f a@x.test -t bench@bench.test
HOST:PORT` (persistent connections with -d), `--rounds` alternating runs per cell.
Figures per run: accepted = MESSAGES / wall time of smtp-source (every 250 after DATA);
stored = MESSAGES / time until all of them are files in the Maildir (Postfix queues first
and delivers after; ours says 250 only once the copy is durable, so for ours the two are
the same up to the directory listing). Target: ours at least Postfix's rate.

    python -m bench.mail_smtp [--quick] [--messages 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from bench.mail_common import (
    DOMAIN,
    HOST,
    count_files,
    free_tcp_port,
    have,
    ours_setup,
    running_ours,
    wait_greeting,
)
from bench.procs import stop

RECIPIENT = f"bench@{DOMAIN}"
SMTP_SOURCE = "smtp-source"

MASTER_CF = """{host}:{port} inet n - n - - smtpd
pickup    unix  n - n 60    1 pickup
cleanup   unix  n - n -     0 cleanup
qmgr      unix  n - n 300   1 qmgr
rewrite   unix  - - n -     - trivial-rewrite
bounce    unix  - - n -     0 bounce
defer     unix  - - n -     0 bounce
trace     unix  - - n -     0 bounce
verify    unix  - - n -     1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -     - proxymap
proxywrite unix - - n -     1 proxymap
smtp      unix  - - n -     - smtp
relay     unix  - - n -     - smtp
showq     unix  n - n -     - showq
error     unix  - - n -     - error
retry     unix  - - n -     - error
discard   unix  - - n -     - discard
local     unix  - n n -     - local
virtual   unix  - n n -     - virtual
anvil     unix  - - n -     1 anvil
scache    unix  - - n -     1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


def postfix_main_cf(root: Path, uid: int, gid: int) -> str:
    return f"""# a private benchmark instance (bench/mail_smtp.py)
compatibility_level = 3.6
config_directory = {root}/conf
queue_directory = {root}/queue
data_directory = {root}/data
meta_directory = /etc/postfix
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.{DOMAIN}
mydomain = {DOMAIN}
myorigin = {DOMAIN}
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost =
default_transport = discard
relay_transport = discard
disable_dns_lookups = yes
smtp_dns_support_level = disabled
smtp_host_lookup = native
alias_maps =
alias_database =
local_recipient_maps =
virtual_mailbox_domains = {DOMAIN}
virtual_mailbox_base = {root}/vmail
virtual_mailbox_maps = texthash:{root}/conf/vmailbox
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
virtual_mailbox_limit = 0
message_size_limit = 52428800
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
"""


@contextlib.contextmanager
def postfix(
    tmp: Path, edit: Callable[[str], str] | None = None
) -> Iterator[tuple[str, int, Path, subprocess.Popen[bytes]]]:
    """A private Postfix; yields (host, port, the recipient's Maildir, the master). `edit`
    changes its main.cf (bench/mail_relay.py makes one a relay)."""
    root = tmp / "postfix"
    for d in ("conf", "queue", "data", "vmail"):
        (root / d).mkdir(parents=True, exist_ok=True)
    os.chmod(tmp, 0o755)
    nobody = pwd.getpwnam("nobody")
    owner = pwd.getpwnam("postfix")
    os.chown(root / "vmail", nobody.pw_uid, nobody.pw_gid)
    os.chown(root / "data", owner.pw_uid, owner.pw_gid)
    port = free_tcp_port()
    main_cf = postfix_main_cf(root, nobody.pw_uid, nobody.pw_gid)
    (root / "conf" / "main.cf").write_text(edit(main_cf) if edit else main_cf)
    (root / "conf" / "master.cf").write_text(MASTER_CF.format(host=HOST, port=port))
    (root / "conf" / "vmailbox").write_text(f"{RECIPIENT} bench/Maildir/\n")
    conf = str(root / "conf")
    # fatal errors go to syslog only (none here): `script` shows what `check` says
    check = subprocess.run(
        ["script", "-qc", f"postfix -c {conf} check", "/dev/null"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if check.returncode:
        raise RuntimeError(f"postfix check failed: {check.stdout}{check.stderr}")
    proc = subprocess.Popen(
        ["postfix", "-c", conf, "start-fg"],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_greeting(HOST, port, time.monotonic() + 30, proc)
        yield HOST, port, root / "vmail" / "bench" / "Maildir", proc
    except BaseException:
        log = root / "maillog"
        if log.exists():
            print(log.read_text()[-3000:], file=sys.stderr)
        raise
    finally:
        subprocess.run(
            ["postfix", "-c", conf, "stop"], capture_output=True, timeout=30, check=False
        )
        stop(proc)


def smtp_source(host: str, port: int, messages: int, sessions: int, size: int) -> float:
    """Seconds smtp-source took to have `messages` accepted over `sessions` connections."""
    cmd = [
        SMTP_SOURCE,
        "-4",
        "-d",
        "-s",
        str(sessions),
        "-m",
        str(messages),
        "-l",
        str(size),
        "-f",
        "a@x.test",
        "-t",
        RECIPIENT,
        f"{host}:{port}",
    ]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    seconds = time.perf_counter() - t0
    if out.returncode or out.stderr.strip():
        raise RuntimeError(f"{' '.join(cmd)}: status {out.returncode}\n{out.stderr[-2000:]}")
    return seconds


def wait_stored(maildir: Path, expected: int, deadline: float) -> int:
    n = count_files(maildir)
    while n < expected and time.monotonic() < deadline:
        time.sleep(0.005)
        n = count_files(maildir)
    return n


def measure(
    label: str, host: str, port: int, maildir: Path, args: argparse.Namespace, sessions: int
) -> tuple[float, float]:
    """(accepted/s, stored/s) of one smtp-source run."""
    before = count_files(maildir)
    t0 = time.perf_counter()
    seconds = smtp_source(host, port, args.messages, sessions, args.size)
    n = wait_stored(maildir, before + args.messages, time.monotonic() + 120)
    stored = time.perf_counter() - t0
    if n != before + args.messages:
        raise AssertionError(f"{label}: {n - before} of {args.messages} messages in the Maildir")
    accepted_rate, stored_rate = args.messages / seconds, args.messages / stored
    print(
        f"  {label}, {sessions} connection(s): {accepted_rate:,.0f} accepted/s, "
        f"{stored_rate:,.0f} stored/s",
        flush=True,
    )
    return accepted_rate, stored_rate


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.mail_smtp", description=__doc__)
    p.add_argument("--quick", action="store_true", help="300 messages, one round")
    p.add_argument("--messages", type=int, default=1000, help="per smtp-source run")
    p.add_argument("--size", type=int, default=4096, help="smtp-source -l (body octets)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--connections", default="1,8")
    p.add_argument("--no-ours", action="store_true", help="Postfix only (checks this script)")
    args = p.parse_args(argv)
    if args.quick:
        args.messages, args.rounds = 300, 1
    global SMTP_SOURCE
    if shutil.which(SMTP_SOURCE) is None and os.path.exists("/usr/sbin/smtp-source"):
        SMTP_SOURCE = "/usr/sbin/smtp-source"  # not on a normal user's PATH
    missing = have(SMTP_SOURCE)
    if missing:
        print("smtp-source is missing: apt-get install postfix", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-smtp-") as d, contextlib.ExitStack() as stack:
        tmp = Path(d)
        sides: list[tuple[str, str, int, Path]] = []
        if os.geteuid() == 0 and have("postfix", "/usr/lib/postfix/sbin/virtual") is None:
            host, port, maildir, _ = stack.enter_context(postfix(tmp))
            version = subprocess.run(
                ["postconf", "-h", "mail_version"], capture_output=True, text=True, check=False
            ).stdout.strip()
            print(f"Postfix {version}: {host}:{port}, virtual(8) Maildir delivery", flush=True)
            sides.append(("Postfix", host, port, maildir))
        else:
            print("Postfix reference skipped (needs root and apt-get install postfix)")
        if not args.no_ours:
            ours = ours_setup(tmp, [RECIPIENT], kinds=("smtp",))
            stack.enter_context(running_ours(ours))
            wait_greeting(ours.host, ours.ports["smtp"], time.monotonic() + 30, ours.proc)  # type: ignore[arg-type]
            maildir = ours.state / DOMAIN / "bench" / "Maildir"
            print(f"ours: mailserver serve, smtp on {ours.host}:{ours.ports['smtp']}", flush=True)
            sides.append(("ours", ours.host, ours.ports["smtp"], maildir))
        for label, host, port, maildir in sides:  # warm-up, not counted
            measure(
                f"{label} (warm-up, not counted)",
                host,
                port,
                maildir,
                argparse.Namespace(messages=50, size=args.size),
                1,
            )
        results = []
        for sessions in [int(x) for x in args.connections.split(",")]:
            runs: dict[str, list[tuple[float, float]]] = {label: [] for label, *_ in sides}
            for r in range(1, args.rounds + 1):
                print(f"round {r}/{args.rounds}, {sessions} connection(s)", flush=True)
                for label, host, port, maildir in sides:
                    runs[label].append(measure(label, host, port, maildir, args, sessions))
            results.append(summarise(sessions, runs))
    print(f"\nsummary ({args.messages} messages of {args.size} octets per run; medians):")
    print("\n".join(results))
    return 0


def summarise(sessions: int, runs: dict[str, list[tuple[float, float]]]) -> str:
    def med(rs: list[tuple[float, float]], k: int) -> float:
        return statistics.median(r[k] for r in rs)

    lines = []
    for label, rs in runs.items():
        lines.append(
            f"{sessions} conn  {label:<8} accepted {med(rs, 0):8,.0f}/s   "
            f"stored {med(rs, 1):8,.0f}/s"
        )
    if "Postfix" in runs and "ours" in runs:
        for k, what in ((0, "accepted"), (1, "stored")):
            ratio = med(runs["ours"], k) / med(runs["Postfix"], k)
            verdict = "ok" if ratio >= 1 else "UNDER the target"
            lines.append(
                f"{sessions} conn  ours/Postfix {what}: {ratio:.0%} (target >= 100%: {verdict})"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
