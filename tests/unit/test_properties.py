"""Properties of the pure core, checked by hypothesis over generated input (issue 11).

- parsing never raises and never drops the From of a well-formed header block, whatever the
  body (MIME fragments, boundaries, stray bytes);
- the visible-text, keyword and HTML readers take linear time: on ~300 KB built from
  hostile fragments each finishes within a bound a quadratic pass would overrun a
  hundredfold (absolute bounds: ratios of small timings are noise on two shared cores);
- no header we write holds a CR or LF, whatever the subject, names, ids or text;
- no HTML part we write holds a ``<`` that came from the input.

Counts come from the profile in tests/conftest.py (CI: derandomized, 200 examples for the
cheap properties, 20 for the timed ones). Examples hypothesis found are kept below as
``@example``s, with what they broke.
"""

from __future__ import annotations

import base64
import email
import email.policy
import time
from email.message import EmailMessage

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mailer.config import templates
from mailer.core.deciding.commands import Keywords, parse_commands
from mailer.core.reading.parse import parse_message
from mailer.core.reading.text import html_to_text
from mailer.core.reading.visible import split_reply
from mailer.core.writing import outgoing
from mailer.core.writing.receipt import compose_receipt
from mailer.core.writing.render import Envelope, render_pair
from mailer.core.writing.samples import REQUESTER_TEMPLATES, SAMPLE_CONTEXTS
from mailer.model import Address, Classification, ParsedMessage
from mailer.settings import DEFAULT_KEYWORDS
from tests.factories import message, thread
from tests.factories import settings as make_settings

MAX = 25 * 1024 * 1024
TIMED = max(5, settings().max_examples // 10)
ENV = templates.make_environment()

# --- parsing: From survives any body ------------------------------------------------------

_NAME = st.text(st.characters(categories=("L", "N", "Zs")), max_size=30)
_ATOM = st.from_regex(r"[a-z0-9]([a-z0-9_+-]{0,10}[a-z0-9])?", fullmatch=True)
_LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
_ADDR = st.builds(
    lambda local, labels: f"{'.'.join(local)}@{'.'.join(labels)}.test",
    st.lists(_ATOM, min_size=1, max_size=3),
    st.lists(_LABEL, min_size=1, max_size=3),
)
_CONTENT_TYPES = [
    "text/plain; charset=utf-8",
    "text/html; charset=iso-8859-1",
    'multipart/mixed; boundary="b"',
    'multipart/alternative; boundary="b"',
    "multipart/digest; boundary=b",
    'multipart/report; report-type=delivery-status; boundary="b"',
    "message/rfc822",
    "message/delivery-status",
    "multipart/mixed",
    "application/octet-stream",
]
_FRAGMENTS = [
    b"--b", b"--b--", b"--", b"--b  ", b"----b", b"", b" ", b"\t", b"\r", b"\n",
    b'Content-Type: multipart/mixed; boundary="b"', b'Content-Type: multipart/mixed; boundary="c"',
    b"--c", b"--c--", b"Content-Type: message/rfc822", b"Content-Type: text/plain",
    b"Content-Type: text/html", b"Content-Transfer-Encoding: base64",
    b"Content-Transfer-Encoding: quoted-printable", b"Content-Disposition: attachment",
    b"From: Mallory <mallory@example.test>", b"From ", b"=?utf-8?b?", b"?=", b"=0D=0A",
    b"begin 644 x", b"<html><body><p>", b"</p>", b"<a ", b"\xff\xfe", b"\x00",
    b"Subject: other",
]  # fmt: skip
_BODY = st.one_of(
    st.binary(max_size=3000),
    st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.binary(max_size=40)), max_size=80).map(
        lambda pieces: b"\r\n".join(pieces)
    ),
)


def _encoded(text: str) -> str:
    """RFC 2047, so that any text survives into the header: one word per 30 bytes."""
    data = text.encode("utf-8")
    chunks = [data[i : i + 30] for i in range(0, len(data), 30)] or [b""]
    return " ".join(f"=?utf-8?b?{base64.b64encode(c).decode()}?=" for c in chunks)


