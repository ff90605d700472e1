"""Checks on a loaded zone, as strict as BIND's named-checkzone: its errors and its warnings.

The zone is given as the loader indexes it (owner -> type -> RRset, the names that exist, the
delegation points) with the records as read, which carry their file and line. Nothing here
reads a file or the network: names outside the zone are not looked up, as with
`named-checkzone -i local` (BIND's default, `full`, also resolves them through the machine's
own resolver).

Errors (BIND refuses the zone):
- no SOA at the apex, more than one, or an SOA anywhere else;
- no NS at the apex;
- a CNAME beside other data, or two CNAMEs at one name (RFC 1034 §3.6.2, RFC 2181 §10.1);
- an apex NS naming a host inside the zone that has no address, or is an alias (RFC 2181
  §10.3): resolvers referred to that name server could not reach the zone.
Warnings (BIND loads the zone):
- a delegation without the glue it needs: its name server is below the cut (in the child),
  or below another cut of this zone (sibling glue), and has no address here;
- a delegation, MX or SRV naming a host of this zone that has no address, or is an alias.
A target that is covered by a wildcard with an address has one, as in a lookup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import dns.rdatatype

from dnsserver.masterfile import AAAA, CNAME, MX, NS, SOA, SRV, A, Record, name_text
from dnsserver.problems import Problems, Source
from dnsserver.wire import Name

if TYPE_CHECKING:
    from dnsserver.zone import RRset

_CNAME_COMPANIONS = {CNAME, 46, 47}  # RRSIG, NSEC may sit beside a CNAME (RFC 4035 §2.5)
_OK, _NO_ADDRESS, _ALIAS, _BELOW_CUT = range(4)


class _Records:
    """Records by (owner, type), in file order: built on the first problem, so a clean zone
    never pays for it."""

    def __init__(self, records: Sequence[Record]) -> None:
        self._records = records
        self._index: dict[tuple[Name, int], list[tuple[int, Record]]] | None = None

    def get(self, key: Name, rtype: int) -> list[tuple[int, Record]]:
        """The records of an RRset of the zone (there is at least one)."""
        if self._index is None:
            index: dict[tuple[Name, int], list[tuple[int, Record]]] = {}
            for pos, rec in enumerate(self._records):
                index.setdefault((rec.key, rec.rtype), []).append((pos, rec))
            self._index = index
        return self._index[(key, rtype)]

    def first(self, key: Name, rtype: int) -> tuple[int, Record]:
        return self.get(key, rtype)[0]

    def first_two(self, key: Name, rtype: int) -> tuple[tuple[int, Record], tuple[int, Record]]:
        """The first record and the first that differs from it (a duplicate is no second)."""
        found = self.get(key, rtype)
        second = next(r for r in found[1:] if r[1].identity != found[0][1].identity)
        return found[0], second

    def pointing_to(self, key: Name, rtype: int, target: Name) -> tuple[int, Record]:
        """The first record naming `target` (there is one: every target came from a record)."""
        return next(r for r in self.get(key, rtype) if r[1].target == target)


class _Checker:
    def __init__(
        self,
        origin: Name,
        nodes: Mapping[Name, Mapping[int, RRset]],
        exists: set[Name],
        cuts: set[Name],
        records: Sequence[Record],
    ) -> None:
        self.origin = origin  # as written
        self.okey = tuple(label.lower() for label in origin)
        self.depth = len(origin)
        self.nodes = nodes
        self.exists = exists
        self.cuts = cuts
        self.records = _Records(records)
        self.first_record = records[0] if records else None
        # position in the file(s), warning, source, line, message
        self.found: list[tuple[int, bool, Source, int, str]] = []

    def report(self, at: tuple[int, Record], message: str, *, warning: bool = False) -> None:
        pos, rec = at
        self.found.append((pos, warning, rec.source, rec.line, message))

    def in_zone(self, key: Name) -> bool:
        return len(key) >= self.depth and key[len(key) - self.depth :] == self.okey

    def cut_above(self, key: Name) -> Name | None:
        """The highest delegation point at or above `key` (below the apex), if any."""
        if self.cuts:
            for i in range(len(key) - self.depth - 1, -1, -1):
                if key[i:] in self.cuts:
                    return key[i:]
        return None

    def addresses(self, key: Name) -> int:
        """What asking this zone for the A/AAAA of in-zone `key` finds (RFC 1034 §4.3.2)."""
        if self.cut_above(key) is not None:
            return _BELOW_CUT
        node = self.nodes.get(key)
        if node is None:
            if key in self.exists:  # an empty non-terminal
                return _NO_ADDRESS
            encloser = key[1:]  # RFC 4592 §3.3.1: the closest encloser's wildcard
            while len(encloser) > self.depth and encloser not in self.exists:
                encloser = encloser[1:]
            node = self.nodes.get((b"*", *encloser))
            if node is None:
                return _NO_ADDRESS
        if A in node or AAAA in node:
            return _OK
        return _ALIAS if CNAME in node else _NO_ADDRESS

    def run(self, problems: Problems, path: str) -> None:
        for key, types in self.nodes.items():  # one pass: 100,000 names cost ~20 ms
            if CNAME in types:
                self.cname(key, types)
            if SOA in types:
                self.soa(key, types[SOA])
            if (MX in types or SRV in types) and self.cut_above(key) is None:
                for rtype in (MX, SRV):
                    if rtype in types:
                        self.service(key, rtype, types[rtype])
        apex = self.nodes.get(self.okey, {})
        origin = name_text(self.origin)
        if SOA not in apex:
            self.zone_error(problems, path, f"zone {origin} has no SOA record at its apex")
        if NS not in apex:
            self.zone_error(problems, path, f"zone {origin} has no NS records at its apex")
        else:
            self.apex_ns(apex[NS])
        for cut in self.cuts:
            if self.cut_above(cut) == cut:  # not itself below another cut (occluded)
                self.delegation(cut, self.nodes[cut][NS])
        self.found.sort(key=lambda p: p[0])
        for _, warning, source, line, message in self.found:
            (problems.warn if warning else problems.error)(source, line, message)

    def zone_error(self, problems: Problems, path: str, message: str) -> None:
        # Where the zone's SOA belongs: its first record.
        if self.first_record is None:
            problems.error(Source(path), 0, message + " (the file has no records)")
        else:
            rec = self.first_record
            self.found.append((-1, False, rec.source, rec.line, message))

    def cname(self, key: Name, types: Mapping[int, RRset]) -> None:
        if len(types[CNAME].rdatas) > 1:
            first, second = self.records.first_two(key, CNAME)
            self.report(
                second,
                f"{name_text(first[1].labels)} has a second CNAME (the first is at "
                f"{first[1].where()}); an alias points to exactly one name (RFC 2181 §10.1)",
            )
        if types.keys() <= _CNAME_COMPANIONS:
            return
        cname = self.records.first(key, CNAME)
        others = [r for t in types if t not in _CNAME_COMPANIONS for r in self.records.get(key, t)]
        other = min(others, key=lambda p: p[0])
        later, earlier = (cname, other) if cname[0] > other[0] else (other, cname)
        self.report(
            later,
            f"{name_text(cname[1].labels)} has a CNAME and other data: this "
            f"{_type_text(later[1].rtype)} record and the {_type_text(earlier[1].rtype)} at "
            f"{earlier[1].where()}; a name with a CNAME can have no other records "
            "(RFC 1034 §3.6.2)",
        )

    def soa(self, key: Name, soa: RRset) -> None:
        if key != self.okey:
            at = self.records.first(key, SOA)
            self.report(
                at,
                f"SOA record at {name_text(at[1].labels)}, which is not the zone's apex "
                f"{name_text(self.origin)}; a zone has one SOA, at its top",
            )
        elif len(soa.rdatas) > 1:
            first, second = self.records.first_two(key, SOA)
            self.report(
                second,
                f"a second SOA record for {name_text(self.origin)} (the first is at "
                f"{first[1].where()}); a zone has exactly one",
            )

    def apex_ns(self, ns: RRset) -> None:
        for target, label in ns.targets:
            if not self.in_zone(target):
                continue
            found = self.addresses(target)
            if found in (_OK, _BELOW_CUT):  # below a cut: the delegation's check says more
                continue
            at = self.records.pointing_to(self.okey, NS, target)
            if found == _ALIAS:
                self.report(
                    at,
                    f"name server {label} (NS of {name_text(self.origin)}) is an alias (CNAME); "
                    "an NS record must name a host with its own A or AAAA record "
                    "(RFC 2181 §10.3)",
                )
            else:
                self.report(
                    at,
                    f"name server {label} (NS of {name_text(self.origin)}) is in this zone but has "
                    "no A or AAAA record: resolvers sent to it could not reach the zone"
                    + _address_hint(target, self.okey),
                )

    def delegation(self, cut: Name, ns: RRset) -> None:
        child = name_text(self.records.first(cut, NS)[1].labels)
        for target, label in ns.targets:
            if not self.in_zone(target):
                continue
            found = self.addresses(target)
            if found == _OK:
                continue
            if found == _BELOW_CUT:
                glue = self.nodes.get(target)
                if glue is not None and (A in glue or AAAA in glue):
                    continue
                below = self.cut_above(target)
                if len(target) >= len(cut) and target[len(target) - len(cut) :] == cut:
                    why = (
                        f"{label} is inside {child}, so this zone must give its A or AAAA "
                        f"record (glue), or no resolver can reach {child}"
                    )
                else:
                    why = (
                        f"{label} is inside the delegated zone {name_text(below or ())}, so this "
                        "zone should give its A or AAAA record too (sibling glue)"
                    )
                message = f"delegation of {child} to {label} has no glue: {why}"
            elif found == _ALIAS:
                message = (
                    f"delegation of {child}: name server {label} is an alias (CNAME); an NS "
                    "record must name a host with its own A or AAAA record (RFC 2181 §10.3)"
                )
            else:
                message = (
                    f"delegation of {child}: name server {label} is in this zone but has no "
                    "A or AAAA record"
                )
            self.report(self.records.pointing_to(cut, NS, target), message, warning=True)

    def service(self, key: Name, rtype: int, rrset: RRset) -> None:
        kind, what, rfc = (
            ("MX", "mail server", "RFC 2181 §10.3")
            if rtype == MX
            else ("SRV", "target", "RFC 2782")
        )
        for target, label in rrset.targets:
            if target == () or not self.in_zone(target):  # "." means no such service
                continue
            found = self.addresses(target)
            if found in (_OK, _BELOW_CUT):
                continue
            at = self.records.pointing_to(key, rtype, target)
            owner = name_text(at[1].labels)
            if found == _ALIAS:
                message = (
                    f"{kind} of {owner}: {what} {label} is an alias (CNAME); it must name a "
                    f"host with its own A or AAAA record ({rfc})"
                )
            else:
                message = (
                    f"{kind} of {owner}: {what} {label} is in this zone but has no A or AAAA record"
                )
            self.report(at, message, warning=True)


def _address_hint(target: Name, okey: Name) -> str:
    """`NS 192.0.2.1` is read as the relative name 192.0.2.1.<origin>: say so."""
    head = target[: len(target) - len(okey)]
    if len(head) == 4 and all(label.isdigit() and int(label) < 256 for label in head):
        return " (an NS record holds a host's name, not its address)"
    return ""


def _type_text(rtype: int) -> str:
    return dns.rdatatype.to_text(dns.rdatatype.RdataType.make(rtype))


def check(
    origin: Name,
    nodes: Mapping[Name, Mapping[int, RRset]],
    exists: set[Name],
    cuts: set[Name],
    records: Sequence[Record],
    problems: Problems,
    path: str,
) -> None:
    """Add the zone's errors and warnings to `problems`, in file order. `origin` as written;
    `nodes`, `exists` and `cuts` keyed on lowercased names, as in `Zone`."""
    _Checker(origin, nodes, exists, cuts, records).run(problems, path)
