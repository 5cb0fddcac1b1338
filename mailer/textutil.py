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

# C0 controls (except TAB/LF/CR, which callers turn into spaces or newlines), DEL, C1
# controls and the Unicode line/paragraph separators: none belongs in a one-line value.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufeff]")
_SPACES = re.compile(r"\s+")
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
                return data.decode(name)
            except (UnicodeDecodeError, LookupError, ValueError, TypeError):
                continue
    return data.decode("latin-1")


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


class _TextExtractor(HTMLParser):
    """Collects visible text; block elements become line breaks, scripts/styles vanish."""

    _BLOCK = frozenset({
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "footer",
        "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "ol", "p", "pre",
        "section", "table", "tbody", "thead", "tfoot", "tr", "ul",
    })  # fmt: skip
    _HIDDEN = frozenset({"script", "style", "head", "title", "template", "noscript"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self.hidden += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Readable text of an HTML body: tags, scripts and styles stripped, entities decoded."""
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
        text = "".join(parser.parts)
    except Exception:  # HTMLParser has raised on hostile markup in some versions
        text = re.sub(r"<[^>]*>", " ", html)
    lines = (_SPACES.sub(" ", line.replace("\xa0", " ")).strip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