@given(
    name=_NAME,
    addr=_ADDR,
    subject=st.text(max_size=80),
    ctype=st.sampled_from([None, *_CONTENT_TYPES]),
    cte=st.sampled_from([None, "7bit", "base64", "quoted-printable", "x-uuencode"]),
    body=_BODY,
)
@example(name="", addr="a@b.test", subject="", ctype="message/rfc822", cte=None, body=b"--b")
def test_parsing_never_raises_and_keeps_the_from(
    name: str, addr: str, subject: str, ctype: str | None, cte: str | None, body: bytes
) -> None:
    shown = " ".join(name.split())
    head = [f"From: {_encoded(shown)} <{addr}>" if shown else f"From: {addr}"]
    head += ["To: helpdesk@example.test", f"Subject: {_encoded(subject)}", "MIME-Version: 1.0"]
    head += [f"Content-Type: {ctype}"] if ctype else []
    head += [f"Content-Transfer-Encoding: {cte}"] if cte else []
    raw = "\r\n".join(head).encode() + b"\r\n\r\n" + body
    msg = parse_message(raw, max_size=MAX)
    assert msg.sender == Address(shown, addr)


# --- linear time: visible text, keywords, HTML --------------------------------------------

_TEXT_PIECES = [
    ">", "> ", " >", "On Mon, 1 Jan 2024 at 10:00, Bob <bob@x.org> wrote:", "wrote:", "On ",
    "Il giorno", "ha scritto:", "From:", "Sent:", "To:", "Subject:", "Da:", "*From:*",
    "-----Original Message-----", "---------- Forwarded message ---------", "-- ", "--",
    "__________", "Sent from my iPhone", "Inviato da iPhone", "#take", "#resolved", "#assign",
    "#", "#a", "Status: resolved", "Stato:", "x@y.org", "<a@b.c>", "12:30", "\t", " ", "",
    "Reply above this line", "Begin forwarded message:",
]  # fmt: skip
_HTML_PIECES = [
    "<", "<a ", "<a href='", '<a href="', "</", "<!--", "-->", "<!", "<?", "<p>", "</p>",
    "<br>", "<blockquote>", "</blockquote>", "<div>", "<![CDATA[", "&", "&amp", "&#", "x",
    '<div style="border-top:solid #E1E1E1">', "<hr tabindex=-1>", "=", '"', "'", ">",
    "<script>", "</script>", "<style>", "<pre>", "\n",
]  # fmt: skip


