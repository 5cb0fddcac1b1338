"""Load mailer.toml (and its rules file) into ``Settings``, reporting every problem at once.

An admin fixing a config wants the whole list in one go, each line pointing at the file
and line to edit: ``PATH:LINE: [section] key: problem (did you mean 'host'?)``. So nothing
here stops at the first mistake: each section is read independently, and ``Settings`` is
built only when no error (warnings are fine) was found.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mailer.config.calendars import read_promises
from mailer.config.lines import locate_keys
from mailer.config.reports import read_reports
from mailer.config.rules import Defined, read_rules, read_teams
from mailer.config.sections import (
    HOME,
    SECTION_KEYS,
    ServiceExtras,
    read_imap,
    read_limits,
    read_metrics,
    read_promise_settings,
    read_service,
    read_smtp,
    read_store,
)
from mailer.config.staff import read_staff, read_workflow
from mailer.config.tables import Report, Table
from mailer.config.transport import is_loopback
from mailer.config.values import describe
from mailer.errors import ConfigError, Problem
from mailer.settings import ImapSettings, ServiceSettings, Settings, StoreSettings

__all__ = ["DEFAULT_PATH", "check_settings", "load_settings", "resolve_config_path"]

DEFAULT_PATH = Path("/etc/mailer/mailer.toml")
ENV_VAR = "MAILER_CONFIG"
REQUIRED = {
    "service": "name and address",
    "imap": "host, username and a password",
    "smtp": "host",
    "store": "path",
}
# tomllib's terse messages, with what usually causes them.
_SYNTAX_HINTS = {
    "Cannot overwrite a value": "a key or table written twice?",
    "Cannot declare": "a table written twice?",
    "Invalid value": "a value missing, or text without quotes?",
    "Expected '=' after a key in a key/value pair": "text without quotes, or a missing '='?",
    "Unclosed array": "a missing ']' or ','?",
    "Unclosed inline table": "inline tables { ... } must fit on one line",
}
TOP_KEYS = (*SECTION_KEYS, "teams", "rules", "calendars", "targets")
RULES_FILE_KEYS = ("rules", "teams")
_AT_LINE = re.compile(r"\s*\(at line (\d+), column \d+\)$")
log = logging.getLogger(__name__)


def resolve_config_path(arg: str | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The config to use: the explicit argument, else $MAILER_CONFIG, else /etc/mailer."""
    environ = os.environ if environ is None else environ
    chosen = arg or environ.get(ENV_VAR) or str(DEFAULT_PATH)
    return Path(chosen).expanduser()


def load_settings(
    path: Path | str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    reach_secrets: bool = True,
) -> Settings:
    """The settings, or ``ConfigError`` listing every problem; warnings are logged."""
    settings, problems = check_settings(path, environ=environ, reach_secrets=reach_secrets)
    if settings is None:
        raise ConfigError(problems)
    for problem in problems:
        log.warning("%s", problem)
    return settings


def check_settings(
    path: Path | str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    rules_text: str | None = None,
    config_text: str | None = None,
    reach_secrets: bool = True,
) -> tuple[Settings | None, list[Problem]]:
    """Every problem in the config (warnings have ``warning=True``) and, if none is an
    error, the settings. ``path`` is resolved like ``resolve_config_path``.

    ``rules_text`` / ``config_text``: read this instead of the rules file / the config (an
    edit or an old version, checked before it is written); problems still name the file.
    ``reach_secrets=False``: password files and variables are named, not read (commands
    that never connect)."""
    environ = os.environ if environ is None else environ
    given = resolve_config_path(str(path) if path else None, environ)
    config = given.absolute()
    # problems name the file as the admin did
    data, report = _read_toml(config, shown=given, text=config_text)
    if data is None:
        return None, report.problems
    base = config.parent
    if "store" not in data and environ.get("STATE_DIRECTORY"):
        data = {**data, "store": {}}  # systemd's StateDirectory= holds the store
    rules_data: Mapping[str, Any]
    top = Table(report, (), data, None, TOP_KEYS, what="section")
    tables = {name: _section(top, name) for name in SECTION_KEYS}
    service, extras = (None, ServiceExtras())
    if tables["service"] is not None:
        service, extras = read_service(tables["service"], base)
    parts: dict[str, Any] = {
        "service": service,
        "imap": tables["imap"] and read_imap(tables["imap"], base, environ, reach_secrets),
        "smtp": tables["smtp"] and read_smtp(tables["smtp"], base, environ, reach_secrets),
        # the store's password is read even by commands that never connect to IMAP or SMTP:
        # they all read the store (a PostgreSQL one needs it)
        "store": tables["store"] and read_store(tables["store"], base, environ),
    }
    if tables["limits"] is not None:
        parts["limits"] = read_limits(tables["limits"])
    if tables["metrics"] is not None:
        parts["metrics"] = read_metrics(tables["metrics"])
    if tables["promises"] is not None:
        parts["promises"] = read_promise_settings(tables["promises"])
    if tables["staff"] is not None:
        parts["staff"] = read_staff(tables["staff"])
    if tables["workflow"] is not None:
        parts["workflow"] = read_workflow(tables["workflow"])
    _warn_inline_passwords(report, data, config)

    teams: dict[str, Defined] = {}
    read_teams(report, data.get("teams"), teams)
    rules_report, rules_data = report, data
    if extras.rules_file is not None:
        rules_report, rules_data = _read_rules_file(
            report, extras.rules_file, data, teams, rules_text
        )
    parts["rules"] = read_rules(
        rules_report, rules_data.get("rules"), teams, extras.languages, extras.default_language
    )
    if "rules" not in rules_data:
        message = 'no [[rules]]: every request gets the built-in default rule ("general", no team)'
        rules_report.add(("rules",), "rules", None, message, warning=True)

    if tables["reports"] is not None:
        parts["reports"] = read_reports(tables["reports"], teams)
    promises = read_promises(report, data, extras.calendar, teams)
    problems = _sorted(report) + (_sorted(rules_report) if rules_report is not report else [])
    if any(not p.warning for p in problems) or None in parts.values():
        return None, problems
    parts["store"] = _whose(parts["store"], parts["service"], parts["imap"])
    settings = Settings(
        **parts,
        teams=tuple(d.team for d in teams.values()),
        **promises,
        default_expectation=extras.expectation,
        default_expectations=extras.expectations,
        templates_dir=extras.templates_dir,
        config_path=config,
        rules_path=extras.rules_file,
    )
    return settings, problems


