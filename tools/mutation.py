"""`make mutation`: mutation testing of every protocol core, a score per module, the survivors.

    python tools/mutation.py                  # every core listed in pyproject's [tool.mutmut],
                                              # going on from tools/mutation_verdicts.json
    python tools/mutation.py --fresh          # every core, every mutant tried again
    python tools/mutation.py dnsserver/rrl.py # some of them (every mutant of those tried again)
    python tools/mutation.py --pending [...]  # only the mutants a stopped run left undecided
    python tools/mutation.py --save           # record the verdicts of a run stopped by hand
    python tools/mutation.py --report         # the scores and survivors as they stand
    MUTATION_JOBS=1 make mutation             # one worker (mutmut's default: one per CPU)

mutmut makes small changes to the code of each core (a `<` for a `<=`, a constant off by one,
a dropped call) and runs the tests that reach the changed function; a change the tests do not
notice survives. The score of a module is the share of its mutants that were killed, counting
timeouts as killed and mutants no test reaches as survived; the targets are 90% overall and 80%
for every module. Every survivor is printed with its diff, so that a person can read it. A
survivor that changes nothing a user, peer or client could observe is listed, with the reason,
in tools/mutation_equivalent.txt: it still counts against the score (the number stays honest),
and the list says why it is left.

Not part of `make test` or CI: a full run takes hours on 2 cores. Run it before resolving an
issue that touches a core, and put the scores in the closing note.

The verdicts are recorded in tools/mutation_verdicts.json, with the hash of each mutated
function, and committed, as Stryker's incremental file is: a run of every core on a new checkout
starts from the record, as mutmut starts from its own mutants/ folder on the machine that made
it. A mutant of a function whose code is unchanged keeps its verdict; the rest (new mutants,
changed functions, and every survivor not listed as equivalent, which a new test may kill) is
run. Like mutmut's own cache, a kill is not tried again when only the tests change, nor a listed
survivor while its line is listed: `--fresh` tries everything.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENT = Path(__file__).with_name("mutation_equivalent.txt")
VERDICTS = Path(__file__).with_name("mutation_verdicts.json")
TARGET_OVERALL = 90.0
TARGET_MODULE = 80.0
KILLED = {"killed", "timeout", "caught by type check", "segfault"}
SURVIVED_CODES = {0, 5, 33}  # mutmut's exit codes for "survived" and "no tests"
INTERRUPTED = 2  # mutmut's exit code for "check was interrupted by user"
UNDECIDED = {"not checked", "check was interrupted by user"}
_NAME = re.compile(r"^\s*(?P<name>\S+): (?P<status>.+)$")
_MODULE = re.compile(r"^(?P<module>.+?)\.x[ǁ_]")


def cores() -> list[str]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return list(tomllib.load(f)["tool"]["mutmut"]["only_mutate"])


def module_of(mutant: str) -> str:
    """'dnsserver.rrl.xǁRateLimiterǁcheck__mutmut_3' -> 'dnsserver/rrl.py'."""
    m = _MODULE.match(mutant)
    return (m.group("module") if m else mutant).replace(".", "/") + ".py"


def mutmut(*args: str, quiet: bool = False, fast: bool = False) -> str:
    """Run mutmut; with `fast`, under eatmydata when it is installed (`apt-get install
    eatmydata`): fsync becomes a no-op, so the store's tests, which fsync every delivery, run
    about four times faster. No test can see an fsync, so no verdict changes."""
    wrap = ["eatmydata"] if fast and shutil.which("eatmydata") else []
    out = subprocess.run(
        [*wrap, sys.executable, "-m", "mutmut", *args],
        cwd=ROOT,
        env={**os.environ, "MINTERNET_MUTATION": "1"},  # tests/conftest.py: no shrinking
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0 and not quiet:
        sys.stderr.write(out.stdout[-3000:] + out.stderr[-3000:])
        raise SystemExit(f"mutmut {args[0]} failed with status {out.returncode}")
    return out.stdout


def equivalents() -> list[tuple[str, str, str]]:
    """(module, the mutated line as mutmut shows it after '+', reason) of each listed survivor."""
    found = []
    for line in EQUIVALENT.read_text().splitlines() if EQUIVALENT.exists() else ():
        if not line.strip() or line.startswith("#"):
            continue
        # the changed line may hold " | " itself (a union type); the module and reason never do
        module, rest = line.split(" | ", 1)
        changed, reason = rest.rsplit(" | ", 1)
        found.append((module.strip(), changed.strip(), reason.strip()))
    return found


def diff_of(mutant: str) -> str:
    sys.path.insert(0, str(ROOT))
    from mutmut.mutation.diff_apply import find_mutant, get_diff_for_mutant

    return get_diff_for_mutant(mutant, path=find_mutant(mutant).path)


def forget_test_map() -> None:
    """Make mutmut find again which tests reach each function (a few minutes: it runs the
    selected tests once). mutmut 3.8 keeps that map from run to run and adds to it only the
    tests that are new: a function whose code changed since (a new parameter, say) kept just
    the new tests that reach it, so its mutants "survived" every test they were never run
    against. Verdicts must rest on every test that reaches the function."""
    (ROOT / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)


def recheck_survivors(modules: list[str]) -> int:
    """Forget the verdict of every survivor of `modules` from an earlier run, so that this run
    tries it again: mutmut keeps a verdict while the function's code is unchanged, even when a
    test that kills it was added since. Killed mutants stay killed (a new test cannot revive
    them), and so do the survivors recorded as listed equivalents whose line is listed still
    (re-running those would take longest of all, every test that reaches them, for nothing).
    Returns how many verdicts were forgotten."""
    forgotten = 0
    explained = _explained()
    listed = {(module, line) for module, line, _ in equivalents()}
    for module in modules:
        meta = ROOT / "mutants" / (module + ".meta")
        if not meta.exists():
            continue
        data = json.loads(meta.read_text())
        codes = data.get("exit_code_by_key", {})
        for key, code in codes.items():
            if code is None or code not in SURVIVED_CODES:
                continue
            why = explained.get(key)
            if why is not None and ((module, why) in listed or why in CASE_REASONS):
                continue  # read and listed as changing nothing: no new test is meant for it
            codes[key] = None
            forgotten += 1
        meta.write_text(json.dumps(data))
    return forgotten


def _explained() -> dict[str, str]:
    """The record's survivors that were listed as changing nothing when it was saved: mutant
    name -> the changed line that tools/mutation_equivalent.txt lists (or the automatic
    reason)."""
    if not VERDICTS.exists():
        return {}
    return dict(json.loads(VERDICTS.read_text(encoding="utf-8")).get("equivalent", {}))


def explanation(
    module: str, diff: str, listed: list[tuple[str, str, str]]
) -> tuple[str, str] | None:
    """(what matched, the reason) when the survivor with `diff` is listed as changing nothing
    observable: its changed line as the list gives it, or the automatic reason (twice)."""
    changed = changed_lines(diff)
    found = next(((line, r) for mod, line, r in listed if mod == module and line in changed), None)
    if found is not None:
        return found
    auto = case_only_reason(diff)
    return None if auto is None else (auto, auto)


def _prefix(module: str) -> str:
    """'pkg/a.py' -> 'pkg.a.', how mutmut's mutant names of that module begin."""
    return module[:-3].replace("/", ".") + "."


