"""Dynamic update (RFC 2136 §3) applied to a zone's records, sans-I/O.

A dynamic zone is held as `Content`: its records grouped by owner and type, as the zone file
and the journal give them. `apply_update` runs one UPDATE message's prerequisites and updates
against it, all or nothing: it returns a new `Content` (the old one is never touched, so a
failure anywhere leaves the served zone as it was), the served `Zone` built and checked from
it, and the difference (records removed, records added, the old and new SOA first), which
the journal records and IXFR will send. The SOA serial goes up by one for every update that
changes the zone, unless the update itself raised it.

The rules, RFC 2136 by section:

- §3.2 prerequisites: TTL 0, every name in the zone (else NOTZONE); class ANY with type ANY:
  the name is in use (else NXDOMAIN); class ANY, type T: an RRset exists (else NXRRSET); class
  NONE: the name is not in use (YXDOMAIN), the RRset does not exist (YXRRSET); class IN: the
  RRset is exactly these records (value-dependent, else NXRRSET). Anything else is FORMERR.
- §3.4.1 prescan of the updates: names in the zone (NOTZONE); adds have a real type (not a
  meta type such as ANY or AXFR); deletions (class ANY or NONE) have TTL 0, and class ANY no
  RDATA. Else FORMERR.
- §3.4.2 updates, in order: an add of a record already there only sets the RRset's TTL; a
  CNAME is not added beside other data nor other data beside a CNAME (ignored); an SOA add
  replaces the SOA only at the apex and only with a higher serial (RFC 1982 arithmetic);
  deleting every RRset of a name keeps the apex SOA and NS; deleting the apex SOA or NS RRset,
  the SOA record, or the apex's last NS record is ignored. What is ignored is said in
  `Outcome.notes`, for the log.

After the updates the zone is built and checked as a loaded zone file is (checkzone.py): an
update that would leave it with an error (an MX pointing at a CNAME, say) is REFUSED with the
first error as the reason, and nothing changes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dnslib import SOA as RD_SOA
from dnslib import DNSLabel

from dnsserver.errors import FORMERR, NOERROR, REFUSED, ZoneError
from dnsserver.masterfile import Record, name_text, record_text, type_name
from dnsserver.problems import Problems
from dnsserver.wire import Name
from dnsserver.zone import RRset, Zone, build

NXDOMAIN = 3
YXDOMAIN, YXRRSET, NXRRSET, NOTAUTH, NOTZONE = 6, 7, 8, 9, 10  # RFC 2136 §2.2
CLASS_IN, CLASS_NONE, CLASS_ANY = 1, 254, 255
NS, CNAME, SOA, ANY = 2, 5, 6, 255
#: Types that are no data in a zone: OPT, TKEY, TSIG, IXFR, AXFR, MAILB, MAILA, ANY, and the
#: rest of the meta range (RFC 6895 §3.1), and type 0.
_META = frozenset({0, 41, *range(128, 256)})
MAX_CHANGES = 1000  # records in one UPDATE's prerequisite and update sections together
SERIAL_SPACE = 1 << 32
_HALF_SPACE = SERIAL_SPACE >> 1  # RFC 1982: 2^(SERIAL_BITS - 1)


@dataclass(frozen=True, slots=True)
class Change:
    """One record of an UPDATE's prerequisite or update section. `record` is its RDATA read
    as a zone file line would be (None: no RDATA, as deletions and most prerequisites have)."""

    name: Name  # as sent
    rclass: int
    rtype: int
    ttl: int
    record: Record | None = None

    @property
    def key(self) -> Name:
        return tuple(label.lower() for label in self.name)


@dataclass(frozen=True, slots=True)
class Content:
    """A dynamic zone's records: owner (lowercased) -> type -> the RRset's records (one TTL)."""

    origin: Name  # lowercased
    origin_labels: Name
    names: dict[Name, dict[int, tuple[Record, ...]]]

    @property
    def soa(self) -> Record:
        return self.names[self.origin][SOA][0]

    @property
    def serial(self) -> int:
        return int(self.soa.rdata.times[0])  # type: ignore[attr-defined]

    def records(self) -> list[Record]:
        """Every record: the SOA first, then the apex, then the other names in order."""
        out = list(self.names[self.origin][SOA])
        out += [r for t, rs in sorted(self.names[self.origin].items()) if t != SOA for r in rs]
        for key in sorted(self.names, key=lambda k: tuple(reversed(k))):
            if key != self.origin:
                out += [r for _, rs in sorted(self.names[key].items()) for r in rs]
        return out

    def zone(self, path: str) -> Zone:
        """The served zone, built and checked (ZoneError if it has errors)."""
        return build(self.origin_labels, self.records(), path, Problems())


def content(origin_labels: Name, records: Iterable[Record]) -> Content:
    """Group records as a zone file's loader does: duplicates dropped, one TTL per RRset (the
    smallest, RFC 2181 §5.2)."""
    origin = tuple(label.lower() for label in origin_labels)
    names: dict[Name, dict[int, tuple[Record, ...]]] = {}
    for rec in records:
        node = names.setdefault(rec.key, {})
        old = node.get(rec.rtype, ())
        ttl = min([rec.ttl, *(r.ttl for r in old)])
        new = old if any(r.identity == rec.identity for r in old) else (*old, rec)
        node[rec.rtype] = tuple(_with_ttl(r, ttl) for r in new)
    if SOA not in names.get(origin, {}):
        raise ZoneError(f"zone {name_text(origin_labels)} has no SOA record")
    return Content(origin, origin_labels, names)


def _with_ttl(rec: Record, ttl: int) -> Record:
    if rec.ttl == ttl:
        return rec
    return Record(
        rec.labels, rec.key, ttl, rec.rtype, rec.rdata, rec.identity, rec.target,
        rec.target_labels, rec.source, rec.line,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one UPDATE did. A failure (`rcode` other than NOERROR) changed nothing and says
    `why`; a success with no change (`content` None) needs no journal entry."""

    rcode: int
    why: str = ""
    content: Content | None = None
    zone: Zone | None = None
    removed: tuple[Record, ...] = ()  # the old SOA first, when anything changed
    added: tuple[Record, ...] = ()  # the new SOA first
    notes: tuple[str, ...] = ()  # what was ignored, and why

    @property
    def changed(self) -> bool:
        return self.content is not None


