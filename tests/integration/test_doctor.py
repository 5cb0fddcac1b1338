"""``mailer doctor`` against real servers: the sandbox's Dovecot + Postfix, and small TLS
servers with certificates made by ``openssl`` (valid, self-signed, unknown CA, expired)."""

from __future__ import annotations

import argparse
import json
import re
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from mailer.ops.doctor import run as doctor
from mailer.ops.doctor.checklist import Check, run_chain
from mailer.ops.doctor.imap import ImapProbe
from mailer.ops.doctor.smtp import SmtpProbe
from mailer.settings import (
    ImapSettings,
    Security,
    ServiceSettings,
    Settings,
    SmtpSettings,
    StoreSettings,
)
from sandbox.processes import free_port
from sandbox.servers import MailSandbox
from tests.integration.helpers import mailer, parse, write_config

WRONG = "not-the-password"


def _doctor(config: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, str]:
    args = argparse.Namespace(send_test="--send-test" in flags, json="--json" in flags)
    code = doctor.run(args, config)
    return code, capsys.readouterr().out


def _line(out: str, start: str) -> str:
    found = [line for line in out.splitlines() if line.startswith(start)]
    assert found, f"no line starting {start!r} in:\n{out}"
    return found[0]


# ---- the sandbox ---------------------------------------------------------------------------


def test_all_pass_against_the_sandbox(
    sandbox: MailSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, sandbox, imap_extra='sent_folder = "Sent"')
    code, out = _doctor(config, capsys)
    assert code == 0, out
    assert "[FAIL]" not in out and "[skip]" not in out
    for capability in ("IDLE", "MOVE", "UIDPLUS"):
        assert _line(out, f"[ ok ] IMAP {capability}")
    assert _line(out, "[ ok ] IMAP login as helpdesk")
    assert _line(out, "[ ok ] IMAP mailbox 'INBOX' exists")
    assert _line(out, "[ ok ] IMAP custom keywords kept")
    assert "creates it" in _line(out, "[warn] IMAP folder 'Sent' (sent_folder)")
    assert _line(out, "[ ok ] SMTP EHLO")
    assert _line(out, "[ ok ] store directory")
    assert _line(out, "[ ok ] templates render")
    assert sandbox.password not in out
    assert not (tmp_path / "mailer.sqlite3").exists()  # looked at, never created
    assert [p.name for p in tmp_path.iterdir()] == ["mailer.toml"]  # the test file is gone


def test_send_test_reaches_the_inbox_and_gets_no_answer(
    sandbox: MailSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, sandbox)
    code, out = _doctor(config, capsys, "--send-test")
    assert code == 0, out
    assert "does not answer it" in _line(out, "[ ok ] SMTP test mail to helpdesk@example.test")
    msg = parse(sandbox.wait_for_messages("helpdesk", 1)[0])
    assert msg["From"].addresses[0].addr_spec == "helpdesk@example.test"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["X-Mailer-Loop"] == "helpdesk@example.test"

    assert mailer(config, "run", "--once").returncode == 0
    assert len(sandbox.messages("helpdesk")) == 1  # no receipt to ourselves
    messages = mailer(config, "messages", "--json").stdout
    assert "own-mail" in messages, messages


def test_wrong_password_names_its_source(
    sandbox: MailSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, sandbox)
    secret = tmp_path / "imap.password"
    secret.write_text(WRONG + "\n")
    secret.chmod(0o600)
    text = config.read_text().replace(
        f'password = "{sandbox.password}"', 'password_file = "imap.password"'
    )
    config.write_text(text)
    code, out = _doctor(config, capsys)
    assert code == 1
    line = _line(out, "[FAIL] IMAP login as helpdesk")
    assert "authentication failed" in line
    assert f"check [imap] username and the password in {secret} (password_file)" in line
    assert "not tried: login failed" in _line(out, "[skip] IMAP mailbox")
    assert WRONG not in out
    # Dovecot delays the next login from this IP (auth penalty); pay for it here, not in
    # the next test's sandbox reset.
    sandbox.messages("helpdesk")


def test_wrong_port_says_connection_refused(
    sandbox: MailSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, sandbox)
    port = free_port()
    config.write_text(config.read_text().replace(f"port = {sandbox.imap_port}", f"port = {port}"))
    code, out = _doctor(config, capsys)
    assert code == 1
    line = _line(out, f"[FAIL] IMAP TCP connection to 127.0.0.1:{port}")
    assert "connection refused" in line and f"→ check [imap] port ({port};" in line
    assert "not tried: TCP failed" in _line(out, "[skip] IMAP login")
    assert _line(out, "[ ok ] SMTP EHLO")  # the other chains still run


