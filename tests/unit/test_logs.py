"""One log stream: the stdlib's records (mailer's own, imapclient, aiosmtplib, asyncio) go
through structlog's chain, JSON or readable, and the metrics count them; logging stays light.

Each test configures the logging globally; tests/conftest.py puts the old set-up back."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import imapclient.util
import pytest
import structlog

from mailer.ops import logs
from mailer.ops.metrics.events import EVENTS, count_events

ROOT = Path(__file__).resolve().parents[2]


def lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def counted(level: str, writer: str) -> float:
    found = EVENTS.get_sample_value("mailer_log_lines_total", {"level": level, "logger": writer})
    assert found is not None
    return found


def test_an_imapclient_warning_is_a_json_line_and_is_counted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.configure(json=True, processors=[count_events])
    before = counted("warning", "imapclient")
    assert imapclient.util.to_unicode(b"caf\xc3\xa9") == "caf"  # imapclient warns, as it does
    [line] = lines(capsys.readouterr().out)  # --json-logs: stdout
    assert line["level"] == "warning"
    assert line["logger"] == "imapclient.util"
    assert line["event"].startswith("An error occurred while decoding b'caf\\xc3\\xa9'")
    assert "timestamp" in line and "_record" not in line
    assert counted("warning", "imapclient") == before + 1


def test_an_asyncio_error_keeps_its_traceback_and_is_counted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.configure(json=True, processors=[count_events])
    before = counted("error", "asyncio")
    loop = asyncio.new_event_loop()
    try:
        loop.call_exception_handler(
            {"message": "Task exception was never retrieved", "exception": ValueError("boom")}
        )
    finally:
        loop.close()
    [line] = lines(capsys.readouterr().out)
    assert (line["level"], line["logger"]) == ("error", "asyncio")
    assert line["event"].startswith("Task exception was never retrieved")
    assert "ValueError: boom" in line["exception"]
    assert counted("error", "asyncio") == before + 1


def test_mailer_events_and_unknown_writers_are_counted_by_level(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.configure(json=True, processors=[count_events])
    mailer, other = counted("error", "mailer"), counted("warning", "other")
    infos = EVENTS.get_sample_value("mailer_log_lines_total", {"level": "info", "logger": "mailer"})
    structlog.get_logger("t").error("outbox.error", error="boom")
    logging.getLogger("mailer.transport.oauth").error("cannot save the token")
    logging.getLogger("some.library").warning("careful")
    structlog.get_logger("t").info("service.started")  # info lines are not counted
    assert len(lines(capsys.readouterr().out)) == 4
    assert counted("error", "mailer") == mailer + 2
    assert counted("warning", "other") == other + 1
    assert infos is None


def test_without_the_counting_processor_nothing_is_counted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.configure(json=True)
    before = counted("warning", "imapclient")
    logging.getLogger("imapclient").warning("not counted")
    assert lines(capsys.readouterr().out)[0]["event"] == "not counted"
    assert counted("warning", "imapclient") == before


def test_chatty_libraries_are_heard_from_at_warning_unless_verbose(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.configure(json=True)
    for name in ("imapclient", "aiosmtplib", "asyncio"):
        logging.getLogger(name).info("connection closed")
        logging.getLogger(name).warning("%s is unhappy", name)
    logging.getLogger("mailer.config").info("mailer's own info lines stay")
    events = [line["event"] for line in lines(capsys.readouterr().out)]
    assert events == [
        "imapclient is unhappy",
        "aiosmtplib is unhappy",
        "asyncio is unhappy",
        "mailer's own info lines stay",
    ]
    logs.configure(json=True, verbose=True)
    logging.getLogger("imapclient").info("Connection closed")
    logging.getLogger("imapclient.imaplib").debug("< * 1 FETCH (BODY[] {512} the mail itself")
    structlog.get_logger("t").debug("sdnotify.failed")
    events = [line["event"] for line in lines(capsys.readouterr().out)]
    assert events == ["Connection closed", "sdnotify.failed"]  # the IMAP wire trace: never


def test_stdlib_records_are_readable_on_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure(json=False)
    logging.getLogger("mailer.config").warning("%s: %s", "mailer.toml:3", "unknown key")
    err = capsys.readouterr().err
    assert "mailer.toml:3: unknown key" in err and "warning" in err
    assert not err.lstrip().startswith("{")


def test_stdlib_records_under_the_journal_carry_their_priority(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "journal"
    with out.open("w") as journal:
        st = os.fstat(journal.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
        monkeypatch.setattr(sys, "stdout", journal)
        logs.configure()
        logging.getLogger("aiosmtplib").error("connection lost")
        structlog.get_logger("t").info("service.started")
    first, second = out.read_text().splitlines()
    assert first.startswith("<3>{") and json.loads(first[3:])["logger"] == "aiosmtplib"
    assert second.startswith("<6>{") and json.loads(second[3:])["event"] == "service.started"


def test_configuring_again_replaces_the_handler(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure(json=True)
    logs.configure(json=True)
    logging.getLogger("mailer.config").warning("once")
    assert [line["event"] for line in lines(capsys.readouterr().out)] == ["once"]
    assert [h.name for h in logging.getLogger().handlers].count("mailer") == 1


def test_mailer_version_does_not_load_the_metrics() -> None:
    """Logging is light: a start of the command line loads no prometheus_client."""
    code = (
        "import sys\n"
        "from mailer.cli.main import main\n"
        "from mailer.ops import logs\n"
        "try:\n"
        "    main(['--version'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "logs.configure(json=True)\n"
        "import logging; logging.getLogger('imapclient').warning('hello')\n"
        "print(sorted(m for m in sys.modules if m.startswith(('prometheus', 'mailer.ops.m'))))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0].startswith("mailer ")
    assert run.stdout.splitlines()[-1] == "[]"
    assert json.loads(run.stdout.splitlines()[1])["event"] == "hello"
