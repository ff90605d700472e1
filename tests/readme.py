"""The README's code blocks, for the tests that run its copy-paste commands: those of the
containers' section run against `docker compose up` (tests/compose), the rest against
`minternet up` (tests/e2e)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
COMPOSE_SECTION = "\n## The miniature Internet in containers"


def code_blocks(*, compose: bool = False) -> list[str]:
    """The text of each ``` block: of the containers' section, or of everything else."""
    text = README.read_text()
    start = text.index(COMPOSE_SECTION)
    end = text.index("\n## ", start + 1)
    part = text[start:end] if compose else text[:start] + text[end:]
    return re.findall(r"```\n(.*?)```", part, flags=re.S)


def commands(block: str) -> list[str]:
    """A block's commands: continuation lines joined, comments and blank lines left out."""
    joined = re.sub(r"\\\n\s*", "", block)
    lines = [line.split("  #")[0].strip() for line in joined.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]
