"""A saved message made to arrive at the service: its recipients replaced, every other byte kept.

``mailer rules test`` judges a file saved from elsewhere as a colleague's mail to the service,
and the test sandbox delivers real-world mail the same way. Real-world mail is often broken;
these helpers edit only the header lines they must (only line endings become CRLF, as SMTP
requires).
"""

from __future__ import annotations

import re
from email.utils import getaddresses

# what the acceptance check strips: the original recipients and delivery traces
DROPPED_FIELDS = frozenset(
    {b"to", b"cc", b"bcc", b"delivered-to", b"x-original-to", b"return-path"}
)
_FIELD = re.compile(rb"^([\x21-\x39\x3b-\x7e]+)[ \t]*:")
_ADDR = re.compile(r"^[\x21-\x7e]+$")
_ADDR_IN_TEXT = re.compile(r"[^\s<>\"'(),;:]+@[^\s<>\"'(),;:]+")


def split_lines(raw: bytes) -> list[bytes]:
    """The message's lines without line endings.

    LF ends a line and one CR before it is dropped, so a stray CR inside a line stays. A file
    with CRs and no LF at all (classic Mac) is split on CR: otherwise it would be one line.
    """
    if b"\n" not in raw and b"\r" in raw:
        lines = raw.split(b"\r")
    else:
        lines = [ln[:-1] if ln.endswith(b"\r") else ln for ln in raw.split(b"\n")]
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def to_crlf(raw: bytes) -> bytes:
    return b"".join(ln + b"\r\n" for ln in split_lines(raw))


def _header_fields(lines: list[bytes]) -> tuple[list[tuple[bytes, list[bytes]]], int]:
    """Header fields as (lowercase name, lines), and the index where the body part starts.

    A line that is neither a field nor a continuation ends the header, as in Postfix and in
    Python's email parser. Continuation lines before the first field belong to nothing and are
    left out, as Python's parser does; Postfix would end the header at them instead, turning the
    whole header into body (some corpus files start with a line of spaces).
    """
    fields: list[tuple[bytes, list[bytes]]] = []
    for i, line in enumerate(lines):
        if line[:1] in (b" ", b"\t"):
            if fields:
                fields[-1][1].append(line)
            continue
        match = _FIELD.match(line)
        if not match:
            return fields, i
        fields.append((match.group(1).lower(), [line]))
    return fields, len(lines)


def _value(field_lines: list[bytes]) -> str:
    text = b" ".join(ln.strip() for ln in field_lines).decode("utf-8", "replace")
    return text.split(":", 1)[1].strip()


def _clean(addr: str) -> str | None:
    addr = addr.strip()
    return addr if _ADDR.match(addr) and "@" in addr else None


def envelope_sender(fields: list[tuple[bytes, list[bytes]]]) -> str:
    """Return-Path's address (``<>`` stays null), else the first From address, else null."""
    for name, field_lines in fields:
        if name == b"return-path":
            value = _value(field_lines)
            if re.fullmatch(r"<\s*>", value):
                return ""
            inner = re.search(r"<([^<>]*)>", value)
            found = _clean(inner.group(1) if inner else value)
            if found is not None:
                return found
            break
    for name, field_lines in fields:
        if name == b"from":
            value = _value(field_lines)
            try:
                candidates = [a for _, a in getaddresses([value])]
            except Exception:  # the parser can choke on really broken headers
                candidates = []
            for addr in [*candidates, *_ADDR_IN_TEXT.findall(value)]:
                found = _clean(addr)
                if found is not None:
                    return found
            break
    return ""


def readdressed(raw: bytes, to: str) -> tuple[str, bytes]:
    """(envelope sender, CRLF message) as the acceptance check delivers real-world mail.

    Drops an mbox ``From `` line, stray continuation lines before the first field, and the
    To/Cc/Bcc/Delivered-To/X-Original-To/Return-Path fields (with their continuation lines),
    then adds ``To: <to>`` at the end of the header. Every other byte stays.
    """
    lines = split_lines(raw)
    if lines and lines[0].startswith(b"From ") and not _FIELD.match(lines[0]):
        lines = lines[1:]
    fields, body_at = _header_fields(lines)
    sender = envelope_sender(fields)
    kept = [ln for name, fl in fields if name not in DROPPED_FIELDS for ln in fl]
    out = [*kept, b"To: " + to.encode("ascii"), *lines[body_at:]]
    return sender, b"".join(ln + b"\r\n" for ln in out)
