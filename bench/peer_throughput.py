"""One seeder to one downloader on loopback: ours -> ours, libtorrent -> libtorrent and
aria2c -> aria2c in the same run, through our tracker.

The file (random bytes, `--size` MiB, 512 by default as in shared/anchors.md) and its v1
torrent (256 KiB pieces, made by `peer create`) are made once; each run starts a fresh seeder
with the data in the page cache, then times the downloader process from start to exit after
completion and the SHA-1 check of every piece (what the anchors measure: process start,
announce and connect included). Every download is compared with the file (SHA-256). Rounds
alternate libtorrent, aria2c, ours; every run is printed, then the medians and our ratio to
each (the target: at least 50% of libtorrent).

    python -m bench.peer_throughput [--size 512] [--rounds 3] [--quick]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.peer_common import swarm_files
from bench.procs import free_port, stop
from bench.rounds import alternate, summary

SYSTEM_PYTHON = "/usr/bin/python3"
# libtorrent (the system python3's, Debian python3-libtorrent) as anchors.md ran it: TCP only,
# encryption allowed, DHT/LSD/UPnP/NAT-PMP off; a download exits once every piece checks out.
LT_PEER = """
import sys, time, libtorrent as lt
mode, torrent, folder, host, port = sys.argv[1:6]
ses = lt.session({"listen_interfaces": f"{host}:{port}", "outgoing_interfaces": host,
    "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
    "enable_incoming_utp": False, "enable_outgoing_utp": False,
    "allow_multiple_connections_per_ip": True, "in_enc_policy": 1, "out_enc_policy": 1})
atp = lt.add_torrent_params()
atp.ti = lt.torrent_info(torrent)
atp.save_path = folder
if mode == "seed":
    atp.flags |= lt.torrent_flags.seed_mode
handle = ses.add_torrent(atp)
deadline = time.monotonic() + 600
while time.monotonic() < deadline:
    if mode == "download" and handle.status().is_seeding:
        sys.exit(0)
    time.sleep(0.02)
sys.exit(1)
"""
ARIA = [
    "aria2c",
    "--enable-dht=false",
    "--enable-dht6=false",
    "--bt-enable-lpd=false",
    "--enable-peer-exchange=false",
    "--disable-ipv6=true",
    "--bt-require-crypto=false",
    "--bt-min-crypto-level=plain",
    "--summary-interval=0",
    "--console-log-level=warn",
    "--file-allocation=none",
    "--allow-overwrite=true",
]
SEEDER, DOWNLOADER = "127.0.0.101", "127.0.0.102"


def seeder(kind: str, torrent: Path, folder: Path, log: Path) -> subprocess.Popen[bytes]:
    port = str(free_port(SEEDER))
    if kind == "ours":
        argv = [sys.executable, "-m", "peer", "seed", str(torrent), str(folder)]
        argv += ["--listen", f"{SEEDER}:{port}", "--log-level", "WARNING"]
    elif kind == "libtorrent":
        argv = [SYSTEM_PYTHON, "-c", LT_PEER, "seed", str(torrent), str(folder), SEEDER, port]
    else:
        argv = [*ARIA, f"--interface={SEEDER}", f"--listen-port={port}", f"--dir={folder}"]
        argv += ["--bt-seed-unverified=true", "--seed-ratio=0.0", str(torrent)]
    out = log.open("wb")
    return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def downloader(kind: str, torrent: Path, folder: Path) -> list[str]:
    port = str(free_port(DOWNLOADER))
    if kind == "ours":
        argv = [sys.executable, "-m", "peer", "download", str(torrent), "-o", str(folder)]
        return [*argv, "--listen", f"{DOWNLOADER}:{port}", "--log-level", "WARNING"]
    if kind == "libtorrent":
        return [
            SYSTEM_PYTHON,
            "-c",
            LT_PEER,
            "download",
            str(torrent),
            str(folder),
            DOWNLOADER,
            port,
        ]
    argv = [*ARIA, f"--interface={DOWNLOADER}", f"--listen-port={port}", f"--dir={folder}"]
    return [*argv, "--seed-time=0", str(torrent)]


def measure(kind: str, torrent: Path, data: Path, work: Path, digest: bytes, size: int) -> float:
    """MiB/s of one fresh seeder -> downloader transfer of `kind`."""
    folder = work / f"dl-{kind}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    seed = seeder(kind, torrent, data.parent, work / f"seed-{kind}.log")
    try:
        time.sleep(1.5)  # the seeder verifies (or maps) its data and announces
        t0 = time.perf_counter()
        done = subprocess.run(
            downloader(kind, torrent, folder), capture_output=True, timeout=600, check=False
        )
        wall = time.perf_counter() - t0
    finally:
        stop(seed)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-2000:]
        raise RuntimeError(f"{kind} download failed: {tail!r}")
    got = folder / data.name
    with got.open("rb") as f:
        if hashlib.file_digest(f, "sha256").digest() != digest:
            raise RuntimeError(f"{kind}: the downloaded file differs")
    rate = size / wall / (1 << 20)
    print(f"  {kind}: {wall:.2f} s, {rate:.1f} MiB/s", flush=True)
    return rate


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", type=int, default=512, help="MiB (default %(default)s)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="64 MiB, one round")
    args = p.parse_args(argv)
    if args.quick:
        args.size, args.rounds = 64, 1
    kinds = ["ours"]
    if shutil.which("aria2c"):
        kinds.insert(0, "aria2c")
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import libtorrent"], capture_output=True)
    if probe.returncode == 0:
        kinds.insert(0, "libtorrent")
    work = Path(tempfile.mkdtemp(prefix="peerbench-"))
    tracker = None
    try:
        size = args.size << 20
        data, torrent, tracker = swarm_files(work, "data.bin", args.size, 1, "127.0.0.100")
        with data.open("rb") as f:
            digest = hashlib.file_digest(f, "sha256").digest()
        print(
            f"{args.size} MiB, 256 KiB pieces, one seeder -> one downloader, {args.rounds} round(s)"
        )
        measures = [(k, lambda k=k: measure(k, torrent, data, work, digest, size)) for k in kinds]
        runs = alternate(args.rounds, measures)
        reference = "libtorrent" if "libtorrent" in runs else kinds[0]
        print(summary(runs, reference, "MiB/s", "at least 50% of libtorrent"))
    finally:
        if tracker is not None:
            stop(tracker)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
