"""Text helpers for hostile input: charset fallbacks, RFC 2047 words, HTML to text, cleanup.

Everything here is total: it returns a string for any input and never raises, because a
message we cannot decode must still be processed (and its defects recorded), not crash a run.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from html.parser import HTMLParser

from mailer.core.reading.html_input import complete_tags

# C0 controls (except TAB/LF/CR, which callers turn into spaces or newlines), DEL, C1
# controls and the Unicode line/paragraph separators: none belongs in a one-line value.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufeff]")
_SPACES = re.compile(r"\s+")
_SURROGATE = re.compile("[\ud800-\udfff]")
# RFC 2047 encoded-word, leniently: RFC 2231 language suffix, and spaces inside the text
# (some broken encoders write them) as long as the word is closed on the same line.
_ENCODED_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?\r\n]*?)\?=")
_SINGLE_BYTE = re.compile(r"^(ascii|iso8859-\d+|latin-?1|cp125\d)$")
_CHARSET_ALIASES = {
    "utf8": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
    "x-unknown": "utf-8",
    "unknown-8bit": "utf-8",
    "x-user-defined": "windows-1252",
    "ks_c_5601-1987": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "iso-8859-8-i": "iso-8859-8",
    "ansi_x3.4-1968": "ascii",
    "646": "ascii",
}


def one_line(value: str) -> str:
    """Collapse ``value`` to one line: controls removed, all whitespace runs become one space.

    This is what stops header injection: no CR/LF survives, whatever the sender encoded.
    """
    return _SPACES.sub(" ", _CONTROLS.sub("", value.replace("\x00", ""))).strip()


def clean_text(value: str) -> str:
    """Normalise a body: LF line ends, no controls except TAB/LF, no trailing blank lines."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = _CONTROLS.sub("", value)
    return value.strip("\n")


def normalize_charset(charset: str | None) -> str | None:
    """The Python codec name for a declared charset, or None when it is unusable."""
    if not charset:
        return None
    name = charset.strip().strip("\"'").lower()
    name = _CHARSET_ALIASES.get(name, name)
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError, TypeError):
        return None
    # Codecs such as base64 or rot13 are not text encodings: a "charset" naming them lies.
    if not getattr(info, "_is_text_encoding", True):
        return None
    return info.name


def decode_bytes(data: bytes, charset: str | None = None) -> str:
    """Decode with the declared charset, then UTF-8, then cp1252, then Latin-1 (never fails).

    A valid UTF-8 byte string declared as a single-byte Western charset is decoded as UTF-8:
    mislabelled UTF-8 is common and real Latin-1 text is almost never valid UTF-8.
    """
    codec = normalize_charset(charset)
    if codec and _SINGLE_BYTE.match(codec) and not data.isascii():
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    for name in (codec, "utf-8", "cp1252"):
        if name:
            try:
                return _no_surrogates(data.decode(name))
            except (UnicodeDecodeError, LookupError, ValueError, TypeError):
                continue
    return data.decode("latin-1")


def _no_surrogates(text: str) -> str:
    """UTF-7 and UTF-16 can decode to lone surrogates, which no encoder will write back."""
    if _SURROGATE.search(text) is None:
        return text
    return _SURROGATE.sub("\ufffd", text)


def raw_header_text(value: str) -> str:
    """A header value as the parser gave it (8-bit bytes smuggled as surrogates) to text."""
    try:
        return decode_bytes(value.encode("ascii", "surrogateescape"))
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value.encode("utf-8", "replace").decode("utf-8")


