"""A request's life after the receipt, on a real SQLite store, fed messages directly."""

from __future__ import annotations

import dataclasses
import email
import email.policy
from pathlib import Path
from typing import Any

import pytest

from mailer.config import templates
from mailer.core.writing import outgoing
from mailer.core.writing.samples import SAMPLE_CONTEXTS
from mailer.daemon.pipeline import Pipeline
from mailer.model import InboundMail, MailboxRef
from mailer.settings import Condition, Rule, StaffSettings, Team, WorkflowSettings
from mailer.store import MailboxState, ThreadRow, open_store
from tests.factories import settings as make_settings

NOW = 1_800_000_000.0
DAY = 86400.0
STAFF = "sam@example.test"
TEAM = "it-team@example.test"


class Desk:
    """A pipeline with one team and one staff member, and what it queued."""

    def __init__(self, tmp_path: Path, where: Path | str | None = None, **workflow: Any) -> None:
        base = make_settings(tmp_path)
        self.settings = dataclasses.replace(
            base,
            teams=(Team("it", "IT Support", TEAM),),
            rules=(Rule("vpn", (Condition("subject", ("vpn",)),), team="it"),),
            staff=StaffSettings(addresses=(STAFF,)),
            workflow=WorkflowSettings(**workflow),
        )
        self.store = open_store(where or tmp_path / "s.sqlite3")
        with self.store.transaction():
            self.store.set_mailbox_state("INBOX", MailboxState(7, 0, NOW))
        env = templates.make_environment(self.settings)
        self.pipeline = Pipeline(self.settings, self.store, env)
        self.uid = 0
        self.seen = 0

    def deliver(self, raw: bytes, at: float = NOW) -> str:
        self.uid += 1
        item = InboundMail(MailboxRef("INBOX", 7, self.uid), at, raw, len(raw))
        state = self.store.mailbox_state("INBOX")
        assert state is not None
        [out] = self.pipeline.process_batch([item], state, at)
        return out.reason

    def new_mail(self) -> list[tuple[str, str, email.message.EmailMessage]]:
        """(kind, recipient, message) queued since the last call."""
        rows = self.store.due(NOW + 400 * DAY, limit=1000)[self.seen :]
        self.seen += len(rows)
        return [(r.kind, r.recipient, _parse(r.raw)) for r in rows]

    def thread(self) -> ThreadRow:
        return self.store.threads()[-1]

    def receipt_id(self) -> str:
        """The Message-ID of the newest request's receipt: what the requester's client
        names when she replies to it."""
        return [r for r in self.store.outbox_rows() if r.kind == "receipt"][-1].message_id


def _parse(raw: bytes) -> email.message.EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


def text(msg: email.message.EmailMessage) -> str:
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())  # type: ignore[attr-defined]


