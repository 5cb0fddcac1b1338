"""The receipt: written for a person, with every header threading and loop safety need."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import pytest

from mailer.config import templates
from mailer.core.writing.receipt import compose_receipt
from mailer.core.writing.render import Envelope, excerpt, greeting_name
from mailer.model import Address, Classification
from tests.factories import message, settings

ENV = templates.make_environment()
CLASSIFIED = Classification(
    rule="printers",
    category="hardware",
    team="it",
    team_name="IT Support",
    expectation="We answer within a working day.",
)


def receipt(lang: str = "en", **overrides: object) -> EmailMessage:
    msg = message(**overrides)
    envelope = Envelope(
        to=msg.from_[0],
        envelope_sender="helpdesk@example.test",
        message_id="<0123456789abcdef0123456789abcdef.REQ-1000@example.test>",
        now=1_700_000_000.0,
        thread_guid=bytes(16),
    )
    out = compose_receipt(ENV, settings(), msg, CLASSIFIED, envelope, "REQ-1000", lang)
    parsed = email.message_from_bytes(out.raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def body(msg: EmailMessage, subtype: str = "plain") -> str:
    part = msg.get_body(preferencelist=(subtype,))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def test_receipt_headers_thread_under_the_request_and_mark_it_automatic() -> None:
    r = receipt(references=("<root@example.org>",))
    assert r["To"] == "Maria Rossi <maria.rossi@example.org>"
    assert r["From"] == "IT Help Desk <helpdesk@example.test>"
    assert r["Subject"] == "Re: Printer on floor 2 is jammed [REQ-1000]"
    assert r["In-Reply-To"] == "<req1@example.org>"
    assert r["References"] == "<root@example.org> <req1@example.org>"
    assert r["Auto-Submitted"] == "auto-replied"
    assert r["X-Auto-Response-Suppress"] == "All"
    assert r["X-Mailer-Loop"] == "helpdesk@example.test"
    assert r["Thread-Topic"] == "Printer on floor 2 is jammed"
    assert r["Thread-Index"]
    assert r["Message-ID"].endswith("@example.test>")
    assert r["Date"]
    assert r.get_all("Cc") is None and r.get_all("Bcc") is None
    assert r.get_all("Reply-To") is None


def test_receipt_reads_like_a_person_wrote_it() -> None:
    text = body(receipt())
    assert text.startswith("Hello Maria,")
    assert '"Printer on floor 2 is jammed"' in text
    assert "REQ-1000" in text
    assert "IT Support will take care of it" in text
    assert "We answer within a working day." in text
    assert "reply to this message" in text
    assert "IT Help Desk" in text


def test_italian_request_gets_an_italian_receipt_with_html_alternative() -> None:
    r = receipt("it", subject="Stampante bloccata al secondo piano")
    text = body(r)
    assert text.startswith("Gentile Maria,")
    assert "Se ne occuperà IT Support" in text
    html = body(r, "html")
    assert "Gentile Maria" in html and "<strong>REQ-1000</strong>" in html


def test_non_ascii_subject_is_re_encoded_properly() -> None:
    r = receipt(subject="Problema con la stampante – è urgente ✓")
    assert r["Subject"] == "Re: Problema con la stampante – è urgente ✓ [REQ-1000]"


def test_html_in_the_request_is_escaped_in_the_html_receipt() -> None:
    html = body(receipt(subject="<script>alert(1)</script>"), "html")
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_no_message_id_means_no_in_reply_to() -> None:
    r = receipt(message_id=None, key="sha256:00")
    assert r["In-Reply-To"] is None


@pytest.mark.parametrize(
    ("name", "addr", "expected"),
    [
        ("Maria Rossi", "m@x", "Maria"),
        ("Rossi, Maria", "m@x", "Maria"),
        ("ROSSI MARIA", "m@x", "Rossi"),
        ("", "mario.bianchi@x", "Mario"),
        ("", "it-support@x", ""),
        ("", "j123@x", ""),
        ('"Anna"', "a@x", "Anna"),
    ],
)
def test_greeting_name(name: str, addr: str, expected: str) -> None:
    assert greeting_name(Address(name, addr)) == expected


def test_excerpt_stops_at_quoted_history_and_signature() -> None:
    text = "Hi team,\nmy VPN drops.\n\nOn Mon, Bob wrote:\n> old text\n"
    assert excerpt(text) == "Hi team, my VPN drops."
    assert excerpt("Line one\n-- \nsignature") == "Line one"


def test_hostile_display_name_cannot_inject_headers() -> None:
    evil = Address("Eve\r\nBcc: victim@example.org", "eve@example.org")
    r = receipt(from_=(evil,))
    assert r.get_all("Bcc") is None
    assert r["To"].addresses[0].addr_spec == "eve@example.org"  # type: ignore[attr-defined]


def test_long_non_ascii_subject_is_folded_and_decodes_back() -> None:
    subject = "設定の問題について " * 12 + "è urgente"
    r = receipt(subject=subject)
    assert str(r["Subject"]) == f"Re: {' '.join(subject.split())} [REQ-1000]"


def test_long_reference_chains_fold_between_ids() -> None:
    refs = tuple(f"<{'x' * 40}.{i}@example.org>" for i in range(8))
    r = receipt(references=refs)
    assert str(r["References"]).split() == [*refs, "<req1@example.org>"]


def test_internationalised_sender_address_does_not_break_rendering() -> None:
    r = receipt(from_=(Address("José", "josé@exämple.it"),))
    assert "josé@exämple.it" in str(r["To"])