def _fail(rcode: int, why: str) -> Outcome:
    return Outcome(rcode, why)


def serial_after(new: int, old: int) -> bool:
    """RFC 1982: `new` is a later serial than `old`."""
    return 0 < (new - old) % SERIAL_SPACE < _HALF_SPACE


def next_serial(serial: int) -> int:
    """The serial after `serial`, skipping 0 as BIND does (0 reads as 'never set')."""
    return (serial + 1) % SERIAL_SPACE or 1


def _in_zone(key: Name, origin: Name) -> bool:
    return len(key) >= len(origin) and key[len(key) - len(origin) :] == origin


def _what(ch: Change) -> str:
    return f"{name_text(ch.name)} {type_name(ch.rtype)}"


def apply_update(
    content: Content,
    prerequisites: Sequence[Change],
    updates: Sequence[Change],
    path: str = "",
    zone: Zone | None = None,
) -> Outcome:
    """Check the prerequisites, then apply the updates, all or nothing (see the module).
    `zone`, the zone served from `content`, lets the new one be patched from it (`patched`)
    rather than built again from every record."""
    if len(prerequisites) + len(updates) > MAX_CHANGES:
        return _fail(REFUSED, f"more than {MAX_CHANGES} records in one update")
    failed = _prerequisites(content, prerequisites)
    if failed is not None:
        return failed
    failed = _prescan(content, updates)
    if failed is not None:
        return failed
    names = dict(content.names)  # copy on write: a touched node is copied first
    touched: set[tuple[Name, int]] = set()
    notes: list[str] = []
    soa_set = False
    origin = content.origin
    for ch in updates:
        key = ch.key
        node = names.get(key, {})
        if ch.rclass == CLASS_IN:
            assert ch.record is not None
            rec = ch.record
            if ch.rtype == SOA:
                if key != origin:
                    notes.append(f"ignored: an SOA record at {name_text(ch.name)}, not the apex")
                    continue
                new, old = int(rec.rdata.times[0]), _serial(names[origin][SOA][0])  # type: ignore[attr-defined]
                if not serial_after(new, old):
                    notes.append(f"ignored: SOA serial {new} is not after {old}")
                    continue
                names[key] = {**node, SOA: (rec,)}
                touched.add((key, SOA))
                soa_set = True
                continue
            if ch.rtype == CNAME and any(t != CNAME for t in node):
                notes.append(f"ignored: {_what(ch)}: the name has other data")
                continue
            if ch.rtype != CNAME and CNAME in node:
                notes.append(f"ignored: {_what(ch)}: the name has a CNAME")
                continue
            old_set = node.get(ch.rtype, ())
            if ch.rtype == CNAME:
                old_set = ()  # one CNAME per name: the new one replaces it
            kept = tuple(_with_ttl(r, ch.ttl) for r in old_set if r.identity != rec.identity)
            names[key] = {**node, ch.rtype: (*kept, rec)}
            touched.add((key, ch.rtype))
        elif ch.rclass == CLASS_ANY:
            if ch.rtype == ANY:
                gone = [t for t in node if not (key == origin and t in (SOA, NS))]
                if not gone:
                    continue
                left = {t: rs for t, rs in node.items() if t not in gone}
                _set_node(names, key, left)
                touched.update((key, t) for t in gone)
            elif key == origin and ch.rtype in (SOA, NS):
                notes.append(f"ignored: deleting the apex {type_name(ch.rtype)} RRset")
            elif ch.rtype in node:
                _set_node(names, key, {t: rs for t, rs in node.items() if t != ch.rtype})
                touched.add((key, ch.rtype))
        else:  # CLASS_NONE: delete one record
            assert ch.record is not None
            if key == origin and ch.rtype == SOA:
                notes.append("ignored: deleting the SOA record")
                continue
            old_set = node.get(ch.rtype, ())
            left_set = tuple(r for r in old_set if r.identity != ch.record.identity)
            if len(left_set) == len(old_set):
                continue
            if key == origin and ch.rtype == NS and not left_set:
                notes.append("ignored: deleting the apex's last NS record")
                continue
            rest = {t: rs for t, rs in node.items() if t != ch.rtype}
            _set_node(names, key, {**rest, ch.rtype: left_set} if left_set else rest)
            touched.add((key, ch.rtype))
    removed, added = _difference(content.names, names, touched)
    if not removed and not added:
        return Outcome(NOERROR, notes=tuple(notes))
    old_soa = content.soa
    if not soa_set:
        names[origin] = {**names[origin], SOA: (_reserial(old_soa, next_serial(content.serial)),)}
    new_soa = names[origin][SOA][0]
    removed = [r for r in removed if r.rtype != SOA]
    added = [r for r in added if r.rtype != SOA]
    after = Content(origin, content.origin_labels, names)
    try:
        if zone is None:
            served = after.zone(path)
        else:
            served = patched(zone, after, touched | {(origin, SOA)}, path)
    except ZoneError as e:
        return _fail(REFUSED, f"the zone would have errors: {_first(e)}")
    return Outcome(
        NOERROR,
        content=after,
        zone=served,
        removed=(old_soa, *removed),
        added=(new_soa, *added),
        notes=tuple(notes),
    )


