"""Stand-in daemons for the supervisor tests: the real service runtime, one TCP listener."""

from __future__ import annotations

import sys

from minternet.launch import LaunchContext
from minternet.topology import Host

# A stand-in daemon: binds a TCP port on its address through the real runtime and reports it.
# argv: address, name, ready file, [port (default 0: any)].
FAKE = """
import sys
from pathlib import Path
from minternet import logs, service
from minternet.stream import StreamHandler, StreamLimits, StreamListener
class D:
    name = sys.argv[2]
    async def start(self):
        port = int(sys.argv[4]) if len(sys.argv) > 4 else 0
        limits = StreamLimits(max_connections=4, idle_timeout=5.0)
        self.server = StreamListener(StreamHandler, limits, throttle=logs.Throttle())
        return {"echo": await self.server.start(sys.argv[1], port)}
    async def stop(self):
        self.server.close()
logs.setup(D.name)
sys.exit(service.run(D(), ready_file=sys.argv[3]))
"""

HOSTS = [
    Host("alpha", "fake", "127.0.0.1", "alpha.test.", listeners=("echo",)),
    Host("beta", "fake", "127.0.0.1", "beta.test.", listeners=("echo",)),
]


def fake_command(host: Host, ctx: LaunchContext) -> list[str]:
    if host.name == "broken":
        return [sys.executable, "-c", "import sys; print('zone error at line 3'); sys.exit(3)"]
    return [sys.executable, "-c", FAKE, host.address, host.name, str(ctx.ready_file(host))]