def mail(
    n: int,
    body: str,
    *,
    sender: str = "Maria Rossi <maria@example.org>",
    subject: str = "VPN down",
    reply_to: str | None = None,
    extra: str = "",
) -> bytes:
    threading = f"In-Reply-To: {reply_to}\r\nReferences: {reply_to}\r\n" if reply_to else ""
    return (
        f"From: {sender}\r\nTo: helpdesk@example.test\r\nSubject: {subject}\r\n"
        f"Message-ID: <m{n}@example.org>\r\nDate: Mon, 1 Jan 2026 10:00:00 +0000\r\n"
        f"{threading}{extra}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


def staff(n: int, body: str, parent: email.message.EmailMessage, extra: str = "") -> bytes:
    return mail(n, body, sender=f"Sam <{STAFF}>", reply_to=parent["Message-ID"], extra=extra)


@pytest.fixture
def desk(tmp_path: Path, store_where: Path | str) -> Desk:
    return Desk(tmp_path, store_where)


@pytest.fixture
def notified(desk: Desk) -> email.message.EmailMessage:
    """Maria's VPN request: the team's notification and her receipt."""
    assert desk.deliver(mail(1, "My VPN does not connect.")) == "receipt"
    [(k1, to1, notification), (k2, to2, _)] = desk.new_mail()
    assert (k1, to1, k2, to2) == ("notify", TEAM, "receipt", "maria@example.org")
    return notification


def test_team_notification_is_from_the_shared_address_and_lists_the_keywords(
    notified: email.message.EmailMessage,
) -> None:
    assert "helpdesk@example.test" in notified["From"]
    assert "helpdesk@example.test" in notified["Reply-To"]
    assert notified["Auto-Submitted"] == "auto-generated"
    assert notified["X-Auto-Response-Suppress"] == "All"
    assert notified["In-Reply-To"] == "<m1@example.org>"
    body = text(notified)
    assert "maria@example.org" in body and "My VPN does not connect." in body
    assert "#take" in body and "#in-progress" in body and "REQ-1000" in notified["Subject"]


def test_no_notification_to_the_shared_address_itself(
    tmp_path: Path, store_where: Path | str
) -> None:
    desk = Desk(tmp_path, store_where)
    desk.settings = dataclasses.replace(
        desk.settings, teams=(Team("it", "IT", "HelpDesk@example.test"),)
    )
    desk.pipeline = Pipeline(desk.settings, desk.store, templates.make_environment())
    desk.deliver(mail(1, "My VPN does not connect."))
    assert [k for k, _, _ in desk.new_mail()] == ["receipt"]


def test_take_and_in_progress_send_one_progress_mail_with_the_note(
    desk: Desk, notified: email.message.EmailMessage
) -> None:
    reason = desk.deliver(staff(2, "#take #in-progress\nOn my way.\n\n> quoted", notified))
    assert reason == "staff: #take #in-progress"
    [(kind, to, progress)] = desk.new_mail()
    assert (kind, to) == ("progress", "maria@example.org")
    assert "On my way." in text(progress) and "quoted" not in text(progress)
    assert progress["In-Reply-To"] == "<m1@example.org>"
    assert progress["Auto-Submitted"] == "auto-generated"
    row = desk.thread()
    assert (row.status, row.owner) == ("in_progress", STAFF)
    assert row.first_response_at == NOW


def test_resolved_mail_says_how_to_reopen_and_asks_for_a_rating(
    desk: Desk, notified: email.message.EmailMessage
) -> None:
    desk.deliver(staff(2, "Stato: risolto\nFatto.", notified))
    [(kind, _, resolved)] = desk.new_mail()
    body = text(resolved)
    assert kind == "progress" and "Fatto." in body and "14" in body and "5" in body
    assert desk.thread().status == "resolved"


def test_a_rating_is_stored_and_thanked_once_and_reopens_nothing(
    desk: Desk, notified: email.message.EmailMessage
) -> None:
    desk.deliver(staff(2, "#resolved", notified))
    [(_, _, resolved)] = desk.new_mail()
    assert desk.deliver(mail(3, "5/5", reply_to=resolved["Message-ID"])) == "rating"
    assert [k for k, _, _ in desk.new_mail()] == ["rating"]
    assert desk.deliver(mail(4, "grazie!", reply_to=resolved["Message-ID"])) == "rating"
    assert desk.new_mail() == []
    row = desk.thread()
    assert (row.status, row.rating) == ("resolved", "grazie!")


def test_a_reply_to_a_resolved_request_reopens_it_and_tells_the_team(
    desk: Desk, notified: email.message.EmailMessage
) -> None:
    desk.deliver(staff(2, "#take #resolved", notified))
    [(_, _, resolved)] = desk.new_mail()
    at = NOW + 3 * DAY
    assert desk.deliver(mail(3, "Still broken.", reply_to=resolved["Message-ID"]), at) == "reopened"
    mails = desk.new_mail()
    assert [(k, to) for k, to, _ in mails] == [
        ("progress", "maria@example.org"),
        ("forward", STAFF),
    ]
    assert "Still broken." in text(mails[1][2])
    assert desk.thread().status == "in_progress"


def test_a_late_reply_opens_a_new_request_that_refers_to_the_old(
    desk: Desk, notified: email.message.EmailMessage
) -> None:
    desk.deliver(staff(2, "#resolved", notified))
    [(_, _, resolved)] = desk.new_mail()
    late = mail(3, "It broke again.", reply_to=resolved["Message-ID"])
    assert desk.deliver(late, NOW + 30 * DAY) == "receipt"
    old, new = desk.store.threads()
    assert old.status == "resolved"
    assert (new.reference, new.parent_reference) == ("REQ-1001", "REQ-1000")
    receipt = next(m for k, _, m in desk.new_mail() if k == "receipt")
    assert "REQ-1000" in text(receipt)


def test_unknown_keyword_changes_nothing_and_answers_the_staff_member(
    desk: Desk, notified: email.message.EmailMessage
) -> None:
    desk.deliver(staff(2, "#resolvd\nfixed", notified))
    [(kind, to, result)] = desk.new_mail()
    assert (kind, to) == ("feedback", STAFF)
    assert "#resolved" in text(result)
    assert desk.thread().status == "acknowledged"


def test_a_refused_move_is_explained_to_the_staff_member(
    desk: Desk, notified: email.message.EmailMessage
) -> None:
    desk.deliver(staff(2, "#closed", notified))
    desk.new_mail()
    desk.deliver(staff(3, "#waiting", notified))
    [(kind, to, result)] = desk.new_mail()
    assert (kind, to) == ("feedback", STAFF) and "reopen" in text(result)
    assert desk.thread().status == "closed"


def test_keywords_without_a_request_get_a_result_mail_and_open_nothing(desk: Desk) -> None:
    reason = desk.deliver(mail(9, "#resolved", sender=f"Sam <{STAFF}>", subject="printer"))
    assert reason == "staff: no request found"
    [(kind, to, result)] = desk.new_mail()
    assert (kind, to) == ("feedback", STAFF)
    assert "[REQ-" in text(result) or "reference" in text(result)
    assert desk.store.threads() == []


def test_staff_can_name_the_request_in_the_subject(
    desk: Desk, notified: email.message.EmailMessage
) -> None:
    desk.deliver(mail(5, "#waiting", sender=f"Sam <{STAFF}>", subject="about [REQ-1000]"))
    assert desk.thread().status == "waiting"


def test_non_staff_keywords_are_ignored_and_passed_to_the_team(
    desk: Desk, notified: email.message.EmailMessage
) -> None:
    bob = mail(2, "#resolved", sender="Bob <bob@example.org>", reply_to=notified["Message-ID"])
    assert "keywords ignored" in desk.deliver(bob)
    [(kind, to, forward)] = desk.new_mail()
    assert (kind, to) == ("forward", TEAM) and "bob@example.org" in text(forward)
    assert desk.thread().status == "acknowledged"


def test_an_answer_without_keywords_is_relayed_with_its_attachment(
    desk: Desk, notified: email.message.EmailMessage
) -> None:
    body = (
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        "Content-Type: text/plain\r\n\r\nHere is the VPN profile.\r\n--b\r\n"
        'Content-Type: application/octet-stream; name="vpn.ovpn"\r\n'
        'Content-Disposition: attachment; filename="vpn.ovpn"\r\n\r\nclient\r\n--b--'
    )
    raw = staff(2, "", notified).replace(
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n\r\n", body.encode() + b"\r\n"
    )
    assert desk.deliver(raw) == "staff: answer"
    [(kind, to, answer)] = desk.new_mail()
    assert (kind, to) == ("answer", "maria@example.org")
    assert "Here is the VPN profile." in text(answer)
    assert [p.get_filename() for p in answer.iter_attachments()] == ["vpn.ovpn"]
    assert desk.thread().first_response_at == NOW


def test_an_answer_the_requester_got_directly_is_not_repeated(
    desk: Desk, notified: email.message.EmailMessage
) -> None:
    raw = staff(2, "Done, see you.", notified, extra="Cc: maria@example.org\r\n")
    assert desk.deliver(raw) == "staff: answer (requester in copy)"
    assert desk.new_mail() == []
    assert desk.thread().first_response_at == NOW


def test_internal_note_reaches_nobody(desk: Desk, notified: email.message.EmailMessage) -> None:
    desk.deliver(staff(2, "#interno\nil server è da riavviare", notified))
    assert desk.new_mail() == []


def test_requester_answer_while_waiting_puts_it_back_in_progress(
    desk: Desk, notified: email.message.EmailMessage
) -> None:
    desk.deliver(staff(2, "#waiting\nWhich laptop?", notified))
    [(_, _, waiting)] = desk.new_mail()
    assert desk.deliver(mail(3, "The Dell.", reply_to=waiting["Message-ID"])) == (
        "follow-up: answered"
    )
    [(kind, to, _)] = desk.new_mail()
    assert (kind, to) == ("forward", TEAM)
    assert desk.thread().status == "in_progress"


def test_requester_status_and_close_keywords(
    desk: Desk, notified: email.message.EmailMessage
) -> None:
    assert desk.deliver(mail(2, "#stato", reply_to="<m1@example.org>")) == "requester: #status"
    [(kind, to, _)] = desk.new_mail()
    assert (kind, to) == ("status", "maria@example.org")
    assert desk.deliver(mail(3, "#chiudi", reply_to=desk.receipt_id())) == "requester: #close"
    assert [k for k, _, _ in desk.new_mail()] == ["progress", "forward"]
    assert desk.thread().status == "closed"


def test_every_mail_gets_exactly_the_variables_its_template_expects(
    desk: Desk, notified: email.message.EmailMessage, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, set[str]]] = []
    original = outgoing.render_pair

    def record(env: Any, template: str, language: str, context: Any) -> Any:
        seen.append((template, set(context)))
        return original(env, template, language, context)

    monkeypatch.setattr(outgoing, "render_pair", record)
    desk.deliver(staff(2, "#take #waiting\nwhich one?", notified))
    desk.deliver(mail(3, "This one.", reply_to="<m1@example.org>"))
    desk.deliver(staff(4, "#resolvd", notified))
    desk.deliver(staff(5, "#resolved\nok", notified))
    desk.deliver(mail(6, "5", reply_to=desk.receipt_id()))
    desk.deliver(mail(7, "#status", reply_to="<m1@example.org>"))
    desk.deliver(staff(8, "An answer.", notified))
    desk.deliver(mail(9, "#resolved", sender=f"Sam <{STAFF}>", subject="x"))
    desk.deliver(mail(10, "#close", subject="Re: VPN down [REQ-1000]"))  # not a reply: confirm
    desk.deliver(mail(11, "VPN again", subject="another vpn issue"))
    assert {t for t, _ in seen} >= {"progress_waiting", "forward", "feedback", "progress_resolved",
                                    "rating_thanks", "status", "answer", "notify",
                                    "confirm"}  # fmt: skip
    for template, keys in seen:
        assert keys == set(SAMPLE_CONTEXTS[template]), template


