"""``mailer rules list``: the rules as mailer understood them, one line each, in match order.

It shows the validated ``Settings`` rather than the file's text, so what it prints is what
the daemon will do (defaults filled in, conditions as read); each row still points at the
file and line to edit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mailer.core.deciding.rules import DEFAULT_RULE, MATCHERS
from mailer.core.timing.promises import calendar_for, targets_for
from mailer.settings import Condition, Rule, Settings

EVERYTHING = "(matches everything)"


def condition_text(cond: Condition) -> str:
    """``subject ~ "vpn" | "network"``, ``sender_domain = corp.example`` …"""
    shape = MATCHERS[cond.kind].shape if cond.kind in MATCHERS else "address"
    if cond.kind == "header":
        if cond.values == ("",):
            return f"header {cond.header} present"
        return f"header {cond.header} ~ " + " | ".join(f"'{v}'" for v in cond.values)
    if cond.flag is not None:
        return f"{cond.kind} = {str(cond.flag).lower()}"
    if shape == "words":
        return f"{cond.kind} ~ " + " | ".join(f'"{v}"' for v in cond.values)
    if shape == "regex":
        return f"{cond.kind} ~ " + " | ".join(f"'{v}'" for v in cond.values)
    return f"{cond.kind} = " + " | ".join(cond.values)


def conditions_text(rule: Rule) -> str:
    """All of a rule's conditions, in the order they are written in the file."""
    written = sorted(rule.conditions, key=lambda c: c.line or 0)
    return "; ".join(condition_text(c) for c in written) or EVERYTHING


def rules_file(settings: Settings) -> Path:
    return settings.rules_path or settings.config_path or Path("mailer.toml")


def targets_text(settings: Settings, rule: Rule) -> str:
    """The effective promise of a rule: "4h/2d" (first response / resolution), "-" if none."""
    targets = targets_for(settings, rule, rule.team)
    if targets.first_response is None and targets.resolution is None:
        return "-"
    return f"{targets.first_response or '-'}/{targets.resolution or '-'}"


def promises_text(settings: Settings) -> list[str]:
    """What ``mailer check`` says of the promises: each rule's effective targets and the
    calendar they count in; nothing when no target is set anywhere."""
    rules = [*settings.rules, DEFAULT_RULE]
    shown = [(rule, targets_text(settings, rule)) for rule in rules]
    if all(text == "-" for _, text in shown):
        return []
    lines = ["promises (first response/resolution, in working time):"]
    for rule, text in shown:
        calendar = calendar_for(settings, rule.team).name
        lines.append(f"  {rule.name}: {text} ({calendar} calendar)")
    return lines


def table(settings: Settings) -> list[str]:
    """A header line and one aligned row per rule."""
    path = rules_file(settings)
    rows = [
        ["#", "NAME", "CATEGORY", "TEAM", "PRIORITY", "RECEIPT", "TARGETS", "LINE", "CONDITIONS"]
    ]
    for position, rule in enumerate(settings.rules, 1):
        receipt = "yes" if rule.receipt else "no"
        if rule.language:
            receipt += f" ({rule.language})"
        rows.append(
            [
                str(position),
                rule.name,
                rule.category,
                rule.team or "-",
                rule.priority,
                receipt,
                targets_text(settings, rule),
                f"{path.name}:{rule.line or 0}",
                conditions_text(rule),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    count = len(settings.rules)
    lines = [f"{count} rule{'s' if count != 1 else ''} in {path}, tried in this order:"]
    for row in rows:
        cells = [
            cell.rjust(w) if i == 0 else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=False))
        ]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    if not settings.rules:
        lines.append('(none: every request gets the built-in rule "default")')
    return lines


def as_json(settings: Settings) -> dict[str, Any]:
    """``{"file": …, "rules": [{"position", "name", …, "line", "conditions": […]}]}``."""
    path = rules_file(settings)
    return {
        "file": str(path),
        "rules": [
            _rule_json(settings, position, rule, path)
            for position, rule in enumerate(settings.rules, 1)
        ],
    }


def _rule_json(settings: Settings, position: int, rule: Rule, path: Path) -> dict[str, Any]:
    conditions = []
    for cond in sorted(rule.conditions, key=lambda c: c.line or 0):
        item: dict[str, Any] = {"kind": cond.kind}
        if cond.header is not None:
            item["header"] = cond.header
        if cond.flag is not None:
            item["value"] = cond.flag
        else:
            item["values"] = list(cond.values)
        conditions.append(item)
    return {
        "position": position,
        "name": rule.name,
        "category": rule.category,
        "team": rule.team,
        "priority": rule.priority,
        "receipt": rule.receipt,
        "language": rule.language,
        "template": rule.template,
        "targets": vars(targets_for(settings, rule, rule.team)),
        "file": str(path),
        "line": rule.line,
        "conditions": conditions,
        "summary": conditions_text(rule),
    }
