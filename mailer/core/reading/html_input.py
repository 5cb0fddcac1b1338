"""HTML made safe to feed to ``html.parser``: every ``<`` it sees opens a tag that closes.

CPython's HTMLParser (3.11) scans the rest of the document again for each ``<`` that starts
a tag it cannot finish: ``<a `` 4,000 times (12 KB) takes a second, 20,000 times (60 KB) half
a minute, 80,000 times (240 KB, well under the 1 MB we convert) several minutes. Here one
pass that never looks back, as a browser's tokenizer reads: a ``<`` and a letter (or
``/ ! ?``) open a tag that ends at the first ``>`` outside a quoted attribute value (which
may hold ``<`` and ``>``: ``href="mailto:<a@b>"``); a tag or comment that never ends hides
the rest, as in a browser; any other ``<`` is text and becomes ``&lt;``, which the parser
reads back as the same text.
"""

from __future__ import annotations

import re

__all__ = ["complete_tags"]

# Atomic and possessive: an attempt never backtracks, so it fails only at the end of the text.
_TAG_START = re.compile(r"<[A-Za-z/!?]")
_TAG = re.compile(r"""<[A-Za-z/!?](?>[^>="']++|=\s*+"[^"]*+"|=\s*+'[^']*+'|[="'])*+>""")


def complete_tags(html: str) -> str:
    """``html`` with every ``<`` that does not open a complete tag or comment escaped."""
    out: list[str] = []
    pos = 0
    while (lt := html.find("<", pos)) >= 0:
        out.append(html[pos:lt])
        if html.startswith("<!--", lt):
            end = html.find("-->", lt + 4)
            if end < 0:
                return "".join(out)
            out.append(html[lt : end + 3])
            pos = end + 3
            continue
        if _TAG_START.match(html, lt):
            tag = _TAG.match(html, lt)
            if tag is None:
                return "".join(out)
            out.append(tag.group())
            pos = tag.end()
            continue
        out.append("&lt;")
        pos = lt + 1
    out.append(html[pos:])
    return "".join(out)
