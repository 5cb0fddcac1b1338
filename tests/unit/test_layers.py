"""The layers of the tree are import-linter contracts (pyproject.toml), checked on every run."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports run from ``root``: it analyses the packages there, not the installed ones."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=root, capture_output=True, text=True, timeout=300
    )


def copy_of_tree(tmp_path: Path) -> Path:
    for name in ("mailer", "sandbox"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def test_every_layer_contract_is_kept() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-4000:]
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert f"Contracts: {len(contracts['contracts'])} kept, 0 broken." in result.stdout


def test_the_core_importing_the_store_breaks_the_build(tmp_path: Path) -> None:
    root = copy_of_tree(tmp_path)
    decide = root / "mailer" / "core" / "deciding" / "decide.py"
    decide.write_text(decide.read_text() + "\nfrom mailer.store import sqlite  # noqa\n")
    result = lint_imports(root)
    assert result.returncode != 0
    assert "core is pure: it imports no other part of mailer and does no IO BROKEN" in result.stdout
    assert "mailer.core.deciding.decide -> mailer.store.sqlite" in result.stdout


def test_the_product_importing_the_sandbox_breaks_the_build(tmp_path: Path) -> None:
    root = copy_of_tree(tmp_path)
    service = root / "mailer" / "daemon" / "service.py"
    service.write_text(service.read_text() + "\nimport sandbox.servers  # noqa\n")
    result = lint_imports(root)
    assert result.returncode != 0
    assert "nothing in the product imports the test and demo mail sandbox BROKEN" in result.stdout
