"""Weeks of a help desk's life in a store, for reports: the demo's chart and the report tests.

Mail goes through the daemon's own pipeline (parse, judge, act) at the moment it "arrives",
so every step, clock and verdict is the one mailer itself records: requests for three teams
(Facilities count in Milan's calendar, with its holidays), staff taking them with a note,
asking and waiting, resolving; requesters rating, thanking and sometimes reopening; robots
and re-delivered duplicates. The outbox is "sent" a few seconds after each mail is queued.

    python -m sandbox.demo.history DIR [--png DIR]   # DIR/mailer.toml and DIR/mailer.sqlite3
"""

from __future__ import annotations

import argparse
import logging
import random
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import structlog

from mailer.config import templates
from mailer.config.load import load_settings
from mailer.daemon.pipeline import Pipeline
from mailer.model import InboundMail, MailboxRef
from mailer.ops import logs
from mailer.settings import Settings
from mailer.store import MailboxState, Store, open_store

ZONE = ZoneInfo("Europe/Rome")
START = date(2025, 11, 10)  # a Monday; six weeks later is Monday 22 December
WEEKS = 6
DOMAIN = "example.test"
STAFF = {"it": "sam", "hr": "hana", "facilities": "fabio"}
SUBJECTS = {
    "it": ["VPN drops every hour", "Printer on floor 2 is jammed", "Laptop will not boot"],
    "hr": ["Question about my payslip", "Leave request for December", "Parental leave forms"],
    "facilities": ["Heating broken in room 214", "Desk lamp needs a bulb", "Meeting room key"],
}
HEAD = """[service]
name = "Demo Help Desk"
address = "helpdesk@{domain}"
reference_prefix = "REQ"
calendar = "office"
[imap]
host = "127.0.0.1"
port = 10143
security = "none"
username = "helpdesk"
password_env = "DEMO_UNUSED_PASSWORD"
[smtp]
host = "127.0.0.1"
port = 10025
security = "none"
[store]
path = "mailer.sqlite3"
"""
# The desk itself: staff, calendars, targets, teams and rules (the integration test puts
# these under its sandbox's [service], [imap] and [smtp]).
DESK = """
[staff]
addresses = ["sam@{domain}", "hana@{domain}", "fabio@{domain}"]
[calendars.office]
timezone = "Europe/Rome"
hours = ["mon-fri 08:30-12:30", "mon-fri 13:30-17:30"]
[calendars.milan]
timezone = "Europe/Rome"
hours = ["mon-fri 08:30-12:30", "mon-fri 13:30-17:30"]
holidays = "IT-MI"
[targets]
first_response = "4h"
resolution = "2d"
[teams.it]
name = "IT Support"
address = "it-team@{domain}"
[teams.hr]
name = "Human Resources"
address = "hr-team@{domain}"
[teams.facilities]
name = "Facilities"
address = "facilities@{domain}"
calendar = "milan"
[[rules]]
name = "it"
category = "hardware"
team = "it"
  [rules.match]
  text = ["vpn", "printer", "laptop"]
[[rules]]
name = "hr"
category = "people"
team = "hr"
  [rules.match]
  text = ["payslip", "leave"]
[[rules]]
name = "facilities"
category = "building"
team = "facilities"
  [rules.match]
  text = ["heating", "lamp", "key"]
"""


@dataclass(frozen=True)
class Mail:
    at: float
    raw: bytes
    answers: str = ""  # a requester's reply: the request's root, to answer our latest mail


