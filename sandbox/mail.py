"""The sandbox's delivery log, and real-world mail readdressed for the acceptance checks."""

from __future__ import annotations

import re
from datetime import datetime

from mailer.core.writing.readdress import readdressed as prepare_acceptance
from mailer.core.writing.readdress import split_lines, to_crlf

__all__ = ["parse_deliveries", "prepare_acceptance", "split_lines", "to_crlf"]

_SAVE_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) lmtp\(([^)]+)\)(?:<[^>]*>)*: "
    r"Info: msgid=(.*?) size=\d+: saved mail to (.*)$"
)


def parse_deliveries(text: str) -> list[tuple[float, str, str, str]]:
    """(epoch, user, message-id, mailbox) for every LMTP save line of Dovecot's log.

    Session ids gain a ``:T2`` … suffix when one LMTP session delivers several messages,
    hence the lenient ``<...>`` groups.
    """
    out = []
    for line in text.splitlines():
        match = _SAVE_LINE.match(line)
        if match:
            stamp = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
            out.append((stamp, match.group(2), match.group(3), match.group(4)))
    return out
