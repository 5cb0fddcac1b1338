"""Classify a request with the admin's rules: the first rule whose conditions all hold wins.

Each condition kind is one small function in ``MATCHERS``; config.py reads the ``[rules.match]``
keys from that registry, so a new kind needs nothing else. Matching is case- and
accent-insensitive on both sides ("caffe" finds "CAFFÈ"). Patterns are compiled once and
cached by their text, and each message's normalised subject, body and headers are computed
at most once per call, so classifying thousands of messages a second is cheap.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from mailer.core.deciding.text_match import Tokens, compile_regex, compile_words, normalise
from mailer.model import Classification, ParsedMessage
from mailer.settings import Condition, Rule, Team

# What a [rules.match] key holds; config.py validates values by this.
Shape = Literal["words", "regex", "address", "domain", "flag", "headers", "language"]
Test = Callable[[Condition, "MessageView"], bool]
Explanation = list[tuple[str, bool, list[tuple[str, bool]]]]

DEFAULT_RULE = Rule(name="default")  # what applies when no rule matches: no team, "general"


@dataclass(frozen=True)
class Matcher:
    test: Test
    shape: Shape
    cost: int = 1  # cheap conditions are tested first; body scans are the dearest


MATCHERS: dict[str, Matcher] = {}


def matcher(kind: str, shape: Shape, cost: int = 1) -> Callable[[Test], Test]:
    """Register ``test`` as the matcher of ``[rules.match] kind``."""

    def register(test: Test) -> Test:
        MATCHERS[kind] = Matcher(test, shape, cost)
        return test

    return register


@functools.lru_cache(maxsize=4096)
def globs_pattern(values: tuple[str, ...]) -> re.Pattern[str]:
    """One regex matching an address equal to, or fitting the glob of, any value."""
    return re.compile("|".join(fnmatch.translate(v.strip().lower()) for v in values))


class MessageView:
    """A message as the matchers see it; each normalised field is computed once."""

    def __init__(self, msg: ParsedMessage, language: str | None = None) -> None:
        self.msg = msg
        self.language = (language or "").lower()
        self._headers: dict[str, tuple[str, ...]] = {}

    @cached_property
    def subject(self) -> Tokens:
        return Tokens.of(self.msg.subject)

    @cached_property
    def body(self) -> Tokens:
        return Tokens.of(self.msg.text)

    @cached_property
    def senders(self) -> tuple[str, ...]:
        return tuple(a.addr.lower() for a in self.msg.from_)

    @cached_property
    def recipients(self) -> tuple[str, ...]:
        found = [a.addr.lower() for a in self.msg.recipients]
        found += [a.strip().strip("<>").lower() for a in self.msg.delivered_to]
        for name in ("delivered-to", "x-original-to"):
            found += [v.strip().strip("<>").lower() for v in self.msg.header_all(name)]
        return tuple(dict.fromkeys(found))

    def header(self, name: str) -> tuple[str, ...]:
        key = name.lower()
        if key not in self._headers:
            self._headers[key] = tuple(normalise(v) for v in self.msg.header_all(key))
        return self._headers[key]


def _any_regex(patterns: tuple[str, ...], text: str) -> bool:
    return any(compile_regex(p).search(text) for p in patterns)


@matcher("subject", "words")
def _subject(cond: Condition, view: MessageView) -> bool:
    return compile_words(cond.values).search(view.subject)


@matcher("body", "words", cost=2)
def _body(cond: Condition, view: MessageView) -> bool:
    return compile_words(cond.values).search(view.body)


@matcher("text", "words", cost=2)
def _text(cond: Condition, view: MessageView) -> bool:
    """Subject or body: what admins usually mean by "mentions"."""
    words = compile_words(cond.values)
    return words.search(view.subject) or words.search(view.body)


@matcher("subject_regex", "regex")
def _subject_regex(cond: Condition, view: MessageView) -> bool:
    return _any_regex(cond.values, view.subject.text)


@matcher("body_regex", "regex", cost=2)
def _body_regex(cond: Condition, view: MessageView) -> bool:
    return _any_regex(cond.values, view.body.text)


@matcher("sender", "address", cost=0)
def _sender(cond: Condition, view: MessageView) -> bool:
    pattern = globs_pattern(cond.values)
    return any(pattern.match(a) for a in view.senders)


@matcher("sender_domain", "domain", cost=0)
def _sender_domain(cond: Condition, view: MessageView) -> bool:
    domains = [a.rpartition("@")[2] for a in view.senders]
    return any(d == v or d.endswith("." + v) for d in domains for v in cond.values)


@matcher("to", "address", cost=0)
def _to(cond: Condition, view: MessageView) -> bool:
    pattern = globs_pattern(cond.values)
    return any(pattern.match(a) for a in view.recipients)


@matcher("header", "headers")
def _header(cond: Condition, view: MessageView) -> bool:
    return any(_any_regex(cond.values, value) for value in view.header(cond.header or ""))


@matcher("has_attachments", "flag", cost=0)
def _has_attachments(cond: Condition, view: MessageView) -> bool:
    return bool(view.msg.attachments) == bool(cond.flag)


@matcher("language", "language", cost=0)
def _language(cond: Condition, view: MessageView) -> bool:
    lang = view.language
    return bool(lang) and any(lang == v or lang.startswith(v + "-") for v in cond.values)


def check_condition(cond: Condition, view: MessageView) -> bool:
    try:
        found = MATCHERS[cond.kind]
    except KeyError:
        raise ValueError(f"no matcher for condition kind {cond.kind!r}") from None
    return found.test(cond, view)


def describe_condition(cond: Condition) -> str:
    """A condition as an admin would write it, for ``mailer rules test``."""
    if cond.kind == "header":
        return f"header {cond.header}: " + " | ".join(cond.values)
    if cond.flag is not None:
        return f"{cond.kind}: {str(cond.flag).lower()}"
    return f"{cond.kind}: " + " | ".join(cond.values)


def outcome(
    rule: Rule,
    teams: tuple[Team, ...],
    default_expectation: str | None = None,
    language: str | None = None,
    default_expectations: Mapping[str, str] | None = None,
) -> Classification:
    """The classification a rule gives, with its team's name and address filled in.

    The expectation is the rule's, else the default, each in the receipt's language (the
    rule's forced one, else ``language``) when given per language, else in the default one.
    """
    team = next((t for t in teams if t.key == rule.team), None) if rule.team else None
    lang = rule.language or language or ""
    expectation = (
        dict(rule.expectations).get(lang)
        or rule.expectation
        or (default_expectations or {}).get(lang)
        or default_expectation
    )
    return Classification(
        rule=rule.name,
        category=rule.category,
        team=rule.team,
        team_name=team.name if team else None,
        team_address=team.address if team else None,
        priority=rule.priority,
        template=rule.template,
        language=rule.language,
        receipt=rule.receipt,
        expectation=expectation,
    )


def classify(
    msg: ParsedMessage,
    rules: tuple[Rule, ...],
    teams: tuple[Team, ...],
    *,
    language: str | None = None,
    default_expectation: str | None = None,
    default_expectations: Mapping[str, str] | None = None,
) -> Classification:
    """The first rule whose conditions all hold, else the built-in "default" rule.

    ``language`` is the detected language of the request, for ``language`` conditions and
    to pick per-language expectations; ``default_expectations`` is
    ``dict(settings.default_expectations)``, ``default_expectation`` the fallback text.
    """
    view = MessageView(msg, language)
    for rule in rules:
        if all(check_condition(cond, view) for cond in rule.conditions):
            return outcome(rule, teams, default_expectation, language, default_expectations)
    return outcome(DEFAULT_RULE, teams, default_expectation, language, default_expectations)


def explain(
    msg: ParsedMessage,
    rules: tuple[Rule, ...],
    teams: tuple[Team, ...],
    language: str | None = None,
) -> Explanation:
    """Every rule, whether it matched, and each condition's result; the default comes last.

    All conditions are evaluated (no short cut), so an admin sees every reason at once;
    the first entry with True is the one ``classify`` picks.
    """
    del teams  # same signature as classify; teams do not affect matching
    view = MessageView(msg, language)
    report: Explanation = []
    for rule in rules:
        results = [(describe_condition(c), check_condition(c, view)) for c in rule.conditions]
        report.append((rule.name, all(ok for _, ok in results), results))
    report.append((DEFAULT_RULE.name, True, []))
    return report
