"""SLA metrics: open, overdue and waiting requests per team (read from the store at each
scrape), the working time to a first response and to a resolution (histograms), and the
targets met and missed (counters), both counted from the daemon's log events
(``daemon/measures.py``).

The team label is a team key of the config (a small set the admin chose), ``none`` for
requests without a team, ``other`` for anything that does not look like a key.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from mailer.errors import StoreError
from mailer.ops.metrics.events import EVENTS
from mailer.settings import StoreSettings
from mailer.store.probe import read_team_load

HOUR = 3600
# Working time: from minutes (a quick answer) to weeks of working hours (a long case).
WORK_BUCKETS = tuple(h * HOUR for h in (0.25, 0.5, 1, 2, 4, 8, 16, 24, 40, 80, 160))
TARGETS = ("first_response", "resolution")
VERDICTS = ("met", "missed")
_TEAM = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")

FIRST_RESPONSE = Histogram(
    "mailer_first_response_working_seconds",
    "Working time (in the request's calendar) from arrival to the first human answer.",
    ["team"],
    buckets=WORK_BUCKETS,
    registry=EVENTS,
)
RESOLUTION = Histogram(
    "mailer_resolution_working_seconds",
    "Working time from the start of a request's cycle (arrival or reopening) to its resolution.",
    ["team"],
    buckets=WORK_BUCKETS,
    registry=EVENTS,
)
SLA_TARGETS = Counter(
    "mailer_sla_targets",
    "Promised targets decided, by team, target (first_response, resolution) and result.",
    ["team", "target", "result"],
    registry=EVENTS,
)
GAUGES = (
    ("mailer_requests_open", "Open requests (new, acknowledged, in progress, waiting)."),
    ("mailer_requests_overdue", "Open requests past a due time not met (paused clocks aside)."),
    ("mailer_requests_waiting", "Open requests waiting for the requester."),
)


def team_label(value: object) -> str:
    if value is None or value == "":
        return "none"
    return value if isinstance(value, str) and _TEAM.match(value) else "other"


def count_sla(event: str, fields: MutableMapping[str, Any]) -> None:
    """The SLA part of counting the log: called for each of our events."""
    seconds = fields.get("working_seconds")
    team = team_label(fields.get("team"))
    if event == "request.first_response" and isinstance(seconds, int | float):
        FIRST_RESPONSE.labels(team).observe(seconds)
    elif event == "request.resolved" and isinstance(seconds, int | float):
        RESOLUTION.labels(team).observe(seconds)
    elif event == "promise.verdict":
        target, verdict = fields.get("target"), fields.get("verdict")
        if target in TARGETS and verdict in VERDICTS:
            SLA_TARGETS.labels(team, str(target), str(verdict)).inc()


@dataclass(frozen=True)
class TeamLoadCollector:
    """The per-team gauges, read from the store at each scrape (read-only, 2 s at most)."""

    store: Path | StoreSettings

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            loads = read_team_load(self.store, time.time())
        except StoreError:
            return  # mailer_store_readable says so
        families = [GaugeMetricFamily(name, text, labels=["team"]) for name, text in GAUGES]
        for load in loads:
            team = team_label(load.team)
            for family, value in zip(
                families, (load.open, load.overdue, load.waiting), strict=True
            ):
                family.add_metric([team], value)
        yield from families