def test_every_transition_is_stored_with_who_when_keyword_and_note(
    desk: Desk, notified: email.message.EmailMessage
) -> None:
    desk.deliver(staff(2, "#take #in-progress\nOn my way.", notified), NOW + 60)
    events = desk.store.events(desk.thread().id)
    status = [e for e in events if e.kind == "status"]
    assert [(e.actor, e.at, e.keyword, e.from_status, e.to_status, e.note)
            for e in status] == [(STAFF, NOW + 60, "#in-progress", "acknowledged",
                                  "in_progress", "On my way.")]  # fmt: skip
    assert [e.kind for e in events] == ["opened", "owner", "status"]


def test_a_requester_cannot_use_staff_keywords(
    desk: Desk, notified: email.message.EmailMessage
) -> None:
    assert desk.deliver(mail(2, "#closed\n#resolved", reply_to="<m1@example.org>")) == "follow-up"
    assert desk.thread().status == "acknowledged"
    assert [(k, to) for k, to, _ in desk.new_mail()] == [("forward", TEAM)]


def test_html_only_outlook_reply_runs_the_top_keyword_not_the_quoted_one(
    desk: Desk, notified: email.message.EmailMessage
) -> None:
    html = (
        '<html><body><div class="WordSection1"><p class="MsoNormal">#resolved</p>'
        '<p class="MsoNormal">Sostituito il toner.</p></div>'
        '<div id="divRplyFwdMsg"><b>Da:</b> IT Help Desk<br><b>Inviato:</b> luned\u00ec<br>'
        "<b>A:</b> Sam<br><b>Oggetto:</b> [REQ-1000] New request</div>"
        "<div><p>#closed</p><p>#assign bob@example.org</p></div></body></html>"
    )
    raw = staff(2, html, notified).replace(b"text/plain", b"text/html")
    assert desk.deliver(raw) == "staff: #resolved"
    [(_, _, resolved)] = desk.new_mail()
    assert "Sostituito il toner." in text(resolved) and "#closed" not in text(resolved)
    row = desk.thread()
    assert (row.status, row.owner) == ("resolved", None)