def save_verdicts(modules: list[str]) -> int:
    """Write the verdict of every mutant of `modules` (from mutants/*.meta) to VERDICTS, with
    the hash of the function it mutates; the record's other modules stay as they were, and
    modules that are no longer cores are dropped. Returns how many verdicts it holds.

    The record is committed, so that a run on another machine starts from it
    (`restore_verdicts`) as mutmut starts from its own mutants/ folder: a function whose code
    is unchanged keeps its mutants' verdicts, and only the rest is run. A full run on 2 cores
    takes longer than a working session; with the record, one run can go on where the last
    one stopped."""
    record: dict[str, dict[str, list[object]]] = {}
    explained = _explained()
    if VERDICTS.exists():
        record = json.loads(VERDICTS.read_text(encoding="utf-8"))["modules"]
    known = set(cores())
    record = {m: v for m, v in record.items() if m in known}
    explained = {k: v for k, v in explained.items() if module_of(k) in known}
    listed = equivalents()
    for module in modules:
        meta = ROOT / "mutants" / (module + ".meta")
        if not meta.exists():
            continue
        data = json.loads(meta.read_text())
        codes_by_function: dict[str, dict[int, int | None]] = defaultdict(dict)
        explained = {k: v for k, v in explained.items() if module_of(k) != module}
        for key, code in data.get("exit_code_by_key", {}).items():
            func, _, number = key[len(_prefix(module)) :].rpartition("__mutmut_")
            # a run stopped by hand leaves its mutants in flight "interrupted": undecided
            codes_by_function[func][int(number)] = None if code == INTERRUPTED else code
            if code in SURVIVED_CODES:
                found = explanation(module, diff_of(key), listed)
                if found is not None:
                    explained[key] = found[0]
        functions: dict[str, list[object]] = {}
        for func, digest in sorted(data.get("hash_by_function_name", {}).items()):
            codes = codes_by_function.get(func, {})
            functions[func] = [digest, [codes.get(n) for n in range(1, max(codes, default=0) + 1)]]
        record[module] = functions
    text = "{\n" + ",\n".join(
        f"  {json.dumps(module)}: {{\n"
        + ",\n".join(
            f"    {json.dumps(func, ensure_ascii=False)}: {json.dumps(entry)}"
            for func, entry in functions.items()
        )
        + "\n  }"
        for module, functions in sorted(record.items())
    )
    said = ",\n".join(
        f"  {json.dumps(k, ensure_ascii=False)}: {json.dumps(v, ensure_ascii=False)}"
        for k, v in sorted(explained.items())
    )
    VERDICTS.write_text(
        '{"modules": ' + text + '\n},\n"equivalent": {' + (f"\n{said}\n" if said else "") + "}}\n",
        encoding="utf-8",
    )
    return sum(
        sum(1 for code in entry[1] if code is not None)  # type: ignore[union-attr]
        for functions in record.values()
        for entry in functions.values()
    )


