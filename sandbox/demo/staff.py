"""``mailer demo``, second half: staff answer by keyword, requesters are told every step."""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage

from sandbox.demo.requests import DOMAIN, inbox, reply, send
from sandbox.servers import MailSandbox

TIMEOUT = 20


def staff_at_work(sandbox: MailSandbox, say: Callable[[str], None]) -> None:
    """Sam (staff) takes Alice's VPN request, resolves it, Alice rates it; a typo gets a
    result mail; Roberto's request moves on in Italian; Bob's forged keyword does nothing."""
    it_note = _notification(sandbox, "it-team")
    say("Staff: Sam replies '#take #in-progress' to the IT team's notification")
    _staff(sandbox, it_note, "#take #in-progress\nI am resetting your VPN token now.\n\nSam")
    sandbox.wait_for_messages("alice", 2, timeout=TIMEOUT)
    say("Staff: Sam replies '#resolved' with a note for Alice")
    _staff(
        sandbox,
        it_note,
        "#resolved\nYour VPN token was reset: log in again with the code the app shows.\n\nSam",
    )
    sandbox.wait_for_messages("alice", 3, timeout=TIMEOUT)
    resolved = inbox(sandbox, "alice")[-1]
    say("Alice rates the answer: '5/5, thanks!' (stored, thanked once, nothing reopened)")
    send(sandbox, reply(resolved, "alice", "5/5, thanks!\nAlice"), f"alice@{DOMAIN}")
    sandbox.wait_for_messages("alice", 4, timeout=TIMEOUT)

    hr_note = _notification(sandbox, "hr-team")
    say("Staff: a typo, '#in-corsa', gets a result mail; nothing changes")
    _staff(sandbox, hr_note, "#in-corsa\nTi mando il modulo oggi.")
    sandbox.wait_for_messages("staff", 1, timeout=TIMEOUT)
    say("Staff: '#in-corso' with a note in Italian; Roberto is told in Italian")
    _staff(sandbox, hr_note, "#in-corso\nTi mando il modulo per le ferie entro oggi.\n\nSam")
    sandbox.wait_for_messages("bob", 2, timeout=TIMEOUT)

    fm_note = _notification(sandbox, "facilities")
    say("Bob, who is not staff, replies '#resolved' to Carla's request: ignored, team told")
    send(sandbox, reply(fm_note, "bob", "#resolved"), f"bob@{DOMAIN}")
    sandbox.wait_for_messages("facilities", 2, timeout=TIMEOUT)


def _notification(sandbox: MailSandbox, team: str) -> EmailMessage:
    sandbox.wait_for_messages(team, 1, timeout=TIMEOUT)
    return inbox(sandbox, team)[0]


def _staff(sandbox: MailSandbox, parent: EmailMessage, body: str) -> None:
    send(sandbox, reply(parent, "staff", body), f"staff@{DOMAIN}")
