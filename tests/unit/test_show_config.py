"""``mailer config [--defaults]``: the configuration in force, which ``mailer check`` accepts.

The acceptance test of the command: for each config (the shipped examples, the test configs,
what ``mailer init`` writes, and configs using every kind of key and secret) the printed TOML,
saved in another directory, passes ``mailer check`` and loads into the same ``Settings``, but
for the masked passwords, the file names and the lines rules were written at.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from mailer.admin import show_config
from mailer.admin.init import command as init_cmd
from mailer.config.dump import _duration, _size
from mailer.config.load import check_settings
from mailer.config.sections import SECTION_KEYS
from mailer.config.transport import MASK
from mailer.config.validate import check_all
from mailer.errors import ConfigError
from mailer.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "mailer.example.toml"
DATA = ROOT / "tests" / "data" / "config"
ENV = {"MAILER_TEST_IMAP": "imap-from-env", "MAILER_TEST_TOKEN": "refresh-from-env"}

SERVICE = """\
[service]
name = "  Help Desk  "
address = "helpdesk@example.test"
aliases = "help@example.test"
reference_prefix = "HD"
reference_start = 7
subject_tag = "PREFIX"
default_language = "it"
languages = ["EN", "it"]
signature = "Line one\\nLine \\"two\\"\\tand a tab"
contacts = ["Phone: 123"]
admin = "admin@example.test"
hostname = "Mailer.Example.Test"
require_addressed = false
no_reply_senders = ['^bot\\d+@', "^x@"]
templates_dir = "templates"
expectation = "Soon."
"""
REST = """
[store]
path = "state/desk.sqlite3"
retention_days = 90

[limits]
max_message_size = "1000"
receipts_per_sender = 5
auto_per_thread = 2
auto_per_thread_window = "1h30m"
max_attempts = 9

[metrics]
listen = "127.0.0.1:9109"

[staff]
addresses = ["Sam@Example.Test"]
domains = ["Staff.Example.Test"]
authserv_id = "MX.Example.Test"

[workflow]
reopen_days = 3
forward_attachments = true
status_headers = ["Status:"]
keywords = { resolved = ["#resolved", "#done"], take = "#mine" }

[teams.it]
name = "IT Support"
address = "it@example.test"

[teams.bare]

[[rules]]
name = "everything"
category = "all"
team = "it"
priority = "HIGH"
language = "it"
receipt = false
template = "receipt"
expectation = { en = "Today.", it = "Oggi." }
  [rules.match]
  subject = ["printer*", "toner"]
  body = "jam"
  text = ["paper"]
  subject_regex = '\\burgent\\b'
  body_regex = ["^sent from"]
  sender = ["*@vip.example.test", "boss@example.test"]
  sender_domain = "Example.Test"
  to = "printers@example.test"
  header = { "X-Priority" = "^1", "List-Id" = ["", "x"] }
  has_attachments = true
  language = ["it", "en"]

[[rules]]
name = "sparse"
  [rules.match]
  subject = []
  body = ["sparse"]

[[rules]]
name = "rest"
team = "bare"
"""
IMAP = {
    "file": 'password_file = "secrets/imap.pw"\n',
    "env": 'password_env = "MAILER_TEST_IMAP"\n',
    "tenant": """auth = "xoauth2"
password = "ignored"
[imap.oauth]
flow = "client_credentials"
tenant = "contoso.onmicrosoft.com"
client_id = "app"
client_secret_file = "secrets/oauth.secret"
timeout = "45s"
""",
    "google": """auth = "xoauth2"
