"""The fixed sections of mailer.toml: [service], [imap], [smtp], [store] and [limits].

Each section is a table of key -> converter, so the accepted keys and their checks sit
together. Defaults stay in settings.py: a key that is absent (or wrong, and reported) is
simply not passed to the dataclass. Paths are relative to the config file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailer.config import values as v
from mailer.config.staff import STAFF_KEYS, WORKFLOW_KEYS
from mailer.config.tables import Table, default
from mailer.config.transport import (
    CONNECTION_KEYS,
    SECRET_KEYS,
    check_carried,
    read_connection,
    read_secret,
)
from mailer.config.values import Convert
from mailer.settings import (
    ImapSettings,
    LimitsSettings,
    MetricsSettings,
    PromiseSettings,
    ServiceSettings,
    SmtpSettings,
    StoreSettings,
)

SERVICE_FIELDS: dict[str, Convert[Any]] = {
    "aliases": v.listing(v.address),
    "reference_prefix": v.prefix,
    "reference_start": v.integer(0),
    "subject_tag": v.choice("suffix", "prefix", "none"),
    "default_language": v.language,
    "languages": v.listing(v.language),
    "signature": v.text,
    "contacts": v.listing(v.string),
    "admin": v.address,
    "hostname": v.domain,
    "require_addressed": v.boolean,
    "no_reply_senders": v.listing(v.regex),
}
IMAP_FIELDS: dict[str, Convert[Any]] = {
    "mailbox": v.string,
    "backlog": v.duration(0),
    "batch_size": v.integer(1, 10000),
    "idle": v.boolean,
    "idle_renew": v.duration(1),
    "poll_interval": v.duration(1),
    "catchup_interval": v.duration(1),
    "move_to": v.string,
    "sent_folder": v.string,
}
SMTP_FIELDS: dict[str, Convert[Any]] = {
    "envelope_sender": v.envelope_sender,
    "retry_initial": v.duration(1),
    "retry_max": v.duration(1),
    "retry_for": v.duration(0),
    "helo": v.domain,
    "connections": v.integer(1, 20),
}
LIMITS_FIELDS: dict[str, Convert[Any]] = {
    "max_message_size": v.size,
    "receipts_per_sender": v.integer(1),
    "auto_per_thread": v.integer(1),
    "auto_per_thread_window": v.duration(1),
    "max_attempts": v.integer(1),
}
SECTION_KEYS: dict[str, tuple[str, ...]] = {
    "service": (
        "name",
        "address",
        *SERVICE_FIELDS,
        "rules_file",
        "templates_dir",
        "expectation",
        "calendar",
    ),
    "imap": (*CONNECTION_KEYS, *IMAP_FIELDS),
    "smtp": (*CONNECTION_KEYS, *SMTP_FIELDS),
    "store": ("path", "url", "password", "password_file", "password_env", "retention_days"),
    "metrics": ("listen",),
    "promises": ("remind_before", "tell_requester_when_late", "digest_at"),
    "reports": ("to", "teams", "weekday", "hour"),
    "limits": tuple(LIMITS_FIELDS),
    "staff": STAFF_KEYS,
    "workflow": WORKFLOW_KEYS,
}
# Where a key belongs, to say so when it is written in the wrong section.
HOME = {key: f"it belongs in [{name}]" for name, keys in SECTION_KEYS.items() for key in keys}


@dataclass(frozen=True)
class ServiceExtras:
    """[service] keys that land on Settings rather than ServiceSettings."""

    rules_file: Path | None = None
    templates_dir: Path | None = None
    expectation: str | None = None
    expectations: tuple[tuple[str, str], ...] = ()
    # The languages in effect even when [service] has errors, to check rules against them.
    languages: tuple[str, ...] = default(ServiceSettings, "languages")
    default_language: str = default(ServiceSettings, "default_language")
    calendar: str | None = None


def _fill(table: Table, out: dict[str, Any], converters: Mapping[str, Convert[Any]]) -> None:
    for key, convert in converters.items():
        table.fill(out, key, convert)


def read_service(table: Table, base: Path) -> tuple[ServiceSettings | None, ServiceExtras]:
    out: dict[str, Any] = {
        "name": table.require("name", v.string, ""),
        "address": table.require("address", v.address, ""),
    }
    _fill(table, out, SERVICE_FIELDS)
    if out.get("languages") == ():
        table.problem("languages", "must list at least one language")
    languages = out.get("languages") or default(ServiceSettings, "languages")
    if out.get("default_language", default(ServiceSettings, "default_language")) not in languages:
        key = "default_language" if "default_language" in table.data else "languages"
        chosen = out.get("default_language", default(ServiceSettings, "default_language"))
        table.problem(key, f"'{chosen}' is not in languages ({', '.join(languages)})")
    templates = table.path("templates_dir", base)
    if templates is not None and not templates.is_dir():
        table.problem("templates_dir", f"directory {templates} does not exist")
    main = out.get("default_language", default(ServiceSettings, "default_language"))
    texts: v.Texts = table.get("expectation", v.expectation(languages, main), v.NO_TEXTS)
    extras = ServiceExtras(
        table.path("rules_file", base),
        templates,
        *texts,
        languages,
        main,
        table.get("calendar", v.string, None),
    )
    return (ServiceSettings(**out) if table.ok else None), extras


def read_imap(
    table: Table, base: Path, environ: Mapping[str, str], reach: bool = True
) -> ImapSettings | None:
    out: dict[str, Any] = {}
    read_connection(table, "imap", base, out, ImapSettings)
    out["username"] = table.require("username", v.string, "")
    out["password"] = read_secret(table, base, environ, required=True, reach=reach)
    check_carried(table, "imap", out["password"])
    _fill(table, out, IMAP_FIELDS)
    if out.get("idle_renew", 0) > 29 * 60:
        message = "more than 29 minutes: servers may drop the IDLE connection first (RFC 2177)"
        table.problem("idle_renew", message, warning=True)
    return ImapSettings(**out) if table.ok else None


def read_smtp(
    table: Table, base: Path, environ: Mapping[str, str], reach: bool = True
) -> SmtpSettings | None:
    out: dict[str, Any] = {}
    read_connection(table, "smtp", base, out, SmtpSettings)
    table.fill(out, "username", v.string)
    required = "username" in table.data
    password = read_secret(table, base, environ, required=required, reach=reach)
    check_carried(table, "smtp", password)
    if password is not None:
        if "username" not in table.data:
            key = next(k for k in SECRET_KEYS if k in table.data)
            table.problem(key, "a password without username; add username or drop the password")
        out["password"] = password
    _fill(table, out, SMTP_FIELDS)
    initial = out.get("retry_initial", default(SmtpSettings, "retry_initial"))
    if initial > out.get("retry_max", default(SmtpSettings, "retry_max")):
        table.problem("retry_initial", "is larger than retry_max, so retry_max wins", warning=True)
    return SmtpSettings(**out) if table.ok else None


def read_store(
    table: Table, base: Path, environ: Mapping[str, str] | None = None, reach: bool = True
) -> StoreSettings | None:
    """``path``, else ``$STATE_DIRECTORY/mailer.sqlite3`` (systemd's StateDirectory=); or
    ``url``, a PostgreSQL store shared by many mailboxes and nodes, with its password from
    ``password``, ``password_file`` or ``password_env`` (or none: trust, .pgpass, a URL's)."""
    environ = environ or {}
    state = environ.get("STATE_DIRECTORY", "").split(":")[0]
    url = table.get("url", _store_url, None)
    if "path" not in table.data and not state and url is None:
        table.problem(
            "path",
            "required key is missing: set path (a SQLite file) or url (PostgreSQL), "
            "or run under systemd's StateDirectory=",
        )
        return None
    if url is not None and "path" in table.data:
        table.problem("path", "is not used with url: the store is the PostgreSQL one", warning=True)
    path = (
        table.path("path", base) if "path" in table.data else Path(state or base) / "mailer.sqlite3"
    )
    password = read_secret(table, base, environ, False, reach=reach) if url else None
    days = table.get("retention_days", v.integer(1, 36500), None)
    if not (table.ok and path):
        return None
    return StoreSettings(path=path, retention_days=days, url=url, password=password)


def _store_url(value: object) -> str:
    """A libpq URL: postgresql://user@host[:port][,host2...]/dbname[?params]."""
    found = v.string(value).strip()
    if not found.startswith(("postgresql://", "postgres://")):
        raise v.expected(
            'a PostgreSQL URL like "postgresql://mailer@db.example.test/mailer"', value
        )
    return found


def read_promise_settings(table: Table) -> PromiseSettings | None:
    from mailer.config.calendars import clock_time, worktime

    out: dict[str, Any] = {}
    _fill(table, out, {"remind_before": worktime, "digest_at": clock_time})
    table.fill(out, "tell_requester_when_late", v.boolean)
    return PromiseSettings(**out) if table.ok else None


def read_metrics(table: Table) -> MetricsSettings | None:
    listen = table.get("listen", _listen, None)
    return MetricsSettings(listen=listen) if table.ok else None


def _listen(value: object) -> str:
    """HOST:PORT; a non-loopback host is allowed (a scraper elsewhere) but must be named."""
    found = v.string(value).strip()
    host, _, port = found.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise v.expected('an address like "127.0.0.1:9101"', value)
    return found


def read_limits(table: Table) -> LimitsSettings | None:
    out: dict[str, Any] = {}
    _fill(table, out, LIMITS_FIELDS)
    return LimitsSettings(**out) if table.ok else None
