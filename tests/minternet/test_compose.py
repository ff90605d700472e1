"""docker-compose.yml from the topology: the checked-in file is what `minternet compose`
writes, every host is a service at its container address, the zones carry those addresses, and
the containers' daemons are told what the published ports need (certificates naming both
addresses, the seeder's announced address, the resolver's clients)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from cryptography import x509

from dnsserver.cli import build_parser as dns_parser
from dnsserver.resolver_cli import build_config as resolver_config
from minternet import compose, topology, zonegen
from minternet.cli import main
from minternet.launch import LaunchContext, command_for
from peer import cli as peer_cli
from peer.metainfo import from_bytes

ROOT = Path(__file__).resolve().parents[2]
TOPO = topology.DEFAULT


def test_the_checked_in_compose_file_is_what_minternet_compose_writes() -> None:
    assert (ROOT / compose.FILENAME).read_text() == compose.render(), "run `minternet compose`"


def test_minternet_compose_writes_and_checks_the_file(tmp_path, capsys) -> None:
    path = tmp_path / "docker-compose.yml"
    assert main(["compose", "--check", "-o", str(path)]) == 1
    assert f"{path} is not what `minternet compose` writes" in capsys.readouterr().err
    assert main(["compose", "-o", str(path)]) == 0
    assert capsys.readouterr().out == f"wrote {path}: 18 services and setup\n"
    assert path.read_text() == compose.render()
    assert main(["compose", "--check", "-o", str(path)]) == 0
    path.write_text(compose.render() + "# edited\n")
    assert main(["compose", "--check", "-o", str(path)]) == 1


@pytest.mark.parametrize(
    ("loopback", "container"),
    [("127.0.0.2", "10.53.0.2"), ("127.0.0.41", "10.53.0.41"), ("127.0.1.60", "10.53.0.60")],
)
def test_a_host_keeps_its_last_octet_on_the_containers_network(loopback, container) -> None:
    assert compose.container_address(loopback) == container


def test_the_compose_topology_moves_every_host_and_adds_the_networks_reverse_zone() -> None:
    moved = compose.compose_topology()
    assert compose.reverse_zone() == "0.53.10.in-addr.arpa."
    for before, after in zip(TOPO.hosts, moved.hosts, strict=True):
        assert after.address == compose.container_address(before.address)
        assert (after.name, after.fqdn, after.role) == (before.name, before.fqdn, before.role)
    assert moved.host("dns-reverse").zones == (
        *TOPO.host("dns-reverse").zones,
        compose.reverse_zone(),
    )
    assert moved.zones() == [*TOPO.zones(), compose.reverse_zone()]
    ports = topology.port_scheme(standard=True)
    hamburger = zonegen.render_zone(moved, "hamburger.edu.", ports)
    assert "mail IN A 10.53.0.41" in hamburger and "www IN A 127.0.1.41" in hamburger
    reverse = zonegen.render_zone(moved, compose.reverse_zone(), ports)
    assert "41 IN PTR mail.hamburger.edu." in reverse and "2 IN PTR dns.nyu.edu." in reverse
    assert "0.53.10 IN NS a.iana-servers.net." in zonegen.render_zone(moved, "in-addr.arpa.", ports)
    assert "10.53.0.10" in zonegen.render_root_hints(moved)


def test_only_what_users_need_is_published_on_loopback() -> None:
    text = compose.render()
    published = sorted(line.strip()[3:-1] for line in text.splitlines() if '- "127.' in line)
    assert published == sorted(
        ["127.0.0.2:53:53/udp", "127.0.0.2:53:53/tcp"]
        + [f"127.0.0.{n}:{p}:{p}/tcp" for n in (40, 41) for p in (25, 587, 465, 143, 993, 110, 995)]
        + ["127.0.0.50:6969:6969/tcp", "127.0.0.50:6969:6969/udp", "127.0.0.60:6881:6881/tcp"]
    )
    assert ":8953" not in text  # control ports stay inside
    assert compose.published() == {
        "local-dns": "127.0.0.2", "mail-crepes": "127.0.0.40", "mail-hamburger": "127.0.0.41",
        "tracker": "127.0.0.50", "seeder": "127.0.0.60",
    }  # fmt: skip


def _service(name: str) -> list[str]:
    """The lines of one service of the compose file."""
    lines = compose.render().splitlines()
    start = lines.index(f"  {name}:")
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith("    "))
    return lines[start:end]


def test_each_service_waits_for_what_it_needs_and_has_a_healthcheck() -> None:
    bob = "\n".join(_service("mail-hamburger"))
    assert '    command: ["container", "mail-hamburger"]' in bob
    assert '        ipv4_address: "10.53.0.41"' in bob and '    dns: ["10.53.0.2"]' in bob
    assert '      - "mail-hamburger:/var/lib/minternet/mail-hamburger"' in bob
    assert '      - "tls:/var/lib/minternet/tls"' in bob
    assert (
        "      setup:\n        condition: service_completed_successfully\n"
        "      local-dns:\n        condition: service_healthy"
    ) in bob
    check = '["CMD", "test", "-f", "/var/lib/minternet/mail-hamburger/ready.json"]'
    assert f"      test: {check}" in bob
    dns2 = "\n".join(_service("dns-networkutopia2"))
    assert "      dns-networkutopia:\n        condition: service_healthy" in dns2
    seeder = "\n".join(_service("seeder"))
    assert "tracker:\n        condition: service_healthy" in seeder
    root = "\n".join(_service("root"))
    assert "local-dns:" not in root and "/var/lib/minternet/root/ready.json" in root
    assert "mail-" not in root  # only the mail hosts have a mail volume
    assert "\nvolumes:\n  tls:\n  keys:\n  mail-crepes:\n  mail-hamburger:\n" in compose.render()


def test_the_containers_state_folders_are_made_and_setup_makes_the_ca_and_keys(tmp_path) -> None:
    ctx = compose.context(tmp_path)
    compose.prepare(ctx)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["tls", "keys", *(h.name for h in TOPO.hosts)]
    )
    assert compose.run(compose.SETUP, ctx) == 0
    assert (tmp_path / "tls" / "ca.pem").exists() and (tmp_path / "tls" / "ca.key").exists()
    keys = sorted(p.name for p in (tmp_path / "keys").iterdir())
    assert "registrar.key" in keys and "root.key" in keys and "networkutopia.com.key" in keys
    assert "0.53.10.in-addr.arpa.key" in keys


def test_an_unknown_host_is_refused(tmp_path, capsys) -> None:
    assert compose.run("nope", compose.context(tmp_path)) == 2
    assert "minternet container: no host 'nope' (hosts: setup local-dns root" in (
        capsys.readouterr().err
    )


def test_a_containers_daemon_listens_on_its_container_address_and_standard_ports(tmp_path):
    ctx = compose.context(tmp_path)
    argv = command_for(ctx.topology.host("root"), ctx)
    assert argv[argv.index("--listen") + 1] == "10.53.0.10:53"
    assert argv[argv.index("--control") + 1] == "10.53.0.10:8953"
    assert argv[argv.index("--rrl-exempt") + 1] == "10.53.0.2"


def test_published_hosts_certificates_name_both_addresses(tmp_path) -> None:
    ctx = compose.context(tmp_path)
    issued = ctx.certificate(ctx.topology.host("mail-hamburger"))
    cert = x509.load_pem_x509_certificate(issued.cert.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(a) for a in sans.get_values_for_type(x509.IPAddress)] == [
        "10.53.0.41",
        "127.0.0.41",
    ]
    root = ctx.certificate(ctx.topology.host("root"))
    cert = x509.load_pem_x509_certificate(root.cert.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(a) for a in sans.get_values_for_type(x509.IPAddress)] == ["10.53.0.10"]


def test_the_seeder_announces_its_published_address_and_the_tracker_trusts_it(tmp_path):
    ctx = compose.context(tmp_path)
    seeder = command_for(ctx.topology.host("seeder"), ctx)
    args = peer_cli.build_parser().parse_args(seeder[3:])
    assert args.announce_ip == "127.0.0.60" and args.listen == "10.53.0.60:6881"
    meta = from_bytes(Path(args.torrent).read_bytes())
    # clients outside reach the tracker at its published address; the seeder, inside, next tier
    assert meta.trackers == (
        ("http://127.0.0.50:6969/announce",),
        ("http://10.53.0.50:6969/announce",),
    )
    tracker = command_for(ctx.topology.host("tracker"), ctx)
    config = Path(tracker[tracker.index("--config") + 1])
    assert tomllib.loads(config.read_text()) == {"trusted_proxies": ["10.53.0.60"]}


def test_the_local_dns_server_answers_the_containers_network(tmp_path) -> None:
    ctx = compose.context(tmp_path)
    argv = command_for(ctx.topology.host("local-dns"), ctx)
    cfg = resolver_config(dns_parser().parse_args(argv[3:]))
    assert list(cfg.allow) == ["127.0.0.0/8", "::1/128", "10.53.0.0/24"]


def test_minternet_up_tells_no_daemon_of_published_addresses(tmp_path) -> None:
    ctx = LaunchContext(TOPO, tmp_path, topology.port_scheme(False))
    for name in ("seeder", "tracker", "local-dns"):
        argv = command_for(TOPO.host(name), ctx)
        assert "--announce-ip" not in argv and "--config" not in argv, name
    meta = from_bytes((tmp_path / "torrents" / "sample.torrent").read_bytes())
    assert meta.trackers == (("http://127.0.0.50:16969/announce",),)


def test_minternet_zones_prints_the_zones_the_containers_serve(capsys) -> None:
    assert main(["zones", "--compose", "hamburger.edu"]) == 0
    text = capsys.readouterr().out
    assert "mail IN A 10.53.0.41" in text and "_imaps._tcp IN SRV 0 1 993 mail" in text
    assert main(["zones", "--compose", "0.53.10.in-addr.arpa."]) == 0
    assert "41 IN PTR mail.hamburger.edu." in capsys.readouterr().out
    assert main(["zones", "hamburger.edu"]) == 0
    assert "mail IN A 127.0.0.41" in capsys.readouterr().out
