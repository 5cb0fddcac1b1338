"""``mailer check`` on the mistakes admins make: each one found, on the right file and line.

One row per kind of mistake: where it is written (the config, the rules file or a template),
the text, what the problem must say, the line it must point at, and whether it is only a
warning. Every other part of the setup is valid, so the row's mistake is the only problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from mailer.config.validate import check_all

BASE = """[service]
name = "IT Help Desk"
address = "helpdesk@example.test"
rules_file = "rules.toml"
templates_dir = "templates"
{service}
[imap]
host = "127.0.0.1"
security = "none"
username = "helpdesk"
password = "secret"
{imap}
[smtp]
host = "127.0.0.1"
security = "none"
[store]
path = "mailer.sqlite3"
{extra}"""
TEAMS = """[teams.it]
name = "IT Support"
address = "it-team@example.test"
"""
RULE = """[[rules]]
name = "vpn"
team = "it"
  [rules.match]
  subject = ["vpn"]
"""


@dataclass(frozen=True)
class Mistake:
    where: str  # "config", "rules" or a template path like "en/receipt.txt.j2"
    text: str  # what is written there (for rules: after the teams, first line is line 4)
    says: str  # a piece of the problem's message
    line: int | None  # the line the problem names, None when it names no line
    warning: bool = False


MISTAKES = {
    "rules file is not TOML": Mistake("rules", 'x = "unclosed\n', "TOML syntax error", 4),
    "unknown rule key": Mistake(
        "rules", '[[rules]]\nname = "a"\ncatgory = "x"\n', "did you mean 'category'", 6
    ),
    "rule without a name": Mistake("rules", '[[rules]]\nteam = "it"\n', "name: required", 4),
    "duplicate rule name": Mistake(
        "rules", RULE + '[[rules]]\nname = "vpn"\n  [rules.match]\n  body = ["x"]\n',
        "duplicate rule name 'vpn'", 10,
    ),
    "rule named like the built-in default": Mistake(
        "rules", '[[rules]]\nname = "default"\n  [rules.match]\n  body = ["x"]\n',
        "built-in rule", 5,
    ),
    "unknown team": Mistake(
        "rules", '[[rules]]\nname = "a"\nteam = "itt"\n', "unknown team 'itt' (did you mean", 6
    ),
    "team without address": Mistake(
        "rules", '[teams.hr]\nname = "HR"\n[[rules]]\nname = "a"\nteam = "hr"\n',
        "team 'hr' has no address", 8, warning=True,
    ),
    "team address not an address": Mistake(
        "rules", '[teams.hr]\nname = "HR"\naddress = "hr at example"\n', "address", 6
    ),
    "priority not one of the four": Mistake(
        "rules", '[[rules]]\nname = "a"\npriority = "hi"\n', "priority", 6
    ),
    "forced language not served": Mistake(
        "rules", '[[rules]]\nname = "a"\nlanguage = "fr"\n', "'fr' is not in [service] languages", 6
    ),
    "expectation in a language not served": Mistake(
        "rules", '[[rules]]\nname = "a"\nexpectation = { en = "today", fr = "aujourd\'hui" }\n',
        "fr", 6,
    ),
    "receipt not true or false": Mistake(
        "rules", '[[rules]]\nname = "a"\nreceipt = "no"\n', "receipt", 6
    ),
    "template name with a path": Mistake(
        "rules", '[[rules]]\nname = "a"\ntemplate = "../etc/passwd"\n', "template name", 6
    ),
    "template that does not exist": Mistake(
        "rules", '[[rules]]\nname = "a"\ntemplate = "nosuch"\n', "no template 'nosuch'", 4
    ),
    "match is not a table": Mistake(
        "rules", '[[rules]]\nname = "a"\nmatch = "vpn"\n', "[rules.match]", 6
    ),
    "unknown condition": Mistake(
        "rules", '[[rules]]\nname = "a"\n  [rules.match]\n  subjet = ["x"]\n',
        "did you mean 'subject'", 7,
    ),
    "subject regex does not compile": Mistake(
        "rules", '[[rules]]\nname = "a"\n  [rules.match]\n  subject_regex = ["(vpn"]\n',
        "invalid regular expression", 7,
    ),
    "body regex does not compile": Mistake(
        "rules", '[[rules]]\nname = "a"\n  [rules.match]\n  body_regex = ["[a-"]\n',
        "invalid regular expression", 7,
    ),
    "header regex does not compile": Mistake(
        "rules",
        '[[rules]]\nname = "a"\n  [rules.match]\n  header = { "X-Priority" = "*1" }\n',
        "invalid regular expression", 7,
    ),
    "header condition not a table": Mistake(
        "rules", '[[rules]]\nname = "a"\n  [rules.match]\n  header = "X-Priority"\n',
        "X-Priority", 7,
    ),
    "has_attachments not true or false": Mistake(
        "rules", '[[rules]]\nname = "a"\n  [rules.match]\n  has_attachments = "yes"\n',
        "has_attachments", 7,
    ),
    "rule shadowed by an earlier catch-all": Mistake(
        "rules", '[[rules]]\nname = "all"\n\n' + RULE, "rule 'vpn' can never match", 7
    ),
    "rule shadowed by an earlier one with the same conditions": Mistake(
        "rules", RULE + '[[rules]]\nname = "vpn2"\n  [rules.match]\n  subject = ["vpn"]\n',
        "rule 'vpn2' can never match", 9,
    ),
    "conditions all empty, so the rule matches everything": Mistake(
        "rules", '[[rules]]\nname = "a"\n  [rules.match]\n  text = []\n', "holds no condition", 6
    ),
    "an empty list beside real conditions": Mistake(
        "rules", '[[rules]]\nname = "a"\n  [rules.match]\n  text = []\n  subject = ["x"]\n',
        "empty list", 7, warning=True,
    ),
    "same conditions written in another order": Mistake(
        "rules", '[[rules]]\nname = "a"\n  [rules.match]\n  subject = ["x", "y"]\n'
        '[[rules]]\nname = "b"\n  [rules.match]\n  subject = ["y", "x"]\n',
        "rule 'b' can never match", 8,
    ),
    "team named by its name instead of its key": Mistake(
        "rules", '[[rules]]\nname = "a"\nteam = "IT Support"\n', 'write team = "it"', 6
    ),
    "template named with its file ending": Mistake(
        "rules", '[[rules]]\nname = "a"\ntemplate = "receipt.txt.j2"\n', 'template = "receipt"', 6
    ),
    "rule name with a line break": Mistake(
        "rules", '[[rules]]\nname = "a\\nb"\n  [rules.match]\n  body = ["x"]\n', "one line", 5
    ),
    "rules written as a single table": Mistake(
        "rules", '[rules]\nname = "a"\n', "[[rules]]", None
    ),
    "rules in both files": Mistake(
        "config", '[[rules]]\nname = "a"\n', "also in rules_file", None
    ),
    "template with a syntax error": Mistake(
        "en/receipt.txt.j2", "Hello {% if name %}{{ name }}\n", "en/receipt.txt.j2", None
    ),
    "template using an undefined variable": Mistake(
        "it/receipt.txt.j2", "Ciao {{ nome }}\n", "nome", None
    ),
    "progress template with an undefined variable": Mistake(
        "en/progress_resolved.txt.j2", "Done: {{ resolution }}\n", "resolution", None
    ),
    "undefined variable in a branch the sample does not take": Mistake(
        "en/receipt.txt.j2",
        "Hello\n{% if team %}{{ team }}{% else %}A member of {{ servce }}{% endif %}\n",
        "unknown variable servce", 2,
    ),
    "language listed without templates": Mistake(
        "config", "", "'de' has no templates", None
    ),
    "unknown config key": Mistake(
        "config", "[limits]\nmax_atempts = 3\n", "did you mean 'max_attempts'", 19
    ),
    "staff address not an address": Mistake(
        "config", '[staff]\naddresses = ["sam"]\n', "[staff] addresses", 19
    ),
    "keyword without #": Mistake(
        "config", '[workflow.keywords]\nresolved = ["done"]\n', "keyword like", 19
    ),
    "staff without authserv_id": Mistake(
        "config", '[staff]\naddresses = ["sam@example.test"]\n', "can forge", 19, warning=True
    ),
}  # fmt: skip


def setup(tmp_path: Path, mistake: Mistake) -> Path:
    rules = TEAMS + (mistake.text if mistake.where == "rules" else RULE)
    (tmp_path / "rules.toml").write_text(rules, encoding="utf-8")
    extra = mistake.text if mistake.where == "config" else ""
    config = tmp_path / "mailer.toml"
    service = 'languages = ["en", "it", "de"]' if "'de'" in mistake.says else ""
    config.write_text(BASE.format(service=service, imap="", extra=extra), encoding="utf-8")
    templates = tmp_path / "templates"
    templates.mkdir()
    if "/" in mistake.where:
        path = templates / mistake.where
        path.parent.mkdir(parents=True)
        path.write_text(mistake.text, encoding="utf-8")
    return config


def test_the_valid_setup_has_no_problem(tmp_path: Path) -> None:
    settings, problems = check_all(setup(tmp_path, Mistake("rules", RULE, "", None)))
    assert settings is not None and problems == []


def test_the_table_covers_at_least_25_kinds_of_mistake() -> None:
    assert len(MISTAKES) >= 25


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_each_mistake_is_found_where_it_is_written(name: str, tmp_path: Path) -> None:
    mistake = MISTAKES[name]
    _, problems = check_all(setup(tmp_path, mistake))
    matching = [p for p in problems if mistake.says in str(p)]
    assert matching, "\n".join(str(p) for p in problems)
    problem = matching[0]
    assert problem.warning == mistake.warning, str(problem)
    if mistake.line is not None:
        assert problem.line == mistake.line, str(problem)
    if mistake.where == "rules":
        assert problem.path.endswith("rules.toml"), str(problem)
    if "/" in mistake.where:  # the admin's copy, not the shipped template of that name
        assert problem.path == str(tmp_path / "templates" / mistake.where), str(problem)
    assert any(not p.warning for p in problems) == (not mistake.warning)
    assert len([p for p in problems if not p.warning]) <= 2, [str(p) for p in problems]