def write_config(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "mailer.toml"
    path.write_text((HEAD + DESK).format(domain=DOMAIN))
    return path


def message(
    n: str, sender: str, subject: str, body: str, *, reply_to: str = "", extra: str = ""
) -> bytes:
    threading = f"In-Reply-To: {reply_to}\r\nReferences: {reply_to}\r\n" if reply_to else ""
    return (
        f"Return-Path: <{sender}>\r\nFrom: {sender}\r\nTo: helpdesk@{DOMAIN}\r\n"
        f"Subject: {subject}\r\nMessage-ID: <{n}@{DOMAIN}>\r\n{threading}{extra}"
        f"Date: Mon, 1 Jan 2026 10:00:00 +0000\r\n\r\n{body}\r\n"
    ).encode()


def working_moment(rng: random.Random, day: date) -> float:
    """Mostly in office hours, sometimes early, late or at the weekend."""
    hour = rng.choice([7, 8, 9, 9, 10, 10, 11, 11, 12, 14, 14, 15, 15, 16, 16, 17, 19])
    return datetime.combine(day, time(hour, rng.randrange(60)), ZONE).timestamp()


def request_mail(
    rng: random.Random, n: int, team: str, arrival: float, end: float
) -> Iterator[Mail]:
    """One request's mail: the request, staff steps, the requester's answers."""
    root = f"<req{n}@{DOMAIN}>"
    who = f"user{rng.randrange(60)}@{DOMAIN}"
    staff = f"{STAFF[team]}@{DOMAIN}"
    subject = rng.choice(SUBJECTS[team])
    yield Mail(
        arrival, message(f"req{n}", who, subject, "Hello, could you please help me with this?")
    )
    at = arrival + rng.choice([0.3, 0.8, 1.5, 3, 5, 9, 20, 30]) * 3600
    yield Mail(
        at,
        message(f"take{n}", staff, f"Re: {subject}", "#take #in-progress\n\nOn it.", reply_to=root),
    )
    if rng.random() < 0.25:
        at += rng.uniform(0.5, 6) * 3600
        text = "#waiting\n\nCould you tell me the room number?"
        yield Mail(at, message(f"wait{n}", staff, f"Re: {subject}", text, reply_to=root))
        at += rng.uniform(1, 30) * 3600
        yield Mail(
            at,
            message(f"answer{n}", who, f"Re: {subject}", "It is room 214.", reply_to=root),
            root,
        )
    at += rng.choice([0.5, 2, 4, 8, 20, 30, 50, 80, 120]) * 3600
    if at >= end or rng.random() < 0.06:
        return  # still open at the end
    yield Mail(
        at, message(f"done{n}", staff, f"Re: {subject}", "#resolved\n\nDone.", reply_to=root)
    )
    roll = rng.random()
    if roll < 0.08:
        at += rng.uniform(2, 40) * 3600
        text = "Sorry, it is still not working, the problem is back."
        yield Mail(at, message(f"again{n}", who, f"Re: {subject}", text, reply_to=root), root)
        at += rng.uniform(1, 24) * 3600
        yield Mail(
            at,
            message(
                f"done2{n}", staff, f"Re: {subject}", "#resolved\n\nFixed again.", reply_to=root
            ),
        )
    elif roll < 0.55:
        at += rng.uniform(0.5, 30) * 3600
        score = rng.choices([5, 4, 3, 2, 1], [50, 25, 12, 8, 5])[0]
        rating = message(f"rate{n}", who, f"Re: {subject}", f"{score}/5", reply_to=root)
        yield Mail(at, rating, root)
    elif roll < 0.65:
        at += rng.uniform(0.5, 30) * 3600
        thanks = message(f"thanks{n}", who, f"Re: {subject}", "Thanks a lot!", reply_to=root)
        yield Mail(at, thanks, root)


def noise(rng: random.Random, n: int, arrival: float) -> Iterator[Mail]:
    """A robot now and then, and a re-delivered copy of an earlier request."""
    if n % 9 == 0:
        extra = "Auto-Submitted: auto-replied\r\n"
        yield Mail(
            arrival + 60,
            message(f"ooo{n}", f"away{n}@{DOMAIN}", "Out of office", "Away.", extra=extra),
        )
    if n % 13 == 0:
        extra = "List-Id: <news.example.test>\r\nPrecedence: list\r\n"
        yield Mail(
            arrival + 90, message(f"list{n}", f"news@{DOMAIN}", "Newsletter", "News.", extra=extra)
        )
    if n % 17 == 0:
        yield Mail(
            arrival + 7200, message(f"req{n}", "x@example.test", "copy", "a re-delivered copy")
        )


def history(seed: int = 7, start: date = START, weeks: int = WEEKS) -> list[Mail]:
    rng = random.Random(seed)
    end = datetime.combine(start + timedelta(weeks=weeks), time.min, ZONE).timestamp()
    found: list[Mail] = []
    n = 0
    for offset in range(weeks * 7):
        day = start + timedelta(days=offset)
        for _ in range(rng.randint(1, 3) if day.weekday() >= 5 else rng.randint(6, 12)):
            n += 1
            team = rng.choices(list(STAFF), [5, 2, 3])[0]
            arrival = working_moment(rng, day)
            found += [m for m in request_mail(rng, n, team, arrival, end) if m.at < end]
            found += noise(rng, n, arrival)
    return sorted(found, key=lambda m: m.at)


def fill(directory: Path, *, seed: int = 7, start: date = START, weeks: int = WEEKS) -> Path:
    """Write DIR/mailer.toml and fill DIR/mailer.sqlite3 with ``weeks`` weeks; the config."""
    config = write_config(directory)
    fill_store(
        load_settings(config, environ={}, reach_secrets=False), seed=seed, start=start, weeks=weeks
    )
    return config


def fill_store(
    settings: Settings, *, seed: int = 7, start: date = START, weeks: int = WEEKS
) -> None:
    """Fill the store of ``settings`` (its config holds ``DESK``) with ``weeks`` weeks."""
    store = open_store(settings.store)
    try:
        mails = history(seed, start, weeks)
        with store.transaction():
            store.set_mailbox_state(settings.imap.mailbox, MailboxState(1, 0, mails[0].at - 86400))
        pipeline = Pipeline(settings, store, templates.make_environment(settings))
        for uid, mail in enumerate(mails, 1):
            state = store.mailbox_state(settings.imap.mailbox)
            assert state is not None
            ref = MailboxRef(settings.imap.mailbox, 1, uid)
            raw = answering_our_mail(store, mail) if mail.answers else mail.raw
            pipeline.process_batch([InboundMail(ref, mail.at, raw, len(raw))], state, mail.at + 2)
            send_all(store, mail.at + 2, random.Random(uid))
    finally:
        store.close()


def answering_our_mail(store: Store, mail: Mail) -> bytes:
    """A requester's reply as a mail client writes it: in reply to the last mail we sent them
    in that request (which proves it is theirs), not to their own first message."""
    thread = store.thread_by_message_ids([mail.answers])
    ours = [m for m in store.thread_messages(thread.id) if m.direction == "out"] if thread else []
    to_them = [m.key for m in ours if m.decision in ("receipt", "progress", "answer", "status")]
    if not to_them:
        return mail.raw
    return mail.raw.replace(mail.answers.encode(), to_them[-1].encode())


def send_all(store: Store, now: float, rng: random.Random) -> None:
    """What was queued is accepted by "SMTP" a few seconds later."""
    while rows := store.due(now):
        for row in rows:
            store.mark_sent(row.id, now + rng.uniform(1, 40), copy_wanted=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.demo.history", description=__doc__)
    parser.add_argument("directory", type=Path)
    parser.add_argument(
        "--png", type=Path, help="then draw the report's charts into this directory"
    )
    args = parser.parse_args(argv)
    logs.configure(json=False, verbose=False)
    logging.getLogger().setLevel(logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    config = fill(args.directory)
    print(f"filled {args.directory / 'mailer.sqlite3'}")
    if args.png:
        until = (START + timedelta(weeks=WEEKS)).isoformat()
        cmd = [sys.executable, "-m", "mailer", "--config", str(config), "report"]
        cmd += ["--since", START.isoformat(), "--until", until, "--png", str(args.png)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