def _whose(store: StoreSettings, service: ServiceSettings, imap: ImapSettings) -> StoreSettings:
    """The store knows which mailbox it keeps: its address, prefix and IMAP mailbox."""
    where = f"{imap.username}@{imap.host.lower()}:{imap.port}/{imap.mailbox}"
    return dataclasses.replace(
        store, mailbox=service.address.lower(), prefix=service.reference_prefix, imap=where
    )


def _read_toml(
    path: Path, shown: Path | None = None, text: str | None = None
) -> tuple[dict[str, Any] | None, Report]:
    """The parsed file (or ``text`` given for it) and its report; a syntax error is
    reported at tomllib's line."""
    report = Report(shown or path, {})
    try:
        if text is None:
            text = path.read_text(encoding="utf-8-sig")  # a Windows editor's BOM is not TOML
    except (OSError, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        hint = (
            ""
            if path.exists()
            else (f"; create it (see config/mailer.example.toml), pass its path, or set {ENV_VAR}")
        )
        report.problems.append(
            Problem(str(report.path), None, None, None, f"cannot read: {reason}{hint}")
        )
        return None, report
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _AT_LINE.search(message)
        line = int(found.group(1)) if found else text.count("\n") + 1
        message = _AT_LINE.sub("", message).replace(" (at end of document)", "")
        hint = next((h for start, h in _SYNTAX_HINTS.items() if message.startswith(start)), "")
        message = f"TOML syntax error: {message}" + (f" ({hint})" if hint else "")
        report.problems.append(Problem(str(report.path), line, None, None, message))
        return None, report
    report.lines = locate_keys(text)
    return data, report


def _section(top: Table, name: str) -> Table | None:
    """The table of one section, or None when it is absent (reported if required)."""
    raw = top.data.get(name)
    if raw is None:
        if name in REQUIRED:
            message = f"section is missing; it needs at least {REQUIRED[name]}"
            top.report.add((), name, None, message)
        return None if name in REQUIRED else Table(top.report, (name,), {}, name, ())
    if not isinstance(raw, dict):
        top.report.add((name,), name, None, f"expected a table [{name}], got {describe(raw)}")
        return None
    elsewhere = {k: hint for k, hint in HOME.items() if k not in SECTION_KEYS[name]}
    return Table(top.report, (name,), raw, name, SECTION_KEYS[name], elsewhere)


def _read_rules_file(
    report: Report,
    path: Path,
    data: Mapping[str, Any],
    teams: dict[str, Defined],
    text: str | None = None,
) -> tuple[Report, Mapping[str, Any]]:
    """Read [[rules]] and [teams.*] from ``rules_file``; problems name that file."""
    rules_data, rules_report = _read_toml(path, text=text)
    if rules_data is None:
        if not path.exists():
            report.add(
                ("service", "rules_file"),
                "service",
                "rules_file",
                f"{path} does not exist; create it (see config/rules.example.toml) "
                "or remove rules_file",
            )
            return Report(path, {}), {"rules": []}
        return rules_report, {"rules": []}
    elsewhere = {name: "it belongs in the main config" for name in SECTION_KEYS}
    Table(rules_report, (), rules_data, None, RULES_FILE_KEYS, elsewhere, what="section")
    read_teams(rules_report, rules_data.get("teams"), teams)
    if "rules" in data:
        report.add(
            ("rules",),
            "rules",
            None,
            f"[[rules]] are also in rules_file {path}; keep them in one place",
        )
    return rules_report, rules_data


def _warn_inline_passwords(report: Report, data: Mapping[str, Any], config: Path) -> None:
    """A real server's password in a file every local user can read deserves a word."""
    try:
        readable = bool(config.stat().st_mode & stat.S_IROTH)
    except OSError:
        return
    for name in ("imap", "smtp"):
        section = data.get(name)
        if not (readable and isinstance(section, dict) and "password" in section):
            continue
        host = section.get("host")
        if not isinstance(host, str) or is_loopback(host.strip("[]")):
            continue  # a local test server, like the sandbox's
        message = (
            f"{config} is readable by every user; chmod 600 it, or use "
            "password_file or password_env"
        )
        report.add((name, "password"), name, "password", message, warning=True)


def _sorted(report: Report) -> list[Problem]:
    return sorted(report.problems, key=lambda p: p.line or 0)
