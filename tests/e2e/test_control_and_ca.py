"""Every daemon of `minternet up` has a control endpoint that `status` asks, and a certificate
from the topology's CA that `status --json` names."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest
from cryptography import x509

from minternet import topology

from .conftest import minternet

pytestmark = pytest.mark.e2e


def test_status_shows_every_daemons_counters(topology_up):
    status = minternet("status", "--json", "--state-dir", topology_up.state_dir)
    data = json.loads(status.stdout)
    for s in data["services"]:
        stats = s["stats"]
        assert stats is not None and "error" not in stats, (s["name"], stats)
    by_name = {s["name"]: s["stats"] for s in data["services"]}
    assert by_name["root"]["zones"] == 2 and "udp_queries" in by_name["root"]
    assert {"swarms", "peers", "announces"} <= set(by_name["tracker"])
    assert "cache_hits" in by_name["local-dns"]
    text = minternet("status", "--state-dir", topology_up.state_dir).stdout
    counters = text.split("\ncounters (each daemon's control endpoint):\n", 1)[1]
    lines = {line.split()[0]: line for line in counters.splitlines() if line.startswith("  ")}
    assert " udp queries " in lines["root"] and " swarms " in lines["tracker"]
    assert " cache hits " in lines["local-dns"]


def test_every_host_has_a_certificate_from_the_topologys_ca(topology_up):
    status = json.loads(minternet("status", "--json", "--state-dir", topology_up.state_dir).stdout)
    ca = x509.load_pem_x509_certificate(Path(status["ca"]).read_bytes())
    for host in topology.DEFAULT.hosts:
        pem = Path(topology_up.state_dir, "tls", f"{host.name}.pem").read_bytes()
        cert = x509.load_pem_x509_certificate(pem)
        cert.verify_directly_issued_by(ca)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert sans.get_values_for_type(x509.DNSName) == [host.fqdn.rstrip(".")]
        assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address(host.address)]
