"""Promises kept against real Dovecot and Postfix, with the daemon's clock moved by the test.

The daemon runs as a process; MAILER_FAKE_CLOCK points it at a file holding the time it
should believe (daemon/clock.py), so a due time an hour away is crossed in a second. Checked
from the mailboxes people read: each reminder and escalation arrives once, also when the
daemon is SIGKILLed around the due time and started again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from sandbox.servers import MailSandbox
from tests.integration.helpers import SHARED, parse, request, stop_daemon, text_of, write_config

pytestmark = pytest.mark.integration
TEAM, LEAD = "it-team@example.test", "carol@example.test"
PROMISES = f"""
[calendars.always]
timezone = "UTC"
hours = ["mon-sun 00:00-24:00"]

[targets]
first_response = "1h"
resolution = "1d"

[promises]
remind_before = "30m"
tell_requester_when_late = true
{{digest}}

[teams.it]
name = "IT Support"
address = "{TEAM}"
calendar = "always"
escalate_to = ["{LEAD}"]

[[rules]]
name = "vpn"
team = "it"
  [rules.match]
  subject = ["vpn"]
"""


class Daemon:
    """``mailer run`` as a process whose clock is the number in ``clock``."""

    def __init__(self, config: Path) -> None:
        self.config, self.clock = config, config.with_name("clock")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.config.with_suffix(".log"), "ab")  # noqa: SIM115 - lives with the process
        env = {**os.environ, "MAILER_FAKE_CLOCK": str(self.clock)}
        argv = [sys.executable, "-m", "mailer", "--config", str(self.config), "--json-logs", "run"]
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)

    def set_time(self, epoch: float) -> None:
        partial = self.clock.with_suffix(".new")
        partial.write_text(f"{epoch:.3f}\n")
        partial.replace(self.clock)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def __enter__(self) -> Daemon:
        return self

    def __exit__(self, *exc: object) -> None:
        """Whatever happened, no daemon outlives its test."""
        if self.proc is not None and self.proc.poll() is None:
            self.kill()

    def stop(self) -> None:
        assert self.proc is not None
        code, _ = stop_daemon(self.proc)
        assert code == 0


def inbox(sandbox: MailSandbox, user: str) -> list[EmailMessage]:
    return [parse(raw) for raw in sandbox.messages(user)]


def settle(sandbox: MailSandbox, user: str, count: int, quiet: float = 2.0) -> list[EmailMessage]:
    """Wait for ``count`` messages, then make sure no more come for ``quiet`` seconds."""
    sandbox.wait_for_messages(user, count, timeout=30)
    time.sleep(quiet)
    found = inbox(sandbox, user)
    assert len(found) == count, [str(m["Subject"]) for m in found]
    return found


@pytest.fixture(name="daemon")
def _daemon(sandbox: MailSandbox, tmp_path: Path) -> Iterator[Daemon]:
    config = write_config(tmp_path, sandbox, extra=PROMISES.replace("{digest}", ""))
    with Daemon(config) as daemon:
        daemon.start()
        time.sleep(1.5)
        yield daemon


def test_the_reminder_and_the_escalation_each_arrive_once_across_sigkills(
    sandbox: MailSandbox, daemon: Daemon
) -> None:
    sandbox.send(request(1), mail_from="alice@example.test", rcpt_to=[SHARED])
    (receipt,) = settle(sandbox, "alice", 1, quiet=0.5)
    sent = parse(sandbox.messages("helpdesk")[0])
    arrived = time.time()
    assert "You will hear from us by" in text_of(receipt)
    settle(sandbox, TEAM.split("@")[0], 1, quiet=0.5)  # the team's notification

    daemon.set_time(arrived + 20 * 60)  # 40 minutes left of the first hour: nothing yet
    time.sleep(2)
    assert len(inbox(sandbox, "it-team")) == 1

    daemon.set_time(arrived + 31 * 60)  # 29 minutes left: the team (nobody owns it) is reminded
    reminder = settle(sandbox, "it-team", 2)[1]
    assert "Due soon" in str(reminder["Subject"]) and "[REQ-1000]" in str(reminder["Subject"])
    assert "first answer by" in text_of(reminder)
    assert str(reminder["In-Reply-To"]) == str(sent["Message-ID"])

    daemon.kill()  # a crash after the reminder: a restart must not send it again
    daemon.start()
    settle(sandbox, "it-team", 2, quiet=3.0)

    daemon.set_time(arrived + 61 * 60)  # past due: the lead is told, and so is Alice
    time.sleep(0.3)
    daemon.kill()  # around the due time, maybe mid-tick: still once
    daemon.start()
    (escalation,) = settle(sandbox, "carol", 1, quiet=3.0)
    assert "Overdue" in str(escalation["Subject"])
    assert "past its first answer time" in text_of(escalation)
    late = settle(sandbox, "alice", 2)[1]
    assert "we are late" in text_of(late) and "REQ-1000" in str(late["Subject"])
    assert len(inbox(sandbox, "it-team")) == 2  # the escalation went to the lead only
    daemon.stop()


def test_the_digest_arrives_once_a_day_and_not_again_after_a_restart(
    sandbox: MailSandbox, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path, sandbox, extra=PROMISES.replace("{digest}", 'digest_at = "00:00"')
    )
    with Daemon(config) as daemon:
        daemon.start()
        time.sleep(1.5)
        sandbox.send(request(1), mail_from="alice@example.test", rcpt_to=[SHARED])
        settle(sandbox, "alice", 1, quiet=0.5)
        arrived = time.time()
        daemon.set_time(arrived + 1)  # a tick: the team's digest for today (one unowned request)
        team = settle(sandbox, "it-team", 2)
        digest = next(m for m in team if "Today's requests" in str(m["Subject"]))
        assert "REQ-1000" in text_of(digest) and "Owned by nobody (1)" in text_of(digest)
        daemon.kill()
        daemon.start()
        daemon.set_time(arrived + 2)
        settle(sandbox, "it-team", 2, quiet=3.0)  # same day: nothing more
        daemon.set_time(arrived + 86400)  # the next day: one more (the escalations go to the lead)
        later = settle(sandbox, "it-team", 3, quiet=2.0)
        subjects = sorted(str(m["Subject"]) for m in later)
        assert sum("Today's requests" in s for s in subjects) == 2, subjects
        daemon.stop()
