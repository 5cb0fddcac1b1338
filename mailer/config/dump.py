"""Settings back to TOML: the effective configuration, as ``mailer config`` prints it.

The inverse of ``load``: loading the TOML written here gives the same ``Settings``, but for
the masked passwords, the lines rules were written at and the file names. So every value is
the effective one, written the way ``load`` reads it: durations as "30s", "10m", "1d", sizes
as "25MB", paths absolute (the output may be saved anywhere), a rule's conditions as
``[rules.match]``. Rules and teams come inline even when they live in ``rules_file``: one
document holds everything in force, as ``doveconf -n`` expands its includes.

Two views. ``defaults=False`` (``postconf -n``): the keys the admin wrote (in the config or the
rules file) and those mailer cannot do without; ``defaults=True``: every key, defaults filled
in. A key whose default is "none" (``admin``, ``move_to``, ``retention_days``…) has no TOML
value and stays out. Which keys were written is read from the raw TOML (``tomllib``), since
``Settings`` holds values, not their origin. An ``oauth`` table always shows the token_url and
scope in force (``tenant`` is only a way to write the token_url).

Secrets: an inline ``password`` is written as ``MASK``; ``password_file`` (made absolute) and
``password_env`` name where the password is, so they stay, and the password is never read
here. OAuth secrets are only ever paths or variable names (``oauth.py``), so they stay too.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import fields
from datetime import time
from pathlib import Path
from typing import Any

import tomli_w

from mailer.config.calendars import promises
from mailer.config.oauth import USES
from mailer.config.reports import reports_table
from mailer.config.rules import RULE_KEYS
from mailer.config.sections import SECTION_KEYS
from mailer.config.transport import CREDENTIALS, MASK, SECRET_KEYS
from mailer.core.deciding.rules import MATCHERS
from mailer.settings import Condition, OAuthSettings, Rule, Settings, Targets

__all__ = ["effective_config", "effective_toml", "read_raw"]

Raw = Mapping[str, Any]
_NEEDED = {  # written even when the admin did not: the config does not load without them
    "service": ("name", "address"),
    "imap": ("host", "username"),
    "smtp": ("host",),
    "store": ("path",),
}
_UNITS = (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
_SIZES = (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024))
_SIZE_KEYS = ("max_message_size",)


def read_raw(path: Path | None) -> dict[str, Any]:
    """A TOML file as tomllib reads it; {} when there is none (or it changed under us)."""
    if path is None:
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeError, tomllib.TOMLDecodeError):
        return {}


def effective_toml(settings: Settings, *, defaults: bool = False) -> str:
    """The TOML text of ``effective_config``, under a comment saying where it came from."""
    raw, raw_rules = read_raw(settings.config_path), read_raw(settings.rules_path)
    data = effective_config(settings, raw, raw_rules, defaults=defaults)
    head = [f"# mailer config{' --defaults' if defaults else ''}: the effective configuration"]
    if settings.config_path is not None:
        head.append(f"# of {settings.config_path}")
    if settings.rules_path is not None:
        head.append(f"# with [teams.*] and [[rules]] of {settings.rules_path} written inline")
    head.append(f'# passwords are shown as "{MASK}"; put them back before using this file')
    return "\n".join(head) + "\n\n" + tomli_w.dumps(data)


def effective_config(
    settings: Settings, raw: Raw, raw_rules: Raw | None = None, *, defaults: bool = False
) -> dict[str, Any]:
    """The configuration as a TOML document (a dict for ``tomli_w``); see the module doc.

    ``raw`` is the config file as tomllib reads it, ``raw_rules`` the rules file's."""
    rules_raw = raw_rules if settings.rules_path is not None and raw_rules is not None else raw
    out: dict[str, Any] = {}
    for name in SECTION_KEYS:
        given = _table(raw, name)
        table = _section(settings, name, given, defaults)
        if not defaults:
            table = _pick(table, given, _NEEDED.get(name, ()))
        if table or name in _NEEDED:
            out[name] = table
    teams = {**_table(raw, "teams"), **_table(rules_raw, "teams")}
    if settings.teams:
        out["teams"] = {}
        for team in settings.teams:
            table = {"name": team.name, "address": team.address, "calendar": team.calendar}
            table |= {"escalate_to": list(team.escalate_to) or None, **_targets(team.targets)}
            keys = table if defaults else _table(teams, team.key)
            out["teams"][team.key] = _pick(table, keys, ())
    out |= promises(settings)
    written = rules_raw.get("rules")
    raws = written if isinstance(written, list) and len(written) == len(settings.rules) else None
    if settings.rules:
        out["rules"] = [
            _rule(rule, None if defaults or raws is None else _as_table(raws[i]))
            for i, rule in enumerate(settings.rules)
        ]
    return out


