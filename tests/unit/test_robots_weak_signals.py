"""Robots whose headers say little (issue 10): filter gateways' notices with badly encoded
subjects, list servers' own mail, notices told apart by what their body says.

Every message here is written for this test (none is copied from a corpus). Each robot gets
no receipt; the people next to them, who write about the same things, get one.
"""

from __future__ import annotations

import time

import pytest

from mailer.core.reading import list_servers, machine_notices
from mailer.core.reading.encoded_words import readable
from mailer.core.reading.parse import parse_message
from mailer.core.reading.robots import robot_reason
from mailer.model import ParsedMessage

OWN = frozenset({"helpdesk@example.test"})


def mail(*headers: str, body: str) -> ParsedMessage:
    head = [*headers, "To: helpdesk@example.test", "Message-ID: <t1@example.net>"]
    raw = "\r\n".join(head) + "\r\n\r\n" + body.replace("\n", "\r\n")
    return parse_message(raw.encode("utf-8"), max_size=1 << 20)


def reason(msg: ParsedMessage) -> str | None:
    return robot_reason(msg, own_addresses=OWN, own_domain="example.test", require_addressed=True)


# --- filter gateways: a delivery-failure notice whose subject a strict reader cannot read ---

GATEWAY_BODY = (
    "Sender: maria.rossi@example.test\nRecipient: k.tanaka@example.net\nSubject: Budget\n\n"
    "The attachment budget.xls was infected with a virus and has been deleted.\n"
)
GATEWAY_NOTICES = {
    "padded mid-word, gateway by name": mail(
        'From: "MailScan Notification" <notify@gw.example.net>',
        "Subject: =?ISO-8859-1?B?RGVsaXZlcnk=IGZhaWx1cmU=?=",
        body=GATEWAY_BODY,
    ),
    "padded mid-word, gateway by address": mail(
        "From: antivirus@mx1.example.net",
        "Subject: =?iso-8859-1?b?RGVs=aXZlcnkgZmFpbHVyZQ?=",
        body="Mail could not be delivered.\n",
    ),
    "cut before its end, notice fields": mail(
        "From: Relay <relay7@mx.example.net>",
        "Subject: =?utf-8?B?RGVsaXZlcnkgZmFpbHVyZQ",
        body="Sender: maria.rossi@example.test\nRecipient: k.tanaka@example.net\n"
        "Reason: virus found (EICAR test file)\n\nThe message was not delivered.\n",
    ),
    "unknown charset and encoding, the body's opening": mail(
        "From: mx-relay@example.net",
        "Subject: =?x-unknown-8bit?X?RGVsaXZlcnkgZmFpbHVyZQ==?=",
        body="Dear sender,\nthe message you sent to k.tanaka@example.net was found to contain "
        "a virus and has been quarantined.\n",
    ),
    "headers say nothing, the body opens as a notice": mail(
        "From: smtp04@relay.example.net",
        "Subject: Budget 2025",
        body="*** Notification ***\nYour message to k.tanaka@example.net could not be "
        "delivered because it contained a banned attachment.\n",
    ),
    "the mail system by its encoded name only": mail(
        "From: =?iso-2022-jp?B?TWFpbCBEZWxpdmVyeSBTdWJzeXN0ZW0?= <mail@mx.example.net>",
        "Subject: Delivery failure",
        body="Relay denied for k.tanaka@example.net\n",
    ),
    "a virus found in the message you sent": mail(
        "From: Mail Service <service@example.net>",
        "Subject: Warning",
        body="A virus was detected in the message you sent to k.tanaka@example.net.\n"
        "Virus name: W32/Example.A\nAction: deleted\n",
    ),
}


@pytest.mark.parametrize("name", GATEWAY_NOTICES)
def test_filter_gateway_notices_get_no_receipt(name: str) -> None:
    assert reason(GATEWAY_NOTICES[name]) == "bounce"


def test_the_badly_padded_subject_is_what_the_subject_rule_sees() -> None:
    msg = GATEWAY_NOTICES["padded mid-word, gateway by name"]
    assert "Delivery failure" not in msg.subject
    assert readable(msg).subject == "Delivery failure"
    assert machine_notices.filter_gateway_sender(readable(msg))


# --- list servers: their own mail, from the list's administrative address ---

