"""``mailer rules test``: the explanation of one message, checked against golden files.

Set UPDATE_GOLDEN=1 to rewrite the golden files after an intended change, then read the diff.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

import pytest

from mailer.admin.explain import command as explain_cmd
from tests.unit.test_config import config_text, write

DATA = Path(__file__).resolve().parents[1] / "data"
EXAMPLES = Path(__file__).resolve().parents[2] / "config"
CASES = {
    "human_request_from_the_corpus": DATA / "corpus" / "human" / "flanker_enclosed.eml",
    "bounce_from_the_corpus": DATA / "corpus" / "auto" / "bounceparser_aol.unknown.eml",
    "italian_leave_request_for_hr": DATA / "explain" / "italian_leave_request_for_hr.eml",
    "out_of_office_reply": DATA / "explain" / "out_of_office_reply.eml",
}


@pytest.fixture(name="config")
def _config(tmp_path: Path) -> Path:
    shutil.copy(EXAMPLES / "rules.example.toml", tmp_path / "rules.toml")
    service = (
        'name = "IT Help Desk"\naddress = "helpdesk@example.test"\nreference_prefix = "IT"\n'
        'rules_file = "rules.toml"\n'
    )
    return write(tmp_path, config_text(service=service, extra=""))


def explain(config: Path, path: Path, *extra: str, capsys: pytest.CaptureFixture[str]) -> str:
    args = argparse.Namespace(file=str(path), sender=None, recipient=None, json=False, as_is=False)
    for flag in extra:
        setattr(args, flag, True)
    assert explain_cmd.run(args, config) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("case", sorted(CASES))
def test_explanation_matches_its_golden_file(
    case: str, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = explain(config, CASES[case], capsys=capsys)
    golden = DATA / "explain" / f"{case}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(out, encoding="utf-8")
    assert out == golden.read_text(encoding="utf-8")


def test_a_human_request_would_get_a_receipt(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = explain(config, CASES["human_request_from_the_corpus"], capsys=capsys)
    assert out.startswith("receipt: would be sent\nrule: default")


def test_a_bounce_is_suppressed_with_its_reason(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = explain(config, CASES["bounce_from_the_corpus"], capsys=capsys)
    assert out.startswith("receipt: suppressed (dsn)\n")


def test_the_team_notification_is_shown_with_the_receipt(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = explain(config, CASES["italian_leave_request_for_hr"], capsys=capsys)
    assert "rule: leave" in out and "language: it" in out
    assert "----- receipt to roberto.bianchi@example.test" in out
    assert "----- team notification to hr-team@example.test" in out


def test_json_has_the_decision_the_rules_and_both_mails(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = explain(config, CASES["italian_leave_request_for_hr"], "json", capsys=capsys)
    data = json.loads(out)
    assert (data["receipt"], data["rule"], data["team"]) == ("would be sent", "leave", "hr")
    assert data["rules"][-1] == {
        "name": "leave",
        "matched": True,
        "conditions": data["rules"][-1]["conditions"],
    }
    assert all(not r["matched"] for r in data["rules"][:-1])
    assert data["receipt_mail"]["to"] == "roberto.bianchi@example.test"
    assert data["notification"]["to"] == "hr-team@example.test"


def test_as_is_judges_a_mail_not_addressed_to_the_service(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = explain(config, CASES["human_request_from_the_corpus"], "as_is", capsys=capsys)
    assert out.startswith("receipt: suppressed (not-addressed)")


def test_nothing_is_written_and_no_store_is_created(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sorted(p.name for p in config.parent.iterdir())
    explain(config, CASES["human_request_from_the_corpus"], capsys=capsys)
    assert sorted(p.name for p in config.parent.iterdir()) == before


def test_a_reply_in_a_known_request_names_the_thread_and_writes_nothing(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mailer.config.load import load_settings
    from mailer.config.templates import make_environment
    from mailer.daemon.pipeline import Pipeline
    from mailer.model import InboundMail, MailboxRef
    from mailer.store import MailboxState, open_store

    settings = load_settings(config)
    store = open_store(settings.store)
    with store.transaction():
        store.set_mailbox_state("INBOX", MailboxState(1, 0, 0.0))
    raw = CASES["italian_leave_request_for_hr"].read_bytes()
    Pipeline(settings, store, make_environment(settings)).process_batch(
        [InboundMail(MailboxRef("INBOX", 1, 1), 1.8e9, raw, len(raw))],
        MailboxState(1, 0, 0.0),
        1.8e9,
    )
    store.close()
    capsys.readouterr()  # the pipeline's log lines
    size = settings.store.path.stat().st_size
    reply = tmp_path / "reply.eml"
    reply.write_bytes(
        b"From: Roberto Bianchi <roberto.bianchi@example.test>\r\nTo: helpdesk@example.test\r\n"
        b"Subject: Re: Richiesta ferie per agosto [IT-1000]\r\n"
        b"In-Reply-To: <ferie-agosto@example.test>\r\n\r\nHo trovato il modulo, grazie.\r\n"
    )
    out = explain(config, reply, capsys=capsys)
    assert out.startswith("receipt: suppressed (follow-up: joins IT-1000")
    assert "thread: IT-1000 (acknowledged)" in out
    assert "in the request: follow-up" in out
    assert settings.store.path.stat().st_size == size


def test_rules_test_says_what_the_daemon_records_for_a_staff_mail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One judging path: the staff step, not a receipt, in ``rules test`` as in the daemon."""
    from mailer.config.load import load_settings
    from mailer.config.templates import make_environment
    from mailer.daemon.pipeline import Pipeline
    from mailer.model import InboundMail, MailboxRef
    from mailer.store import MailboxState, open_store

    shutil.copy(EXAMPLES / "rules.example.toml", tmp_path / "rules.toml")
    service = (
        'name = "IT Help Desk"\naddress = "helpdesk@example.test"\nreference_prefix = "IT"\n'
        'rules_file = "rules.toml"\n'
    )
    staff = '[staff]\naddresses = ["sam@example.test"]\n'
    config = write(tmp_path, config_text(service=service, extra=staff))
    settings = load_settings(config)
    store = open_store(settings.store)
    with store.transaction():
        store.set_mailbox_state("INBOX", MailboxState(1, 0, 0.0))
    pipeline = Pipeline(settings, store, make_environment(settings))
    request = CASES["italian_leave_request_for_hr"].read_bytes()
    pipeline.process_batch(
        [InboundMail(MailboxRef("INBOX", 1, 1), 1.8e9, request, len(request))],
        MailboxState(1, 0, 0.0),
        1.8e9,
    )
    capsys.readouterr()
    staff_mail = (
        b"From: Sam <sam@example.test>\r\nTo: helpdesk@example.test\r\n"
        b"Subject: Re: Richiesta ferie per agosto [IT-1000]\r\n"
        b"In-Reply-To: <ferie-agosto@example.test>\r\n\r\n#take\r\nI am on it.\r\n"
    )
    (tmp_path / "staff.eml").write_bytes(staff_mail)
    out = explain(config, tmp_path / "staff.eml", capsys=capsys)
    assert out.startswith("receipt: suppressed (staff: #take: joins IT-1000")
    assert "in the request: staff: #take (progress to requester)" in out
    [outcome] = pipeline.process_batch(
        [InboundMail(MailboxRef("INBOX", 1, 2), 1.8e9, staff_mail, len(staff_mail))],
        MailboxState(1, 0, 0.0),
        1.8e9,
    )
    store.close()
    assert (outcome.reason, outcome.reference) == ("staff: #take", "IT-1000")
