"""The i;unicode-casemap form (RFC 5051 §2) that SEARCH, SORT and THREAD compare by: its fast
path (str.upper but for the characters found to differ) against the definition, simple
titlecase then NFKD, over every character of Unicode."""

from __future__ import annotations

import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailserver.message.casemap import CASED_END, casemap, simple_title


def definition(text: str) -> str:
    return unicodedata.normalize("NFKD", "".join(simple_title(c) for c in text))


def test_every_character_maps_as_the_definition_says() -> None:
    wrong = [hex(i) for i in range(CASED_END) if casemap(chr(i)) != definition(chr(i))]
    assert wrong == []


def test_no_character_past_cased_end_has_a_case() -> None:
    cased = [
        hex(i)
        for i in range(CASED_END, sys.maxunicode + 1)
        if chr(i).upper() != chr(i) or chr(i).title() != chr(i)
    ]
    assert cased == []


@pytest.mark.parametrize(
    ("text", "form"),
    [
        ("", ""),
        ("abc XYZ 1!", "ABC XYZ 1!"),
        ("résumé", "RE\u0301SUME\u0301"),
        ("RE\u0301SUME\u0301", "RE\u0301SUME\u0301"),
        ("Straße", "STRAßE"),  # ß has no simple titlecase ("Ss" is the full one)
        ("ǆ ǅ Ǆ", "Dz\u030c Dz\u030c Dz\u030c"),  # titlecase ǅ, not upper case Ǆ, then NFKD
        ("\u0149", "\u02bcn"),  # ŉ: no simple titlecase, then NFKD
        ("ﬁ", "fi"),  # the same: titlecase first, so NFKD's letters stay lower case
        ("σς Σ", "ΣΣ Σ"),
        ("\u0131 i \u0130", "I I I\u0307"),  # dotless i, i, dotted I
        ("①", "1"),
    ],
)
def test_known_forms(text: str, form: str) -> None:
    assert casemap(text) == form == definition(text)


@given(st.text(max_size=40))
def test_any_text_maps_as_the_definition_says(text: str) -> None:
    assert casemap(text) == definition(text)


@given(st.text(alphabet="ßǅǆǄŉﬁaé\u0301 Σσς", max_size=40))
def test_texts_dense_in_special_characters(text: str) -> None:
    assert casemap(text) == definition(text)
