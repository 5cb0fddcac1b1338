"""Versioned schema migrations for the SQLite store.

Each entry of MIGRATIONS moves the schema one version up; a store is never rewritten in
place by hand. ``PRAGMA user_version`` holds the version reached.
"""

from __future__ import annotations

import sqlite3

from mailer.errors import StoreOutdated

MIGRATIONS: tuple[str, ...] = (
    # 1: the receipt loop
    """
    CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE mailboxes(
        name TEXT PRIMARY KEY,
        uidvalidity INTEGER NOT NULL,
        last_uid INTEGER NOT NULL,
        first_seen REAL NOT NULL
    );
    CREATE TABLE threads(
        id INTEGER PRIMARY KEY,
        reference TEXT NOT NULL UNIQUE COLLATE NOCASE,
        requester TEXT NOT NULL,
        requester_name TEXT,
        subject TEXT,
        category TEXT,
        team TEXT,
        team_address TEXT,
        priority TEXT,
        rule TEXT,
        language TEXT,
        status TEXT NOT NULL,
        root_message_id TEXT,
        auto_blocked INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX threads_status ON threads(status, team);
    CREATE TABLE messages(
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
        thread_id INTEGER REFERENCES threads(id),
        mailbox TEXT,
        uidvalidity INTEGER,
        uid INTEGER,
        sender TEXT,
        subject TEXT,
        at REAL NOT NULL,
        internaldate REAL,
        automatic INTEGER NOT NULL DEFAULT 0,
        decision TEXT,
        reason TEXT,
        rule TEXT,
        language TEXT,
        size INTEGER,
        defects TEXT,
        UNIQUE(key, direction)
    );
    CREATE INDEX messages_thread ON messages(thread_id, at);
    CREATE TABLE outbox(
        id INTEGER PRIMARY KEY,
        thread_id INTEGER REFERENCES threads(id),
        message_id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        recipient TEXT NOT NULL,
        envelope_sender TEXT NOT NULL,
        raw BLOB NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt REAL NOT NULL,
        last_error TEXT,
        bounced INTEGER NOT NULL DEFAULT 0,
        copy_status TEXT,
        created_at REAL NOT NULL,
        sent_at REAL
    );
    CREATE INDEX outbox_due ON outbox(status, next_attempt);
    CREATE INDEX outbox_recipient ON outbox(kind, recipient, created_at);
    CREATE INDEX outbox_copy ON outbox(copy_status);
    CREATE TABLE failures(
        mailbox TEXT NOT NULL,
        uidvalidity INTEGER NOT NULL,
        uid INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        last_error TEXT,
        quarantined INTEGER NOT NULL DEFAULT 0,
        updated_at REAL NOT NULL,
        PRIMARY KEY(mailbox, uidvalidity, uid)
    );
    CREATE TABLE pending_moves(
        mailbox TEXT NOT NULL,
        uidvalidity INTEGER NOT NULL,
        uid INTEGER NOT NULL,
        PRIMARY KEY(mailbox, uidvalidity, uid)
    );
    """,
    # 2: staff keywords, progress mail, ratings
    """
    ALTER TABLE threads ADD COLUMN owner TEXT;
    ALTER TABLE threads ADD COLUMN owner_name TEXT;
    ALTER TABLE threads ADD COLUMN first_response_at REAL;
    ALTER TABLE threads ADD COLUMN resolved_at REAL;
    ALTER TABLE threads ADD COLUMN rating TEXT;
    ALTER TABLE threads ADD COLUMN rating_thanked INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE threads ADD COLUMN parent_reference TEXT;
    ALTER TABLE threads ADD COLUMN root_references TEXT;
    ALTER TABLE threads ADD COLUMN root_thread_index TEXT;
    CREATE TABLE events(
        id INTEGER PRIMARY KEY,
        thread_id INTEGER NOT NULL REFERENCES threads(id),
        at REAL NOT NULL,
        actor TEXT NOT NULL,
        kind TEXT NOT NULL,
        keyword TEXT,
        from_status TEXT,
        to_status TEXT,
        owner TEXT,
        note TEXT,
        internal INTEGER NOT NULL DEFAULT 0,
        message_key TEXT
    );
    CREATE INDEX events_thread ON events(thread_id, id);
    """,
    # 3: promises: due times in working time, reminders and escalations sent once
    """
    ALTER TABLE threads ADD COLUMN calendar TEXT;
    ALTER TABLE threads ADD COLUMN first_response_target TEXT;
    ALTER TABLE threads ADD COLUMN resolution_target TEXT;
    ALTER TABLE threads ADD COLUMN first_response_due REAL;
    ALTER TABLE threads ADD COLUMN resolution_due REAL;
    ALTER TABLE threads ADD COLUMN paused_at REAL;
    CREATE TABLE notices(
        thread_id INTEGER NOT NULL REFERENCES threads(id),
        kind TEXT NOT NULL,
        due REAL NOT NULL,
        recipient TEXT NOT NULL,
        queued_at REAL NOT NULL,
        PRIMARY KEY (thread_id, kind, due, recipient)
    );
    CREATE TABLE digests(
        recipient TEXT NOT NULL,
        day TEXT NOT NULL,
        queued_at REAL NOT NULL,
        PRIMARY KEY (recipient, day)
    );
    """,
    # 4: reports: duplicates avoided (only when), weekly report mails sent once
    """
    CREATE TABLE repeats(at REAL NOT NULL);
    CREATE INDEX repeats_at ON repeats(at);
    CREATE TABLE reports(
        recipient TEXT NOT NULL,
        week TEXT NOT NULL,
        queued_at REAL NOT NULL,
        PRIMARY KEY (recipient, week)
    );
    CREATE INDEX messages_at ON messages(direction, at);
    """,
)


SCHEMA_VERSION = len(MIGRATIONS)  # what this mailer writes and expects

# A store created from nothing awaits the daemon's first start (``awaits_first_start``): on
# both engines the creation writes this mark, and only the creation (a store being migrated
# served a mailbox already). ``mailer store copy`` knows it as the one row of a new store.
FIRST_START_KEY, FIRST_START_PENDING = "first_start", "pending"
AWAIT_FIRST_START = (
    f"INSERT INTO meta(key, value) VALUES ('{FIRST_START_KEY}', '{FIRST_START_PENDING}')"
)


def migrate(db: sqlite3.Connection) -> int:
    """Bring the schema up to date; returns the version reached."""
    while True:
        db.execute("BEGIN IMMEDIATE")  # read and bump the version under one write lock
        try:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            if version > len(MIGRATIONS):
                raise StoreOutdated(
                    f"this store has schema version {version}, newer than this mailer knows "
                    f"({len(MIGRATIONS)}): upgrade mailer or point [store] path elsewhere"
                )
            if version == len(MIGRATIONS):
                db.execute("COMMIT")
                return version
            for statement in MIGRATIONS[version].split(";"):
                if statement.strip():
                    db.execute(statement)
            if version == 0:  # a new store: the daemon's first start is still to come
                db.execute(AWAIT_FIRST_START)
            db.execute(f"PRAGMA user_version = {version + 1}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
