"""The visible text of a reply: what its author wrote, without quoted history or signature.

Status keywords count only at the top of the new text, so a keyword that sits in the quoted
history must never be seen. The body is cut once, at the first line that starts the history:
a ">" line, an attribution ("On … wrote:", "Il … ha scritto:", "Am … schrieb …:", also wrapped
over up to three lines), an Outlook header block ("From:/Sent:/To:/Subject:" and translations),
an "-----Original Message-----" or forwarded-message marker, or Outlook's rule above a header
block. Text written *between* quotes (inline answers) therefore counts as quoted: commands
belong at the top. When the history comes first (bottom-posting), the text after the first
">" block is the new text. From what is left, a signature is cut at the RFC 3676 "-- " line,
a mobile tagline ("Sent from my iPhone") or a mailing-list footer rule.

Pure and total. Linear time: the history start is looked for only in the first
``MAX_SCAN_LINES`` lines / ``MAX_SCAN_CHARS`` characters, and only lines up to ``MAX_LINE``
characters can be attributions or headers; a longer body is new text after that point.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailer.core.reading import quote_markers as m

__all__ = ["MAX_SCAN_CHARS", "MAX_SCAN_LINES", "Reply", "split_reply", "visible_text"]

MAX_SCAN_LINES = 5_000
MAX_SCAN_CHARS = 500_000
MAX_LINE = 400  # an attribution or header line is never longer (Gmail wraps at ~80)
MAX_JOIN = 3  # Gmail wraps a long attribution over up to three lines
HEADER_WINDOW = 16  # lines a header block may span, continuation and blank lines included
FOOTER_LINES = 10  # a footer rule is followed by at most this many non-blank lines


@dataclass(frozen=True)
class Reply:
    visible: str  # the new text the author wrote, stripped; signature removed
    quoted: str  # the quoted history / forwarded part ("" when none)
    signature: str  # the removed signature block ("" when none)


def visible_text(text: str) -> str:
    """Only the new text of a reply: what commands and ratings are read from."""
    return split_reply(text).visible


def split_reply(text: str) -> Reply:
    """Split a plain-text body into new text, quoted history and signature (never raises)."""
    try:
        return _split(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    except Exception:  # last line of defence: a body we cannot split is all new text
        return Reply(visible=str(text).strip(), quoted="", signature="")


def _split(lines: list[str]) -> Reply:
    base, lead = 0, 0
    start = _quote_start(lines, 0)
    if start is not None and not _join(lines[:start]):
        resume = _after_quote_block(lines, start)  # history first: the answer is below it
        if resume is not None:
            base, lead = resume, start
            start = _quote_start(lines, resume)
    end = len(lines) if start is None else start
    visible, signature, after = _cut_signature(lines[base:end])
    quoted = [_join(lines[lead:base]) if base else "", _join(after), _join(lines[end:])]
    return Reply(
        visible=_join(visible),
        quoted="\n\n".join(part for part in quoted if part),
        signature=_join(signature),
    )


def _join(lines: list[str]) -> str:
    return "\n".join(lines).strip()


def _scan_limit(lines: list[str], first: int) -> int:
    """Where the full search for the history start ends (both caps, whichever comes first)."""
    total = 0
    for number in range(first, min(len(lines), first + MAX_SCAN_LINES)):
        total += len(lines[number]) + 1
        if total > MAX_SCAN_CHARS:
            return number
    return min(len(lines), first + MAX_SCAN_LINES)


def _quote_start(lines: list[str], first: int) -> int | None:
    """Index of the first line of quoted history at or after ``first``, if any.

    Past the scan caps only the cheap test is made: a '>' line still starts the history.
    """
    limit = _scan_limit(lines, first)
    for i in range(first, limit):
        line = lines[i]
        if m.QUOTE_LINE.match(line):
            return i
        stripped = line.strip()
        if not stripped or len(stripped) > MAX_LINE:
            continue
        if (
            _is_marker(stripped)
            or (m.SEPARATOR.match(line) and _header_follows(lines, i + 1, limit))
            or _header_block_at(lines, i, limit)
            or _attribution_at(lines, i, limit)
        ):
            return i
    return next((i for i in range(limit, len(lines)) if m.QUOTE_LINE.match(lines[i])), None)


def _is_marker(stripped: str) -> bool:
    """'-----Original Message-----', 'Begin forwarded message:', 'Reply above this line'."""
    if m.ALONE_MARKER.match(stripped):
        return True
    if len(stripped) <= 120 and m.REPLY_ABOVE.search(stripped):
        return True
    dashed = m.DASHED_MARKER.match(stripped)
    return dashed is not None and m.DASHED_PHRASE.search(dashed.group(1)) is not None


def _header_key(line: str) -> str | None:
    match = m.HEADER_KEY.match(line) if len(line) <= MAX_LINE * 3 else None
    return match.group(1).lower() if match else None


def _header_follows(lines: list[str], first: int, limit: int) -> bool:
    """Whether a 'From:'-like line comes within the next three non-blank lines (or so)."""
    seen = 0
    for line in lines[first : min(limit, first + HEADER_WINDOW)]:
        if line.strip():
            if _header_key(line) in m.FROM_KEYS:
                return True
            seen += 1
            if seen == 3:
                return False
    return False


def _header_block_at(lines: list[str], i: int, limit: int) -> bool:
    """A block of header lines starts at ``i``: a sender key and two others, close together.

    Lines between the keys may be blank or continue a wrapped value (at most two in a row), so
    a lone "From:" in a sentence or a "Q:/A:" list never qualifies. A block that lost its line
    breaks ("From: x Sent: y To: z") counts when its first line holds the keys.
    """
    key = _header_key(lines[i])
    if key is None:
        return False
    if key in m.FROM_KEYS and len(m.INLINE_KEY.findall(lines[i])) >= 2:
        return True
    keys, gap, blanks = {key}, 0, 0
    for line in lines[i + 1 : min(limit, i + HEADER_WINDOW)]:
        other = _header_key(line)
        if other is not None:
            keys.add(other)
            gap = blanks = 0
        elif not line.strip():
            blanks += 1
            if blanks > 1:
                break
        else:
            gap += 1
            if gap > 2:
                break
    return len(keys) >= 3 and not keys.isdisjoint(m.FROM_KEYS)


def _attribution_at(lines: list[str], i: int, limit: int) -> bool:
    """An attribution line starts at ``i``, alone or wrapped over up to three lines."""
    parts: list[str] = []
    for j in range(i, min(limit, i + MAX_JOIN)):
        part = lines[j].strip()
        if not part or len(part) > MAX_LINE or (parts and m.QUOTE_LINE.match(lines[j])):
            return False
        if j > i and (
            not _wrapped_start(parts[0]) or (m.INTRO.match(part) and m.DIGIT.search(part))
        ):
            return False  # not wrapped, or the attribution really starts on a later line
        parts.append(part)
        if _is_attribution(" ".join(parts), _quote_follows(lines, j + 1, limit)):
            return True
    return False


def _wrapped_start(first: str) -> bool:
    """A wrapped attribution's first line opens it ('On <date>…') and does not end a sentence."""
    opens = m.INTRO.match(first) is not None or first[:1].isdigit()
    return opens and m.DIGIT.search(first) is not None and not first.endswith((".", "!", "?"))


