"""What a report is computed from: each request with its counted steps, and the mail that
was not a request (robots suppressed, duplicates not processed again).

The store's rows become these values at the edge (``mailer.reports.gather``); a step keeps
no text: a rating's score and an SLA verdict's target are read out of it there.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailer.model import OPEN_STATUSES, Status

DONE = (Status.RESOLVED, Status.CLOSED)


@dataclass(frozen=True)
class Step:
    """One stored event of a request that reports count (``kind``: opened, status, rating,
    sla)."""

    at: float
    kind: str
    keyword: str | None = None  # sla: met, missed, paused, resumed, new_cycle
    from_status: Status | None = None
    to_status: Status | None = None
    target: str | None = None  # sla: first_response or resolution
    score: int | None = None  # rating: 1-5; None when it was thanks alone

    @property
    def resolves(self) -> bool:
        """A move from an open status to resolved or closed: a request is done."""
        return self.kind == "status" and self.to_status in DONE and self.from_status not in DONE

    @property
    def reopens(self) -> bool:
        """A move from resolved or closed back to an open status."""
        return (
            self.kind == "status" and self.from_status in DONE and self.to_status in OPEN_STATUSES
        )


@dataclass(frozen=True)
class Request:
    """A request as a report sees it (no subject, no text)."""

    reference: str
    requester: str
    team: str | None
    category: str | None
    owner: str | None
    calendar: str | None  # the calendar its working time counts in (None: the clock)
    arrived_at: float  # the server's INTERNALDATE of the mail that opened it
    acknowledged_at: float | None  # SMTP accepted its receipt
    first_response_at: float | None  # the first human answer the requester got
    steps: tuple[Step, ...] = ()  # in the order they happened
    mailbox: str = ""  # the shared address whose store holds it (a report may span several)

    def status_at(self, instant: float) -> Status | None:
        """Its status just before ``instant``; None when it did not exist yet."""
        found = None
        for step in self.steps:
            if step.at >= instant:
                break
            if step.kind in ("opened", "status") and step.to_status is not None:
                found = step.to_status
        return found


@dataclass(frozen=True)
class Occurrence:
    """Mail that was no request, counted by time: a robot's (``what``: the reason), or a
    duplicate (``what``: "duplicate")."""

    at: float
    what: str
