"""A new ``[[rules]]`` entry from the options of ``mailer rules add``, written by tomlkit.

Only what the admin gave is written (the defaults stay implicit, as in the example file),
keys in the order the example documents them, regexes in 'literal strings' so a backslash
reads as written, and ``[rules.match]`` indented the way the file already does it.
"""

from __future__ import annotations

import argparse
from typing import Any

import tomlkit
from tomlkit.items import Array, InlineTable, String

# [rules.match] key, option, metavar, help; in the order the conditions are written.
CONDITIONS: tuple[tuple[str, str, str, str], ...] = (
    ("subject", "--subject", "WORD", "a word or phrase in the subject (repeat for any of)"),
    ("body", "--body", "WORD", "a word or phrase in the body"),
    ("text", "--text", "WORD", "a word or phrase in the subject or the body"),
    ("subject_regex", "--subject-regex", "RE", "a Python regex searched in the subject"),
    ("body_regex", "--body-regex", "RE", "a Python regex searched in the body"),
    ("sender", "--sender", "ADDR", "the From address, or a glob like *@hr.example.test"),
    ("sender_domain", "--sender-domain", "D", "the From domain, subdomains included"),
    ("to", "--to", "ADDR", "the address the mail was sent to, or a glob"),
    ("language", "--detected-language", "LANG", "the detected language of the request"),
)
REGEX_KINDS = ("subject_regex", "body_regex", "header")
# Rule keys the options set, in the order the example file writes them.
RULE_OPTIONS = ("category", "team", "priority", "language", "receipt", "template", "expectation")


def add_options(parser: argparse.ArgumentParser) -> None:
    """The rule's keys and its conditions, as ``mailer rules add`` takes them."""
    keys = parser.add_argument_group("the rule (left out: the defaults of the rules file)")
    keys.add_argument("--category", help='free text for reports (default "general")')
    keys.add_argument("--team", help="a key of [teams.*] (default: none)")
    keys.add_argument("--priority", choices=("low", "normal", "high", "urgent"))
    keys.add_argument("--language", metavar="L", help="force the receipt's language, e.g. it")
    keys.add_argument("--template", help='the receipt template (default "receipt")')
    keys.add_argument("--expectation", metavar="TEXT", help="when to expect an answer")
    keys.add_argument(
        "--no-receipt", dest="receipt", action="store_false", help="route but send no receipt"
    )
    match = parser.add_argument_group(
        "conditions ([rules.match]; all must hold, a repeated option means any of; "
        "none: the rule matches everything)"
    )
    for kind, option, metavar, text in CONDITIONS:
        match.add_argument(
            option, dest=f"match_{kind}", action="append", default=[], metavar=metavar, help=text
        )
    match.add_argument(
        "--header",
        dest="match_header",
        action="append",
        default=[],
        metavar="NAME=REGEX",
        help='a header and a regex on its value ("X-Priority=^1"; "NAME=" asks only that it '
        "be there)",
    )
    flag = match.add_mutually_exclusive_group()
    for option, value, text in (
        ("--has-attachments", True, "only mail with attachments"),
        ("--no-attachments", False, "only mail without attachments"),
    ):
        flag.add_argument(
            option, dest="match_has_attachments", action="store_const", const=value, help=text
        )


def rule_data(args: argparse.Namespace) -> dict[str, Any]:
    """The rule as plain TOML data (what tomllib would read back), from the options."""
    rule: dict[str, Any] = {"name": args.name}
    for key in RULE_OPTIONS:
        value = getattr(args, key, None)
        if value is not None and not (key == "receipt" and value):  # true is the default
            rule[key] = value
    match: dict[str, Any] = {}
    for kind, *_ in CONDITIONS:
        values = getattr(args, f"match_{kind}")
        if values:
            match[kind] = list(values)
    if args.match_header:
        match["header"] = headers(args.match_header)
    if args.match_has_attachments is not None:
        match["has_attachments"] = args.match_has_attachments
    if match:
        rule["match"] = match
    return rule


def headers(given: list[str]) -> dict[str, str | list[str]]:
    """``NAME=REGEX`` options as the ``header`` table; a name given twice gets a list."""
    found: dict[str, list[str]] = {}
    for item in given:
        name, equals, regex = item.partition("=")
        if not equals or not name.strip():
            raise ValueError(f'--header {item!r}: write it as NAME=REGEX, like "X-Priority=^1"')
        found.setdefault(name.strip(), []).append(regex)
    return {name: values[0] if len(values) == 1 else values for name, values in found.items()}


def has_conditions(rule: dict[str, Any]) -> bool:
    """False for a rule that matches everything: no [rules.match], or only empty lists."""
    match = rule.get("match")
    if not isinstance(match, dict):
        return match is not None
    return any(value not in ([], {}) for value in match.values())


def render(rule: dict[str, Any], indent: str, blank_line: bool, newline: str = "\n") -> str:
    """``[[rules]]`` with its keys and ``[rules.match]``, as TOML text ending in a newline."""
    table = tomlkit.table()
    for key, value in rule.items():
        if key != "match":
            table.add(key, value)
    if "match" in rule:
        match = tomlkit.table()
        for kind, value in rule["match"].items():
            match.add(kind, _value(value, regex=kind in REGEX_KINDS))
        match.indent(len(indent))
        match.trivia.indent = ("\n" if blank_line else "") + indent
        table.add("match", match)
    rules = tomlkit.aot()
    rules.append(table)
    doc = tomlkit.document()
    doc.add("rules", rules)
    return tomlkit.dumps(doc).replace("\n", newline)


def _value(value: Any, regex: bool) -> Any:
    if isinstance(value, list):
        array: Array = tomlkit.array()
        array.extend(_value(item, regex) for item in value)
        return array
    if isinstance(value, dict):
        table: InlineTable = tomlkit.inline_table()
        table.update({k: _value(v, regex) for k, v in value.items()})
        return table
    if isinstance(value, str) and regex:
        return _literal(value)
    return value


def _literal(text: str) -> String:
    """A 'literal string' when TOML allows one (no quote, no control character)."""
    if "'" in text or any(ord(c) < 32 or ord(c) == 127 for c in text):
        return tomlkit.string(text)
    return tomlkit.string(text, literal=True)
