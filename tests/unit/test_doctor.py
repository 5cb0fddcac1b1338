"""``mailer doctor`` without servers: lines, chains and skips, TLS verdicts, store checks."""

from __future__ import annotations

import argparse
import json
import socket
import sqlite3
import ssl
import time
from pathlib import Path
from typing import Any

import pytest

from mailer.ops.doctor import run as doctor
from mailer.ops.doctor.checklist import (
    Check,
    Outcome,
    Step,
    exit_code,
    fail,
    ok,
    render_json,
    render_text,
    run_chain,
    scrub,
    warn,
)
from mailer.ops.doctor.local import store_checks
from mailer.ops.doctor.net import describe_tls, password_source, tcp_connect, tls_failure
from mailer.store import MailboxState, open_store
from mailer.store.schema import MIGRATIONS
from tests.factories import corrupt_pages

# ---- lines ---------------------------------------------------------------------------------


def test_lines() -> None:
    assert Check("imap", "IMAP login as helpdesk", "ok").line() == "[ ok ] IMAP login as helpdesk"
    failed = Check("imap", "IMAP login as helpdesk", "fail", "authentication failed", "check it")
    assert failed.line() == "[FAIL] IMAP login as helpdesk: authentication failed → check it"
    assert (
        Check("imap", "IMAP IDLE", "warn", "not offered").line() == "[warn] IMAP IDLE: not offered"
    )
    skipped = Check("imap", "IMAP IDLE", "skip", "not tried: TCP failed")
    assert skipped.line() == "[skip] IMAP IDLE: not tried: TCP failed"


def test_a_server_answer_stays_on_one_line() -> None:
    check = Check("smtp", "SMTP greeting", "fail", "not SMTP:\n* OK  Dovecot\r\n", "fix")
    assert check.line() == "[FAIL] SMTP greeting: not SMTP: * OK Dovecot → fix"


def test_summary_and_json() -> None:
    checks = [
        Check("imap", "a", "ok"),
        Check("imap", "b", "warn", "w"),
        Check("imap", "c", "fail", "f", "x"),
        Check("imap", "d", "skip", "not tried: c failed"),
    ]
    assert render_text(checks).endswith("\n\n1 ok, 1 warnings, 1 failed, 1 not tried")
    report = json.loads(render_json(checks))
    assert report["ok"] is False
    assert report["checks"][2] == {
        "group": "imap",
        "name": "c",
        "status": "fail",
        "detail": "f",
        "fix": "x",
    }


def test_exit_code_only_counts_failures() -> None:
    assert exit_code([Check("a", "a", "ok"), Check("a", "b", "warn"), Check("a", "c", "skip")]) == 0
    assert exit_code([Check("a", "a", "ok"), Check("a", "b", "fail")]) == 1


def test_scrub_hides_passwords() -> None:
    check = Check("imap", "IMAP login", "fail", "server said: hunter22 is wrong", "fix hunter22")
    clean = scrub(check, ["hunter22", None, ""])
    assert "hunter22" not in clean.line() and "********" in clean.detail


# ---- chains --------------------------------------------------------------------------------


def _step(short: str, outcome: Outcome, ran: list[str]) -> Step:
    def run() -> Outcome:
        ran.append(short)
        return outcome

    return Step(short, f"check {short}", run)


def test_a_failure_skips_the_rest_of_its_chain() -> None:
    ran: list[str] = []
    steps = [
        _step("DNS", ok("1.2.3.4"), ran),
        _step("TCP", fail("connection refused", "check port"), ran),
        _step("login", ok(), ran),
        _step("IDLE", ok(), ran),
    ]
    checks = list(run_chain("imap", steps))
    assert ran == ["DNS", "TCP"]
    assert [c.status for c in checks] == ["ok", "fail", "skip", "skip"]
    assert checks[2] == Check("imap", "check login", "skip", "not tried: TCP failed")


def test_warnings_do_not_break_a_chain() -> None:
    ran: list[str] = []
    steps = [_step("IDLE", warn("not offered"), ran), _step("MOVE", ok(), ran)]
    assert [c.status for c in run_chain("imap", steps)] == ["warn", "ok"]
    assert ran == ["IDLE", "MOVE"]


