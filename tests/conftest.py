"""Every test leaves the logging as it found it.

``mailer.ops.logs.configure`` is global (structlog's chain, a handler on the root logger)
and binds the stream of the moment, often pytest's capture of one test: later tests must
neither write into that closed stream nor inherit the set-up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

from mailer.ops import logs


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
