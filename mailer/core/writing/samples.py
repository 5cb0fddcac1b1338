"""Sample contexts of the workflow mails: the variables contract of their templates.

``mailer check`` renders every template with these, and the code that builds the real
contexts is tested to give exactly these keys. Pure data: one realistic request, seen at
the moment each mail is sent.
"""

from __future__ import annotations

from mailer.settings import DEFAULT_KEYWORDS

# Mails to the person who asked (text and HTML) and to the team (text only).
REQUESTER_TEMPLATES: tuple[str, ...] = (
    "answer",
    "rating_thanks",
    "status",
    "progress_in_progress",
    "progress_waiting",
    "progress_resolved",
    "progress_closed",
    "progress_reopened",
    "progress_update",
    "late_notice",
    "confirm",
)
STAFF_TEMPLATES: tuple[str, ...] = ("notify", "forward", "feedback")
# Mails to staff about several requests at once (text only): reminders and escalations, the
# daily digest. They list requests in ``items`` (or in groups) instead of naming one.
SUMMARY_TEMPLATES: tuple[str, ...] = ("due_notice", "digest")


def _common() -> dict[str, object]:
    """The keys every template gets; fresh lists on every call."""
    return {
        "service": "IT Help Desk",
        "service_address": "it-help@example.test",
        "signature": "The IT Help Desk team",
        "contacts": ["Phone: +39 02 1234 5678 (Mon-Fri, 9-17)", "Desk: 2nd floor, room 204"],
        "language": "en",
        "reference": "IT-1024",
        "subject": "The printer on the 2nd floor is jammed",
        "has_subject": True,
        "category": "hardware",
        "priority": "normal",
        "team": "IT Support",
        "status": "in_progress",
        "owner": "luca.bianchi@example.test",
        "owner_name": "Luca Bianchi",
        "requester": "maria.rossi@example.test",
        "requester_name": "Maria Rossi",
        "name": "Maria",
        "reopen_days": 14,
        "keywords": {action: list(words) for action, words in DEFAULT_KEYWORDS},
        "status_headers": ["Status", "Stato"],
        "opened_on": "2026-11-24",
    }


def _requester(**extra: object) -> dict[str, object]:
    """A mail to the requester about one staff mail's changes (progress, answer)."""
    base: dict[str, object] = {
        "previous_status": "acknowledged",
        "status_changed": True,
        "owner_changed": False,
        "note": "",
        "staff_name": "Luca Bianchi",
        "attachments": [],
        "reopened_by_requester": False,
    }
    return {**_common(), **base, **extra}


def _files() -> list[dict[str, str]]:
    return [
        {"name": "printer-display.jpg", "type": "image/jpeg", "size": "120 KB"},
        {"name": "error-log.txt", "type": "text/plain", "size": "3 KB"},
    ]


