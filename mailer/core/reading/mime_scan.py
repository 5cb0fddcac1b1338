"""Line-level pieces of ``bounds.py``: boundary lines, header fields, what a header says.

Everything matches raw bytes the way Python's feedparser splits and reads them: lines end at
CRLF, CR or LF; a header line matches its ``headerRE``; a boundary line is ``--`` boundary,
maybe ``--``, blanks and the line end. Patterns are anchored or start with a literal, and
none can backtrack over more than one line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32

EOL = rb"(?:\r\n|\r(?!\n)|\n)"
# The line end after a header field: one not followed by a continuation line.
FIELD_END = re.compile(EOL + rb"(?![ \t])")
HEADER_LINE = re.compile(rb"From |[\041-\071\073-\176]*:|[\t ]")  # feedparser's headerRE
# A line end followed by a blank line or by a line that is no header line.
BLOCK_END = re.compile(EOL + rb"(?=[\r\n]|(?!From |[\041-\071\073-\176]*:|[\t ]))")
DASH_AT = re.compile(rb"--([^\r\n]*)")
DASH_AFTER = re.compile(rb"(?:\r\n|\r|\n)--([^\r\n]*)")
CONTENT = frozenset({b"content-type", b"content-transfer-encoding", b"content-disposition"})
_BINARY_TEXT = ("base64", "x-uuencode", "uuencode", "x-uue", "uue")


@dataclass(frozen=True)
class Hit:
    start: int  # the boundary line's first byte
    end: int  # after its line end
    close: bool  # "--boundary--"
    level: int = 0  # index in the stack of open multiparts


@dataclass
class Frame:
    """One open multipart's boundary and the next line that matches it, searched forward only:
    asked again from a later position, it answers from what it found."""

    at: re.Pattern[bytes]  # a boundary line right here
    after: re.Pattern[bytes]  # one that starts after a line end
    lo: int = -1  # the last search covered [lo, hi) and found ``hit`` (or nothing)
    hi: int = -1
    hit: Hit | None = None

    @classmethod
    def of(cls, boundary: bytes) -> Frame:
        dashes = b"--" + re.escape(boundary)
        rest = rb"(?P<close>--)?[ \t]*(?:\r\n|\r|\n|\Z)"
        # The literal first, then the line end before it: the fastest search re offers.
        after = b"(?P<line>" + dashes + b"(?<=[\r\n]" + dashes + b")" + rest + b")"
        return cls(re.compile(dashes + rest), re.compile(after))

    def next(self, data: bytes, pos: int, limit: int) -> Hit | None:
        """The first matching line that starts at or after ``pos`` (a line start) and before
        ``limit``."""
        if self.lo <= pos and self.hit is None and limit <= self.hi:
            return None
        if self.lo <= pos and self.hit is not None and pos <= self.hit.start:
            return self.hit if self.hit.start < limit else None
        self.lo, self.hi = pos, limit
        found = self.at.match(data, pos, limit)
        start = pos
        if found is None:
            found = self.after.search(data, pos, limit)
            start = found.start("line") if found is not None else pos
        self.hit = None if found is None else Hit(start, found.end(), bool(found.group("close")))
        return self.hit


@dataclass(frozen=True)
class Head:
    """What a header block says about its body, as the standard library reads it."""

    ctype: str = "text/plain"
    boundary: bytes | None = None
    cte: str = ""
    attachment: bool = False

    @property
    def container(self) -> bool:
        """Parsed as structure: a multipart with a boundary, or a message/* holding one."""
        if self.ctype.startswith("multipart/"):
            return self.boundary is not None
        return self.ctype.startswith("message/") and self.ctype != "message/delivery-status"

    @property
    def texty(self) -> bool:
        return self.ctype.startswith(("text/", "message/", "multipart/"))


def name(field: bytes) -> bytes:
    """A field's name as the feedparser keys it: everything before the colon."""
    return field[: field.find(b":")].lower() if b":" in field else b""


def ended(field: bytes) -> bytes:
    return field if field.endswith((b"\n", b"\r")) else field + b"\r\n"


def _safe(call: Callable[[], object], default: object) -> object:
    try:
        return call()
    except Exception:  # a parameter the stdlib cannot read: what it assumes then
        return default


def read_head(fields: list[bytes], digest: bool) -> Head:
    """Content-Type, boundary, encoding and disposition of a header block's fields.

    ``digest``: a part of multipart/digest, where the default type is message/rfc822.
    """
    wanted = b"".join(ended(f) for f in fields if name(f) in CONTENT)
    msg = BytesHeaderParser(policy=compat32).parsebytes(wanted + b"\r\n")
    if digest:
        msg.set_default_type("message/rfc822")
    ctype = str(_safe(msg.get_content_type, "text/plain")).lower()
    boundary = _safe(msg.get_boundary, None) if ctype.startswith("multipart/") else None
    # A boundary RFC 2231 decoded to non-ASCII never matches a line: as if there were none.
    raw = _safe(lambda: str(boundary).encode("ascii", "surrogateescape"), None)
    return Head(
        ctype=ctype,
        boundary=raw if isinstance(boundary, str) and isinstance(raw, bytes) else None,
        cte=str(msg.get("content-transfer-encoding", "")).strip().lower(),
        attachment=_attachment(msg),
    )


def _attachment(msg: Message) -> bool:
    return _safe(msg.get_content_disposition, None) == "attachment" or bool(
        _safe(msg.get_filename, None)
    )


def cut_field(data: bytes, start: int, size: int) -> bytes:
    """The first ``size`` bytes of the field at ``start``, after its last whole address."""
    piece = data[start : start + size]
    comma = piece.rfind(b",")
    if comma >= size // 2:
        piece = piece[:comma]
    return piece.rstrip(b" \t\r\n") + b"\r\n"


def decoded_size(data: bytes, start: int, stop: int, cte: str) -> int:
    """About the size of a body once decoded (exact for clean base64)."""
    size = stop - start
    if cte not in _BINARY_TEXT:
        return size
    blanks = sum(data.count(c, start, stop) for c in (b"\n", b"\r", b" ", b"\t"))
    padding = data.count(b"=", max(start, stop - 8), stop) if cte == "base64" else 0
    return max(0, (size - blanks) * 3 // 4 - padding)
