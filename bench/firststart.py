"""A first start on a big mailbox: N old messages (past ``[imap] backlog``) and a few new.

    .venv/bin/python -m bench.receipts firststart [--count 100000]

The old messages are imported with an INTERNALDATE three days back, so the daemon's first
start records them as skipped (judged from their headers) and acknowledges only the new
ones. Prints the time of ``mailer run --once`` and its peak RSS (VmHWM), sampled until it
exits, and whether every new request got its receipt.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

from sandbox.bulk import import_messages
from sandbox.servers import MailSandbox
from tests.integration.helpers import request, write_config

NEW = 20


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def seed_old(sandbox: MailSandbox, count: int) -> None:
    """``count`` old requests straight into the shared mailbox (``doveadm import``: APPEND
    would take a quarter of an hour for 100,000)."""
    when = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    raws = (request(n, sender=f"old+{n}@example.test") for n in range(count))
    import_messages(sandbox.dir, "helpdesk", raws, when)


def first_start(sandbox: MailSandbox, directory: Path, count: int) -> None:
    started = time.time()
    seed_old(sandbox, count)
    for n in range(NEW):
        sandbox.append("helpdesk", request(count + n, sender=f"alice+{n}@example.test"))
    print(f"  seeded {count} old + {NEW} new messages in {time.time() - started:.0f} s")
    config = write_config(directory, sandbox)
    argv = [sys.executable, "-m", "mailer", "--config", str(config), "--json-logs", "run", "--once"]
    with open(directory / "run.log", "wb") as log:
        started = time.time()
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        peak = 0.0
        while proc.poll() is None:
            try:
                peak = max(peak, peak_rss_mb(proc.pid))
            except OSError:
                break
            time.sleep(0.1)
        ran = time.time() - started
    sandbox.wait_for_messages("alice", NEW, timeout=60)
    print(
        f"firststart: {count} old skipped, {NEW} new acknowledged; exit {proc.returncode}; "
        f"run --once {ran:.1f} s ({count / ran:.0f} messages/s), peak RSS {peak:.0f} MB"
    )
