"""The code stays the way we want to read it: a pure core, ruff and mypy clean."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PURE = [
    "parse",
    "robots",
    "robot_signals",
    "mimewalk",
    "textutil",
    "language",
    "rules",
    "rules_text",
    "decide",
    "threading",
    "render",
    "receipt",
    "mime",
    "model",
    "commands",
    "workflow",
    "conversation",
    "rating",
    "visible",
    "visible_markers",
    "authres",
    "staffauth",
    "outgoing",
    "files",
]
IO_MODULES = {
    "sqlite3",
    "asyncio",
    "aiosmtplib",
    "imapclient",
    "socket",
    "smtplib",
    "time",
    "mailer.store",
    "mailer.imap",
    "mailer.smtp",
    "mailer.service",
    "mailer.outbox",
}


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("module", PURE)
def test_pure_core_modules_do_no_io_and_read_no_clock(module: str) -> None:
    found = imports(ROOT / "mailer" / f"{module}.py")
    assert not found & IO_MODULES


def test_modules_stay_small() -> None:
    big = {
        p.name: n
        for p in (ROOT / "mailer").glob("*.py")
        if (n := len(p.read_text().splitlines())) > 340
    }
    assert big == {}


def test_ruff_is_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "mailer", "tests", "bench"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:]


def test_mypy_is_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "mailer"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-3000:]
