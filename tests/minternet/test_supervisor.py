"""`minternet up/status/down` mechanics with stand-in daemons that use the real service runtime."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from minternet import supervisor, topology
from minternet.launch import LaunchContext
from minternet.supervisor import SupervisorError
from minternet.topology import Host

# A stand-in daemon: binds a TCP port on its address through the real runtime and reports it.
FAKE = """
import sys
from pathlib import Path
from minternet import listen, logs, service
import asyncio
class D:
    name = sys.argv[2]
    async def start(self):
        self.server, port = await listen.open_tcp(asyncio.Protocol, sys.argv[1], 0)
        return {"echo": port}
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


@pytest.fixture
def ctx(tmp_path):
    c = LaunchContext(topology.DEFAULT, tmp_path / "state", topology.port_scheme(False))
    yield c
    supervisor.down(c.state_dir)


def test_start_status_down(ctx):
    services = supervisor.start(HOSTS, ctx, command=fake_command)
    assert [s.name for s in services] == ["alpha", "beta"]
    assert all(s.ports["echo"] > 0 for s in services)
    rows = supervisor.status(ctx.state_dir)
    assert [alive for _, alive in rows] == [True, True]
    with pytest.raises(SupervisorError, match="already running"):
        supervisor.start(HOSTS, ctx, command=fake_command)
    stopped = supervisor.down(ctx.state_dir)
    assert len(stopped) == 2
    assert supervisor.status(ctx.state_dir) == []
    for s in services:  # the stand-ins logged their own readiness and graceful stop
        log = Path(s.log).read_text()
        assert "ready" in log and "stopped" in log


def test_a_service_that_dies_is_reported_with_its_log_and_the_rest_stopped(ctx):
    hosts = [*HOSTS, Host("broken", "fake", "127.0.0.1", "broken.test.")]
    with pytest.raises(SupervisorError, match=r"broken .* exited with status 3") as e:
        supervisor.start(hosts, ctx, command=fake_command)
    assert "zone error at line 3" in str(e.value)
    assert supervisor.status(ctx.state_dir) == []


def test_select_hosts_by_role_or_name():
    topo = topology.DEFAULT
    assert {h.role for h in supervisor.select_hosts(topo, ["dns-tld"])} == {"dns-tld"}
    assert [h.name for h in supervisor.select_hosts(topo, ["root"])] == ["root"]
    assert len(supervisor.select_hosts(topo, None)) == len(topo.hosts)
    with pytest.raises(SupervisorError, match="no such role"):
        supervisor.select_hosts(topo, ["dns-nope"])
