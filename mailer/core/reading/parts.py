"""Walking a parsed MIME tree: body text, attachments and delivery reports.

Split from parse.py to keep each module short. Every accessor on a part is wrapped, because
compat32 happily builds parts whose headers are nonsense, and we still want the rest.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.message import Message

from mailer.core.reading.bounds import MAX_DEPTH, MAX_PARTS
from mailer.core.reading.text import clean_text, decode_bytes, decode_words, html_to_text, one_line
from mailer.model import Attachment, DeliveryReport

__all__ = ["MAX_DEPTH", "MAX_PARTS", "Part", "body_text", "find_attachments", "walk"]
MAX_HTML = 1_000_000  # characters of an HTML body converted to text
# message/* types the parser nests a whole message into; other message/* parts (DSN, MDN,
# ARF fields) are leaves whose "headers" are the report fields.
_CONTAINERS = ("message/rfc822", "message/global", "message/news")
_REPORT_FIELDS = ("message/delivery-status", "message/global-delivery-status")
_TEXT_MSGID = re.compile(
    r"^[ \t>]*(?:original-)?message-id:[ \t]*(?:\r?\n[ \t]+)?(<[^<>\s]+>)",
    re.IGNORECASE | re.MULTILINE,
)
_FIELD = re.compile(r"^[ \t]*(action|status):[ \t]*([^\s;]+)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Part:
    """One MIME part with what we need from its headers, read once and safely."""

    message: Message
    content_type: str
    nested: bool  # inside an attached/returned message (message/rfc822)
    embedded: bool  # the root of a message attached to the top-level message
    leaf: bool
    disposition: str
    filename: str
    charset: str | None
    # A body bounds.py cut: its full (decoded size, encoded size, offset in the raw message)
    cut: tuple[int, int, int] | None = None


def _safe(default: str, call: Callable[[], object]) -> str:
    try:
        value = call()
    except Exception:  # a broken header parameter must not lose the whole part
        return default
    return value if isinstance(value, str) else default


def _cut(message: Message, marker: str | None) -> tuple[int, int, int] | None:
    """What bounds.shape wrote into the marker field of a part it cut."""
    value = _safe("", lambda: message.get(marker)) if marker else ""
    numbers = value.split()
    if len(numbers) != 3 or not all(n.isdigit() for n in numbers):
        return None
    return int(numbers[0]), int(numbers[1]), int(numbers[2])


def _part(message: Message, nested: bool, embedded: bool, marker: str | None) -> Part:
    ctype = _safe("text/plain", message.get_content_type).lower()
    container = ctype.startswith("multipart/") or ctype in _CONTAINERS
    return Part(
        message=message,
        content_type=ctype,
        nested=nested,
        embedded=embedded,
        leaf=not (container and isinstance(message.get_payload(), list)),
        disposition=_safe("", message.get_content_disposition).lower(),
        filename=one_line(decode_words(_safe("", message.get_filename))),
        charset=_safe("", message.get_content_charset) or None,
        cut=_cut(message, marker),
    )


def walk(root: Message, marker: str | None = None) -> list[Part]:
    """All parts, depth first in document order, capped against hostile nesting."""
    parts: list[Part] = []
    stack: list[tuple[Message, int, bool, bool]] = [(root, 0, False, False)]
    while stack and len(parts) < MAX_PARTS:
        message, depth, nested, embedded = stack.pop()
        part = _part(message, nested, embedded, marker)
        parts.append(part)
        payload = message.get_payload()
        if part.leaf or not isinstance(payload, list) or depth >= MAX_DEPTH:
            continue
        holds = part.content_type in _CONTAINERS
        children = [child for child in payload if isinstance(child, Message)]
        stack.extend(
            (child, depth + 1, nested or holds, holds and not nested)
            for child in reversed(children)
        )
    return parts


def payload_bytes(part: Part) -> bytes:
    """The decoded content of a leaf part (base64/quoted-printable/uuencode undone)."""
    try:
        data = part.message.get_payload(decode=True)
    except Exception:
        data = None
    if isinstance(data, bytes):
        return data
    payload = part.message.get_payload()
    if isinstance(payload, str):
        try:
            return payload.encode("ascii", "surrogateescape")
        except UnicodeEncodeError:
            return payload.encode("utf-8", "replace")
    if isinstance(payload, list):  # report fields parsed as header blocks: rebuild the text
        return "\n\n".join(_fields_text(block) for block in payload).encode("utf-8", "replace")
    return b""


def _fields_text(block: object) -> str:
    if not isinstance(block, Message):
        return ""
    return "\n".join(f"{name}: {value}" for name, value in block.raw_items())


def part_text(part: Part) -> str:
    return clean_text(decode_bytes(payload_bytes(part), part.charset))


def _is_attachment(part: Part) -> bool:
    return part.disposition == "attachment" or bool(part.filename)


def body_text(parts: list[Part], defects: list[str]) -> tuple[str, bool, set[int]]:
    """(text, html_only, ids of the parts used): first text/plain, else the first HTML part.

    Attached or returned messages and attachments never count as the body.
    """
    candidates = [p for p in parts if p.leaf and not p.nested and not _is_attachment(p)]
    for part in candidates:
        if part.content_type == "text/plain":
            _note_cut(part, defects)
            return part_text(part), False, {id(part)}
    for part in candidates:
        if part.content_type == "text/html":
            defects.append("body: HTML only, text derived from HTML")
            _note_cut(part, defects)
            html = part_text(part)
            if len(html) > MAX_HTML:  # HTMLParser is slow; nobody writes a request this long
                defects.append(f"body: HTML cut at {MAX_HTML} characters before conversion")
                html = html[:MAX_HTML]
            return html_to_text(html), True, {id(part)}
    for part in candidates:  # a multipart without usable boundary: its text is all we have
        if part.content_type.startswith("multipart/"):
            defects.append("body: multipart could not be split, kept as text")
            return part_text(part), False, {id(part)}
    return "", False, set()


def _note_cut(part: Part, defects: list[str]) -> None:
    if part.cut is not None:
        kept = len(part.message.get_payload() or "")
        defects.append(f"body: text of {part.cut[1]} bytes, the first {kept} read")


def find_attachments(parts: list[Part], body: set[int]) -> tuple[Attachment, ...]:
    """Attachments by disposition, filename or non-text type; attached mail counts as one.

    Report fields (message/delivery-status and friends) are machinery, not attachments.
    """
    found: list[Attachment] = []
    cuts = {id(p.message): p.cut[1] for p in parts if p.cut is not None}
    for part in parts:
        if id(part) in body or part.nested:
            continue
        ctype = part.content_type
        if ctype in _CONTAINERS and not part.leaf:
            size = part.cut[1] if part.cut else _encoded_size(part.message, cuts)
        elif not part.leaf or ctype.startswith("multipart/"):
            continue
        elif _is_attachment(part) or not ctype.startswith(("text/", "message/")):
            size = part.cut[0] if part.cut else len(payload_bytes(part))
        else:
            continue
        found.append(Attachment(part.filename, ctype, size))
    return tuple(found)


def _encoded_size(message: Message, cuts: dict[int, int], depth: int = 0) -> int:
    """About the size of an attached message as sent: headers plus encoded payloads.

    Cheaper than flattening it again (as_bytes), which also re-folds every header. A body
    that bounds.py cut counts with its full size (``cuts``: encoded size by message id).
    """
    size = sum(len(name) + len(str(value)) + 4 for name, value in message.raw_items()) + 2
    payload = message.get_payload()
    if isinstance(payload, str):
        return size + cuts.get(id(message), len(payload))
    if isinstance(payload, list) and depth < MAX_DEPTH:
        size += sum(_encoded_size(m, cuts, depth + 1) for m in payload if isinstance(m, Message))
    return size


def _header_ids(message: Message, ids: Callable[[str], tuple[str, ...]]) -> tuple[str, ...]:
    values = [v for k, v in message.raw_items() if k.lower() == "message-id"]
    return ids(" ".join(str(v) for v in values))[:1]


def _text_ids(texts: Iterable[str]) -> list[str]:
    return [match for text in texts for match in _TEXT_MSGID.findall(text)]


def embedded_ids(parts: list[Part], ids: Callable[[str], tuple[str, ...]]) -> tuple[str, ...]:
    """Message-IDs of the messages attached to (or returned by) the top-level message.

    An attached message whose headers the parser missed (a stray blank line after the part
    headers is common in bounces) is searched as text for a ``Message-ID:`` line instead.
    """
    found: list[str] = []
    for part in parts:
        if part.embedded:
            from_headers = _header_ids(part.message, ids)
            found.extend(from_headers or _text_ids([part_text(part)] if part.leaf else []))
        elif part.content_type == "text/rfc822-headers" and not part.nested:
            found.extend(_text_ids([part_text(part)]))
    return tuple(dict.fromkeys(found))[:20]


def find_report(parts: list[Part], embedded: tuple[str, ...]) -> DeliveryReport | None:
    """What a multipart/report (DSN, MDN, ARF) says; None when there is none."""
    top = [p for p in parts if not p.nested]
    report = next((p for p in top if p.content_type == "multipart/report"), None)
    if report is None:
        return None
    report_type = _safe("", lambda: report.message.get_param("report-type")).lower().strip()
    actions: list[str] = []
    statuses: list[str] = []
    texts: list[str] = []
    for part in top:
        ctype = part.content_type
        if ctype in _REPORT_FIELDS:
            report_type = report_type or "delivery-status"
            for name, value in _FIELD.findall(part_text(part)):
                (actions if name.lower() == "action" else statuses).append(value.lower())
        elif part.leaf and (ctype.startswith("message/") or ctype == "text/plain"):
            texts.append(part_text(part))  # MDN/ARF fields; or the original quoted inline
    originals = embedded or tuple(_text_ids(texts))
    return DeliveryReport(
        report_type=report_type,
        actions=tuple(actions),
        statuses=tuple(statuses),
        original_message_ids=tuple(dict.fromkeys(originals))[:20],
    )
