"""Hostile shapes (issue 11) read in bounded time and memory, and the request is kept.

The daemon and ``mailer rules test`` against real servers: tests/integration/test_limits.py.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from email.parser import BytesParser
from email.policy import compat32
from pathlib import Path
from typing import TypeVar

import pytest

from mailer.core.reading import attachments, bounds, parse, parts
from mailer.core.reading.attachments import attached_files
from mailer.core.reading.parse import parse_message
from mailer.core.reading.text import html_to_text
from mailer.model import Address, ParsedMessage
from tests import hostile

T = TypeVar("T")

MAX = 25 * 1024 * 1024
ALICE = Address("Alice Johnson", hostile.SENDER)
CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"


def timed(raw: bytes) -> tuple[ParsedMessage, float]:
    started = time.perf_counter()
    msg = parse_message(raw, max_size=MAX)
    return msg, time.perf_counter() - started


def traced(call: Callable[[], T]) -> tuple[T, int]:
    """What ``call`` returns, and the peak of the memory Python allocated meanwhile."""
    tracemalloc.start()
    try:
        result = call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


def assert_request(msg: ParsedMessage) -> None:
    """The request survived: who, what, and its text."""
    assert msg.sender == ALICE
    assert msg.subject == "Printer broken"
    assert msg.text.startswith(hostile.TEXT)
    assert any(a.addr == hostile.SHARED for a in msg.recipients)


# --- issue 11.4: unbounded address parsing ------------------------------------------------


@pytest.mark.parametrize("addresses", [100_000, 400_000], ids=["5MB", "20MB"])
def test_a_huge_cc_is_read_only_up_to_the_header_cap(addresses: int) -> None:
    raw = hostile.big_cc(addresses)
    msg, seconds = timed(raw)
    assert_request(msg)
    # The address parser sees 64 KB of the Cc, not 20 MB: about 1,800 addresses.
    assert 1_000 < len(msg.recipients) < 2_500
    assert msg.recipients[-1].addr.startswith("colleague")  # cut after a whole address
    assert "header cc: cut at 65536 bytes" in msg.defects
    assert seconds < 3  # 31 s before, blocking the daemon's event loop


def test_many_address_fields_share_one_budget() -> None:
    field = "Cc: " + ", ".join(f"person{j}@example.test" for j in range(2_000)) + "\r\n"
    cc = field * 20
    raw = hostile.big_cc(1).replace(b"Subject:", cc.encode() + b"Subject:", 1)
    msg, _ = timed(raw)
    assert_request(msg)
    assert len(msg.recipients) < 4_000  # 64 KB of address text in all, not 20 fields of it
    assert any("address lists cut" in d for d in msg.defects)


# --- issue 11.5: deep MIME loses the request ---------------------------------------------


@pytest.mark.parametrize("levels", [31, 1_000, 4_000])
def test_deep_mime_keeps_the_headers_and_the_first_text(levels: int) -> None:
    msg, seconds = timed(hostile.deep_mime(levels))
    assert_request(msg)
    assert msg.text == hostile.TEXT
    assert any("replaced by its first text" in d for d in msg.defects)
    assert seconds < 3


def test_structure_the_parser_cannot_take_is_read_flat(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any failure of the structured parse: headers and the first text still make a request."""

    def boom(parts: list[object], embedded: object) -> None:
        if len(parts) > 1:
            raise RuntimeError("hostile structure")

    monkeypatch.setattr(parse, "find_report", boom)
    msg, _ = timed(hostile.big_attachment(10_000))
    assert_request(msg)
    assert msg.defects[0] == "parse failed: RuntimeError: hostile structure"


# --- issue 11.6: memory follows message size ----------------------------------------------


def test_a_30_mb_text_is_judged_from_a_bounded_prefix() -> None:
    raw = hostile.big_text(30 * 1024 * 1024)
    msg, peak = traced(lambda: parse_message(raw, max_size=MAX))
    assert_request(msg)
    assert msg.truncated
    assert len(msg.text) <= bounds.MAX_TEXT_BODY
    assert any(d.startswith("body: text of") for d in msg.defects)
    assert peak < 40 * 1024 * 1024  # 8 MB measured; 200 MB before (several copies of 25 MB)


def test_a_big_attachment_keeps_its_size_not_its_bytes() -> None:
    raw = hostile.big_attachment(20 * 1024 * 1024)
    msg, peak = traced(lambda: parse_message(raw, max_size=MAX))
    assert_request(msg)
    [pdf] = msg.attachments
    assert pdf.filename == "scan.pdf"
    lines = 20 * 1024 * 1024 // 78
    assert pdf.size == lines * 57  # exact: 76 base64 characters a line are 57 bytes
    assert not msg.truncated  # the text is whole; only the file was not read
    assert peak < 30 * 1024 * 1024


