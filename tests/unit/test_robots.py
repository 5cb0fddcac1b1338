"""robot_reason: a receipt only for mail a person wrote (RFC 3834, standards A1 and C)."""

from __future__ import annotations

import pytest

from mailer.core.reading import robots
from mailer.core.reading.parse import parse_message
from mailer.core.reading.robots import CHECKS, bounce_message_ids, is_own_mail, robot_reason
from mailer.model import ParsedMessage

OWN = frozenset({"helpdesk@example.test"})
DOMAIN = "example.test"
HUMAN = {
    "return-path": "Return-Path: <maria.rossi@example.org>",
    "from": "From: Maria Rossi <maria.rossi@example.org>",
    "to": "To: Help desk <helpdesk@example.test>",
    "subject": "Subject: The printer on floor 2 is jammed",
    "message-id": "Message-ID: <abc123@mail.example.org>",
}
BODY = "Hello,\nthe printer keeps jamming since this morning.\nThanks, Maria\n"


def build(*headers: str, body: str = BODY, drop: tuple[str, ...] = ()) -> ParsedMessage:
    """A human request with ``headers`` added (a header named in HUMAN replaces it)."""
    given = {h.split(":", 1)[0].lower() for h in headers}
    base = [v for k, v in HUMAN.items() if k not in given and k not in drop]
    raw = (
        "\r\n".join([*base, *headers])
        + "\r\n\r\n"
        + body.replace("\r\n", "\n").replace("\n", "\r\n")
    )
    return parse_message(raw.encode("utf-8"), max_size=1 << 20)


def reason(
    *headers: str,
    body: str = BODY,
    drop: tuple[str, ...] = (),
    own: frozenset[str] = OWN,
    require_addressed: bool = True,
    loop_header: str = "X-Mailer-Loop",
    no_reply_patterns: tuple[str, ...] = robots.DEFAULT_NO_REPLY,
) -> str | None:
    return robot_reason(
        build(*headers, body=body, drop=drop),
        own_addresses=own,
        own_domain=DOMAIN,
        loop_header=loop_header,
        no_reply_patterns=no_reply_patterns,
        require_addressed=require_addressed,
    )


def test_a_person_writing_to_the_help_desk_gets_a_receipt() -> None:
    assert reason() is None


def test_checks_are_an_ordered_table_from_most_to_least_specific() -> None:
    names = [name for name, _ in CHECKS]
    assert names[0] == "own-mail-looped"
    assert names[-1] == "not-addressed"
    assert names.index("dsn") < names.index("auto-submitted") < names.index("out-of-office")


# --- A1.1-2 Auto-Submitted ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "auto-replied",
        "auto-generated",
        "auto-notified",
        "yes",
        "Auto-Replied (vacation)",
        "auto-replied; owner-email=x@y",
        "",
    ],
)
def test_auto_submitted_other_than_no_is_a_robot(value: str) -> None:
    assert reason(f"Auto-Submitted: {value}") == "auto-submitted"


@pytest.mark.parametrize("value", ["no", "No", "no (sent by a person)", "NO; x=y", " no "])
def test_auto_submitted_no_is_a_person(value: str) -> None:
    assert reason(f"Auto-Submitted: {value}") is None


def test_every_auto_submitted_header_counts() -> None:
    assert reason("Auto-Submitted: no", "Auto-Submitted: auto-generated") == "auto-submitted"


# --- A1.3-6 envelope and sender ----------------------------------------------------------------


def test_null_return_path_is_a_robot() -> None:
    assert reason("Return-Path: <>") == "null-sender"


def test_missing_return_path_falls_back_to_a_single_valid_from() -> None:
    assert reason(drop=("return-path",)) is None


@pytest.mark.parametrize(
    "from_",
    [
        "From: alice@example.org)<bob@example.org>",  # CVE-2023-27043
        "From: a@example.org, b@example.org",
        "From: Maria Rossi",
        "From: <>",
    ],
)
def test_from_that_is_not_exactly_one_address_gets_no_receipt(from_: str) -> None:
    assert reason(from_, drop=("return-path",)) == "no-valid-sender"
    assert reason(from_) == "no-valid-sender"


def test_missing_from_gets_no_receipt() -> None:
    assert reason(drop=("from",)) == "no-valid-sender"