SAMPLE_CONTEXTS: dict[str, dict[str, object]] = {
    "progress_in_progress": _requester(
        owner_changed=True,
        note="I'm on my way with a new drum unit; give me twenty minutes.",
    ),
    "progress_waiting": _requester(
        status="waiting",
        previous_status="in_progress",
        note=(
            "Could you tell me the printer's asset number?\n"
            "It is on the white sticker at the back, next to the power switch."
        ),
    ),
    "progress_resolved": _requester(
        status="resolved",
        previous_status="in_progress",
        note=(
            "I replaced the drum unit and cleared the paper path.\n"
            "It has printed fifty test pages without a jam."
        ),
        attachments=["test-page.pdf"],
    ),
    "progress_closed": _requester(
        status="closed",
        previous_status="waiting",
        note="Facilities are replacing this printer next week, so there is nothing left to fix.",
    ),
    "progress_reopened": _requester(
        previous_status="resolved",
        staff_name="",
        reopened_by_requester=True,
    ),
    "progress_update": _requester(
        status_changed=False,
        previous_status="in_progress",
        owner_changed=True,
        owner="anna.verdi@example.test",
        owner_name="Anna Verdi",
        staff_name="Anna Verdi",
        note="Luca is out today, so I'm taking this over. I'll come by after lunch.",
    ),
    "answer": _requester(
        status_changed=False,
        previous_status="in_progress",
        note=(
            "Hi Maria, spare toner for that model is in the grey cabinet next to it.\n"
            "If the jam comes back, switch it off and on again and let me know."
        ),
        attachments=["toner-how-to.pdf"],
    ),
    "rating_thanks": {
        **_common(),
        "status": "resolved",
        "rating": "5/5",
        "rating_value": 5,
    },
    "status": {
        **_common(),
        "status": "waiting",
        "status_changed_on": "2026-11-25",
        "promise": [
            {"target": "first_response", "due": "Tuesday 24 November, 14:15", "state": "met"},
            {"target": "resolution", "due": "Thursday 26 November, 10:15", "state": "paused"},
        ],
    },
    "confirm": {
        **_common(),
        "asked": "close",  # or "reopen", "rating"
        "rating": "",  # the rating asked for, as written ("2/5"), when asked is "rating"
        "not_a_reply": True,  # else: a reply, but its sender was not authenticated
    },
    "notify": {
        **_common(),
        "previous_reference": None,
        "status": "acknowledged",
        "owner": None,
        "owner_name": "",
        "text": (
            "Hello,\n"
            "the printer on the 2nd floor (next to the kitchen) keeps jamming since this\n"
            "morning. I have tried opening the tray and taking the paper out, but after two\n"
            "pages it jams again. A photo of the display is attached.\n"
            "\n"
            "Thanks, Maria"
        ),
        "truncated": False,
        "files": _files(),
        "attached": False,
        "expectation": "We answer within a working day.",
        "rule": "printers",
        "received": "2026-11-24 10:15",
    },
    "forward": {
        **_common(),
        "event": "follow_up",
        "sender": "maria.rossi@example.test",
        "sender_name": "Maria Rossi",
        "text": "One more thing: it also shows error E-204 on the display.",
        "files": _files()[:1],
        "attached": True,
        "received": "2026-11-24 11:02",
    },
    "feedback": {
        **_common(),
        "done": [],
        "refused": [],
        "unknown": [{"word": "#resolvd", "suggestion": "#resolved"}],
        "problems": [],
        "missing_thread": False,
        "nothing_changed": True,
        "requester_told": False,
        "sender": "luca.bianchi@example.test",
    },
}

# A receipt's ``due`` when the request was promised something and came in on a Friday evening.
SAMPLE_DUE: dict[str, object] = {
    "first_response": "Wednesday 9 December, 11:00",
    "first_response_iso": "2026-12-09T11:00:00+01:00",
    "first_response_within": "within 4 working hours",
    "resolution": "Thursday 10 December, 16:00",
    "resolution_iso": "2026-12-10T16:00:00+01:00",
    "resolution_within": "within 2 working days",
    "back_at": "Wednesday 9 December, 08:30",
    "timezone": "Europe/Rome",
}


def _staff() -> dict[str, object]:
    """The keys of the promise mails to staff (``core.writing.notices.staff_context``)."""
    return {
        "service": "IT Help Desk",
        "service_address": "it-help@example.test",
        "signature": "The IT Help Desk team",
        "language": "en",
        "keywords": {action: list(words) for action, words in DEFAULT_KEYWORDS},
    }


def _item(reference: str, owner: str | None, **extra: object) -> dict[str, object]:
    return {
        "reference": reference,
        "subject": "The printer on the 2nd floor is jammed",
        "status": "in_progress" if owner else "acknowledged",
        "owner": owner,
        "requester": "maria.rossi@example.test",
        "requester_name": "Maria Rossi",
        "team": "it",
        "age_days": 2,
        **extra,
    }


SAMPLE_CONTEXTS["due_notice"] = {
    **_staff(),
    "items": [
        _item("IT-1024", None, kind="reminder", target="first_response",
              due="Wednesday 9 December, 11:00", overdue=False),
        _item("IT-1019", "luca.bianchi@example.test", kind="escalation", target="resolution",
              due="Tuesday 8 December, 16:00", overdue=True),
    ],
}  # fmt: skip
SAMPLE_CONTEXTS["digest"] = {
    **_staff(),
    "team": "IT Support",
    "day": "2026-12-09",
    "due_today": [_item("IT-1024", None)],
    "overdue": [_item("IT-1019", "luca.bianchi@example.test")],
    "unowned": [_item("IT-1024", None)],
    "waiting": [],
}
SAMPLE_CONTEXTS["late_notice"] = {
    **_common(),
    "target": "resolution",
    "due": "Tuesday 8 December, 16:00",
}
