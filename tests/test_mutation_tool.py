"""tools/mutation.py: the equivalents file, and the automatic reasons (only case changes in
case-insensitive strings)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "mutation_tool", Path(__file__).resolve().parents[1] / "tools" / "mutation.py"
)
assert _spec is not None and _spec.loader is not None
mutation = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mutation)


def diff(old: str, new: str) -> str:
    return f"--- a.py\n+++ a.py\n@@ -1,3 +1,3 @@\n     x = 1\n-    {old}\n+    {new}\n     y = 2\n"


def test_sql_in_another_case_is_equivalent() -> None:
    reason = mutation.case_only_reason(
        diff('db.execute("SELECT uid FROM messages")', 'db.execute("select uid from messages")')
    )
    assert reason == "changes only the case of SQL, which SQLite reads case-insensitively"


def test_a_clause_continuing_a_statement_is_sql_too() -> None:
    reason = mutation.case_only_reason(
        diff('"FROM messages WHERE uid = ?"', '"from messages where uid = ?"')
    )
    assert reason == "changes only the case of SQL, which SQLite reads case-insensitively"


def test_an_index_named_in_another_case_is_sql_too() -> None:
    reason = mutation.case_only_reason(
        diff('" INDEXED BY summaries_sort"', '" INDEXED BY SUMMARIES_SORT"')
    )
    assert reason == "changes only the case of SQL, which SQLite reads case-insensitively"
    reason = mutation.case_only_reason(
        diff('" INDEXED BY summaries_sort"', '" indexed by summaries_sort"')
    )
    assert reason == "changes only the case of SQL, which SQLite reads case-insensitively"


def test_the_columns_of_a_select_continued_are_sql_too() -> None:
    old = '" total(size), total((flags & 8) != 0),"'
    reason = mutation.case_only_reason(diff(old, '" TOTAL(SIZE), TOTAL((FLAGS & 8) != 0),"'))
    assert reason == "changes only the case of SQL, which SQLite reads case-insensitively"
    old = '" total(CASE WHEN flags & 8 THEN size ELSE 0 END)"'
    new = '" total(case when flags & 8 then size else 0 end)"'
    assert mutation.case_only_reason(diff(old, new)) == reason
    assert mutation.case_only_reason(diff('" totals: "', '" TOTALS: "')) is None


def test_python_from_and_a_message_saying_from_are_not_sql() -> None:
    old = 'raise StoreError("bad name") from None'
    assert mutation.case_only_reason(diff(old, 'raise StoreError("BAD NAME") from None')) is None
    assert mutation.case_only_reason(diff('log("mail from x")', 'log("MAIL FROM X")')) is None


def test_a_codec_name_in_another_case_is_equivalent() -> None:
    reason = mutation.case_only_reason(diff('b.decode("ascii")', 'b.decode("ASCII")'))
    assert reason == "changes only the case of a codec name, which Python reads case-insensitively"
    opened = mutation.case_only_reason(
        diff('open(p, encoding="utf-8")', 'open(p, encoding="UTF-8")')
    )
    assert opened == reason


def test_anything_else_is_not() -> None:
    assert mutation.case_only_reason(diff('x = "Subject"', 'x = "SUBJECT"')) is None  # not SQL
    assert (
        mutation.case_only_reason(diff('db.execute("SELECT 1")', 'db.execute("XXSELECT 1XX")'))
        is None
    )
    assert (
        mutation.case_only_reason(diff('db.execute("SELECT 1")', 'db.execute("SELECT 1")')) is None
    )
    assert mutation.case_only_reason("--- a.py\n+++ a.py\n+    added()\n") is None  # no removal
    # a value inside the SQL is compared as it is written: its case matters
    old, new = "q = \"WHERE name = 'INBOX'\"", "q = \"where name = 'inbox'\""
    assert mutation.case_only_reason(diff(old, new)) is None


def test_an_equivalent_line_may_hold_the_separator_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    listed = tmp_path / "equivalent.txt"
    listed.write_text(
        "# comment\n\n"
        'a/b.py | self._drop: Maildrop | None = "" | never read before login\n'
        "a/c.py | x = 1 | plain\n"
    )
    monkeypatch.setattr(mutation, "EQUIVALENT", listed)
    assert mutation.equivalents() == [
        ("a/b.py", 'self._drop: Maildrop | None = ""', "never read before login"),
        ("a/c.py", "x = 1", "plain"),
    ]


def test_each_run_finds_again_which_tests_reach_each_function(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mutation, "ROOT", tmp_path)
    mutation.forget_test_map()  # nothing there yet: nothing to do
    (tmp_path / "mutants").mkdir()
    stats = tmp_path / "mutants" / "mutmut-stats.json"
    stats.write_text("{}")
    (tmp_path / "mutants" / "a.py.meta").write_text("{}")
    mutation.forget_test_map()
    assert not stats.exists() and (tmp_path / "mutants" / "a.py.meta").exists()


def test_pending_names_only_the_mutants_without_a_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mutation, "ROOT", tmp_path)
    (tmp_path / "mutants" / "pkg").mkdir(parents=True)
    codes = {"pkg.a.x_f__mutmut_2": None, "pkg.a.x_f__mutmut_1": None, "pkg.a.x_g__mutmut_1": 1}
    codes["pkg.a.x_g__mutmut_2"] = 0  # a survivor keeps its verdict too
    (tmp_path / "mutants" / "pkg" / "a.py.meta").write_text(
        mutation.json.dumps({"exit_code_by_key": codes})
    )
    assert mutation.pending(["pkg/a.py", "pkg/none.py"]) == [
        "pkg.a.x_f__mutmut_1",
        "pkg.a.x_f__mutmut_2",
    ]


def _meta(root: Path, module: str, codes: dict[str, int | None], hashes: dict[str, str]) -> None:
    path = root / "mutants" / (module + ".meta")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        mutation.json.dumps({"exit_code_by_key": codes, "hash_by_function_name": hashes})
    )


def test_verdicts_are_recorded_and_a_new_checkout_starts_from_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mutation, "ROOT", tmp_path)
    record = tmp_path / "verdicts.json"
    monkeypatch.setattr(mutation, "VERDICTS", record)
    monkeypatch.setattr(mutation, "cores", lambda: ["pkg/a.py", "pkg/b.py", "pkg/c.py"])
    monkeypatch.setattr(mutation, "EQUIVALENT", tmp_path / "none.txt")
    monkeypatch.setattr(mutation, "diff_of", lambda name: diff("x = 1", "x = 2"))
    codes = {
        "pkg.a.x_f__mutmut_2": 0,  # a survivor
        "pkg.a.x_f__mutmut_1": 1,  # killed
        "pkg.a.x_f__mutmut_3": None,  # not run yet
        "pkg.a.x_f__mutmut_4": 2,  # in flight when the run was stopped: not decided
        "pkg.a.xǁKǁm__mutmut_1": 36,  # a method (mutmut's ǁ), timed out
    }
    _meta(tmp_path, "pkg/a.py", codes, {"x_f": "aaa", "xǁKǁm": "bbb"})
    # an earlier record: b was not run this time (kept), gone.py is no core any more (dropped)
    record.write_text(
        '{"modules": {"pkg/b.py": {"x_g": ["ccc", [1]]}, "pkg/gone.py": {"x_h": ["d", [0]]}}}'
    )
    assert mutation.save_verdicts(["pkg/a.py", "pkg/c.py"]) == 4  # 3 in a, 1 kept in b
    assert mutation.json.loads(record.read_text()) == {
        "modules": {
            "pkg/a.py": {"x_f": ["aaa", [1, 0, None, None]], "xǁKǁm": ["bbb", [36]]},
            "pkg/b.py": {"x_g": ["ccc", [1]]},
        },
        "equivalent": {},  # the survivor is not listed
    }
    assert "xǁKǁm" in record.read_text(encoding="utf-8")  # readable, one function a line
    assert len(record.read_text().splitlines()) == 10

    # a new checkout: no mutants/ folder; b's meta exists already and is left as it is
    shutil.rmtree(tmp_path / "mutants")
    _meta(tmp_path, "pkg/b.py", {"pkg.b.x_g__mutmut_1": 0}, {"x_g": "new"})
    assert mutation.restore_verdicts(["pkg/a.py", "pkg/b.py", "pkg/c.py"]) == 3
    meta = mutation.json.loads((tmp_path / "mutants" / "pkg" / "a.py.meta").read_text())
    assert meta["exit_code_by_key"] == codes | {"pkg.a.x_f__mutmut_4": None}
    assert meta["hash_by_function_name"] == {"x_f": "aaa", "xǁKǁm": "bbb"}
    rest = {k: v for k, v in meta.items() if k not in ("exit_code_by_key", "hash_by_function_name")}
    assert rest == {  # what mutmut's SourceFileMutationData.load requires
        "type_check_error_by_key": {},
        "durations_by_key": {},
        "estimated_durations_by_key": {},
    }
    b = mutation.json.loads((tmp_path / "mutants" / "pkg" / "b.py.meta").read_text())
    assert b["hash_by_function_name"] == {"x_g": "new"}
    assert not (tmp_path / "mutants" / "pkg" / "c.py.meta").exists()


def test_without_a_record_nothing_is_restored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mutation, "ROOT", tmp_path)
    monkeypatch.setattr(mutation, "VERDICTS", tmp_path / "none.json")
    assert mutation.restore_verdicts(["pkg/a.py"]) == 0
    assert not (tmp_path / "mutants").exists()


def test_survivors_listed_as_equivalent_are_not_run_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A survivor recorded as listed keeps its verdict while its line is listed still (or the
    automatic reason holds); every other survivor is tried again."""
    monkeypatch.setattr(mutation, "ROOT", tmp_path)
    record = tmp_path / "verdicts.json"
    monkeypatch.setattr(mutation, "VERDICTS", record)
    monkeypatch.setattr(mutation, "cores", lambda: ["pkg/a.py"])
    listed = tmp_path / "equivalent.txt"
    listed.write_text("pkg/a.py | x = 2 | two is as good as one here\n")
    monkeypatch.setattr(mutation, "EQUIVALENT", listed)
    diffs = {
        "pkg.a.x_f__mutmut_1": diff("x = 1", "x = 2"),  # listed
        "pkg.a.x_f__mutmut_2": diff("x = 1", "x = 3"),  # not listed
        "pkg.a.x_f__mutmut_3": diff('"SELECT a"', '"select a"'),  # the automatic reason
        "pkg.a.x_f__mutmut_4": diff("x = 1", "x = 2"),  # killed: not a survivor
    }
    monkeypatch.setattr(mutation, "diff_of", diffs.__getitem__)
    codes: dict[str, int | None] = dict.fromkeys(diffs, 0) | {"pkg.a.x_f__mutmut_4": 1}
    _meta(tmp_path, "pkg/a.py", codes, {"x_f": "aaa"})
    # an earlier record explained a survivor of a module that is no core any more: dropped
    record.write_text('{"modules": {}, "equivalent": {"pkg.gone.x_h__mutmut_1": "y"}}')
    mutation.save_verdicts(["pkg/a.py"])
    sql = mutation.CASE_REASONS[0]
    assert mutation.json.loads(record.read_text())["equivalent"] == {
        "pkg.a.x_f__mutmut_1": "x = 2",
        "pkg.a.x_f__mutmut_3": sql,
    }

    assert mutation.recheck_survivors(["pkg/a.py"]) == 1
    meta = mutation.json.loads((tmp_path / "mutants" / "pkg" / "a.py.meta").read_text())
    assert meta["exit_code_by_key"] == {
        "pkg.a.x_f__mutmut_1": 0,
        "pkg.a.x_f__mutmut_2": None,  # to be run again
        "pkg.a.x_f__mutmut_3": 0,
        "pkg.a.x_f__mutmut_4": 1,
    }
    # the line is no longer listed: its survivor is tried again too
    listed.write_text("")
    assert mutation.recheck_survivors(["pkg/a.py"]) == 1
    meta = mutation.json.loads((tmp_path / "mutants" / "pkg" / "a.py.meta").read_text())
    assert meta["exit_code_by_key"]["pkg.a.x_f__mutmut_1"] is None
    assert meta["exit_code_by_key"]["pkg.a.x_f__mutmut_3"] == 0