def _quote_follows(lines: list[str], first: int, limit: int) -> bool:
    """Whether a '>' line follows, at most one blank line further on."""
    for line in lines[first : min(limit, first + 2)]:
        if line.strip():
            return m.QUOTE_LINE.match(line) is not None
    return False


def _is_attribution(text: str, quote_follows: bool) -> bool:
    """'On <date>, <name> <addr> wrote:' and its kin; plain sentences ending in 'wrote:' fail.

    A verb ending needs an opening word ('On', 'Le', 'Am', …) with a date or an address, a
    date with an address, or a quote right below ('Bob wrote:' then '> …'). Without a verb
    the line must end in '<address>:' and carry a time ('30.09.2017, 18.30, "J" <j@x.com>:').
    """
    dashes = text.rstrip().endswith("-")
    core = text.strip(" \t-*_")
    colon = core.endswith((":", "："))
    core = core.rstrip(":：").rstrip()
    address = "@" in core
    digits = m.DIGIT.search(core) is not None
    if m.VERB_END.search(core[-30:]):  # the longest verb is 16 characters
        if m.INTRO.match(core) and (digits or address or quote_follows):
            return colon or address or dashes
        return (digits and address and (colon or dashes)) or (colon and quote_follows)
    angle = m.ANGLE_ADDRESS.search(core[-200:]) is not None
    return colon and angle and m.TIME.search(core) is not None


def _after_quote_block(lines: list[str], start: int) -> int | None:
    """Where the text after a leading '>' block (and its attribution) begins, if it does."""
    i, end = start, len(lines)
    while i < end and not m.QUOTE_LINE.match(lines[i]):
        i += 1
        if i - start > MAX_JOIN + 1:
            return None  # the history is not '>'-quoted: it runs to the end
    while i < end and (not lines[i].strip() or m.QUOTE_LINE.match(lines[i])):
        i += 1
    return i if i < end else None


def _cut_signature(head: list[str]) -> tuple[list[str], list[str], list[str]]:
    """(new text, signature, text after a mobile tagline) of the part above the history.

    A tagline ends what the author typed on the phone; some clients put the original right
    under it, without any marker, so what follows it counts as quoted.
    """
    footer = _footer_rule(head)
    for i, line in enumerate(head[: min(footer, MAX_SCAN_LINES)]):
        if line.rstrip() == "--":  # RFC 3676 "-- ", often with its trailing space lost
            return head[:i], head[i:], []
        if _is_tagline(line.strip()):
            return head[:i], [line], head[i + 1 :]
    return head[:footer], head[footer:], []


def _footer_rule(head: list[str]) -> int:
    """Index of a mailing-list footer rule ('____' then a few lines) near the end, else len."""
    seen = 0
    for i in range(len(head) - 1, max(-1, len(head) - MAX_SCAN_LINES), -1):
        if m.FOOTER_RULE.match(head[i]):  # a footer follows new text and has lines of its own
            return i if seen and any(line.strip() for line in head[:i]) else len(head)
        if head[i].strip():
            seen += 1
            if seen > FOOTER_LINES:
                break
    return len(head)


def _is_tagline(stripped: str) -> bool:
    """'Sent from my iPhone', not 'Sent from my desk, which is easier than my phone.'"""
    match = m.TAGLINE.match(stripped) if len(stripped) <= 160 else None
    if match is None:
        return False
    rest = m.TRAILING_LINK.sub("", match.group(1)).rstrip(".").strip()
    words = rest.split()
    if not 1 <= len(words) <= 7 or len(rest) > 60 or "," in rest:
        return False
    return all(
        w.lower() in m.DEVICE_WORDS or any(c.isupper() or c.isdigit() for c in w) for w in words
    )