def patched(old: Zone, after: Content, touched: set[tuple[Name, int]], path: str) -> Zone:
    """The zone served after an update: `old` with the nodes of the touched names rebuilt from
    `after` and the others shared, and its name index and delegation points brought up to
    date; the cost grows with the update, not with the zone (but for copying three tables). The
    only error an update can bring into a zone that loaded (the rules above keep CNAMEs alone,
    the SOA at the apex and one NS there) is an apex NS naming a host of the zone that has no
    address: when the apex NS records or the names they point to change, the zone is built and
    checked whole (`Content.zone`) instead. Warnings are those of the last whole build."""
    origin = old.origin
    keys = {key for key, _ in touched}
    # (when the apex NS records did not change, the names they point to are the same as before)
    targets = {r.target for r in after.names[origin][NS] if r.target is not None}
    if (origin, NS) in touched or keys & targets:
        return after.zone(path)
    nodes = dict(old.nodes)
    exists = set(old.exists)
    cuts = set(old.cuts)
    records = old.records
    gone: list[Name] = []
    for key in keys:
        records -= sum(len(rrset.rdatas) for rrset in old.nodes.get(key, {}).values())
        recs = after.names.get(key)
        if not recs:
            nodes.pop(key, None)
            cuts.discard(key)
            gone.append(key)
            continue
        nodes[key] = {rtype: _rrset(rtype, rs) for rtype, rs in recs.items()}
        records += sum(len(rs) for rs in recs.values())
        if NS in recs and key != origin:
            cuts.add(key)
        else:
            cuts.discard(key)
        name = key
        while name not in exists:  # it and the empty non-terminals above it (the apex exists)
            exists.add(name)
            name = name[1:]
    for key in gone:  # a name that went: it, and the empty non-terminals above it, may go too
        name = key
        while name != origin:
            if name in nodes or any(k != name and k[len(k) - len(name) :] == name for k in nodes):
                break
            exists.discard(name)
            name = name[1:]
    soa = nodes[origin][SOA]
    return Zone(
        origin=origin,
        origin_label=old.origin_label,
        path=path,
        soa=soa,
        negative_ttl=min(soa.ttl, int(soa.rdatas[0].times[-1])),  # type: ignore[attr-defined]
        nodes=nodes,
        exists=exists,
        cuts=cuts,
        records=records,
        warnings=old.warnings,
    )


