"""The files attached to an inbound mail, as bytes, for the mail that passes them on.

Parsed again from the raw message only when a mail is to carry them (a staff answer to the
requester, a request to the team when ``forward_attachments`` is on), so that the common path
never keeps attachment bytes in memory.
"""

from __future__ import annotations

from email.parser import BytesParser
from email.policy import compat32

from mailer.core.reading import parts
from mailer.model import File


def attached_files(raw: bytes, *, max_total: int) -> tuple[tuple[File, ...], int]:
    """(the files, how many were left out because they would pass ``max_total`` bytes)."""
    try:
        root = BytesParser(policy=compat32).parsebytes(raw)
        walked = parts.walk(root)
        _, _, body = parts.body_text(walked, [])
    except Exception:  # a message we cannot split again still gets its text passed on
        return (), 0
    files: list[File] = []
    total = left_out = 0
    for part in walked:
        if id(part) in body or part.nested or not _is_file(part):
            continue
        data = _data(part)
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


def _data(part: parts.Part) -> bytes:
    if part.content_type in ("message/rfc822", "message/global") and not part.leaf:
        try:
            return part.message.get_payload(0).as_bytes()  # type: ignore[union-attr]
        except Exception:
            return b""
    return parts.payload_bytes(part)


def _name(part: parts.Part) -> str:
    if part.content_type.startswith("message/"):
        return "message.eml"
    subtype = part.content_type.partition("/")[2] or "bin"
    return f"attachment.{subtype[:10]}"
