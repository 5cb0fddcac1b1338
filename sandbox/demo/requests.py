"""Sample mail for ``mailer demo``: people writing to the help desk, and reading its answers."""

from __future__ import annotations

import email
import email.policy
import email.utils
import textwrap
from email.message import EmailMessage

from sandbox.servers import MailSandbox

DOMAIN = "example.test"
PEOPLE = {
    "alice": "Alice Johnson",
    "bob": "Roberto Bianchi",
    "carol": "Carla Verdi",
    "staff": "Sam Rivera",
}


def mail(
    user: str,
    subject: str,
    body: str,
    *,
    headers: dict[str, str] | None = None,
    charset: str = "utf-8",
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"{PEOPLE.get(user, user)} <{user}@{DOMAIN}>"
    msg["To"] = f"IT Help Desk <helpdesk@{DOMAIN}>"
    msg["Subject"] = subject
    msg["Date"] = email.utils.formatdate(localtime=True)
    msg["Message-ID"] = email.utils.make_msgid(domain=DOMAIN)
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body, charset=charset)
    return msg


def send(sandbox: MailSandbox, msg: EmailMessage, sender: str) -> None:
    sandbox.send(msg.as_bytes(), mail_from=sender, rcpt_to=[f"helpdesk@{DOMAIN}"])
    print(f"  -> {msg['From']}: {msg['Subject']}")


def show(sandbox: MailSandbox, user: str) -> None:
    for raw in sandbox.messages(user):
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        body = msg.get_body(preferencelist=("plain",))
        text = str(body.get_content()) if body is not None else ""
        print(f"\n  [{user}'s inbox] From: {msg['From']}")
        print(f"  Subject: {msg['Subject']}")
        print(f"  In-Reply-To: {msg['In-Reply-To']}   Auto-Submitted: {msg['Auto-Submitted']}")
        print(textwrap.indent(text.strip(), "  | "))


def inbox(sandbox: MailSandbox, user: str) -> list[EmailMessage]:
    out = []
    for raw in sandbox.messages(user):
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        out.append(msg)
    return out


def reply(parent: EmailMessage, user: str, body: str) -> EmailMessage:
    """``user`` answers ``parent`` as a mail client does: Re:, In-Reply-To, References."""
    refs = f"{parent.get('References', '')} {parent['Message-ID']}".strip()
    subject = str(parent["Subject"])
    subject = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    quoted = textwrap.indent(_text(parent), "> ")
    return mail(
        user,
        subject,
        f"{body}\n\nOn {parent['Date']}, {parent['From']} wrote:\n{quoted}",
        headers={"In-Reply-To": str(parent["Message-ID"]), "References": refs},
    )


def _text(msg: EmailMessage) -> str:
    body = msg.get_body(preferencelist=("plain",))
    return str(body.get_content()).strip() if body is not None else ""
