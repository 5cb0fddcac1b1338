"""encoded_words: RFC 2047 words read as robots write them, for the robot checks."""

from __future__ import annotations

import base64
import random
import time

import pytest

from mailer.core.reading.encoded_words import b_bytes, decode_lenient, readable
from mailer.core.reading.parse import parse_message


def b64(text: str, charset: str = "utf-8") -> str:
    return base64.b64encode(text.encode(charset)).decode("ascii")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # well-formed words read as a strict reader reads them
        ("=?utf-8?B?RGVsaXZlcnkgZmFpbHVyZQ==?=", "Delivery failure"),
        ("=?utf-8?Q?Delivery_failure?=", "Delivery failure"),
        ("=?UTF-8?q?Caf=C3=A9?= ok", "Café ok"),
        ("=?iso-8859-1*en?Q?Caf=E9?=", "Café"),
        # padding: missing, too much, in the middle (pieces padded and glued together)
        ("=?iso-8859-1?B?RGVsaXZlcnkgZmFpbHVyZQ?=", "Delivery failure"),
        ("=?iso-8859-1?B?RGVsaXZlcnkgZmFpbHVyZQ=?=", "Delivery failure"),
        ("=?iso-8859-1?B?RGVsaXZlcnkgZmFpbHVyZQ====?=", "Delivery failure"),
        ("=?iso-8859-1?B?RGVsaXZlcnk=IGZhaWx1cmU=?=", "Delivery failure"),
        ("=?iso-8859-1?B?RGVs=aXZlcnkgZmFpbHVyZQ?=", "Delivery failure"),
        # base64 split across words mid-quartet, or each word unpadded
        ("=?utf-8?B?RGVsaXZlcnkgZmF?= =?utf-8?B?pbHVyZQ==?=", "Delivery failure"),
        ("=?utf-8?B?RGVsaXZlcnk?= =?utf-8?B?IGZhaWx1cmU?=", "Delivery failure"),
        ("=?utf-8?B?w6?= =?utf-8?B?k=?=", "é"),
        # the encoding named another way, or not at all
        ("=?utf-8?base64?RGVsaXZlcnkgZmFpbHVyZQ==?=", "Delivery failure"),
        ("=?utf-8?X?RGVsaXZlcnkgZmFpbHVyZQ==?=", "Delivery failure"),
        ("=?utf-8?X?Delivery_failure?=", "Delivery failure"),
        # a charset nobody knows, a word cut before its end, a lone "?" as the end
        ("=?x-no-such-charset?B?RGVsaXZlcnkgZmFpbHVyZQ==?=", "Delivery failure"),
        ("=?utf-8?B?RGVsaXZlcnkgZmFpbHVyZQ", "Delivery failure"),
        ("=?utf-8?Q?Delivery_failure? (gateway)", "Delivery failure (gateway)"),
        # text around words stays; whitespace between words goes
        ("[MX] =?utf-8?Q?Delivery?= =?utf-8?Q?_failure?= - x", "[MX] Delivery failure - x"),
        ("no words here", "no words here"),
        ("=? not a word", "=? not a word"),
    ],
)
def test_lenient_decoding(value: str, expected: str) -> None:
    assert decode_lenient(value) == expected


def test_latin_1_and_japanese_words() -> None:
    assert decode_lenient(f"=?iso-8859-1?B?{b64('Échec de remise', 'latin-1')}?=") == (
        "Échec de remise"
    )
    jis = b64("配信できません", "iso-2022-jp")
    assert decode_lenient(f"=?ISO-2022-JP?B?{jis}?=") == "配信できません"
    assert decode_lenient(f"=?ISO-2022-JP?B?{jis.rstrip('=')}?=") == "配信できません"


def test_base64_never_raises_on_any_alphabet_soup() -> None:
    assert b_bytes("") == b""
    assert b_bytes("=") == b""
    assert b_bytes("A") == b""
    assert b_bytes("!!!%%%") == b""
    assert b_bytes("QQ-_") == base64.b64decode("QQ+/")


def test_decode_lenient_is_total() -> None:
    """Random splices of word syntax, base64 and junk: always a string, never an exception."""
    rng = random.Random(2047)
    pieces = ["=?", "?=", "?", "=", "B", "Q", "utf-8", "x-bad", "*en", " ", "RGVs", "_", "=C3",
              "=A9", "\x00", "é", "\ud800", "==", "?b?", "?q?", "?base64?"]  # fmt: skip
    for _ in range(3000):
        value = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 30)))
        assert isinstance(decode_lenient(value), str)


def test_decode_lenient_is_linear_in_the_length_of_the_value() -> None:
    for hostile in ("=?a?b?" * 40_000, "=?utf-8?B?" + "A" * 200_000, "=?" * 100_000):
        start = time.perf_counter()
        decode_lenient(hostile)
        assert time.perf_counter() - start < 2


def test_readable_decodes_the_subject_from_the_raw_header() -> None:
    raw = (
        b"From: Gateway <gw@example.net>\r\nTo: helpdesk@example.test\r\n"
        b"Subject: =?iso-8859-1?B?RGVsaXZlcnk=IGZhaWx1cmU=?=\r\n"
        b"X-Note: =?utf-8?X?RGVsaXZlcnkgZmFpbHVyZQ==?=\r\n\r\nbody\r\n"
    )
    msg = parse_message(raw, max_size=1 << 20)
    assert msg.subject != "Delivery failure"  # the strict reading gets it wrong
    seen = readable(msg)
    assert seen.subject == "Delivery failure"
    assert seen.header("subject") == "Delivery failure"
    assert seen.header("x-note") == "Delivery failure"
    assert seen.text == msg.text


def test_readable_leaves_well_formed_mail_as_it_is() -> None:
    raw = (
        b"From: =?utf-8?Q?Mar=C3=ADa?= <maria@example.org>\r\nTo: helpdesk@example.test\r\n"
        b"Subject: =?utf-8?B?U3RhbXBhbnRlIGd1YXN0YQ==?=\r\n\r\nbody\r\n"
    )
    msg = parse_message(raw, max_size=1 << 20)
    assert readable(msg) is msg
    assert msg.subject == "Stampante guasta"
