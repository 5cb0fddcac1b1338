"""mailer's drain beside the bare I/O ceiling, on the same freshly seeded mailbox, alternating.

    .venv/bin/python -m bench.receipts ceiling [--count 2000] [--rounds 3] [--script PATH]

The bare loop is ``shared/bench/ceiling.py`` (imapclient + stdlib email + aiosmtplib with 4
connections + SQLite; found beside the checkout, or give ``--script``). Each round seeds the
shared mailbox anew with the same N requests from distinct senders (IMAP APPEND, so seeding
costs seconds, not minutes), then runs one contestant from a fresh store; the order flips
every round so neither always runs on a warmer machine. Both are timed the same way: from
process start to the last reply saved in a requester's mailbox (Dovecot's µs log). The figure
is the ratio of the medians: absolute rates drift on a shared machine, the ratio much less.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from sandbox.servers import MailSandbox
from tests.integration.helpers import SHARED, request, write_config

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SCRIPT = ROOT.parent / "shared" / "bench" / "ceiling.py"


def seed(sandbox: MailSandbox, raws: Iterable[bytes], when: datetime | None = None) -> None:
    """The requests, straight into the shared mailbox over one IMAP connection (with
    INTERNALDATE ``when``, else now)."""
    with sandbox.imap("helpdesk") as client:
        for raw in raws:
            client.append("INBOX", raw, msg_time=when)


def contestant(who: str, sandbox: MailSandbox, directory: Path, script: Path) -> list[str]:
    if who == "mailer":
        config = write_config(directory, sandbox)
        return [sys.executable, "-m", "mailer", "--config", str(config), "run", "--once"]
    return [
        sys.executable, str(script), "--db", str(directory / "ceiling.sqlite"), "--lean",
        "--concurrency", "4", "--imap-port", str(sandbox.imap_port),
        "--smtp-port", str(sandbox.smtp_port), "--password", sandbox.password,
        "--from", SHARED,
    ]  # fmt: skip


def one_run(who: str, sandbox: MailSandbox, raws: list[bytes], base: Path, script: Path) -> float:
    """Requests per second, end to end, for one contestant on a freshly seeded mailbox."""
    sandbox.reset()
    seed(sandbox, raws)
    directory = Path(base / f"{who}-{time.time_ns()}")
    directory.mkdir()
    argv = contestant(who, sandbox, directory, script)
    started = time.time()
    with open(directory / "run.log", "wb") as log:
        code = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, check=False).returncode
    if code != 0:
        raise SystemExit(f"{who} exited {code}: see {directory / 'run.log'}")
    sandbox.wait_for_messages("alice", len(raws), timeout=max(60, len(raws) / 20))
    last = max(t for t, user, _, _ in sandbox.deliveries() if user == "alice")
    return len(raws) / (last - started)


def compare(sandbox: MailSandbox, base: Path, count: int, rounds: int, script: Path) -> None:
    if not script.is_file():
        raise SystemExit(f"no bare loop at {script}: give --script PATH")
    raws = [request(n, sender=f"alice+{n}@example.test") for n in range(count)]
    rates: dict[str, list[float]] = {"ceiling": [], "mailer": []}
    for r in range(rounds):
        order = ("ceiling", "mailer") if r % 2 == 0 else ("mailer", "ceiling")
        for who in order:
            rates[who].append(one_run(who, sandbox, raws, base, script))
            print(f"  round {r + 1}: {who:8} {rates[who][-1]:6.0f} requests/s", flush=True)
    bare, ours = statistics.median(rates["ceiling"]), statistics.median(rates["mailer"])
    print(
        f"ceiling: {count} requests, {rounds} rounds each, medians: bare loop {bare:.0f}/s, "
        f"mailer run --once {ours:.0f}/s, ratio {ours / bare:.2f}"
    )