@pytest.mark.parametrize(
    "sender",
    [
        "MAILER-DAEMON@mx.example.org",
        "listserv@lists.example.org",
        "Majordomo@lists.example.org",
        "dovecot-request@lists.example.org",
        "owner-staff@lists.example.org",
    ],
)
def test_system_senders_are_robots(sender: str) -> None:
    assert reason(f"Return-Path: <{sender}>") == "system-sender"
    assert reason(f"From: {sender}", drop=("return-path",)) == "system-sender"


def test_bare_mailer_daemon_return_path_is_a_robot() -> None:
    assert reason("Return-Path: <MAILER-DAEMON>") == "system-sender"


@pytest.mark.parametrize(
    "sender",
    [
        "postmaster@example.org",
        "noreply@example.org",
        "no-reply-billing@example.org",
        "DoNotReply@example.org",
        "do-not-reply@example.org",
        "root@example.org",
        "abuse@example.org",
    ],
)
def test_no_reply_senders_are_robots(sender: str) -> None:
    assert reason(f"From: {sender}", drop=("return-path",)) == "no-reply-sender"
    assert reason(f"Return-Path: <{sender}>") == "no-reply-sender"


def test_no_reply_patterns_come_from_the_caller() -> None:
    assert reason(no_reply_patterns=(r"^maria\.",)) == "no-reply-sender"
    assert (
        reason("From: postmaster@example.org", drop=("return-path",), no_reply_patterns=()) is None
    )
    assert reason(no_reply_patterns=("([",)) is None  # a broken pattern matches nothing


# --- A1.7-10 lists, precedence, suppression, loops ---------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "List-Id: <staff.example.org>",
        "List-Help: <mailto:help@example.org>",
        "List-Subscribe: <mailto:sub@example.org>",
        "List-Unsubscribe: <mailto:unsub@example.org>",
        "List-Post: <mailto:staff@example.org>",
        "List-Owner: <mailto:owner@example.org>",
        "List-Archive: <https://example.org/archive>",
        "X-Mailing-List: staff@example.org",
    ],
)
def test_list_mail_is_not_answered(header: str) -> None:
    assert reason(header) == "list"


@pytest.mark.parametrize(
    "value", ["bulk", "list", "junk", "BULK", "auto_reply", "bulk (newsletter)"]
)
def test_bulk_precedence_is_not_answered(value: str) -> None:
    assert reason(f"Precedence: {value}") == "precedence"


def test_precedence_normal_is_a_person_and_every_precedence_counts() -> None:
    assert reason("Precedence: normal") is None
    assert reason("Precedence: normal", "Precedence: junk") == "precedence"


@pytest.mark.parametrize(
    "value", ["All", "AutoReply", "OOF", "DR, OOF,\tRN", "dr,autoreply", "  all "]
)
def test_auto_response_suppress_all_autoreply_or_oof_is_honoured(value: str) -> None:
    assert reason(f"X-Auto-Response-Suppress: {value}") == "x-auto-response-suppress"


@pytest.mark.parametrize("value", ["None", "DR, RN, NRN", "NDR"])
def test_auto_response_suppress_other_tokens_do_not_block(value: str) -> None:
    assert reason(f"X-Auto-Response-Suppress: {value}") is None


@pytest.mark.parametrize(
    "header",
    [
        "X-Loop: yes",
        "X-Loop: helpdesk@example.test",
        "X-Loop: TRUE",
        "X-OTRS-Loop: true",
        "X-RT-Loop-Prevention: rt",
        "X-Ack: no",
    ],
)
def test_foreign_loop_headers_are_robots(header: str) -> None:
    assert reason(header) == "loop-header"


@pytest.mark.parametrize(
    "header",
    [
        "X-Autoreply: yes",
        "X-Autorespond: Thanks",
        "X-Autogenerated: Reply",
        "X-FC-Machinegenerated: true",
        "X-Apple-Action: vacation",
        "X-Vendor-Auto_Response: 1",
        "X-HolidayReply: on",
    ],
)
def test_auto_reply_header_names_are_robots(header: str) -> None:
    assert reason(header) == "auto-header"


def test_header_name_pattern_ignores_the_headers_with_their_own_rules() -> None:
    assert reason("Auto-Submitted: no", "X-Auto-Response-Suppress: None") is None
    assert reason("X-MS-Exchange-Organization-AutoResponseSuppress: DR") is None


