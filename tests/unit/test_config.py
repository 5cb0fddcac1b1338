"""Config loading: the exact keys outside tools write, secrets, and every problem at its line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mailer.config.lines import locate_keys
from mailer.config.load import DEFAULT_PATH, check_settings, load_settings, resolve_config_path
from mailer.config.sections import SECTION_KEYS
from mailer.config.values import Invalid, duration, size
from mailer.errors import ConfigError, Problem

DATA = Path(__file__).resolve().parent.parent / "data" / "config"
EXAMPLES = Path(__file__).resolve().parents[2] / "config"

SERVICE = 'name = "IT Help Desk"\naddress = "helpdesk@example.test"\n'
IMAP = (
    'host = "127.0.0.1"\nport = 10143\nsecurity = "none"\nusername = "helpdesk"\n'
    'password = "secret"\n'
)
SMTP = 'host = "127.0.0.1"\nport = 10025\nsecurity = "none"\n'
STORE = 'path = "mailer.sqlite3"\n'
RULES = """
[teams.it]
name = "IT Support"
address = "it-team@example.test"

[[rules]]
name = "printers"
team = "it"
  [rules.match]
  subject = ["printer"]
"""


def config_text(*, service: str = SERVICE, imap: str = IMAP, smtp: str = SMTP,
                store: str = STORE, extra: str = RULES) -> str:  # fmt: skip
    return f"[service]\n{service}\n[imap]\n{imap}\n[smtp]\n{smtp}\n[store]\n{store}\n{extra}"


def write(tmp_path: Path, text: str, name: str = "mailer.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if not p.warning]


def marked_line(text: str) -> int | None:
    """The 1-based line carrying the ``# <-`` marker: where a test expects the problem."""
    return next((i for i, line in enumerate(text.splitlines(), 1) if "# <-" in line), None)


def rule_key(line: str) -> str:
    """RULES with ``line`` added to the rule itself, above its [rules.match]."""
    return RULES.replace("  [rules.match]", f"{line}\n  [rules.match]")


# ---- the minimal config, exactly as outside tools write it ---------------------------------


def test_minimal_config_loads_with_exactly_those_values() -> None:
    settings = load_settings(DATA / "minimal.toml", environ={})
    assert settings.service.name == "IT Help Desk"
    assert settings.service.address == "helpdesk@example.test"
    imap = settings.imap
    assert (imap.host, imap.port, imap.security) == ("127.0.0.1", 10143, "none")
    assert (imap.username, imap.password, imap.mailbox) == ("helpdesk", "secret", "INBOX")
    smtp = settings.smtp
    assert (smtp.host, smtp.port, smtp.security) == ("127.0.0.1", 10025, "none")
    assert (smtp.username, smtp.password) == (None, None)
    assert settings.store.path == DATA / "mailer.sqlite3"
    assert settings.config_path == DATA / "minimal.toml"
    assert imap.backlog == 24 * 3600
    assert settings.rules == () and settings.teams == ()


def test_minimal_config_only_warns_that_there_are_no_rules() -> None:
    settings, problems = check_settings(DATA / "minimal.toml", environ={})
    assert settings is not None
    assert [p.warning for p in problems] == [True]
    assert "no [[rules]]" in problems[0].message


def test_example_configs_load_cleanly() -> None:
    settings, problems = check_settings(EXAMPLES / "mailer.example.toml", environ={})
    assert errors(problems) == [], [str(p) for p in problems]
    assert settings is not None
    assert settings.rules_path == EXAMPLES / "rules.example.toml"
    assert {t.key: t.address for t in settings.teams} == {
        "it": "it-team@example.test",
        "hr": "hr-team@example.test",
        "facilities": "facilities@example.test",
    }
    assert all(r.expectation for r in settings.rules if r.receipt and r.team)
    assert dict(settings.default_expectations)["it"].startswith("Di solito")


