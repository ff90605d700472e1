"""`python -m bench [NAME ...]`: run every benchmark module of this package (or the named ones)."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Sequence

import bench


def main(argv: Sequence[str] | None = None) -> int:
    names = list(sys.argv[1:] if argv is None else argv)
    if not names:
        names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name != "__main__")
    status = 0
    for name in names:
        print(f"== bench.{name}", flush=True)
        module = importlib.import_module(f"bench.{name}")
        status |= module.main([])
    return status


if __name__ == "__main__":
    sys.exit(main())
