"""Hostile message shapes against real Dovecot + Postfix: time, peak RSS and what mailer does.

    .venv/bin/python -m bench.limits [--only NAME ...] [--timeout SECONDS]

For each shape (tests/hostile.py, the ones the tests use) the message is appended to the
shared mailbox, then ``mailer rules test FILE`` and ``mailer run --once`` run as child
processes: wall time and peak RSS (the child's own VmHWM at exit, tests/integration/measure.py),
and the decision the store recorded. Then a fresh daemon (``mailer run``, its own store) gets
SIGTERM 1 s after it connects, when the batch with the message has started: how long it takes
to exit (the daemon gives itself 5 s, then exits hard). Prints the README's resource table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sandbox.servers import MailSandbox
from tests import hostile
from tests.integration.helpers import mailer, start_daemon, stop_daemon, write_config
from tests.integration.measure import Measured, measured

MB = 1024 * 1024
SHAPES: dict[str, tuple[str, Callable[[], bytes]]] = {
    "cc20": ("20 MB Cc: (400,000 addresses)", lambda: hostile.big_cc(400_000)),
    "cc5": ("5 MB Cc: (100,000 addresses)", lambda: hostile.big_cc(100_000)),
    "deep": ("1,000 nested multiparts", lambda: hostile.deep_mime(1_000)),
    "text30": ("30 MB text message", lambda: hostile.big_text(30 * MB)),
    "file20": ("20 MB attachment", lambda: hostile.big_attachment(20 * MB)),
    "parts": ("100,000 MIME parts (4 MB)", lambda: hostile.many_parts(100_000)),
    "fields": ("200,000 header fields (5 MB)", lambda: hostile.many_fields(200_000)),
    "html": ("60 KB of unfinished HTML tags", lambda: hostile.unfinished_html(20_000)),
    "forward": ("20 MB attachment, forwarded", lambda: hostile.big_attachment(20 * MB)),
}
# forward: the team gets the request with its files ([workflow] forward_attachments).
FORWARD = """[workflow]
forward_attachments = true
[teams.it]
name = "IT Support"
address = "it-team@example.test"
[[rules]]
name = "everything"
team = "it"
"""


def _run(config: Path, timeout: float, *args: str) -> Measured | None:
    try:
        return measured(config, *args, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


def _decision(config: Path) -> str:
    rows = json.loads(mailer(config, "messages", "--json").stdout or "[]")
    return ", ".join(str(row.get("reason") or row.get("decision")) for row in rows) or "nothing"


def _sigterm(sandbox: MailSandbox, directory: Path) -> float:
    directory.mkdir()
    config = write_config(directory, sandbox)
    log = directory / "daemon.log"
    daemon = start_daemon(config, log=log)
    deadline = time.monotonic() + 30
    while "imap.connected" not in log.read_text(errors="replace"):
        if time.monotonic() > deadline:
            break
        time.sleep(0.01)
    time.sleep(1.0)
    try:
        return stop_daemon(daemon, timeout=120)[1]
    except subprocess.TimeoutExpired:
        return float("inf")
    finally:
        if daemon.poll() is None:
            daemon.kill()


def _cell(run: Measured | None, timeout: float) -> str:
    return f"> {timeout:.0f} s" if run is None else f"{run.seconds:.1f} s, {run.peak_mb:.0f} MB"


def measure(sandbox: MailSandbox, name: str, timeout: float) -> str:
    with tempfile.TemporaryDirectory(prefix=f"bench-limits-{name}-", dir="/tmp") as where:
        return _measure(sandbox, name, timeout, Path(where))


def _measure(sandbox: MailSandbox, name: str, timeout: float, directory: Path) -> str:
    title, build = SHAPES[name]
    raw = build()
    (directory / "message.eml").write_bytes(raw)
    sandbox.reset()
    sandbox.append("helpdesk", raw)
    del raw
    config = write_config(directory, sandbox, extra=FORWARD if name == "forward" else "")
    explained = _run(config, timeout, "rules", "test", str(directory / "message.eml"))
    once = _run(config, timeout, "run", "--once")
    stop = _sigterm(sandbox, directory / "sigterm")
    said = explained.output.splitlines()[0] if explained else "(timed out)"
    return (
        f"| {title} | {_cell(once, timeout)} | {_cell(explained, timeout)} "
        f"| {'> 120 s' if stop == float('inf') else f'{stop:.1f} s'} "
        f"| {_decision(config)} (rules test: {said}) |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="*", choices=sorted(SHAPES), default=list(SHAPES))
    parser.add_argument("--timeout", type=float, default=180)
    args = parser.parse_args()
    print("| shape | run --once: time, peak RSS | rules test: time, peak RSS | SIGTERM | outcome |")
    print("| --- | --- | --- | --- | --- |")
    with MailSandbox() as sandbox:
        for name in args.only:
            print(measure(sandbox, name, args.timeout), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
