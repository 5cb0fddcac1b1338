"""``mailer doctor`` on a PostgreSQL store: the connection, the server's version, that it is
a primary, this mailbox's schema version, the privileges mailer needs, and who works it.

One short connection of its own (``store.pgprobe``); nothing is written or locked.
"""

from __future__ import annotations

from mailer.errors import StoreError
from mailer.ops.doctor.checklist import Check, Outcome, Step, fail, ok, run_chain, warn
from mailer.settings import StoreSettings
from mailer.store import SCHEMA_VERSION
from mailer.store.pgprobe import PgProbe, probe_pg

OLDEST = 120000  # PostgreSQL 12: identity columns, clock_timestamp(), SKIP LOCKED, make_interval


def pg_store_checks(settings: StoreSettings) -> list[Check]:
    found: list[PgProbe] = []

    def connect() -> Outcome:
        try:
            found.append(probe_pg(settings))
        except StoreError as exc:
            return fail(
                f"cannot connect: {exc}",
                "check [store] url (host, port, database, user), the password "
                "(password_file), pg_hba.conf, and that the server runs",
            )
        probe = found[0]
        return ok(f"as {probe.user} to database {probe.database}")

    steps = [
        Step("connect", f"PostgreSQL {settings.where} answers", connect),
        Step("version", "server version", lambda: _version(found[0])),
        Step("primary", "the server takes writes (a primary)", lambda: _primary(found[0])),
        Step("schema", "schema version of this mailbox", lambda: _schema(found[0])),
        Step("privileges", "mailer may create and write its tables", lambda: _rights(found[0])),
        Step("lease", "which node works this mailbox", lambda: _lease(found[0])),
    ]
    return list(run_chain("store", steps))


def _version(probe: PgProbe) -> Outcome:
    if probe.version_number < OLDEST:
        return fail(f"PostgreSQL {probe.server_version}", "mailer needs PostgreSQL 12 or newer")
    return ok(f"PostgreSQL {probe.server_version}")


def _primary(probe: PgProbe) -> Outcome:
    if probe.read_write:
        return ok("read-write")
    return fail(
        "a read-only server (a standby, or default_transaction_read_only)",
        "list every host in [store] url and add ?target_session_attrs=read-write",
    )


def _schema(probe: PgProbe) -> Outcome:
    version, expected = probe.schema_version, SCHEMA_VERSION
    if version is None:
        return ok(f"no schema {probe.schema} yet: the daemon creates it at its first start")
    if version > expected:
        return fail(
            f"schema version {version} is from a newer mailer (this one knows {expected})",
            "upgrade mailer on every node",
        )
    if version < expected:
        return ok(f"schema version {version}; the daemon upgrades it to {expected} at start")
    return ok(f"{probe.schema}, schema version {version}")


def _rights(probe: PgProbe) -> Outcome:
    if probe.schema_version is None and not probe.can_create:
        return fail(
            f"{probe.user} may not create schemas in {probe.database}",
            f"GRANT CREATE ON DATABASE {probe.database} TO {probe.user}",
        )
    if not probe.can_write:
        return fail(
            f"{probe.user} may not write the tables of {probe.schema}",
            f"GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {probe.schema} TO {probe.user}",
        )
    return ok("create (schemas) and write (tables)" if probe.can_create else "write (tables)")


def _lease(probe: PgProbe) -> Outcome:
    if probe.holder is None:
        return warn("no node works it right now", "start mailer run on one node or two")
    return ok(f"{probe.holder} (mailer status shows every mailbox)")
