"""Regex character classes of some ASCII characters and every character past ASCII.

Internationalised addresses (RFC 6531) allow any non-ASCII character where ASCII allows a
letter or digit. Written as ``[A-Za-z0-9\\u0080-\\U0010ffff]`` such a class takes the
``re`` compiler milliseconds (it walks the range to U+10FFFF), which every start of the
daemon paid, four times over; written as what it leaves out, the same class compiles at
once and matches the same characters.
"""

from __future__ import annotations

import string

ALNUM = string.ascii_letters + string.digits
ATEXT = ALNUM + "!#$%&'*+/=?^_`{|}~-"  # RFC 5322's atext, ASCII part


def beyond_ascii(ascii_chars: str, *, surrogates: bool = True) -> str:
    """``[`` ``ascii_chars`` and U+0080 to U+10FFFF ``]``; without the surrogates
    U+D800-U+DFFF when ``surrogates`` is False (raw bytes smuggled into a str)."""
    left_out = "".join(f"\\x{c:02x}" for c in range(128) if chr(c) not in ascii_chars)
    if not surrogates:
        left_out += "\\ud800-\\udfff"
    return f"[^{left_out}]"
