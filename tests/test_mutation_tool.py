"""tools/mutation.py: the equivalents file, and the automatic reasons (only case changes in
case-insensitive strings)."""

from __future__ import annotations

import importlib.util
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
