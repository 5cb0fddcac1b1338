"""What every test shares: logging left as it was found, and the hypothesis profiles.

``mailer.ops.logs.configure`` is global (structlog's chain, a handler on the root logger)
and binds the stream of the moment, often pytest's capture of one test: later tests must
neither write into that closed stream nor inherit the set-up.

Hypothesis profiles for the property tests (tests/unit/test_properties.py): ``ci`` (chosen
when CI=true, as .ci/run runs): derandomized, a fixed number of examples, no example
database: the same examples on every run, within the time CI allows. ``dev`` (the default
elsewhere): the same count, random, with the local database, so a developer's runs keep
looking further and replay what failed before. ``thorough``: ten times as many, for a
deliberate search (HYPOTHESIS_PROFILE=thorough). The tests scale their own counts from
``settings().max_examples``.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from hypothesis import HealthCheck, settings

from mailer.ops import logs
from mailer.store import Store, open_store
from sandbox.postgres import Postgres

EXAMPLES = 1000
_COMMON = {
    "deadline": None,  # two shared cores: a slow example is not a failure
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    "print_blob": True,
}
settings.register_profile("ci", max_examples=EXAMPLES, derandomize=True, database=None, **_COMMON)
settings.register_profile("dev", max_examples=EXAMPLES, **_COMMON)
settings.register_profile("thorough", max_examples=EXAMPLES * 10, **_COMMON)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "dev")
)


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    noisy = {name: logging.getLogger(name).level for name in logs.NOISY}
    yield
    structlog.configure(**saved)
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    for name, was in noisy.items():
        logging.getLogger(name).setLevel(was)


# ---- the store on both backends ------------------------------------------------------------
# Every store test runs on SQLite and on PostgreSQL (a throw-away cluster of Debian's
# postgresql package, started once per session when a test first needs it). A machine
# without PostgreSQL fails these tests: run scripts/setup.sh. Never a skip.

BACKENDS = ("sqlite", "postgres")


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    with Postgres.start() as cluster:
        yield cluster


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_where(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Path | str:
    """Where a test's store lives: a SQLite file, or a fresh PostgreSQL database's URL."""
    if backend == "sqlite":
        return tmp_path / "s.sqlite3"
    cluster: Postgres = request.getfixturevalue("postgres")
    return cluster.create_database(f"t_{next(_DATABASES)}")


_DATABASES = itertools.count(1)


@pytest.fixture
def store(store_where: Path | str) -> Iterator[Store]:
    """A test's store on each backend, closed after it (a module may define its own)."""
    opened = open_store(store_where)
    yield opened
    opened.close()
