"""The set of zones one server serves; finds the most specific zone for a name."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from dnsserver.errors import ZoneError
from dnsserver.wire import Name
from dnsserver.zone import Zone, load_zone


class ZoneSet:
    """Zones by origin. When a server holds a parent and a child zone, the child wins.
    `unavailable`: origins we are authoritative for but cannot answer from (a secondary zone
    not yet transferred, or expired): names in them get SERVFAIL."""

    def __init__(self, zones: Iterable[Zone] = (), unavailable: Iterable[Name] = ()) -> None:
        self.unavailable = frozenset(unavailable)
        self.by_origin: dict[Name, Zone] = {}
        for z in zones:
            if z.origin in self.by_origin:
                raise ZoneError(
                    f"{z.path}: zone {z.name_text} is already loaded from "
                    f"{self.by_origin[z.origin].path}"
                )
            self.by_origin[z.origin] = z

    def find(self, key: Name) -> Zone | None:
        """The most specific served zone containing the lowercased name `key`."""
        get = self.by_origin.get
        for i in range(len(key) + 1):
            z = get(key[i:])
            if z is not None:
                return z
        return None

    def is_unavailable(self, key: Name) -> bool:
        """The most specific zone for `key` is one we cannot answer from. (Callers on the query
        path test `unavailable` first: it is empty on most servers.)"""
        get = self.by_origin.get
        for i in range(len(key) + 1):
            if key[i:] in self.unavailable:
                return True
            if get(key[i:]) is not None:
                return False
        return False

    def __len__(self) -> int:
        return len(self.by_origin)

    def __iter__(self) -> Iterator[Zone]:
        return iter(self.by_origin.values())


def load_zones(paths: Iterable[str], *, pause_gc: bool = False) -> ZoneSet:
    """Load and check every master file. If any has errors, ZoneError: the first error as its
    message, and in `problems` the errors and warnings of every zone that failed. `pause_gc`:
    see `load_zone` (start-up only, never from a worker thread beside the event loop)."""
    zones: list[Zone] = []
    failed: list[ZoneError] = []
    for path in paths:
        try:
            zones.append(load_zone(path, pause_gc=pause_gc))
        except ZoneError as e:
            failed.append(e)
    if failed:
        raise ZoneError(str(failed[0]), tuple(p for e in failed for p in e.problems))
    return ZoneSet(zones)
