"""SQLite's exceptions become the store's own (``mailer.errors.StoreError`` and kin).

Callers never see ``sqlite3``: they catch ``StoreUnavailable`` (busy, full, I/O, read-only:
retry later), ``StoreCorrupt`` or ``StoreError``. The message stays SQLite's own words and
the original exception is chained as the cause.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from mailer.errors import (
    StoreBusy,
    StoreCorrupt,
    StoreError,
    StoreFull,
    StoreReadOnly,
    StoreUnavailable,
)

T = TypeVar("T")
NOT_A_DATABASE = (
    "[store] path names a file that is not a mailer store, or one whose first page was "
    "overwritten: point [store] path at the store, or put the last copy `mailer backup` made "
    "there (remove any -wal and -shm files beside it)"
)


def store_error(exc: sqlite3.Error) -> StoreError:
    """The store error that says what ``exc`` means for the caller."""
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError):
        name = getattr(exc, "sqlite_errorname", "")
        if "locked" in text or "busy" in text or name in ("SQLITE_BUSY", "SQLITE_LOCKED"):
            return StoreBusy(text)
        if name == "SQLITE_FULL" or "is full" in text:
            return StoreFull(text)
        if "readonly" in text or name.startswith("SQLITE_READONLY"):
            return StoreReadOnly(text)
        return StoreUnavailable(text)
    if type(exc) is sqlite3.DatabaseError:  # "file is not a database", "malformed"
        if "not a database" in text:
            return StoreCorrupt(text, hint=NOT_A_DATABASE)
        return StoreCorrupt(text)
    return StoreError(text)  # a constraint, a misuse: a bug, never retried as such


@contextlib.contextmanager
def sqlite_errors() -> Iterator[None]:
    """Within: any ``sqlite3.Error`` leaves as the matching ``StoreError``."""
    try:
        yield
    except sqlite3.Error as exc:
        raise store_error(exc) from exc


def _translating(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with sqlite_errors():
            return method(*args, **kwargs)

    return wrapper


def speaks_store_errors(cls: type[T]) -> type[T]:
    """Class decorator: ``__init__`` and every public method, inherited ones included, turn
    SQLite's exceptions into store errors. Context managers (``transaction``) do so inside
    themselves, around their own statements."""
    for name in ["__init__", *(n for n in dir(cls) if not n.startswith("_"))]:
        attr = inspect.getattr_static(cls, name)
        if inspect.isfunction(attr):
            setattr(cls, name, _translating(attr))
    return cls