FML_LOOP_ALERT = mail(
    "From: dev-admin@lists.example.jp",
    "Subject: Loop Alert: dup'ed message",
    "X-MLServer: fml [fml 4.0.3 release]",
    "X-ML-Name: dev",
    "X-ML-Count: 5021",
    "X-ML-Info: If you have a question, send a mail with body 'help' to dev-ctl@example.jp",
    body="fml has seen this Message-ID before and did not distribute it again.\n",
)
LIST_SERVER_MAIL = {
    "fml loop alert (-admin, X-ML*)": FML_LOOP_ALERT,
    "fml, an unremarkable subject (-admin, X-ML*)": mail(
        "From: dev-admin@lists.example.jp",
        "Subject: fml system message",
        "X-MLServer: fml [fml 4.0.3 release]",
        "X-ML-Name: dev",
        body="Your mail was not distributed.\n",
    ),
    "Mailman hold notice (-owner, X-Mailman-Version)": mail(
        "From: dev-owner@lists.example.org",
        "Subject: Your message to Dev awaits moderator approval",
        "X-Mailman-Version: 2.1.39",
        body="Your mail to 'Dev' with the subject\n\n    Budget\n\nIs being held until the "
        "list moderator can review it for approval.\n",
    ),
    "Mailman hold notice, no header of its own (-bounces, the body)": mail(
        "From: dev-bounces@lists.example.org",
        "Subject: Budget",
        body="Your mail to 'Dev' with the subject\n\n    Budget\n\nIs being held until the "
        "list moderator can review it for approval.\n",
    ),
    "Mailman administrivia (-request, X-List-Administrivia)": mail(
        "From: dev-request@lists.example.org",
        "Subject: confirm 3c5e0d9b1f2a4e6c8d0f",
        "X-List-Administrivia: yes",
        body="Mailing list subscription confirmation notice for mailing list Dev\n",
    ),
    "Majordomo command results (owner-)": mail(
        "From: owner-dev@lists.example.org",
        "Subject: Majordomo results",
        body=">>>> subscibe dev\n**** Command 'subscibe' not recognized.\n",
    ),
    "Sympa rejection": mail(
        "From: sympa@lists.example.org",
        "Subject: Message distribution",
        body="Your message for list dev has been rejected: you are not a subscriber.\n",
    ),
    "LISTSERV rejection (-request)": mail(
        "From: DEV-request@LISTS.EXAMPLE.EDU",
        "Subject: Rejected posting to DEV@LISTS.EXAMPLE.EDU",
        body="You are not authorized to send mail to the DEV list from your account.\n",
    ),
    "ezmlm bounce warning (-help)": mail(
        "From: dev-help@lists.example.org",
        "Subject: warning from dev@lists.example.org",
        body="Hi! This is the ezmlm program. I'm managing the dev@lists.example.org mailing "
        "list.\n\nMessages to you from the dev mailing list seem to have been bouncing.\n",
    ),
    "Google Groups (the group's owners address)": mail(
        "From: dev+owners@googlegroups.com",
        "Subject: Message rejected",
        body="You do not have permission to post to this group.\n",
    ),
}


@pytest.mark.parametrize("name", LIST_SERVER_MAIL)
def test_list_servers_own_mail_gets_no_receipt(name: str) -> None:
    msg = LIST_SERVER_MAIL[name]
    assert list_servers.is_list_server(readable(msg))
    assert reason(msg) in {"list", "list-server", "system-sender"}


def test_the_loop_alert_is_named_for_what_it_is() -> None:
    assert reason(FML_LOOP_ALERT) == "list-server"


# --- people: the same words, the same kinds of address, and a receipt ---

