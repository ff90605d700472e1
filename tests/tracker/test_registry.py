"""The swarm registry with an injected clock and RNG: expiry, events, limits, peer selection."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.tracker.conftest import IH, pid
from tracker.announce import COMPLETED, NONE, STARTED, STOPPED, Announce
from tracker.config import TrackerConfig
from tracker.errors import RefusedError
from tracker.registry import Registry
from tracker.swarm import Peer, PeerList, Swarm


def req(
    peer: int, left: int = 1, event: int = NONE, info_hash: bytes = IH, port: int = 6881
) -> Announce:
    return Announce(info_hash, pid(peer), port, 0, 0, left, event, None, True, False, b"", None)


def addr(n: int, port: int = 6881) -> bytes:
    return bytes([10, 0, n // 256, n % 256]) + port.to_bytes(2, "big")


def registry(**cfg: object) -> Registry:
    return Registry(TrackerConfig(**cfg), random.Random(3))  # type: ignore[arg-type]


def peers_of(swarm: Swarm, me: int | None, k: int, reg: Registry) -> list[bytes]:
    mine = swarm.peers.get(pid(me)) if me is not None else None
    wins = swarm.select(swarm.seeders4, swarm.leechers4, mine, k, reg.rng)
    blob = b"".join(lst.take(s, c) for lst, s, c in wins)
    return [blob[i : i + 6] for i in range(0, len(blob), 6)]


def test_peers_expire_after_the_multiple_of_the_interval() -> None:
    reg = registry(interval=100, min_interval=10, expiry_multiple=2.0)
    reg.announce(req(1), addr(1), now=0.0)
    reg.announce(req(2), addr(2), now=150.0)
    assert reg.expire_all(now=199.0) == 0
    assert reg.expire_all(now=201.0) == 1  # peer 1 silent for 201 s > 200 s
    assert set(reg.swarms[IH].peers) == {pid(2)}
    reg.announce(req(2), addr(2), now=300.0)  # re-announce refreshes
    assert reg.expire_all(now=499.0) == 0
    assert reg.expire_all(now=501.0) == 1
    assert reg.swarms == {} and reg.peer_count == 0  # the empty swarm goes too


def test_expiry_in_bounded_steps_visits_every_swarm() -> None:
    reg = registry(interval=10, min_interval=5)
    for n in range(50):
        reg.announce(req(n, info_hash=bytes([n]) * 20), addr(n), now=0.0)
    removed = sum(reg.expire(now=100.0, budget=7) for _ in range(8))
    assert removed == 50 and reg.swarms == {}


def test_stopped_removes_and_completed_counts_once() -> None:
    reg = registry()
    reg.announce(req(1, event=STARTED), addr(1), 1.0)
    reg.announce(req(1, left=0, event=COMPLETED), addr(1), 2.0)
    reg.announce(req(1, left=0, event=COMPLETED), addr(1), 3.0)  # a repeat is not a download
    reg.announce(req(2, left=0, event=COMPLETED), addr(2), 3.0)
    assert reg.scrape(IH) == (2, 2, 0)
    swarm, me = reg.announce(req(1, left=0, event=STOPPED), addr(1), 4.0)
    assert me is None and swarm is not None
    assert reg.scrape(IH) == (1, 2, 0) and reg.peer_count == 1


def test_a_leecher_that_leaves_complete_without_completed_counts() -> None:
    reg = registry()
    reg.announce(req(1, event=STARTED), addr(1), 1.0)
    reg.announce(req(1, left=0, event=STOPPED), addr(1), 2.0)  # aria2 over UDP does this
    reg.announce(req(2, event=STARTED), addr(2), 1.0)
    reg.announce(req(2, left=0), addr(2), 2.0)  # or a plain announce with left=0
    reg.announce(req(3, left=0, event=STARTED), addr(3), 1.0)  # a seeder from the start: no
    reg.announce(req(3, left=0, event=STOPPED), addr(3), 2.0)
    assert reg.scrape(IH) == (1, 2, 0)


def test_leecher_becoming_seeder_moves_lists_and_port_changes_are_seen() -> None:
    reg = registry()
    reg.announce(req(1), addr(1), 1.0)
    reg.announce(req(2), addr(2), 1.0)
    swarm = reg.swarms[IH]
    assert (swarm.seeders, swarm.leechers) == (0, 2)
    reg.announce(req(1, left=0, port=7000), addr(1, 7000), 2.0)
    assert (swarm.seeders, swarm.leechers) == (1, 1)
    assert peers_of(swarm, 2, 10, reg) == [addr(1, 7000)]


def test_max_swarms_and_max_peers() -> None:
    reg = registry(max_swarms=2, max_peers_per_swarm=3)
    reg.announce(req(1, info_hash=b"a" * 20), addr(1), 1.0)
    reg.announce(req(1, info_hash=b"b" * 20), addr(1), 1.0)
    with pytest.raises(RefusedError, match=r"^tracker full: too many torrents$"):
        reg.announce(req(1, info_hash=b"c" * 20), addr(1), 1.0)
    for n in range(2, 4):
        reg.announce(req(n, info_hash=b"a" * 20), addr(n), 1.0)
    with pytest.raises(RefusedError, match=r"^swarm full: too many peers$"):
        reg.announce(req(9, info_hash=b"a" * 20), addr(9), 1.0)
    reg.announce(req(1, info_hash=b"a" * 20), addr(1), 2.0)  # known peers still announce
    assert len(reg.swarms) == 2 and reg.peer_count == 4


def test_a_flood_of_random_info_hashes_stays_bounded() -> None:
    reg = registry(max_swarms=100)
    rng = random.Random(5)
    refused = 0
    for n in range(2000):
        try:
            reg.announce(req(n, info_hash=rng.randbytes(20)), addr(n % 60000), 1.0)
        except RefusedError:
            refused += 1
    assert len(reg.swarms) == 100 and refused == 1900


def test_whitelist_and_reload() -> None:
    reg = Registry(TrackerConfig(), random.Random(1), whitelist=[IH])
    with pytest.raises(RefusedError, match=r"^info_hash not on this tracker's whitelist$"):
        reg.announce(req(1, info_hash=b"z" * 20), addr(1), 1.0)
    reg.announce(req(1), addr(1), 1.0)
    reg.set_whitelist([b"z" * 20])
    assert reg.swarms == {} and reg.peer_count == 0
    reg.set_whitelist(None)
    reg.announce(req(1), addr(1), 1.0)


def test_passkeys() -> None:
    reg = registry(passkeys=("alice", "bob"))
    reg.check_passkey(b"alice")
    with pytest.raises(RefusedError, match=r"^unknown passkey$"):
        reg.check_passkey(b"mallory")
    with pytest.raises(RefusedError, match=r"^passkey required: use /<passkey>/announce$"):
        reg.check_passkey(None)
    registry().check_passkey(None)
    with pytest.raises(RefusedError, match=r"^this tracker uses no passkeys: use /announce$"):
        registry().check_passkey(b"alice")


def test_seeder_gets_leechers_first() -> None:
    reg = registry()
    for n in range(1, 11):
        reg.announce(req(n, left=0), addr(n), 1.0)  # 10 seeders
    for n in range(11, 14):
        reg.announce(req(n), addr(n), 1.0)  # 3 leechers
    swarm = reg.swarms[IH]
    got = peers_of(swarm, 1, 4, reg)
    assert set(got[:3]) == {addr(11), addr(12), addr(13)}
    assert len(got) == 4 and got[3] in {addr(n) for n in range(2, 11)}


def test_leecher_gets_a_mix_in_proportion() -> None:
    reg = registry()
    for n in range(1, 51):
        reg.announce(req(n, left=0), addr(n), 1.0)
    for n in range(51, 101):
        reg.announce(req(n), addr(n), 1.0)
    got = peers_of(reg.swarms[IH], 100, 10, reg)
    seeders = sum(1 for a in got if a in {addr(n) for n in range(1, 51)})
    assert len(got) == 10 and seeders == 5


def test_subsets_are_random_and_cover_the_swarm() -> None:
    reg = registry()
    for n in range(1, 201):
        reg.announce(req(n), addr(n), 1.0)
    counts: dict[bytes, int] = {}
    for _ in range(1000):
        for a in peers_of(reg.swarms[IH], 1, 20, reg):
            counts[a] = counts.get(a, 0) + 1
    assert addr(1) not in counts  # never the requester
    assert len(counts) == 199  # every other peer shows up
    mean = 1000 * 20 / 199  # each is in a reply with probability 20/199
    assert mean * 0.6 < min(counts.values()) and max(counts.values()) < mean * 1.4


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 15), st.integers(0, 1), st.sampled_from([0, 1, 2, 3]), st.integers(1, 3)
        ),
        max_size=80,
    ),
    st.integers(0, 20),
)
def test_registry_invariants_under_random_announces(
    ops: list[tuple[int, int, int, int]], k: int
) -> None:
    """Lists and dict agree; replies never contain the requester nor exceed numwant."""
    reg = registry()
    for peer, left, event, port in ops:
        swarm, me = reg.announce(
            req(peer, left=left, event=event, port=port), addr(peer, port), 1.0
        )
        if swarm is None:
            continue
        for lst in (swarm.seeders4, swarm.leechers4):
            assert len(lst.buf) == 6 * len(lst.owners)
            for i, p in enumerate(lst.owners):
                assert p.slot == i and lst.buf[6 * i : 6 * i + 6] == p.addr
                assert swarm.peers[p.peer_id] is p
        assert swarm.seeders + swarm.leechers == len(swarm.peers)
        assert swarm.counts() == (swarm.leechers, swarm.seeders)
        if me is not None:
            state = reg.rng.getstate()
            got = peers_of(swarm, peer, k, reg)
            assert me.addr not in got
            assert len(got) == min(k, len(swarm.peers) - 1)
            assert len(set(got)) == len(got)
            # The compact-reply fast path picks the same peers, in the same order.
            reg.rng.setstate(state)
            fast = swarm.compact(swarm.seeders4, swarm.leechers4, me, k, reg.rng)
            assert b"".join(fast) == b"".join(got)
        state = reg.rng.getstate()
        anyone = b"".join(peers_of(swarm, None, k, reg))
        reg.rng.setstate(state)
        assert b"".join(swarm.compact(swarm.seeders4, swarm.leechers4, None, k, reg.rng)) == anyone
    assert reg.peer_count == sum(len(s.peers) for s in reg.swarms.values())


def keyed(peer: int, key: bytes, **kw: object) -> Announce:
    return req(peer, **kw)._replace(key=key)  # type: ignore[arg-type]


IN_USE = r"^peer_id in use from another address \(send the same key\)$"


def test_another_address_cannot_evict_or_redirect_a_peer_by_its_public_peer_id() -> None:
    # peer_ids are public (compact=0 replies list them): knowing one used to be enough to
    # remove that peer (`stopped`) or to have the swarm hand out your address instead.
    reg = registry()
    reg.announce(keyed(1, b"s3cret"), addr(1), 1.0)
    reg.announce(req(2), addr(2), 1.0)  # a client that sends no key
    for victim in (1, 2):
        with pytest.raises(RefusedError, match=IN_USE):
            reg.announce(req(victim, event=STOPPED), addr(66), 2.0)
        with pytest.raises(RefusedError, match=IN_USE):
            reg.announce(keyed(victim, b"guess"), addr(66, 9999), 2.0)
    swarm = reg.swarms[IH]
    assert sorted(p.addr for p in swarm.peers.values()) == [addr(1), addr(2)]
    # The real peer moving to a new address proves itself with its key, as BEP 3 intends;
    # the same address on another port is the same host and needs nothing.
    reg.announce(keyed(1, b"s3cret"), addr(7), 3.0)
    reg.announce(req(2, port=7000), addr(2, 7000), 3.0)
    assert sorted(p.addr for p in swarm.peers.values()) == [addr(2, 7000), addr(7)]
    swarm, me = reg.announce(keyed(1, b"s3cret", event=STOPPED), addr(7), 4.0)
    assert me is None and set(reg.swarms[IH].peers) == {pid(2)}


def test_the_announce_rate_limit_counts_an_ipv6_slash_64_as_one_host() -> None:
    # Limited per /128, a host owning a /64 had 2^64 buckets of burst: no limit at all.
    reg = registry(rate_per_ip=1.0, rate_burst=2)
    net = bytes.fromhex("20010db8000000aa")
    reg.check_rate(net + (1).to_bytes(8, "big"), 1.0)
    reg.check_rate(net + bytes.fromhex("ff00000000000002"), 1.0)  # any interface id
    with pytest.raises(RefusedError, match=r"^rate limited: announcing too often, slow down$"):
        reg.check_rate(net + (3).to_bytes(8, "big"), 1.0)
    reg.check_rate(bytes.fromhex("20010db8000000ab") + (3).to_bytes(8, "big"), 1.0)  # next /64
    reg.check_rate(bytes([10, 0, 0, 1]), 1.0)  # IPv4: per address
    reg.check_rate(bytes([10, 0, 0, 1]), 1.0)
    reg.check_rate(bytes([10, 0, 0, 2]), 1.0)


def test_a_budgeted_sweep_visits_budget_swarms_a_call_and_resumes_where_it_stopped() -> None:
    reg = registry(interval=10, min_interval=5, expiry_multiple=2.0)  # silent for > 20 s: gone
    hashes = [bytes([n]) * 20 for n in range(5)]
    for n, h in enumerate(hashes):
        reg.announce(req(n, info_hash=h), addr(n), now=0.0)
        reg.announce(req(n + 10, info_hash=h), addr(n + 10), now=15.0)  # still alive at t=30
    # Each call looks at two swarms: the first two, the next two, the last one.
    assert [reg.expire(now=30.0, budget=2) for _ in range(3)] == [2, 2, 1]
    assert reg.peer_count == 5 and all(set(s.peers) == {pid(n + 10)}
                                       for n, s in enumerate(reg.swarms.values()))  # fmt: skip
    # The sweep ended with the last swarm; the next call starts a new one, from the first.
    reg.announce(req(20, info_hash=hashes[4]), addr(20), now=50.0)
    assert reg.expire(now=50.0, budget=2) == 2  # the fresh peers of swarms 0 and 1
    assert sorted(reg.swarms) == hashes[2:]
    assert reg.expire(now=50.0, budget=3) == 3  # swarms 2, 3 and 4; swarm 4 keeps peer 20
    assert list(reg.swarms) == hashes[4:] and reg.peer_count == 1


def test_a_sweep_skips_swarms_gone_since_it_started_and_leaves_new_ones_for_the_next() -> None:
    reg = registry(interval=10, min_interval=5, expiry_multiple=2.0)
    for n in range(4):
        reg.announce(req(n, info_hash=bytes([n]) * 20), addr(n), now=0.0)
    assert reg.expire(now=100.0, budget=1) == 1  # swarm 0; the sweep holds swarms 1..3
    reg.set_whitelist([bytes([n]) * 20 for n in (0, 2, 3, 9)])  # swarm 1 goes
    reg.announce(req(9, info_hash=b"\x09" * 20), addr(9), now=0.0)  # after the sweep began
    assert reg.expire(now=100.0, budget=2) == 1  # swarm 1 (gone, but a visit) and swarm 2
    assert sorted(reg.swarms) == [b"\x03" * 20, b"\x09" * 20]
    assert reg.expire(now=100.0, budget=2) == 1  # swarm 3, and the sweep is over
    assert list(reg.swarms) == [b"\x09" * 20]
    assert reg.expire(now=100.0, budget=2) == 1  # a new sweep finds the newcomer
    assert reg.swarms == {} and reg.peer_count == 0


def test_a_peer_silent_for_exactly_the_expiry_time_stays() -> None:
    reg = registry(interval=100, min_interval=10, expiry_multiple=1.5)
    reg.announce(req(1), addr(1), now=10.0)
    assert reg.expire_all(now=160.0) == 0  # silent for 150 s = 1.5 * 100: not longer
    assert reg.expire_all(now=160.001) == 1


def test_expiry_and_whitelists_are_changes_a_statistics_reader_sees() -> None:
    reg = registry(interval=10, min_interval=5)
    reg.announce(req(1), addr(1), now=0.0)
    reg.announce(req(2), addr(2), now=15.0)
    assert (reg.announces, reg.changes) == (2, 0)
    assert reg.expire_all(now=21.0) == 1
    assert reg.changes == 1  # one peer
    assert reg.expire_all(now=36.0) == 1
    assert reg.changes == 3  # one peer and its swarm
    reg.set_whitelist(None)
    assert reg.changes == 4


def test_a_swarm_keeps_its_peers_in_uniformly_random_order_whatever_their_arrival() -> None:
    # Replies are windows of this order: peers that arrive together (a batch from one host)
    # must not be handed out together more often than any others.
    trials, n = 3000, 5
    where = [[0] * n for _ in range(n)]  # arrival -> position -> count
    for trial in range(trials):
        lst = PeerList(6)
        rng = random.Random(trial)
        peers = [Peer(pid(i), addr(i), False, 0.0, b"") for i in range(n)]
        for p in peers:
            lst.add(p, rng)
        assert [lst.owners.index(p) for p in peers] == [p.slot for p in peers]
        assert bytes(lst.buf) == b"".join(p.addr for p in lst.owners)
        for arrival, p in enumerate(peers):
            where[arrival][p.slot] += 1
    expected = trials / n
    assert all(0.85 * expected < c < 1.15 * expected for row in where for c in row), where


def test_a_full_sweep_visits_every_swarm_however_many() -> None:
    reg = registry(interval=10, min_interval=5)
    n = 5001  # more than one step of the daemon's (EXPIRY_BUDGET = 2000) visits
    for i in range(n):
        reg.announce(req(1, info_hash=i.to_bytes(20, "big")), addr(1), now=0.0)
    reg.expire(now=0.0, budget=3)  # a sweep under way does not shorten the full one
    assert reg.expire_all(now=100.0) == n
    assert reg.swarms == {} and reg.peer_count == 0


def test_a_family_with_no_peers_yet_gives_none_and_draws_nothing() -> None:
    swarm, rng = Swarm(), random.Random(1)
    me = Peer(pid(1), addr(1), False, 0.0, b"")
    swarm.add(me, rng)  # an IPv4 peer: the IPv6 lists are not made
    state = rng.getstate()
    for mine in (me, None):
        for k in (0, 5):
            assert swarm.select(swarm.seeders6, swarm.leechers6, mine, k, rng) == []
            assert swarm.compact(swarm.seeders6, swarm.leechers6, mine, k, rng) == []
    assert swarm.seeders6 is None and rng.getstate() == state


@pytest.mark.parametrize("seeders", [0, 1, 3])
@pytest.mark.parametrize("leechers", [0, 1, 10])
def test_compact_draws_from_the_rng_as_select_does_and_not_when_it_has_no_more_to_give(
    seeders: int, leechers: int
) -> None:
    # The compact and the dictionary replies of one tracker hand out the same peers from the
    # same draws: neither draws for nothing (numwant=0, or k used up by the leechers).
    swarm, rng = Swarm(), random.Random(seeders * 100 + leechers)
    peers = [Peer(pid(n), addr(n), n < seeders, 0.0, b"") for n in range(seeders + leechers)]
    for p in peers:
        swarm.add(p, rng)
    for me in (None, *peers[:1], *peers[seeders : seeders + 1]):  # nobody, a seeder, a leecher
        for k in range(seeders + leechers + 2):
            state = rng.getstate()
            wins = swarm.select(swarm.seeders4, swarm.leechers4, me, k, rng)
            after = rng.getstate()
            rng.setstate(state)
            fast = swarm.compact(swarm.seeders4, swarm.leechers4, me, k, rng)
            assert b"".join(fast) == b"".join(lst.take(s, c) for lst, s, c in wins)
            assert rng.getstate() == after
            if k == 0:
                assert after == state
