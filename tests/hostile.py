"""Hostile message shapes (issue 11), built the same way by unit tests, integration tests and
``bench/limits.py``, so the README's resource table measures what the tests check.

Each is an ordinary request (From Alice, To the shared address, Subject "Printer broken")
made hostile by one thing only: a huge Cc, deep MIME nesting, a huge body.
"""

from __future__ import annotations

SHARED = "helpdesk@example.test"
SENDER = "alice@example.test"
TEXT = "The printer on floor 2 prints only blank pages since Monday."
MB = 1024 * 1024


def _head(n: str, extra: str = "") -> str:
    return (
        f"From: Alice Johnson <{SENDER}>\r\nTo: {SHARED}\r\n{extra}"
        f"Subject: Printer broken\r\nMessage-ID: <hostile-{n}@example.test>\r\n"
        "Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
    )


def big_cc(addresses: int, tag: str = "cc") -> bytes:
    """A request whose Cc: names ``addresses`` people (400,000 make 20 MB), folded."""
    cc = ",\r\n ".join(f"Colleague {i} <colleague{i}@example.test>" for i in range(addresses))
    body = f"Content-Type: text/plain; charset=utf-8\r\n\r\n{TEXT}\r\n"
    return (_head(f"{tag}-{addresses}", f"Cc: {cc}\r\n") + body).encode()


def deep_mime(levels: int, tag: str = "deep") -> bytes:
    """The request's text/plain part inside ``levels`` nested multipart/mixed."""
    out = [_head(f"{tag}-{levels}")]
    for i in range(levels):
        out.append(f'Content-Type: multipart/mixed; boundary="level{i}"\r\n\r\n--level{i}\r\n')
    out.append(f"Content-Type: text/plain; charset=utf-8\r\n\r\n{TEXT}\r\n")
    out += [f"--level{i}--\r\n" for i in reversed(range(levels))]
    return "".join(out).encode()


def big_text(size: int, tag: str = "text") -> bytes:
    """A plain-text request of about ``size`` bytes (its first line is the real request)."""
    line = "The printer on floor 2 prints only blank pages, again and again, since Monday.\r\n"
    body = f"{TEXT}\r\n" + line * (size // len(line))
    head = _head(f"{tag}-{size}") + "Content-Type: text/plain; charset=utf-8\r\n\r\n"
    return (head + body).encode()


def big_attachment(size: int, tag: str = "file") -> bytes:
    """The request with a base64 attachment of about ``size`` bytes (as sent)."""
    boundary = "file-boundary"
    line = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n"
    data = line * (size // len(line))
    return (
        _head(f"{tag}-{size}")
        + f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
        + f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{TEXT}\r\n"
        + f'--{boundary}\r\nContent-Type: application/pdf; name="scan.pdf"\r\n'
        + 'Content-Disposition: attachment; filename="scan.pdf"\r\n'
        + f"Content-Transfer-Encoding: base64\r\n\r\n{data}--{boundary}--\r\n"
    ).encode()


def unfinished_html(repeats: int, tag: str = "html") -> bytes:
    """An HTML-only request whose markup has ``repeats`` tags that never close ('<a ')."""
    html = f"<html><body><p>{TEXT}</p>" + "<a " * repeats
    head = _head(f"{tag}-{repeats}") + "Content-Type: text/html; charset=utf-8\r\n\r\n"
    return (head + html + "\r\n").encode()


def many_parts(count: int, tag: str = "parts") -> bytes:
    """The request's text, then ``count`` tiny image parts."""
    parts = "".join(f"--m\r\nContent-Type: image/gif\r\n\r\nx{i}\r\n" for i in range(count))
    return (
        _head(f"{tag}-{count}")
        + 'Content-Type: multipart/mixed; boundary="m"\r\n\r\n'
        + f"--m\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{TEXT}\r\n{parts}--m--\r\n"
    ).encode()


def many_fields(count: int, tag: str = "fields") -> bytes:
    """``count`` short X- header fields between the request's headers and its body."""
    fields = "".join(f"X-Field-{i}: value {i}\r\n" for i in range(count))
    body = f"Content-Type: text/plain; charset=utf-8\r\n\r\n{TEXT}\r\n"
    return (_head(f"{tag}-{count}") + fields + body).encode()
