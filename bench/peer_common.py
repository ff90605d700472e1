"""What the peer benchmarks share: a file of random bytes, our tracker, and its torrent."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

from bench.procs import free_port


def swarm_files(
    work: Path, name: str, mib: int, seed: int, tracker_host: str
) -> tuple[Path, Path, subprocess.Popen[bytes]]:
    """`mib` MiB of random bytes in work/seed/name, our tracker started on `tracker_host`
    (the caller stops it), and the file's torrent made by `peer create` pointing at it:
    (the file, the torrent, the tracker's process)."""
    data = work / "seed" / name
    data.parent.mkdir(parents=True)
    rng = random.Random(seed)
    with data.open("wb") as f:
        for _ in range(mib):
            f.write(rng.randbytes(1 << 20))
    port = free_port(tracker_host)
    tracker = subprocess.Popen(
        [sys.executable, "-m", "tracker", "serve", "--listen", f"{tracker_host}:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    torrent = work / (data.stem + ".torrent")
    subprocess.run(
        [sys.executable, "-m", "peer", "create", str(data), "--tracker",
         f"http://{tracker_host}:{port}/announce", "-o", str(torrent)],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return data, torrent, tracker
