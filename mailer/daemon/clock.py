"""The daemon's clock for promises: the system's, or one a test moves.

Due times, reminders, escalations and digests ask "what time is it" here, and nowhere
else. ``MAILER_FAKE_CLOCK=/path/file`` makes the time the number (epoch seconds) written in
that file, read afresh at each call: the integration tests move the daemon's time across a
due time without sleeping and without patching the process. Without the variable, or while
the file holds no number, it is the system clock.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path

Clock = Callable[[], float]
VARIABLE = "MAILER_FAKE_CLOCK"


def clock_from(environ: Mapping[str, str] | None = None) -> Clock:
    path = (os.environ if environ is None else environ).get(VARIABLE)
    return FileClock(Path(path)) if path else time.time


class FileClock:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self) -> float:
        try:
            return float(self.path.read_text().strip())
        except (OSError, ValueError):
            return time.time()

    def stamp(self) -> float:
        """When the file last changed: a moved clock wakes the daemon at once."""
        try:
            return self.path.stat().st_mtime
        except OSError:
            return 0.0
