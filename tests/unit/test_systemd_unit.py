"""The shipped units: hardened (systemd-analyze security <= 2.0), valid, never cut off the
network; and what mailer does under them: the credential path, JSON logs for journald.

No skip: without systemd-analyze these fail saying how to install it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import structlog

from mailer.config.load import check_settings
from mailer.ops import logs as log

ROOT = Path(__file__).resolve().parents[2]
UNITS = sorted((ROOT / "systemd").glob("*.service"))
SHIPPED_BIN = "/opt/mailer/.venv/bin/mailer"


def analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.fail(
            "systemd-analyze is missing: apt-get install systemd (scripts/setup.sh does)",
            pytrace=False,
        )
    return found


def settings_of(unit: Path) -> dict[str, list[str]]:
    """[Service] key -> every value given, in order (an empty value resets, as in systemd)."""
    found: dict[str, list[str]] = {}
    section = ""
    for line in unit.read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith(("#", ";")):
            key, value = line.split("=", 1)
            found[key] = [] if not value else [*found.get(key, []), value]
    return found


def test_the_units_are_shipped() -> None:
    assert ROOT / "systemd" / "mailer.service" in UNITS


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_security_exposure_is_two_or_lower(unit: Path) -> None:
    result = subprocess.run(
        [analyze(), "security", "--offline=yes", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
    )
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert found, result.stdout[-2000:] + result.stderr[-2000:]
    assert float(found[1]) <= 2.0, result.stdout


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_verify_passes_without_a_word(unit: Path, tmp_path: Path) -> None:
    """The shipped ExecStart= names the install's path (README); verify needs an existing
    program there, so a copy points at this checkout's own mailer. Warnings fail too."""
    here = Path(sys.executable).parent / "mailer"
    assert here.exists(), f"{here}: pip install -e . first"
    copy = tmp_path / unit.name
    text = unit.read_text()
    assert SHIPPED_BIN in text
    copy.write_text(text.replace(SHIPPED_BIN, str(here)))
    target = copy.with_name(copy.name.replace("@.", "@hr."))  # a template: one instance
    result = subprocess.run(
        [analyze(), "verify", "--no-pager", str(target)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert (result.stdout + result.stderr).strip() == ""


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_the_network_stays_open(unit: Path) -> None:
    s = settings_of(unit)
    assert s.get("PrivateNetwork", ["no"])[-1] in ("no", "false", "0", "off")
    families = " ".join(s.get("RestrictAddressFamilies", [])).split()
    if families:  # an allow list (not a ~deny list) keeping the Internet and local sockets
        assert not families[0].startswith("~") and families != ["none"]
        assert {"AF_INET", "AF_INET6", "AF_UNIX"} <= set(families)
    denied = " ".join(s.get("IPAddressDeny", [])).split()
    assert not denied or s.get("IPAddressAllow") == ["any"]
    assert "RestrictNetworkInterfaces" not in s and "SocketBindDeny" not in s


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_the_unit_speaks_sd_notify_and_runs_without_a_user_of_its_own(unit: Path) -> None:
    s = settings_of(unit)
    for key, value in {
        "Type": "notify",
        "NotifyAccess": "main",
        "Restart": "on-failure",
        "DynamicUser": "yes",
        "MemoryDenyWriteExecute": "yes",
        "PrivateUsers": "yes",
    }.items():
        assert s.get(key) == [value], key
    assert s["WatchdogSec"] and s["TimeoutStopSec"] == ["10s"]
    assert s["StateDirectory"][0].startswith("mailer") and s["ConfigurationDirectory"]
    assert any(v.startswith("imap-password:") for v in s["LoadCredential"])
    assert any("run" in v.split() for v in s["ExecStart"])


# ---- what mailer does under the unit ---------------------------------------------------------

CONFIG = """[service]
name = "IT Help Desk"
address = "helpdesk@example.test"
[imap]
host = "127.0.0.1"
security = "none"
username = "helpdesk"
password_file = "{path}"
[smtp]
host = "127.0.0.1"
security = "none"
[store]
path = "mailer.sqlite3"
"""


@pytest.mark.parametrize(
    "path", ["${CREDENTIALS_DIRECTORY}/imap-password", "$CREDENTIALS_DIRECTORY/imap-password"]
)
def test_the_password_comes_from_the_units_credential(tmp_path: Path, path: str) -> None:
    creds = tmp_path / "credentials"
    creds.mkdir()
    (creds / "imap-password").write_text("s3cret\n")
    (creds / "imap-password").chmod(0o400)
    config = tmp_path / "mailer.toml"
    config.write_text(CONFIG.format(path=path))
    settings, problems = check_settings(config, environ={"CREDENTIALS_DIRECTORY": str(creds)})
    assert settings is not None and settings.imap.password == "s3cret", problems
    settings, problems = check_settings(config, environ={})
    assert settings is None
    assert any("$CREDENTIALS_DIRECTORY is not set" in str(p) for p in problems)


def test_the_readme_documents_the_credential() -> None:
    readme = (ROOT / "README.md").read_text()
    assert 'password_file = "${CREDENTIALS_DIRECTORY}/imap-password"' in readme
    assert "## Running under systemd" in readme


def test_journal_gets_json_on_stdout_with_the_priority(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "journal"
    with out.open("w") as journal:
        st = os.fstat(journal.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
        monkeypatch.setattr(sys, "stdout", journal)
        assert log.journal_attached(os.environ, journal)
        log.configure()
        structlog.get_logger("t").warning("imap.error", retry_in=8)
    line = out.read_text().strip()
    assert line.startswith("<4>{")
    assert json.loads(line[3:])["event"] == "imap.error"


def test_an_inherited_journal_stream_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JOURNAL_STREAM", "1:2")  # a shell started from a unit, redirected
    assert not log.journal_attached({"JOURNAL_STREAM": "1:2"}, sys.stdout, sys.stderr)
    log.configure()  # not a terminal: JSON on stderr, as before
    structlog.get_logger("t").info("service.started")
    captured = capsys.readouterr()
    assert captured.out == "" and json.loads(captured.err)["event"] == "service.started"
