"""``mailer doctor`` on a PostgreSQL store: connection, version, primary, schema, rights, lease."""

from __future__ import annotations

from pathlib import Path

from mailer.ops.doctor.postgres import pg_store_checks
from mailer.settings import StoreSettings
from mailer.store.postgres import PostgresStore
from sandbox.postgres import Postgres
from sandbox.processes import free_port


def settings(url: str) -> StoreSettings:
    return StoreSettings(
        path=Path("unused"), url=url, mailbox="it@example.test", prefix="IT", imap="it@h:1/INBOX"
    )


def test_a_fresh_database_is_ready_and_a_running_node_is_named(postgres: Postgres) -> None:
    where = settings(postgres.create_database("doctor_fresh"))
    names = ("connect", "version", "primary", "schema", "privileges", "lease")
    checks = dict(zip(names, pg_store_checks(where), strict=True))
    assert [c.status for c in checks.values()] == ["ok", "ok", "ok", "ok", "ok", "warn"]
    assert "PostgreSQL 1" in checks["version"].detail
    assert "creates it at its first start" in checks["schema"].detail
    node = PostgresStore(where, lock=True, node="node-a:1")
    assert node.take_lease()
    checks = dict(zip(names, pg_store_checks(where), strict=True))
    assert checks["schema"].status == "ok" and "schema version" in checks["schema"].detail
    assert checks["lease"].status == "ok" and checks["lease"].detail.startswith("node-a:1")
    node.close()


def test_a_server_out_of_reach_fails_with_what_to_check() -> None:
    checks = pg_store_checks(settings(f"postgresql://mailer@127.0.0.1:{free_port()}/none"))
    assert checks[0].status == "fail" and "pg_hba.conf" in checks[0].fix
    assert {c.status for c in checks[1:]} == {"skip"}