def test_an_unexpected_error_fails_its_step_only() -> None:
    def boom() -> Outcome:
        raise RuntimeError("surprise")

    ran: list[str] = []
    checks = list(run_chain("smtp", [Step("EHLO", "SMTP EHLO", boom), _step("AUTH", ok(), ran)]))
    assert checks[0].status == "fail" and checks[0].detail == "unexpected RuntimeError: surprise"
    assert checks[1].detail == "not tried: EHLO failed" and ran == []


def test_chains_are_lazy() -> None:
    """Each line can be printed before the next (slow) step starts."""
    ran: list[str] = []
    chain = run_chain("imap", [_step("DNS", ok(), ran), _step("TCP", ok(), ran)])
    next(chain)
    assert ran == ["DNS"]


# ---- TLS verdicts --------------------------------------------------------------------------


def _verify_error(code: int, message: str) -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, f"certificate verify failed: {message}")
    error.verify_code = code
    error.verify_message = message
    return error


@pytest.mark.parametrize(
    ("code", "message", "ca_file", "detail", "fix"),
    [
        (10, "certificate has expired", None, "has expired", "renew"),
        (18, "self-signed certificate", None, "self-signed", "set [imap] ca_file"),
        (18, "self-signed certificate", "/etc/ca.pem", "/etc/ca.pem does not hold", "/etc/ca.pem"),
        (20, "unable to get local issuer certificate", None, "does not trust", "ca_file"),
        (19, "self-signed certificate in chain", None, "a self-signed CA", "ca_file"),
        (62, "Hostname mismatch", None, "hostname mismatch", "set [imap] host"),
        (64, "IP address mismatch", None, "IP address mail.test", "set [imap] host"),
    ],
)
def test_certificate_problems(
    code: int, message: str, ca_file: str | None, detail: str, fix: str
) -> None:
    found = tls_failure(_verify_error(code, message), "imap", "mail.test", ca_file)
    assert found is not None and found.status == "fail"
    assert detail in found.detail and fix in found.fix, found


def test_a_wrapped_tls_error_is_found() -> None:
    """aiosmtplib wraps the ssl error in SMTPConnectError (``raise ... from``)."""
    try:
        try:
            raise _verify_error(10, "certificate has expired")
        except ssl.SSLError as exc:
            raise ConnectionError("Error connecting to mail.test on port 465") from exc
    except ConnectionError as wrapped:
        found = tls_failure(wrapped, "smtp", "mail.test", None)
    assert found is not None and "expired" in found.detail


def test_plain_text_on_a_tls_port() -> None:
    error = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
    error.reason = "WRONG_VERSION_NUMBER"
    found = tls_failure(error, "smtp", "mail.test", None)
    assert found is not None and 'security = "starttls"' in found.fix and "465" in found.fix


def test_not_a_tls_problem() -> None:
    assert tls_failure(ConnectionRefusedError(), "imap", "mail.test", None) is None


class _FakeTls:
    def __init__(self, days_left: float) -> None:
        self.ends = time.time() + days_left * 86400

    def version(self) -> str:
        return "TLSv1.3"

    def getpeercert(self) -> dict[str, Any]:
        not_after = time.strftime("%b %d %H:%M:%S %Y GMT", time.gmtime(self.ends))
        return {"subjectAltName": (("DNS", "mail.test"),), "notAfter": not_after}


def test_certificate_summary_warns_before_it_expires() -> None:
    fine = describe_tls(_FakeTls(90))  # type: ignore[arg-type]
    assert fine.status == "ok" and fine.detail.startswith("TLSv1.3, certificate verified for mail")
    soon = describe_tls(_FakeTls(3))  # type: ignore[arg-type]
    assert soon.status == "warn" and "days left" in soon.detail and "renew" in soon.fix


# ---- TCP and the password's source ---------------------------------------------------------


def test_connection_refused_names_the_port() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused
        found = tcp_connect("imap", "127.0.0.1", port, "tls", 2)
    assert found.status == "fail" and "connection refused" in found.detail
    assert f'check [imap] port ({port}; 993 is usual for security = "tls")' in found.fix


