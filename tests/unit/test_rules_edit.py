"""``mailer rules list | add | remove | move``: edits that keep the admins' comments and layout,
are checked before anything is written, and replace the file atomically after a backup."""

from __future__ import annotations

import argparse
import json
import re
import shutil
import tomllib
from pathlib import Path

import pytest

from mailer.admin.rules import edit as rules_edit
from mailer.admin.rules.document import Unsupported, parse
from mailer.cli.main import main

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "rules.example.toml"
MAILER = """\
[service]
name = "IT Help Desk"
address = "helpdesk@example.test"
{service}
[imap]
host = "127.0.0.1"
port = 10143
security = "none"
username = "helpdesk"
password = "secret"
[smtp]
host = "127.0.0.1"
port = 10025
security = "none"
[store]
path = "mailer.sqlite3"
{extra}"""
INLINE_RULES = """
# Who handles what.
[teams.it]
name = "IT Support"
address = "it-team@example.test"

# Printers first: they are most of the mail.
[[rules]]
name = "printers"
team = "it"
  [rules.match]
  subject = ["printer"]   # and "stampante"?
"""
PROBLEM = re.compile(r"^\S+:\d+: ", re.MULTILINE)


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    """A copy of the example rules, named by a minimal mailer.toml next to it."""
    shutil.copy(EXAMPLE, tmp_path / "rules.toml")
    config = MAILER.format(service='rules_file = "rules.toml"', extra="")
    (tmp_path / "mailer.toml").write_text(config, encoding="utf-8")
    return tmp_path / "rules.toml"


def mailer(path: Path, *argv: str) -> int:
    """``mailer --config CONFIG rules ARGV…``, through the parsers rules_edit adds."""
    parser = argparse.ArgumentParser(prog="mailer rules")
    rules_edit.add_arguments(parser.add_subparsers(dest="rules_command", required=True))
    args = parser.parse_args(argv)
    code: int = args.handler(args, path.parent / "mailer.toml")
    return code


def names(path: Path) -> list[str]:
    return [rule["name"] for rule in tomllib.loads(path.read_text("utf-8")).get("rules", [])]


def comments(text: str) -> set[str]:
    return {line for line in text.splitlines() if line.lstrip().startswith("#")}


