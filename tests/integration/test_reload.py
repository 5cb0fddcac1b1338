"""Live reload while mail flows: a broken rules file changes nothing and is reported once,
a valid one is taken without a restart, and SIGHUP still works. Real Dovecot + Postfix."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sandbox.servers import MailSandbox
from tests.integration.helpers import (
    SHARED,
    parse,
    receipts,
    request,
    start_daemon,
    stop_daemon,
    write_config,
)

ADMIN = "carol@example.test"
TEAMS = '[teams.it]\nname = "IT"\n\n'
MATCH = '[rules.match]\nsubject = ["VPN"]\n'
OLD = TEAMS + '[[rules]]\nname = "vpn"\ncategory = "network"\nteam = "it"\n' + MATCH
UNCLOSED = TEAMS + '[[rules]]\nname = "vpn\ncategory = "network"\n' + MATCH
UNKNOWN_TEAM = TEAMS + '[[rules]]\nname = "vpn"\ncategory = "network"\nteam = "nope"\n' + MATCH
NEW = TEAMS + '[[rules]]\nname = "vpn-v2"\ncategory = "remote-access"\nteam = "it"\n' + MATCH
BY_SIGHUP = TEAMS + '[[rules]]\nname = "vpn-v3"\ncategory = "vpn"\nteam = "it"\n' + MATCH


class Flow:
    """Requests every 0.2 s from a thread, each from its own address (no daily cap)."""

    def __init__(self, sandbox: MailSandbox) -> None:
        self.sandbox = sandbox
        self.ids: list[str] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        n = 0
        while not self.stopping.wait(0.2):
            sender = f"alice+{n}@example.test"
            raw = request(n, sender=sender)
            self.sandbox.send(raw, mail_from=sender, rcpt_to=[SHARED])
            self.ids.append(str(parse(raw)["Message-ID"]))
            n += 1

    @contextmanager
    def running(self) -> Iterator[Flow]:
        self.thread.start()
        try:
            yield self
        finally:
            self.stopping.set()
            self.thread.join()


def events(log: Path, name: str) -> list[dict[str, Any]]:
    found = []
    for line in log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("event") == name:
            found.append(entry)
    return found


def wait_for(what: Callable[[], bool], timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, message
        time.sleep(0.1)


def wait_for_event(log: Path, name: str, count: int, timeout: float = 20.0) -> dict[str, Any]:
    """The ``count``-th event called ``name``, waiting for it."""
    wait_for(lambda: len(events(log, name)) >= count, timeout, f"no {count}x {name} in the log")
    return events(log, name)[count - 1]


def alerts(sandbox: MailSandbox) -> list[str]:
    return [str(m["Subject"]) for m in receipts(sandbox, "carol")]


def stamp(entry: dict[str, Any]) -> float:
    return dt.datetime.fromisoformat(entry["timestamp"]).timestamp()


def processed_after(log: Path, moment: float) -> int:
    return sum(stamp(e) > moment for e in events(log, "message.processed"))


def test_a_broken_rules_file_changes_nothing_while_mail_flows_and_is_reported_once(
    sandbox: MailSandbox, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(OLD)
    service = f'rules_file = "rules.toml"\nadmin = "{ADMIN}"'
    config = write_config(tmp_path, sandbox, service_extra=service)
    log = config.with_suffix(".log")
    daemon = start_daemon(config)
    flow = Flow(sandbox)
    try:
        time.sleep(1.5)
        with flow.running():
            time.sleep(0.5)
            # (a) broken by an editor, no signal: refused, reported once, old rules kept
            rules.write_text(UNCLOSED)
            refused = wait_for_event(log, "reload.refused", 1)
            assert refused["level"] == "error"
            assert refused["problems"] == [f"{rules}:5: TOML syntax error: Illegal character '\\n'"]
            wait_for(lambda: len(alerts(sandbox)) == 1, 10, "no alert for carol")
            os.utime(rules)  # the same broken file, saved again: no second mail
            wait_for_event(log, "reload.refused", 2)
            rules.write_text(UNKNOWN_TEAM)  # another broken version: one more mail
            refused = wait_for_event(log, "reload.refused", 3)
            assert refused["problems"] == [
                f"{rules}:7: [rules] team: unknown team 'nope'; "
                "define it as [teams.nope] or use one of the keys"
            ]
            wait_for(lambda: len(alerts(sandbox)) == 2, 10, "no alert for the second version")
            # (b) a valid change is taken while mail flows
            rules.write_text(NEW)
            done = wait_for_event(log, "reload.done", 1)
            assert done["after_refusal"] is True
            # mail judged by the new rules for a while (a count, not a time: a reload is quick)
            wait_for(lambda: processed_after(log, stamp(done)) >= 6, 10, "no mail after the change")
            # (c) SIGHUP reloads at once, and the watcher does not reload again
            rules.write_text(BY_SIGHUP)
            daemon.send_signal(signal.SIGHUP)
            sighup = wait_for_event(log, "reload.done", 2, timeout=1.5)
            time.sleep(1)
        sandbox.wait_for_messages("alice", len(flow.ids), timeout=20)
        time.sleep(3)  # the watcher looks twice more after the write: no second reload
    finally:
        code, _ = stop_daemon(daemon)
    assert code == 0
    assert len(events(log, "reload.done")) == 2
    assert len(events(log, "reload.refused")) == 3
    assert alerts(sandbox) == [
        "[mailer] rules change refused: rules.toml line 5",
        "[mailer] rules change refused: rules.toml line 7",
    ]
    # every request got exactly one receipt, classified by the rules in force at the time
    got = Counter(str(m["In-Reply-To"]) for m in receipts(sandbox, "alice"))
    assert sorted(got) == sorted(flow.ids) and set(got.values()) == {1}
    db = sqlite3.connect(tmp_path / "mailer.sqlite3")
    rows = db.execute(
        "SELECT m.at, t.rule, t.category FROM messages m JOIN threads t ON t.id = m.thread_id"
        " WHERE m.direction = 'in' ORDER BY m.at"
    ).fetchall()
    assert len(rows) == len(flow.ids)
    first_refusal = stamp(events(log, "reload.refused")[0])
    changed, by_signal = stamp(done), stamp(sighup)
    expected = [
        ("vpn", "network")
        if at < changed
        else ("vpn-v2", "remote-access")
        if at < by_signal
        else ("vpn-v3", "vpn")
        for at, _, _ in rows
    ]
    assert [(rule, category) for _, rule, category in rows] == expected
    broken = [at for at, _, _ in rows if first_refusal < at < changed]
    assert len(broken) >= 15  # mail kept flowing while the file was broken
    assert sum(changed < at < by_signal for at, _, _ in rows) >= 5
    assert sum(at > by_signal for at, _, _ in rows) >= 3