def _repeated(pieces: list[str], joiner: str, size: int) -> str:
    unit = joiner.join(pieces) + joiner or " "
    return unit * (size // len(unit) + 1)


def _linear(reader: object, text: str, seconds: float) -> None:
    started = time.perf_counter()
    reader(text)  # type: ignore[operator]
    elapsed = time.perf_counter() - started
    assert elapsed < seconds, f"{elapsed:.1f} s for {len(text)} characters"


@settings(max_examples=TIMED)
@given(
    st.lists(
        st.one_of(st.sampled_from(_TEXT_PIECES), st.text(max_size=12)), min_size=1, max_size=6
    ),
    st.sampled_from(["\n", " ", "", "\n\n", "\r\n"]),
)
def test_visible_text_is_linear(pieces: list[str], joiner: str) -> None:
    _linear(split_reply, _repeated(pieces, joiner, 300_000), 3.0)


KEYWORDS = Keywords(DEFAULT_KEYWORDS, ("Status", "Stato"))


@settings(max_examples=TIMED)
@given(
    st.lists(
        st.one_of(st.sampled_from(_TEXT_PIECES), st.text(max_size=12)), min_size=1, max_size=6
    ),
    st.sampled_from(["\n", " ", "", "\t"]),
)
def test_keyword_reader_is_linear(pieces: list[str], joiner: str) -> None:
    _linear(lambda text: parse_commands(text, KEYWORDS), _repeated(pieces, joiner, 300_000), 3.0)


@settings(max_examples=TIMED)
@given(
    st.lists(st.one_of(st.sampled_from(_HTML_PIECES), st.text(max_size=8)), min_size=1, max_size=6),
    st.sampled_from(["", " ", "\n"]),
)
@example(["<a "], "")  # minutes before html_input.py: HTMLParser rescans per unfinished tag
def test_html_reader_is_linear(pieces: list[str], joiner: str) -> None:
    _linear(html_to_text, _repeated(pieces, joiner, 200_000), 5.0)


# --- what we write: headers without CR/LF, HTML without input's '<' -----------------------

_HOSTILE = st.lists(
    st.one_of(
        st.text(max_size=10),
        st.sampled_from(["\r", "\n", "\r\n", "\x00", "\u2028", "\x85", ":", "<", ">", "=?"]),
    ),
    max_size=20,
).map("".join)
_IDS = st.lists(st.from_regex(r"<[^<>\s]{1,40}>", fullmatch=True), max_size=3)
_EXPECTED_HEADERS = {
    b"from", b"to", b"subject", b"date", b"message-id", b"in-reply-to", b"references",
    b"auto-submitted", b"x-auto-response-suppress", b"x-mailer-loop", b"thread-topic",
    b"thread-index", b"mime-version", b"content-type", b"reply-to", b"precedence",
    b"content-transfer-encoding", b"content-language",
}  # fmt: skip


def _check_header(raw: bytes) -> EmailMessage:
    head = raw.partition(b"\r\n\r\n")[0]
    names = []
    for line in head.split(b"\r\n"):
        assert b"\r" not in line and b"\n" not in line and b"\x00" not in line
        if line[:1] not in (b" ", b"\t"):
            names.append(line.partition(b":")[0].lower())
    assert set(names) <= _EXPECTED_HEADERS, set(names) - _EXPECTED_HEADERS
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _request(
    subject: str, name: str, text: str, ids: list[str], addr: str = "maria.rossi@example.org"
) -> ParsedMessage:
    sender = Address(name, addr)
    return message(subject=subject, from_=(sender,), text=text, references=tuple(ids))


def _receipt(msg: ParsedMessage, language: str = "en") -> bytes:
    envelope = Envelope(msg.from_[0], "helpdesk@example.test", "<r1@example.test>", 0.0, bytes(16))
    classified = Classification(rule="r", team="it", team_name=msg.subject[:30])
    return compose_receipt(ENV, make_settings(), msg, classified, envelope, "REQ-1", language).raw


@given(
    subject=_HOSTILE,
    name=_HOSTILE,
    text=_HOSTILE,
    ids=_IDS,
    addr=st.sampled_from(["maria.rossi@example.org", "maría.rossi@example.org"]),  # RFC 6531
)
@example(subject="x\r\nBcc: evil@example.org", name="a\nb", text="", ids=[], addr="a@b.test")
# Found by hypothesis: a non-ASCII subject long enough to fold was folded with a bare LF
# (mime.header_line passed "\r\n" to Header.encode as splitchars, not as linesep).
@example(subject="0\x80\x80\x80𐀀𐀀𐀀", name="", text="", ids=[], addr="maria.rossi@example.org")
def test_written_headers_never_hold_cr_or_lf(
    subject: str, name: str, text: str, ids: list[str], addr: str
) -> None:
    msg = _request(subject, name, text, ids, addr)
    _check_header(_receipt(msg))
    request = thread(subject=subject, requester_name=name, root_references=tuple(ids))
    envelope = Envelope(
        Address(name, "it@example.test"), "helpdesk@example.test", "<n1@x>", 0.0, bytes(16)
    )
    context = outgoing.notify_context(
        make_settings(), request, msg, Classification("r"), 0.0, attached=False
    )
    notify = outgoing.compose(
        ENV, make_settings(), "notify", "en", context, parent=outgoing.thread_parent(request),
        envelope=envelope, subject=outgoing.subject_for(make_settings(), request, "notify", "en"),
        staff=True,
    )  # fmt: skip
    _check_header(notify.raw)


_MARKED = _HOSTILE.map(lambda s: s.replace("<", "<zq"))  # every '<' from input is '<zq'


def _html(raw: bytes) -> str:
    part = _check_header(raw).get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


@given(subject=_MARKED, name=_MARKED, text=_MARKED, language=st.sampled_from(["en", "it"]))
@example(subject="<script>", name="<b>", text="<img src=x>", language="en")
@example(subject="000\x80\x80\x80\x80𐀀0000\x80\x80\x80𐀀", name="", text="", language="en")  # LF
def test_receipt_html_never_holds_a_raw_lt_from_input(
    subject: str, name: str, text: str, language: str
) -> None:
    assert "<zq" not in _html(_receipt(_request(subject, name, text, []), language))


_FREE_TEXT = (
    "subject", "name", "note", "staff_name", "owner_name", "requester_name", "team", "signature",
    "service", "rating", "owner", "requester", "reference",
)  # fmt: skip


@pytest.mark.parametrize("template", REQUESTER_TEMPLATES)
@settings(max_examples=max(5, settings().max_examples // 4))
@given(value=_MARKED, language=st.sampled_from(["en", "it"]))
def test_requester_html_never_holds_a_raw_lt_from_input(
    template: str, value: str, language: str
) -> None:
    context = dict(SAMPLE_CONTEXTS[template])
    context.update({key: value for key in _FREE_TEXT if key in context})
    context.update(contacts=[value], attachments=[value])
    _, html = render_pair(ENV, template, language, context)
    assert html is not None and "<zq" not in html
