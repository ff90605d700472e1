"""The whitelist file of a private tracker: one hex info-hash per line, `#` comments."""

from __future__ import annotations

from pathlib import Path

from tracker.errors import TrackerError


def parse_whitelist(text: str) -> set[bytes]:
    hashes: set[bytes] = set()
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            h = bytes.fromhex(line)
        except ValueError:
            h = b""
        if len(h) != 20:
            raise TrackerError(f"whitelist line {number}: not a 40-digit hex info-hash")
        hashes.add(h)
    return hashes


def load_whitelist(path: Path) -> set[bytes]:
    try:
        return parse_whitelist(path.read_text())
    except OSError as e:
        raise TrackerError(f"whitelist {path}: cannot read: {e.strerror}") from None
