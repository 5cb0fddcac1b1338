"""``mailer report``: how fast requests were acknowledged, answered and solved, whether the
promises were kept, how people rated it and where the backlog grows.

Tables on the terminal; ``--json`` and ``--csv`` for scripts; ``--html FILE`` one
self-contained page with the charts; ``--png DIR`` the charts as pictures. Every output
prints the same figures (``mailer.core.reporting``), read from a read-only store.

``--mailbox all`` (or an address) on a shared PostgreSQL store: one report over the requests
of those mailboxes (``--by mailbox`` puts each in a group of its own), as ``mailer threads
--mailbox`` lists them.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from mailer.core.reporting.export import report_data
from mailer.core.reporting.report import GROUPINGS, Report
from mailer.core.reporting.weeks import Span, default_period
from mailer.daemon.clock import clock_from
from mailer.errors import MailerError

EXIT_OK = 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--since", metavar="WHEN", help="start (ISO date or time; default: 4 weeks ago)"
    )
    parser.add_argument("--until", metavar="WHEN", help="end, not included (default: now)")
    parser.add_argument(
        "--by",
        choices=GROUPINGS,
        default="team",
        help="the groups: team (default), category, owner, mailbox or week",
    )
    parser.add_argument(
        "--mailbox",
        metavar="ADDRESS",
        help='a shared store: this mailbox\'s requests, or "all" mailboxes (default: this one)',
    )
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON object, for scripts")
    out.add_argument("--csv", action="store_true", help="CSV: the period, each group, each week")
    parser.add_argument(
        "--html", metavar="FILE", type=Path, help="also write one self-contained page with charts"
    )
    parser.add_argument(
        "--png", metavar="DIR", type=Path, help="also write the charts as PNG files into DIR"
    )
    parser.add_argument(
        "--with-requesters",
        action="store_true",
        help="show requesters' addresses (off: references only)",
    )


def when(text: str, zone: ZoneInfo) -> float:
    """An ISO date (midnight in the report's zone) or time (the zone's when it has no offset)."""
    try:
        if len(text.strip()) == 10:
            return datetime.combine(date.fromisoformat(text.strip()), time.min, zone).timestamp()
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise MailerError(
            f"{text!r}: expected an ISO date (2026-01-05) or time (2026-01-05T08:00)"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).timestamp()


def period_of(args: argparse.Namespace, zone: ZoneInfo, now: float) -> Span:
    until = when(args.until, zone) if args.until else now
    since = when(args.since, zone) if args.since else default_period(until).since
    if since >= until:
        raise MailerError("--since must come before --until")
    return Span("period", since, until)


def run(args: argparse.Namespace, config_path: Path) -> int:
    from mailer.config.load import load_settings
    from mailer.reports.gather import make_report, report_zone
    from mailer.store import open_stores

    settings = load_settings(config_path, reach_secrets=False)
    zone = report_zone(settings)
    period = period_of(args, zone, clock_from()())
    desks = open_stores(settings.store, args.mailbox, read_only=True)
    try:
        report = make_report(desks, settings, period, by=args.by, zone=zone)
    finally:
        for _, store in desks:
            store.close()
    title = f"{settings.service.name}: service report"
    if report.mailboxes:
        title += f" ({', '.join(report.mailboxes)})"
    write_files(report, args, title)
    sys.stdout.write(render(report, args))
    return EXIT_OK


def render(report: Report, args: argparse.Namespace) -> str:
    from mailer.reports.tables import csv_report, text_report

    if args.json:
        data = report_data(report, with_requesters=args.with_requesters)
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if args.csv:
        return csv_report(report)
    return text_report(report, with_requesters=args.with_requesters)


def write_files(report: Report, args: argparse.Namespace, title: str) -> None:
    if not (args.html or args.png):
        return
    from mailer.reports.charts import draw
    from mailer.reports.page import render_page

    charts = draw(report, svg=bool(args.html), png=bool(args.png))
    if args.html:
        page = render_page(report, title=title, charts=charts, with_requesters=args.with_requesters)
        args.html.write_text(page, encoding="utf-8")
        print(f"wrote {args.html}", file=sys.stderr)
    if args.png:
        args.png.mkdir(parents=True, exist_ok=True)
        for chart in charts:
            target = args.png / f"report-{chart.key}.png"
            target.write_bytes(chart.png)
            print(f"wrote {target}", file=sys.stderr)
