"""One request's story for people and scripts: ``mailer thread REF [--json]``.

Messages in and out and every stored step (status, owner, note, rating) merged in time
order, oldest first. Reads the store only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from mailer.core.timing.clocks import standings_of
from mailer.core.timing.promises import calendar_named
from mailer.core.writing.due import iso_local
from mailer.model import ThreadInfo
from mailer.settings import Settings
from mailer.store import Store


def _iso(at: float | None) -> str | None:
    if at is None:
        return None
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="seconds")


def timeline(
    store: Store, reference: str, *, settings: Settings | None = None, now: float = 0.0
) -> dict[str, Any] | None:
    """The request as one JSON-ready object, or None when the reference is unknown.

    With ``settings``, its promise too: each target's due time in the team's time zone
    (ISO 8601 with offset) and where it stands at ``now`` (met, missed, running, overdue,
    paused)."""
    thread = store.thread_by_reference(reference.strip().strip("[]"))
    if thread is None:
        return None
    items: list[tuple[float, int, dict[str, Any]]] = []
    inbound: dict[str, int] = {}  # message key -> row id: a step sorts after its mail
    for m in store.thread_messages(thread.id):
        entry: dict[str, Any] = {
            "at": _iso(m.at),
            "kind": "message_in" if m.direction == "in" else "message_out",
            "who": m.sender,
            "subject": m.subject,
            "what": m.reason,
            "message_id": m.key,
        }
        if m.direction == "in":
            inbound[m.key] = m.id
        items.append((m.at, 2 * m.id, entry))
    for e in store.events(thread.id):
        entry = {
            "at": _iso(e.at),
            "kind": e.kind,
            "who": e.actor,
            "keyword": e.keyword,
            "from": e.from_status,
            "to": e.to_status,
            "owner": e.owner,
            "note": e.note,
            "internal": e.internal,
        }
        cause = inbound.get(e.message_key or "")
        order = 2 * cause + 1 if cause is not None else 1 << 40
        items.append((e.at, order, {k: v for k, v in entry.items() if v is not None}))
    items.sort(key=lambda item: (item[0], item[1]))
    return {
        "ref": thread.reference,
        "status": thread.status.value,
        "owner": thread.owner,
        "requester": thread.requester,
        "requester_name": thread.requester_name,
        "subject": thread.subject,
        "team": thread.team,
        "category": thread.category,
        "priority": thread.priority,
        "language": thread.language,
        "opened": _iso(thread.created_at),
        "first_response": _iso(thread.first_response_at),
        "resolved": _iso(thread.resolved_at),
        "rating": thread.rating,
        "continues": thread.parent_reference,
        "promise": _promise(thread, settings, now) if settings is not None else None,
        "events": [entry for _, _, entry in items],
    }


def _promise(thread: ThreadInfo, settings: Settings, now: float) -> dict[str, Any] | None:
    if not thread.promise.any:
        return None
    calendar = calendar_named(settings, thread.promise.calendar)
    found = standings_of(thread, now)
    out: dict[str, Any] = {"calendar": thread.promise.calendar}
    for key, standing in found.items():
        out[key] = {
            "target": standing.target,
            "due": iso_local(standing.due, calendar),
            "state": standing.state,
        }
    paused = thread.promise.paused_at
    out["paused_since"] = iso_local(paused, calendar) if paused is not None else None
    return out


def render_text(story: dict[str, Any]) -> str:
    """The same story as lines a person reads in a terminal."""
    lines = [
        f"{story['ref']}  {story['status']}  {story['subject']}",
        f"requester: {_person(story['requester_name'], story['requester'])}",
        f"team: {story['team'] or '-'}  category: {story['category']}  "
        f"priority: {story['priority']}  owner: {story['owner'] or '-'}",
        f"opened: {story['opened']}  first response: {story['first_response'] or '-'}  "
        f"resolved: {story['resolved'] or '-'}  rating: {story['rating'] or '-'}",
    ]
    if story["continues"]:
        lines.append(f"continues: {story['continues']}")
    promise = story.get("promise")
    for key in ("first_response", "resolution"):
        if promise and promise.get(key):
            due = promise[key]
            label = key.replace("_", " ")
            lines.append(f"{label}: {due['target']}, due {due['due']} ({due['state']})")
    if promise and promise.get("paused_since"):
        lines.append(f"paused since {promise['paused_since']} (waiting for the requester)")
    lines.append("")
    for e in story["events"]:
        lines.append(f"{e['at']}  {_describe(e)}")
        if e.get("note"):
            label = "internal note" if e.get("internal") else "note"
            for i, text in enumerate(str(e["note"]).splitlines()[:20]):
                lines.append(f"{'':22}{label + ': ' if i == 0 else '  ' + ' ' * len(label)}{text}")
    return "\n".join(lines)


def _person(name: str, address: str) -> str:
    return f"{name} <{address}>" if name else address


def _describe(e: dict[str, Any]) -> str:
    kind = e["kind"]
    if kind == "message_in":
        return f"<- {e['who']}: {e.get('subject') or ''}  [{e.get('what')}]"
    if kind == "message_out":
        return f"-> {e.get('what')}: {e.get('subject') or ''}"
    if kind == "status":
        return f"{e['who']} {e.get('keyword') or ''}: {e.get('from')} -> {e.get('to')}"
    if kind == "owner":
        return f"{e['who']} {e.get('keyword') or ''}: owner {e.get('owner')}"
    if kind == "opened":
        return f"opened by {e['who']} ({e.get('to')})"
    if kind == "sla":
        return f"promise: {e.get('keyword')}"
    return f"{e['who']}: {kind}"