def test_example_documents_every_key() -> None:
    text = (EXAMPLES / "mailer.example.toml").read_text(encoding="utf-8")
    for section, keys in SECTION_KEYS.items():
        assert f"[{section}]" in text
        for key in keys:
            assert re.search(rf"^\s*#?\s*{key}\s*=", text, re.MULTILINE), f"{section}.{key}"


# ---- paths, secrets, transport -------------------------------------------------------------


def test_resolve_config_path_prefers_argument_then_environment_then_etc() -> None:
    env = {"MAILER_CONFIG": "/srv/mailer.toml"}
    assert resolve_config_path("/x/given.toml", env) == Path("/x/given.toml")
    assert resolve_config_path(None, env) == Path("/srv/mailer.toml")
    assert resolve_config_path(None, {}) == DEFAULT_PATH == Path("/etc/mailer/mailer.toml")


def test_load_settings_uses_mailer_config_when_no_path_is_given(tmp_path: Path) -> None:
    path = write(tmp_path, config_text())
    settings = load_settings(environ={"MAILER_CONFIG": str(path)})
    assert settings.config_path == path
    assert settings.store.path == tmp_path / "mailer.sqlite3"


def test_load_settings_raises_config_error_with_every_problem(tmp_path: Path) -> None:
    path = write(tmp_path, config_text(imap=IMAP.replace("10143", '"abc"') + "hots = 1\n"))
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    assert len(errors(caught.value.problems)) == 2
    assert "did you mean 'host'" in str(caught.value)


def test_missing_config_file_says_what_to_do(tmp_path: Path) -> None:
    settings, problems = check_settings(tmp_path / "absent.toml", environ={})
    assert settings is None
    assert "create it" in problems[0].message and "MAILER_CONFIG" in problems[0].message


def test_password_from_environment(tmp_path: Path) -> None:
    imap = IMAP.replace('password = "secret"', 'password_env = "IMAP_PW"')
    settings = load_settings(write(tmp_path, config_text(imap=imap)), environ={"IMAP_PW": "s3"})
    assert settings.imap.password == "s3"


def test_password_from_file_relative_to_config_strips_one_newline(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "imap").write_text("pa ss\n", encoding="utf-8")
    (tmp_path / "secrets" / "smtp").write_text("smtp-pw\r\n", encoding="utf-8")
    imap = IMAP.replace('password = "secret"', 'password_file = "secrets/imap"')
    smtp = SMTP + 'username = "helpdesk"\npassword_file = "secrets/smtp"\n'
    settings = load_settings(write(tmp_path, config_text(imap=imap, smtp=smtp)), environ={})
    assert settings.imap.password == "pa ss"
    assert (settings.smtp.username, settings.smtp.password) == ("helpdesk", "smtp-pw")
    # Only one: the second line break stays in the password, which no login can carry.
    (tmp_path / "secrets" / "imap").write_text("pa ss\n\n", encoding="utf-8")
    _, problems = check_settings(write(tmp_path, config_text(imap=imap, smtp=smtp)), environ={})
    [problem] = errors(problems)
    assert problem.key == "password_file" and "line break" in problem.message


@pytest.mark.parametrize(
    ("section", "secret", "words"),
    [
        ("imap", "se\\u0000cret", "NUL"),
        ("smtp", "se\\u0000cret", "NUL"),
        ("imap", "line one\\nline two", "line break"),
        ("smtp", "se\\rcret", "line break"),
    ],
)
def test_a_password_no_login_can_carry_is_an_error(
    tmp_path: Path, section: str, secret: str, words: str
) -> None:
    """Issue 11: such a password passed ``mailer check`` and stopped the daemon at login."""
    imap = IMAP.replace('"secret"', f'"{secret}"') if section == "imap" else IMAP
    smtp = SMTP + f'username = "helpdesk"\npassword = "{secret}"\n' if section == "smtp" else SMTP
    _, problems = check_settings(write(tmp_path, config_text(imap=imap, smtp=smtp)), environ={})
    [problem] = errors(problems)
    assert (problem.section, problem.key) == (section, "password") and words in problem.message