oauth = { flow = "refresh_token", client_id = "app", refresh_token_env = "MAILER_TEST_TOKEN" }
""",
}
SMTP = {
    "inline": 'username = "relay"\npassword = "hunter2"\n',
    "command": 'auth = "xoauth2"\nusername = "helpdesk@example.test"\n'
    'oauth = { flow = "command", command = ["/bin/echo", "token"] }\n',
    "none": "",
}
CASES = [("file", "inline"), ("env", "command"), ("tenant", "none"), ("google", "inline")]


def rich_config(tmp_path: Path, imap: str, smtp: str) -> Path:
    """A config using every kind of key, with the secrets its variant names in place."""
    (tmp_path / "templates").mkdir(parents=True)
    (tmp_path / "secrets").mkdir()
    for name, secret in (("imap.pw", "pw-from-file\n"), ("oauth.secret", "s3cret\n")):
        (tmp_path / "secrets" / name).write_text(secret, encoding="utf-8")
        (tmp_path / "secrets" / name).chmod(0o600)
    text = (
        f'{SERVICE}\n[imap]\nhost = "[::1]"\nsecurity = "none"\nusername = "helpdesk"\n'
        'batch_size = 10\nidle = false\ntimeout = 0.5\nbacklog = "2d"\nmove_to = "Done"\n'
        f'sent_folder = "Sent"\n{IMAP[imap]}\n[smtp]\nhost = "localhost"\nsecurity = "TLS"\n'
        f'envelope_sender = "null"\nhelo = "Mailer.Example.Test"\nconnections = 2\n{SMTP[smtp]}'
        f"{REST}"
    )
    path = tmp_path / "mailer.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def init_config(tmp_path: Path) -> Path:
    parser = argparse.ArgumentParser()
    init_cmd.add_arguments(parser)
    assert init_cmd.run(parser.parse_args(["--defaults", str(tmp_path / "desk")])) == 0
    return tmp_path / "desk" / "mailer.toml"


def printed(config: Path, *, defaults: bool, capsys: pytest.CaptureFixture[str]) -> str:
    """What ``mailer --config CONFIG config [--defaults]`` writes on stdout."""
    capsys.readouterr()  # what came before
    assert show_config.run(argparse.Namespace(defaults=defaults), config) == 0
    return capsys.readouterr().out


def comparable(settings: Settings, masked: Settings | None = None) -> Settings:
    """Without file names and lines; the passwords ``masked`` shows masked, masked here too."""
    rules = tuple(
        dataclasses.replace(
            rule,
            line=None,
            conditions=tuple(dataclasses.replace(c, line=None) for c in rule.conditions),
        )
        for rule in settings.rules
    )
    imap, smtp = settings.imap, settings.smtp
    if masked is not None and masked.imap.password == MASK:
        imap = dataclasses.replace(imap, password=MASK)
    if masked is not None and masked.smtp.password == MASK:
        smtp = dataclasses.replace(smtp, password=MASK)
    return dataclasses.replace(
        settings, imap=imap, smtp=smtp, rules=rules, config_path=None, rules_path=None
    )


def round_trip(config: Path, out: Path, defaults: bool, capsys: pytest.CaptureFixture[str]) -> str:
    """Print, save elsewhere, check as ``mailer check`` does: the same settings come back."""
    original, problems = check_all(config)
    assert original is not None, [str(p) for p in problems]
    text = printed(config, defaults=defaults, capsys=capsys)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    again, problems = check_all(out)
    assert [str(p) for p in problems if not p.warning] == []
    assert again is not None
    assert comparable(again) == comparable(original, masked=again)
    return text


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    for name in ("MAILER_CONFIG", "STATE_DIRECTORY", "CREDENTIALS_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("defaults", [False, True], ids=["set", "defaults"])
@pytest.mark.parametrize("config", [EXAMPLE, DATA / "minimal.toml"], ids=lambda p: p.name)
def test_shipped_and_test_configs_round_trip(
    config: Path, defaults: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = round_trip(config, tmp_path / "elsewhere" / "printed.toml", defaults, capsys)
    assert f'password = "{MASK}"' in text and "secret" not in text


@pytest.mark.parametrize("defaults", [False, True], ids=["set", "defaults"])
def test_the_config_mailer_init_writes_round_trips(
    defaults: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = init_config(tmp_path)
    text = round_trip(config, tmp_path / "elsewhere" / "printed.toml", defaults, capsys)
    data = tomllib.loads(text)
    assert data["imap"]["password_file"] == str(tmp_path / "desk" / "imap.password")
    assert "rules_file" not in data["service"] and data["rules"]


@pytest.mark.parametrize("defaults", [False, True], ids=["set", "defaults"])
@pytest.mark.parametrize(("imap", "smtp"), CASES, ids=["-".join(c) for c in CASES])
def test_every_kind_of_key_and_secret_round_trips(
    imap: str, smtp: str, defaults: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = rich_config(tmp_path, imap, smtp)
    text = round_trip(config, tmp_path / "elsewhere" / "printed.toml", defaults, capsys)
    for secret in ("hunter2", "pw-from-file", "s3cret", "ignored", *ENV.values()):
        assert secret not in text
    data = tomllib.loads(text)
    assert data["store"]["path"] == str(tmp_path / "state" / "desk.sqlite3")
    assert data["service"]["templates_dir"] == str(tmp_path / "templates")
    assert data["imap"]["timeout"] == 0.5 and data["imap"]["backlog"] == "2d"
    assert data["limits"]["auto_per_thread_window"] == "90m"
    assert data["limits"]["max_message_size"] == 1000
    assert data["rules"][0]["match"]["header"] == {"X-Priority": ["^1"], "List-Id": ["", "x"]}
    assert data["rules"][1]["match"] == {"body": ["sparse"]}  # the empty list is no condition


def test_secrets_are_masked_or_named_never_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def shown(name: str, imap: str, smtp: str) -> dict[str, Any]:
        config = rich_config(tmp_path / name, imap, smtp)
        return tomllib.loads(printed(config, defaults=False, capsys=capsys))

    data = shown("a", "file", "inline")
    assert data["imap"]["password_file"] == str(tmp_path / "a" / "secrets" / "imap.pw")
    assert data["smtp"]["password"] == MASK == "********"
    assert shown("b", "env", "none")["imap"]["password_env"] == "MAILER_TEST_IMAP"
    imap = shown("c", "tenant", "none")["imap"]
    assert "password" not in imap  # ignored with xoauth2, so not in force
    assert imap["oauth"] == {
        "flow": "client_credentials",
        "token_url": "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
        "client_id": "app",
        "client_secret_file": str(tmp_path / "c" / "secrets" / "oauth.secret"),
        "scope": "https://outlook.office365.com/.default",
        "timeout": "45s",
    }


def test_plain_output_is_what_the_admin_wrote(capsys: pytest.CaptureFixture[str]) -> None:
    source = DATA / "minimal.toml"
    written = tomllib.loads(source.read_text(encoding="utf-8"))
    shown = tomllib.loads(printed(source, defaults=False, capsys=capsys))
    written["imap"]["password"] = MASK
    written["store"]["path"] = str(DATA / "mailer.sqlite3")
    assert shown == written


def test_rules_file_keys_stay_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    rules = tomllib.loads(printed(EXAMPLE, defaults=False, capsys=capsys))["rules"]
    written = tomllib.loads((EXAMPLE.parent / "rules.example.toml").read_text(encoding="utf-8"))
    assert [set(r) for r in rules] == [set(r) for r in written["rules"]]


def test_defaults_fill_in_every_key_that_has_a_value(capsys: pytest.CaptureFixture[str]) -> None:
    data = tomllib.loads(printed(DATA / "minimal.toml", defaults=True, capsys=capsys))
    passwords = {"password", "password_file", "password_env"}  # minimal.toml: password
    without_value = {  # defaults of "none": TOML has no null
        "service": {"admin", "hostname", "rules_file", "templates_dir", "expectation", "calendar"},
        "imap": passwords - {"password"} | {"ca_file", "oauth", "move_to", "sent_folder"},
        "smtp": passwords | {"username", "ca_file", "oauth", "helo"},
        "store": passwords | {"retention_days", "url"},
        "metrics": {"listen"},
        "promises": {"digest_at"},
        "staff": {"authserv_id"},
    }
    for section, keys in SECTION_KEYS.items():
        expected = set(keys) - without_value.get(section, set())
        assert set(data.get(section, {})) == expected, section
    assert data["workflow"]["keywords"]["resolved"] == ["#resolved", "#risolto"]
    assert data["limits"]["max_message_size"] == "25MB"


def test_systemd_state_directory_store_is_written_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (DATA / "minimal.toml").read_text(encoding="utf-8")
    config = tmp_path / "mailer.toml"
    config.write_text(text[: text.index("[store]")], encoding="utf-8")
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    data = tomllib.loads(printed(config, defaults=False, capsys=capsys))
    assert data["store"] == {"path": str(tmp_path / "state" / "mailer.sqlite3")}


def test_an_invalid_config_prints_no_toml(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError) as raised:
        show_config.run(argparse.Namespace(defaults=False), DATA / "typo.toml")
    assert any("did you mean 'host'" in str(p) for p in raised.value.problems)
    assert capsys.readouterr().out == ""


def test_check_accepts_the_mask_with_a_warning(tmp_path: Path) -> None:
    config = tmp_path / "mailer.toml"
    text = (DATA / "minimal.toml").read_text(encoding="utf-8")
    config.write_text(text.replace('"secret"', f'"{MASK}"'), encoding="utf-8")
    settings, problems = check_settings(config, environ={})
    assert settings is not None and settings.imap.password == MASK
    (masked,) = [p for p in problems if p.key == "password"]
    assert masked.warning and "mailer config" in masked.message


def test_mailer_config_then_check_through_the_command_line(tmp_path: Path) -> None:
    """The acceptance, as an admin types it: print, save, check unchanged."""

    def mailer(*argv: str) -> subprocess.CompletedProcess[str]:
        env = {"PATH": os.defpath, "PYTHONPATH": str(ROOT)}
        command = [sys.executable, "-m", "mailer", *argv]
        return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)

    shown = mailer("--config", str(EXAMPLE), "config", "--defaults")
    assert shown.returncode == 0, shown.stderr
    assert "authserv_id" in shown.stderr  # warnings go to stderr, never into the TOML
    (tmp_path / "printed.toml").write_text(shown.stdout, encoding="utf-8")
    check = mailer("--config", "printed.toml", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    original = check_all(EXAMPLE)[0]
    assert original is not None and f"OK ({len(original.rules)} rules)" in check.stdout
    broken = mailer("--config", str(DATA / "typo.toml"), "config")
    assert (broken.returncode, broken.stdout) == (2, "")


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0.0, "0s"), (30.0, "30s"), (60.0, "1m"), (5400.0, "90m"), (86400.0, "1d"),
     (604800.0, "1w"), (90061.0, "90061s"), (0.5, 0.5), (1.25, 1.25)],
)  # fmt: skip
def test_durations_are_written_in_their_largest_whole_unit(seconds: float, shown: Any) -> None:
    assert _duration(seconds) == shown


@pytest.mark.parametrize(
    ("count", "shown"),
    [(1, 1), (1000, 1000), (1024, "1KB"), (25 * 1024**2, "25MB"), (2 * 1024**3, "2GB")],
)
def test_sizes_are_written_in_their_largest_whole_unit(count: int, shown: Any) -> None:
    assert _size(count) == shown