def test_x_loop_naming_someone_else_is_not_a_robot_signal() -> None:
    assert reason("X-Loop: maria@procmail.example.org") is None
    assert reason("X-Loop: no") is None


@pytest.mark.parametrize(
    "header", ["X-Spam-Flag: YES", "X-Spam-Status: Yes, score=9.1", "X-SES-Spam-Verdict: FAIL"]
)
def test_spam_verdicts_are_not_answered(header: str) -> None:
    assert reason(header) == "spam"


def test_negative_spam_verdicts_are_fine() -> None:
    assert reason("X-Spam-Flag: NO", "X-Spam-Status: No, score=0.1") is None


# --- A1.11-13 our own mail and addresses ----------------------------------------------------------


def test_our_loop_header_means_our_mail_came_back() -> None:
    assert reason("X-Mailer-Loop: helpdesk@example.test") == "own-mail-looped"
    assert reason("X-Other-Loop: x", loop_header="X-Other-Loop") == "own-mail-looped"


def test_our_message_id_format_means_our_mail_came_back() -> None:
    ours = "Message-ID: <0123456789abcdef0123456789abcdef.REQ-1024@example.test>"
    assert reason(ours) == "own-mail-looped"
    assert (
        reason("Message-ID: <0123456789abcdef0123456789abcdef.mailer@EXAMPLE.TEST>")
        == "own-mail-looped"
    )
    assert reason("Message-ID: <someone-else@example.test>") is None
    assert reason("Message-ID: <0123456789abcdef0123456789abcdef.REQ-1@other.example>") is None


def test_is_own_mail_is_exposed_for_the_pipeline() -> None:
    assert is_own_mail(build("X-Mailer-Loop: x"), DOMAIN)
    assert not is_own_mail(build(), DOMAIN)


@pytest.mark.parametrize(
    "sender", ["helpdesk@example.test", "HelpDesk@Example.Test", "helpdesk+v1abc@example.test"]
)
def test_mail_from_our_own_address_is_not_answered(sender: str) -> None:
    assert reason(f"From: {sender}", drop=("return-path",)) == "own-address"
    assert reason(f"Return-Path: <{sender}>") == "own-address"


@pytest.mark.parametrize(
    ("to", "expected"),
    [
        ("To: all-staff@example.test", "not-addressed"),
        ("To: other@example.org\r\nCc: HELPDESK@example.test", None),
        ("To: helpdesk+v1abc@example.test", None),
        ("To: x@example.org\r\nResent-To: helpdesk@example.test", None),
        ("To: undisclosed-recipients:;", "not-addressed"),
    ],
)
def test_receipt_only_when_we_are_addressed(to: str, expected: str | None) -> None:
    assert reason(to) == expected
    assert reason(to, require_addressed=False) is None


# --- Pigeonhole vacation test suite, standards.md B3 rows 53-68 --------------------------------