def test_a_non_ascii_imap_password_is_a_warning_naming_auth_plain(tmp_path: Path) -> None:
    """IMAP LOGIN cannot carry it; mailer uses AUTHENTICATE PLAIN, which the server must offer."""
    imap = IMAP.replace('"secret"', '"pässwörd"')
    smtp = SMTP + 'username = "helpdesk"\npassword = "pässwörd"\n'  # SMTP AUTH carries UTF-8
    config = write(tmp_path, config_text(imap=imap, smtp=smtp))
    settings, problems = check_settings(config, environ={})
    assert settings is not None and settings.imap.password == "pässwörd"
    [problem] = problems
    assert problem.warning and (problem.section, problem.key) == ("imap", "password")
    assert "AUTH=PLAIN" in problem.message and "mailer doctor" in problem.message


def test_password_file_readable_by_everyone_is_a_warning(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("x", encoding="utf-8")
    secret.chmod(0o644)
    imap = IMAP.replace('password = "secret"', f'password_file = "{secret}"')
    settings, problems = check_settings(write(tmp_path, config_text(imap=imap)), environ={})
    assert settings is not None
    assert any(p.warning and p.key == "password_file" and "chmod" in p.message for p in problems)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost"])
def test_clear_text_is_fine_on_loopback(tmp_path: Path, host: str) -> None:
    imap = IMAP.replace('"127.0.0.1"', f'"{host}"')
    assert load_settings(write(tmp_path, config_text(imap=imap)), environ={}).imap.security == (
        "none"
    )


def test_clear_text_to_a_remote_host_is_refused_unless_allowed(tmp_path: Path) -> None:
    smtp = SMTP.replace("127.0.0.1", "smtp.example.test")
    _, problems = check_settings(write(tmp_path, config_text(smtp=smtp)), environ={})
    [problem] = errors(problems)
    assert (problem.section, problem.key) == ("smtp", "security")
    assert "allow_insecure = true" in problem.message
    allowed = write(tmp_path, config_text(smtp=smtp + "allow_insecure = true\n"))
    assert load_settings(allowed, environ={}).smtp.allow_insecure is True


@pytest.mark.parametrize(
    ("section", "security", "port"),
    [("imap", "tls", 993), ("imap", "starttls", 143), ("imap", "none", 143),
     ("smtp", "tls", 465), ("smtp", "starttls", 587), ("smtp", "none", 25)],
)  # fmt: skip
def test_default_port_follows_security(
    tmp_path: Path, section: str, security: str, port: int
) -> None:
    body = {"imap": IMAP, "smtp": SMTP}[section]
    body = re.sub(r"port = \d+\n", "", body).replace('"none"', f'"{security}"')
    settings = load_settings(write(tmp_path, config_text(**{section: body})), environ={})
    assert getattr(settings, section).port == port


def test_durations_sizes_and_every_section_are_read(tmp_path: Path) -> None:
    service = SERVICE + (
        'aliases = "help@example.test"\nsubject_tag = "prefix"\nreference_prefix = "IT"\n'
        'languages = ["it", "en"]\ndefault_language = "it"\nexpectation = "Presto."\n'
        'templates_dir = "tpl"\n'
    )
    imap = IMAP + 'backlog = "2d"\nidle_renew = "90m"\npoll_interval = 30\nmove_to = "Done"\n'
    smtp = SMTP + 'envelope_sender = "null"\nretry_for = "1h30m"\nhelo = "mx.example.test"\n'
    limits = '[limits]\nmax_message_size = "512KB"\nauto_per_thread_window = "30s"\n'
    (tmp_path / "tpl").mkdir()
    text = config_text(service=service, imap=imap, smtp=smtp, extra=limits + RULES)
    settings, problems = check_settings(write(tmp_path, text), environ={})
    assert settings is not None, [str(p) for p in problems]
    assert settings.service.aliases == ("help@example.test",)
    assert (settings.service.subject_tag, settings.service.default_language) == ("prefix", "it")
    assert settings.default_expectation == "Presto."
    assert settings.templates_dir == tmp_path / "tpl"
    assert (settings.imap.backlog, settings.imap.poll_interval) == (172800.0, 30.0)
    assert settings.imap.move_to == "Done"
    assert (settings.smtp.envelope_sender, settings.smtp.retry_for) == ("null", 5400.0)
    assert settings.limits.max_message_size == 512 * 1024
    assert settings.limits.auto_per_thread_window == 30.0
    assert [p.key for p in problems if p.warning] == ["idle_renew"]  # 90m > 29 min


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [(30, 30.0), (1.5, 1.5), ("30s", 30.0), ("90m", 5400.0), ("24h", 86400.0),
     ("2d", 172800.0), ("1w", 604800.0), ("1h30m", 5400.0), ("2 hours", 7200.0), ("45", 45.0)],
)  # fmt: skip
def test_duration_formats(raw: object, seconds: float) -> None:
    assert duration()(raw) == seconds


