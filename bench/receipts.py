"""Benchmarks of the receipt loop against real Dovecot + Postfix on loopback.

    .venv/bin/python -m bench.receipts throughput [--count 2000]
    .venv/bin/python -m bench.receipts latency [--count 1000] [--pattern P] [--sent-folder]
    .venv/bin/python -m bench.receipts idle [--seconds 30]
    .venv/bin/python -m bench.receipts memory [--count 20000]
    .venv/bin/python -m bench.receipts ceiling [--count 2000] [--rounds 3] [--script PATH]
    .venv/bin/python -m bench.receipts firststart [--count 100000]

throughput: N requests (distinct senders) waiting in the mailbox, then ``mailer run --once``;
receipts per second from start to the last receipt saved in a requester's mailbox.
latency: ``mailer run`` on IDLE, requests at random gaps with bursts then a steady 0.5 s,
or pairs 1.0-1.5 s apart with 6 s of quiet (bench/latency.py); delivery to receipt, from
Dovecot's µs log, and exactly one receipt each.
idle: CPU used by an idle daemon (IDLE, nothing arriving), in % of one core.
memory: peak and final RSS of ``mailer run --once`` over an N-message backlog.
firststart: a first start on N old messages (past the backlog window) and 20 new ones: the
time and peak RSS of ``mailer run --once`` (bench/firststart.py).
ceiling: ``mailer run --once`` beside the bare fetch-parse-reply loop, alternating on the same
freshly seeded mailbox; both rates and their ratio (bench/ceiling.py).
"""

from __future__ import annotations

import argparse
import os
import signal
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench import ceiling, firststart, latency
from sandbox.servers import MailSandbox
from tests.integration.helpers import SHARED, request, write_config

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _seed(sandbox: MailSandbox, count: int) -> None:
    with smtplib.SMTP("127.0.0.1", sandbox.smtp_port) as smtp:
        for n in range(count):
            sender = f"alice+{n}@example.test"
            smtp.sendmail(sender, [SHARED], request(n, sender=sender))
    _wait_count(sandbox, "helpdesk", count, timeout=max(60, count / 50))


def _wait_count(sandbox: MailSandbox, user: str, count: int, timeout: float) -> None:
    """Wait for ``count`` messages by STATUS, without fetching them (big mailboxes)."""
    deadline = time.monotonic() + timeout
    with sandbox.imap(user) as client:
        while client.folder_status("INBOX", [b"MESSAGES"])[b"MESSAGES"] < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{user}: fewer than {count} messages after {timeout} s")
            time.sleep(0.2)


def _mailer(config: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "mailer", "--config", str(config), "--json-logs", *args],
        stdout=open(config.with_suffix(".log"), "ab"),  # --json-logs: JSON lines on stdout
        stderr=subprocess.STDOUT,
    )


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def throughput(sandbox: MailSandbox, directory: Path, count: int) -> None:
    _seed(sandbox, count)
    config = write_config(directory, sandbox)
    started = time.time()
    code = _mailer(config, "run", "--once").wait()
    ran = time.time() - started
    _wait_count(sandbox, "alice", count, timeout=max(60, count / 20))
    last = max(t for t, user, _, _ in sandbox.deliveries() if user == "alice")
    total = last - started
    print(
        f"throughput: {count} requests, exit {code}; run --once {ran:.2f} s "
        f"({count / ran:.0f}/s); last receipt saved after {total:.2f} s ({count / total:.0f}/s)"
    )


def idle(sandbox: MailSandbox, directory: Path, seconds: float) -> None:
    config = write_config(directory, sandbox)
    daemon = _mailer(config, "run")
    time.sleep(3)
    before, t0 = _cpu_seconds(daemon.pid), time.monotonic()
    time.sleep(seconds)
    used, elapsed = _cpu_seconds(daemon.pid) - before, time.monotonic() - t0
    daemon.send_signal(signal.SIGTERM)
    started = time.monotonic()
    code = daemon.wait(timeout=10)
    print(
        f"idle: {used:.3f} s CPU in {elapsed:.0f} s = {100 * used / elapsed:.2f}% of a core; "
        f"SIGTERM -> exit {code} in {time.monotonic() - started:.2f} s"
    )


def memory(sandbox: MailSandbox, directory: Path, count: int) -> None:
    _seed(sandbox, count)
    config = write_config(directory, sandbox)
    proc = _mailer(config, "run", "--once")
    samples: list[float] = []

    def sample() -> None:
        while proc.poll() is None:
            try:
                samples.append(_rss_mb(proc.pid))
            except OSError:
                break
            time.sleep(0.2)

    watcher = threading.Thread(target=sample)
    watcher.start()
    proc.wait()
    watcher.join()
    quarter = samples[len(samples) // 4] if samples else 0.0
    print(
        f"memory: {count} backlog messages; RSS at 25% {quarter:.0f} MB, "
        f"peak {max(samples, default=0):.0f} MB, samples {len(samples)}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "what",
        choices=["throughput", "latency", "idle", "memory", "ceiling", "firststart", "all"],
    )
    parser.add_argument("--count", type=int)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pattern", choices=["random", "pairs"], default="random")
    parser.add_argument("--sent-folder", action="store_true", help="with [imap] sent_folder")
    parser.add_argument("--script", type=Path, default=ceiling.DEFAULT_SCRIPT)
    args = parser.parse_args()
    jobs = ["throughput", "latency", "idle", "memory"] if args.what == "all" else [args.what]
    for job in jobs:
        directory = Path(tempfile.mkdtemp(prefix=f"bench-{job}-", dir="/tmp"))
        with MailSandbox() as sandbox:
            if job == "throughput":
                throughput(sandbox, directory, args.count or 2000)
            elif job == "latency":
                latency.run(sandbox, directory, args.count or 1000, args.pattern, args.sent_folder)
            elif job == "firststart":
                firststart.first_start(sandbox, directory, args.count or 100_000)
            elif job == "ceiling":
                ceiling.compare(sandbox, directory, args.count or 2000, args.rounds, args.script)
            elif job == "idle":
                idle(sandbox, directory, args.seconds)
            else:
                memory(sandbox, directory, args.count or 20000)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
