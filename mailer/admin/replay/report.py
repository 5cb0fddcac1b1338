"""What a replay prints: the tables, the comparison, and the CSV rows. Pure text from rows.

Columns are cut to the terminal's width so a long subject never wraps a table; the CSV
keeps every value (subjects up to ``replay_judge.SUBJECT_KEPT`` characters).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from mailer.admin.replay.judge import UNREADABLE, Row, Verdict
from mailer.core.deciding.rules import DEFAULT_RULE
from mailer.settings import Rule

COLUMNS = ("source", "message_id", "from", "subject", "outcome", "rule", "category", "team",
           "language")  # fmt: skip
VERDICT_FIELDS = ("outcome", "rule", "category", "team", "language")
AS_IF_NEW = "no thread, no duplicate, no backlog, no caps"
NOT_ADDRESSED = "suppressed: not-addressed"


@dataclass(frozen=True)
class Run:
    """What was replayed, for the header."""

    path: str
    description: str  # "an mbox", "a folder of .eml files", ...
    config: str
    rules: str  # the rules file, or "inline in CONFIG"
    rule_count: int
    seconds: float
    compared_with: str = ""  # --compare OLD_RULES
    old_rule_count: int = 0
    addressed: bool = False  # --addressed


def header(run: Run, count: int) -> list[str]:
    addressed = ", addressed to the service" if run.addressed else ""
    rate = f" ({count / run.seconds:,.0f}/s)" if run.seconds > 0 and count else ""
    lines = [
        f"Replay of {count} messages from {run.path} ({run.description}), each judged as if "
        f"it arrived now as a new message{addressed} ({AS_IF_NEW}).",
        f"Config {run.config}; rules {run.rules} ({run.rule_count} rules).",
    ]
    if run.compared_with:
        lines.append(f"Old rules {run.compared_with} ({run.old_rule_count} rules).")
    lines.append(f"Read and judged in {run.seconds:.1f} s{rate}; nothing sent, no store opened.")
    return lines


def summary(rows: Sequence[Row], rules: Sequence[Rule], examples: int, width: int) -> str:
    """Per rule, per outcome, and the messages no rule matched, with a few examples."""
    total = len(rows)
    out = ["", *_rule_table(rows, rules, total), "", *_outcome_table(rows, total)]
    unaddressed = sum(r.new.outcome == NOT_ADDRESSED for r in rows)
    if unaddressed:
        out.append(
            f"({unaddressed} messages name no address of the service in To/Cc; "
            "--addressed judges them as sent to it)"
        )
    out.append("")
    out += _defaults(rows, examples, width)
    unreadable = [r for r in rows if r.new.outcome == UNREADABLE]
    if unreadable:
        out += ["", f"Unreadable: {len(unreadable)} (counted, not judged)"]
        shown = [(r.source, r.note) for r in unreadable[:examples]]
        out += _indent(_table(("SOURCE", "WHY"), shown, width - 2, cut=(40, 0), tail={0}))
        out += _more(len(unreadable), len(shown))
    return "\n".join(out)


def comparison(rows: Sequence[Row], width: int) -> str:
    """Every message whose verdict the rule change alters, old → new, then the count."""
    changed = [r for r in rows if r.changed]
    out = [""]
    for row in changed:
        assert row.old is not None
        out.append(_cut(f"{row.source}  {row.sender or '-'}  {row.subject}", width))
        out.append(_cut("    " + "; ".join(_differences(row.old, row.new)), width))
    out.append(f"{len(changed)} of {len(rows)} messages would change (old → new).")
    return "\n".join(out)


def csv_rows(rows: Iterable[Row]) -> Iterator[list[str]]:
    """The header row, then one row per message."""
    yield list(COLUMNS)
    for row in rows:
        yield [*_who(row), *_fields(row.new)]


def comparison_csv_rows(rows: Iterable[Row]) -> Iterator[list[str]]:
    """The header row, then one row per message whose verdict changes, old_* and new_*."""
    yield [*COLUMNS[:4], *(f"old_{f}" for f in VERDICT_FIELDS),
           *(f"new_{f}" for f in VERDICT_FIELDS)]  # fmt: skip
    for row in rows:
        if row.changed and row.old is not None:
            yield [*_who(row), *_fields(row.old), *_fields(row.new)]


def _who(row: Row) -> list[str]:
    return [row.source, row.message_id, row.sender, row.subject]


def _fields(verdict: Verdict) -> list[str]:
    return [str(getattr(verdict, name)) for name in VERDICT_FIELDS]


def _differences(old: Verdict, new: Verdict) -> list[str]:
    found = [
        f"{name} {getattr(old, name) or '-'} → {getattr(new, name) or '-'}"
        for name in VERDICT_FIELDS
        if getattr(old, name) != getattr(new, name)
    ]
    return found if old.outcome != new.outcome else [f"{new.outcome} (unchanged)", *found]


def _rule_table(rows: Sequence[Row], rules: Sequence[Rule], total: int) -> list[str]:
    """Every rule in file order (those that matched nothing too), then the default."""
    judged = [r.new for r in rows if r.new.outcome != UNREADABLE]
    counts = Counter(v.rule for v in judged)
    requests = Counter(v.rule for v in judged if v.request)
    table = []
    for rule in [*rules, DEFAULT_RULE]:
        n = counts[rule.name]
        table.append(
            (rule.name, str(n), _percent(n, total), str(requests[rule.name]),
             rule.category, rule.team or "-")
        )  # fmt: skip
    heads = ("RULE", "MESSAGES", "%", "REQUESTS", "CATEGORY", "TEAM")
    return _table(heads, table, 0, right={1, 2, 3})


def _outcome_table(rows: Sequence[Row], total: int) -> list[str]:
    counts = Counter(r.new.outcome for r in rows)

    def order(outcome: str) -> tuple[int, int, str]:
        rank = 0 if outcome == "receipt" else 1 if outcome.startswith("no receipt") else 2
        return (3 if outcome == UNREADABLE else rank, -counts[outcome], outcome)

    table = [(o, str(counts[o]), _percent(counts[o], total)) for o in sorted(counts, key=order)]
    return _table(("OUTCOME", "MESSAGES", "%"), table, 0, right={1, 2})


def _defaults(rows: Sequence[Row], examples: int, width: int) -> list[str]:
    """Requests no rule matched; suppressed mail falls to the default too but opens nothing."""
    fell = [r for r in rows if r.new.rule == DEFAULT_RULE.name]
    requests = [r for r in fell if r.new.request]
    quiet = len(fell) - len(requests)
    also = f" ({quiet} suppressed messages too, not listed)" if quiet else ""
    out = [f"Fell to the default rule: {len(requests)} requests{also}"]
    shown = [(r.source, r.sender, r.subject) for r in requests[: max(examples, 0)]]
    if shown:
        heads = ("SOURCE", "FROM", "SUBJECT")
        out += _indent(_table(heads, shown, width - 2, cut=(30, 32, 0), tail={0}))
    return out + _more(len(requests), len(shown))


def _more(total: int, shown: int) -> list[str]:
    return (
        [f"  … and {total - shown} more (--examples N, or --csv for all)"] if total > shown else []
    )


def _indent(lines: list[str]) -> list[str]:
    return ["  " + line for line in lines]


def _percent(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}" if total else "-"


def _table(
    heads: Sequence[str],
    rows: Sequence[Sequence[str]],
    width: int,
    *,
    right: frozenset[int] | set[int] = frozenset(),
    cut: Sequence[int] = (),
    tail: frozenset[int] | set[int] = frozenset(),
) -> list[str]:
    """Aligned columns; ``cut`` caps each column's width (0: the rest of ``width``), and
    columns in ``tail`` (file paths) keep their end, where the name is."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(heads)]
    for i, cap in enumerate(cut):
        if cap:
            widths[i] = min(widths[i], cap)
    if 0 in cut and width:
        rest = cut.index(0)
        used = sum(w for i, w in enumerate(widths) if i != rest) + 2 * (len(heads) - 1)
        widths[rest] = max(10, min(widths[rest], width - used))

    def line(cells: Sequence[str]) -> str:
        parts = []
        for i, (cell, w) in enumerate(zip(cells, widths, strict=True)):
            text = _cut_start(cell, w) if i in tail else _cut(cell, w)
            parts.append(text.rjust(w) if i in right else text.ljust(w))
        return "  ".join(parts).rstrip()

    return [line(heads), *(line(r) for r in rows)]


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _cut_start(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[len(text) - width + 1 :]
