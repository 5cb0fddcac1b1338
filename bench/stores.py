"""The drain benchmark on both stores, in the same run: SQLite beside PostgreSQL.

    .venv/bin/python -m bench.stores [--count 1000] [--rounds 2]

Each round seeds the shared mailbox with N requests (distinct senders), then ``mailer run
--once`` drains it on a fresh SQLite store, then the same on a fresh PostgreSQL database
(a throw-away local cluster, TCP on loopback, as a remote one would be reached); the order
alternates between rounds. The rate is requests per second from the start of ``run --once``
to the last receipt saved in a requester's mailbox (as ``bench.receipts throughput``); the
store is created before (``mailer threads``), so its first migration is not timed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.receipts import _seed, _wait_count
from sandbox.postgres import Postgres
from sandbox.servers import MailSandbox
from tests.integration.helpers import write_config


def drain(sandbox: MailSandbox, directory: Path, count: int, url: str | None) -> float:
    """Requests per second of one ``run --once`` over ``count`` waiting requests."""
    sandbox.reset()
    _seed(sandbox, count)
    directory.mkdir(parents=True)
    config = write_config(directory, sandbox)
    if url is not None:
        config.write_text(config.read_text().replace('path = "mailer.sqlite3"', f'url = "{url}"'))
    mailer = [sys.executable, "-m", "mailer", "--config", str(config)]
    # the store exists already, as it does in production: its first creation is not timed
    subprocess.run([*mailer, "threads"], capture_output=True, check=True)
    started = time.time()
    with open(directory / "mailer.log", "wb") as log:
        code = subprocess.run(
            [*mailer, "--json-logs", "run", "--once"],
            stdout=log, stderr=subprocess.STDOUT, check=False,
        ).returncode  # fmt: skip
    if code != 0:
        raise RuntimeError(f"run --once exited {code}; see {directory / 'mailer.log'}")
    _wait_count(sandbox, "alice", count, timeout=max(60, count / 20))
    last = max(t for t, user, _, _ in sandbox.deliveries() if user == "alice")
    return count / (last - started)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-stores-", dir="/tmp"))
    rates: dict[str, list[float]] = {"sqlite": [], "postgres": []}
    with MailSandbox() as sandbox, Postgres.start() as pg:
        for round_ in range(args.rounds):
            order = ["sqlite", "postgres"] if round_ % 2 == 0 else ["postgres", "sqlite"]
            for store in order:
                url = pg.create_database(f"bench_{round_}") if store == "postgres" else None
                rate = drain(sandbox, root / f"{store}-{round_}", args.count, url)
                rates[store].append(rate)
                print(f"round {round_ + 1}: {store:<8} {args.count} requests, {rate:.0f}/s")
    sqlite, postgres = (statistics.median(rates[s]) for s in ("sqlite", "postgres"))
    print(
        f"drain: SQLite {sqlite:.0f} requests/s, PostgreSQL {postgres:.0f} requests/s "
        f"(median of {args.rounds}); PostgreSQL at {postgres / sqlite:.2f} x SQLite's rate"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
