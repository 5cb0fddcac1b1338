"""Live reload without servers: the change detector, what a reload takes, the admin's alert."""

from __future__ import annotations

import email
import email.policy
import os
import sqlite3
from email.message import EmailMessage
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from mailer.config import templates
from mailer.config.validate import check_all
from mailer.daemon.alerts import alert_subject, problems_key
from mailer.daemon.reload import ChangeDetector, LiveReload, Targets, fresh_imap_password
from mailer.errors import Problem
from mailer.settings import Settings
from mailer.store import Store, open_store

CONFIG = """[service]
name = "IT Help Desk"
address = "helpdesk@example.test"
rules_file = "rules.toml"
{service}
[imap]
host = "127.0.0.1"
username = "helpdesk"
password = "secret"
security = "none"
port = {imap_port}
[smtp]
host = "127.0.0.1"
security = "none"
[store]
path = "mailer.sqlite3"
{extra}
"""
RULES = """[teams.it]
name = "IT"

[[rules]]
name = "printers"
category = "hardware"
team = "it"
[rules.match]
subject = ["printer"]
"""
UNCLOSED = '[[rules]]\nname = "printers\ncategory = "hardware"\n'
UNKNOWN_TEAM = '[[rules]]\nname = "printers"\ncategory = "hardware"\nteam = "nope"\n'
ADMIN = 'admin = "carol@example.test"'


def write_config(
    directory: Path, *, service: str = ADMIN, imap_port: int = 10143, extra: str = ""
) -> Path:
    path = directory / "mailer.toml"
    path.write_text(CONFIG.format(service=service, imap_port=imap_port, extra=extra))
    bump(path)
    return path


def bump(path: Path) -> None:
    """A new mtime for sure: a test runs faster than some file systems' clock tick."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))


def write(path: Path, text: str) -> None:
    path.write_text(text)
    bump(path)


def load(config: Path) -> Settings:
    settings, problems = check_all(config)
    assert settings is not None, [str(p) for p in problems]
    return settings


@pytest.fixture(name="config")
def _config(tmp_path: Path) -> Path:
    (tmp_path / "rules.toml").write_text(RULES)
    return write_config(tmp_path)


@pytest.fixture(name="store")
def _store(tmp_path: Path) -> Store:
    return open_store(tmp_path / "mailer.sqlite3")


def alerts(store: Store) -> list[EmailMessage]:
    rows = store.due(float("inf"), limit=1000)  # nothing is sent here: all of them
    assert all(r.kind == "admin" and r.thread_id is None for r in rows)
    parsed = [email.message_from_bytes(r.raw, policy=email.policy.default) for r in rows]
    return [m for m in parsed if isinstance(m, EmailMessage)]


def text_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


class Reloader:
    """A daemon's view of reloads: the settings in force, swapped only on success."""

    def __init__(self, config: Path, store: Store) -> None:
        self.settings = load(config)
        self.store = store
        self.live = LiveReload(self.settings)

    def reload(self) -> bool:
        env = templates.make_environment(self.settings)
        fresh = self.live.reload(self.settings, self.store, env)
        if fresh is not None:
            self.settings = fresh
        return fresh is not None


# ---- the change detector ---------------------------------------------------------------


def settled(detector: ChangeDetector, looks: int = 3) -> list[bool]:
    return [detector.changed() for _ in range(looks)]


