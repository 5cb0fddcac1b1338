"""The weekly report mail against real Dovecot and Postfix, with the daemon's clock moved.

The store holds six weeks of a desk (``sandbox.demo.history``, through the daemon's own
pipeline); ``[reports]`` sends all teams to Carol and IT's report to Bob, on Monday at 08:00
in Rome. Checked from their mailboxes: one mail each, multipart/related with the PNG charts
that its HTML names by ``cid:``, the page attached; a SIGKILL and a restart send nothing
again; a week that passed while the daemon was down arrives once when it is back.
"""

from __future__ import annotations

import time
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mailer.config.load import load_settings
from sandbox.demo import history
from sandbox.servers import MailSandbox
from tests.integration.helpers import parse, write_config
from tests.integration.test_promises import Daemon

ROME = ZoneInfo("Europe/Rome")
REPORTS = """
[reports]
to = ["carol@example.test"]
teams = { it = ["bob@example.test"] }
weekday = "mon"
hour = 8
"""


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ROME).timestamp()


def settle(sandbox: MailSandbox, user: str, count: int, quiet: float) -> list[EmailMessage]:
    sandbox.wait_for_messages(user, count, timeout=60)
    time.sleep(quiet)
    found = [parse(raw) for raw in sandbox.messages(user)]
    assert len(found) == count, [str(m["Subject"]) for m in found]
    return found


def check_report_mail(msg: EmailMessage, week: str, scope: str) -> None:
    assert str(msg["Subject"]).endswith(f"weekly report {week}, {scope}")
    assert str(msg["Auto-Submitted"]) == "auto-generated"
    related = [p for p in msg.walk() if p.get_content_type() == "multipart/related"]
    assert len(related) == 1
    parts = list(related[0].iter_parts())
    html = parts[0]
    assert html.get_content_type() == "text/html"
    images = parts[1:]
    assert len(images) == 3
    for image in images:
        assert image.get_content_type() == "image/png"
        assert image.get_content_disposition() == "inline"
        content = image.get_payload(decode=True)
        assert isinstance(content, bytes) and content.startswith(b"\x89PNG\r\n\x1a\n")
        cid = str(image["Content-ID"]).strip("<>")
        assert f'src="cid:{cid}"' in html.get_content()
    text = msg.get_body(("plain",))
    assert text is not None and "Week    " in text.get_content() and week in text.get_content()
    (page,) = [p for p in msg.iter_attachments() if p.get_filename() == f"report-{week}.html"]
    assert page.get_content_type() == "text/html" and "<svg" in page.get_content()


@pytest.fixture(name="daemon")
def _daemon(sandbox: MailSandbox, tmp_path: Path) -> Daemon:
    service = 'reference_prefix = "REQ"\ncalendar = "office"'
    desk = history.DESK.format(domain="example.test")
    config = write_config(tmp_path, sandbox, service_extra=service, extra=desk + REPORTS)
    history.fill_store(load_settings(config, environ={}, reach_secrets=False))
    return Daemon(config)


def test_the_weekly_report_arrives_once_and_a_missed_week_once(
    sandbox: MailSandbox, daemon: Daemon
) -> None:
    # Monday 22 December, 07:59: the report of the week before last (W50, due on Monday 15
    # at 08:00) was never sent, since no daemon ran then: it goes now, once.
    daemon.set_time(at("2025-12-22T07:59:00"))
    daemon.start()
    (missed,) = settle(sandbox, "carol", 1, quiet=1.0)
    settle(sandbox, "bob", 1, quiet=0.5)
    check_report_mail(missed, "2025-W50", "all teams")

    daemon.set_time(at("2025-12-22T08:00:30"))  # the hour: last week's report, to each
    everything = settle(sandbox, "carol", 2, quiet=1.0)[1]
    it = settle(sandbox, "bob", 2, quiet=0.5)[1]
    check_report_mail(everything, "2025-W51", "all teams")
    check_report_mail(it, "2025-W51", "IT Support")
    text = everything.get_body(("plain",))
    assert text is not None and "Robots given no receipt" in text.get_content()

    daemon.kill()  # a crash after the mail went: the restart sends nothing again
    daemon.set_time(at("2025-12-22T09:30:00"))
    daemon.start()
    time.sleep(6)
    assert len(sandbox.messages("carol")) == 2 and len(sandbox.messages("bob")) == 2

    daemon.stop()  # down over the next Monday morning: W52 is sent when it is back, once
    daemon.set_time(at("2025-12-30T10:15:00"))
    daemon.start()
    check_report_mail(settle(sandbox, "carol", 3, quiet=1.0)[2], "2025-W52", "all teams")
    settle(sandbox, "bob", 3, quiet=0.5)
    daemon.kill()
    daemon.start()
    daemon.set_time(at("2025-12-30T11:00:00"))
    settle(sandbox, "carol", 3, quiet=5.0)
    settle(sandbox, "bob", 3, quiet=0.1)
    daemon.stop()
