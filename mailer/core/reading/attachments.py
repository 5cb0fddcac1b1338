"""The files attached to an inbound mail, as bytes, for the mail that passes them on.

Parsed again from the raw message only when a mail is to carry them (a staff answer to the
requester, a request to the team when ``forward_attachments`` is on), so that the common path
never keeps attachment bytes in memory. The structure comes from the shaped message, as in
parse.py (bounds.py: no 20 MB file is split into lines and joined again); a file bounds.py
cut is decoded straight from its place in the raw message, the way the parser would have.
"""

from __future__ import annotations

import binascii
import hashlib
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32

from mailer.core.reading import bounds, parts
from mailer.model import File

_EOL = (b"\r\n", b"\r", b"\n")


def attached_files(raw: bytes, *, max_total: int) -> tuple[tuple[File, ...], int]:
    """(the files, how many were left out because they would pass ``max_total`` bytes)."""
    marker = f"x-mailer-cut-{hashlib.sha256(raw).hexdigest()[:16]}"
    try:
        shaped = bounds.shape(raw, len(raw), marker=marker.encode())
        root = BytesParser(policy=compat32).parsebytes(shaped.data)
        walked = parts.walk(root, marker)
        _, _, body = parts.body_text(walked, [])
    except Exception:  # a message we cannot split again still gets its text passed on
        return (), 0
    files: list[File] = []
    total = left_out = 0
    for part in walked:
        if id(part) in body or part.nested or not _is_file(part):
            continue
        if total + (part.cut[0] if part.cut else 0) > max_total:
            left_out += 1
            continue
        data = _data(part, raw)
        if total + len(data) > max_total:
            left_out += 1
            continue
        total += len(data)
        files.append(File(part.filename or _name(part), part.content_type, data))
    return tuple(files), left_out


def _is_file(part: parts.Part) -> bool:
    if part.content_type in ("message/rfc822", "message/global"):
        return True
    if not part.leaf or part.content_type.startswith("multipart/"):
        return False
    if part.disposition != "attachment" and part.message.get("Content-ID"):
        return False  # an image inside the HTML (a logo in a signature), not a file sent
    named = part.disposition == "attachment" or bool(part.filename)
    return named or not part.content_type.startswith(("text/", "message/"))


def _data(part: parts.Part, raw: bytes) -> bytes:
    if part.cut is not None:
        return _from_raw(part, raw)
    if part.content_type in ("message/rfc822", "message/global") and not part.leaf:
        try:
            return part.message.get_payload(0).as_bytes()  # type: ignore[union-attr]
        except Exception:
            return b""
    return parts.payload_bytes(part)


def _from_raw(part: parts.Part, raw: bytes) -> bytes:
    """A cut body, whole, from the raw message, decoded as the parser decodes a payload.

    Base64 (nearly every file) is decoded from the raw bytes in place; the parser's way (the
    payload as text, split into lines and joined again) costs three times the file.
    """
    assert part.cut is not None
    _, size, start = part.cut
    end = start + size
    for eol in _EOL:  # the line end before a boundary belongs to the boundary (RFC 2046)
        if raw.endswith(eol, start, end):
            end -= len(eol)
            break
    cte = str(part.message.get("content-transfer-encoding", "")).strip().lower()
    if not part.leaf or cte in ("", "7bit", "8bit", "binary"):  # as sent
        return raw[start:end]
    if cte == "base64":
        try:
            return binascii.a2b_base64(memoryview(raw)[start:end])
        except binascii.Error:  # bad padding: the parser's repairs below
            pass
    whole = Message()
    whole["Content-Transfer-Encoding"] = cte
    whole.set_payload(raw[start:end].decode("ascii", "surrogateescape"))
    try:
        decoded = whole.get_payload(decode=True)
    except Exception:
        return b""
    return decoded if isinstance(decoded, bytes) else b""


def _name(part: parts.Part) -> str:
    if part.content_type.startswith("message/"):
        return "message.eml"
    subtype = part.content_type.partition("/")[2] or "bin"
    return f"attachment.{subtype[:10]}"
