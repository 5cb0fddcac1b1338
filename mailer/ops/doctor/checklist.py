"""The checklist of ``mailer doctor``: outcomes, chains of dependent steps, and printing.

Connecting is a chain: no login without TCP, no mailbox without login. Once a step fails,
the ones after it are listed as "not tried" rather than failed again with confusing
follow-on errors, so the first FAIL of a chain is always the one to fix.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

Status = Literal["ok", "warn", "fail", "skip"]
MARKS: dict[Status, str] = {"ok": "[ ok ]", "warn": "[warn]", "fail": "[FAIL]", "skip": "[skip]"}
ARROW = "→"


@dataclass(frozen=True)
class Outcome:
    """What one step found; ``fix`` tells the admin what to change (FAIL and warn)."""

    status: Status
    detail: str = ""
    fix: str = ""


def ok(detail: str = "") -> Outcome:
    return Outcome("ok", detail)


def warn(detail: str, fix: str = "") -> Outcome:
    return Outcome("warn", detail, fix)


def fail(detail: str, fix: str = "") -> Outcome:
    return Outcome("fail", detail, fix)


@dataclass(frozen=True)
class Check:
    """One line of the checklist."""

    group: str  # config, imap, smtp, store, templates: for --json readers
    name: str
    status: Status
    detail: str = ""
    fix: str = ""

    def line(self) -> str:
        """One line, whatever a server put in its answer."""
        text = f"{MARKS[self.status]} {self.name}"
        if self.detail:
            text += f": {self.detail}"
        if self.fix:
            text += f" {ARROW} {self.fix}"
        return " ".join(text.split())


@dataclass(frozen=True)
class Step:
    """A step of a chain; ``short`` names it in the "not tried: TCP failed" of later steps."""

    short: str
    name: str
    run: Callable[[], Outcome]


def run_chain(group: str, steps: Iterable[Step]) -> Iterator[Check]:
    """Run steps in order until one fails; list the rest as skipped. Lazy, so that a
    terminal shows each line as soon as it is known.

    A step that raises something unforeseen fails with the exception's text: the doctor
    must report every problem, never die of one."""
    broken: str | None = None
    for step in steps:
        if broken is not None:
            yield Check(group, step.name, "skip", f"not tried: {broken} failed")
            continue
        try:
            outcome = step.run()
        except Exception as exc:
            outcome = fail(f"unexpected {type(exc).__name__}: {exc}")
        yield Check(group, step.name, outcome.status, outcome.detail, outcome.fix)
        if outcome.status == "fail":
            broken = step.short


def exit_code(checks: Sequence[Check]) -> int:
    """1 when anything failed; warnings and skips never change the code."""
    return 1 if any(c.status == "fail" for c in checks) else 0


def scrub(check: Check, secrets: Iterable[str | None]) -> Check:
    """The check with every secret blanked: a server may echo what it was sent."""
    hidden = [s for s in secrets if s and len(s) >= 3]

    def clean(text: str) -> str:
        for secret in hidden:
            text = text.replace(secret, "********")
        return text

    return Check(
        check.group, clean(check.name), check.status, clean(check.detail), clean(check.fix)
    )


def summary(checks: Sequence[Check]) -> str:
    counts = {s: sum(c.status == s for c in checks) for s in MARKS}
    text = f"{counts['ok']} ok, {counts['warn']} warnings, {counts['fail']} failed"
    return text + (f", {counts['skip']} not tried" if counts["skip"] else "")


def render_text(checks: Sequence[Check]) -> str:
    return "\n".join([*(c.line() for c in checks), "", summary(checks)])


def render_json(checks: Sequence[Check]) -> str:
    return json.dumps(
        {"ok": exit_code(checks) == 0, "checks": [asdict(c) for c in checks]},
        ensure_ascii=False,
        indent=2,
    )
