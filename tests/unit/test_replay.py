"""``mailer rules replay``: past mail through the rules, as if each message arrived now.

Runs on copies of the shared corpus (tests/data/corpus) with the example rules; nothing
connects anywhere (the config's servers are never contacted) and no store is opened.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import io
import mailbox
import shutil
from pathlib import Path

import pytest

from mailer.admin.replay import command as replay
from mailer.admin.replay.judge import Judge
from mailer.admin.replay.pool import judged
from mailer.admin.replay.sources import RawMessage

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "data" / "corpus"
RULES = ROOT / "config" / "rules.example.toml"
CONFIG = """[service]
name = "IT Help Desk"
address = "helpdesk@example.test"
{rules}
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
{extra}
"""
INLINE_RULES = """
[teams.it]
name = "IT Support"

[[rules]]
name = "printers"
category = "hardware"
team = "it"
  [rules.match]
  text = ["printer*"]

[[rules]]
name = "laptops"
category = "hardware"
team = "it"
  [rules.match]
  text = ["laptop*"]
"""
SOME_PEOPLE = ["human/flanker_enclosed.eml", "human/flanker_iphone.eml"]
SOME_ROBOTS = ["auto/bounceparser_autoreply.eml", "auto/bounceparser_aol.unknown.eml"]


def mail(subject: str, body: str = "Hello", sender: str = "maria@example.org") -> bytes:
    mid = hashlib.sha1(subject.encode()).hexdigest()[:12]
    return (
        f"From: Maria <{sender}>\r\nTo: helpdesk@example.test\r\nSubject: {subject}\r\n"
        f"Message-ID: <{mid}@example.org>\r\n\r\n{body}\r\n"
    ).encode()


@pytest.fixture(autouse=True)
def _columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")  # tables cut to a known width


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "mailer.toml"
    path.write_text(CONFIG.format(rules=f'rules_file = "{RULES}"', extra=""), encoding="utf-8")
    return path


def run(config: Path, *argv: str | Path) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser()
    replay.add_arguments(parser)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = replay.run(parser.parse_args([str(a) for a in argv]), config)
    return code, out.getvalue(), err.getvalue()


def rows(config: Path, *argv: str | Path) -> list[dict[str, str]]:
    code, out, err = run(config, *argv, "--csv")
    assert code == 0, err
    return list(csv.DictReader(io.StringIO(out)))


def folder(tmp_path: Path, names: list[str], extra: dict[str, bytes] | None = None) -> Path:
    target = tmp_path / "mail"
    target.mkdir()
    for name in names:
        shutil.copy(CORPUS / name, target / Path(name).name)
    for name, data in (extra or {}).items():
        (target / name).write_bytes(data)
    return target


def test_robots_of_the_corpus_are_all_suppressed(config: Path) -> None:
    found = rows(config, CORPUS / "auto", "--addressed")
    assert len(found) == len(list((CORPUS / "auto").glob("*.eml")))
    assert all(r["outcome"].startswith("suppressed: ") for r in found)


def test_people_of_the_corpus_mostly_get_a_receipt(config: Path) -> None:
    found = rows(config, CORPUS / "human", "--addressed")
    receipts = [r for r in found if r["outcome"] == "receipt"]
    assert len(found) == len(list((CORPUS / "human").glob("*.eml")))
    assert len(receipts) >= 0.9 * len(found)


def test_mail_not_addressed_to_the_service_is_suppressed_unless_addressed_is_given(
    config: Path,
) -> None:
    code, out, _ = run(config, CORPUS / "human")
    assert code == 0
    assert "suppressed: not-addressed" in out
    assert "--addressed judges them as sent to it" in out


def test_the_header_says_what_was_read_and_that_each_message_is_judged_as_new(
    config: Path,
) -> None:
    _, out, _ = run(config, CORPUS / "human")
    first, second = out.splitlines()[:2]
    count = len(list((CORPUS / "human").glob("*.eml")))
    assert f"Replay of {count} messages from {CORPUS / 'human'} (a folder of .eml files)" in first
    assert "as if it arrived now as a new message" in first
    assert "no thread, no duplicate, no backlog, no caps" in first
    assert str(config) in second and str(RULES) in second and "(12 rules)" in second


def test_tables_count_messages_per_rule_and_outcome_and_show_what_no_rule_matched(
    tmp_path: Path, config: Path
) -> None:
    path = folder(
        tmp_path,
        [],
        {
            "1.eml": mail("The printer is jammed"),
            "2.eml": mail("Printer out of toner"),
            "3.eml": mail("Ferie ad agosto", "Vorrei chiedere due settimane di ferie."),
            "4.eml": mail("Where is the canteen menu?"),
            "5.eml": mail("Your invoice", sender="noreply@example.org"),
        },
    )
    code, out, _ = run(config, path)
    assert code == 0
    lines = out.splitlines()
    printers = next(line.split() for line in lines if line.startswith("printers "))
    assert printers == ["printers", "2", "40.0", "2", "hardware", "it"]
    leave = next(line.split() for line in lines if line.startswith("leave "))
    assert leave == ["leave", "1", "20.0", "1", "leave", "hr"]
    assert any(line.startswith("payroll ") and line.split()[1] == "0" for line in lines)
    receipt = next(line.split() for line in lines if line.startswith("receipt "))
    assert receipt == ["receipt", "4", "80.0"]
    assert any(line.split()[:3] == ["suppressed:", "no-reply-sender", "1"] for line in lines)
    assert "Fell to the default rule: 1 requests (1 suppressed messages too, not listed)" in out
    example = next(line for line in lines if "canteen" in line)
    assert example.split()[:2] == ["4.eml", "maria@example.org"]


def test_examples_are_limited_to_n_and_the_rest_counted(config: Path) -> None:
    code, out, _ = run(config, CORPUS / "human", "--addressed", "--examples", "2")
    assert code == 0
    after = out.split("Fell to the default rule:")[1].splitlines()
    assert after[1].split() == ["SOURCE", "FROM", "SUBJECT"]
    assert after[4].startswith("  … and ")
    assert all(len(line) <= 100 for line in out.splitlines()[3:])


def test_a_no_receipt_rule_says_so(tmp_path: Path, config: Path) -> None:
    path = folder(tmp_path, [], {"a.eml": mail("Disk full", sender="alerts@nagios.example.test")})
    (found,) = rows(config, path)
    assert found["outcome"] == "no receipt (rule monitoring-alerts)"
    assert (found["rule"], found["category"], found["team"]) == (
        "monitoring-alerts",
        "alerts",
        "it",
    )


def test_csv_has_a_header_row_and_one_row_per_message(config: Path) -> None:
    code, out, _ = run(config, CORPUS / "human", "--csv", "--addressed")
    assert code == 0
    table = list(csv.reader(io.StringIO(out)))
    assert table[0] == [
        "source", "message_id", "from", "subject", "outcome", "rule", "category", "team",
        "language",
    ]  # fmt: skip
    names = sorted(p.name for p in (CORPUS / "human").glob("*.eml"))
    assert [r[0] for r in table[1:]] == names
    assert all(len(r) == 9 for r in table)
    assert {r[8] for r in table[1:]} <= {"en", "it"}


def test_an_mbox_built_from_corpus_files_gives_the_same_verdicts(
    tmp_path: Path, config: Path
) -> None:
    names = SOME_PEOPLE + SOME_ROBOTS
    box = mailbox.mbox(tmp_path / "past.mbox")
    for name in names:
        box.add((CORPUS / name).read_bytes())
    box.close()
    from_mbox = rows(config, tmp_path / "past.mbox")
    from_files = {r["source"]: r for r in rows(config, folder(tmp_path, names))}
    assert [r["source"] for r in from_mbox] == ["#1", "#2", "#3", "#4"]
    for row, name in zip(from_mbox, names, strict=True):
        same = from_files[Path(name).name]
        assert (row["message_id"], row["outcome"], row["rule"]) == (
            same["message_id"],
            same["outcome"],
            same["rule"],
        )
    _, out, _ = run(config, tmp_path / "past.mbox")
    assert "Replay of 4 messages" in out and "(an mbox)" in out


def test_a_maildir_is_read_from_cur_and_new(tmp_path: Path, config: Path) -> None:
    box = mailbox.Maildir(tmp_path / "Maildir")
    box.add((CORPUS / SOME_PEOPLE[0]).read_bytes())
    seen = mailbox.MaildirMessage((CORPUS / SOME_ROBOTS[0]).read_bytes())
    seen.set_subdir("cur")
    box.add(seen)
    found = rows(config, tmp_path / "Maildir", "--addressed")
    assert [r["source"].split("/")[0] for r in found] == ["cur", "new"]
    assert found[0]["outcome"].startswith("suppressed: ")
    assert found[1]["outcome"] == "receipt"


def test_a_single_eml_file_is_replayed(config: Path) -> None:
    (found,) = rows(config, CORPUS / SOME_PEOPLE[0], "--addressed")
    assert found["source"] == Path(SOME_PEOPLE[0]).name
    assert found["outcome"] == "receipt"


def test_an_unreadable_file_is_counted_not_fatal(tmp_path: Path, config: Path) -> None:
    path = folder(tmp_path, SOME_PEOPLE, {"garbage.eml": b"\x00\x9f\xff not a mail at all\n"})
    code, out, _ = run(config, path, "--addressed")
    assert code == 0
    assert "Replay of 3 messages" in out
    assert next(ln for ln in out.splitlines() if ln.startswith("unreadable")).split()[1] == "1"
    assert "Unreadable: 1" in out and "garbage.eml" in out
    found = {r["source"]: r["outcome"] for r in rows(config, path, "--addressed")}
    assert found["garbage.eml"] == "unreadable"


@pytest.mark.parametrize("what", ["missing", "not-mail.txt", "empty-folder"])
def test_a_path_that_is_no_mail_input_exits_1_with_a_clear_message(
    tmp_path: Path, config: Path, what: str
) -> None:
    path = tmp_path / what
    if what == "not-mail.txt":
        path.write_text("just some notes\n")
    elif what == "empty-folder":
        path.mkdir()
    code, out, err = run(config, path)
    assert code == 1 and out == ""
    assert err.startswith(f"mailer: {path}: ")
    assert "no such file" in err or "not an mbox" in err or "no .eml files" in err


def old_rules_without(rule: str) -> str:
    text = RULES.read_text(encoding="utf-8")
    start = text.index(f'[[rules]]\nname = "{rule}"')
    end = text.index("[[rules]]", start + 1)
    return text[:start] + text[end:]


def test_compare_lists_exactly_the_messages_the_new_rule_matches(
    tmp_path: Path, config: Path
) -> None:
    old = tmp_path / "rules.old.toml"
    old.write_text(old_rules_without("laptops"), encoding="utf-8")
    everything = rows(config, CORPUS / "human", "--addressed")
    laptops = [r["source"] for r in everything if r["rule"] == "laptops"]
    assert laptops  # the corpus has some
    changed = rows(config, CORPUS / "human", "--addressed", "--compare", old)
    assert [r["source"] for r in changed] == laptops
    assert {(r["old_rule"], r["new_rule"], r["new_team"]) for r in changed} == {
        ("default", "laptops", "it")
    }
    assert list(changed[0]) == [
        "source", "message_id", "from", "subject",
        "old_outcome", "old_rule", "old_category", "old_team", "old_language",
        "new_outcome", "new_rule", "new_category", "new_team", "new_language",
    ]  # fmt: skip
    code, out, _ = run(config, CORPUS / "human", "--addressed", "--compare", old)
    assert code == 0
    assert f"Old rules {old} (11 rules)" in out
    assert "rule default → laptops; category general → hardware; team - → it" in out
    assert f"{len(laptops)} of {len(everything)} messages would change" in out


def test_compare_with_inline_rules_takes_an_older_config(tmp_path: Path) -> None:
    config = tmp_path / "mailer.toml"
    config.write_text(CONFIG.format(rules="", extra=INLINE_RULES), encoding="utf-8")
    without = INLINE_RULES[: INLINE_RULES.index('[[rules]]\nname = "laptops"')]
    old = tmp_path / "mailer.old.toml"
    old.write_text(CONFIG.format(rules="", extra=without), encoding="utf-8")
    path = folder(tmp_path, [], {"a.eml": mail("My laptop is slow"), "b.eml": mail("Printer")})
    (changed,) = rows(config, path, "--compare", old)
    assert (changed["source"], changed["old_rule"], changed["new_rule"]) == (
        "a.eml",
        "default",
        "laptops",
    )


def test_an_invalid_old_rules_file_prints_its_problems_and_exits_1(
    tmp_path: Path, config: Path
) -> None:
    old = tmp_path / "rules.old.toml"
    old.write_text('[[rules]]\nname = "x"\n  [rules.match]\n  subjekt = ["a"]\n')
    code, out, err = run(config, CORPUS / "human", "--compare", old)
    assert code == 1 and out == ""
    assert f"{old}:4: [rules.match] subjekt: unknown key (did you mean 'subject'?)" in err
    code, _, err = run(config, CORPUS / "human", "--compare", tmp_path / "missing.toml")
    assert code == 1 and "cannot read" in err


class Screen(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_progress_is_drawn_on_a_terminal_only_and_cleared_at_the_end() -> None:
    clock = iter([0.0, 0.5, 2.0, 2.05, 3.0]).__next__
    screen = Screen(tty=True)
    bar = replay.Progress(10, screen, clock)
    bar.update(1)  # a short run: nothing in the first second
    assert screen.getvalue() == ""
    bar.update(5)
    assert screen.getvalue() == "\r[###############...............] 5/10 msgs 2/s"
    bar.update(6)  # too soon to redraw
    bar.update(10)
    bar.clear()
    assert screen.getvalue().endswith("\r" + " " * 47 + "\r")
    quiet = Screen(tty=False)
    never = replay.Progress(100_000, quiet, iter([0.0, 5.0]).__next__)
    never.update(50_000)
    never.clear()
    assert quiet.getvalue() == ""


def test_worker_processes_judge_like_this_process_in_the_same_order(config: Path) -> None:
    from mailer.config.load import load_settings

    settings = load_settings(config)
    judge = Judge(settings, ("en", "it"), addressed=True)
    files = sorted((CORPUS / "human").glob("*.eml"))[:80]
    raws = [RawMessage(p.name, p.read_bytes()) for p in files]
    alone = list(judged(raws, judge, None, workers=0))
    shared = list(judged(iter(raws), judge, None, workers=2))
    assert shared == alone
    assert [r.source for r in shared] == [p.name for p in files]