def test_utf7_text_with_a_lone_surrogate_is_acknowledged_not_quarantined(desk: Desk) -> None:
    raw = mail(1, "Hello +2AA-").replace(b"charset=utf-8", b"charset=utf-7")
    assert desk.deliver(raw) == "receipt"


def test_a_staff_answer_with_an_urgent_contact_signature_is_relayed(
    desk: Desk, notified: email.message.EmailMessage
) -> None:
    body = "Ciao Maria, ho reimpostato il profilo VPN.\n\nSam\nPer urgenze contattare l'interno 999"
    assert desk.deliver(staff(2, body, notified)) == "staff: answer"
    assert [k for k, _, _ in desk.new_mail()] == ["answer"]


def test_assign_only_to_staff_or_a_team_never_the_shared_address(
    desk: Desk, notified: email.message.EmailMessage
) -> None:
    for target in ("helpdesk+it@example.test", "vendor@gmail.test"):
        desk.deliver(staff(hash(target) % 1000 + 10, f"#assign {target}", notified))
        [(kind, to, result)] = desk.new_mail()
        assert (kind, to) == ("feedback", STAFF) and "refused" in text(result)
        assert desk.thread().owner is None
    desk.deliver(staff(3, f"#assign {TEAM}", notified))
    assert desk.thread().owner == TEAM


