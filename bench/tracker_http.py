"""HTTP announces per second: wrk against opentracker and against our tracker, same run.

wrk (Debian `wrk`) runs a Lua script that picks one of 1,000 info_hashes, a random peer_id and
port per request, `left=1000&compact=1&numwant=50`, keep-alive (opentracker closes after every
reply anyway). Ours runs as `minternet up` runs it (uvloop), with the per-IP rate limit off
(all load comes from 127.0.0.1) and the 1,000 hashes whitelisted like opentracker's.
Every peer_id is new, so the swarms grow during a run: each run gets a freshly started
tracker (empty swarms), and `--rounds` runs alternate (opentracker, ours, opentracker, ours,
...). Every run is printed, then the median and the best of each side and the ratios: the
same treatment for both.

    python -m bench.tracker_http [--duration 10] [--rounds 3] [--connections 64] [--threads 2]
                                 [--aiohttp]
"""

from __future__ import annotations

import argparse
import functools
import re
import shutil
import subprocess
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path

from bench.procs import free_port
from bench.rounds import alternate, summary
from bench.tracker_common import hashes, opentracker, ours

LUA = r"""
local hashes = {}
local function enc(hex)
  return (hex:gsub("..", function(b) return "%" .. b end))
end
init = function(args)
  for line in io.lines(args[1]) do hashes[#hashes + 1] = enc(line) end
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end
request = function()
  local h = hashes[math.random(#hashes)]
  local pid = {}
  for i = 1, 20 do pid[i] = string.format("%%%02X", math.random(0, 255)) end
  local path = "/announce?info_hash=" .. h .. "&peer_id=" .. table.concat(pid) ..
    "&port=" .. math.random(1025, 65535) .. "&uploaded=0&downloaded=0&left=1000" ..
    "&compact=1&numwant=50"
  return wrk.format("GET", path)
end
"""

HOST = "127.0.0.1"


def run_wrk(url: str, script: Path, hashfile: Path, args: argparse.Namespace) -> float:
    cmd = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{args.duration}s",
        "-s",
        str(script),
        url,
        "--",
        str(hashfile),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.duration + 30).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m:
        raise RuntimeError(f"wrk printed no rate:\n{out}")
    lat = re.search(r"Latency\s+(\S+)", out)
    print(f"  {url}: {float(m.group(1)):,.0f} req/s, avg latency {lat.group(1) if lat else '?'}")
    return float(m.group(1))


def check(url: str, h: bytes) -> int:
    """Peers returned to one more announce: proves the swarms were filled."""
    q = "".join(f"%{b:02x}" for b in h)
    with urllib.request.urlopen(
        f"{url}?info_hash={q}&peer_id=-CHECK-0000000000000&port=1&left=1&compact=1&numwant=50",
        timeout=5,
    ) as r:
        body = r.read()
    m = re.search(rb"5:peers(\d+):", body)
    return int(m.group(1)) // 6 if m else -1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--rounds", type=int, default=3, help="runs of each tracker (default 3)")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--aiohttp", action="store_true", help="also run ours on aiohttp's server")
    args = p.parse_args(argv)
    for prog in ("wrk", "opentracker"):
        if not shutil.which(prog):
            print(f"{prog} not found: apt-get install {prog}")
            return 2
    hs = hashes(1000)
    with tempfile.TemporaryDirectory(prefix="trkbench-") as d:
        work = Path(d)
        script = work / "announce.lua"
        script.write_text(LUA)
        hashfile = work / "hashes.txt"
        hashfile.write_text("".join(h.hex() + "\n" for h in hs))
        config = f'rate_per_ip = 0.0\nwhitelist_file = "{hashfile}"\n'

        def reference() -> float:
            port = free_port(HOST)
            with opentracker(HOST, port, None, hs):
                url = f"http://{HOST}:{port}/announce"
                rate = run_wrk(url, script, hashfile, args)
                print(f"  check: opentracker returned {check(url, hs[0])} peers")
            return rate

        def mine(label: str, server: str) -> float:
            cfg = config + f'http_server = "{server}"\n'
            with ours(HOST, free_port(HOST), None, cfg, work) as ports:
                url = f"http://{HOST}:{ports['http']}/announce"
                rate = run_wrk(url, script, hashfile, args)
                print(f"  check: {label} returned {check(url, hs[0])} peers")
            return rate

        variants = [("ours", "builtin")] + ([("ours-aiohttp", "aiohttp")] if args.aiohttp else [])
        measures: list[tuple[str, Callable[[], float]]] = [("opentracker", reference)]
        measures += [(label, functools.partial(mine, label, srv)) for label, srv in variants]
        runs = alternate(args.rounds, measures)
    print()
    print(summary(runs, "opentracker", "announces/s", ">= 50%"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