def restore_verdicts(modules: list[str]) -> int:
    """Give each module of `modules` that has no mutants/*.meta yet (a new checkout) the
    verdicts of VERDICTS, with their functions' hashes: mutmut then keeps those of the
    functions whose code has not changed and runs the rest. Returns how many it gave."""
    if not VERDICTS.exists():
        return 0
    record = json.loads(VERDICTS.read_text(encoding="utf-8"))["modules"]
    given = 0
    for module in modules:
        meta = ROOT / "mutants" / (module + ".meta")
        if meta.exists() or module not in record:
            continue
        codes: dict[str, int | None] = {}
        hashes: dict[str, str] = {}
        for func, (digest, verdicts) in record[module].items():
            hashes[func] = digest
            for number, code in enumerate(verdicts, 1):
                codes[f"{_prefix(module)}{func}__mutmut_{number}"] = code
                given += code is not None
        meta.parent.mkdir(parents=True, exist_ok=True)
        meta.write_text(
            json.dumps(
                {
                    "exit_code_by_key": codes,
                    "hash_by_function_name": hashes,
                    "type_check_error_by_key": {},
                    "durations_by_key": {},
                    "estimated_durations_by_key": {},
                }
            )
        )
    return given


def changed_lines(diff: str) -> list[str]:
    return [line[1:].strip() for line in diff.splitlines() if line.startswith("+ ")]


# SQL: a statement's first word, or a string that starts with a clause written in capitals as
# this code writes SQL ("FROM messages WHERE ..." continuing a statement on the next line);
# a bare FROM would also match Python's `raise ... from None` or a message's "from".
_SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE|PRAGMA)\b", re.IGNORECASE)
_SQL_CLAUSE = re.compile(
    r"[\"']\s*(FROM|WHERE|AND|ORDER BY|GROUP BY|SET|VALUES|JOIN|LIMIT|INDEXED BY)\b"
)
# a statement's line that starts with an aggregate (the columns of a SELECT, continued)
_SQL_AGGREGATE = re.compile(r"[\"']\s*(total|count|sum|max|min|coalesce)\(", re.IGNORECASE)
CASE_REASONS = (
    "changes only the case of SQL, which SQLite reads case-insensitively",
    "changes only the case of a codec name, which Python reads case-insensitively",
)
_CODEC = re.compile(r"\.(en|de)code\(|codecs\.|\bencoding=", re.IGNORECASE)


def case_only_reason(diff: str) -> str | None:
    """The reason a mutant is equivalent when all it does is change the letter case of a
    string that is read case-insensitively: an SQL statement (SQLite's keywords, table and
    column names) or a codec name ("utf-8", "UTF-8"). None for any other mutant."""
    removed = [line[1:].strip() for line in diff.splitlines() if line.startswith("- ")]
    added = changed_lines(diff)
    if not removed or len(removed) != len(added):
        return None
    for old, new in zip(removed, added, strict=True):
        if old == new or old.lower() != new.lower() or "'" in old:
            return None  # a quoted SQL value ('INBOX') is compared case-sensitively: not this
    pairs = zip(removed, added, strict=True)
    if all(
        _SQL.search(new) or _SQL_CLAUSE.search(old) or _SQL_AGGREGATE.search(old)
        for old, new in pairs
    ):
        return CASE_REASONS[0]
    if all(_CODEC.search(line) for line in added):
        return CASE_REASONS[1]
    return None


def pending(modules: list[str]) -> list[str]:
    """The mutants of `modules` without a verdict: those a stopped run had not reached."""
    names: list[str] = []
    for module in modules:
        meta = ROOT / "mutants" / (module + ".meta")
        if meta.exists():
            codes = json.loads(meta.read_text()).get("exit_code_by_key", {})
            names += sorted(key for key, code in codes.items() if code is None)
    return names


OPTIONS = ("--pending", "--save", "--report", "--fresh")


