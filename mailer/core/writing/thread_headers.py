"""Threading headers for the mail we send: Message-ID, References, subject, Thread-Index.

Pure functions: randomness and time are passed in, so the same inputs give the same
headers in tests. Rules from RFC 5322 §3.6.4, RFC 3834 §3.1.5-6 and MS-OXOMSG §2.2.1.3.
"""

from __future__ import annotations

import base64
import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
# One reply prefix, as mail clients write it in many languages (standards D100); forward
# prefixes stay, since "Fwd: Contract" is the subject the requester chose.
_REPLY_ONLY = re.compile(
    r"^\s*(?:re|res|r|rif|aw|sv|vs|antw|odp|ynt|απ|σχετ|回复|答复|回覆)"
    r"\s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*[:：]\s*",
    re.IGNORECASE,
)
MAX_REFERENCES = 10
FILETIME_EPOCH_OFFSET = 11_644_473_600  # seconds between 1601-01-01 and 1970-01-01


def clean_header_text(text: str) -> str:
    """Remove CR, LF and other controls and collapse whitespace: no header injection."""
    return " ".join(_CONTROL.sub(" ", text).split())


def new_message_id(reference: str | None, domain: str, token: bytes) -> str:
    """``<{32 hex}.{REF}@{domain}>``: globally unique, on our domain, recognisable as ours."""
    ref = re.sub(r"[^A-Za-z0-9-]", "", reference or "") or "mailer"
    return f"<{token.hex()[:32]}.{ref}@{domain}>"


def reply_references(
    parent_id: str | None,
    parent_references: tuple[str, ...],
    parent_in_reply_to: tuple[str, ...],
) -> tuple[str | None, tuple[str, ...]]:
    """(In-Reply-To, References) for a reply to the parent message.

    The parent's References (else its single In-Reply-To) plus its Message-ID; without a
    Message-ID there is no In-Reply-To. Long chains keep the first 4 and the last 6 ids, so
    the root survives for Gmail and Outlook.
    """
    refs = list(parent_references)
    if not refs and len(parent_in_reply_to) == 1:
        refs = list(parent_in_reply_to)
    if parent_id:
        refs.append(parent_id)
    unique = list(dict.fromkeys(refs))
    if len(unique) > MAX_REFERENCES:
        unique = unique[:4] + unique[-6:]
    return parent_id, tuple(unique)


def strip_reply_prefixes(subject: str) -> str:
    """The subject without leading reply prefixes (Re:, R:, AW:, SV: ...), forwards kept."""
    previous = None
    while previous != subject:
        previous = subject
        subject = _REPLY_ONLY.sub("", subject, count=1)
    return subject.strip()


def reference_tag(reference: str) -> str:
    return f"[{reference}]"


def reply_subject(subject: str, reference: str, placement: str, fallback: str) -> str:
    """``Re: <original> [REF]``: one Re:, the tag where the config puts it, never twice."""
    base = strip_reply_prefixes(clean_header_text(subject)) or fallback
    tag = reference_tag(reference)
    if tag.lower() in base.lower() or placement == "none":
        return f"Re: {base}"
    if placement == "prefix":
        return f"Re: {tag} {base}"
    return f"Re: {base} {tag}"


def find_reference(subject: str, prefix: str) -> str | None:
    """The ``[PREFIX-123]`` tag in a subject, normalised to upper case, or None."""
    match = re.search(rf"\[\s*#?({re.escape(prefix)})-(\d+)\s*\]", subject, re.IGNORECASE)
    if match is None:
        return None
    return f"{match.group(1).upper()}-{int(match.group(2))}"


def without_references(subject: str, prefix: str) -> str:
    """The subject without ``[PREFIX-123]`` tags: a new request must not carry an old one's."""
    tag = re.compile(rf"\s*\[\s*#?{re.escape(prefix)}-\d+\s*\]", re.IGNORECASE)
    return clean_header_text(tag.sub(" ", subject))


def thread_topic(parent_topic: str | None, subject: str) -> str:
    """Outlook's conversation topic: the parent's, else the subject without prefixes."""
    topic = clean_header_text(parent_topic or "")
    return topic or strip_reply_prefixes(clean_header_text(subject))


def _filetime(now: float) -> int:
    return int((now + FILETIME_EPOCH_OFFSET) * 10_000_000)


def thread_index(parent_index: str | None, now: float, guid: bytes) -> str:
    """Thread-Index: the parent's index plus one 5-byte child block, else a new 22-byte header.

    A parent index that does not decode to 22 + 5n bytes is ignored (a malformed index is
    worse than none), and we start a conversation of our own.
    """
    parent = _decode_index(parent_index)
    if parent is None:
        header = bytes([1]) + (_filetime(now) >> 24).to_bytes(8, "big")[3:] + guid[:16]
        return base64.b64encode(header).decode("ascii")
    parent_time = int.from_bytes(parent[1:6], "big") << 24
    delta = max(0, _filetime(now) - parent_time)
    if delta < (1 << 49):
        code, bits = 0, (delta >> 18) & 0x7FFFFFFF
    else:
        code, bits = 1, (delta >> 23) & 0x7FFFFFFF
    block = ((code << 31) | bits).to_bytes(4, "big") + bytes([guid[-1] & 0xFF])
    return base64.b64encode(parent + block).decode("ascii")


def _decode_index(value: str | None) -> bytes | None:
    if not value:
        return None
    try:
        raw = base64.b64decode("".join(value.split()), validate=True)
    except ValueError:
        return None
    if len(raw) < 22 or (len(raw) - 22) % 5:
        return None
    return raw
