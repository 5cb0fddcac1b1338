"""``mailer run`` checks everything, templates included, before it connects to anything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mailer.cli import main as cli
from tests.unit.test_config import config_text, write


def test_a_broken_template_stops_the_daemon_before_it_connects(tmp_path: Path) -> None:
    templates = tmp_path / "templates" / "en"
    templates.mkdir(parents=True)
    (templates / "receipt.txt.j2").write_text("Hello {{ name\n")
    service = (
        'name = "IT Help Desk"\naddress = "helpdesk@example.test"\ntemplates_dir = "templates"\n'
    )
    config = write(tmp_path, config_text(service=service))
    # The IMAP server in the config does not exist: a connection attempt would say so.
    run = subprocess.run(  # a process of its own: main() configures the logging globally
        [sys.executable, "-m", "mailer", "--config", str(config), "run", "--once"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == cli.EXIT_CONFIG
    err = run.stderr
    assert "receipt.txt.j2:1: [templates]" in err
    assert "IMAP" not in err and not (tmp_path / "mailer.sqlite3").exists()


def test_a_store_that_is_not_one_gets_a_hint_that_fits(tmp_path: Path) -> None:
    """Issue 11: 'file is not a database' was explained as 'a full disk, or a directory
    mailer cannot write?'."""
    config = write(tmp_path, config_text())
    (tmp_path / "mailer.sqlite3").write_text("not a database, a text file that is long enough" * 20)
    run = subprocess.run(
        [sys.executable, "-m", "mailer", "--config", str(config), "run", "--once"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == cli.EXIT_PROBLEMS
    assert "file is not a database" in run.stderr and "not a mailer store" in run.stderr
    assert "full disk" not in run.stderr and "IMAP" not in run.stderr
