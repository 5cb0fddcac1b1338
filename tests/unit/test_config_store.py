"""``[store] url``: a PostgreSQL store in place of ``path``, its password, who the store is for."""

from __future__ import annotations

from pathlib import Path

from mailer.config.load import check_settings

BASE = """[service]
name = "IT Help Desk"
address = "IT-Help@example.test"
reference_prefix = "IT"
[imap]
host = "Mail.example.test"
username = "it"
password = "secret"
[smtp]
host = "mail.example.test"
[store]
"""


def load(tmp_path: Path, store: str) -> tuple[object, list[str]]:
    (tmp_path / "mailer.toml").write_text(BASE + store)
    settings, problems = check_settings(tmp_path / "mailer.toml", environ={})
    return settings, [str(p) for p in problems if not p.warning]


def test_a_url_takes_the_place_of_path_and_the_store_knows_its_mailbox(tmp_path: Path) -> None:
    (tmp_path / "store.password").write_text("s3cret\n")
    (tmp_path / "store.password").chmod(0o600)
    url = "postgresql://mailer@db1.example.test,db2.example.test/mailer?target_session_attrs=read-write"
    settings, errors = load(tmp_path, f'url = "{url}"\npassword_file = "store.password"\n')
    assert errors == []
    store = settings.store  # type: ignore[attr-defined]
    assert (store.url, store.password) == (url, "s3cret")
    assert (store.mailbox, store.prefix) == ("it-help@example.test", "IT")
    assert store.imap == "it@mail.example.test:993/INBOX"
    assert store.where == url


def test_path_alone_stays_sqlite(tmp_path: Path) -> None:
    settings, errors = load(tmp_path, 'path = "mailer.sqlite3"\n')
    assert errors == [] and settings.store.url is None  # type: ignore[attr-defined]


def test_a_url_that_is_not_postgresql_and_a_missing_store_are_problems(tmp_path: Path) -> None:
    _, errors = load(tmp_path, 'url = "mysql://x/y"\n')
    assert any("PostgreSQL URL" in e for e in errors)
    _, errors = load(tmp_path, "")
    assert any("set path (a SQLite file) or url (PostgreSQL)" in e for e in errors)


def test_a_url_with_a_password_is_shown_without_it(tmp_path: Path) -> None:
    settings, _ = load(tmp_path, 'url = "postgresql://mailer:pw@db/mailer"\n')
    assert settings.store.where == "postgresql://mailer@db/mailer"  # type: ignore[attr-defined]
