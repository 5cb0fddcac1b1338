"""Property: a plain human request is never suppressed, whatever ordinary client wrote it.

Draws (seeded, so a failure is reproducible) combine the headers and body layouts of the
common clients (Outlook desktop, Mac and mobile, Gmail web and Android, Apple Mail, iPhone,
Thunderbird, K-9) with requests about the very things robots talk about (bounces, delivery
failures, mailing lists, viruses, quarantine), from addresses like owner@, request@ or
it-admin@, with encoded subjects and names. None may lose its receipt.
"""

from __future__ import annotations

import base64
import quopri
import random

import pytest

from mailer.core.reading.parse import parse_message
from mailer.core.reading.robots import robot_reason

OWN = frozenset({"helpdesk@example.test"})
DRAWS = 1500

CLIENTS: dict[str, list[str]] = {
    "outlook": [
        "X-Mailer: Microsoft Outlook 16.0",
        "Thread-Topic: {subject_plain}",
        "Thread-Index: AdoVt0cKx2a7Qw1ZT5m0p3Jv8yX2Tg==",
        "Accept-Language: en-US, it-IT",
        "Content-Language: en-US",
        "X-MS-Has-Attach:",
        "X-MS-TNEF-Correlator:",
        "X-Originating-IP: [10.20.30.40]",
    ],
    "outlook-mac": ["User-Agent: Microsoft-MacOutlook/16.80.23121017", "Thread-Topic: x"],
    "outlook-mobile": ["X-Mailer: Outlook for iOS and Android", "Content-Language: it-IT"],
    "gmail": [
        "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=gmail.com; s=20230601;"
        " h=to:subject:message-id:date:from:mime-version; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NM"
        "pJWZG3hSuFU=; b=Xk3fA1b2C3d4",
        "X-Google-DKIM-Signature: v=1; a=rsa-sha256; d=1e100.net; s=20230601; b=AbCdEf",
        "X-Gm-Message-State: AOJu0YyQ1w2e3r4t5y6u7i8o9p0",
        "X-Google-Smtp-Source: AGHT+IF1a2b3c4d5e6f7g8h9",
        "X-Received: by 2002:a05:6402:1234:b0:55f:1234 with SMTP id x1; Mon, 2 Dec 2024",
    ],
    "gmail-android": ["X-Gm-Message-State: AOJu0YwZ", "X-Google-Smtp-Source: AGHT+IG"],
    "apple-mail": [
        "X-Mailer: Apple Mail (2.3774.300.61.1.2)",
        "Mime-Version: 1.0 (Mac OS X Mail 16.0 \\(3774.300.61.1.2\\))",
    ],
    "iphone": ["X-Mailer: iPhone Mail (21C66)", "Mime-Version: 1.0 (1.0)"],
    "thunderbird": ["User-Agent: Mozilla Thunderbird", "Content-Language: en-US"],
    "k9": ["User-Agent: K-9 Mail for Android"],
}
SIGN_OFFS = {
    "outlook": "\n\nMaria Rossi\nFinance | Example S.p.A.\n",
    "outlook-mobile": "\n\nGet Outlook for iOS\n",
    "iphone": "\n\nSent from my iPhone\n",
    "gmail-android": "\n\nSent from my Android phone\n",
    "k9": "\n-- \nSent from my Android device with K-9 Mail.\n",
}
SUBJECTS = [
    "My mail bounced",
    "Mail to the supplier bounced back",
    "Delivery failure of my package",
    "Undelivered parcel at reception",
    "Please add Bob to the dev mailing list",
    "Mailing list for the new team",
    "Virus warning on my laptop",
    "Quarantine folder full",
    "Owner change for the shared drive",
    "Request: a second monitor",
    "Admin rights for Visual Studio",
    "Stampante guasta al secondo piano",
    "Übergabe Laptop für Frau Müller",
    "Café machine broken ☕",
    "会議室のプロジェクター",
]
BODIES = [
    "Hi,\nmy mail to the supplier bounced back this morning with 'user unknown'.\n"
    "Can you check?\nThanks",
    "Hello, the printer on floor 2 is jammed again.",
    "Ciao, la stampante non funziona da stamattina. Grazie",
    "Could you add Bob to the dev mailing list? Posts by non-members are held for the "
    "moderator and he is not a member yet.",
    "My laptop shows a virus warning since yesterday, the file was quarantined.\nIs it safe?",
    "Our parcel delivery failed twice, can reception hold it tomorrow?",
    "Please reset my password, I am locked out.",
    "I forwarded the bounce below, what does it mean?\n\n-----Original Message-----\n"
    "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\nSubject: Undeliverable\n\n"
    "Your message could not be delivered to k.tanaka@example.net.",
    "Good morning,\nthe message I sent to the auditors was blocked by the content filter.\n"
    "Can you whitelist them?",
    "Dear IT,\nyour message about the VPN update reached me, but the VPN still drops.\n",
    "Buongiorno,\nnon riesco ad accedere alla cartella condivisa.\nCordiali saluti",
]
ADDRESSES = [
    "maria.rossi@example.test",
    "owner@bakery.example",
    "request@example.org",
    "admin@example.org",
    "it-admin@example.test",
    "web-admin@example.test",
    "team-owner@example.test",
    "help@example.org",
    "luca.bianchi+it@example.test",
]
NAMES = ["Maria Rossi", '"Rossi, Maria"', "=?utf-8?Q?Jos=C3=A9_Garc=C3=ADa?=", "IT Admin", ""]


