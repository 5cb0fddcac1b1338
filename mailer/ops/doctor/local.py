"""Local checks of ``mailer doctor``: the store and the templates.

The store is looked at the way the daemon will use it, yet left as it was: a throw-away
SQLite file in its directory proves that SQLite can write there (WAL included), and the
store itself, when it exists, is opened read-write and a write transaction begun and rolled
back. The daemon's lock file is never taken and a missing store is not created.
"""

from __future__ import annotations

from pathlib import Path

from mailer.config.validate import check_templates
from mailer.errors import (
    StoreBusy,
    StoreCorrupt,
    StoreEmpty,
    StoreError,
    StoreReadOnly,
    StoreUnavailable,
)
from mailer.ops.doctor.checklist import Check, Outcome, Step, fail, ok, run_chain, warn
from mailer.settings import Settings
from mailer.store import SCHEMA_VERSION
from mailer.store.probe import probe_directory, probe_file

BUSY_TIMEOUT = 2.0  # seconds: a daemon writing a batch holds the write lock this long at most
_OWNERSHIP = (
    "make it writable by the user mailer runs as (systemd: StateDirectory=mailer), "
    "or set [store] path elsewhere"
)


def store_checks(path: Path) -> list[Check]:
    directory = path.parent
    steps = [
        Step("directory", f"store directory {directory} is writable", lambda: _directory(path)),
        Step("store", f"store {path} opens read-write", lambda: _database(path)),
    ]
    return list(run_chain("store", steps))


def template_checks(settings: Settings) -> list[Check]:
    """``mailer check``'s template problems, one line each (they carry PATH:LINE)."""
    name = "templates render"
    try:
        problems = check_templates(settings)
    except Exception as exc:
        return [Check("templates", name, "fail", f"{type(exc).__name__}: {exc}")]
    if not problems:
        languages = ", ".join(settings.service.languages)
        return [Check("templates", name, "ok", f"every template, in {languages}")]
    return [Check("templates", name, "warn" if p.warning else "fail", str(p)) for p in problems]


def _directory(path: Path) -> Outcome:
    directory = path.parent
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return fail(
            f"{existing} is not a directory",
            "set [store] path to a file in a directory, e.g. /var/lib/mailer/mailer.sqlite3",
        )
    found = _try_sqlite(existing)
    if found.status != "ok" or existing == directory:
        return found
    return ok(f"does not exist yet; mailer creates it in {existing}, which is writable")


def _try_sqlite(directory: Path) -> Outcome:
    """Create, write (WAL) and remove a throw-away database in ``directory``."""
    try:
        mode = probe_directory(directory)
    except OSError as exc:
        return fail(f"cannot create a file in {directory}: {exc.strerror or exc}", _OWNERSHIP)
    except StoreError as exc:
        return fail(
            f"SQLite cannot write in {directory}: {exc}",
            "a read-only or network file system? put the store on a local disk",
        )
    if mode.lower() != "wal":
        return warn(
            f"the file system of {directory} does not support SQLite's WAL mode",
            "put the store on a local disk",
        )
    return ok("a test database was written and removed")


def _database(path: Path) -> Outcome:
    if not path.exists():
        return ok("does not exist yet: the daemon creates it at its first start")
    if not path.is_file():
        return fail(f"{path} is not a file", "set [store] path to the SQLite file")
    found = probe_file(path, timeout=BUSY_TIMEOUT)
    error = found.error
    if not found.opened:
        return fail(f"cannot open it: {error}", _OWNERSHIP)
    if isinstance(error, StoreBusy):
        return warn(f"busy for {BUSY_TIMEOUT:g} s: the daemon is writing", "try again")
    if isinstance(error, StoreReadOnly):
        return fail(f"{path} is read-only", f"{_OWNERSHIP} (also its -wal and -shm files)")
    if isinstance(error, StoreUnavailable):
        return fail(f"SQLite: {error}", _OWNERSHIP)
    if isinstance(error, StoreEmpty):
        return fail(str(error), error.hint)
    if isinstance(error, StoreCorrupt) and "not a database" not in str(error):
        return fail(f"damaged: {error}", error.hint)
    if error is not None or found.version is None:
        return fail(f"not a SQLite database ({error})", "[store] path names some other file")
    if found.damage:
        return fail(f"damaged: {'; '.join(found.damage)}", StoreCorrupt.hint)
    version, expected = found.version, SCHEMA_VERSION
    if version > expected:
        return fail(
            f"schema version {version} is from a newer mailer (this one knows {expected})",
            "upgrade mailer, or restore the store from before the downgrade",
        )
    if version < expected:
        return ok(f"schema version {version}; the daemon upgrades it to {expected} at start")
    return ok(f"schema version {version}, {path.stat().st_size // 1024} KiB")
