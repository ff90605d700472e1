"""The i;unicode-casemap comparator's canonical form (RFC 5051 §2), which SORT, THREAD and
SEARCH compare strings by (I18NLEVEL=1, RFC 5255 §4: the default comparator of the server).

Each character is mapped to its simple titlecase (UnicodeData.txt; a character whose
titlecase is several characters, ß or ﬁ, has none and stays), then the text is decomposed
(NFKD). So "RÉSUMÉ", "résumé" and "re\u0301sume\u0301" are one form, and "ß" is not "SS".

Fast: str.upper() is the simple titlecase of all but about 160 characters (ß and ŉ, whose
upper case is two characters; the digraphs ǅ ǆ; Georgian Mkhedruli; ...), found once and
mapped one by one; the rest of a text is upper-cased in C. Every character with a case lies
below CASED_END (a test checks all of Unicode), so only those are looked at.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

__all__ = ["CASED_END", "casemap"]

CASED_END = 0x1F000


def simple_title(ch: str) -> str:
    """One character's simple titlecase mapping: Python's str.title gives the full one, which
    is several characters for a few; those have no simple mapping and stay as they are."""
    title = ch.title()
    return title if len(title) == 1 else ch


@cache
def _special() -> re.Pattern[str]:
    """The characters whose str.upper() is not their simple titlecase, as a character class."""
    chars = [chr(i) for i in range(CASED_END) if chr(i).upper() != simple_title(chr(i))]
    return re.compile("([" + "".join(re.escape(c) for c in chars) + "])")


def casemap(text: str) -> str:
    """The i;unicode-casemap canonical form of `text`: simple titlecase, then NFKD."""
    if text.isascii():
        return text.upper()  # ASCII: titlecase is upper case, and NFKD changes nothing
    pieces = _special().split(text)  # odd places: one special character each
    mapped = "".join(
        simple_title(piece) if i % 2 else piece.upper() for i, piece in enumerate(pieces)
    )
    return unicodedata.normalize("NFKD", mapped)
