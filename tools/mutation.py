"""`make mutation`: mutation testing of every protocol core, a score per module, the survivors.

    python tools/mutation.py                  # every core listed in pyproject's [tool.mutmut]
    python tools/mutation.py dnsserver/rrl.py # some of them (every mutant of those tried again)
    python tools/mutation.py --pending [...]  # only the mutants a stopped run left undecided
    MUTATION_JOBS=1 make mutation             # one worker (mutmut's default: one per CPU)

mutmut makes small changes to the code of each core (a `<` for a `<=`, a constant off by one,
a dropped call) and runs the tests that reach the changed function; a change the tests do not
notice survives. The score of a module is the share of its mutants that were killed, counting
timeouts as killed and mutants no test reaches as survived; the targets are 90% overall and 80%
for every module. Every survivor is printed with its diff, so that a person can read it. A
survivor that changes nothing a user, peer or client could observe is listed, with the reason,
in tools/mutation_equivalent.txt: it still counts against the score (the number stays honest),
and the list says why it is left.

Not part of `make test` or CI: a full run takes minutes. Run it before resolving an issue that
touches a core, and put the scores in the closing note.
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
TARGET_OVERALL = 90.0
TARGET_MODULE = 80.0
KILLED = {"killed", "timeout", "caught by type check", "segfault"}
SURVIVED_CODES = {0, 5, 33}  # mutmut's exit codes for "survived" and "no tests"
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
    them). Returns how many verdicts were forgotten."""
    forgotten = 0
    for module in modules:
        meta = ROOT / "mutants" / (module + ".meta")
        if not meta.exists():
            continue
        data = json.loads(meta.read_text())
        codes = data.get("exit_code_by_key", {})
        for key, code in codes.items():
            if code is not None and code in SURVIVED_CODES:
                codes[key] = None
                forgotten += 1
        meta.write_text(json.dumps(data))
    return forgotten


def changed_lines(diff: str) -> list[str]:
    return [line[1:].strip() for line in diff.splitlines() if line.startswith("+ ")]


# SQL: a statement's first word, or a string that starts with a clause written in capitals as
# this code writes SQL ("FROM messages WHERE ..." continuing a statement on the next line);
# a bare FROM would also match Python's `raise ... from None` or a message's "from".
_SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE|PRAGMA)\b", re.IGNORECASE)
_SQL_CLAUSE = re.compile(r"[\"']\s*(FROM|WHERE|AND|ORDER BY|GROUP BY|SET|VALUES|JOIN|LIMIT)\b")
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
    if all(_SQL.search(new) or _SQL_CLAUSE.search(old) for old, new in pairs):
        return "changes only the case of SQL, which SQLite reads case-insensitively"
    if all(_CODEC.search(line) for line in added):
        return "changes only the case of a codec name, which Python reads case-insensitively"
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


def main(argv: list[str]) -> int:
    resume = bool(argv) and argv[0] == "--pending"
    known = cores()
    wanted = argv[resume:] or known
    unknown = [m for m in wanted if m not in known]
    if unknown:
        print(f"not a core listed in pyproject's [tool.mutmut]: {', '.join(unknown)}")
        return 2
    if resume:
        # mutmut tries again every mutant it is given by name or pattern: name only these
        # (with the map of tests the stopped run made, for the same code)
        names = pending(wanted)
        print(f"mutation testing the {len(names)} undecided mutants of {len(wanted)} core "
              "modules (log: mutants/run.log) ...", flush=True)  # fmt: skip
    else:
        names = [m[:-3].replace("/", ".") + ".*" for m in wanted]
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
    if names:
        args = ["--max-children", jobs] if jobs else []
        log = mutmut("run", *args, *names, quiet=True, fast=True)
    (ROOT / "mutants").mkdir(exist_ok=True)
    (ROOT / "mutants" / "run.log").write_text(log)
    statuses: dict[str, dict[str, str]] = defaultdict(dict)
    for line in mutmut("results", "--all", "true").splitlines():
        m = _NAME.match(line)
        if m and module_of(m.group("name")) in wanted:
            statuses[module_of(m.group("name"))][m.group("name")] = m.group("status")
    listed = equivalents()
    survivors: list[tuple[str, str, str | None]] = []
    total = killed = 0
    print(f"\n{'module':<34} {'mutants':>7} {'killed':>7} {'score':>7}")
    failing = []
    for module in wanted:
        results = statuses.get(module, {})
        n = len(results)
        k = sum(1 for s in results.values() if s in KILLED)
        total, killed = total + n, killed + k
        score = 100.0 * k / n if n else 100.0
        mark = "" if score >= TARGET_MODULE else f"  < {TARGET_MODULE:.0f}%"
        if mark:
            failing.append(module)
        print(f"{module:<34} {n:>7} {k:>7} {score:>6.1f}%{mark}")
        for name, status in sorted(results.items()):
            if status in KILLED:
                continue
            diff = diff_of(name)
            changed = changed_lines(diff)
            reason = next((r for mod, line, r in listed if mod == module and line in changed), None)
            reason = reason or case_only_reason(diff)
            survivors.append((name, f"{status}\n{diff}", reason))
    overall = 100.0 * killed / total if total else 100.0
    print(f"{'overall':<34} {total:>7} {killed:>7} {overall:>6.1f}%")
    explained = [s for s in survivors if s[2] is not None]
    print(f"\n{len(survivors)} survivors, {len(explained)} of them listed as changing nothing "
          f"observable (tools/mutation_equivalent.txt):")  # fmt: skip
    for name, text, reason in survivors:
        head = f"[equivalent: {reason}] " if reason else ""
        print(f"\n--- {head}{name}: {text}")
    met = overall >= TARGET_OVERALL and not failing
    print(
        f"\ntargets (>= {TARGET_OVERALL:.0f}% overall, >= {TARGET_MODULE:.0f}% per module): "
        + ("met" if met else f"NOT met ({', '.join(failing) or 'overall'})")
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