def test_more_than_max_parts_are_left_out_quickly() -> None:
    part = b"--m\r\nContent-Type: image/gif\r\n\r\nx\r\n"
    raw = hostile.big_cc(1).replace(
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n",
        b'Content-Type: multipart/mixed; boundary="m"\r\n\r\n' + part * 500_000 + b"--m--\r\n",
    )
    msg, seconds = timed(raw)
    assert msg.sender == ALICE and len(msg.attachments) < bounds.MAX_PARTS
    assert any(d.startswith("mime: more than") for d in msg.defects)
    assert seconds < 3


# --- what stays the same: mail below the limits reads exactly as before --------------------


def _unbounded(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MAX_TEXT_BODY", "MAX_OTHER_BODY", "MAX_KEPT"):
        monkeypatch.setattr(bounds, name, 1 << 40)


def _corpus() -> list[Path]:
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix not in (".tsv", ".md"))


def test_below_the_limits_shaping_keeps_every_byte(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the body limits lifted, the parser gets the corpus bytes as they are, but for
    what the feedparser itself throws away (a multipart closed before it opened)."""
    _unbounded(monkeypatch)
    changed = [p.name for p in _corpus() if _shaped(p) != p.read_bytes()]
    assert changed == ["rt_multipart-report.eml"]


def _shaped(path: Path) -> bytes:
    raw = path.read_bytes()
    return bounds.shape(raw, len(raw), marker=b"X-Cut").data


def test_cut_bodies_change_nothing_reading_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every corpus file reads the same with its attachments cut as with nothing cut."""
    cut = {p.name: parse_message(p.read_bytes(), max_size=MAX) for p in _corpus()}
    _unbounded(monkeypatch)
    for path in _corpus():
        whole = parse_message(path.read_bytes(), max_size=MAX)
        assert cut[path.name].text == whole.text, path.name
        assert cut[path.name].report == whole.report, path.name
        assert cut[path.name].embedded_message_ids == whole.embedded_message_ids, path.name
        assert [(a.filename, a.content_type) for a in cut[path.name].attachments] == [
            (a.filename, a.content_type) for a in whole.attachments
        ], path.name
        for mine, theirs in zip(cut[path.name].attachments, whole.attachments, strict=True):
            assert abs(mine.size - theirs.size) <= theirs.size // 500, path.name  # uuencode


# --- HTML: unfinished tags made HTMLParser quadratic -------------------------------------


@pytest.mark.parametrize("unit", ["<a ", "</", "<a b='x' ", "<!x", "x<br>"])
def test_html_to_text_is_linear_in_unfinished_tags(unit: str) -> None:
    started = time.perf_counter()
    html_to_text(unit * 100_000)  # '<a ' 20,000 times took minutes before
    assert time.perf_counter() - started < 3


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ('<a href="mailto:<x@example.org>">link</a> here', "link here"),  # '<' in a value
        ("<p title='a>b'>x</p>", "x"),
        ("if x < 3 and y<=4", "if x < 3 and y<=4"),
        ("before <!-- <b>hidden</b> --> after", "before after"),
        ("kept<b unfinished tag", "kept"),  # a browser shows nothing of an unended tag
        ("kept<!-- unfinished comment <p>x", "kept"),
    ],
)
def test_complete_tags_keeps_what_a_browser_shows(html: str, text: str) -> None:
    assert html_to_text(html) == text


# --- files passed on: decoded from their place in the raw message -------------------------


def test_a_20_mb_attachment_is_passed_on_whole_without_copies() -> None:
    raw = hostile.big_attachment(20 * 1024 * 1024)
    (files, left_out), peak = traced(lambda: attached_files(raw, max_total=MAX))
    [pdf] = files
    assert (pdf.filename, pdf.content_type, left_out) == ("scan.pdf", "application/pdf", 0)
    line = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz01234"  # 76 base64 characters
    assert pdf.data == line * (20 * 1024 * 1024 // 78)
    assert peak < 2 * len(pdf.data)  # the file itself; 154 MB before (the whole parse tree)


def _files_as_parsed(raw: bytes) -> list[tuple[str, str, bytes]]:
    """What attached_files gave before bounds.py: the standard parse of the whole message."""
    walked = parts.walk(BytesParser(policy=compat32).parsebytes(raw))
    _, _, body = parts.body_text(walked, [])
    out = []
    for part in walked:
        if id(part) in body or part.nested or not attachments._is_file(part):
            continue
        if part.content_type in ("message/rfc822", "message/global") and not part.leaf:
            data = part.message.get_payload(0).as_bytes()  # type: ignore[union-attr]
        else:
            data = parts.payload_bytes(part)
        out.append((part.filename or attachments._name(part), part.content_type, data))
    return out


def test_files_passed_on_are_the_ones_the_whole_parse_gives() -> None:
    for path in _corpus():
        raw = path.read_bytes()
        mine = [(f.filename, f.content_type, f.data) for f in attached_files(raw, max_total=MAX)[0]]
        if path.name == "rt_multipart-report.eml":  # the attached message as sent, not re-folded
            assert [m[:2] for m in mine] == [t[:2] for t in _files_as_parsed(raw)]
            continue
        assert mine == _files_as_parsed(raw), path.name