@pytest.mark.parametrize(
    ("raw", "found"),
    [(1000, 1000), ("512KB", 524288), ("25MB", 26214400), ("1GB", 1 << 30), ("2k", 2048)],
)
def test_size_formats(raw: object, found: int) -> None:
    assert size(raw) == found


@pytest.mark.parametrize("raw", ["24x", "", "h", True, [1], "-5m"])
def test_bad_durations_are_invalid(raw: object) -> None:
    with pytest.raises(Invalid):
        duration()(raw)


# ---- problems: file, line, section, key, message -------------------------------------------


def test_misspelt_key_and_wrong_type_name_file_line_key_and_suggestion() -> None:
    path = DATA / "typo.toml"
    settings, problems = check_settings(path, environ={})
    assert settings is None
    shown = [str(p) for p in errors(problems)]
    assert f"{path}:6: [imap] hots: unknown key (did you mean 'host'?)" in shown
    assert f'{path}:7: [imap] port: expected an integer, got the string "abc"' in shown
    assert f"{path}:5: [imap] host: required key is missing" in shown


def test_problems_are_collected_across_sections(tmp_path: Path) -> None:
    text = config_text(
        service=SERVICE + "reference_start = -1\n",
        imap=IMAP + "batch_size = 0\n",
        smtp=SMTP + 'helo = "not a host"\n',
        store=STORE + "extra = 1\n",
    )
    _, problems = check_settings(write(tmp_path, text), environ={})
    assert {p.key for p in errors(problems)} == {"reference_start", "batch_size", "helo", "extra"}


