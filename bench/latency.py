"""Delivery-to-receipt latency of ``mailer run`` on IDLE, in the patterns that exposed races.

    .venv/bin/python -m bench.receipts latency [--count 1000] [--sent-folder] [--pattern P]

Patterns: ``random`` (the default): COUNT requests at random gaps of 0-300 ms (bursts
included), then 100 at a steady one every 0.5 s; ``pairs``: COUNT pairs of requests
1.0-1.5 s apart, each pair followed by 6 s of quiet. Each request's delay is measured from
its save in the shared mailbox to its receipt's save in the requester's (Dovecot's µs log),
and every request must get exactly one receipt.
"""

from __future__ import annotations

import random
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from sandbox.servers import MailSandbox
from tests.integration.helpers import SHARED, parse, request, write_config


def deliver(sandbox: MailSandbox, n: int) -> str:
    sender = f"alice+{n}@example.test"
    raw = request(n, sender=sender)
    sandbox.send(raw, mail_from=sender, rcpt_to=[SHARED])
    return str(parse(raw)["Message-ID"])


def pattern(name: str, count: int) -> list[float]:
    """The gaps (seconds) to wait after each request."""
    rng = random.Random(20261206)
    if name == "pairs":
        return [g for _ in range(count) for g in (rng.uniform(1.0, 1.5), 6.0)]
    bursty = [0.0 if rng.random() < 0.2 else rng.uniform(0.0, 0.3) for _ in range(count)]
    return bursty + [0.5] * 100


def delays(sandbox: MailSandbox, sent: list[str]) -> tuple[list[float], int, int]:
    """(delays in seconds, requests without a receipt, receipts sent twice)."""
    saved = {mid: at for at, user, mid, _ in sandbox.deliveries() if user in ("helpdesk", "alice")}
    receipts: dict[str, list[str]] = {}
    for raw in sandbox.messages("alice"):
        msg = parse(raw)
        receipts.setdefault(str(msg["In-Reply-To"]), []).append(str(msg["Message-ID"]))
    found = [
        saved[receipts[m][0]] - saved[m]
        for m in sent
        if m in receipts and m in saved and receipts[m][0] in saved
    ]
    missing = sum(1 for m in sent if m not in receipts)
    twice = sum(len(r) - 1 for r in receipts.values())
    return found, missing, twice


def run(sandbox: MailSandbox, directory: Path, count: int, name: str, sent_folder: bool) -> None:
    extra = 'sent_folder = "Sent"' if sent_folder else ""
    config = write_config(directory, sandbox, imap_extra=extra)
    argv = [sys.executable, "-m", "mailer", "--config", str(config), "--json-logs", "run"]
    with open(directory / "daemon.log", "wb") as log:
        daemon = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        time.sleep(2)
        sent = []
        for n, gap in enumerate(pattern(name, count)):
            sent.append(deliver(sandbox, n))
            time.sleep(gap)
        sandbox.wait_for_messages("alice", len(sent), timeout=60)
        time.sleep(2)
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=15)
    found, missing, twice = delays(sandbox, sent)
    found.sort()
    p95 = found[max(0, int(len(found) * 0.95) - 1)]
    print(
        f"latency ({name}{', sent_folder' if sent_folder else ''}): {len(sent)} requests, "
        f"{missing} without receipt, {twice} twice; p50 {statistics.median(found) * 1000:.0f} ms, "
        f"p95 {p95 * 1000:.0f} ms, max {found[-1] * 1000:.0f} ms"
    )