def _subject_header(subject: str, style: int) -> str:
    if style == 0 and subject.isascii():
        return subject
    data = subject.encode("utf-8")
    if style == 1:
        return "=?UTF-8?B?" + base64.b64encode(data).decode("ascii") + "?="
    safe = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    encoded = "".join(chr(b) if b in safe else "_" if b == 32 else f"={b:02X}" for b in data)
    return f"=?utf-8?Q?{encoded}?="


def _body(text: str, client: str, layout: int) -> tuple[list[str], str]:
    """Content headers and the body, in one of the layouts clients use."""
    if layout == 0:
        return ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"], text
    if layout == 1:
        encoded = quopri.encodestring(text.encode("utf-8")).decode("ascii")
        headers = ["Content-Type: text/plain; charset=UTF-8; format=flowed"]
        return [*headers, "Content-Transfer-Encoding: quoted-printable"], encoded
    html = "".join(f'<p class="MsoNormal">{line}</p>' for line in text.split("\n"))
    if client.startswith("gmail"):
        html = f'<div dir="ltr">{text.replace(chr(10), "<br>")}</div>'
    b64 = base64.encodebytes(html.encode("utf-8")).decode("ascii")
    body = (
        "--b1\nContent-Type: text/plain; charset=utf-8\n\n" + text + "\n"
        "--b1\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
        + b64
        + "--b1--\n"
    )
    return ['Content-Type: multipart/alternative; boundary="b1"'], body


def draw(rng: random.Random, number: int) -> bytes:
    client = rng.choice(sorted(CLIENTS))
    subject = rng.choice(SUBJECTS)
    address, name = rng.choice(ADDRESSES), rng.choice(NAMES)
    text = rng.choice(BODIES) + SIGN_OFFS.get(client, "")
    content, body = _body(text, client, rng.randrange(3))
    client_headers = [h.format(subject_plain=subject) for h in CLIENTS[client]]
    headers = [
        f"Return-Path: <{address}>",
        f"From: {name} <{address}>" if name else f"From: {address}",
        "To: Help desk <helpdesk@example.test>",
        f"Subject: {_subject_header(subject, rng.randrange(3))}",
        f"Date: Mon, 2 Dec 2024 09:{number % 60:02d}:00 +0100",
        f"Message-ID: <{number}.{client}@mail.example.test>",
        "MIME-Version: 1.0",
        *client_headers,
        *content,
    ]
    rng.shuffle(headers)
    return ("\r\n".join(headers) + "\r\n\r\n" + body.replace("\n", "\r\n")).encode("utf-8")


@pytest.mark.parametrize("seed", range(3))
def test_a_plain_human_request_from_any_ordinary_client_is_never_suppressed(seed: int) -> None:
    rng = random.Random(seed)
    for number in range(DRAWS // 3):
        raw = draw(rng, number)
        msg = parse_message(raw, max_size=1 << 20)
        got = robot_reason(
            msg, own_addresses=OWN, own_domain="example.test", require_addressed=True
        )
        assert got is None, (got, raw.decode("utf-8", "replace")[:1500])


def test_every_client_subject_body_and_address_is_drawn() -> None:
    """The draws cover the pools, so the property says something about each of them."""
    seen: set[str] = set()
    rng = random.Random(0)
    for number in range(DRAWS // 3):
        raw = draw(rng, number).decode("utf-8")
        seen.update(c for c in CLIENTS if any(h.split(":")[1] in raw for h in CLIENTS[c]))
        seen.update(a for a in ADDRESSES if f"<{a}>" in raw)
    assert set(CLIENTS) <= seen
    assert set(ADDRESSES) <= seen