def _section(settings: Settings, name: str, given: Raw, defaults: bool) -> dict[str, Any]:
    """Every key of one section with its effective value, in ``SECTION_KEYS`` order."""
    obj = getattr(settings, name)
    extra: dict[str, Any] = {}
    if name == "service":
        extra["calendar"] = settings.default_calendar
        extra["templates_dir"] = settings.templates_dir
        extra["expectation"] = _texts(settings.default_expectation, settings.default_expectations)
    if name in ("imap", "smtp"):
        extra.update(_secret(given, obj.auth, settings.config_path))
        oauth = _as_table(given.get("oauth"))
        extra["oauth"] = obj.oauth and _oauth(obj.oauth, oauth, defaults)
    if name == "reports":
        extra.update(reports_table(obj))
    if name == "store" and obj.url:
        extra.update(_secret(given, "password", settings.config_path))
    if name == "workflow":
        extra["keywords"] = {action: list(words) for action, words in obj.keywords}
    for key in _SIZE_KEYS:
        if hasattr(obj, key):
            extra[key] = _size(getattr(obj, key))
    out: dict[str, Any] = {}
    for key in SECTION_KEYS[name]:
        if key == "rules_file":
            continue  # the rules are written inline
        if key in extra or key in SECRET_KEYS or key == "oauth":
            value = extra.get(key)
        else:
            value = getattr(obj, key, None)
        value = _value(value)
        if value is not None:
            out[key] = value
    return out


def _pick(table: dict[str, Any], given: Raw, needed: tuple[str, ...]) -> dict[str, Any]:
    """The keys written in ``given`` or ``needed``, with a value; of the keyword table, the
    actions written."""
    out = {k: v for k, v in table.items() if (k in given or k in needed) and v is not None}
    words = given.get("keywords")
    if "keywords" in out and isinstance(words, Mapping):
        out["keywords"] = {k: v for k, v in out["keywords"].items() if k in words}
    return out


def _secret(given: Raw, auth: str, config: Path | None) -> dict[str, str]:
    """Where the password comes from: the one key given, the password itself masked."""
    if auth == "xoauth2":
        return {}  # password keys are ignored then (``check`` warns)
    key = next((k for k in SECRET_KEYS if k in given), None)
    if key is None:
        return {}
    value = str(given[key])
    if key == "password":
        return {key: MASK}
    if key == "password_file" and config is not None and not CREDENTIALS.search(value):
        value = str(config.parent / Path(value.strip()).expanduser())
    return {key: value.strip()}


def _oauth(oauth: OAuthSettings, given: Raw, defaults: bool) -> dict[str, Any]:
    """The keys its flow reads, in force (``tenant`` gives way to the token_url it names,
    scope is the one in force); ``timeout`` when written, or with the defaults."""
    keys = {k for k in USES[oauth.flow] if k != "tenant"}
    keys |= {f"{k}_{end}" for k in keys for end in ("file", "env")}
    out = {"flow": oauth.flow}
    for field in fields(OAuthSettings)[1:]:
        value = getattr(oauth, field.name)
        timeout = field.name == "timeout" and (defaults or "timeout" in given)
        wanted = field.name in keys or timeout
        if wanted and value not in (None, "", ()):
            out[field.name] = _value(value)
    return out


def _rule(rule: Rule, given: Raw | None) -> dict[str, Any]:
    """One [[rules]] entry; with ``given``, only the keys written there (name and match stay)."""
    values = {
        "name": rule.name,
        "category": rule.category,
        "team": rule.team,
        "priority": rule.priority,
        "language": rule.language,
        "receipt": rule.receipt,
        "template": rule.template,
        "expectation": _texts(rule.expectation, rule.expectations),
        "first_response": rule.targets.first_response,
        "resolution": rule.targets.resolution,
        "match": _match(rule.conditions) or None,
    }
    out = {key: values[key] for key in RULE_KEYS if values[key] is not None}
    if given is None:
        return out
    return {k: v for k, v in out.items() if k in given or k in ("name", "match")}


def _targets(targets: Targets) -> dict[str, str | None]:
    return {"first_response": targets.first_response, "resolution": targets.resolution}


def _match(conditions: tuple[Condition, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for cond in conditions:
        shape = MATCHERS[cond.kind].shape
        if shape == "flag":
            out[cond.kind] = cond.flag
        elif shape == "headers":
            out.setdefault(cond.kind, {})[cond.header] = list(cond.values)
        else:
            out[cond.kind] = list(cond.values)
    return out


def _texts(text: str | None, by_language: tuple[tuple[str, str], ...]) -> Any:
    return dict(by_language) if by_language else text


def _value(value: Any) -> Any:
    """A TOML value: paths as text, tuples as arrays, seconds as a duration string."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, time):
        return f"{value:%H:%M}"
    if isinstance(value, tuple | list):
        return [_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _value(v) for k, v in value.items()}
    if isinstance(value, float):  # every float in the settings is a duration in seconds
        return _duration(value)
    return value


def _duration(seconds: float) -> str | float:
    """86400.0 -> "1d", 5400.0 -> "90m"; a fraction of a second stays a number."""
    if not math.isfinite(seconds) or seconds != int(seconds):
        return seconds
    whole = int(seconds)
    unit, size = next((u, s) for u, s in _UNITS if whole % s == 0) if whole else ("s", 1)
    return f"{whole // size}{unit}"


def _size(count: int) -> str | int:
    """26214400 -> "25MB"; a count of bytes that is no whole multiple stays a number."""
    return next((f"{count // s}{unit}" for unit, s in _SIZES if count % s == 0), count)


def _table(raw: Raw, name: str) -> Raw:
    return _as_table(raw.get(name))


def _as_table(value: object) -> Raw:
    return value if isinstance(value, Mapping) else {}
