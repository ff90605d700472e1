"""Upstream server selection by smoothed RTT, with timeout back-off (as BIND and Unbound do).

Per server address: SRTT and RTTVAR as in RFC 6298 §2, the retransmission timeout derived from
them, doubled on every timeout. Unknown servers start with a small random SRTT so they get
probed (BIND's approach) and an initial timeout of `initial_rto`.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class SelectionConfig:
    initial_rto: float = 0.4  # Unbound starts at 376 ms
    min_rto: float = 0.15
    max_rto: float = 2.0  # a dead server costs at most this per attempt
    max_servers: int = 10_000  # entries kept (LRU)


class _Info:
    __slots__ = ("rto", "rttvar", "srtt")

    def __init__(self, srtt: float, rttvar: float, rto: float) -> None:
        self.srtt = srtt
        self.rttvar = rttvar
        self.rto = rto


class ServerSelector:
    def __init__(self, rng: random.Random, config: SelectionConfig | None = None) -> None:
        self.config = config or SelectionConfig()
        self._rng = rng
        self._d: OrderedDict[str, _Info] = OrderedDict()

    def _info(self, addr: str) -> _Info:
        info = self._d.get(addr)
        if info is None:
            c = self.config
            info = _Info(self._rng.uniform(0.0, 0.032), 0.0, c.initial_rto)
            self._d[addr] = info
            if len(self._d) > c.max_servers:
                self._d.popitem(last=False)
        else:
            self._d.move_to_end(addr)
        return info

    def choose(self, candidates: Sequence[str]) -> str:
        """The candidate with the lowest SRTT (RTT band ties broken at random)."""
        return min(candidates, key=lambda a: (self._info(a).srtt, self._rng.random()))

    def timeout(self, addr: str) -> float:
        return self._info(addr).rto

    def on_rtt(self, addr: str, rtt: float) -> None:
        """RFC 6298 §2.3: RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R|; SRTT = 7/8 SRTT + 1/8 R."""
        c = self.config
        info = self._info(addr)
        if info.rttvar == 0.0:
            info.srtt, info.rttvar = rtt, rtt / 2
        else:
            info.rttvar = 0.75 * info.rttvar + 0.25 * abs(info.srtt - rtt)
            info.srtt = 0.875 * info.srtt + 0.125 * rtt
        info.rto = max(c.min_rto, min(c.max_rto, info.srtt + 4 * info.rttvar))

    def on_timeout(self, addr: str) -> None:
        """RFC 6298 §5.5: back off the timer; also push the server behind the others."""
        c = self.config
        info = self._info(addr)
        info.rto = min(c.max_rto, info.rto * 2)
        info.srtt = max(info.srtt, info.rto)

    def snapshot(self) -> dict[str, dict[str, float]]:
        return {a: {"srtt": i.srtt, "rto": i.rto} for a, i in self._d.items()}