def backups(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.*.bak"))


# ---- round trips on the example rules --------------------------------------------------


@pytest.mark.parametrize(
    "where", [[], ["--position", "1"], ["--after", "printers"], ["--before", "italian-alias"]]
)
def test_add_then_remove_gives_back_the_identical_file(rules_file: Path, where: list[str]) -> None:
    original = rules_file.read_bytes()
    condition = ["--subject", "vpn", "--sender-domain", "corp.example"]
    assert mailer(rules_file, "add", "corp-vpn", "--team", "it", *condition, *where) == 0
    assert "corp-vpn" in names(rules_file)
    assert mailer(rules_file, "remove", "corp-vpn") == 0
    assert rules_file.read_bytes() == original


def test_move_keeps_each_rules_comment_block_with_it(rules_file: Path) -> None:
    original = rules_file.read_text("utf-8")
    assert mailer(rules_file, "move", "monitoring-alerts", "--after", "vpn-network") == 0
    assert mailer(rules_file, "move", "italian-alias", "--position", "1") == 0
    text = rules_file.read_text("utf-8")
    assert names(rules_file)[:5] == [
        "italian-alias", "urgent", "printers", "vpn-network", "monitoring-alerts",
    ]  # fmt: skip
    assert (
        "# Alerts from monitoring: routed to IT and recorded, but robots get no receipt.\n"
        '[[rules]]\nname = "monitoring-alerts"\n'
    ) in text
    assert (
        "# (Kept last: its only condition is the address, so earlier rules route by topic "
        'first.)\n[[rules]]\nname = "italian-alias"\n'
    ) in text
    assert comments(text) == comments(original)
    assert mailer(rules_file, "move", "monitoring-alerts", "--position", "1") == 0
    assert mailer(rules_file, "move", "italian-alias", "--position", "12") == 0
    assert rules_file.read_text("utf-8") == original


def test_every_untouched_comment_survives_and_a_removed_rule_takes_its_own(
    rules_file: Path,
) -> None:
    before = comments(rules_file.read_text("utf-8"))
    assert mailer(rules_file, "add", "wifi", "--text", "wifi", "--position", "3") == 0
    assert comments(rules_file.read_text("utf-8")) == before
    assert mailer(rules_file, "remove", "leave") == 0
    gone = {'# HR: Italian and English words side by side; "busta paga" is a phrase.'}
    assert comments(rules_file.read_text("utf-8")) == before - gone


def test_add_goes_before_the_first_catch_all_rule_and_says_so(
    rules_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert mailer(rules_file, "add", "everything-else", "--category", "other") == 0
    assert "(at the end)" in capsys.readouterr().out
    assert mailer(rules_file, "add", "vpn", "--subject", "vpn") == 0
    out = capsys.readouterr().out
    assert "position 13 of 14 (before 'everything-else', the first rule that matches" in out
    assert names(rules_file)[-2:] == ["vpn", "everything-else"]


def test_a_new_rule_is_written_in_the_files_style(rules_file: Path) -> None:
    argv = ["--team", "it", "--priority", "high", "--no-receipt", "--subject-regex", r"^\s*x"]
    argv += ["--header", "X-Priority=^1", "--has-attachments", "--position", "1"]
    assert mailer(rules_file, "add", "x", *argv) == 0
    expected = (
        '[[rules]]\nname = "x"\nteam = "it"\npriority = "high"\nreceipt = false\n'
        "  [rules.match]\n  subject_regex = ['^\\s*x']\n  header = {X-Priority = '^1'}\n"
        "  has_attachments = true\n\n# Alerts from monitoring"
    )
    assert expected in rules_file.read_text("utf-8")


# ---- checked before writing, written safely ---------------------------------------------


@pytest.mark.parametrize(
    "edit",
    [["--subject-regex", "("], ["--team", "nosuch", "--subject", "x"], ["--language", "de"]],
)
def test_an_invalid_edit_changes_nothing_and_names_the_line(
    rules_file: Path, edit: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    original = rules_file.read_bytes()
    assert mailer(rules_file, "add", "broken", *edit) == 1
    err = capsys.readouterr().err
    assert re.search(rf"^{re.escape(str(rules_file))}:\d+: \[rules", err, re.MULTILINE), err
    assert "nothing was written" in err
    assert rules_file.read_bytes() == original
    assert backups(rules_file) == []


def test_a_backup_of_the_old_file_is_written_next_to_it(
    rules_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = rules_file.read_bytes()
    rules_file.chmod(0o640)
    assert mailer(rules_file, "remove", "desks") == 0
    (backup,) = backups(rules_file)
    assert re.fullmatch(r"rules\.toml\.\d{8}-\d{6}\.bak", backup.name)
    assert backup.read_bytes() == original
    assert str(backup) in capsys.readouterr().out
    assert rules_file.stat().st_mode & 0o777 == 0o640
    assert mailer(rules_file, "remove", "badges") == 0
    assert len(backups(rules_file)) == 2  # a second edit in the same second keeps both


def test_dry_run_prints_the_diff_and_writes_nothing(
    rules_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = rules_file.read_bytes()
    assert mailer(rules_file, "remove", "printers", "--dry-run") == 0
    out = capsys.readouterr().out
    assert '-name = "printers"' in out and "dry run" in out
    assert rules_file.read_bytes() == original and backups(rules_file) == []


def test_unknown_and_duplicate_names_are_refused(
    rules_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = rules_file.read_bytes()
    assert mailer(rules_file, "remove", "printer") == 1
    err = capsys.readouterr().err
    assert "did you mean 'printers'?" in err and "monitoring-alerts, urgent" in err
    assert mailer(rules_file, "move", "urgent", "--before", "lapt0ps") == 1
    assert "did you mean 'laptops'?" in capsys.readouterr().err
    assert mailer(rules_file, "add", "printers", "--subject", "x") == 1
    assert "exists already" in capsys.readouterr().err
    assert rules_file.read_bytes() == original


def test_inline_rules_in_mailer_toml_are_edited_there(tmp_path: Path) -> None:
    config = tmp_path / "mailer.toml"
    config.write_text(MAILER.format(service="", extra=INLINE_RULES), encoding="utf-8")
    original = config.read_text("utf-8")
    assert mailer(config, "add", "vpn", "--team", "it", "--text", "vpn") == 0
    assert names(config) == ["printers", "vpn"]
    assert comments(config.read_text("utf-8")) == comments(original)
    assert len(backups(config)) == 1
    assert mailer(config, "add", "bad", "--sender", "not an address") == 1
    assert mailer(config, "remove", "vpn") == 0
    assert config.read_text("utf-8") == original


def test_moving_a_rule_where_it_is_writes_nothing(
    rules_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = rules_file.read_bytes()
    assert mailer(rules_file, "move", "urgent", "--after", "monitoring-alerts") == 0
    assert "at position 2 already; nothing changed" in capsys.readouterr().out
    assert rules_file.read_bytes() == original and backups(rules_file) == []


# ---- list ------------------------------------------------------------------------------


def test_list_shows_one_line_per_rule_with_file_and_line(
    rules_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert mailer(rules_file, "list") == 0
    out = capsys.readouterr().out.splitlines()
    assert str(rules_file) in out[0]
    printers = next(line for line in out if " printers " in line)
    assert re.search(r'rules\.toml:\d+ +text ~ "printer\*" \| "stampant\*"', printers)
    assert "sender = alerts@monitoring.example.test" in out[2]


def test_list_json_shape(rules_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert mailer(rules_file, "list", "--json") == 0
    found = json.loads(capsys.readouterr().out)
    assert found["file"] == str(rules_file)
    first = found["rules"][0]
    assert set(first) == {
        "position", "name", "category", "team", "priority", "receipt", "language",
        "template", "targets", "file", "line", "conditions", "summary",
    }  # fmt: skip
    assert first["targets"] == {"first_response": None, "resolution": None}
    assert (first["position"], first["name"], first["receipt"]) == (1, "monitoring-alerts", False)
    lines = rules_file.read_text("utf-8").splitlines()
    assert lines[first["line"] - 1] == "[[rules]]"
    assert first["conditions"] == [
        {"kind": "sender", "values": ["alerts@monitoring.example.test", "*@nagios.example.test"]}
    ]
    assert len(found["rules"]) == 12


def test_list_refuses_a_broken_config_and_prints_its_problems(
    rules_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = rules_file.read_text("utf-8").replace('team = "hr"', 'team = "hr-team"', 1)
    rules_file.write_text(text, encoding="utf-8")
    assert mailer(rules_file, "list") == 1
    err = capsys.readouterr().err
    assert PROBLEM.search(err) and "unknown team 'hr-team'" in err and "fix them" in err


# ---- the text model --------------------------------------------------------------------

TWO = '[[rules]]\nname = "a"\n\n# -- section --\n\n# about b\n[[rules]]\nname = "b"\n'


def test_a_heading_between_rules_stays_in_place() -> None:
    doc = parse(TWO)
    doc.remove(0)
    assert doc.render() == '# -- section --\n\n# about b\n[[rules]]\nname = "b"\n'
    doc = parse(TWO)
    rule, data = doc.remove(1)
    doc.insert(0, rule, data)
    assert doc.render().startswith('# about b\n[[rules]]\nname = "b"\n\n[[rules]]\nname = "a"\n')
    assert "# -- section --" in doc.render()


@pytest.mark.parametrize(
    "text",
    [
        EXAMPLE.read_text("utf-8").replace("\n", "\r\n"),
        '# a\n[[rules]]\nname = "a"\n\n[[rules]]\nname = "b"',
        '[[rules]]\nname = "a"\nexpectation = """\n# not a comment"""\n[[rules]]\nname = "b"\n',
        '[[rules]]\nname = "a"\n# under a\n\n[[rules]]\nname = "b"\n\n# the staff\n[staff]\n',
    ],
)
def test_every_move_is_undone_by_the_opposite_move(text: str) -> None:
    doc = parse(text)
    first, second = doc.names[:2]
    rule, data = doc.remove(0)
    doc.insert(1, rule, data)
    assert [r["name"] for r in tomllib.loads(doc.render())["rules"][:2]] == [second, first]
    rule, data = doc.remove(1)
    doc.insert(0, rule, data)
    assert doc.render() == text


def test_rules_split_by_another_table_are_refused() -> None:
    with pytest.raises(Unsupported, match="line 3"):
        parse('[[rules]]\nname = "a"\n[teams.it]\nname = "IT"\n[[rules]]\nname = "b"\n')


def test_the_commands_are_wired_into_mailer_rules(
    rules_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(rules_file.parent / "mailer.toml")
    assert main(["--config", config, "rules", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rules"][0]["name"] == "monitoring-alerts"
    assert main(["--config", config, "rules", "remove", "urgent"]) == 0
    assert "urgent" not in names(rules_file)
