"""The README's copy-paste commands work against a running topology."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from minternet import topology
from tests.readme import code_blocks

from .conftest import E2E_PORT_OFFSET

pytestmark = [pytest.mark.e2e, pytest.mark.interop]


def readme_commands(prefix: str) -> list[str]:
    """Commands starting with `prefix` inside the README's code blocks, comments stripped."""
    blocks = code_blocks()  # not the containers' section: tests/compose runs those
    lines = [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line.startswith(prefix)]


#: Examples against the topology (not the "serve your own zones" one on 127.0.0.1).
TOPOLOGY_ADDRESSES = {h.address for h in topology.DEFAULT.hosts}
DIGS = [c for c in readme_commands("dig @") if c.split()[1][1:] in TOPOLOGY_ADDRESSES]
CURLS = readme_commands("curl http")


def test_the_readme_has_examples():
    assert len(DIGS) >= 8 and CURLS
    assert readme_commands("delv @") == ["delv @127.0.0.2 -p 10053 -i gaia.cs.umass.edu"]


def dig(command: str) -> str:
    """Run one README dig command against the test topology; returns what is wrong, or ''."""
    argv = shlex.split(command.replace("-p 10053", f"-p {53 + E2E_PORT_OFFSET}"))
    out = subprocess.run(
        [*argv, "+time=3", "+tries=1"], capture_output=True, text=True, timeout=30, check=False
    )
    if out.returncode != 0:
        return f"exit {out.returncode}: {out.stdout}{out.stderr}"
    status = re.findall(r"status: (\w+)", out.stdout)
    if not status or status[-1] not in ("NOERROR", "NXDOMAIN"):
        return out.stdout
    # "+norec ... again, from its cache": the local DNS server must answer, not refer.
    wanted = (
        r"ANSWER: [1-9]"
        if "+norec" in argv and "@127.0.0.2" in argv
        else r"(ANSWER|AUTHORITY): [1-9]"
    )
    if "nosuchhost" not in command and not re.search(wanted, out.stdout):
        return out.stdout
    return ""


@pytest.mark.skipif(shutil.which("dig") is None, reason="dig missing (bind9-dnsutils)")
def test_readme_dig_examples_in_the_readme_order(topology_up):
    # One test, in the README's order, as a user pastes them: the +norec example answers from
    # the cache that the example before it filled.
    failures = {command: why for command in DIGS if (why := dig(command))}
    assert not failures, "\n\n".join(f"{c}:\n{why}" for c, why in failures.items())


DELVS = readme_commands("delv @")


@pytest.mark.skipif(shutil.which("delv") is None, reason="delv missing (bind9-dnsutils)")
@pytest.mark.parametrize("command", DELVS)
def test_readme_delv_example(topology_up, command):
    # delv exits 0 even when it fails: the answer itself must be there, unvalidated
    argv = shlex.split(command.replace("-p 10053", f"-p {53 + E2E_PORT_OFFSET}"))
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    assert out.stdout.startswith("; answer not validated\n"), out.stdout + out.stderr
    assert re.search(r"\sIN\s+A\s+127\.0\.1\.22$", out.stdout, flags=re.M), out.stdout


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl missing (Debian package curl)")
@pytest.mark.parametrize("command", CURLS)
def test_readme_curl_example(topology_up, command):
    argv = shlex.split(command.replace(":16969", f":{6969 + E2E_PORT_OFFSET}"))
    out = subprocess.run([*argv, "-sf"], capture_output=True, text=True, timeout=30, check=False)
    assert out.returncode == 0 and out.stdout.startswith("{"), out.stdout + out.stderr


def try_commands(up_output: str) -> list[str]:
    """The commands of the "Try:" block that `minternet up` prints, comments stripped."""
    block = up_output.split("\nTry:\n", 1)[1].split("\n\n", 1)[0]
    lines = [line.split("   # ")[0].strip() for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith(("http://", "udp://"))]


def test_the_try_block_works_as_typed_in_a_shell_without_the_venv(topology_up):
    # `make up` runs .venv/bin/minternet from a shell where .venv is not active: the block
    # printed `dnsserver trace ...`, which was "command not found" as typed.
    commands = try_commands(topology_up.up_output)
    assert any("dnsserver trace" in c for c in commands), topology_up.up_output
    venv_bin = os.path.dirname(sys.executable)
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != venv_bin)
    env = {**os.environ, "PATH": path}
    failures = {}
    for command in commands:
        tool = command.split()[0]
        if tool in ("dig", "curl") and shutil.which(tool, path=path) is None:
            pytest.skip(f"{tool} is not installed")  # our own programs must always be found
        out = subprocess.run(command, shell=True, env=env, capture_output=True, text=True,
                             timeout=60, check=False)  # fmt: skip
        if out.returncode != 0:
            failures[command] = f"exit {out.returncode}\n{out.stdout}{out.stderr}"
    assert not failures, "\n\n".join(f"{c}:\n{why}" for c, why in failures.items())
