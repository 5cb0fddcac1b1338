"""The address character classes match exactly what their plain ranges match, every code
point tried (written as what they leave out, they compile at once)."""

from __future__ import annotations

import re

import pytest

from mailer.core.reading.charclass import ALNUM, ATEXT, beyond_ascii

EVERY_CHARACTER = "".join(chr(c) for c in range(0x110000))
ATEXT_RANGE = r"A-Za-z0-9!#$%&'*+/=?^_`{|}~\-"
NON_ASCII = r"\u0080-\U0010ffff"
NON_ASCII_NO_SURROGATES = r"\u0080-\ud7ff\ue000-\U0010ffff"


@pytest.mark.parametrize(
    ("written", "ranges"),
    [
        (beyond_ascii(ATEXT), ATEXT_RANGE + NON_ASCII),
        (beyond_ascii(ALNUM), "A-Za-z0-9" + NON_ASCII),
        (beyond_ascii(ALNUM + "-"), r"A-Za-z0-9\-" + NON_ASCII),
        (beyond_ascii(ATEXT, surrogates=False), ATEXT_RANGE + NON_ASCII_NO_SURROGATES),
        (beyond_ascii(ALNUM, surrogates=False), "A-Za-z0-9" + NON_ASCII_NO_SURROGATES),
        (beyond_ascii(ALNUM + "-", surrogates=False), r"A-Za-z0-9\-" + NON_ASCII_NO_SURROGATES),
    ],
)
def test_a_class_matches_what_its_ranges_match(written: str, ranges: str) -> None:
    found = re.compile(written).findall(EVERY_CHARACTER)
    assert found == re.compile(f"[{ranges}]").findall(EVERY_CHARACTER)
    assert "@" not in found and "." not in found and " " not in found