def _rrset(rtype: int, recs: tuple[Record, ...]) -> RRset:
    """An RRset as the zone's loader makes it (zone.build)."""
    targets = tuple(
        (r.target, DNSLabel(r.target_labels))
        for r in recs
        if r.target is not None and r.target_labels is not None
    )
    return RRset(rtype, recs[0].ttl, tuple(r.rdata for r in recs), targets)


def _first(error: ZoneError) -> str:
    for p in error.problems:
        if not p.warning:
            return p.message
    return str(error)


def _serial(soa: Record) -> int:
    return int(soa.rdata.times[0])  # type: ignore[attr-defined]


def _set_node(
    names: dict[Name, dict[int, tuple[Record, ...]]], key: Name, node: dict[int, tuple[Record, ...]]
) -> None:
    if node:
        names[key] = node
    else:  # (the name had this node: a deletion only reaches here when it changed something)
        del names[key]


def _reserial(soa: Record, serial: int) -> Record:
    """The SOA record with another serial. Its identity, as the loader's, is its wire form, in
    which the serial is the first of the five numbers that end it."""
    rd = soa.rdata
    new = RD_SOA(rd.mname, rd.rname, (serial, *rd.times[1:]))  # type: ignore[attr-defined]
    old = soa.identity
    assert isinstance(old, bytes)
    identity = old[:-20] + struct.pack("!I", serial) + old[-16:]
    return Record(
        soa.labels, soa.key, soa.ttl, SOA, new, identity, None, None, soa.source, soa.line
    )


def _difference(
    before: dict[Name, dict[int, tuple[Record, ...]]],
    after: dict[Name, dict[int, tuple[Record, ...]]],
    touched: Iterable[tuple[Name, int]],
) -> tuple[list[Record], list[Record]]:
    """Records removed and added in the touched RRsets; a changed TTL removes and adds the
    whole RRset (IXFR carries records, and a record's TTL is part of it)."""
    removed: list[Record] = []
    added: list[Record] = []
    for key, rtype in sorted(touched):
        old = before.get(key, {}).get(rtype, ())
        new = after.get(key, {}).get(rtype, ())
        if old and new and old[0].ttl != new[0].ttl:
            removed += old
            added += new
            continue
        old_ids = {r.identity for r in old}
        new_ids = {r.identity for r in new}
        removed += [r for r in old if r.identity not in new_ids]
        added += [r for r in new if r.identity not in old_ids]
    return removed, added


