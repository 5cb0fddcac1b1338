"""[teams.*] and [[rules]], from mailer.toml or from the file named by ``rules_file``.

Each problem is reported against the file and line the rule is written in. The keys of
``[rules.match]`` come from ``rules.MATCHERS``, whose ``shape`` says how to read the value,
so a new condition kind needs no change here. Regexes are compiled now, once, through the
same cache classify uses.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from mailer.config import values as v
from mailer.config.calendars import read_targets
from mailer.config.lines import KeyPath, line_of
from mailer.config.tables import Report, Table, did_you_mean
from mailer.config.values import Convert, Invalid
from mailer.core.deciding import rules as matching
from mailer.core.deciding.text_match import compile_regex, compile_words, normalise
from mailer.settings import Condition, Rule, Team

TEAM_KEYS = ("name", "address", "calendar", "escalate_to", "first_response", "resolution")
RULE_KEYS = (
    "name",
    "category",
    "team",
    "priority",
    "language",
    "receipt",
    "template",
    "expectation",
    "first_response",
    "resolution",
    "match",
)
PRIORITIES = ("low", "normal", "high", "urgent")
_TEMPLATE_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_HEADER_RE = re.compile(r"[!-9;-~]+")  # printable ASCII without ":" (RFC 5322 field-name)


@dataclass(frozen=True)
class Defined:
    """A team and where it was written, to point at the first of two definitions."""

    team: Team
    path: str
    line: int | None


def match_regex(value: object) -> str:
    """Compiled now, into the cache classify uses, so a bad one is found at load time."""
    return v.regex(value, compile_regex)


def word(value: object) -> str:
    found = v.string(value)
    if not normalise(found).replace("*", "").strip():
        raise Invalid(f"expected a word or phrase, got {v.describe(value)}")
    return found


def address_or_glob(value: object) -> str:
    found = v.string(value)
    if any(c in found for c in "*?[") and not any(c.isspace() for c in found):
        return found
    return v.address(found)


def sender_domain(value: object) -> str:
    found = v.text(value).strip()
    if found.startswith(("@", "*.")):
        raise Invalid(
            f'write the domain alone, like "example.test" (subdomains match too); '
            f"got {v.describe(value)}"
        )
    return v.domain(found)


def _nothing(values: tuple[str, ...]) -> object:
    return None


# The caches classify uses, filled at load time.
_WARM: dict[str, Callable[[tuple[str, ...]], object]] = {
    "words": compile_words,
    "address": matching.globs_pattern,
}
SHAPES: dict[str, Convert[tuple[str, ...]]] = {
    "words": v.listing(word),
    "regex": v.listing(match_regex),
    "address": v.listing(address_or_glob),
    "domain": v.listing(sender_domain),
    "language": v.listing(v.language),
}


def read_teams(report: Report, raw: object, known: dict[str, Defined]) -> None:
    """Add the [teams.KEY] tables of one file to ``known``."""
    if raw is None:
        return
    if not isinstance(raw, dict):
        report.add(("teams",), "teams", None, str(v.expected("tables like [teams.it]", raw)))
        return
    for key, data in raw.items():
        keypath: KeyPath = ("teams", key)
        if not isinstance(data, dict):
            message = v.expected(f"a table [teams.{key}] with name and address", data)
            report.add(keypath, "teams", key, str(message))
            continue
        table = Table(report, keypath, data, f"teams.{key}", TEAM_KEYS)
        team = Team(
            key,
            table.get("name", v.string, key),
            table.get("address", v.address, None),
            calendar=table.get("calendar", v.string, None),
            targets=read_targets(table),
            escalate_to=table.get("escalate_to", v.listing(v.address), ()),
        )
        if key in known:
            first = known[key]
            table.problem(None, f"team '{key}' is already defined at {first.path}:{first.line}")
        else:
            known[key] = Defined(team, str(report.path), line_of(report.lines, keypath))


def read_rules(
    report: Report,
    raw: object,
    teams: Mapping[str, Defined],
    languages: tuple[str, ...],
    default_language: str,
) -> tuple[Rule, ...]:
    """Every valid [[rules]] entry, in order; invalid ones are reported and left out."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        message = v.expected("[[rules]] entries (double brackets: an array of tables)", raw)
        report.add(("rules",), "rules", None, str(message))
        return ()
    found: list[Rule] = []
    names: dict[str, int | None] = {}
    catch_all: Rule | None = None
    seen: dict[frozenset[tuple[object, ...]], Rule] = {}
    for index, data in enumerate(raw):
        keypath: KeyPath = ("rules", index)
        if not isinstance(data, dict):
            report.add(keypath, "rules", None, str(v.expected("a table of rule keys", data)))
            continue
        table = Table(report, keypath, data, "rules", RULE_KEYS)
        rule = _read_rule(table, teams, (languages, default_language), names)
        shadow = catch_all or seen.get(_signature(rule))
        if shadow is not None and table.ok:
            why = (
                "has no [rules.match] and matches everything"
                if not shadow.conditions
                else "has the same conditions and comes first"
            )
            table.problem(
                None,
                f"rule '{rule.name}' can never match: rule '{shadow.name}' (line "
                f"{shadow.line}) {why}; move it below, or remove one",
            )
        if table.ok:
            found.append(rule)
            seen.setdefault(_signature(rule), rule)
            if not rule.conditions and catch_all is None:
                catch_all = rule
    return tuple(found)


