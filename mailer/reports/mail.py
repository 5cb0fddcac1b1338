"""The weekly report mail: the week's figures as text, the main charts as inline PNG images,
and the whole report as an HTML page attached.

The shape mail programs show inline (Outlook, Gmail, Apple Mail, Thunderbird):

    multipart/mixed
      multipart/alternative
        text/plain                      the figures, readable without pictures
        multipart/related
          text/html                     the figures and <img src="cid:...">
          image/png  (Content-ID)       one per chart, Content-Disposition: inline
      text/html  (attachment)           the self-contained report page

Headers as on every mail mailer sends: From the shared address, Auto-Submitted, the loop
header, so an out-of-office answer to it is recognised as a robot's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from email.message import EmailMessage, MIMEPart
from email.policy import SMTP
from email.utils import format_datetime
from html import escape
from zoneinfo import ZoneInfo

from mailer.core.reporting.export import iso
from mailer.core.reporting.figures import AGES, Figures
from mailer.core.writing import mime
from mailer.core.writing.render import Envelope, Outgoing
from mailer.model import LOOP_HEADER
from mailer.reports.charts import MAIL_CHARTS, Chart
from mailer.reports.tables import attainment_text, seconds_text, share_text, working_text
from mailer.settings import ServiceSettings


def figure_lines(week: Figures, zone: ZoneInfo) -> list[tuple[str, str]]:
    """The week's figures as (label, value), for the text and the HTML alike."""
    r = week.ratings
    backlog = week.backlog[-1] if week.backlog else None
    counts = backlog.ages if backlog else (0,) * len(AGES)
    ages = ", ".join(f"{label} {n}" for (label, _), n in zip(AGES, counts, strict=True))
    lines = [
        ("Week", f"{week.name} ({iso(week.since, zone)[:10]} to {iso(week.until, zone)[:10]})"),
        ("Opened", str(week.opened)),
        ("Resolved", str(week.resolved)),
        ("Reopened", str(week.reopened)),
        (
            "Acknowledged within (median / p90)",
            f"{seconds_text(week.acknowledge.median)} / {seconds_text(week.acknowledge.p90)}",
        ),
        (
            "First response, working time (median / p90)",
            f"{working_text(week.first_response.median)} / {working_text(week.first_response.p90)}",
        ),
        (
            "Resolution, working time (median / p90)",
            f"{working_text(week.resolution.median)} / {working_text(week.resolution.p90)}",
        ),
        ("First responses on time", attainment_text(week.sla["first_response"])),
        ("Resolutions on time", attainment_text(week.sla["resolution"])),
        (
            "Ratings",
            f"{r.count}, average {r.average:.2f}" if r.average is not None else f"{r.count}",
        ),
        ("Rated share of the resolved", share_text(r.rated_share)),
        ("Open at the end of the week", f"{backlog.open} ({ages})" if backlog else "0"),
    ]
    if week.suppressed is not None:
        robots = ", ".join(f"{w} {n}" for w, n in week.suppressed.items()) or "none"
        lines += [("Robots given no receipt", robots)]
        lines += [("Duplicates not processed again", str(week.duplicates or 0))]
    return lines


def compose_weekly(
    service: ServiceSettings,
    envelope: Envelope,
    *,
    title: str,
    week: Figures,
    zone: ZoneInfo,
    charts: Sequence[Chart],
    page: str,
) -> Outgoing:
    """The mail for one recipient; ``charts`` carry their PNG bytes."""
    domain = service.domain
    token = envelope.message_id.strip("<>").split("@")[0][-12:]
    inline = [c for c in charts if c.key in MAIL_CHARTS and c.png]
    cids = {c.key: f"{c.key}.{token}@{domain}" for c in inline}
    lines = figure_lines(week, zone)
    width = max(len(label) for label, _ in lines)
    text = "\n".join(
        [
            title,
            "",
            *(f"{label.ljust(width)}  {value}" for label, value in lines),
            "",
            "The charts show the last weeks; the attached page has every figure, per team.",
            "",
            service.signature or service.name,
        ]
    )
    msg = EmailMessage(policy=SMTP)
    msg["From"] = mime.address(service.name, service.address)
    msg["To"] = mime.address(envelope.to.name, envelope.to.addr)
    msg["Subject"] = title
    msg["Date"] = format_datetime(dt.datetime.fromtimestamp(envelope.now, dt.UTC))
    msg["Message-ID"] = envelope.message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg[LOOP_HEADER] = service.address
    msg.set_content(text + "\n")
    msg.add_alternative(_html(title, lines, inline, cids), subtype="html")
    html_part = msg.get_body(("html",))
    assert isinstance(html_part, MIMEPart)
    for chart in inline:
        html_part.add_related(
            chart.png,
            maintype="image",
            subtype="png",
            cid=f"<{cids[chart.key]}>",
            filename=f"{chart.key}.png",
            disposition="inline",
        )
    name = f"report-{week.name}.html"
    msg.add_attachment(page.encode("utf-8"), maintype="text", subtype="html", filename=name)
    return Outgoing(
        message_id=envelope.message_id,
        recipient=envelope.to.addr,
        envelope_sender=envelope.envelope_sender,
        subject=title,
        raw=msg.as_bytes(),
    )


def _html(
    title: str, lines: list[tuple[str, str]], charts: Sequence[Chart], cids: dict[str, str]
) -> str:
    rows = "".join(
        f'<tr><th align="left" style="padding:2px 12px 2px 0;font-weight:normal">{escape(k)}</th>'
        f'<td style="padding:2px 0"><b>{escape(v)}</b></td></tr>'
        for k, v in lines
    )
    images = "".join(
        f'<p><img src="cid:{cids[c.key]}" alt="{escape(c.alt)}" width="600" '
        f'style="max-width:100%;height:auto;border:0"></p>'
        for c in charts
    )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
        '<body style="font-family:Segoe UI,Helvetica,Arial,sans-serif;font-size:14px">'
        f'<h2 style="font-size:18px">{escape(title)}</h2><table>{rows}</table>{images}'
        "<p>The attached page has every figure, per team, and all the charts.</p></body></html>"
    )
