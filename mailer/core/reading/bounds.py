"""The raw message cut down to what reading needs, before Python's email parser sees it.

The standard parser keeps a part several times over while it works, recurses once per
nesting level (1,000 nested multiparts raise RecursionError) and hands a 20 MB ``Cc:`` line
to an address parser that needs seconds for it. So it never gets the raw message: ``shape``
walks the line structure once, in linear time, and copies what reading needs, within limits:

- a header field keeps at most ``MAX_FIELD`` bytes (cut after a comma where it can), a header
  block at most ``MAX_FIELDS`` fields, and past ``MAX_BLOCK`` bytes only one-line fields (a
  Subject after a huge Cc still counts);
- a part's body keeps at most ``MAX_TEXT_BODY`` bytes (text and message parts: what we read)
  or ``MAX_OTHER_BODY`` (files: only their size matters here); a cut part carries its full
  size and place in a marker field whose name only this parse knows (``marker``): the
  attachment list shows the size, and attachments.py decodes a file from its place in raw;
- a container nested ``MAX_DEPTH`` deep is replaced by the first readable text inside it
  (text/plain, else text/html), however deep that is: the request is kept, not its wrapping;
- at most ``MAX_PARTS`` parts and ``MAX_KEPT`` bytes in all; the rest is left out.

Boundaries are found as the standard feedparser finds them (a line ``--`` boundary, maybe
``--``, blanks, its end; a line that closes several open multiparts belongs to the outermost),
so whatever is kept parses exactly as the whole message did: only what lies beyond a limit
changes, and each change is named in ``defects``. Each open boundary has its own pattern,
searched forward only (``mime_scan.Frame``): a byte is read at most once per open multipart
(30 at most), and the deep-text search looks at no more than ``MAX_CANDIDATES`` lines.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from mailer.core.reading.mime_scan import (
    BLOCK_END,
    CONTENT,
    DASH_AFTER,
    DASH_AT,
    FIELD_END,
    HEADER_LINE,
    Frame,
    Head,
    Hit,
    cut_field,
    decoded_size,
    ended,
    name,
    read_head,
)

__all__ = ["MAX_DEPTH", "MAX_PARTS", "Shaped", "shape"]

MAX_FIELD = 64 * 1024  # bytes of one header field, continuation lines included
MAX_FIELDS = 1000  # fields of one header block
MAX_BLOCK = 256 * 1024  # bytes of one header block; then only fields of one line's length
MAX_LINE = 998  # RFC 5322's line length
MAX_TEXT_BODY = 1024 * 1024  # bytes of a text (or message/*) part's body
MAX_OTHER_BODY = 64 * 1024  # bytes of any other body, preamble or epilogue
MAX_DEPTH = 30  # nesting levels parsed as structure
MAX_PARTS = 1000  # entities (messages and parts) in all
MAX_KEPT = 4 * 1024 * 1024  # bytes handed to the parser in all, headers included
MAX_CANDIDATES = 5000  # boundary-like lines looked at while searching deep structure for text


@dataclass(frozen=True)
class Shaped:
    data: bytes  # what the parser gets
    defects: tuple[str, ...]


class _Full(Exception):
    """MAX_PARTS or MAX_KEPT reached: what was copied so far is what the parser gets."""


@dataclass
class _Block:
    fields: list[bytes]
    end: bytes  # the blank line that ended it, or b"" (a boundary, a body line, the end)
    body: int  # where the body starts
    head: Head


class _Shaper:
    def __init__(self, data: bytes, end: int, marker: bytes, max_depth: int) -> None:
        self.data, self.end, self.marker, self.max_depth = data, end, marker, max_depth
        self.out: list[bytes] = []
        self.kept = self.parts = 0
        self.stack: list[Frame] = []
        self.notes: dict[str, int] = {}

    def note(self, what: str) -> None:
        self.notes[what] = self.notes.get(what, 0) + 1

    def emit(self, chunk: bytes) -> None:
        self.out.append(chunk)
        self.kept += len(chunk)

    def boundary(self, pos: int) -> Hit | None:
        """The next line that ends the current entity: a boundary of an open multipart."""
        best: Hit | None = None
        limit = self.end
        for level, frame in enumerate(self.stack):  # outermost first: it wins a tie
            hit = frame.next(self.data, pos, limit)
            if hit is not None:
                best, limit = Hit(hit.start, hit.end, hit.close, level), hit.start
        return best

    def stop(self, pos: int) -> int:
        hit = self.boundary(pos)
        return self.end if hit is None else hit.start

    # ---- header blocks ---------------------------------------------------------------------

    def block(self, pos: int, digest: bool) -> _Block:
        data, stop = self.data, self.stop(pos)
        fields: list[bytes] = []
        size, p = 0, pos
        while p < stop:
            if data[p] in b"\r\n":  # the blank line that ends the header
                eol = 2 if data.startswith(b"\r\n", p) else 1
                return _Block(fields, data[p : p + eol], p + eol, read_head(fields, digest))
            if not HEADER_LINE.match(data, p, stop):
                break  # a body line without the blank line before it
            if len(fields) >= MAX_FIELDS:
                self.note(f"header: fields after the first {MAX_FIELDS} left out")
                found = BLOCK_END.search(data, p, stop)
                p = found.end() if found is not None else stop
                continue
            found = FIELD_END.search(data, p, stop)
            end = found.end() if found is not None else stop
            if size >= MAX_BLOCK and end - p > MAX_LINE:  # a Subject after it still counts
                self.note(f"header: long fields after the first {MAX_BLOCK} bytes left out")
                p = end
                continue
            if end - p > MAX_FIELD:
                called = name(data[p : p + 100]).decode("ascii", "replace") or "?"
                self.note(f"header {called}: cut at {MAX_FIELD} bytes")
                fields.append(cut_field(data, p, MAX_FIELD))
            else:
                fields.append(data[p:end])
            size += len(fields[-1])
            p = end
        return _Block(fields, b"", p, read_head(fields, digest))

    def emit_block(self, fields: list[bytes], end: bytes, size: str | None) -> None:
        self.emit(self.block_bytes(fields, end, size))

    def block_bytes(self, fields: list[bytes], end: bytes, size: str | None) -> bytes:
        if size is not None:
            fields = [ended(f) for f in fields]
            fields.append(self.marker + b": " + size.encode() + b"\r\n")
        return b"".join(fields) + end

    # ---- bodies ----------------------------------------------------------------------------

    def cut(self, start: int, stop: int, keep: int, cte: str) -> tuple[bytes, str | None]:
        """The body between ``start`` and ``stop``, at most ``keep`` bytes of it.

        Only a cut text is a defect: a file's size is all reading wants of it, and it stays.
        """
        if keep == MAX_TEXT_BODY and stop - start > keep:
            self.note(f"body: a text part cut at {MAX_TEXT_BODY} bytes")
        keep = min(keep, max(0, MAX_KEPT - self.kept))
        if stop - start <= keep:
            return self.data[start:stop], None
        piece = self.data[start : start + keep]
        eol = max(piece.rfind(b"\n"), piece.rfind(b"\r"))
        piece = piece[: eol + 1] if eol >= keep // 2 else piece + b"\r\n" if piece else b""
        return piece, f"{decoded_size(self.data, start, stop, cte)} {stop - start} {start}"

    def leaf(self, block: _Block) -> int:
        stop = self.stop(block.body)
        keep = MAX_TEXT_BODY if block.head.texty else MAX_OTHER_BODY
        body, size = self.cut(block.body, stop, keep, block.head.cte)
        self.emit_block(block.fields, block.end, size)
        self.emit(body)
        return stop

    # ---- entities --------------------------------------------------------------------------

    def entity(self, pos: int, depth: int, digest: bool = False) -> int:
        """One message or part (header block and body) from ``pos``; returns where it ends."""
        self.parts += 1
        if self.parts > MAX_PARTS or self.kept >= MAX_KEPT:
            self.note(f"mime: more than {MAX_PARTS} parts or {MAX_KEPT} bytes, the rest left out")
            raise _Full
        block = self.block(pos, digest)
        if not block.head.container:
            return self.leaf(block)
        if depth >= self.max_depth:
            return self.flatten(block)
        if block.head.ctype.startswith("multipart/"):
            return self.multipart(block, depth)
        self.emit_block(block.fields, block.end, None)  # message/rfc822: a whole message
        at, kept = len(self.out) - 1, self.kept
        end = self.entity(block.body, depth + 1)
        if self.kept - kept != end - block.body:  # cut inside: say where the whole one lies
            span = end - block.body
            marked = self.block_bytes(block.fields, block.end, f"{span} {span} {block.body}")
            self.kept += len(marked) - len(self.out[at])
            self.out[at] = marked
        return end

    def multipart(self, block: _Block, depth: int) -> int:
        assert block.head.boundary is not None
        frame = Frame.of(block.head.boundary)
        self.stack.append(frame)
        own = len(self.stack) - 1
        hit = self.boundary(block.body)
        if hit is None or hit.level != own or hit.close:  # no first boundary: one text part
            self.stack.pop()
            stop = self.end if hit is None else hit.start
            body, size = self.cut(block.body, stop, MAX_TEXT_BODY, "")
            self.emit_block(block.fields, block.end, size)
            self.emit(body)
            return stop if hit is None or hit.level != own else self.stop(hit.end)
        preamble, _ = self.cut(block.body, hit.start, MAX_OTHER_BODY, "")
        self.emit_block(block.fields, block.end, None)
        self.emit(preamble)
        digest = block.head.ctype == "multipart/digest"
        try:
            while True:
                self.emit(self.data[hit.start : hit.end])
                pos = hit.end
                while (again := frame.at.match(self.data, pos, self.end)) and again.end() > pos:
                    pos = again.end()  # repeated boundary lines make no part (feedparser)
                end = self.entity(pos, depth + 1, digest)
                next_hit = self.boundary(end)
                if next_hit is None or next_hit.level != own:
                    return end  # an outer boundary, or the end, closes this multipart too
                hit = next_hit
                if hit.close:
                    break
        finally:
            self.stack.pop()
        self.emit(self.data[hit.start : hit.end])
        stop = self.stop(hit.end)
        epilogue, _ = self.cut(hit.end, stop, MAX_OTHER_BODY, "")
        self.emit(epilogue)
        return stop

    # ---- structure too deep: the first readable text instead ------------------------------

    def flatten(self, block: _Block) -> int:
        stop = self.stop(block.body)
        found = _FirstText(self, block, stop).find()
        fields = [f for f in block.fields if name(f) not in CONTENT]
        fields = [ended(f) for f in fields]
        self.note(f"mime: structure below {self.max_depth} levels replaced by its first text")
        if found is None:
            self.emit_block([*fields, b"Content-Type: text/plain\r\n"], b"\r\n", None)
            return stop
        inner, start, end = found
        body, size = self.cut(start, end, MAX_TEXT_BODY, inner.head.cte)
        content = [f for f in inner.fields if name(f) in CONTENT]
        self.emit_block([*fields, *content], b"\r\n", size)
        self.emit(body)
        return stop


class _FirstText:
    """The first text/plain part (else text/html) inside a container, found without building
    its structure: header blocks after lines that name a boundary declared in it so far."""

    def __init__(self, shaper: _Shaper, block: _Block, stop: int) -> None:
        self.shaper, self.data, self.stop = shaper, shaper.data, stop
        self.block = block
        self.declared: set[bytes] = set()
        self.looked = 0

    def find(self) -> tuple[_Block, int, int] | None:
        html: tuple[_Block, int, int] | None = None
        block = self.block
        while True:
            head, pos = block.head, block.body
            if head.boundary is not None:
                self.declared.add(head.boundary)
            elif head.container and pos < self.stop:  # message/*: its header block follows
                inner = self.shaper.block(pos, False)
                if inner.body > pos:
                    block = inner
                    continue
            elif head.ctype in ("text/plain", "text/html") and not head.attachment:
                line = self.next_line(pos, pos + MAX_TEXT_BODY + 2)
                found = (block, pos, self.stop if line is None else line[0])
                if head.ctype == "text/plain":
                    return found
                html = html or found
            line = self.next_line(pos, self.stop)
            if line is None:
                return html
            block = self.shaper.block(line[1], False)

    def next_line(self, pos: int, limit: int) -> tuple[int, int] | None:
        """(start, end) of the next line that names a boundary declared so far."""
        limit = min(limit, self.stop)
        found = DASH_AT.match(self.data, pos, limit)
        while self.looked < MAX_CANDIDATES:
            if found is None:
                found = DASH_AFTER.search(self.data, pos, limit)
                if found is None:
                    return None
            self.looked += 1
            token = found.group(1).rstrip(b" \t")
            if token in self.declared or (token.endswith(b"--") and token[:-2] in self.declared):
                end = found.end()
                end += 2 if self.data.startswith(b"\r\n", end) else 1 if end < limit else 0
                return found.start(1) - 2, min(end, self.stop)
            pos, found = found.end(), None
        return None


def shape(raw: bytes, end: int, *, marker: bytes, flat: bool = False) -> Shaped:
    """The first ``end`` bytes of ``raw``, cut to the limits above (never raises on bytes).

    ``flat`` reads no structure at all: the headers and the first readable text, for a
    message whose structure the parser could not take even shaped.
    """
    shaper = _Shaper(raw, min(end, len(raw)), marker, 0 if flat else MAX_DEPTH)
    with contextlib.suppress(_Full):
        shaper.entity(0, 0)
    defects = tuple(f"{what} ({n}x)" if n > 1 else what for what, n in shaper.notes.items())
    return Shaped(b"".join(shaper.out), defects)
