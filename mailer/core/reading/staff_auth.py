"""Is this mail a staff member's, so that its keywords may run? (standards G 125-130)

On the staff list: From is exactly one valid address, listed or of a listed domain. Trusted:
listed, and, when ``[staff] authserv_id`` is set, DMARC or aligned DKIM passed in the
Authentication-Results our own server wrote (``authres``). Automatic mail never gets here:
the pipeline only asks about mail a person wrote.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailer.core.reading import authres
from mailer.model import ParsedMessage
from mailer.settings import StaffSettings


@dataclass(frozen=True)
class StaffCheck:
    listed: bool  # From is on the staff list
    trusted: bool  # ... and the mail proved it (or no proof is configured)
    reason: str  # for the log


NOT_STAFF = StaffCheck(False, False, "not on the staff list")


def check_staff(msg: ParsedMessage, staff: StaffSettings) -> StaffCheck:
    sender = msg.sender
    if sender is None or not staff.lists(sender.key):
        return NOT_STAFF
    if staff.authserv_id is None:
        return StaffCheck(True, True, "on the staff list (From not verified: no authserv_id)")
    verdict = authres.authenticate(msg.headers, sender.domain, staff.authserv_id)
    return StaffCheck(True, verdict.passed, verdict.reason)