def _unknown_team(team: str, teams: Mapping[str, Defined]) -> str:
    """Rules name a team by its key; say which key is meant when its name was written."""
    by_name = [key for key, d in teams.items() if d.team.name.casefold() == team.casefold()]
    if by_name:
        return f"unknown team '{team}': rules name a team by its key; write team = \"{by_name[0]}\""
    hint = did_you_mean(team, teams, {})
    key = team if re.fullmatch(r"[A-Za-z0-9_-]+", team) else "KEY"
    return f"unknown team '{team}'{hint}; define it as [teams.{key}] or use one of the keys"


def _signature(rule: Rule) -> frozenset[tuple[object, ...]]:
    """What a rule tests, regardless of order and line: equal signatures match the same mail."""
    return frozenset(
        (c.kind, tuple(sorted(c.values)), (c.header or "").lower(), c.flag) for c in rule.conditions
    )


def _read_rule(
    table: Table,
    teams: Mapping[str, Defined],
    service_languages: tuple[tuple[str, ...], str],
    names: dict[str, int | None],
) -> Rule:
    languages, default_language = service_languages
    line = line_of(table.report.lines, table.keypath)
    name = table.require("name", v.string, f"#{table.keypath[-1]}")
    if name == matching.DEFAULT_RULE.name:
        table.problem(
            "name", f'"{name}" is the built-in rule used when none matches; choose another name'
        )
    elif name in names:
        table.problem("name", f"duplicate rule name '{name}' (first at line {names[name]})")
    elif not name.strip() or not name.isprintable():
        table.problem("name", "a rule name is one line of text (no line breaks or tabs)")
    names.setdefault(name, line)
    team = table.get("team", v.string, None)
    if team is not None and team not in teams:
        table.problem("team", _unknown_team(team, teams))
    elif team is not None and teams[team].team.address is None:
        table.problem("team", f"team '{team}' has no address", warning=True)
    forced = table.get("language", v.language, None)
    if forced is not None and forced not in languages:
        table.problem(
            "language", f"'{forced}' is not in [service] languages ({', '.join(languages)})"
        )
    texts = table.get("expectation", v.expectation(languages, default_language), v.NO_TEXTS)
    template = table.get("template", v.string, "receipt")
    bare = re.sub(r"(\.(txt|html))?\.j2$", "", template)
    if bare != template and _TEMPLATE_RE.fullmatch(bare):
        table.problem("template", f'give the name without its ending: template = "{bare}"')
    elif not _TEMPLATE_RE.fullmatch(template):
        message = f'expected a template name like "receipt", got {v.describe(template)}'
        table.problem("template", message)
    return Rule(
        name=name,
        conditions=_read_match(table, table.data.get("match")),
        category=table.get("category", v.string, "general"),
        team=team,
        priority=table.get("priority", v.choice(*PRIORITIES), "normal"),
        template=template,
        language=forced,
        receipt=table.get("receipt", v.boolean, True),
        expectation=texts[0],
        line=line,
        expectations=texts[1],
        targets=read_targets(table),
    )


def _read_match(rule: Table, raw: object) -> tuple[Condition, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        rule.problem("match", str(v.expected("a table [rules.match]", raw)))
        return ()
    keypath = (*rule.keypath, "match")
    table = Table(rule.report, keypath, raw, "rules.match", matching.MATCHERS)
    conditions: list[Condition] = []
    for kind, value in raw.items():
        if kind not in matching.MATCHERS:
            continue
        line = line_of(rule.report.lines, (*keypath, kind))
        shape = matching.MATCHERS[kind].shape
        if shape == "flag":
            flag = table.get(kind, v.boolean, None)
            if flag is not None:
                conditions.append(Condition(kind, flag=flag, line=line))
        elif shape == "headers":
            conditions += _read_headers(table, kind, value, line)
        else:
            values: tuple[str, ...] = table.get(kind, SHAPES[shape], ())
            if values:
                conditions.append(Condition(kind, values, line=line))
                _WARM.get(shape, _nothing)(values)  # compiled now, not on the first mail
            elif table.ok:
                table.problem(kind, "empty list: no condition at all; give values or remove it",
                              warning=True)  # fmt: skip
    if table.ok and not conditions:
        rule.problem(
            "match",
            "[rules.match] holds no condition, so this rule would match every message; give "
            "it values, or remove [rules.match] if a catch-all is what you want",
        )
    rule.ok = rule.ok and table.ok
    return tuple(sorted(conditions, key=lambda c: matching.MATCHERS[c.kind].cost))


def _read_headers(match: Table, kind: str, raw: object, line: int | None) -> list[Condition]:
    """``header = { "X-Priority" = "^1" }``: one condition per header, regexes on its value."""
    if not isinstance(raw, dict):
        match.problem(kind, str(v.expected('a table like { "X-Priority" = "^1" }', raw)))
        return []
    table = Table(match.report, (*match.keypath, kind), raw, "rules.match", raw)
    conditions = []
    for name in raw:
        if not _HEADER_RE.fullmatch(name):
            table.problem(name, "expected a header name like X-Priority")
            continue
        patterns: tuple[str, ...] = table.get(name, v.listing(match_regex), ())
        if patterns:
            conditions.append(Condition(kind, patterns, header=name, line=line))
    match.ok = match.ok and table.ok
    return conditions