PIGEONHOLE = [
    # (row, headers, own addresses, require_addressed, expected)
    (53, ["Return-Path: <stephan@example.org>", "From: stephan@example.org",
          "To: stephan@example.org"], {"stephan@example.org"}, True, "own-address"),
    (54, ["Return-Path: <sirius@example.org>", "From: sirius@example.org",
          "To: stephan@example.org"], {"stephan@example.org", "sirius@example.org"}, True,
     "own-address"),
    (55, ["List-ID: <dovecot.lists.example.org>",
          "Return-Path: <dovecot-bounces+stephan=example.org@lists.example.org>",
          "To: stephan@example.org"], {"stephan@example.org"}, True, "list"),
    (56, ["Precedence: bulk", "To: stephan@example.org"], {"stephan@example.org"}, True,
     "precedence"),
    (57, ["Auto-submitted: yes", "To: stephan@example.org"], {"stephan@example.org"}, True,
     "auto-submitted"),
    (58, ["X-Auto-Response-Suppress: All", "To: stephan@example.org"], {"stephan@example.org"},
     True, "x-auto-response-suppress"),
    (59, ["X-Auto-Response-Suppress: OOF", "To: stephan@example.org"], {"stephan@example.org"},
     True, "x-auto-response-suppress"),
    (60, ["X-Auto-Response-Suppress: DR, OOF,\tRN", "To: stephan@example.org"],
     {"stephan@example.org"}, True, "x-auto-response-suppress"),
    (61, ["Return-Path: <dovecot-request@lists.example.org>", "To: stephan@example.org"],
     {"stephan@example.org"}, True, "system-sender"),
    (62, ["To: all@example.org"], {"stephan@example.org", "jason@example.org"}, True,
     "not-addressed"),
    (63, ["To: all@example.org", "X-Original-To: all@example.org"], {"stephan@example.org"}, True,
     "not-addressed"),
    (64, ["Auto-submitted: no", "Precedence: normal", "X-Auto-Response-Suppress: None",
          "To: stephan@example.org"], {"stephan@example.org"}, True, None),
    (65, ["To: all@example.org"], {"stephan@example.org", "all@example.org"}, True, None),
    (66, ["To: Stephan.Bosch@example.org"], {"stephan.bosch@example.org"}, True, None),
    # use_original_recipient: the original envelope recipient is one of our addresses
    (67, ["To: all@example.org", "X-Original-To: all@example.org"],
     {"stephan@example.org", "all@example.org"}, True, None),
    (68, ["To: all@example.org"], {"stephan@example.org"}, False, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("headers", "own", "addressed", "expected"),
    [pytest.param(h, o, a, e, id=f"row{row}") for row, h, o, a, e in PIGEONHOLE],
)
def test_pigeonhole_vacation_cases(
    headers: list[str], own: set[str], addressed: bool, expected: str | None
) -> None:
    assert reason(*headers, own=frozenset(own), require_addressed=addressed) == expected


# --- C: reports, bounces, out-of-office, meetings, recalls, read receipts ------------------------


def report(report_type: str, fields: str, returned: str = "") -> str:
    parts = [
        "Content-Type: text/plain\r\n\r\nSee the report.",
        f"Content-Type: message/{report_type}\r\n\r\n{fields}",
    ]
    if returned:
        parts.append(f"Content-Type: message/rfc822\r\n\r\n{returned}")
    return "".join(f"--B\r\n{p}\r\n" for p in parts) + "--B--\r\n"


def report_reason(report_type: str, fields: str, returned: str = "") -> str | None:
    header = f'Content-Type: multipart/report; report-type={report_type}; boundary="B"'
    return reason("MIME-Version: 1.0", header, body=report(report_type, fields, returned))


def test_delivery_status_notification_is_a_dsn() -> None:
    fields = (
        "Reporting-MTA: mx\r\n\r\nFinal-Recipient: rfc822; x@y\r\nAction: failed\r\nStatus: 5.1.1"
    )
    assert report_reason("delivery-status", fields) == "dsn"


def test_disposition_notification_is_an_mdn() -> None:
    fields = "Final-Recipient: rfc822; x@y\r\nDisposition: automatic-action/MDN-sent; displayed"
    assert report_reason("disposition-notification", fields) == "mdn"


def test_feedback_report_is_arf() -> None:
    fields = "Feedback-Type: abuse\r\nUser-Agent: SomeGenerator/1.0\r\nVersion: 1"
    assert report_reason("feedback-report", fields) == "arf"


def test_unknown_report_types_are_still_reports() -> None:
    assert report_reason("x-unknown", "X: y") == "report"


BOUNCE_BODY = "This is the mail system at host mx.example.org.\n\n<x@y>: user unknown\n"


@pytest.mark.parametrize(
    "subject",
    [
        "Undeliverable: Budget",
        "Non recapitabile: Budget",
        "Mail delivery failed: returning message to sender",
        "Undelivered Mail Returned to Sender",
        "Delivery Status Notification (Failure)",
        "Returned mail: see transcript for details",
        "failure notice",
        "Warning: could not send message for past 4 hours",
        "Delivery failure",
        "Non remis : Budget",
    ],
)
def test_bounce_subject_with_bounce_text_is_a_bounce(subject: str) -> None:
    assert reason(f"Subject: {subject}", body=BOUNCE_BODY) == "bounce"


def test_bounce_subject_alone_is_not_enough() -> None:
    assert reason("Subject: Undeliverable: mail to the CEO", body="Why does this happen?\n") is None


def test_a_person_describing_a_delivery_error_is_a_request() -> None:
    body = "Hi, my message to the client could not be delivered: 550 5.1.1 user unknown. Help?\n"
    assert reason("Subject: Undeliverable mail to a client", body=body) is None
    assert reason("Subject: Mail delivery failed for the newsletter", body=body) is None


def test_a_returned_header_block_confirms_a_bounce_subject() -> None:
    body = "Failed Recipient: x@example.org\n\nReceived: from mx.example.org by mx2 with SMTP\n"
    assert reason("Subject: Delivery Failure", body=body) == "bounce"


def test_bounce_subject_with_a_daemon_sender_is_a_bounce() -> None:
    headers = ("Subject: Undeliverable: x", "From: Mail Delivery System <postmaster@example.org>")
    assert reason(*headers, body="Ciao", no_reply_patterns=()) == "bounce"


def test_bounce_header_with_a_returned_message_is_a_bounce() -> None:
    assert reason("X-Failed-Recipients: x@y.org", "Subject: Undeliverable: x", body="") == "bounce"


def test_a_person_forwarding_a_bounce_asks_for_help() -> None:
    assert reason("Subject: Fwd: Undeliverable: Budget", body="Why?\n\n" + BOUNCE_BODY) is None
    assert reason("Subject: I: Non recapitabile: Budget", body="Perché?\n\n" + BOUNCE_BODY) is None


def test_gateway_annotated_subject_with_bounce_text_is_a_bounce() -> None:
    body = "Your message could not be delivered to x@example.org\n"
    assert reason("Subject: RE: Your order : non remis (delivery failed)", body=body) == "bounce"


@pytest.mark.parametrize(
    "subject",
    [
        "Automatic reply: Budget",
        "Autoreply: Budget",
        "Auto-Reply: Budget",
        "Risposta automatica: Budget",
        "Automatische Antwort: Budget",
        "Réponse automatique : Budget",
        "Respuesta automática: Budget",
        "Autosvar: Budget",
        "Automatisk svar: Budget",
        "Automatisch antwoord: Budget",
        "Abwesenheitsnotiz: Budget",
        "Out of Office: Budget",
        "Out of Office Reply: Budget",
        "Fuori sede: Budget",
        "[Automatyczna odpowiedź] Budget",
    ],
)
def test_out_of_office_client_prefixes_are_robots(subject: str) -> None:
    assert reason(f"Subject: {subject}") == "out-of-office"


@pytest.mark.parametrize(
    "subject",
    [
        "Out of office not working in Outlook",
        "Re: Automatic reply: Budget",
        "How do I set an automatic reply?",
        "Vacation request for August",
        "Absence tomorrow",
        "Auto: budget figures",  # A1.16: "Auto:" alone is not a signal
    ],
)
def test_out_of_office_words_in_a_request_are_a_person(subject: str) -> None:
    assert reason(f"Subject: {subject}") is None


@pytest.mark.parametrize(
    "body",
    [
        "I am out of the office until Monday with limited access to email.\n",
        "Grazie per il messaggio, sono fuori ufficio fino a lunedì.\n",
        "Ich bin bis 3. Mai nicht im Büro.\n",
    ],
)
def test_out_of_office_phrase_confirmed_by_the_body_is_a_robot(body: str) -> None:
    assert reason("Subject: Out of office until May 5", body=body) == "out-of-office"


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        (
            "Out of office not working",
            "I will be out of the office next week and it won't turn on.",
        ),
        ("Vacation request", "I am on vacation until 15 August, please approve my leave."),
        ("Fuori sede: come attivo la risposta automatica?", "Sarò fuori sede da lunedì."),
    ],
)
def test_a_person_asking_about_out_of_office_is_a_request(subject: str, body: str) -> None:
    assert reason(f"Subject: Re: {subject}", body=body) is None
    if not subject.startswith("Fuori sede:"):
        assert reason(f"Subject: {subject}", body=body) is None


