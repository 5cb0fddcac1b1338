"""Fewer round trips per message on PostgreSQL, with the same results as SQLite's queries.

A mixin of ``PostgresStore``. SQLite answers in-process; every PostgreSQL statement is a
round trip to a server, so the hot path of a batch saves the ones it can without changing
what is stored or when it is visible:

- the arrival facts of the next messages (known? receipts to the sender today?) are read
  for a window of them in one statement (``expect_arrivals``);
- the reference counter is moved on and the request's row written in one statement (a
  CTE), whose row comes back (``RETURNING *``) as SQLite's INSERT gives it back; the next
  new requests of the transaction are held writes (``open_request``);
- a message's savepoint is not released one by one: the batch's COMMIT releases them all
  (``pgdb``), and a rollback to the newest still undoes that message alone;
- writes whose answer nobody reads (the SAVEPOINT, the message log, the request's events)
  are held and go with the next statement that needs an answer, or all together at the
  message's end (``settle``), so that an error in one is still that message's own.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

from mailer.model import Event, Status
from mailer.store.pgresult import Row
from mailer.store.sqlite import RECORDED, SqliteStore
from mailer.store.threads import CREATED

# SQLite's INSERT OR IGNORE + "a duplicate inbound counts as a repeat", in one statement
# that needs no answer: it can be held.
_RECORD = (
    f"WITH fresh AS (INSERT INTO messages({', '.join(RECORDED)})"
    f" VALUES ({', '.join(['%s'] * len(RECORDED))}) ON CONFLICT DO NOTHING RETURNING 1)"
    " INSERT INTO repeats(at) SELECT %s WHERE %s AND NOT EXISTS (SELECT 1 FROM fresh)"
)


# The arrival facts of a window of messages (see SqliteStore.arrival_facts), in one read.
_AHEAD = (
    "SELECT 'known' AS fact, key AS name, 1 AS n FROM messages"
    " WHERE direction = 'in' AND key = ANY(?)"
    " UNION ALL SELECT 'receipts', recipient, count(*) FROM outbox"
    " WHERE kind = 'receipt' AND recipient = ANY(?) AND created_at > ? GROUP BY recipient"
)


# A transaction's next new requests, held (PostgreSQL's text, as _RECORD).
_MOVE_COUNTER = "UPDATE meta SET value = %s WHERE key = 'next_reference'"
_CREATE_WITH_ID = "INSERT INTO threads(id, {}) VALUES ({})".format(
    ", ".join(CREATED), ", ".join(["%s"] * (1 + len(CREATED)))
)
OPEN_AHEAD = 24  # request ids taken with a transaction's first new request, for the next ones


@dataclass
class _Opening:
    """What a transaction's first new request told: the next reference number (its row is
    locked until the transaction ends), ids taken for the next requests, and a fresh row's
    columns (the defaults of what an INSERT does not name)."""

    next: int
    ids: list[int]
    template: Row


class RoundTrips:
    _fresh: tuple[int, Any] | None
    _opening: _Opening | None
    _expected: dict[tuple[str, str], tuple[bool, int]]
    _expected_since: float

    def _sql(self) -> Any:
        return cast(Any, self).db

    def next_reference_number(self, start: int) -> int:
        self._opening = None  # the counter moves here: what open_request knew is stale
        row = (
            self._sql()
            .execute(
                "INSERT INTO meta(key, value) VALUES ('next_reference', ?) ON CONFLICT (key) DO"
                " UPDATE SET value = (greatest(meta.value::bigint, ?) + 1)::text RETURNING value",
                (str(start + 1), start),
            )
            .fetchone()
        )
        return int(row["value"]) - 1

    def open_request(self, prefix: str, start: int, **fields: Any) -> int:
        """The reference counter moved on and the request's row written: in one statement
        for the first request of a transaction, which also takes ids for the next ones;
        then held (no round trip), since the counter's row stays locked by this transaction
        until it ends, and the first row gave the columns' defaults."""
        status: Status = fields["status"]
        values = {**fields, "status": status.value}
        db, opening = self._sql(), self._opening
        if opening is None or not opening.ids or not db.in_transaction:
            return self._open_first(prefix, start, values)
        number, thread_id = max(opening.next, start), opening.ids.pop()
        row = Row({**opening.template, **values, "id": thread_id})
        row["reference"] = f"{prefix}-{number}"
        db.hold(_MOVE_COUNTER, (str(number + 1),))
        db.hold(_CREATE_WITH_ID, tuple(row[name] for name in ("id", *CREATED)))
        opening.next = number + 1
        self._fresh = (thread_id, row)
        return thread_id

    def _open_first(self, prefix: str, start: int, values: dict[str, Any]) -> int:
        names = CREATED[1:]  # the reference is made in the statement
        db = self._sql()
        spare = OPEN_AHEAD if db.in_transaction else 0
        row = db.execute(
            "WITH ref AS (INSERT INTO meta(key, value) VALUES ('next_reference', ?)"
            " ON CONFLICT (key) DO UPDATE SET value = (greatest(meta.value::bigint, ?) + 1)"
            f"::text RETURNING value), made AS (INSERT INTO threads(reference, {', '.join(names)})"
            f" SELECT ? || '-' || (ref.value::bigint - 1)::text, {', '.join('?' * len(names))}"
            " FROM ref RETURNING *) SELECT made.*, ARRAY(SELECT"
            " nextval(pg_get_serial_sequence('threads', 'id')) FROM generate_series(1, ?))"
            " AS spare_ids FROM made",
            (str(start + 1), start, prefix, *(values[name] for name in names), spare),
        ).fetchone()
        ids = row.pop("spare_ids")
        number = int(row["reference"].rsplit("-", 1)[1])
        self._opening = _Opening(number + 1, sorted(ids, reverse=True), row) if ids else None
        self._fresh = (int(row["id"]), row)
        return int(row["id"])

    def expect_arrivals(self, arrivals: Sequence[tuple[str, str | None]], since: float) -> None:
        """The arrival facts of the next messages in one statement instead of one each.

        Only a message whose key and recipient no other of them has is answered from it:
        nothing written before its turn in this transaction can change its answer (its key
        is recorded only by itself, and receipts go only to a message's own recipient)."""
        self._expected = {}
        keys = Counter(key for key, _ in arrivals)
        recipients = Counter((to or "").lower() for _, to in arrivals if to)
        alone = [
            (key, (to or "").lower())
            for key, to in arrivals
            if keys[key] == 1 and (not to or recipients[to.lower()] == 1)
        ]
        if len(alone) < 2 or not self._sql().in_transaction:
            return  # one message: its own arrival_facts is the same one round trip
        keys_, recipients_ = [k for k, _ in alone], [to for _, to in alone if to]
        rows = self._sql().execute(_AHEAD, (keys_, recipients_, since)).fetchall()
        known = {r["name"] for r in rows if r["fact"] == "known"}
        sent = {r["name"]: int(r["n"]) for r in rows if r["fact"] == "receipts"}
        self._expected = {(k, to): (k in known, sent.get(to, 0)) for k, to in alone}
        self._expected_since = since

    def arrival_facts(self, key: str, recipient: str | None, since: float) -> tuple[bool, int]:
        facts = self._expected.pop((key, (recipient or "").lower()), None)
        if facts is not None and since == self._expected_since:
            return facts
        answer: tuple[bool, int] = SqliteStore.arrival_facts(cast(Any, self), key, recipient, since)
        return answer

    def enqueue(self, **fields: Any) -> int:
        """Held inside a transaction (its id is not read there: it answers 0)."""
        with self._sql().holding():
            return int(SqliteStore.enqueue(cast(Any, self), **fields))

    # ---- writes held for the next round trip -------------------------------------------

    def record_message(self, **fields: Any) -> int:
        """As SQLite's; inside a transaction it is held, and answers -1 (not read there)."""
        db = self._sql()
        if not db.in_transaction or db.borrowed is not None:
            return SqliteStore.record_message(cast(Any, self), **fields)
        values = {name: None for name in RECORDED} | fields
        values["automatic"] = int(bool(values["automatic"]))
        db.hold(
            _RECORD, (*(values[n] for n in RECORDED), values["at"], values["direction"] == "in")
        )
        return -1

    def add_event(self, thread_id: int, at: float, event: Event, message_key: str | None) -> None:
        with self._sql().holding():
            SqliteStore.add_event(cast(Any, self), thread_id, at, event, message_key)

    def settle(self) -> None:
        self._sql().flush()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        try:
            with SqliteStore.transaction(cast(Any, self)):
                yield
        finally:
            self._fresh = None
            self._expected = {}
            self._opening = None

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[Any]:
        """SQLite's; a message rolled back takes its counter move with it: the next new
        request asks the server again."""
        with SqliteStore.savepoint(cast(Any, self)) as savepoint:
            try:
                yield savepoint
            except BaseException:
                self._opening = None
                raise
            if not savepoint.active:  # rolled back in the block (a failed message)
                self._opening = None
