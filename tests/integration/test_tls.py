"""mailer against the sandbox's Dovecot in TLS mode: implicit TLS and STARTTLS, verified
against the throw-away CA the fixture made; without that CA the certificate is refused."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from mailer.ops.doctor import run as doctor
from sandbox.servers import MailSandbox
from tests.integration.helpers import SHARED, mailer, receipts, request


def _config(tmp_path: Path, sb: MailSandbox, security: str, *, ca: bool = True) -> Path:
    """Like ``write_sandbox_config``, with the [imap] transport keys of a TLS setup."""
    port = sb.imaps_port if security == "tls" else sb.imap_port
    ca_file = f'ca_file = "{sb.ca_file}"' if ca else ""
    path = tmp_path / "mailer.toml"
    path.write_text(
        f"""[service]
name = "IT Help Desk"
address = "{SHARED}"
[imap]
host = "127.0.0.1"
port = {port}
security = "{security}"
{ca_file}
username = "helpdesk"
password = "{sb.password}"
mailbox = "INBOX"
[smtp]
host = "127.0.0.1"
port = {sb.smtp_port}
security = "none"
[store]
path = "mailer.sqlite3"
"""
    )
    return path


def test_the_fixture_makes_a_ca_and_an_imaps_port(tls_sandbox: MailSandbox) -> None:
    assert tls_sandbox.ca_file is not None and tls_sandbox.ca_file.is_file()
    assert tls_sandbox.imaps_port not in (0, tls_sandbox.imap_port)
    assert "BEGIN CERTIFICATE" in tls_sandbox.ca_file.read_text()


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_a_request_gets_its_receipt_over_verified_tls(
    tls_sandbox: MailSandbox, tmp_path: Path, security: str
) -> None:
    config = _config(tmp_path, tls_sandbox, security)
    tls_sandbox.send(request(1), mail_from="alice@example.test", rcpt_to=[SHARED])
    tls_sandbox.wait_for_messages("helpdesk", 1)
    result = mailer(config, "run", "--once")
    assert result.returncode == 0, result.stderr
    tls_sandbox.wait_for_messages("alice", 1)
    [receipt] = receipts(tls_sandbox, "alice")
    assert receipt["Subject"] == "Re: VPN problem number 1 [REQ-1000]"


def test_without_ca_file_the_certificate_is_refused_and_nothing_is_processed(
    tls_sandbox: MailSandbox, tmp_path: Path
) -> None:
    config = _config(tmp_path, tls_sandbox, "starttls", ca=False)
    tls_sandbox.send(request(1), mail_from="alice@example.test", rcpt_to=[SHARED])
    tls_sandbox.wait_for_messages("helpdesk", 1)
    result = mailer(config, "run", "--once", timeout=60)
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert "CERTIFICATE_VERIFY_FAILED" in result.stderr, result.stderr
    assert tls_sandbox.messages("alice") == []
    with tls_sandbox.imap("helpdesk") as client:
        client.select_folder("INBOX", readonly=True)
        assert len(client.search("ALL")) == 1  # untouched


def _doctor(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = doctor.run(argparse.Namespace(send_test=False, json=False), config)
    return code, capsys.readouterr().out


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_doctor_passes_with_the_test_ca(
    tls_sandbox: MailSandbox,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    security: str,
) -> None:
    code, out = _doctor(_config(tmp_path, tls_sandbox, security), capsys)
    assert code == 0, out
    assert "[FAIL]" not in out
    assert "certificate verified" in out, out


def test_doctor_names_the_untrusted_ca_and_the_ca_file_fix(
    tls_sandbox: MailSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _doctor(_config(tmp_path, tls_sandbox, "tls", ca=False), capsys)
    assert code != 0, out
    [line] = [ln for ln in out.splitlines() if ln.startswith("[FAIL]")]
    assert "does not trust" in line, out
    assert "set [imap] ca_file" in line, out
