"""The code stays the way we want to read it: a pure core, ruff and mypy clean."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "mailer"
# Everything under mailer/core, and the value modules it shares with the rest.
PURE = sorted(
    [*(PACKAGE / "core").rglob("*.py"), PACKAGE / "model.py", PACKAGE / "settings.py"],
)
IO_MODULES = {
    "sqlite3",
    "psycopg",
    "psycopg_pool",
    "asyncio",
    "aiosmtplib",
    "imapclient",
    "socket",
    "smtplib",
    "imaplib",
    "time",
    "subprocess",
}


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", PURE, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_pure_core_modules_do_no_io_and_read_no_clock(path: Path) -> None:
    found = imports(path)
    assert not found & IO_MODULES
    assert (
        not {name for name in found if name.startswith("mailer.")}
        - {
            "mailer.model",
            "mailer.settings",
            "mailer.errors",
        }
        - {name for name in found if name.startswith("mailer.core")}
    )


def test_modules_stay_small() -> None:
    big = {
        str(p.relative_to(ROOT)): n
        for p in [*PACKAGE.rglob("*.py"), *(ROOT / "sandbox").rglob("*.py")]
        if (n := len(p.read_text().splitlines())) > 340
    }
    assert big == {}


def test_ruff_is_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "mailer", "sandbox", "tests", "bench"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:]


def test_mypy_is_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "mailer", "sandbox"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:]
