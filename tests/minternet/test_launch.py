"""The command lines `minternet up` builds: identity, RRL per host address, --no-rrl, the
seeder's sample and its torrent."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from dnsserver.cli import build_config, build_parser
from dnsserver.resolver_cli import build_config as resolver_config
from minternet import topology
from minternet.cli import DOWNLOADER, counters_text, peer_lines, rrl_line
from minternet.launch import LaunchContext, command_for, sample_torrent
from minternet.supervisor import Service
from peer import cli as peer_cli
from peer.metainfo import from_bytes

TOPO = topology.DEFAULT


def argv_for(name: str, tmp_path: Path, *, rrl: bool = True) -> list[str]:
    ctx = LaunchContext(TOPO, tmp_path / "state", topology.port_scheme(False), rrl=rrl)
    argv = command_for(TOPO.host(name), ctx)
    assert argv[1:3] == ["-m", "dnsserver"]
    return argv[3:]


@pytest.mark.parametrize("name", ["root", "tld-edu", "dns-umass", "dns-reverse"])
def test_dns_servers_get_their_name_as_identity_and_rrl_per_address(tmp_path, name):
    cfg = build_config(build_parser().parse_args(argv_for(name, tmp_path)))
    assert cfg.identity == TOPO.host(name).fqdn.rstrip(".")
    assert not cfg.hide_identity and not cfg.hide_version
    assert cfg.rrl.enabled and cfg.rrl.ipv4_prefix == 32 and cfg.rrl.rate == 200
    # the topology's local DNS server is a known resolver: exempt, and no one else is
    assert cfg.rrl.exempt == tuple(h.address for h in TOPO.hosts if h.role == "resolver")
    assert cfg.rrl.exempt == ("127.0.0.2",)


def test_no_rrl_reaches_every_dns_server(tmp_path):
    for host in TOPO.hosts:
        if host.role.startswith("dns-"):
            argv = argv_for(host.name, tmp_path, rrl=False)
            assert not build_config(build_parser().parse_args(argv)).rrl.enabled, host.name


def test_the_local_dns_server_gets_its_name_as_identity(tmp_path):
    cfg = resolver_config(build_parser().parse_args(argv_for("local-dns", tmp_path)))
    assert cfg.identity == "dns.nyu.edu" and not cfg.hide_identity


def service(name: str) -> Service:
    h = TOPO.host(name)
    return Service(h.name, h.role, h.address, h.fqdn, list(h.zones), {"dns": 10053}, 1, "log")


def test_up_says_whether_rrl_is_on():
    started = [service("local-dns"), service("root")]
    assert rrl_line(started, True) == (
        "authoritative servers: response rate limiting on (200/s per client address: each"
        " 127.0.0.x counts alone); --no-rrl turns it off"
    )
    assert rrl_line(started, False) == (
        "authoritative servers: response rate limiting off (--no-rrl)"
    )
    assert rrl_line([service("local-dns")], True) is None  # no authoritative server started


def test_every_role_has_a_daemon(tmp_path):
    ctx = LaunchContext(TOPO, tmp_path / "state", topology.port_scheme(False))
    for host in TOPO.hosts:
        assert command_for(host, ctx)[1] == "-m", host.name


def test_the_seeder_seeds_a_sample_that_is_the_same_everywhere(tmp_path):
    ports = topology.port_scheme(False)
    ctx = LaunchContext(TOPO, tmp_path / "state", ports)
    argv = command_for(TOPO.host("seeder"), ctx)
    args = peer_cli.build_parser().parse_args(argv[3:])
    torrent = sample_torrent(tmp_path / "state")
    assert (args.command, args.torrent, args.listen) == ("seed", str(torrent), "127.0.0.60:16881")
    assert (args.name, args.ready_file) == ("seeder", str(ctx.ready_file(TOPO.host("seeder"))))
    meta = from_bytes(torrent.read_bytes())
    assert (meta.name, meta.total_length, meta.piece_length) == ("sample.bin", 32 << 20, 256 << 10)
    assert meta.trackers == (("http://127.0.0.50:16969/announce",),)
    data = (Path(args.dir) / "sample.bin").read_bytes()
    assert (
        hashlib.sha256(data).digest()
        == hashlib.sha256(random.Random("minternet sample").randbytes(32 << 20)).digest()
    )
    first = torrent.read_bytes()
    command_for(TOPO.host("seeder"), ctx)  # the next `up`: the same torrent, the file kept
    assert torrent.read_bytes() == first and meta.creation_date is None


def test_up_prints_a_download_of_the_sample(tmp_path):
    h = TOPO.host("seeder")
    seeder = Service(h.name, h.role, h.address, h.fqdn, [], {"bittorrent": 16881}, 1, "log")
    lines = peer_lines([service("root"), seeder], tmp_path)
    assert lines[0].endswith(
        f"download {tmp_path}/torrents/sample.torrent -o downloads --listen 127.0.0.70:16881"
    )
    assert "seeder.networkutopia.com at 127.0.0.60:16881" in lines[1]
    assert peer_lines([service("root")], tmp_path) == []
    assert all(host.address != DOWNLOADER for host in TOPO.hosts)


def test_every_zone_accepts_updates_signed_with_its_own_key(tmp_path):
    from dnsserver import tsigkeys

    keys = tmp_path / "state" / "keys"
    for host in TOPO.hosts:
        if not host.role.startswith("dns-") or host.secondary_of is not None:
            continue  # (a secondary takes its zones' updates from the primary)
        cfg = build_config(build_parser().parse_args(argv_for(host.name, tmp_path)))
        loaded = tsigkeys.load(cfg.keys)  # the files are BIND key files, each key once
        expected = {}
        for zone in host.zones:
            stem = "root" if zone == "." else zone.rstrip(".")
            expected[zone] = (f"{stem}.",) + (("registrar.",) if host.role == "dns-tld" else ())
            assert (keys / f"{stem}.key").stat().st_mode & 0o777 == 0o600
            assert f"{stem}." in loaded
        assert {
            z: tuple(tsigkeys.key_name(k) for k in ks) for z, ks in cfg.allow_update.items()
        } == expected
        assert ("registrar." in loaded) == (host.role == "dns-tld")
    # made once: a second `up` keeps the secrets the user's nsupdate already has
    before = (keys / "networkutopia.com.key").read_text()
    argv_for("dns-networkutopia", tmp_path)
    assert (keys / "networkutopia.com.key").read_text() == before
    assert tsigkeys.parse(before)[0].name == "networkutopia.com."


def test_a_zone_with_a_journal_is_not_regenerated(tmp_path):
    argv_for("dns-networkutopia", tmp_path)
    zone = tmp_path / "state" / "zones" / "networkutopia.com.zone"
    zone.write_text("; changed by updates\n")
    argv_for("dns-networkutopia", tmp_path)
    assert zone.read_text() != "; changed by updates\n"  # no journal: regenerated
    zone.write_text("; changed by updates\n")
    zone.with_name(zone.name + ".jnl").write_text("")
    argv_for("dns-networkutopia", tmp_path)
    assert zone.read_text() == "; changed by updates\n"


def test_dns2_is_a_secondary_of_dns1_and_dns1_notifies_it(tmp_path):
    ports = topology.port_scheme(False)
    dns1, dns2 = TOPO.host("dns-networkutopia"), TOPO.host("dns-networkutopia2")
    assert dns2.fqdn == "dns2.networkutopia.com." and dns2.zones == ("networkutopia.com.",)
    secondary = build_config(build_parser().parse_args(argv_for(dns2.name, tmp_path)))
    assert secondary.zones == () and secondary.allow_update == {}
    assert secondary.secondary == {"networkutopia.com.": f"{dns1.address}:{ports['dns']}"}
    assert secondary.secondary_dir == str(tmp_path / "state" / dns2.name / "zones")
    assert secondary.allow_transfer == {"networkutopia.com.": ("key networkutopia.com",)}
    primary = build_config(build_parser().parse_args(argv_for(dns1.name, tmp_path)))
    assert primary.notify == {"networkutopia.com.": (f"{dns2.address}:{ports['dns']}",)}
    assert TOPO.zone_servers("networkutopia.com.") == [dns1, dns2]  # the primary first (SOA)
    assert TOPO.secondaries(dns1, "networkutopia.com.") == [dns2]
    assert TOPO.secondaries(dns1, "enterprise.com.") == []


def test_status_shows_the_resolver_s_last_second() -> None:
    stats = {"queries": 12, "cache_hits": 3, "cache_misses": 9, "upstream_queries": 20}
    stats |= {"servfail": 7, "cache_entries": 40, "shed_client": 5, "answers": 12}
    rates = {"queries": 900, "answers": 880, "cache_hits": 20, "upstream_queries": 250}
    rates |= {"upstream_tcp": 2, "shed_client": 600, "shed_zone": 30, "shed_capacity": 0}
    rates |= {"jostled": 1, "resolutions": 17}
    assert counters_text("resolver", stats) == (
        "queries 12, cache hits 3, cache misses 9, upstream queries 20, servfail 7, "
        "cache entries 40"
    )
    assert counters_text("resolver", stats | {"last_second": rates}) == (
        "queries 12, cache hits 3, cache misses 9, upstream queries 20, servfail 7, "
        "cache entries 40; last second: 900 queries, 880 answers, 20 cache hits, "
        "17 resolutions in progress, 631 shed (client 600, zone 30, jostled 1), 250 upstream "
        "(2 TCP)"
    )
    assert counters_text("resolver", stats | {"last_second": {}}).endswith("cache entries 40")
    quiet = dict.fromkeys(rates, 0)
    assert counters_text("resolver", stats | {"last_second": quiet}).endswith(
        "; last second: 0 queries, 0 answers, 0 cache hits, 0 resolutions in progress, 0 shed, "
        "0 upstream (0 TCP)"
    )
    assert counters_text("tracker", {"announces": 4, "last_second": rates}) == "announces 4"