def test_out_of_office_phrase_confirmed_by_an_exchange_header_is_a_robot() -> None:
    headers = ("Subject: Away until May 5", "X-MS-Exchange-Inbox-Rules-Loop: maria@example.org")
    assert reason(*headers) == "out-of-office"
    assert reason("Subject: Out of office", "X-Auto-Response-Suppress: DR, RN") == "out-of-office"


def calendar_body() -> str:
    parts = (
        "Content-Type: text/plain\r\n\r\nMaria has accepted.",
        "Content-Type: text/calendar; method=REPLY\r\n\r\nBEGIN:VCALENDAR\r\nEND:VCALENDAR",
    )
    return "".join(f"--C\r\n{p}\r\n" for p in parts) + "--C--\r\n"


def test_meeting_invitations_and_responses_are_not_answered() -> None:
    header = 'Content-Type: multipart/alternative; boundary="C"'
    assert reason("MIME-Version: 1.0", header, body=calendar_body()) == "calendar"


@pytest.mark.parametrize(
    "subject",
    ["Accepted: Budget review", "Declined: Budget", "Tentative: Budget", "Accettato: Riunione",
     "Rifiutato: Riunione", "Provvisorio: Riunione", "Angenommen: Termin", "Abgelehnt: Termin"],
)  # fmt: skip
def test_meeting_response_subjects_are_not_answered(subject: str) -> None:
    assert reason(f"Subject: {subject}") == "calendar"


