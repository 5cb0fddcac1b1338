"""``mailer init DIR``: a commented config that ``mailer check`` accepts as written."""

from __future__ import annotations

import argparse
import io
import os
import re
import stat
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from mailer.admin.init import command as init_cmd
from mailer.config.sections import SECTION_KEYS
from mailer.config.templates import shipped_templates_dir
from mailer.config.validate import check_all

ROOT = Path(__file__).resolve().parents[2]
CORP = ("--address", "it-help@corp.example", "--imap-host", "imap.corp.example")


def init(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="mailer init")
    init_cmd.add_arguments(parser)
    return init_cmd.run(parser.parse_args(list(argv)))


def toml(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def errors(config: Path) -> list[str]:
    return [str(p) for p in check_all(config)[1] if not p.warning]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


class Terminal(io.StringIO):
    """Typed answers, on what claims to be a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MAILER_CONFIG", "MAILER_IMAP_PASSWORD", "MAILER_SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_write_a_config_that_check_accepts(tmp_path: Path) -> None:
    desk = tmp_path / "new" / "desk"
    assert init("--defaults", str(desk)) == 0
    settings, problems = check_all(desk / "mailer.toml")
    assert settings is not None and [p for p in problems if not p.warning] == []
    assert settings.rules_path == desk / "rules.toml" and len(settings.rules) >= 2
    assert settings.templates_dir == desk / "templates"
    assert settings.store.path == desk / "mailer.sqlite3"
    assert settings.imap.security == "tls" and settings.smtp.security == "starttls"
    assert {t.address for t in settings.teams}.isdisjoint({settings.service.address})


def test_mailer_init_then_check_succeed_in_a_clean_environment(tmp_path: Path) -> None:
    """The acceptance test, through the real command line, with no variable set."""
    desk = tmp_path / "desk"
    env = {"PATH": os.defpath, "PYTHONPATH": str(ROOT)}
    for argv in (
        ["init", "--defaults", str(desk)],
        ["--config", str(desk / "mailer.toml"), "check"],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "mailer", *argv],
            cwd=tmp_path, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr


def test_only_the_config_and_the_rules_are_toml_files(tmp_path: Path) -> None:
    assert init("--defaults", str(tmp_path / "desk")) == 0
    found = sorted(p.relative_to(tmp_path / "desk").as_posix() for p in tmp_path.rglob("*.toml"))
    assert found == ["mailer.toml", "rules.toml"]
    assert not list((tmp_path / "desk").glob(".mailer-init-*"))  # no staging left behind


def test_the_config_documents_every_key(tmp_path: Path) -> None:
    assert init("--defaults", str(tmp_path)) == 0
    text = (tmp_path / "mailer.toml").read_text(encoding="utf-8")
    for section, keys in SECTION_KEYS.items():
        assert re.search(rf"^\[{section}\]", text, re.MULTILINE), section
        for key in keys:
            assert re.search(rf"^\s*#?\s*{key}\s*=", text, re.MULTILINE), f"{section}.{key}"
    data = toml(tmp_path / "mailer.toml")
    assert data["service"] == data["service"] | {
        "rules_file": "rules.toml",
        "templates_dir": "templates",
    }
    assert data["store"] == {"path": "mailer.sqlite3"}
    assert (
        "relative to the directory of this file" in text
        and "/var/lib/mailer/mailer.sqlite3" in text
    )


def test_flags_land_in_the_config(tmp_path: Path) -> None:
    staff = ("--staff", "a@corp.example", "--staff", "B@corp.example,c@corp.example")
    code = init(str(tmp_path), *CORP, *staff, "--language", "it", "--name", "Help IT")
    assert code == 0
    data = toml(tmp_path / "mailer.toml")
    assert data["service"]["address"] == "it-help@corp.example"
    assert data["service"]["name"] == "Help IT"
    assert data["service"]["default_language"] == "it"
    assert data["imap"] == data["imap"] | {
        "host": "imap.corp.example",
        "port": 993,
        "username": "it-help@corp.example",
        "password_file": "imap.password",
    }
    assert data["smtp"]["host"] == "smtp.corp.example"
    addresses = ["a@corp.example", "b@corp.example", "c@corp.example"]
    assert data["staff"] == {"addresses": addresses}
    teams = toml(tmp_path / "rules.toml")["teams"]
    team_addresses = {team["address"] for team in teams.values()}
    assert team_addresses == {"it-team@corp.example", "facilities-team@corp.example"}
    # staff without authserv_id: a warning, never an error
    assert errors(tmp_path / "mailer.toml") == []


def test_team_addresses_never_equal_the_shared_address(tmp_path: Path) -> None:
    assert init("--defaults", str(tmp_path), "--address", "it-team@corp.example") == 0
    teams = toml(tmp_path / "rules.toml")["teams"]
    found = {team["address"] for team in teams.values()}
    assert "it-team@corp.example" not in found
    assert errors(tmp_path / "mailer.toml") == []


def test_smtp_login_with_the_imap_account_reuses_its_password(tmp_path: Path) -> None:
    user = "it-help@corp.example"
    assert (
        init(
            "--defaults",
            str(tmp_path),
            *CORP,
            "--smtp-user",
            user,
            "--authserv-id",
            "MX.corp.example",
        )
        == 0
    )
    data = toml(tmp_path / "mailer.toml")
    assert data["smtp"]["username"] == user
    assert data["smtp"]["password_file"] == "imap.password"
    assert data["staff"]["authserv_id"] == "mx.corp.example"
    assert sorted(p.name for p in tmp_path.glob("*.password")) == ["imap.password"]
    assert errors(tmp_path / "mailer.toml") == []


def test_another_smtp_account_gets_its_own_password_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert init("--defaults", str(tmp_path), *CORP, "--smtp-user", "relay") == 0
    smtp = toml(tmp_path / "mailer.toml")["smtp"]
    assert smtp["username"] == "relay" and smtp["password_file"] == "smtp.password"
    assert mode(tmp_path / "smtp.password") == 0o600
    assert str(tmp_path / "smtp.password") in capsys.readouterr().out


def test_refuses_to_overwrite_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert init("--defaults", str(tmp_path)) == 0
    config = tmp_path / "mailer.toml"
    config.write_text("# mine\n", encoding="utf-8")
    (tmp_path / "imap.password").write_text("real secret\n", encoding="utf-8")
    capsys.readouterr()
    assert init("--defaults", str(tmp_path)) == 1
    err = capsys.readouterr().err
    assert str(config) in err and "--force" in err
    assert config.read_text(encoding="utf-8") == "# mine\n"
    assert init("--defaults", "--force", str(tmp_path)) == 0
    assert "rules_file" in config.read_text(encoding="utf-8")
    # a placeholder never replaces a password already there
    assert (tmp_path / "imap.password").read_text(encoding="utf-8") == "real secret\n"


def test_password_file_is_private_and_nothing_secret_is_inline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert init("--defaults", str(tmp_path / "desk")) == 0
    desk = tmp_path / "desk"
    assert mode(desk / "imap.password") == 0o600
    assert mode(desk) == 0o750 and mode(desk / "templates") == 0o750
    assert mode(desk / "mailer.toml") & 0o007 == 0
    data = toml(desk / "mailer.toml")
    assert "password" not in data["imap"] and "password" not in data["smtp"]
    assert str(desk / "imap.password") in capsys.readouterr().out  # told to fill it in


def test_password_env_is_referenced_and_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ("--defaults", str(tmp_path), "--imap-password-env", "MAILER_IMAP_PASSWORD")
    assert init(*argv) == 1  # check: the variable is not set
    assert toml(tmp_path / "mailer.toml")["imap"]["password_env"] == "MAILER_IMAP_PASSWORD"
    assert not (tmp_path / "imap.password").exists()
    monkeypatch.setenv("MAILER_IMAP_PASSWORD", "secret")
    assert errors(tmp_path / "mailer.toml") == []


def test_password_file_flag_is_referenced_where_it_is(tmp_path: Path) -> None:
    secret = tmp_path / "secrets" / "imap"
    secret.parent.mkdir()
    secret.write_text("pw\n", encoding="utf-8")
    secret.chmod(0o600)
    assert init("--defaults", str(tmp_path / "desk"), "--imap-password-file", str(secret)) == 0
    assert toml(tmp_path / "desk" / "mailer.toml")["imap"]["password_file"] == str(secret)
    assert not (tmp_path / "desk" / "imap.password").exists()


def test_clear_text_to_a_remote_server_is_refused_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert init("--defaults", str(tmp_path / "desk"), *CORP, "--imap-security", "none") == 1
    assert "clear text" in capsys.readouterr().err
    assert not (tmp_path / "desk").exists()
    loopback = ("--imap-host", "127.0.0.1", "--imap-security", "none", "--imap-port", "10143")
    assert init("--defaults", str(tmp_path / "local"), *loopback) == 0
    assert toml(tmp_path / "local" / "mailer.toml")["imap"]["port"] == 10143


def test_invalid_flags_are_usage_errors(tmp_path: Path) -> None:
    for bad in (("--address", "Help <h@corp.example>"), ("--imap-port", "99999"), ("--staff", "x")):
        with pytest.raises(SystemExit) as exit_:
            init("--defaults", str(tmp_path), *bad)
        assert exit_.value.code == 2
    assert list(tmp_path.iterdir()) == []


def test_interactive_mode_asks_again_after_an_invalid_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = [
        "Service Desk",  # name
        "not an address", "it-help@corp.example",  # address: asked again
        "", "none", "", "",  # IMAP host, security (clear text refused: asked again), port
        "", "",  # IMAP username, password in a file
        "", "", "", "",  # SMTP host, security, port, no login
        "it", "a@corp.example, b@corp.example", "mx.corp.example",
    ]  # fmt: skip
    monkeypatch.setattr(sys, "stdin", Terminal("\n".join(answers) + "\n"))
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "s3cret")
    assert init(str(tmp_path)) == 0
    out = capsys.readouterr().out
    assert out.count("please try again") == 2
    assert "[helpdesk@example.test]" in out and "[imap.corp.example]" in out  # defaults shown
    data = toml(tmp_path / "mailer.toml")
    assert data["service"]["address"] == "it-help@corp.example"
    assert data["service"]["default_language"] == "it"
    assert data["imap"]["security"] == "tls"
    assert data["staff"] == {
        "addresses": ["a@corp.example", "b@corp.example"],
        "authserv_id": "mx.corp.example",
    }
    assert (tmp_path / "imap.password").read_text(encoding="utf-8") == "s3cret\n"
    assert mode(tmp_path / "imap.password") == 0o600


def test_input_ending_early_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", Terminal("Service Desk\n"))
    assert init(str(tmp_path / "desk")) == 1
    assert not (tmp_path / "desk").exists()


def test_a_failure_while_writing_leaves_no_half_written_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = os.replace
    calls: list[str | Path] = []

    def failing(src: str | Path, dst: str | Path) -> None:
        calls.append(dst)
        if len(calls) == 5:
            raise OSError("disk full")
        real(src, dst)

    monkeypatch.setattr(os, "replace", failing)
    assert init("--defaults", str(tmp_path / "new")) == 1
    assert "disk full; nothing written" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "notes.txt").write_text("keep\n", encoding="utf-8")
    calls.clear()
    assert init("--defaults", str(tmp_path / "old")) == 1
    assert [p.name for p in (tmp_path / "old").iterdir()] == ["notes.txt"]


def test_templates_are_a_copy_that_check_renders(tmp_path: Path) -> None:
    assert init("--defaults", str(tmp_path)) == 0
    shipped = shipped_templates_dir()
    for path in shipped.rglob("*.j2"):
        copy = tmp_path / "templates" / path.relative_to(shipped)
        assert copy.read_bytes() == path.read_bytes()
    readme = (tmp_path / "templates" / "README.txt").read_text(encoding="utf-8")
    assert "falls back" in readme or "shipped" in readme
    assert "add a language" in readme.lower()
    # check renders the copies, not the shipped ones: a mistake there is found
    (tmp_path / "templates" / "en" / "receipt.txt.j2").write_text("{% if %}", encoding="utf-8")
    assert any("receipt.txt.j2" in e for e in errors(tmp_path / "mailer.toml"))


def test_force_keeps_the_files_it_replaces_as_backups(tmp_path: Path) -> None:
    from mailer.cli import main as cli

    target = tmp_path / "conf"
    assert cli.main(["init", "--defaults", str(target)]) == 0
    rules = target / "rules.toml"
    rules.write_text(rules.read_text() + "\n# my own rule, keep me\n")
    assert cli.main(["init", "--defaults", "--force", str(target)]) == 0
    [backup] = list(target.glob("rules.toml.*.bak"))
    assert "# my own rule, keep me" in backup.read_text()
    assert not list(target.glob("mailer.toml.*.bak"))  # unchanged files are not copied


def test_a_password_file_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    from mailer.cli import main as cli

    target = tmp_path / "conf"
    code = cli.main(["init", "--defaults", "--imap-password-file", "/nonexistent", str(target)])
    assert code == 1 and not target.exists()
