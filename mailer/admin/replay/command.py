"""``mailer rules replay PATH [--csv] [--examples N] [--compare OLD_RULES] [--addressed]``.

Runs the rules over past mail (an mbox, a Maildir, a folder of .eml files) and says what
each rule would have caught, what would have been suppressed and what no rule matches.
Touches no server and never opens the store: every message is judged as if it arrived now
as a new message. Exit 0 whenever it could run (unreadable messages are counted), 1 when
PATH or OLD_RULES cannot be used; an invalid config raises ``ConfigError`` like elsewhere.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TextIO

from mailer.admin.replay.judge import Judge, Row
from mailer.admin.replay.pool import judged, workers_for
from mailer.admin.replay.report import (
    Run,
    comparison,
    comparison_csv_rows,
    csv_rows,
    header,
    summary,
)
from mailer.admin.replay.sources import NotMail, RawMessage, find_source, reading
from mailer.settings import Settings

MANY = 300  # more messages than this: show progress from the start, not after a second


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path",
        metavar="PATH",
        help="an mbox file, a Maildir, a folder of .eml files (searched recursively) or a .eml",
    )
    parser.add_argument(
        "--csv", action="store_true", help="one CSV row per message instead of the tables"
    )
    parser.add_argument(
        "--examples",
        type=_count,
        default=5,
        metavar="N",
        help="how many examples of mail no rule matched (and of unreadable files) to show "
        "(default 5)",
    )
    parser.add_argument(
        "--compare",
        metavar="OLD_RULES",
        help="an older rules file (or, with rules inline in the config, an older config): "
        "list only the messages whose outcome, rule, category, team or language would change",
    )
    parser.add_argument(
        "--addressed",
        action="store_true",
        help="judge every message as if its To named the service (mail saved from elsewhere)",
    )


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value


def run(args: argparse.Namespace, config_path: Path) -> int:
    from mailer.config.load import load_settings

    settings = load_settings(config_path, reach_secrets=False)
    try:
        source = find_source(Path(args.path))
    except NotMail as exc:
        print(f"mailer: {exc}", file=sys.stderr)
        return 1
    new = Judge(settings, _languages(settings), args.addressed, _words(settings))
    old = None
    if args.compare:
        old = _old_judge(settings, config_path, args.compare, args.addressed)
        if old is None:
            return 1
    started = time.monotonic()
    try:
        with reading(source) as (total, messages):
            rows = replay(messages, new, old, Progress(total), workers_for(total))
    except NotMail as exc:
        print(f"mailer: {exc}", file=sys.stderr)
        return 1
    facts = Run(
        path=args.path,
        description=source.description,
        config=str(config_path),
        rules=str(settings.rules_path or f"inline in {config_path}"),
        rule_count=len(settings.rules),
        seconds=time.monotonic() - started,
        compared_with=args.compare or "",
        old_rule_count=len(old.settings.rules) if old else 0,
        addressed=args.addressed,
    )
    try:
        _print(rows, facts, args, settings, sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:  # `| head`: the reader has seen enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def replay(
    messages: Iterable[RawMessage],
    new: Judge,
    old: Judge | None,
    progress: Progress,
    workers: int = 0,
) -> list[Row]:
    """Judge every message in order; only the small rows are kept."""
    rows: list[Row] = []
    try:
        for row in judged(messages, new, old, workers):
            rows.append(row)
            progress.update(len(rows))
    finally:
        progress.clear()
    return rows


def _print(rows: list[Row], facts: Run, args: argparse.Namespace, s: Settings, out: TextIO) -> None:
    if args.csv:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerows(comparison_csv_rows(rows) if args.compare else csv_rows(rows))
        return
    width = max(60, shutil.get_terminal_size((100, 24)).columns)
    print("\n".join(header(facts, len(rows))), file=out)
    if args.compare:
        print(comparison(rows, width), file=out)
    else:
        print(summary(rows, s.rules, args.examples, width), file=out)


def _words(settings: Settings) -> tuple[tuple[str, frozenset[str]], ...]:
    from mailer.config import templates

    return tuple(templates.language_words(templates.make_environment(settings)).items())


def _languages(settings: Settings) -> tuple[str, ...]:
    """The languages mail is written in, as the pipeline computes them."""
    from mailer.config import templates

    return templates.serving_languages(templates.make_environment(settings), settings)


def _old_judge(settings: Settings, config_path: Path, old: str, addressed: bool) -> Judge | None:
    """The old rules, validated like ``mailer check`` would in place of the current ones."""
    from mailer.config.validate import check_all

    try:
        text = Path(old).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeError) as exc:
        print(
            f"mailer: cannot read {old}: {getattr(exc, 'strerror', None) or exc}", file=sys.stderr
        )
        return None
    inline = settings.rules_path is None  # then OLD_RULES is an older config
    if inline:
        found, problems = check_all(config_path, config_text=text, reach_secrets=False)
    else:
        found, problems = check_all(config_path, rules_text=text, reach_secrets=False)
    stands_for = str(config_path if inline else settings.rules_path)
    errors = [
        dataclasses.replace(p, path=old if p.path == stands_for else p.path)
        for p in problems
        if not p.warning
    ]
    for problem in errors:
        print(problem, file=sys.stderr)
    if errors or found is None:
        print(f"{old}: {len(errors)} problem(s); nothing compared", file=sys.stderr)
        return None
    return Judge(found, _languages(found), addressed, _words(found))


class Progress:
    """``[#####.....] 1234/5000 msgs 412/s`` on stderr, only on a terminal, only on long runs."""

    def __init__(
        self,
        total: int,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.clock = clock
        self.started = clock()
        self.enabled = self.stream.isatty()
        self.next_draw = self.started if total > MANY else self.started + 1.0
        self.drawn = 0  # length of the line on screen

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        now = self.clock()
        if now < self.next_draw:
            return
        self.next_draw = now + 0.1
        rate = done / (now - self.started) if now > self.started else 0.0
        filled = 30 * done // self.total if self.total else 30
        line = f"[{'#' * filled}{'.' * (30 - filled)}] {done}/{self.total} msgs {rate:,.0f}/s"
        self.stream.write("\r" + line.ljust(self.drawn))
        self.stream.flush()
        self.drawn = len(line)

    def clear(self) -> None:
        if self.drawn:
            self.stream.write("\r" + " " * self.drawn + "\r")
            self.stream.flush()
            self.drawn = 0