@pytest.mark.parametrize(
    ("section_text", "expected"),
    [
        ('password_file = "imap.password"', "the password in {dir}/imap.password (password_file)"),
        ('password_file = "/run/pw"', "the password in /run/pw (password_file)"),
        ('password_env = "IMAP_PW"', "the password in $IMAP_PW (password_env)"),
        ('password = "x"', "[imap] password in {dir}/mailer.toml"),
        (
            'password_file = "$CREDENTIALS_DIRECTORY/imap"',
            "the password in $CREDENTIALS_DIRECTORY/imap (password_file)",
        ),
    ],
)
def test_password_source(
    tmp_path: Path, section_text: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    config = tmp_path / "mailer.toml"
    config.write_text(f'[imap]\nhost = "h"\n{section_text}\n')
    assert password_source(config, "imap") == expected.format(dir=tmp_path)


# ---- the store -----------------------------------------------------------------------------


def _statuses(path: Path) -> list[tuple[str, str]]:
    return [(c.status, c.detail) for c in store_checks(path)]


def test_store_in_a_fresh_directory(tmp_path: Path) -> None:
    (directory, store) = store_checks(tmp_path / "mailer.sqlite3")
    assert directory.status == "ok" and store.status == "ok"
    assert "does not exist yet" in store.detail
    assert list(tmp_path.iterdir()) == []  # the probe cleaned up, the store was not created


def test_store_directory_created_later(tmp_path: Path) -> None:
    (directory, _) = store_checks(tmp_path / "state" / "mailer" / "mailer.sqlite3")
    assert directory.status == "ok" and f"creates it in {tmp_path}" in directory.detail
    assert list(tmp_path.iterdir()) == []


def test_store_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    (directory, store) = store_checks(tmp_path / "file" / "mailer.sqlite3")
    assert directory.status == "fail" and "is not a directory" in directory.detail
    assert store.status == "skip" and store.detail == "not tried: directory failed"


def test_store_that_is_not_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "mailer.sqlite3"
    path.write_text("this is not a database, it is a text file with enough bytes in it" * 10)
    (_, store) = store_checks(path)
    assert store.status == "fail" and "not a SQLite database" in store.detail


@pytest.mark.parametrize(
    ("version", "status", "words"),
    [
        (len(MIGRATIONS), "ok", "schema version"),
        (len(MIGRATIONS) - 1, "ok", "upgrades it"),
        (len(MIGRATIONS) + 1, "fail", "newer mailer"),
    ],
)
def test_store_schema(tmp_path: Path, version: int, status: str, words: str) -> None:
    path = tmp_path / "mailer.sqlite3"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {version}")
    db.close()
    (_, store) = store_checks(path)
    assert store.status == status and words in store.detail
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mailer.sqlite3"]


def test_store_with_a_damaged_page_fails(tmp_path: Path) -> None:
    """Issue 11: a store with one corrupted page passed ``mailer doctor`` and killed the
    daemon's intake. The header and the schema version still read; quick_check does not."""
    path = tmp_path / "mailer.sqlite3"
    store = open_store(path)
    with store.transaction():
        store.set_mailbox_state("INBOX", MailboxState(7, 0, 0.0))
    store.close()
    corrupt_pages(path, "mailboxes")
    (_, check) = store_checks(path)
    assert check.status == "fail" and "damaged" in check.detail, check
    assert "backup" in check.fix


def test_an_empty_store_fails(tmp_path: Path) -> None:
    """A zero-length store is no new store: the daemon refuses it, so doctor does too."""
    path = tmp_path / "mailer.sqlite3"
    path.write_bytes(b"")
    (_, check) = store_checks(path)
    assert check.status == "fail" and "is empty (0 bytes)" in check.detail
    assert "mailer backup" in check.fix and path.stat().st_size == 0


# ---- the whole run -------------------------------------------------------------------------


def test_invalid_config_is_listed_and_the_rest_not_tried(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "mailer.toml"
    config.write_text("[service\n")
    code = doctor.run(argparse.Namespace(send_test=False, json=True), config)
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and report["ok"] is False
    first, rest = report["checks"]
    assert first["status"] == "fail" and first["detail"].startswith(f"{config}:1: TOML syntax")
    assert rest["status"] == "skip" and rest["detail"] == "not tried: config failed"