PEOPLE = {
    "my mail bounced": mail(
        "From: Maria Rossi <maria.rossi@example.test>",
        "Subject: My mail bounced",
        body="Hi, my mail to the client bounced with 'user unknown'. Can you check?\n",
    ),
    "delivery failure of my package": mail(
        "From: Luca Bianchi <luca@example.test>",
        "Subject: Delivery failure of my package",
        body="The courier says delivery failed twice. Could facilities hold it?\nLuca\n",
    ),
    "my message was blocked by the filter": mail(
        "From: Maria Rossi <maria.rossi@example.test>",
        "Subject: Delivery failure",
        body="My message to the auditors was blocked by the content filter, it had a zip.\n",
    ),
    "forwarding a gateway's notice": mail(
        "From: Maria Rossi <maria.rossi@example.test>",
        "Subject: Fwd: =?ISO-8859-1?B?RGVsaXZlcnk=IGZhaWx1cmU=?=",
        body="Why?\n\n---------- Forwarded message ---------\nFrom: MailScan <notify@gw."
        "example.net>\n\n" + GATEWAY_BODY,
    ),
    "passing a notice on without Fwd:": mail(
        "From: Maria Rossi <maria.rossi@example.test>",
        "Subject: cannot write to the client",
        body="---------- Forwarded message ---------\nFrom: MailScan <notify@gw.example.net>"
        "\n\nYour message to k.tanaka@example.net could not be delivered.\n",
    ),
    "pasting a bounce under their own words": mail(
        "From: Maria Rossi <maria.rossi@example.test>",
        "Subject: client address broken?",
        body="Hello,\nI got this back when I wrote to the client\n\nThis is the mail system at "
        "host mx.example.net.\nYour message could not be delivered.\n",
    ),
    "a bounce's subject kept, the bounce pasted under a question": mail(
        "From: Maria Rossi <maria.rossi@example.test>",
        "Subject: Undeliverable: Budget",
        body="Can you tell me why this keeps happening?\n\nThis is the mail system at host "
        "mx.example.net.\nI'm sorry to have to inform you that your message could not be "
        "delivered.\n",
    ),
    "a bounce pasted under a delivery-failure subject": mail(
        "From: Luca Bianchi <luca@example.test>",
        "Subject: Delivery failure of my invoices",
        body="I got this back from the client's server:\n\n-----Original Message-----\n"
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\n\n"
        "Your message could not be delivered to k.tanaka@example.net.\n",
    ),
    "a report sent automatically that stopped": mail(
        "From: Luca Bianchi <luca@example.test>",
        "Subject: Sales report missing",
        body="Hello,\nthis report is sent automatically every Monday, but this week it never "
        "arrived.\n",
    ),
    "sorry to inform you": mail(
        "From: Luca Bianchi <luca@example.test>",
        "Subject: Printer",
        body="I'm sorry to inform you that the printer is broken again.\n",
    ),
    "a client's error in their own sentence": mail(
        "From: Luca Bianchi <luca@example.test>",
        "Subject: Outlook error",
        body="Outlook could not deliver the message to the following recipients: the whole "
        "sales team.\n",
    ),
    "a notice's words, asked about": mail(
        "From: Luca Bianchi <luca@example.test>",
        "Subject: Delivery failure",
        body="Your message could not be delivered - what does this mean?\n",
    ),
    "owner@, no list anywhere": mail(
        "From: owner@bakery.example",
        "Subject: Subscription confirmation for the new POS",
        body="Hi, we never got the subscription confirmation for the till software.\n",
    ),
    "request@, no list anywhere": mail(
        "From: request@example.org",
        "Subject: Access request",
        body="Please give Anna access to the shared drive.\n",
    ),
    "it-admin@ asking about a list": mail(
        "From: IT Admin <it-admin@example.test>",
        "Subject: Please add Bob to the dev mailing list",
        body="Hi, can you add bob@example.test to the dev mailing list? Posts by non-members "
        "are held for the list moderator and nobody approves them.\n",
    ),
    "a list post, the list's headers gone": mail(
        "From: Alice <alice@example.org>",
        "Return-Path: <dev-bounces@lists.example.org>",
        "X-Mailman-Approved-At: Mon, 02 Dec 2024 10:00:00 +0100",
        "Subject: Re: Build broken on main",
        body="I can reproduce it, the printer driver package is missing.\n",
    ),
    "the system administrator with a bounce-like subject": mail(
        "From: System Administrator <sysadmin@example.test>",
        "Subject: Delivery failure of the new toner",
        body="Hello, the toner we ordered last week has not arrived. Can you check the order?\n",
    ),
    "security team about a virus": mail(
        "From: IT Security <security@example.test>",
        "Subject: Virus found on PC-0231",
        body="A virus was found on PC-0231 in room 12. Please reimage it today.\n",
    ),
}


@pytest.mark.parametrize("name", PEOPLE)
def test_people_writing_about_the_same_things_get_a_receipt(name: str) -> None:
    assert reason(PEOPLE[name]) is None


def test_body_checks_read_only_the_first_kilobytes() -> None:
    """A notice's words deep in a long mail do not count, and reading stays fast."""
    filler = "We discussed the budget at length and agreed on the numbers.\n" * 2000
    late = "Your message to k.tanaka@example.net could not be delivered.\n"
    msg = mail("From: smtp04@relay.example.net", "Subject: Notes", body=filler + late)
    assert reason(msg) is None
    assert not machine_notices.notice_opening(msg)


def test_a_members_post_that_google_groups_rewrote_is_not_the_list_server() -> None:
    """DMARC rewriting puts the group in From: that alone is no list server's notice."""
    post = mail(
        "From: \"'Alice' via Dev\" <dev@googlegroups.com>",
        "X-Google-Group-Id: 123456789012",
        "Subject: Build broken on main",
        body="I can reproduce it, the printer driver package is missing.\n",
    )
    assert not list_servers.is_list_server(readable(post))
    assert reason(post) is None


@pytest.mark.parametrize(
    "body",
    [
        "your message " * 50_000,
        "Your message to a.b.c.d.e.f.g" * 20_000,
        ("virus found " * 30 + "\n") * 3000,
        "a." * 500_000,
        "Sender: x\n" * 100_000,
        "**** " * 100_000,
    ],
)
def test_notice_checks_stay_fast_on_hostile_bodies(body: str) -> None:
    for sender in ("smtp@relay.example.net", "dev-admin@lists.example.org", "virus@x.example"):
        msg = mail(f"From: {sender}", "Subject: Delivery failure", body=body)
        start = time.perf_counter()
        reason(msg)
        assert time.perf_counter() - start < 1