def test_store_in_a_path_that_cannot_be_a_directory(
    sandbox: MailSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """We run as root, so permissions would not stop us: a file in the way does."""
    config = write_config(tmp_path, sandbox)
    blocker = tmp_path / "afile"
    blocker.write_text("")
    text = config.read_text().replace('path = "mailer.sqlite3"', 'path = "afile/mailer.sqlite3"')
    config.write_text(text)
    code, out = _doctor(config, capsys)
    assert code == 1
    line = _line(out, f"[FAIL] store directory {blocker} is writable")
    assert f"{blocker} is not a directory → set [store] path" in line
    assert "not tried: directory failed" in _line(out, "[skip] store ")


def test_existing_store_opens_read_write(
    sandbox: MailSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, sandbox)
    assert mailer(config, "run", "--once").returncode == 0
    code, out = _doctor(config, capsys)
    assert code == 0, out
    assert "schema version" in _line(out, f"[ ok ] store {tmp_path / 'mailer.sqlite3'}")


def test_json_for_scripts(
    sandbox: MailSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, sandbox)
    code, out = _doctor(config, capsys, "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] is True
    groups = {c["group"] for c in report["checks"]}
    assert groups == {"config", "imap", "smtp", "store", "templates"}
    assert all(set(c) == {"group", "name", "status", "detail", "fix"} for c in report["checks"])


def test_invalid_config_skips_the_rest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "mailer.toml"
    config.write_text('[service]\nname = "X"\naddress = "x@example.test"\n[imap]\nhots = "a"\n')
    code, out = _doctor(config, capsys)
    assert code == 1
    assert re.search(rf"^\[FAIL\] config: {re.escape(str(config))}:\d+: ", out, re.M), out
    assert "not tried: config failed" in _line(out, "[skip] IMAP, SMTP, store and templates")


# ---- TLS: certificates made by openssl -----------------------------------------------------

CA_CONFIG = """[ca]
default_ca = d
[d]
database = db/index.txt
serial = db/serial
new_certs_dir = db
default_md = sha256
policy = p
copy_extensions = copy
unique_subject = no
[p]
commonName = supplied
"""


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ca.pem; leaf (localhost, signed by the CA), expired (same, 2020) and self (self-signed)."""
    d = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    san = ["-addext", "subjectAltName=DNS:localhost"]

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=Test CA")
    openssl("req", *ec, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=localhost", *san)
    (d / "db").mkdir()
    (d / "db" / "index.txt").write_text("")
    (d / "db" / "serial").write_text("02\n")
    (d / "ca.cnf").write_text(CA_CONFIG)
    sign = ["ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key"]
    openssl(*sign, "-in", "leaf.csr", "-days", "30", "-notext", "-out", "leaf.pem")
    dates = ["-startdate", "20200101000000Z", "-enddate", "20200102000000Z"]
    openssl(*sign, "-in", "leaf.csr", *dates, "-notext", "-out", "expired.pem")
    openssl("req", "-x509", *ec, "-keyout", "self.key", "-out", "self.pem", "-subj", "/CN=x", *san)
    return d


class FakeImap:
    """Just enough IMAP for the TLS steps: implicit TLS, or plain text with STARTTLS and
    LOGINDISABLED until TLS is on. LOGIN is always refused, as with a wrong password."""

    def __init__(self, cert: Path, key: Path, *, starttls: bool = False) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.starttls = starttls
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        sock = conn
        try:
            secure = not self.starttls
            if secure:
                sock = self.context.wrap_socket(conn, server_side=True)
            file = sock.makefile("rwb")
            self._send(file, f"* OK [CAPABILITY {self._caps(secure)}] fake ready")
            while raw := file.readline():
                tag, _, rest = raw.decode().strip().partition(" ")
                command = rest.split(" ")[0].upper()
                if command == "STARTTLS" and not secure:
                    self._send(file, f"{tag} OK begin TLS")
                    sock = self.context.wrap_socket(sock, server_side=True)
                    file, secure = sock.makefile("rwb"), True
                    continue
                self._send(file, self._reply(tag, command, secure))
                if command == "LOGOUT":
                    return
        except (OSError, ssl.SSLError):
            return  # the client refused our certificate, or the TCP probe hung up
        finally:
            sock.close()

    def _caps(self, secure: bool) -> str:
        return "IMAP4rev1 AUTH=PLAIN" if secure else "IMAP4rev1 STARTTLS LOGINDISABLED"

    def _reply(self, tag: str, command: str, secure: bool) -> str:
        if command == "CAPABILITY":
            return f"* CAPABILITY {self._caps(secure)}\r\n{tag} OK done"
        if command == "LOGIN":
            return f"{tag} NO [AUTHENTICATIONFAILED] Authentication failed."
        if command == "LOGOUT":
            return f"* BYE fake\r\n{tag} OK bye"
        return f"{tag} BAD unknown"

    @staticmethod
    def _send(file: Any, line: str) -> None:
        file.write(f"{line}\r\n".encode())
        file.flush()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def imap_tls(pki: Path) -> Iterator[dict[str, FakeImap]]:
    keys = {"leaf": "leaf", "expired": "leaf", "self": "self"}
    servers = {
        name: FakeImap(pki / f"{name}.pem", pki / f"{key}.key") for name, key in keys.items()
    }
    servers["starttls"] = FakeImap(pki / "leaf.pem", pki / "leaf.key", starttls=True)
    yield servers
    for server in servers.values():
        server.close()


def _imap_chain(
    port: int,
    host: str = "localhost",
    ca_file: Path | None = None,
    security: Security = "tls",
) -> list[Check]:
    settings = ImapSettings(
        host=host,
        port=port,
        username="helpdesk",
        password="pw",
        security=security,
        ca_file=str(ca_file) if ca_file else None,
        timeout=5,
    )
    probe = ImapProbe(settings, "the password in /etc/mailer/imap.password (password_file)")
    try:
        return list(run_chain("imap", probe.steps()))
    finally:
        probe.close()


def _tls(checks: list[Check]) -> Check:
    return next(c for c in checks if c.name.startswith("IMAP TLS"))


def test_tls_verified_then_login_refused(imap_tls: dict[str, FakeImap], pki: Path) -> None:
    checks = _imap_chain(imap_tls["leaf"].port, ca_file=pki / "ca.pem")
    tls = _tls(checks)
    assert tls.status == "ok" and "certificate verified for localhost, valid until" in tls.detail
    login = next(c for c in checks if c.name == "IMAP login as helpdesk")
    assert login.status == "fail" and "/etc/mailer/imap.password (password_file)" in login.fix
    assert checks[-1].detail == "not tried: login failed"


@pytest.mark.parametrize(
    ("server", "host", "with_ca", "detail", "fix"),
    [
        ("self", "localhost", False, "self-signed", "set [imap] ca_file"),
        ("leaf", "localhost", False, "signed by a CA this machine does not trust", "ca_file"),
        ("expired", "localhost", True, "has expired", "renew the certificate"),
        ("leaf", "127.0.0.1", True, "hostname mismatch", "set [imap] host to a name"),
    ],
)
def test_tls_failures_say_why(
    imap_tls: dict[str, FakeImap],
    pki: Path,
    server: str,
    host: str,
    with_ca: bool,
    detail: str,
    fix: str,
) -> None:
    checks = _imap_chain(imap_tls[server].port, host, pki / "ca.pem" if with_ca else None)
    tls = _tls(checks)
    assert tls.status == "fail" and detail in tls.detail and fix in tls.fix, tls
    assert checks[-1].detail == "not tried: TLS failed"


def test_starttls_then_login(imap_tls: dict[str, FakeImap], pki: Path) -> None:
    checks = {
        c.name: c
        for c in _imap_chain(imap_tls["starttls"].port, "localhost", pki / "ca.pem", "starttls")
    }
    tls = checks["IMAP STARTTLS and certificate of localhost"]
    assert tls.status == "ok" and "certificate verified for localhost" in tls.detail
    login = checks[
        "IMAP login as helpdesk"
    ]  # LOGINDISABLED was lifted by TLS: the password is wrong
    assert login.status == "fail" and "authentication failed" in login.detail


def test_login_disabled_without_tls(imap_tls: dict[str, FakeImap]) -> None:
    checks = {c.name: c for c in _imap_chain(imap_tls["starttls"].port, security="none")}
    login = checks["IMAP login as helpdesk"]
    assert login.status == "fail" and "LOGINDISABLED" in login.detail
    assert 'security = "starttls"' in login.fix


class _Accept:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        return "250 2.0.0 taken"


@pytest.fixture
def smtp_starttls(pki: Path) -> Iterator[int]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki / "leaf.pem", pki / "leaf.key")
    port = free_port()
    controller = Controller(_Accept(), hostname="127.0.0.1", port=port, tls_context=context)
    controller.start()
    yield port
    controller.stop()


def _smtp_chain(port: int, ca_file: Path | None) -> list[Check]:
    settings = Settings(
        service=ServiceSettings("Help", "helpdesk@example.test"),
        imap=ImapSettings("localhost", "u", "p"),
        smtp=SmtpSettings(
            host="localhost",
            port=port,
            security="starttls",
            ca_file=str(ca_file) if ca_file else None,
            timeout=5,
        ),
        store=StoreSettings(Path("unused")),
    )
    probe = SmtpProbe(settings, "unused", send_test=True)
    try:
        return list(run_chain("smtp", probe.steps()))
    finally:
        probe.close()


def test_smtp_starttls_certificate(smtp_starttls: int, pki: Path) -> None:
    refused = {c.name: c for c in _smtp_chain(smtp_starttls, None)}
    tls = refused["SMTP STARTTLS and certificate of localhost"]
    assert tls.status == "fail" and "does not trust" in tls.detail and "ca_file" in tls.fix
    assert "offers STARTTLS" in refused["SMTP EHLO"].detail

    trusted = {c.name: c for c in _smtp_chain(smtp_starttls, pki / "ca.pem")}
    assert all(c.status == "ok" for c in trusted.values()), trusted
    assert "EHLO now offers" in trusted["SMTP STARTTLS and certificate of localhost"].detail
    assert "250 2.0.0 taken" in trusted["SMTP test mail to helpdesk@example.test"].detail
