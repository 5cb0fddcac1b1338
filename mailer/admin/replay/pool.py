"""Judge messages on every CPU: parsing is most of a replay's time, and it is per message.

Messages go to worker processes in small batches, in order, with only a few batches in
flight, so an mbox of any size is still read one message at a time and the rows come back
in the order the messages were read. Short runs stay in this process: starting workers
costs more than it saves.
"""

from __future__ import annotations

import os
import signal
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor

from mailer.admin.replay.judge import Judge, Row, judge_raw
from mailer.admin.replay.sources import RawMessage

PARALLEL_FROM = 400  # messages; fewer are judged in this process
BATCH_MESSAGES = 32
BATCH_BYTES = 4 * 1024 * 1024  # a batch of big messages stays small in memory
MAX_WORKERS = 8

_judges: tuple[Judge, Judge | None] | None = None  # set once in each worker


def workers_for(total: int) -> int:
    """How many worker processes to use for ``total`` messages; 0 means none."""
    if total < PARALLEL_FROM:
        return 0
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return min(cpus, MAX_WORKERS) if cpus > 1 else 0


def judged(
    messages: Iterable[RawMessage], new: Judge, old: Judge | None, workers: int
) -> Iterator[Row]:
    """The row of every message, in order; in ``workers`` processes when more than zero."""
    if workers <= 0:
        for m in messages:
            yield judge_raw(m.source, m.data, m.error, new, old)
        return
    try:
        pool = ProcessPoolExecutor(workers, initializer=_start, initargs=(new, old))
    except (OSError, NotImplementedError):  # no process semaphores here: one process it is
        yield from judged(messages, new, old, 0)
        return
    pending: deque[Future[list[Row]]] = deque()
    try:
        for batch in _batches(messages):
            pending.append(pool.submit(_judge_batch, batch))
            if len(pending) > 2 * workers:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
    finally:
        pool.shutdown(wait=not pending, cancel_futures=True)


def _batches(messages: Iterable[RawMessage]) -> Iterator[list[RawMessage]]:
    batch: list[RawMessage] = []
    size = 0
    for m in messages:
        batch.append(m)
        size += len(m.data or b"")
        if len(batch) >= BATCH_MESSAGES or size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _start(new: Judge, old: Judge | None) -> None:
    """Each worker keeps the judges; Ctrl-C is for the parent, which stops the pool."""
    global _judges
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _judges = (new, old)


def _judge_batch(batch: list[RawMessage]) -> list[Row]:
    assert _judges is not None, "worker started without its judges"
    new, old = _judges
    return [judge_raw(m.source, m.data, m.error, new, old) for m in batch]
