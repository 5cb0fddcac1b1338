"""Bytes in, ParsedMessage out: the only place that sees raw mail. Pure, and never raises.

We parse with the compat32 policy and decode every header ourselves: policy.default's lazy
header objects can raise long after parsing on hostile input, while compat32 keeps the raw
text, which we need anyway to parse addresses *before* decoding encoded-words (decoding first
would let an encoded ``<evil@x>`` in a display name become an address).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from email.utils import getaddresses

from mailer.core.reading import bounds
from mailer.core.reading.charclass import ALNUM, ATEXT, beyond_ascii
from mailer.core.reading.parts import body_text, embedded_ids, find_attachments, find_report, walk
from mailer.core.reading.text import decode_words, one_line, raw_header_text
from mailer.model import Address, InboundMail, ParsedMessage

__all__ = ["base_subject", "is_valid_addr", "message_ids", "parse_inbound", "parse_message"]

MAX_HEADER_VALUE = 64 * 1024  # per decoded header value; the rest is cut and noted
MAX_IDS = 200  # Message-IDs kept per References/In-Reply-To header
MAX_ADDRESS_TEXT = 64 * 1024  # characters of address lists read per kind (From, recipients)

_COMMENT = re.compile(r"\([^()]*\)")
_MSGID = re.compile(r"<\s*([^<>\s]+)\s*>")
_FOLD = re.compile(r"\r\n|\r|\n")
# ASCII's atext and letters, and non-ASCII (RFC 6531) minus smuggled raw bytes (surrogates)
_ATEXT = beyond_ascii(ATEXT, surrogates=False)
_ALNUM, _ALNUM_DASH = (beyond_ascii(c, surrogates=False) for c in (ALNUM, ALNUM + "-"))
_LOCAL = rf'(?:{_ATEXT}+(?:\.{_ATEXT}+)*|"(?:[^"\\\r\n]|\\.)*")'
_LABEL = rf"{_ALNUM}(?:{_ALNUM_DASH}*{_ALNUM})?"
_ADDR_SPEC = re.compile(rf"{_LOCAL}@{_LABEL}(?:\.{_LABEL})*")
_CALENDAR_TYPES = ("text/calendar", "application/ics", "text/x-vcalendar")
_ADDRESS_HEADERS = ("to", "cc", "bcc", "resent-to", "resent-cc", "resent-bcc")

# Localised reply/forward prefixes (standards.md rule 100); only stripped before a colon.
_PREFIXES = (
    r"re|res|r|rif|i|aw|wg|sv|vs|vl|antw|doorst|rv|enc|odp|pd|ynt|ilt|tr|réf|ref|fw|fwd"
    r"|ΑΠ|ΣΧΕΤ|ΠΡΘ|תגובה|הועבר|回复|答复|转发|回覆|轉寄"
)
_PREFIX = re.compile(
    rf"^((?:\[[^\]]*\]\s*)*)(?:{_PREFIXES})\s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*[:：]\s*",
    re.IGNORECASE,
)
_FWD_SUFFIX = re.compile(r"\s*\(fwd\)\s*$", re.IGNORECASE)
_FWD_WRAP = re.compile(r"^\[fwd:\s*(.*)\]$", re.IGNORECASE)
_GROUP = re.compile(r"[^:<>@]*:\s*;")  # an empty group, "undisclosed-recipients:;"


def base_subject(subject: str) -> str:
    """The subject without reply/forward prefixes, for matching (RFC 5256 §2.1 + rule 100).

    Unlike RFC 5256 a leading ``[tag]`` is kept (a prefix after it still goes): it may be
    our own reference tag, and the original and its replies then keep the same base.
    """
    text = one_line(subject)
    while True:
        before = text
        text = _FWD_SUFFIX.sub("", text)
        text = _PREFIX.sub(r"\1", text)
        wrapped = _FWD_WRAP.match(text)
        if wrapped:
            text = wrapped.group(1).strip()
        if text == before:
            return text


def is_valid_addr(addr: str) -> bool:
    """Whether ``addr`` is one syntactically valid addr-spec (nothing before or after it)."""
    return len(addr) <= 254 and _ADDR_SPEC.fullmatch(addr) is not None


def message_ids(value: str) -> tuple[str, ...]:
    """The ``<...>`` tokens of a Message-ID/References header, comments ignored."""
    for _ in range(5):  # comments can nest; a few rounds are plenty
        value = _COMMENT.sub(" ", value)
    return tuple(f"<{token}>" for token in _MSGID.findall(value)[:MAX_IDS] if len(token) < 998)


def _unfold(value: str) -> str:
    return _FOLD.sub("", value)


def _addresses(values: list[str], defects: list[str], field: str) -> tuple[list[Address], bool]:
    """Parse address headers from their *raw* text; returns (valid addresses, all were valid)."""
    found: list[Address] = []
    clean = True
    budget = MAX_ADDRESS_TEXT  # the stdlib address parser takes ~50 µs per address
    for value in values:
        unfolded = _unfold(value)
        if len(unfolded) > budget:
            defects.append(f"{field}: address lists cut at {MAX_ADDRESS_TEXT} characters")
            cut = unfolded[:budget].rfind(",")
            unfolded = unfolded[: max(cut, 0)]
        budget -= len(unfolded)
        try:
            pairs = getaddresses([unfolded])
        except Exception:  # the stdlib address parser is not written for hostile input
            pairs = []
            clean = False
        for name, addr in pairs:
            addr = raw_header_text(addr).strip()
            if is_valid_addr(addr):
                found.append(Address(one_line(decode_words(name)), addr))
            elif name or addr or not _GROUP.fullmatch(unfolded.strip() or ":;"):
                clean = False
    if not clean:
        defects.append(f"{field}: address list does not parse cleanly")
    return found, clean


def _sender_list(values: list[str], defects: list[str]) -> tuple[Address, ...]:
    """From: one address only if the header yields exactly one clean addr-spec.

    Python 3.11's getaddresses splits ``alice@example.org)<bob@example.org>`` into several
    entries (CVE-2023-27043); keeping just the valid one would forge a single sender, so a
    From with any junk keeps all it found (then ``.sender`` is None) or nothing.
    """
    found, clean = _addresses(values, defects, "from")
    if clean or len(found) > 1:
        return tuple(found)
    if len(found) == 1 and len(values) == 1 and _unquoted_comma_name(_unfold(values[0])):
        name = one_line(decode_words(_unfold(values[0]).partition("<")[0].strip().strip('"')))
        return (Address(name, found[0].addr),)
    return ()


_PLAIN_NAME = re.compile(r"[^\W\d_][\w .'-]*", re.UNICODE)


def _unquoted_comma_name(value: str) -> bool:
    """``Rossi, Maria <maria@x.org>``: a person's name left unquoted by a client.

    Only plain name words may stand before the one ``<addr>``; anything else (another
    ``@``, parentheses, brackets) keeps the strict CVE-2023-27043 rule.
    """
    head, bracket, tail = value.partition("<")
    if not bracket or ">" not in tail or tail.count("<") or tail.partition(">")[2].strip():
        return False
    words = decode_words(head).strip().strip('"')
    return "," in words and all(_PLAIN_NAME.fullmatch(w.strip()) for w in words.split(","))


def _return_path(value: str | None) -> str | None:
    if value is None:
        return None
    text = _COMMENT.sub(" ", raw_header_text(_unfold(value))).strip()
    bracket = re.search(r"<([^<>]*)>", text)
    inner = (bracket.group(1) if bracket else text).strip()
    if inner.startswith("@") and ":" in inner:  # obsolete source route <@a,@b:user@host>
        inner = inner.rpartition(":")[2]
    return one_line(inner)


def _delivered_to(values: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    for value in values:
        addr = _return_path(value) or ""
        if addr and addr not in out:
            out.append(addr)
    return tuple(out)


def _cap(raw: bytes, max_size: int) -> int:
    """Where the configured size cap cuts ``raw`` (its length when it does not)."""
    if max_size <= 0 or len(raw) <= max_size:
        return len(raw)
    cut = max(raw.rfind(b"\n", 0, max_size), raw.rfind(b"\r", 0, max_size))
    # At a line end, unless the last one is far back (one giant line): then mid-line.
    return cut + 1 if cut >= max_size // 2 else max_size


_TRACE_FIELDS = frozenset({
    "authentication-results", "arc-authentication-results", "received", "received-spf",
    "dkim-signature", "arc-seal", "arc-message-signature", "return-path",
    "x-ms-exchange-organization-authas", "x-ms-exchange-organization-authsource",
    "x-ms-exchange-organization-authmechanism",
})  # fmt: skip


def _header_values(msg: Message, defects: list[str], marker: str) -> list[tuple[str, str, str]]:
    """(lower-cased name, raw value, decoded one-line value) for every header, in order."""
    out: list[tuple[str, str, str]] = []
    for name, value in msg.raw_items():
        raw = value if isinstance(value, str) else str(value)
        key = one_line(name).lower()
        if key == marker:
            continue  # bounds.py's note of a cut body, not the sender's
        unfolded = _unfold(raw)
        # Trace and authentication fields are structured: RFC 2047 does not apply, and
        # decoding them would let a sender's encoded MAIL FROM forge "; dkim=pass".
        trace = key in _TRACE_FIELDS
        decoded = one_line(raw_header_text(unfolded) if trace else decode_words(unfolded))
        if len(decoded) > MAX_HEADER_VALUE:
            defects.append(f"header {name.lower()} cut at {MAX_HEADER_VALUE} characters")
            decoded = decoded[:MAX_HEADER_VALUE]
        out.append((key, raw, decoded))
    return out


def parse_message(raw: bytes, *, max_size: int) -> ParsedMessage:
    """Parse one message; any failure becomes a defect string, never an exception.

    A structure the parser cannot take is read flat: the headers and the first readable text
    still make a request (bounds.py), only the parts are lost.
    """
    digest = hashlib.sha256(raw).hexdigest()
    try:
        return _parse(raw, max_size, digest)
    except Exception as exc:  # last line of defence: a message must never stop the run
        failed = f"parse failed: {type(exc).__name__}: {exc}"[:300]
    try:
        return _parse(raw, max_size, digest, flat=failed)
    except Exception:
        return _empty(raw, failed)


def parse_inbound(mail: InboundMail, *, max_size: int) -> ParsedMessage:
    """Parse a message from the mailbox; one the server handed over cut says so in a defect."""
    msg = parse_message(mail.raw, max_size=max_size)
    if mail.size <= len(mail.raw):
        return msg
    defect = f"message of {mail.size} bytes cut at {len(mail.raw)}"
    return dataclasses.replace(msg, truncated=True, defects=(*msg.defects, defect))


def _parse(raw: bytes, max_size: int, digest: str, flat: str = "") -> ParsedMessage:
    end = _cap(raw, max_size)
    truncated = end < len(raw)
    defects: list[str] = [flat] if flat else []
    if truncated:
        defects.append(f"truncated: {len(raw)} bytes, parsed the first {end}")
    marker = f"x-mailer-cut-{digest[:16]}"  # no sender can know it: it hashes their bytes
    shaped = bounds.shape(raw, end, marker=marker.encode(), flat=bool(flat))
    defects.extend(shaped.defects)
    msg = BytesParser(policy=compat32).parsebytes(shaped.data)
    headers = _header_values(msg, defects, marker)

    def raws(*names: str) -> list[str]:
        return [raw for name, raw, _ in headers if name in names]

    def first(name: str) -> str | None:
        return next((value for key, _, value in headers if key == name), None)

    ids = message_ids(" ".join(raws("message-id")))
    message_id = ids[0] if ids else None
    if message_id is None and first("message-id"):
        defects.append("message-id: no <...> token")
    raw_subjects = raws("subject")
    recipients, _ = _addresses(raws(*_ADDRESS_HEADERS), defects, "recipients")
    parts = walk(msg, marker)
    text, html_only, body_parts = body_text(parts, defects)
    embedded = embedded_ids(parts, message_ids)
    for part in parts:
        defects.extend(type(defect).__name__ for defect in part.message.defects)
    return ParsedMessage(
        key=message_id or "sha256:" + digest,
        message_id=message_id,
        in_reply_to=message_ids(" ".join(raws("in-reply-to"))),
        references=message_ids(" ".join(raws("references"))),
        subject=first("subject") or "",
        raw_subject=one_line(raw_header_text(_unfold(raw_subjects[0]))) if raw_subjects else None,
        from_=_sender_list(raws("from"), defects),
        reply_to=tuple(_addresses(raws("reply-to"), defects, "reply-to")[0]),
        return_path=_return_path(next(iter(raws("return-path")), None)),
        recipients=tuple(recipients),
        delivered_to=_delivered_to(raws("delivered-to", "x-original-to")),
        headers=tuple((name, value) for name, _, value in headers),
        content_type=parts[0].content_type,
        text=text,
        html_only=html_only,
        attachments=find_attachments(parts, body_parts),
        has_calendar=any(p.content_type in _CALENDAR_TYPES for p in parts if not p.nested),
        report=find_report(parts, embedded),
        size=len(raw),
        truncated=truncated or any(p.cut for p in parts if id(p) in body_parts),
        defects=tuple(dict.fromkeys(defects))[:50],
        thread_topic=first("thread-topic"),
        thread_index=first("thread-index"),
        date=first("date"),
        embedded_message_ids=embedded,
    )


def _empty(raw: bytes, defect: str) -> ParsedMessage:
    return ParsedMessage(
        key="sha256:" + hashlib.sha256(raw).hexdigest(),
        message_id=None,
        in_reply_to=(),
        references=(),
        subject="",
        raw_subject=None,
        from_=(),
        reply_to=(),
        return_path=None,
        recipients=(),
        delivered_to=(),
        headers=(),
        content_type="text/plain",
        text="",
        html_only=False,
        attachments=(),
        has_calendar=False,
        report=None,
        size=len(raw),
        truncated=False,
        defects=(defect,),
    )
