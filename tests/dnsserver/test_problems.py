"""Zone problems as checkzone prints them: `file:line`, the $INCLUDE chain, and the cap of 100
kept errors and 100 kept warnings with a line saying how many more there were."""

from __future__ import annotations

from dnsserver.problems import MAX_KEPT, Problem, Problems, Source


def test_where_a_problem_is() -> None:
    main = Source("main.zone")
    mid = Source("mid.inc", main, 5)
    deep = Source("deep.inc", mid, 1)
    assert main.at(7) == "main.zone:7" and main.at(0) == "main.zone"
    assert main.included() == ""
    assert mid.included() == " (included from main.zone:5)"
    assert deep.included() == " (included from mid.inc:1, from main.zone:5)"


def test_how_a_problem_is_printed() -> None:
    error = Problem("z.zone:3", "bad thing", included=" (included from a.zone:1)")
    assert str(error) == "z.zone:3: bad thing (included from a.zone:1)"
    assert error.to_text() == "z.zone:3: error: bad thing (included from a.zone:1)"
    assert Problem("z.zone", "odd thing", warning=True).to_text() == "z.zone: warning: odd thing"


def test_problems_in_the_order_found() -> None:
    found = Problems()
    src = Source("z.zone")
    found.warn(src, 2, "w1")
    found.error(Source("a.inc", src, 9), 1, "e1")
    found.error(src, 0, "e2")
    assert [p.to_text() for p in found.listing("z.zone")] == [
        "z.zone:2: warning: w1",
        "a.inc:1: error: e1 (included from z.zone:9)",
        "z.zone: error: e2",
    ]
    assert [str(p) for p in found.errors] == ["a.inc:1: e1 (included from z.zone:9)", "z.zone: e2"]
    assert [str(p) for p in found.warnings] == ["z.zone:2: w1"]
    assert (found.error_count, found.warning_count) == (2, 1)


def test_at_most_100_of_each_are_kept_and_the_rest_counted() -> None:
    assert MAX_KEPT == 100
    found = Problems()
    src = Source("z.zone")
    for i in range(MAX_KEPT):
        found.error(src, i + 1, f"e{i}")
        found.warn(src, i + 1, f"w{i}")
    assert len(found.listing("z.zone")) == 2 * MAX_KEPT  # all kept: no summary line
    found.warn(src, 500, "one warning too many")
    listing = found.listing("z.zone")
    assert len(listing) == 2 * MAX_KEPT + 1
    assert listing[-1] == Problem(
        "z.zone", "... and 0 more errors and 1 more warnings not shown", warning=True
    )
    for i in range(3):
        found.error(src, 600 + i, "one error too many")
    assert found.listing("z.zone")[-1] == Problem(
        "z.zone", "... and 3 more errors and 1 more warnings not shown", warning=False
    )
    assert (found.error_count, found.warning_count) == (103, 101)
    assert len(found.errors) == len(found.warnings) == MAX_KEPT
