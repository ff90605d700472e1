"""What is wrong with a zone file, and where: `file:line` through the $INCLUDE chain."""

from __future__ import annotations

from dataclasses import dataclass

#: At most this many errors and as many warnings are kept per zone: a hostile or generated file
#: can hold millions of bad lines, and nobody reads past the first screenful.
MAX_KEPT = 100


@dataclass(frozen=True, slots=True)
class Source:
    """One file being read; `parent` and `line` say where it was $INCLUDEd from."""

    path: str
    parent: Source | None = None
    line: int = 0

    def at(self, line: int) -> str:
        """`path:line` (just `path` for line 0: the file as a whole)."""
        return f"{self.path}:{line}" if line else self.path

    def included(self) -> str:
        """` (included from main.zone:5)`: the chain of $INCLUDE lines that led here, if any."""
        chain = []
        source: Source | None = self
        while source is not None and source.parent is not None:
            chain.append(f"{source.parent.path}:{source.line}")
            source = source.parent
        return " (included from " + ", from ".join(chain) + ")" if chain else ""


@dataclass(frozen=True, slots=True)
class Problem:
    """One error (the zone cannot be served) or warning (it can, but probably not as meant)."""

    where: str  # "file:line", or "file" when no line applies
    message: str
    warning: bool = False
    included: str = ""  # " (included from main.zone:5)" for a line of an $INCLUDEd file

    def __str__(self) -> str:
        return f"{self.where}: {self.message}{self.included}"

    def to_text(self) -> str:
        """The compiler-style line the checkzone command prints: `file:line: error: ...`."""
        kind = "warning" if self.warning else "error"
        return f"{self.where}: {kind}: {self.message}{self.included}"


class Problems:
    """The errors and warnings found in one zone, in the order found; at most MAX_KEPT of each
    are kept, all are counted."""

    def __init__(self) -> None:
        self.items: list[Problem] = []
        self.error_count = 0
        self.warning_count = 0
        self._kept = [0, 0]  # errors, warnings

    def error(self, source: Source, line: int, message: str) -> None:
        self.error_count += 1
        self._keep(source, line, message, warning=False)

    def warn(self, source: Source, line: int, message: str) -> None:
        self.warning_count += 1
        self._keep(source, line, message, warning=True)

    def _keep(self, source: Source, line: int, message: str, *, warning: bool) -> None:
        if self._kept[warning] < MAX_KEPT:
            self._kept[warning] += 1
            self.items.append(Problem(source.at(line), message, warning, source.included()))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.items if not p.warning]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.items if p.warning]

    def listing(self, where: str) -> tuple[Problem, ...]:
        """Every problem kept, then (at `where`) one saying how many more were found, if any."""
        errors = self.error_count - self._kept[False]
        warnings = self.warning_count - self._kept[True]
        if not errors and not warnings:
            return tuple(self.items)
        more = Problem(
            where,
            f"... and {errors} more errors and {warnings} more warnings not shown",
            warning=not errors,
        )
        return (*self.items, more)
