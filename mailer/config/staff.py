"""The [staff] and [workflow] sections: who may run status keywords, and how requests move.

``[staff]`` is written by tools outside mailer too, so it takes exactly the documented keys
(addresses, domains, authserv_id). Keywords are a table of action -> words, so a language is
added by adding words.
"""

from __future__ import annotations

import re
from typing import Any

from mailer.config import values as v
from mailer.config.tables import Table
from mailer.config.values import Invalid
from mailer.core.deciding.commands import normalize
from mailer.settings import DEFAULT_KEYWORDS, StaffSettings, WorkflowSettings

STAFF_KEYS = ("addresses", "domains", "authserv_id")
WORKFLOW_KEYS = ("reopen_days", "forward_attachments", "keywords", "status_headers")
ACTIONS = tuple(action for action, _ in DEFAULT_KEYWORDS)
FORGEABLE = (
    "staff commands are trusted on the From address alone, which anyone can forge; "
    'set authserv_id to the server that writes Authentication-Results (or "microsoft365")'
)


def _lower(convert: v.Convert[str]) -> v.Convert[str]:
    return lambda value: convert(value).lower()


def read_staff(table: Table) -> StaffSettings | None:
    out: dict[str, Any] = {}
    table.fill(out, "addresses", v.listing(_lower(v.address)))
    table.fill(out, "domains", v.listing(v.domain))
    table.fill(out, "authserv_id", _authserv_id)
    staff = StaffSettings(**out)
    if staff.configured and not staff.authserv_id:
        table.problem("addresses" if staff.addresses else "domains", FORGEABLE, warning=True)
    return staff if table.ok else None


def _authserv_id(value: object) -> str:
    found = v.string(value).strip()
    if not found or any(c.isspace() or c in ';()"' for c in found):
        raise v.expected('a server name like "mx.example.org", or "microsoft365"', value)
    return found.lower()


def read_workflow(table: Table) -> WorkflowSettings | None:
    out: dict[str, Any] = {}
    table.fill(out, "reopen_days", v.integer(0, 3650))
    table.fill(out, "forward_attachments", v.boolean)
    table.fill(out, "status_headers", v.listing(_header_name))
    raw = table.data.get("keywords")
    if raw is not None:
        out["keywords"] = _read_keywords(table, raw)
    return WorkflowSettings(**out) if table.ok else None


def _header_name(value: object) -> str:
    found = v.string(value).strip().rstrip(":")
    if not found or not all(c.isalnum() or c in "-_" for c in found):
        raise v.expected('a word such as "Status"', value)
    return found


def _read_keywords(table: Table, raw: object) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Given actions replace their default words; the others keep the defaults."""
    if not isinstance(raw, dict):
        table.problem("keywords", f"expected a table of action = [words], got {v.describe(raw)}")
        return DEFAULT_KEYWORDS
    sub = Table(table.report, (*table.keypath, "keywords"), raw, table.section, ACTIONS)
    words = dict(DEFAULT_KEYWORDS)
    for action in ACTIONS:
        if action in raw:
            words[action] = sub.get(action, v.listing(_keyword), words[action])
    owner: dict[str, str] = {}  # normalised word -> the action it belongs to
    for action, given in sorted(words.items(), key=lambda item: item[0] in raw):
        for word in given:
            other = owner.get(normalize(word))
            if other is not None and action in raw:
                where = "twice in this list" if other == action else f"also a keyword of {other}"
                sub.problem(action, f"'{word}' is {where}")
            owner[normalize(word)] = action
    table.ok = table.ok and sub.ok
    return tuple(words.items())


def _keyword(value: object) -> str:
    word = v.string(value).strip()
    if not re.match(r"#[^\W\d_]", word) or len(normalize(word)) < 2 or " " in word:
        raise Invalid(f'expected a keyword like "#resolved", got {v.describe(value)}')
    return word