def _prerequisites(content: Content, prerequisites: Sequence[Change]) -> Outcome | None:
    """RFC 2136 §3.2; None when every prerequisite holds."""
    wanted: dict[tuple[Name, int], set[object]] = {}
    for ch in prerequisites:
        where = f"prerequisite {name_text(ch.name)} {type_name(ch.rtype)}"
        if ch.ttl != 0:
            return _fail(FORMERR, f"{where}: TTL {ch.ttl}, not 0")
        key = ch.key
        if not _in_zone(key, content.origin):
            return _fail(NOTZONE, f"{where}: outside the zone")
        node = content.names.get(key, {})
        if ch.rclass in (CLASS_ANY, CLASS_NONE):
            if ch.record is not None:
                return _fail(FORMERR, f"{where}: RDATA in a class ANY or NONE prerequisite")
            present = bool(node) if ch.rtype == ANY else ch.rtype in node
            if ch.rclass == CLASS_ANY and not present:
                return _fail(NXDOMAIN if ch.rtype == ANY else NXRRSET, f"{where}: not there")
            if ch.rclass == CLASS_NONE and present:
                return _fail(YXDOMAIN if ch.rtype == ANY else YXRRSET, f"{where}: there")
        elif ch.rclass == CLASS_IN:
            if ch.record is None or ch.rtype in _META:
                return _fail(FORMERR, f"{where}: a value-dependent prerequisite without RDATA")
            wanted.setdefault((key, ch.rtype), set()).add(ch.record.identity)
        else:
            return _fail(FORMERR, f"{where}: class {ch.rclass}")
    for (key, rtype), identities in wanted.items():
        have = {r.identity for r in content.names.get(key, {}).get(rtype, ())}
        if have != identities:
            return _fail(NXRRSET, f"prerequisite {name_text(key)} {type_name(rtype)}: "
                         "the RRset differs")  # fmt: skip
    return None


def _prescan(content: Content, updates: Sequence[Change]) -> Outcome | None:
    """RFC 2136 §3.4.1.3; None when every update can be applied."""
    for ch in updates:
        problem = _bad_update(ch, content.origin)
        if problem is not None:
            rcode, why = problem
            return _fail(rcode, f"update {name_text(ch.name)} {type_name(ch.rtype)}: {why}")
    return None


def _bad_update(ch: Change, origin: Name) -> tuple[int, str] | None:
    if not _in_zone(ch.key, origin):
        return NOTZONE, "outside the zone"
    if ch.rclass == CLASS_IN:
        if ch.rtype in _META or ch.record is None:
            return FORMERR, "not a record that can be added"
    elif ch.rclass == CLASS_ANY:
        if ch.ttl != 0 or ch.record is not None or (ch.rtype in _META and ch.rtype != ANY):
            return FORMERR, "a bad RRset deletion"
    elif ch.rclass == CLASS_NONE:
        if ch.ttl != 0 or ch.record is None or ch.rtype in _META:
            return FORMERR, "a bad record deletion"
    else:
        return FORMERR, f"class {ch.rclass}"
    return None


class JournalMismatch(ValueError):
    """A journal entry that does not follow from the zone it is applied to."""


def apply_difference(
    content: Content, removed: Sequence[Record], added: Sequence[Record]
) -> Content:
    """Replay a journal entry: `removed` (the old SOA first) out, `added` (the new SOA first)
    in. JournalMismatch if the old SOA is not the zone's, or a removed record is not there."""
    if not removed or not added or removed[0].rtype != SOA or added[0].rtype != SOA:
        raise JournalMismatch("an entry must begin with the old and the new SOA")
    if removed[0].identity != content.soa.identity:
        raise JournalMismatch(
            f"the entry starts at serial {_serial(removed[0])}, the zone is at {content.serial}"
        )
    names = dict(content.names)
    for rec in removed[1:]:
        node = names.get(rec.key, {})
        old = node.get(rec.rtype, ())
        left = tuple(r for r in old if r.identity != rec.identity)
        if len(left) == len(old):
            raise JournalMismatch(f"{record_text(rec)} is not in the zone")
        rest = {t: rs for t, rs in node.items() if t != rec.rtype}
        _set_node(names, rec.key, {**rest, rec.rtype: left} if left else rest)
    names[content.origin] = {**names[content.origin], SOA: (added[0],)}
    for rec in added[1:]:
        node = names.get(rec.key, {})
        old = tuple(r for r in node.get(rec.rtype, ()) if r.identity != rec.identity)
        names[rec.key] = {**node, rec.rtype: (*(_with_ttl(r, rec.ttl) for r in old), rec)}
    return Content(content.origin, content.origin_labels, names)