CASES = [
    # (id, config text, section, key, message fragment)
    ("unknown section", config_text(extra=RULES + '[imapp]  # <-\nfoo = 1\n'),
     "imapp", None, "unknown section (did you mean 'imap'?)"),
    ("unknown key", config_text(service=SERVICE + 'signatur = "x"  # <-\n'),
     "service", "signatur", "unknown key (did you mean 'signature'?)"),
    ("key in the wrong section", config_text(smtp=SMTP + 'backlog = "1h"  # <-\n'),
     "smtp", "backlog", "it belongs in [imap]"),
    ("wrong type", config_text(service=SERVICE + 'reference_start = "ten"  # <-\n'),
     "service", "reference_start", 'expected an integer, got the string "ten"'),
    ("wrong type bool", config_text(imap=IMAP + 'idle = "yes"  # <-\n'),
     "imap", "idle", 'expected true or false, got the string "yes"'),
    ("bad enum", config_text(service=SERVICE + 'subject_tag = "middle"  # <-\n'),
     "service", "subject_tag", 'expected one of "suffix", "prefix", "none"'),
    ("bad address", config_text(service=SERVICE + 'admin = "Boss <boss@example.test>"  # <-\n'),
     "service", "admin", "without a display name"),
    ("not an address", config_text(service=SERVICE + 'admin = "boss.example.test"  # <-\n'),
     "service", "admin", "expected an email address"),
    ("bad list item", config_text(service=SERVICE + 'aliases = [\n  "a@example.test",\n'
                                  '  "nope",  # <-\n]\n'),
     "service", "aliases", "item 2: expected an email address"),
    ("bad duration", config_text(imap=IMAP + 'backlog = "1x"  # <-\n'),
     "imap", "backlog", 'expected a duration: seconds, or a string like "30s"'),
    ("negative duration", config_text(imap=IMAP + "backlog = -5  # <-\n"),
     "imap", "backlog", "must not be negative"),
    ("bad size", config_text(extra='[limits]\nmax_message_size = "25 parsecs"  # <-\n' + RULES),
     "limits", "max_message_size", "expected a size"),
    ("number too small", config_text(extra="[limits]\nreceipts_per_sender = -1  # <-\n" + RULES),
     "limits", "receipts_per_sender", "must be at least 1, got -1"),
    ("port out of range", config_text(imap=IMAP.replace("10143", "70000  # <-")),
     "imap", "port", "must be at most 65535"),
    ("missing required key", config_text(imap=IMAP.replace('username = "helpdesk"\n', ""))
     .replace("[imap]", "[imap]  # <-"),
     "imap", "username", "required key is missing"),
    ("missing section (no line)", config_text(store="").replace("[store]\n", ""),
     "store", None, "section is missing; it needs at least path"),
    ("section of wrong type", 'store = "x.sqlite3"  # <-\n'
     + config_text().replace('[store]\npath = "mailer.sqlite3"\n', ""),
     "store", None, "expected a table [store]"),
    ("two passwords", config_text(imap=IMAP + 'password_env = "PW"  # <-\n'),
     "imap", "password_env", "give only one of password, password_env"),
    ("no password", config_text(imap=IMAP.replace('password = "secret"\n', ""))
     .replace("[imap]", "[imap]  # <-"),
     "imap", "password", "set password, password_file"),
    ("missing env var", config_text(imap=IMAP.replace('password = "secret"',
                                                      'password_env = "NOPE"  # <-')),
     "imap", "password_env", "environment variable NOPE is not set"),
    ("missing password file", config_text(imap=IMAP.replace('password = "secret"',
                                                            'password_file = "pw.txt"  # <-')),
     "imap", "password_file", "create it holding only the password"),
    ("password without username", config_text(smtp=SMTP + 'password = "x"  # <-\n'),
     "smtp", "password", "a password without username"),
    ("insecure remote", config_text(imap=IMAP.replace('"127.0.0.1"', '"imap.example.test"')
                                    .replace('security = "none"', 'security = "none"  # <-')),
     "imap", "security", "clear text to imap.example.test"),
    ("bad regex in service", config_text(service=SERVICE + 'no_reply_senders = ["(x"]  # <-\n'),
     "service", "no_reply_senders", "invalid regular expression"),
    ("default language not offered", config_text(
        service=SERVICE + 'languages = ["en"]\ndefault_language = "it"  # <-\n'),
     "service", "default_language", "'it' is not in languages (en)"),
    ("missing rules_file", config_text(service=SERVICE + 'rules_file = "nope.toml"  # <-\n',
                                       extra=""),
     "service", "rules_file", "nope.toml does not exist"),
    ("TOML syntax error", config_text(imap=IMAP + "timeout =   # <-\n"),
     None, None, "TOML syntax error: Invalid value (a value missing, or text without quotes?)"),
    ("duplicate key is a syntax error", config_text(imap=IMAP + 'host = "x"  # <-\n'),
     None, None, "TOML syntax error"),
    ("rules as a table", config_text(extra='[rules]  # <-\nname = "x"\n'),
     "rules", None, "expected [[rules]] entries (double brackets"),
    ("rule without name", config_text(extra='[[rules]]  # <-\ncategory = "x"\n'),
     "rules", "name", "required key is missing"),
    ("rule unknown key", config_text(extra=rule_key('categroy = "x"  # <-')),
     "rules", "categroy", "unknown key (did you mean 'category'?)"),
    ("duplicate rule name", config_text(extra=RULES + '[[rules]]\nname = "printers"  # <-\n'),
     "rules", "name", "duplicate rule name 'printers' (first at line"),
    ("reserved rule name", config_text(extra='[[rules]]\nname = "default"  # <-\n'),
     "rules", "name", "built-in rule"),
    ("unknown team", config_text(extra=RULES.replace('team = "it"', 'team = "itt"  # <-')),
     "rules", "team", "unknown team 'itt' (did you mean 'it'?)"),
    ("bad priority", config_text(extra=rule_key('priority = "asap"  # <-')),
     "rules", "priority", 'expected one of "low", "normal", "high", "urgent"'),
    ("rule language not offered", config_text(extra=rule_key('language = "de"  # <-')),
     "rules", "language", "'de' is not in [service] languages (en, it)"),
    ("bad template name", config_text(extra=rule_key('template = "../etc/passwd"  # <-')),
     "rules", "template", "expected a template name"),
    ("match unknown key", config_text(extra=RULES + '  subjet = ["x"]  # <-\n'),
     "rules.match", "subjet", "unknown key (did you mean 'subject'?)"),
    ("bad regex in rule", config_text(extra=RULES + '  body_regex = ["ok", "(unclosed"]  # <-\n'),
     "rules.match", "body_regex", "item 2: invalid regular expression \"(unclosed\""),
    ("bad header regex", config_text(extra=RULES + '  header = { "X-Priority" = "[" }  # <-\n'),
     "rules.match", "X-Priority", "invalid regular expression"),
    ("unknown section in the rules of the main file", config_text(extra=RULES + "[team.x]  # <-\n"),
     "team", None, "unknown section (did you mean 'teams'?)"),
    ("bad sender domain", config_text(extra=RULES + '  sender_domain = "@example.test"  # <-\n'),
     "rules.match", "sender_domain", "write the domain alone"),
    ("flag of wrong type", config_text(extra=RULES + '  has_attachments = "yes"  # <-\n'),
     "rules.match", "has_attachments", "expected true or false"),
    ("empty word", config_text(extra=RULES + '  body = ["*"]  # <-\n'),
     "rules.match", "body", "expected a word or phrase"),
    ("expectation in unknown language", config_text(
        extra=RULES.replace("  [rules.match]", 'expectation = { de = "Bald." }  # <-\n'
                            "  [rules.match]")),
     "rules", "expectation", "'de' is not in [service] languages"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "section", "key", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_mistake_is_reported_at_its_line(
    tmp_path: Path, text: str, section: str | None, key: str | None, fragment: str
) -> None:
    path = write(tmp_path, text)
    settings, problems = check_settings(path, environ={})
    assert settings is None
    matching = [p for p in errors(problems) if fragment in p.message]
    assert matching, [str(p) for p in problems]
    problem = matching[0]
    assert (problem.path, problem.line) == (str(path), marked_line(text)), str(problem)
    assert (problem.section, problem.key) == (section, key), str(problem)
    assert str(problem).startswith(f"{path}:{marked_line(text) or 0}:")


def test_there_are_at_least_fifteen_kinds_of_mistakes() -> None:
    assert len(CASES) >= 15


# ---- rules file ------------------------------------------------------------------------------


def test_rules_file_problems_name_that_file_and_line(tmp_path: Path) -> None:
    rules = write(tmp_path, RULES + '  subject_regex = ["(oops"]  # <-\n', "rules.toml")
    main = write(tmp_path, config_text(service=SERVICE + 'rules_file = "rules.toml"\n', extra=""))
    settings, problems = check_settings(main, environ={})
    assert settings is None
    [problem] = errors(problems)
    assert (problem.path, problem.line) == (str(rules), marked_line(rules.read_text()))


def test_rules_file_syntax_error_names_that_file(tmp_path: Path) -> None:
    rules = write(tmp_path, "[[rules]]\nname = \n", "rules.toml")
    main = write(tmp_path, config_text(service=SERVICE + 'rules_file = "rules.toml"\n', extra=""))
    _, problems = check_settings(main, environ={})
    [problem] = errors(problems)
    assert (problem.path, problem.line) == (str(rules), 2)


def test_rules_file_teams_and_rules_are_loaded(tmp_path: Path) -> None:
    write(tmp_path, RULES, "rules.toml")
    main = write(tmp_path, config_text(service=SERVICE + 'rules_file = "rules.toml"\n', extra=""))
    settings = load_settings(main, environ={})
    assert settings.rules_path == tmp_path / "rules.toml"
    assert [r.name for r in settings.rules] == ["printers"]
    assert settings.team("it") is not None


def test_rules_in_both_places_is_a_problem(tmp_path: Path) -> None:
    write(tmp_path, RULES, "rules.toml")
    text = config_text(service=SERVICE + 'rules_file = "rules.toml"\n', extra="[[rules]]  # <-\n"
                       'name = "x"\n')  # fmt: skip
    _, problems = check_settings(write(tmp_path, text), environ={})
    [problem] = errors(problems)
    assert problem.line == marked_line(text) and "keep them in one place" in problem.message


def test_unknown_section_in_rules_file(tmp_path: Path) -> None:
    write(tmp_path, RULES + "[imap]\nhost = 1\n", "rules.toml")
    main = write(tmp_path, config_text(service=SERVICE + 'rules_file = "rules.toml"\n', extra=""))
    _, problems = check_settings(main, environ={})
    [problem] = errors(problems)
    assert problem.section == "imap" and "belongs in the main config" in problem.message


# ---- warnings ---------------------------------------------------------------------------------


def test_warnings_do_not_stop_loading(tmp_path: Path) -> None:
    extra = """
[teams.it]
name = "IT"

[[rules]]
name = "everything"
team = "it"
"""
    settings, problems = check_settings(write(tmp_path, config_text(extra=extra)), environ={})
    assert settings is not None
    assert all(p.warning for p in problems)
    text = "\n".join(str(p) for p in problems)
    assert "team 'it' has no address" in text
    assert ": warning: [rules]" in text


# ---- line finder -------------------------------------------------------------------------------


def test_line_finder_follows_strings_arrays_inline_tables_and_array_headers() -> None:
    text = '''# comment [not] = 1
[service]
sig = """
[fake]
name = "x"
"""
list = [
  "a",   # one
  "b",
]
"quoted.key".x = { a = 1, "B-C" = "d" }
lit = 'it''s'

[[rules]]
name = "one"
[[rules]]
name = "two"
  [rules.match]
  subject = ["x"]
'''
    lines = locate_keys(text)
    assert lines[("service", "sig")] == 3
    assert ("fake",) not in lines and ("service", "name") not in lines
    assert lines[("service", "list", 1)] == 9
    assert lines[("service", "quoted.key", "x", "B-C")] == 11
    assert lines[("service", "lit")] == 12
    assert lines[("rules", 1, "name")] == 17
    assert lines[("rules", 1, "match", "subject")] == 19


def test_team_defined_in_both_files_points_at_the_first(tmp_path: Path) -> None:
    write(tmp_path, '[teams.it]  # <-\nname = "IT again"\n', "rules.toml")
    main = write(tmp_path, config_text(service=SERVICE + 'rules_file = "rules.toml"\n'))
    _, problems = check_settings(main, environ={})
    problem = next(p for p in errors(problems) if "already defined" in p.message)
    assert (problem.path, problem.line) == (str(tmp_path / "rules.toml"), 1)
    assert f"{main}:" in problem.message


def test_rules_are_checked_against_the_configured_languages_despite_other_errors(
    tmp_path: Path,
) -> None:
    service = 'address = "helpdesk@example.test"\nlanguages = ["en", "it", "de"]\n'
    text = config_text(service=service, extra=rule_key('language = "de"'))
    _, problems = check_settings(write(tmp_path, text), environ={})
    assert [p.key for p in errors(problems)] == ["name"]


def test_a_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "mailer.toml"
    path.write_bytes(b"\xef\xbb\xbf" + config_text().encode())
    assert load_settings(path, environ={}).service.name == "IT Help Desk"
