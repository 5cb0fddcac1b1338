"""RFC 2047 encoded-words read the way robots write them, for the robot checks.

``text.decode_words`` decodes what well-behaved clients write. Robots (gateways, list
servers, old MTAs) also write words a strict reader leaves encoded, so no subject rule sees
"Delivery failure": base64 padded in the middle (``RGVsaXZlcnk=IGZhaWx1cmU=``), an encoding
named ``base64`` or not at all, a word cut before its ``?=``, a charset nobody knows. This
module reads those too. It is total (a string for any input, never an exception) and linear
in the length of the value.

``readable`` gives the robot checks a message whose subject and headers are read this way;
the rest of mailer keeps the strict reading (a requester's subject shown back to them).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re

from mailer.core.reading.text import decode_bytes, normalize_charset, one_line
from mailer.model import Address, ParsedMessage

__all__ = ["b_bytes", "decode_lenient", "q_bytes", "readable"]

# charset, optional *language (RFC 2231), any encoding token, the text; closed by "?=", or
# by a lone "?" or the end of the value (a word cut short). The text never holds a "?", so
# every attempt stops at the next one: linear.
_WORD = re.compile(
    r"=\?(?P<charset>[^?\s]{1,60})\?(?P<encoding>[^?\s]{1,20})\?(?P<text>[^?]*)(?:\?=|\?|$)"
)
_B64_ALPHABET = re.compile(r"[^A-Za-z0-9+/]")
_B64_LIKE = re.compile(r"[A-Za-z0-9+/]{4,}={0,2}")
_PADDING = re.compile(r"=+")
_B_NAMES = frozenset({"b", "base64", "b64", "base-64"})
_Q_NAMES = frozenset({"q", "qp", "quoted-printable", "quotedprintable"})


def b_bytes(text: str) -> bytes:
    """Base64 whatever the padding: a run of ``=`` ends a chunk (encoders that pad each
    piece and glue them together), each chunk is padded on its own, stray characters go."""
    text = text.replace("-", "+").replace("_", "/")  # the URL-safe alphabet, seen in the wild
    out = bytearray()
    for chunk in _PADDING.split(text):
        data = _B64_ALPHABET.sub("", chunk)
        if len(data) % 4 == 1:  # one sextet is no byte
            data = data[:-1]
        try:
            out += base64.b64decode(data + "=" * (-len(data) % 4))
        except (binascii.Error, ValueError):  # not reachable with the alphabet above
            continue
    return bytes(out)


def q_bytes(text: str) -> bytes:
    """Quoted-printable in a header: ``_`` is a space, a broken ``=XY`` stays as written."""
    try:
        return binascii.a2b_qp(text.encode("utf-8", "replace"), header=True)
    except (binascii.Error, ValueError):
        return text.encode("utf-8", "replace")


def _is_base64(encoding: str, text: str, charset: str) -> bool:
    name = encoding.lower()
    if name in _B_NAMES or name in _Q_NAMES:
        return name in _B_NAMES
    # An encoding nobody names: the reading that decodes better, base64 on a tie if it looks so.
    as_b, as_q = _quality(b_bytes(text), charset), _quality(q_bytes(text), charset)
    return as_b > as_q or (as_b == as_q and _B64_LIKE.fullmatch(text) is not None)


_NOISE = re.compile("[\ufffd\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _words_text(words: list[tuple[bool, str]], charset: str | None) -> str:
    """Adjacent words of one charset as text. Base64 split mid-quartet across words only
    decodes joined, base64 unpadded word by word only apart: the reading with less noise wins."""
    apart = b"".join(b_bytes(t) if b64 else q_bytes(t) for b64, t in words)
    if all(not b64 or len(_B64_ALPHABET.sub("", t)) % 4 == 0 for b64, t in words):
        return decode_bytes(apart, charset)
    joined: list[bytes] = []
    run: list[str] = []
    for b64, text in [*words, (False, "")]:
        if b64:
            run.append(text)
            continue
        if run:
            joined.append(b_bytes("".join(run)))
            run.clear()
        joined.append(q_bytes(text))
    together = b"".join(joined)
    better = _quality(together, charset) > _quality(apart, charset)
    return decode_bytes(together if better else apart, charset)


def _quality(data: bytes, charset: str | None) -> tuple[bool, int]:
    """Does ``data`` decode in its charset (else UTF-8) as it stands, and with how little noise."""
    try:
        data.decode(normalize_charset(charset) or "utf-8")
        strict = True
    except (UnicodeDecodeError, LookupError):
        strict = False
    return strict, -len(_NOISE.findall(decode_bytes(data, charset)))


def decode_lenient(value: str) -> str:
    """``value`` with every encoded-word decoded as well as it can be; the rest as it is.

    Adjacent words are joined before decoding when their charsets agree (encoders split
    multi-byte characters across words), and the whitespace between them goes (RFC 2047 §6.2).
    """
    if "=?" not in value:
        return value
    out: list[str] = []
    pending: list[tuple[bool, str]] = []
    charset: str | None = None
    pos = 0

    def flush() -> None:
        if pending:
            out.append(_words_text(pending, charset))
            pending.clear()

    for match in _WORD.finditer(value):
        between = value[pos : match.start()]
        word_charset = match.group("charset").partition("*")[0].lower()
        if between and not (pending and between.isspace()):
            flush()
            out.append(between)
        elif pending and word_charset != charset:
            flush()
        charset = word_charset
        text = match.group("text")
        pending.append((_is_base64(match.group("encoding"), text, word_charset), text))
        pos = match.end()
    flush()
    out.append(value[pos:])
    return "".join(out)


def _again(value: str) -> str:
    """A value the strict reading already decoded; what it left encoded, read leniently."""
    return one_line(decode_lenient(value)) if "=?" in value else value


def readable(msg: ParsedMessage) -> ParsedMessage:
    """``msg`` as the robot checks read it: subject, headers and display names leniently
    decoded. The subject is decoded again from the raw header, because a strict reader may
    have turned a badly padded word into noise rather than leaving it encoded."""
    subject = msg.subject
    if msg.raw_subject is not None and "=?" in msg.raw_subject:
        subject = one_line(decode_lenient(msg.raw_subject))
    headers = tuple((name, _again(value)) for name, value in msg.headers)
    senders = tuple(Address(_again(a.name), a.addr) for a in msg.from_)
    if subject == msg.subject and headers == msg.headers and senders == msg.from_:
        return msg
    if subject != msg.subject:  # the first Subject header is the one the checks read
        index = next((i for i, (name, _) in enumerate(headers) if name == "subject"), None)
        if index is not None:
            headers = (*headers[:index], ("subject", subject), *headers[index + 1 :])
    return dataclasses.replace(msg, subject=subject, headers=headers, from_=senders)
