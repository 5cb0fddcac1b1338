"""Rules: first match wins, every condition kind, accents and case, explain, speed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mailer.config.load import load_settings
from mailer.core.deciding.rules import (
    DEFAULT_RULE,
    MATCHERS,
    MessageView,
    classify,
    explain,
    matcher,
)
from mailer.core.deciding.text_match import Tokens, compile_words, normalise
from mailer.model import Address, Attachment
from mailer.settings import Condition, Rule, Team
from tests.factories import message

EXAMPLES = Path(__file__).resolve().parents[2] / "config"
TEAMS = (Team("it", "IT Support", "it-team@example.test"), Team("hr", "Human Resources"))


def rule(name: str, *conditions: Condition, **fields: object) -> Rule:
    return Rule(name=name, conditions=conditions, **fields)  # type: ignore[arg-type]


def cond(kind: str, *values: str, **fields: object) -> Condition:
    return Condition(kind, values, **fields)  # type: ignore[arg-type]


def matches(condition: Condition, language: str | None = None, **msg: object) -> bool:
    return classify(message(**msg), (rule("r", condition),), (), language=language).rule == "r"


# ---- choosing a rule -------------------------------------------------------------------------


def test_first_matching_rule_wins_and_fills_the_team() -> None:
    printers = rule("printers", cond("subject", "printer"), team="it", category="hardware",
                    priority="high", expectation="Within a day.")  # fmt: skip
    anything = rule("anything", team="hr")
    result = classify(message(subject="Printer jammed"), (printers, anything), TEAMS)
    assert (result.rule, result.category, result.priority) == ("printers", "hardware", "high")
    assert (result.team, result.team_name, result.team_address) == (
        "it", "IT Support", "it-team@example.test")  # fmt: skip
    assert result.expectation == "Within a day."
    assert classify(message(subject="Hello"), (printers, anything), TEAMS).rule == "anything"


def test_no_match_gives_the_builtin_default_rule() -> None:
    result = classify(message(subject="Hello"), (rule("p", cond("subject", "printer")),), TEAMS,
                      default_expectation="Soon.")  # fmt: skip
    assert (result.rule, result.category, result.team, result.team_name) == (
        "default", "general", None, None)  # fmt: skip
    assert (result.priority, result.receipt, result.template) == ("normal", True, "receipt")
    assert result.expectation == "Soon."
    assert DEFAULT_RULE.name == "default"


def test_rule_without_conditions_matches_everything() -> None:
    assert classify(message(), (rule("catch-all"),), ()).rule == "catch-all"


def test_all_conditions_must_hold() -> None:
    both = rule("both", cond("subject", "printer"), cond("sender_domain", "hr.example.test"))
    assert classify(message(subject="printer"), (both,), ()).rule == "default"
    sender = (Address("", "a@hr.example.test"),)
    assert classify(message(subject="printer", from_=sender), (both,), ()).rule == "both"


def test_rule_settings_are_passed_through() -> None:
    quiet = rule("quiet", receipt=False, template="short", language="it", team="nobody")
    result = classify(message(), (quiet,), TEAMS)
    assert (result.receipt, result.template, result.language) == (False, "short", "it")
    assert (result.team, result.team_name) == ("nobody", None)


def test_expectation_in_the_receipt_language() -> None:
    texts = (("en", "Within a day."), ("it", "Entro un giorno."))
    printers = rule("p", expectation="Within a day.", expectations=texts)
    assert classify(message(), (printers,), (), language="it").expectation == "Entro un giorno."
    assert classify(message(), (printers,), (), language="fr").expectation == "Within a day."
    forced = rule("p", expectation="Within a day.", expectations=texts, language="it")
    assert classify(message(), (forced,), (), language="en").expectation == "Entro un giorno."
    defaults = {"en": "Soon.", "it": "Presto."}
    result = classify(message(), (), (), language="it", default_expectation="Soon.",
                      default_expectations=defaults)  # fmt: skip
    assert result.expectation == "Presto."


# ---- every condition kind ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "msg", "expected"),
    [
        (cond("subject", "printer"), {"subject": "The PRINTER is jammed"}, True),
        (cond("subject", "printer"), {"subject": "Printers"}, False),  # whole words only
        (cond("subject", "print*"), {"subject": "Printers"}, True),
        (cond("subject", "paper jam"), {"subject": "Paper\t  Jam again"}, True),
        (cond("subject", "toner", "printer"), {"subject": "need toner"}, True),  # any item
        (cond("body", "printer"), {"subject": "x", "text": "my printer\nbroke"}, True),
        (cond("body", "printer"), {"subject": "printer", "text": "broken"}, False),
        (cond("text", "printer"), {"subject": "printer", "text": "broken"}, True),
        (cond("text", "printer"), {"subject": "x", "text": "the printer"}, True),
        (cond("subject_regex", r"^urgent\b"), {"subject": "URGENT: down"}, True),
        (cond("subject_regex", r"^urgent\b"), {"subject": "not urgent"}, False),
        (cond("body_regex", r"error \d{3}"), {"text": "Error 809 again"}, True),
        (cond("sender", "maria.rossi@example.org"), {}, True),
        (cond("sender", "MARIA.ROSSI@EXAMPLE.ORG"), {}, True),
        (cond("sender", "*@example.org"), {}, True),
        (cond("sender", "boss@example.org"), {}, False),
        (cond("sender_domain", "example.org"), {}, True),
        (cond("sender_domain", "org"), {}, True),  # a subdomain of org
        (cond("sender_domain", "ple.org"), {}, False),  # not a suffix of labels
        (cond("to", "helpdesk@example.test"), {}, True),
        (cond("to", "printers@example.test"), {}, False),
        (cond("to", "printers@example.test"), {"delivered_to": ("printers@example.test",)}, True),
        (cond("to", "printers@*"), {"headers": (("x-original-to", "<Printers@Example.test>"),)},
         True),
        (cond("header", "^1", header="X-Priority"),
         {"headers": (("x-priority", "1 (Highest)"),)}, True),
        (cond("header", "^1", header="X-Priority"), {"headers": (("x-priority", "3"),)}, False),
        (cond("header", "^1", header="X-Priority"), {}, False),  # header absent
        (cond("header", "", header="List-Id"), {"headers": (("list-id", "<l.example>"),)}, True),
        (Condition("has_attachments", flag=True), {}, False),
        (Condition("has_attachments", flag=False), {}, True),
        (Condition("has_attachments", flag=True),
         {"attachments": (Attachment("a.pdf", "application/pdf", 10),)}, True),
    ],
)  # fmt: skip
def test_condition_kinds(condition: Condition, msg: dict[str, Any], expected: bool) -> None:
    assert matches(condition, **msg) is expected


@pytest.mark.parametrize(
    ("language", "values", "expected"),
    [("it", ("it",), True), ("it-IT", ("it",), True), ("en", ("it",), False),
     (None, ("it",), False), ("EN", ("it", "en"), True)],
)  # fmt: skip
def test_language_condition_uses_the_detected_language(
    language: str | None, values: tuple[str, ...], expected: bool
) -> None:
    assert matches(cond("language", *values), language=language) is expected


def test_every_registered_kind_is_tested_here() -> None:
    assert set(MATCHERS) == {
        "subject",
        "body",
        "text",
        "subject_regex",
        "body_regex",
        "sender",
        "sender_domain",
        "to",
        "header",
        "has_attachments",
        "language",
    }


# ---- case and accents ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "subject"),
    [("stampante", "STAMPANTE rotta"), ("caffe", "Macchina del caffè"), ("caffè", "CAFFE"),
     ("perché", "PERCHE non va"), ("città", "Citta"), ("straße", "STRASSE"),
     ("busta paga", "La Busta  Paga di marzo")],
)  # fmt: skip
def test_words_ignore_case_and_accents(word: str, subject: str) -> None:
    assert matches(cond("subject", word), subject=subject)


def test_regexes_ignore_case_and_accents() -> None:
    assert matches(cond("subject_regex", r"^perché\b"), subject="PERCHÉ? Perche!")
    assert matches(cond("subject_regex", r"caff[e]"), subject="Caffè")
    assert matches(cond("body_regex", r"\S+@example\.test"), text="write To X@Example.TEST")


def test_normalise_is_casefold_without_accents() -> None:
    assert normalise("Ça VA, Élodie? Straße") == "ca va, elodie? strasse"


@pytest.mark.parametrize(
    ("values", "text", "expected"),
    [(("wi-fi",), "Il WI-FI non va", True), (("wi-fi",), "wifi", False),
     (("c++",), "code in C++ please", True), (("air cond*",), "AIR  Conditioning", True),
     (("air cond*",), "hair conditioner", False), (("2°",), "piano 2° sala", True),
     (("prin*",), "a sprint", False), (("prin*",), "Printing", True)],
)  # fmt: skip
def test_phrases_prefixes_and_symbols(values: tuple[str, ...], text: str, expected: bool) -> None:
    assert compile_words(values).search(Tokens.of(text)) is expected


# ---- explain and the registry --------------------------------------------------------------------


def test_explain_gives_each_rule_and_each_condition() -> None:
    printers = rule("printers", cond("subject", "printer", "toner"),
                    cond("sender_domain", "example.org"))  # fmt: skip
    hr = rule("hr", cond("subject", "payslip"), cond("has_attachments", flag=True))
    report = explain(message(subject="Toner please"), (printers, hr), TEAMS)
    assert report == [
        ("printers", True, [("subject: printer | toner", True),
                            ("sender_domain: example.org", True)]),
        ("hr", False, [("subject: payslip", False), ("has_attachments: true", False)]),
        ("default", True, []),
    ]  # fmt: skip


def test_explain_evaluates_every_condition_even_after_a_failure() -> None:
    both = rule("both", cond("subject", "nope"), cond("header", "^1", header="X-Priority"),
                cond("to", "helpdesk@example.test"))  # fmt: skip
    [(_, matched, results), _default] = explain(message(), (both,), ())
    assert matched is False
    assert results == [("subject: nope", False), ("header X-Priority: ^1", False),
                       ("to: helpdesk@example.test", True)]  # fmt: skip


@pytest.fixture
def shouting() -> Iterator[None]:
    @matcher("shouting", "flag")
    def _shouting(condition: Condition, view: MessageView) -> bool:
        return view.msg.subject.isupper() == condition.flag

    yield
    del MATCHERS["shouting"]


@pytest.mark.usefixtures("shouting")
def test_a_new_kind_is_one_registered_function() -> None:
    loud = rule("loud", Condition("shouting", flag=True))
    assert classify(message(subject="HELP NOW"), (loud,), ()).rule == "loud"
    assert classify(message(subject="help"), (loud,), ()).rule == "default"


def test_unknown_kind_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no matcher for condition kind 'nope'"):
        classify(message(), (rule("r", Condition("nope")),), ())


# ---- the example rules on realistic requests, and speed ------------------------------------------


@pytest.mark.parametrize(
    ("subject", "body", "rule_name", "team"),
    [
        ("My laptop won't connect to the VPN", "It says authentication failed.", "vpn-network",
         "it"),
        ("La stampante del 2° piano è inceppata", "Carta inceppata di nuovo.", "printers", "it"),
        ("Password scaduta", "Non riesco a entrare.", "passwords-accounts", "it"),
        ("Richiesta ferie per agosto", "Vorrei due settimane.", "leave", "hr"),
        ("Payslip for March", "Missing overtime.", "payroll", "hr"),
        ("Domanda sulla busta paga", "Manca il rimborso.", "payroll", "hr"),
        ("Il riscaldamento non funziona", "Fa freddo in sala riunioni.", "heating",
         "facilities"),
        ("New desk for the new hire", "Second floor.", "desks", "facilities"),
        ("Question for the help desk", "Where do I find the guide?", "default", None),
        ("Badge non funziona", "Non apre la porta.", "badges", "facilities"),
        ("URGENT: server room flooded", "", "urgent", "it"),
    ],
)  # fmt: skip
def test_example_rules_route_realistic_requests(
    subject: str, body: str, rule_name: str, team: str | None
) -> None:
    settings = load_settings(EXAMPLES / "mailer.example.toml", environ={})
    result = classify(message(subject=subject, text=body), settings.rules, settings.teams,
                      default_expectation=settings.default_expectation)  # fmt: skip
    assert (result.rule, result.team) == (rule_name, team)
    assert result.expectation


def test_classify_is_fast_with_the_example_rules() -> None:
    settings = load_settings(EXAMPLES / "mailer.example.toml", environ={})
    body = "Buongiorno,\nho un problema con la macchina del caffè al terzo piano. " * 40
    messages = [message(subject=f"Richiesta numero {i} è urgente?", text=body)
                for i in range(2000)]  # fmt: skip
    start = time.perf_counter()
    for msg in messages:
        classify(msg, settings.rules, settings.teams, language="it")
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0, f"{len(messages) / elapsed:.0f} messages/s"