def test_a_refused_move_keeps_its_note_back(
    desk: Desk, notified: email.message.EmailMessage
) -> None:
    desk.deliver(staff(2, "#resolved", notified))
    desk.new_mail()
    desk.deliver(staff(3, "#waiting\nInternal: wait for vendor ticket 4411", notified))
    assert [(k, to) for k, to, _ in desk.new_mail()] == [("feedback", STAFF)]


def test_old_staff_mail_in_a_first_start_backlog_gets_no_result_mail(desk: Desk) -> None:
    old = mail(9, "#resolved", sender=f"Sam <{STAFF}>", subject="printer")
    assert desk.deliver(old, NOW - 90 * DAY) == "skipped: backlog"
    assert desk.new_mail() == []


def test_close_on_a_closed_request_answers_with_the_status(
    desk: Desk, notified: email.message.EmailMessage
) -> None:
    desk.deliver(staff(2, "#closed", notified))
    desk.new_mail()
    reason = desk.deliver(mail(3, "#close", reply_to="<m1@example.org>"))
    assert reason == "requester: #close (already closed)"
    assert [k for k, _, _ in desk.new_mail()] == ["status"]
    assert len(desk.store.threads()) == 1


def test_a_late_reply_does_not_carry_the_old_reference(
    desk: Desk, notified: email.message.EmailMessage
) -> None:
    desk.deliver(staff(2, "#resolved", notified))
    [(_, _, resolved)] = desk.new_mail()
    late = mail(3, "Broken again.", subject=resolved["Subject"], reply_to=resolved["Message-ID"])
    desk.deliver(late, NOW + 30 * DAY)
    receipt = next(m for k, _, m in desk.new_mail() if k == "receipt")
    assert receipt["Subject"] == "Re: VPN down [REQ-1001]"
    assert desk.thread().subject == "VPN down"


def test_a_staff_members_own_request_keeps_hashtags_and_takes_staff_keywords(
    desk: Desk,
) -> None:
    own = mail(1, "#urgent my laptop does not boot", sender=f"Sam <{STAFF}>", subject="VPN")
    assert desk.deliver(own) == "receipt"
    desk.new_mail()
    assert desk.deliver(mail(2, "#resolved", sender=f"Sam <{STAFF}>", reply_to="<m1@example.org>"))
    assert desk.thread().status == "resolved"


def test_a_listed_but_unauthenticated_staff_mail_is_passed_on_as_such(
    tmp_path: Path, store_where: Path | str
) -> None:
    desk = Desk(tmp_path, store_where)
    desk.settings = dataclasses.replace(
        desk.settings, staff=StaffSettings(addresses=(STAFF,), authserv_id="mx.example.test")
    )
    desk.pipeline = Pipeline(desk.settings, desk.store, templates.make_environment())
    desk.deliver(mail(1, "My VPN does not connect."))
    [(_, _, notification), _] = desk.new_mail()
    reason = desk.deliver(staff(2, "#resolved", notification))
    assert reason == "follow-up: staff address not authenticated"
    [(kind, to, forward)] = desk.new_mail()
    assert (kind, to) == ("forward", TEAM) and "staff address" in text(forward)


