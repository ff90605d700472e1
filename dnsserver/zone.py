"""Zones: records from a master file indexed for lookup (sans-I/O apart from reading the file).

Parser choice: our own reader for the master-file syntax (masterfile.py) plus dnspython's
per-type RDATA parsers for the less common types. dnslib's zone parser lacks $INCLUDE, TTL
units and TTLs written after the class, so it is not used; dnspython's whole-zone parser
(`dns.zone.from_file`) handles everything but needed about 10 s and 180 MB for 100,000
records here (our target is under 5 s), so it is used only by the tests, as the reference our
loader is checked against. The zone is converted once, at load time, into dicts keyed on
lowercased label tuples whose record data are dnslib RD objects, ready to pack into answers,
and checked (checkzone.py): a zone with errors is refused, its warnings travel with it.
"""

from __future__ import annotations

import gc
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dnslib import RD, DNSLabel

from dnsserver.checkzone import check
from dnsserver.errors import ZoneError
from dnsserver.masterfile import Record, name_text, origin_of, read
from dnsserver.problems import Problem, Problems, Source
from dnsserver.wire import Name

# RR type numbers the lookup logic cares about (RFC 1035 §3.2.2, RFC 3596, RFC 2782).
A, NS, CNAME, SOA, MX, AAAA, SRV, DS, ANY = 1, 2, 5, 6, 15, 28, 33, 43, 255


@dataclass(frozen=True, slots=True)
class RRset:
    """All records of one type at one name; `targets` are the names in the RDATA of
    NS/CNAME/MX/SRV records (lowercased, and as written), for CNAME chasing and additional
    section processing."""

    rtype: int
    ttl: int
    rdatas: tuple[RD, ...]
    targets: tuple[tuple[Name, DNSLabel], ...] = ()


@dataclass(slots=True)
class Zone:
    """One zone: its nodes (owner -> type -> RRset), delegation points and every existing name."""

    origin: Name  # lowercased
    origin_label: DNSLabel  # as written in the file
    path: str
    soa: RRset
    negative_ttl: int  # RFC 2308 §5: min(SOA TTL, SOA MINIMUM)
    nodes: dict[Name, dict[int, RRset]] = field(default_factory=dict)
    exists: set[Name] = field(default_factory=set)  # owners and empty non-terminals
    cuts: set[Name] = field(default_factory=set)  # non-apex names owning NS
    records: int = 0  # after duplicates are dropped
    warnings: tuple[Problem, ...] = ()  # what the checks found that does not stop serving

    @property
    def name_text(self) -> str:
        return str(self.origin_label)

    @property
    def serial(self) -> int:
        return int(self.soa.rdatas[0].times[0])

    def loaded_text(self) -> str:
        """BIND's line for a zone that loaded: `zone example.com/IN: loaded serial N`."""
        name = zone_name(self.origin_label.label)
        return f"zone {name}/IN: loaded serial {self.serial}, {self.records} records"


def zone_name(labels: Name) -> str:
    """A zone's name as BIND writes it in its messages: no final dot, except for the root."""
    return name_text(labels)[:-1] or "."


def build(origin: Name, records: Sequence[Record], path: str, found: Problems) -> Zone:
    """Group records into RRsets and index them for lookup, then check the zone; errors (with
    those already `found` while reading) raise ZoneError, warnings are kept in `Zone.warnings`."""
    okey = tuple(label.lower() for label in origin)
    depth = len(okey)
    grouped: dict[tuple[Name, int], tuple[list[Record], list[int], set[Hashable]]] = {}
    count = len(records)  # less the duplicates
    for rec in records:
        if rec.key[len(rec.key) - depth :] != okey or len(rec.key) < depth:
            found.error(
                rec.source,
                rec.line,
                f"{name_text(rec.labels)} is outside the zone {name_text(origin)}",
            )
            continue
        entry = grouped.get((rec.key, rec.rtype))
        if entry is None:
            grouped[(rec.key, rec.rtype)] = ([rec], [rec.ttl], {rec.identity})
            continue
        group, ttl_box, seen = entry
        # RFC 2181 §5.2: one TTL per RRset; differing TTLs are reduced to the smallest.
        ttl_box[0] = min(ttl_box[0], rec.ttl)
        if rec.identity not in seen:  # RFC 2181 §5: an RRset holds no duplicates
            seen.add(rec.identity)
            group.append(rec)
        else:
            count -= 1
    nodes: dict[Name, dict[int, RRset]] = {}
    for (key, rtype), (group, (ttl,), _) in grouped.items():
        targets = tuple(
            (r.target, DNSLabel(r.target_labels))
            for r in group
            if r.target is not None and r.target_labels is not None
        )
        rrset = RRset(rtype, ttl, tuple(r.rdata for r in group), targets)
        node = nodes.get(key)
        if node is None:
            nodes[key] = node = {}
        node[rtype] = rrset
    exists: set[Name] = set()
    cuts: set[Name] = set()
    for key, types in nodes.items():
        for i in range(len(key) - depth + 1):
            if key[i:] in exists:
                break
            exists.add(key[i:])
        if NS in types and key != okey:
            cuts.add(key)
    if not found.errors:
        check(origin, nodes, exists, cuts, records, found, path)
    if found.errors:
        raise _failure(found, path)
    soa = nodes[okey][SOA]
    minimum = int(soa.rdatas[0].times[-1])
    return Zone(
        origin=okey,
        origin_label=DNSLabel(origin),
        path=path,
        soa=soa,
        negative_ttl=min(soa.ttl, minimum),
        nodes=nodes,
        exists=exists,
        cuts=cuts,
        records=count,
        warnings=tuple(p for p in found.listing(path) if p.warning),
    )


def _failure(problems: Problems, path: str) -> ZoneError:
    """The first error as the message (and how many more); every problem in `.problems`."""
    first = problems.errors[0]
    message = str(first)
    if problems.error_count > 1:
        message += f" (and {problems.error_count - 1} more errors)"
    return ZoneError(message, problems.listing(path))


def load_zone(path: str | Path, origin: Name | None = None, *, pause_gc: bool = False) -> Zone:
    """Load and check one master file. The zone's origin is `origin` when given (and then
    also the origin before any $ORIGIN, as BIND's zone name), else the file's first $ORIGIN,
    else the first owner. ZoneError lists every error; the zone's warnings ride on it.

    Loading allocates millions of small acyclic objects: the cyclic collector would scan the
    growing heap again and again (a third of the load time). `pause_gc` stops it until the
    load is done -- for the whole process, so only where nothing else runs meanwhile (start-up,
    `checkzone`); a reload loads in a worker thread while the event loop serves queries, and
    the loop keeps its collector.
    """
    path = str(path)
    if not pause_gc:
        return _load(path, origin)
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _load(path, origin)
    finally:
        if enabled:
            gc.enable()


def _load(path: str, given: Name | None) -> Zone:
    problems = Problems()
    okey = tuple(label.lower() for label in given) if given is not None else origin_of(path)
    records = list(read(path, okey, problems, origin=given))
    if problems.errors:
        raise _failure(problems, path)
    origin = given if given is not None else okey
    if origin is None:
        if not records:
            problems.error(Source(path), 0, "no $ORIGIN and no records: which zone is this?")
            raise _failure(problems, path)
        origin = records[0].labels  # like BIND without $ORIGIN: the first (SOA) owner
    elif given is None:
        for rec in records:  # the origin as written in the file, for the SOA owner's case
            if rec.key == origin:
                origin = rec.labels
                break
    return build(origin, records, path, problems)