def test_nothing_changed_means_no_reload(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    detector = ChangeDetector(Targets((rules,), (tmp_path / "templates",)))
    assert settled(detector) == [False, False, False]


@pytest.mark.parametrize("edit", ["touch", "rewrite", "delete", "replace"])
def test_a_change_to_a_file_reloads_once_after_one_quiet_look(tmp_path: Path, edit: str) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    detector = ChangeDetector(Targets((rules,)))
    if edit == "touch":
        bump(rules)
    elif edit == "rewrite":
        write(rules, RULES.replace("hardware", "printing"))
    elif edit == "delete":
        rules.unlink()
    else:  # an editor's atomic save: a new file renamed over the old one
        new = tmp_path / "rules.toml.new"
        new.write_text(RULES)
        os.utime(new, ns=(rules.stat().st_atime_ns, rules.stat().st_mtime_ns))
        new.replace(rules)
    assert settled(detector) == [False, True, False]


def test_a_template_added_changed_or_removed_is_a_change(tmp_path: Path) -> None:
    tree = tmp_path / "templates"
    (tree / "en").mkdir(parents=True)
    detector = ChangeDetector(Targets((), (tree,)))
    receipt = tree / "en" / "receipt.txt.j2"
    receipt.write_text("Hello")
    assert settled(detector) == [False, True, False]
    write(receipt, "Hello again")
    assert settled(detector) == [False, True, False]
    receipt.unlink()
    assert settled(detector) == [False, True, False]


def test_editor_droppings_are_not_changes(tmp_path: Path) -> None:
    tree = tmp_path / "templates"
    (tree / "en").mkdir(parents=True)
    detector = ChangeDetector(Targets((), (tree,)))
    (tree / "en" / ".receipt.txt.j2.swp").write_text("swap")
    (tree / "en" / "receipt.txt.j2~").write_text("backup")
    assert settled(detector) == [False, False, False]


def test_a_file_written_in_two_steps_reloads_once_when_it_settles(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    detector = ChangeDetector(Targets((rules,)))
    write(rules, "")  # the editor truncates ...
    assert detector.changed() is False
    write(rules, RULES + "\n")  # ... and writes, a look later
    assert detector.changed() is False  # still moving
    assert settled(detector) == [True, False, False]


def test_a_change_undone_before_it_settled_is_no_change(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    before = rules.stat()
    detector = ChangeDetector(Targets((rules,)))
    bump(rules)
    assert detector.changed() is False
    os.utime(rules, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert settled(detector) == [False, False, False]


def test_a_reload_for_another_reason_rebases_the_detector(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    detector = ChangeDetector(Targets((rules,)))
    bump(rules)
    assert detector.changed() is False
    detector.rebase()  # SIGHUP came first: it judged this version
    assert settled(detector) == [False, False, False]


# ---- reloads and the alert -------------------------------------------------------------


def test_a_broken_rules_file_is_refused_and_the_admin_gets_one_mail_per_version(
    config: Path, store: Store
) -> None:
    daemon = Reloader(config, store)
    rules = config.parent / "rules.toml"
    write(rules, UNCLOSED)
    with capture_logs() as logs:
        assert daemon.reload() is False
        assert daemon.reload() is False  # the same broken file, seen again
    assert daemon.settings.rules[0].category == "hardware"
    [refused, queued, again] = [e for e in logs if e["event"].startswith("reload.")]
    assert refused["event"] == again["event"] == "reload.refused"
    assert refused["log_level"] == "error"
    assert refused["problems"] == [f"{rules}:2: TOML syntax error: Illegal character '\\n'"]
    assert queued["event"] == "reload.alert_queued" and queued["to"] == "carol@example.test"
    assert len(alerts(store)) == 1
    write(rules, UNKNOWN_TEAM)  # another broken version: news
    assert daemon.reload() is False
    assert len(alerts(store)) == 2
    write(rules, RULES.replace("hardware", "printing"))
    with capture_logs() as logs:
        assert daemon.reload() is True
    assert [e["event"] for e in logs] == ["reload.done"]
    assert logs[0]["after_refusal"] is True
    assert daemon.settings.rules[0].category == "printing"
    write(rules, UNKNOWN_TEAM)  # fixed, then broken the same way again: a new mail
    assert daemon.reload() is False
    assert len(alerts(store)) == 3
    db = sqlite3.connect(config.parent / "mailer.sqlite3")
    try:
        recorded = db.execute("SELECT direction, decision FROM messages").fetchall()
    finally:
        db.close()
    assert [tuple(r) for r in recorded] == [("out", "admin")] * 3


def test_the_alert_names_file_and_line_and_says_nothing_changed(config: Path, store: Store) -> None:
    daemon = Reloader(config, store)
    rules = config.parent / "rules.toml"
    write(rules, UNKNOWN_TEAM)
    daemon.reload()
    [mail] = alerts(store)
    assert mail["Subject"] == "[mailer] rules change refused: rules.toml line 4"
    assert mail["From"] == "IT Help Desk <helpdesk@example.test>"
    assert mail["To"] == "carol@example.test"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["X-Auto-Response-Suppress"] == "All"
    assert mail["X-Mailer-Loop"] == "helpdesk@example.test"
    assert mail["Message-ID"].endswith("@example.test>")
    text = text_of(mail)
    assert f"  - {rules}:4: [rules] team: unknown team 'nope'" in text
    assert "the previous version stays in force (rules: 1,\r\nteams: 1," in text
    assert f"mailer --config {config} check" in text
    assert "{{" not in text and "None" not in text


def test_the_alert_is_in_the_default_language(tmp_path: Path, store: Store) -> None:
    (tmp_path / "rules.toml").write_text(RULES)
    config = write_config(tmp_path, service=f'{ADMIN}\ndefault_language = "it"')
    daemon = Reloader(config, store)
    write(tmp_path / "rules.toml", UNKNOWN_TEAM + UNCLOSED)
    daemon.reload()
    [mail] = alerts(store)
    assert mail["Subject"].startswith("[mailer] modifica alle regole rifiutata: rules.toml riga ")
    assert "Non è cambiato nulla" in text_of(mail)


def test_a_broken_config_names_the_config(config: Path, store: Store) -> None:
    daemon = Reloader(config, store)
    write(config, config.read_text().replace("port = 10143", 'port = "x"'))
    assert daemon.reload() is False
    [mail] = alerts(store)
    assert mail["Subject"].startswith("[mailer] config change refused: mailer.toml line ")


def test_without_an_admin_a_refusal_is_only_logged(tmp_path: Path, store: Store) -> None:
    (tmp_path / "rules.toml").write_text(RULES)
    daemon = Reloader(write_config(tmp_path, service=""), store)
    write(tmp_path / "rules.toml", UNCLOSED)
    with capture_logs() as logs:
        assert daemon.reload() is False
    assert [e["event"] for e in logs] == ["reload.refused"]
    assert alerts(store) == []


def test_a_broken_admin_template_falls_back_to_the_shipped_one(
    tmp_path: Path, store: Store
) -> None:
    (tmp_path / "rules.toml").write_text(RULES)
    (tmp_path / "tpl" / "en").mkdir(parents=True)
    (tmp_path / "tpl" / "en" / "admin_alert.txt.j2").write_text("{{ no_such_value }}\n")
    config = write_config(tmp_path, service=f'{ADMIN}\ntemplates_dir = "tpl"')
    daemon = Reloader(config, store)
    write(tmp_path / "rules.toml", UNCLOSED)
    daemon.reload()
    [mail] = alerts(store)
    assert "Nothing was changed" in text_of(mail)


def test_a_valid_change_takes_limits_staff_and_workflow_but_not_connections(
    config: Path, store: Store
) -> None:
    daemon = Reloader(config, store)
    extra = (
        '[limits]\nreceipts_per_sender = 5\n[staff]\naddresses = ["staff@example.test"]\n'
        "[workflow]\nreopen_days = 3\n"
    )
    write_config(config.parent, imap_port=10999, extra=extra)
    with capture_logs() as logs:
        assert daemon.reload() is True
    s = daemon.settings
    assert s.limits.receipts_per_sender == 5
    assert s.staff.addresses == ("staff@example.test",)
    assert s.workflow.reopen_days == 3
    assert s.imap.port == 10143  # a restart takes it
    restart = next(e for e in logs if e["event"] == "reload.restart_needed")
    assert restart["changed"] == ["imap"] and restart["log_level"] == "warning"


def test_a_new_shared_address_waits_for_a_restart(config: Path, store: Store) -> None:
    daemon = Reloader(config, store)
    text = config.read_text().replace("helpdesk@example.test", "it-help@example.test")
    write(config, text.replace('"IT Help Desk"', '"IT Service Desk"'))
    assert daemon.reload() is True
    assert daemon.settings.service.address == "helpdesk@example.test"
    assert daemon.settings.service.name == "IT Service Desk"


def test_a_refused_version_s_new_rules_file_is_watched_too(config: Path, store: Store) -> None:
    daemon = Reloader(config, store)
    other = config.parent / "other.toml"
    other.write_text(UNCLOSED)
    write(config, config.read_text().replace('"rules.toml"', '"other.toml"'))
    assert daemon.reload() is False
    write(other, RULES)  # the fix is in the new file: noticed
    assert settled(daemon.live.detector) == [False, True, False]
    assert daemon.reload() is True
    assert daemon.settings.rules_path == other


def test_the_key_and_subject_of_a_problem_list(config: Path) -> None:
    one = Problem("/etc/mailer/rules.toml", 12, "rules", "team", "unknown team 'x'")
    two = Problem("/etc/mailer/rules.toml", 20, None, None, "TOML syntax error")
    assert problems_key([one, two]) == problems_key([two, one])
    assert problems_key([one]) != problems_key([one, two])
    settings = load(config)
    assert alert_subject(settings, [one, two], "en") == (
        "[mailer] rules change refused: rules.toml line 12 (+1 more)"
    )
    template = Problem("en/receipt.txt.j2", None, "templates", None, "template not found")
    assert alert_subject(settings, [template], "de") == (
        "[mailer] template change refused: receipt.txt.j2"
    )


def test_a_refused_login_rereads_a_rotated_imap_password(tmp_path: Path) -> None:
    """The admin rotated the password (server and password_file) while mailer ran: the next
    refused login reads it again, without a restart; nothing else of [imap] changes."""
    config = write_config(tmp_path)
    (tmp_path / "rules.toml").write_text(RULES)
    secret = tmp_path / "imap.password"
    secret.write_text("old\n")
    secret.chmod(0o600)
    config.write_text(
        config.read_text().replace('password = "secret"', 'password_file = "imap.password"')
    )
    settings, _ = check_all(config)
    assert settings is not None and settings.imap.password == "old"
    assert fresh_imap_password(settings) is None  # unchanged: nothing to take
    secret.write_text("new\n")
    config.write_text(config.read_text().replace("port = 10143", "port = 10144"))
    with capture_logs() as logs:
        fresh = fresh_imap_password(settings)
    assert fresh is not None and fresh.imap.password == "new"
    assert fresh.imap.port == 10143  # a restart still takes the rest
    assert [e["event"] for e in logs] == ["imap.password_reread"] and "new" not in str(logs)