def test_outlook_recall_is_not_answered() -> None:
    body = 'Maria Rossi would like to recall the message, "Budget".\n'
    assert reason("Subject: Recall: Budget", body=body) == "recall"
    assert (
        reason("Subject: Richiamo: Budget", body="Maria desidera richiamare il messaggio")
        == "recall"
    )
    assert reason("Subject: Recall: the 2019 budget numbers", body="Can you find them?\n") is None


def test_read_receipts_are_not_answered() -> None:
    body = "Your message\n\n  To: Help desk\n  Subject: Budget\n\nwas read on 01/02/2024 10:00.\n"
    assert reason("Subject: Read: Budget", body=body) == "read-receipt"
    assert (
        reason("Subject: Letto: Budget", body="Il messaggio è stato letto il 1/2/2024")
        == "read-receipt"
    )
    assert reason("Subject: Read: chapter 3 before Monday", body="Please.\n") is None


def test_challenge_response_robots_are_not_answered() -> None:
    body = (
        "Your message was received at 12:15:\n\nPlease click on the following link to have your "
        "address added to the recipient's allowed list:\n\nhttps://cr.example.com/v/1234\n"
    )
    assert reason("Subject: RE: Budget", body=body) == "challenge-response"


# --- bounce_message_ids --------------------------------------------------------------------------


def test_bounce_ids_come_from_the_returned_message() -> None:
    returned = "Message-ID: <0123456789abcdef0123456789abcdef.REQ-1@example.test>\r\n\r\nHi"
    header = 'Content-Type: multipart/report; report-type=delivery-status; boundary="B"'
    fields = "Final-Recipient: rfc822; x@y\r\nAction: failed\r\nStatus: 5.1.1"
    msg = build("MIME-Version: 1.0", header, body=report("delivery-status", fields, returned))
    assert bounce_message_ids(msg) == ("<0123456789abcdef0123456789abcdef.REQ-1@example.test>",)


def test_bounce_ids_come_from_an_attached_message_without_a_report() -> None:
    parts = (
        "--B\nContent-Type: text/plain\n\nBounce\n--B\nContent-Type: message/rfc822\n\n"
        "Message-ID: <orig@example.test>\n\nx\n--B--\n"
    )
    msg = build('Content-Type: multipart/mixed; boundary="B"', body=parts)
    assert bounce_message_ids(msg) == ("<orig@example.test>",)


def test_bounce_ids_come_from_the_text_of_a_non_standard_bounce() -> None:
    body = (
        "Hi. This is the qmail-send program.\n\n--- Below this line is a copy of the message."
        "\n\nMessage-Id: <orig@example.test>\nSubject: x\n"
    )
    assert bounce_message_ids(build(body=body)) == ("<orig@example.test>",)


def test_bounce_ids_fall_back_to_in_reply_to() -> None:
    assert bounce_message_ids(build("In-Reply-To: <orig@example.test>")) == ("<orig@example.test>",)
    assert bounce_message_ids(build()) == ()


def test_robot_reason_never_raises_on_an_empty_message() -> None:
    msg = parse_message(b"", max_size=100)
    assert robots.robot_reason(msg, own_addresses=OWN, own_domain=DOMAIN) == "no-valid-sender"