def main(argv: list[str]) -> int:
    option = argv[0] if argv and argv[0] in OPTIONS else None  # (anything else: module names)
    resume, save_only, report_only = (option == o for o in OPTIONS[:3])
    known = cores()
    wanted = argv[option is not None :] or known
    # every core, from the record: only what has no verdict for the code as it is now
    incremental = not argv
    unknown = [m for m in wanted if m not in known]
    if unknown:
        print(f"not a core listed in pyproject's [tool.mutmut]: {', '.join(unknown)}")
        return 2
    if save_only:  # a run stopped by hand: keep what it decided
        print(f"{save_verdicts(wanted)} verdicts in {VERDICTS.relative_to(ROOT)}")
        return 0
    if not report_only:
        run(wanted, resume=resume, incremental=incremental)
    return report(wanted)


def run(wanted: list[str], *, resume: bool, incremental: bool) -> None:
    """Run mutmut on `wanted` as main's arguments say, and record the verdicts."""
    (ROOT / "mutants").mkdir(exist_ok=True)
    restored = restore_verdicts(wanted) if incremental else 0
    if restored:
        print(f"{restored} verdicts taken from {VERDICTS.relative_to(ROOT)}: the mutants of "
              "functions unchanged since keep them", flush=True)  # fmt: skip
    if resume:
        # mutmut tries again every mutant it is given by name or pattern: name only these
        # (with the map of tests the stopped run made, for the same code)
        names = pending(wanted)
        print(f"mutation testing the {len(names)} undecided mutants of {len(wanted)} core "
              "modules (log: mutants/run.log) ...", flush=True)  # fmt: skip
    else:
        # mutmut runs again every mutant it is given by name or pattern, verdict or not; given
        # none, it runs those without a verdict (new, or of a function whose code changed)
        names = [] if incremental else [m[:-3].replace("/", ".") + ".*" for m in wanted]
        forget_test_map()
        again = recheck_survivors(wanted)
        print(
            f"mutation testing {len(wanted)} core modules (log: mutants/run.log)"
            + (f"; {again} survivors of an earlier run are tried again" if again else "")
            + " ...",
            flush=True,
        )
    jobs = os.environ.get("MUTATION_JOBS")  # workers; mutmut's default is one per CPU
    log = ""
    if names or incremental:
        args = ["--max-children", jobs] if jobs else []
        log = mutmut("run", *args, *names, quiet=True, fast=True)
    (ROOT / "mutants" / "run.log").write_text(log)
    save_verdicts(wanted)


def report(wanted: list[str]) -> int:
    """The score of each module and overall, and every survivor, from the verdicts in
    mutants/ (`--report`: as a run stopped by hand left them; its undecided mutants are
    counted apart). 0 when the targets are met."""
    statuses: dict[str, dict[str, str]] = defaultdict(dict)
    for line in mutmut("results", "--all", "true").splitlines():
        m = _NAME.match(line)
        if m and module_of(m.group("name")) in wanted:
            statuses[module_of(m.group("name"))][m.group("name")] = m.group("status")
    listed = equivalents()
    survivors: list[tuple[str, str, str | None]] = []
    total = killed = undecided = 0
    print(f"\n{'module':<34} {'mutants':>7} {'killed':>7} {'score':>7}")
    failing = []
    for module in wanted:
        every = statuses.get(module, {})
        results = {name: s for name, s in every.items() if s not in UNDECIDED}
        left = len(every) - len(results)  # a run stopped by hand: counted apart
        n = len(results)
        k = sum(1 for s in results.values() if s in KILLED)
        total, killed, undecided = total + n, killed + k, undecided + left
        score = 100.0 * k / n if n else 100.0
        mark = "" if score >= TARGET_MODULE else f"  < {TARGET_MODULE:.0f}%"
        if mark:
            failing.append(module)
        note = f"  ({left} not run yet)" if left else ""
        print(f"{module:<34} {n:>7} {k:>7} {score:>6.1f}%{mark}{note}")
        for name, status in sorted(results.items()):
            if status in KILLED:
                continue
            diff = diff_of(name)
            found = explanation(module, diff, listed)
            survivors.append((name, f"{status}\n{diff}", None if found is None else found[1]))
    overall = 100.0 * killed / total if total else 100.0
    print(f"{'overall':<34} {total:>7} {killed:>7} {overall:>6.1f}%")
    if undecided:
        print(f"{undecided} mutants not run yet: the scores are of those decided only")
    explained = [s for s in survivors if s[2] is not None]
    print(f"\n{len(survivors)} survivors, {len(explained)} of them listed as changing nothing "
          f"observable (tools/mutation_equivalent.txt):")  # fmt: skip
    for name, text, reason in survivors:
        head = f"[equivalent: {reason}] " if reason else ""
        print(f"\n--- {head}{name}: {text}")
    met = overall >= TARGET_OVERALL and not failing and not undecided
    print(
        f"\ntargets (>= {TARGET_OVERALL:.0f}% overall, >= {TARGET_MODULE:.0f}% per module): "
        + ("met" if met else f"NOT met ({', '.join(failing) or 'overall'})")
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