def _word_bytes(encoding: str, text: str) -> bytes:
    try:
        if encoding in "bB":
            data = re.sub(r"[^A-Za-z0-9+/]", "", text)
            if len(data) % 4 == 1:
                data = data[:-1]
            return base64.b64decode(data + "=" * (-len(data) % 4))
        return binascii.a2b_qp(text.encode("ascii", "replace"), header=True)
    except (binascii.Error, ValueError):
        return text.encode("ascii", "replace")


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded-words leniently; text outside them is kept as it is.

    Adjacent words in the same charset are joined *before* decoding, because encoders split
    multi-byte characters across words; whitespace between adjacent words is dropped.
    """
    value = raw_header_text(value)
    if "=?" not in value:
        return value
    out: list[str] = []
    pending: list[bytes] = []
    pending_charset: str | None = None
    pos = 0

    def flush() -> None:
        nonlocal pending_charset
        if pending:
            out.append(decode_bytes(b"".join(pending), pending_charset))
            pending.clear()
        pending_charset = None

    for match in _ENCODED_WORD.finditer(value):
        between = value[pos : match.start()]
        if between and not (pending and between.isspace()):
            flush()
            out.append(between)
        charset = match.group(1).lower()
        if pending and charset != pending_charset:
            flush()
        pending_charset = charset
        pending.append(_word_bytes(match.group(2), match.group(3)))
        pos = match.end()
    flush()
    out.append(value[pos:])
    return "".join(out)


# Outlook's reply separator in HTML becomes the line Outlook writes there in plain text.
_SEPARATOR = "_" * 32
_OUTLOOK_IDS = frozenset({"divrplyfwdmsg", "appendonsend", "stopspelling"})
_OUTLOOK_RULE = re.compile(  # the rule drawn above the From:/Sent: block
    r"border-top:solid#(?:e1e1e1|b5c4df)|border-top-color:rgb\(229,229,229\)"
)
_HTML_SPACE = re.compile(r"[ \t\n\r\f\v]+")  # not NBSP, which HTML does not collapse


def _style(attrs: dict[str, str | None]) -> str:
    return re.sub(r"\s+", "", (attrs.get("style") or "").lower())


def _cites(attrs: dict[str, str | None]) -> bool:
    """Whether a <blockquote> quotes a message; Gmail/Outlook 'indent' uses one without a border."""
    if (attrs.get("type") or "").lower() == "cite" or "quote" in (attrs.get("class") or "").lower():
        return True
    style = _style(attrs)
    return not ("border:none" in style and "border-left" not in style)


class _TextExtractor(HTMLParser):
    """Lays text out roughly as a browser shows it, one line per rendered line.

    Blocks start a new line; ``<p>`` and headings also leave a blank line, except Outlook's
    ``MsoNormal`` paragraphs (its CSS removes their margin, so they are lines); ``<br>`` always
    breaks; source whitespace collapses to one space. Lines inside a citing ``<blockquote>`` get
    one "> " per level, so HTML replies split by the same rules as plain-text ones.
    """

    _BLOCK = frozenset({
        "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "footer",
        "form", "header", "hr", "li", "ol", "pre", "section", "table", "tbody", "thead",
        "tfoot", "tr", "ul",
    })  # fmt: skip
    _PARAGRAPH = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6"})
    _VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "wbr", "col", "area", "base"})
    _HIDDEN = frozenset({"script", "style", "head", "title", "template", "noscript"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[tuple[int, str]] = []  # (quote depth, text) of finished lines
        self.current: list[str] = []
        self.current_depth = self.depth = self.hidden = self.pre = 0
        self.quotes: list[bool] = []  # open blockquotes: does each one cite?
        # Does the open paragraph leave blank lines around it, and how many lines came before?
        self.gap, self.opened_at, self.blank_pending = True, 0, False

    def _add(self, text: str) -> None:
        if not self.current:
            self._pending_blank()
            self.current_depth = self.depth
        self.current.append(text)

    def _pending_blank(self) -> None:
        """A paragraph's blank line, unless a quote boundary already separates the lines."""
        last = self.lines[-1] if self.lines else (-1, "")
        if self.blank_pending and last[1].strip() and last[0] == self.depth:
            self.lines.append((self.depth, ""))
        self.blank_pending = False

    def _break(self, hard: bool = False) -> None:
        """End the line; a hard break (``<br>``) ends it even when it is empty."""
        if hard and not self.current:
            self.blank_pending, self.current_depth = False, self.depth
        if hard or self.current:
            self.lines.append((self.current_depth, "".join(self.current)))
            self.current = []

    def _separator(self) -> None:
        self._break()
        if _SEPARATOR not in (text for _, text in self.lines[-3:]):
            self._pending_blank()
            self.lines.append((self.depth, _SEPARATOR))
        self.blank_pending = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self.hidden += 1
            return
        values = dict(attrs)
        outlook = (values.get("id") or "").lower() in _OUTLOOK_IDS or (
            (tag == "hr" and values.get("tabindex") == "-1")
            or (tag == "div" and _OUTLOOK_RULE.search(_style(values)) is not None)
        )
        if tag == "br":
            self._break(hard=True)
        elif outlook and tag in ("hr", "div"):
            self._separator()
        elif tag == "blockquote":
            self._break()
            self.quotes.append(_cites(values))
            self.depth += self.quotes[-1]
        elif tag in self._PARAGRAPH:
            self._break()
            self.gap = tag != "p" or "msonormal" not in (values.get("class") or "").lower()
            self.blank_pending = self.gap
            self.opened_at = len(self.lines)
        elif tag in self._BLOCK:
            self._break()
            self.pre += tag == "pre"
        elif tag in ("td", "th") and self.current:
            self.current.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in self._VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag == "blockquote":
            self._break()
            self.depth -= self.quotes.pop() if self.quotes else 0
        elif tag in self._PARAGRAPH:
            if not (self.gap or self.current or len(self.lines) > self.opened_at):
                self._break(hard=True)  # Outlook renders with Word: an empty paragraph is a line
            self._break()
            self.blank_pending = self.gap
        elif tag in self._BLOCK:
            self._break()
            self.pre = max(0, self.pre - (tag == "pre"))

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        for number, part in enumerate(data.split("\n") if self.pre else [data]):
            if number:
                self._break(hard=True)
            part = part if self.pre else _HTML_SPACE.sub(" ", part)
            if self.current or part.strip(" \t\r\f\v"):  # keep NBSP: "&nbsp;" is a line
                self._add(part)

    def text(self) -> str:
        """The finished lines: spaces collapsed, one "> " per quote level, no repeated blanks."""
        self._break()
        out: list[str] = []
        for depth, raw in self.lines:
            body = _SPACES.sub(" ", raw.replace("\xa0", " ")).strip()
            line = "> " * depth + body if body else ("> " * depth).rstrip()
            if body or not out or out[-1] != line:
                out.append(line)
        return "\n".join(out).strip()


def html_to_text(html: str) -> str:
    """Readable text of an HTML body; quoted history (``<blockquote>``) as "> " lines."""
    parser = _TextExtractor()
    try:
        parser.feed(complete_tags(html))  # HTMLParser is quadratic on unfinished tags
        parser.close()
        return parser.text()
    except Exception:  # HTMLParser has raised on hostile markup in some versions
        text = re.sub(r"<[^<>]*>", " ", html)
    lines = (_SPACES.sub(" ", line.replace("\xa0", " ")).strip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
