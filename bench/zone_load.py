"""Zone loading: time and peak memory to load a master file of 100,000 records.

Each measurement runs in a fresh child process (peak RSS = ru_maxrss of that child), for our
loader and, as the reference, for NSD's zone compiler (`nsd-checkzone`), on the same file.
Targets: under 5 s and 300 MB.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

CHILD = """
import json, resource, sys, time
t0 = time.perf_counter()
from dnsserver.zoneset import load_zones
zones = load_zones([sys.argv[1]], pause_gc=True)
elapsed = time.perf_counter() - t0
zone = next(iter(zones))
print(json.dumps({"seconds": elapsed, "names": len(zone.nodes),
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def write_zone(path: Path, records: int) -> None:
    """A realistic mix: mostly A, with AAAA, MX, TXT and CNAME records."""
    with path.open("w") as f:
        f.write("$ORIGIN big.test.\n$TTL 3600\n")
        f.write("@ IN SOA ns1 hostmaster ( 1 7200 3600 1209600 300 )\n@ IN NS ns1\n")
        f.write("ns1 IN A 192.0.2.1\n")
        for i in range(records - 3):
            kind = i % 10
            if kind < 6:
                f.write(f"h{i} IN A 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}\n")
            elif kind == 6:
                f.write(f"h{i} IN AAAA 2001:db8::{i >> 16:x}:{i & 0xFFFF:x}\n")
            elif kind == 7:
                f.write(f"h{i} IN MX 10 h{i - 1}\n")
            elif kind == 8:
                f.write(f'h{i} IN TXT "record {i}"\n')
            else:
                f.write(f"h{i} IN CNAME h{i - 9}\n")


def ours(path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, timeout=300
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    result: dict[str, float] = json.loads(out.stdout)
    return result


def nsd_checkzone(path: Path) -> dict[str, float] | None:
    if shutil.which("nsd-checkzone") is None:
        return None
    t0 = time.perf_counter()
    subprocess.run(["nsd-checkzone", "big.test", str(path)], check=True, capture_output=True)
    elapsed = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"seconds": elapsed, "maxrss_mb": rss}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.zone_load", description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-zone-") as d:
        path = Path(d) / "big.test.zone"
        write_zone(path, args.records)
        ref = nsd_checkzone(path)
        mine = ours(path)
    if ref is not None:
        print(f"nsd-checkzone: {ref['seconds']:.2f} s, peak RSS {ref['maxrss_mb']:.0f} MB")
    print(
        f"ours ({args.records:,} records, {mine['names']:,.0f} names): {mine['seconds']:.2f} s, "
        f"peak RSS {mine['maxrss_mb']:.0f} MB (targets: < 5 s, < 300 MB)"
    )
    if ref is not None:
        print(f"ratio: ours takes {mine['seconds'] / ref['seconds']:.1f}x NSD's time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