def test_timeline_lists_each_mail_before_what_it_caused(
    desk: Desk, notified: email.message.EmailMessage
) -> None:
    from mailer.admin.timeline import timeline

    desk.deliver(staff(2, "#take #in-progress\nOn my way.", notified))
    story = timeline(desk.store, "REQ-1000")
    assert story is not None
    kinds = [e["kind"] for e in story["events"]]
    assert kinds == ["message_in", "opened", "message_out", "message_out",
                     "message_in", "owner", "status", "message_out"]  # fmt: skip


# A requester's close, reopening or rating must prove itself (issue 11)


def forged(n: int, body: str) -> bytes:
    """The requester's address in From, the reference in the subject, no reply to our mail."""
    return mail(n, body, subject="Re: VPN down [REQ-1000]", extra="Reply-To: mallory@evil.test\r\n")


def test_a_forged_close_changes_nothing_and_tells_the_recorded_requester(
    desk: Desk, notified: email.message.EmailMessage
) -> None:
    reason = desk.deliver(forged(2, "#close"))
    assert reason == "requester: #close not confirmed (not a reply to our mail)"
    assert desk.thread().status == "acknowledged"
    [(kind, to, confirm)] = desk.new_mail()  # nothing to the team, nothing to the forger
    assert (kind, to) == ("confirm", "maria@example.org")
    assert confirm["In-Reply-To"] == "<m1@example.org>" and "[REQ-1000]" in confirm["Subject"]
    assert "#close" in text(confirm) and "nothing has changed" in text(confirm)
    assert [e.kind for e in desk.store.events(desk.thread().id)] == ["opened"]
    assert desk.deliver(forged(3, "#close")).endswith("not confirmed (not a reply to our mail)")
    assert desk.new_mail() == []  # one confirmation a day: forgeries cannot flood her
    # Her reply to the confirmation (or to any mail we sent her) is her own.
    assert desk.deliver(mail(4, "#close", reply_to=confirm["Message-ID"])) == "requester: #close"
    assert desk.thread().status == "closed"


def test_with_authserv_id_the_requesters_reply_must_authenticate_like_staff(
    tmp_path: Path,
) -> None:
    desk = Desk(tmp_path)
    desk.settings = dataclasses.replace(
        desk.settings, staff=StaffSettings(addresses=(STAFF,), authserv_id="mx.example.test")
    )
    desk.pipeline = Pipeline(desk.settings, desk.store, templates.make_environment())
    desk.deliver(mail(1, "My VPN does not connect."))
    desk.new_mail()
    receipt = desk.receipt_id()
    reason = desk.deliver(mail(2, "#close", reply_to=receipt))
    assert reason.startswith("requester: #close not confirmed (not authenticated: ")
    [(kind, _, confirm)] = desk.new_mail()
    assert kind == "confirm" and "could not verify" in text(confirm)
    assert desk.thread().status == "acknowledged"
    passing = "Authentication-Results: mx.example.test; dmarc=pass header.from=example.org\r\n"
    assert desk.deliver(mail(3, "#close", reply_to=receipt, extra=passing)) == "requester: #close"
    assert desk.thread().status == "closed"


def test_an_unproven_rating_or_reopening_changes_nothing(
    desk: Desk, notified: email.message.EmailMessage
) -> None:
    desk.deliver(staff(2, "#resolved\nDone.", notified))
    [(_, _, resolved)] = desk.new_mail()
    own_message = "<m1@example.org>"  # her own request's Message-ID: no mail of ours
    reason = desk.deliver(mail(3, "2/5", reply_to=own_message))
    assert reason == "requester: rating not confirmed (not a reply to our mail)"
    [(kind, _, confirm)] = desk.new_mail()
    assert kind == "confirm" and "(2/5)" in text(confirm)
    reason = desk.deliver(mail(4, "It broke again.", reply_to=own_message))
    assert reason == "requester: reopen not confirmed (not a reply to our mail)"
    row = desk.thread()
    assert (row.status, row.rating) == ("resolved", None)
    assert desk.new_mail() == []  # the day's confirmation went out already
    assert desk.deliver(mail(5, "It broke again.", reply_to=resolved["Message-ID"])) == "reopened"
    assert desk.thread().status == "in_progress"
