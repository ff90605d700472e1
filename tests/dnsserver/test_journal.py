"""The journal of a dynamic zone: entries written and read back, torn tails, replay, history."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pytest

from dnsserver import journal
from dnsserver.masterfile import record_text
from dnsserver.update import Content, apply_update
from dnsserver.zone import load_zone
from tests.dnsserver.test_update import ORIGIN, add, delete_rr, zone


def steps(n: int) -> tuple[Content, list[journal.Entry], Content]:
    """The zone, the entries of `n` updates applied to it, and the zone after them."""
    first = c = zone()
    entries = []
    for i in range(n):
        out = apply_update(c, [], [add(f"h{i}.example.com. 60 IN A 192.0.2.{i + 1}")])
        assert out.content is not None
        entries.append(journal.entry_of(out.removed, out.added))
        c = out.content
    return first, entries, c


def texts(c: Content) -> list[str]:
    return sorted(map(record_text, c.records()))


def test_entries_are_written_and_read_back() -> None:
    _, entries, _ = steps(3)
    data = b"".join(journal.encode(e) for e in entries)
    got = journal.read(data, ORIGIN)
    assert got.problem is None and got.good_length == len(data)
    assert [(e.start, e.end) for e in got.entries] == [(10, 11), (11, 12), (12, 13)]
    for a, b in zip(got.entries, entries, strict=True):
        assert list(map(record_text, a.removed)) == list(map(record_text, b.removed))
        assert list(map(record_text, a.added)) == list(map(record_text, b.added))
    line = journal.encode(entries[0])
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    body = json.loads(line[9:])
    assert body["from"] == 10 and body["to"] == 11
    assert body["added"][1] == "h0.example.com. 60 IN A 192.0.2.1"
    assert int(line[:8], 16) == zlib.crc32(line[9:-1])


@pytest.mark.parametrize("cut", [1, 9, 20, -2, -1])
def test_a_torn_last_entry_is_dropped_and_the_good_part_kept(cut: int) -> None:
    _, entries, _ = steps(2)
    good = journal.encode(entries[0])
    torn = journal.encode(entries[1])[:cut]
    got = journal.read(good + torn, ORIGIN)
    assert len(got.entries) == 1 and got.good_length == len(good)
    assert got.problem == "entry 2 is incomplete (a torn write)"


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b"zzzzzzzz {}", "no checksum"),
        (b"0000000 {}", "no checksum"),
        (b"short", "no checksum"),
        (b"00000000 {}", "checksum mismatch"),
        (b"%08x {}" % zlib.crc32(b"{}"), "not an entry"),
        (b"%08x [1]" % zlib.crc32(b"[1]"), "not an entry"),
        (b"%08x {" % zlib.crc32(b"{"), "not an entry"),
    ],
)
def test_a_damaged_entry_stops_the_read(line: bytes, problem: str) -> None:
    _, entries, _ = steps(1)
    good = journal.encode(entries[0])
    got = journal.read(good + line + b"\n" + good, ORIGIN)
    assert len(got.entries) == 1 and got.good_length == len(good)
    assert got.problem is not None and got.problem.startswith(f"entry 2 is damaged: {problem}")


def test_an_entry_without_its_soas_or_out_of_zone_is_damaged() -> None:
    body = json.dumps({"from": 1, "to": 2, "removed": [], "added": []}).encode()
    got = journal.read(b"%08x %s\n" % (zlib.crc32(body), body), ORIGIN)
    assert got.problem == "entry 1 is damaged: an entry without its SOAs"
    body = json.dumps({"from": 1, "to": 2, "removed": ["x.example.org. 1 IN A 1.2.3.4"],
                       "added": ["x.example.org. 1 IN A 1.2.3.4"]}).encode()  # fmt: skip
    got = journal.read(b"%08x %s\n" % (zlib.crc32(body), body), ORIGIN)
    assert got.problem is not None and "outside the zone" in got.problem


def test_replay_applies_what_follows_the_file_and_skips_history() -> None:
    first, entries, last = steps(4)
    r = journal.replay(first, entries)
    assert r.applied == 4 and r.warning is None and texts(r.content) == texts(last)
    middle = journal.replay(first, entries[:2]).content
    r = journal.replay(middle, entries)  # the file was compacted at entry 2: two to go
    assert r.applied == 2 and texts(r.content) == texts(last)
    r = journal.replay(last, entries)  # all history
    assert r.applied == 0 and r.content is last and r.warning is None


def test_a_gap_in_the_journal_stops_the_replay_with_a_warning() -> None:
    first, entries, _ = steps(4)
    r = journal.replay(first, [entries[0], entries[2], entries[3]])
    assert r.applied == 1 and r.content.serial == 11
    assert r.warning == (
        "journal entry 12 -> 13 does not follow serial 11: the rest of the journal is not applied"
    )


def test_an_entry_that_does_not_fit_the_zone_stops_the_replay() -> None:
    first = zone()
    out = apply_update(first, [], [delete_rr("www.example.com. 0 IN A 192.0.2.80")])
    assert out.content is not None
    entry = journal.entry_of(out.removed, out.added)
    # a hand edit that kept serial 10 but already removed the record the entry deletes
    names = {**out.content.names, ORIGIN: first.names[ORIGIN]}
    edited = Content(first.origin, first.origin_labels, names)
    r = journal.replay(edited, [entry])
    assert r.applied == 0 and r.content is edited
    assert r.warning == (
        "journal entry 10 -> 11: www.example.com. 300 IN A 192.0.2.80 is not in the zone"
    )


def test_history_is_the_chain_from_a_serial() -> None:
    _, entries, _ = steps(4)
    assert [e.start for e in journal.history(entries, 11)] == [11, 12, 13]
    assert journal.history(entries, 13) == entries[3:]
    assert journal.history(entries, 14) == [] and journal.history(entries, 9) == []
    assert journal.history([entries[0], entries[2]], 10) == []  # a gap: no IXFR from here


def test_the_zone_text_loads_as_the_same_zone(tmp_path: Path) -> None:
    _, _, last = steps(3)
    path = tmp_path / "example.com.zone"
    path.write_text(journal.zone_text(last, "test"))
    assert path.read_text().startswith("; zone example.com. -- test\n$ORIGIN example.com.\n")
    loaded = load_zone(path)
    assert loaded.serial == last.serial == 13 and loaded.records == len(last.records())


SOA_10 = "example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. 10 7200 3600 1209600 60"
SOA_11 = SOA_10.replace(" 10 ", " 11 ")


def test_an_entry_is_written_exactly_so() -> None:
    _, entries, _ = steps(1)
    body = (
        b'{"from":10,"to":11,"removed":["' + SOA_10.encode() + b'"],"added":["'
        + SOA_11.encode() + b'","h0.example.com. 60 IN A 192.0.2.1"]}'
    )  # fmt: skip
    assert journal.encode(entries[0]) == b"%08x " % zlib.crc32(body) + body + b"\n"
    assert journal.encode(entries[0])[:9] == b"08d6d159 "  # lowercase hex, as written


def test_an_entry_of_a_difference_takes_its_serials_from_the_soas() -> None:
    _, entries, _ = steps(2)
    e = entries[1]
    assert (e.start, e.end) == (11, 12)
    assert [record_text(r) for r in e.removed] == [SOA_11]
    assert [record_text(r) for r in e.added] == [
        SOA_11.replace(" 11 ", " 12 "),
        "h1.example.com. 60 IN A 192.0.2.2",
    ]


def line_of(obj: object) -> bytes:
    body = json.dumps(obj).encode()
    return b"%08x %s\n" % (zlib.crc32(body), body)


def test_an_empty_line_first_is_damaged_not_torn() -> None:
    _, entries, _ = steps(1)
    got = journal.read(b"\n" + journal.encode(entries[0]), ORIGIN)
    assert got == journal.Read((), 0, "entry 1 is damaged: no checksum")
    got = journal.read(journal.encode(entries[0]) + b"\n", ORIGIN)
    assert len(got.entries) == 1 and got.problem == "entry 2 is damaged: no checksum"
    assert journal.read(b"", ORIGIN) == journal.Read((), 0, None)


def test_a_checksum_may_be_upper_case_hex() -> None:
    _, entries, _ = steps(1)
    line = journal.encode(entries[0])
    got = journal.read(line[:8].upper() + line[8:], ORIGIN)
    assert got.problem is None and len(got.entries) == 1


@pytest.mark.parametrize(
    ("removed", "added"),
    [
        ([SOA_10, "x.example.org. 1 IN A 192.0.2.1"], [SOA_11]),
        ([SOA_10], [SOA_11, "x.example.org. 1 IN A 192.0.2.1"]),
    ],
)
def test_a_record_outside_the_zone_in_either_list_is_damage(
    removed: list[str], added: list[str]
) -> None:
    data = line_of({"from": 10, "to": 11, "removed": removed, "added": added})
    got = journal.read(data, ORIGIN)
    assert got.entries == () and got.good_length == 0
    assert got.problem is not None and got.problem.startswith("entry 1 is damaged: ")
    assert "outside the zone" in got.problem
    ok = journal.read(data)  # without a zone to check against, it reads
    assert ok.problem is None and len(ok.entries) == 1


@pytest.mark.parametrize(("removed", "added"), [([SOA_10], []), ([], [SOA_11]), ([], [])])
def test_an_entry_needs_both_soas(removed: list[str], added: list[str]) -> None:
    got = journal.read(line_of({"from": 10, "to": 11, "removed": removed, "added": added}))
    assert got.problem == "entry 1 is damaged: an entry without its SOAs"


@pytest.mark.parametrize(
    ("obj", "why"),
    [
        ({"to": 11, "removed": [SOA_10], "added": [SOA_11]}, "not an entry ('from')"),
        ({"from": 10, "to": 11, "added": [SOA_11]}, "not an entry ('removed')"),
        ({"from": None, "to": 11, "removed": [SOA_10], "added": [SOA_11]}, "not an entry (int()"),
    ],
)
def test_an_entry_missing_a_field_is_damaged(obj: object, why: str) -> None:
    got = journal.read(line_of(obj))
    assert got.problem is not None and got.problem.startswith(f"entry 1 is damaged: {why}")


def test_a_read_entry_is_what_was_written() -> None:
    data = line_of({"from": 10, "to": 11, "removed": [SOA_10], "added": [SOA_11]})
    (entry,) = journal.read(data, ORIGIN).entries
    assert (entry.start, entry.end) == (10, 11)
    assert [record_text(r) for r in entry.removed] == [SOA_10]
    assert [record_text(r) for r in entry.added] == [SOA_11]
