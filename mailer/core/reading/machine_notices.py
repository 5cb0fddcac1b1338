"""Notices whose headers say little: what the body of a notice says, and who signs it.

Some robots write no Auto-Submitted, no report, no daemon sender: a virus-scanning
gateway's delivery-failure notice from ``"InterScan Notification" <admin@...>``, a filter
telling *you* that *your* message was quarantined, an MTA's bounce under the original
subject. Three signals, each weak alone, read here:

- a content-filter gateway as the sender (its product or role in the From name or address);
- the opening lines of the body in a notice's voice ("Your message to x could not be
  delivered", "A virus was found in the message you sent", MTA boilerplate): people write
  about *my* message, robots about *yours*;
- a block of notice fields at the very start of the body (``Recipient:``, ``Reason:``, ...).

Only the first lines count (a person pasting a bounce below their own words asks for help),
a forward or a reply never counts, and every read is bounded to the first few KB.
"""

from __future__ import annotations

import re

from mailer.core.reading import signals as sig
from mailer.model import ParsedMessage

__all__ = [
    "filter_gateway_sender",
    "is_notice",
    "notice_fields",
    "notice_opening",
    "person_opening",
]

_I = re.IGNORECASE
OPENING_LINES = 4  # non-empty lines of the body that make its opening
OPENING_WORDS = 12  # a line this long before the notice's words ends the opening
OPENING_CHARS = 600  # and never more than this many characters of them
FIELDS_WINDOW = 1500

# Content-filter and virus-scanning gateways, by product or by role, in From's name or address.
_GATEWAY = re.compile(
    r"virus|anti-?spam|anti-?malware|\bav[- ]?(?:scan|gw|gateway)|scan-?mail|mail-?scan|"
    r"inter-?scan|amavis|clam-?av|mail-?sweeper|mime-?sweeper|mail-?marshal|quarantin|"
    r"content[- ]?filter|spam[- ]?filter|mail[- ]?filter|mail[- ]?guard|smtp[- ]?gateway|"
    r"mail[- ]?gateway|trend ?micro|mcafee|webshield|groupshield|symantec|brightmail|sophos|"
    r"puremessage|kaspersky|fortimail|barracuda|proofpoint|mimecast|ironport|messagelabs|"
    r"surfcontrol|clearswift|mxlogic|postini|f-secure|bitdefender|spamtitan|\beset\b|\bgfi\b|"
    r"watchguard|avira",
    _I,
)
# The mail system itself by name, whatever its address: "Mail Delivery Subsystem" <admin@...>.
_SYSTEM_NAME = re.compile(
    r"^(?:mail delivery (?:subsystem|system|service|software)|mailer[- ]?daemon|post ?master|"
    r"(?:e-?)?mail (?:system|gateway))$",  # not "System Administrator": people sign so too
    _I,
)
# *Your* message, or the one *you* sent: a person writing about their own says "my".
_MESSAGE = (
    r"(?:your (?:message|mail|e-?mail)s?|(?:the|a|this) (?:message|mail|e-?mail)s? (?:(?:that |"
    r"which )?you (?:have )?sent|(?:sent )?(?:from|by) you))"
)
# Up to 120 characters of one sentence: a dot inside a token (an address, a host) goes on.
_CLAUSE = r"(?:[^.\n]|\.(?=\S)){0,120}?"
_FAILED = (
    r"(?:could ?n[o']t|cannot|can't|was not|wasn'?t|were not|has not|hasn'?t|did not|didn'?t)"
    r"\b[^.\n]{0,20}?\b(?:be )?(?:delivered|reach|forwarded|accepted|sent)"
)
_HELD = (
    r"(?:has been|was|were|is|have been) (?:blocked|quarantined|rejected|held|discarded|deleted|"
    r"refused|returned|stopped|undeliverable)\b"
)
_INFECTED = (
    r"(?:contain(?:s|ed|ing)?|(?:is|was) infected(?: with)?)\b[^.\n]{0,30}?\b(?:virus|"
    r"malware|worm|trojan|infected|banned|prohibited|dangerous|blocked)"
)
# What only mail servers say in the first person.
_MTA_FIRST_PERSON = (
    r"i'?m sorry to (?:have to )?(?:inform|tell) you that (?:your|the) (?:message|mail)|"
    r"i'?m afraid i (?:wasn'?t|was not) able to deliver|i (?:was|am) not able to deliver your"
)
# The opening of a notice: MTA boilerplate, or *your* message undelivered, held or infected.
_VOICE = re.compile(
    r"this is the (?:mail system|qmail-send program|mail delivery (?:system|subsystem|software|"
    r"agent)|(?:e-?mail|mail|smtp) server (?:at|on)|machine[- ]generated message)|"
    r"this is the [\w .-]{1,40}? (?:program|gateway|agent|system|daemon) at host|"
    r"this is an? automat(?:ic|ically generated|ed) (?:message|notification|notice)|"
    r"this (?:message|mail|e-?mail|notice|notification) (?:was|has been|is) (?:created|"
    r"generated|sent) automatically|-{3,} ?(?:transcript of session|the following addresses "
    rf"had)|the original message was received at|{_MTA_FIRST_PERSON}|"
    r"delivery (?:to the following recipients? )?has failed|"
    r"the following (?:message|mail) (?:to|for|addressed to) <?[^\s@<>]+@[^\s<>]+>?,? "
    r"(?:was|is|could not be|has been) (?:undeliverable|not delivered|blocked|rejected|"
    r"quarantined|returned)|(?:could not|unable to|failed to) deliver (?:your )?(?:message|mail)s?"
    r" to the following|(?:unable|not able) to deliver your (?:message|mail)|"
    rf"{_MESSAGE}\b{_CLAUSE}\b(?:{_FAILED}|{_HELD}|{_INFECTED})|"
    rf"\b(?:virus|malware|threat)\w* (?:was |were |has been |have been )?(?:found|detected)\b"
    rf"{_CLAUSE}\b{_MESSAGE}",
    _I,
)
_MTA_VOICE = re.compile(_MTA_FIRST_PERSON, _I)
# A forward or quote marker: what follows is someone else's mail, passed on by a person.
_PASSED_ON = re.compile(
    r"^\s*(?:>|-+ ?(?:original message|forwarded message|messaggio originale|messaggio "
    r"inoltrato|message d'origine|message transf[ée]r[ée]|urspr[üu]ngliche nachricht|"
    r"weitergeleitete nachricht|mensaje original|mensaje reenviado)|_{5,}\s*$|"
    r"begin forwarded message|inizio messaggio inoltrato)|"
    r"\b(?:wrote|ha scritto|schrieb|a [ée]crit|escribi[óo]):\s*$",
    _I,
)
# A line of a person's own: "I", "my", "me", or a question (notices say "we" and "our").
_PERSON = re.compile(r"\bI(?:'m|'ve|'d)?\b|\b(?:[Mm]y|[Mm]e)\b")  # "i" is Italian too
_FIELD = re.compile(
    r"^[ \t]*(?:original[ -])?(sender|recipients?|from|to|subject|date|reason|error|status|action"
    r"|virus(?: name)?|threat|file ?name|attachment|policy|rule|quarantine(?: id)?|"
    r"remote (?:server|host|mta)|smtp (?:error|response|reply))[ \t]*:[ \t]*\S",
    _I,
)
# Fields of a notice rather than of a forwarded header block (From/To/Sent/Subject).
_TELLING_FIELDS = frozenset({
    "sender", "recipient", "recipients", "reason", "error", "status", "action", "virus",
    "virus name", "threat", "policy", "rule", "quarantine", "quarantine id", "smtp error",
    "smtp response", "smtp reply", "remote server", "remote host", "remote mta",
})  # fmt: skip


def _lines(msg: ParsedMessage) -> list[str]:
    """The first non-empty lines of the body, bounded in number and length."""
    out: list[str] = []
    for line in msg.text[: OPENING_CHARS * 4].splitlines():
        if line.strip():
            out.append(line.strip()[:OPENING_CHARS])
            if len(out) == OPENING_LINES:
                break
    return out


def filter_gateway_sender(msg: ParsedMessage) -> bool:
    """From names a content-filter or virus-scanning gateway (by its name or its address),
    or the mail system itself by its display name."""
    return any(
        _GATEWAY.search(f"{a.name} {a.local}") or _SYSTEM_NAME.match(a.name.strip(" '\""))
        for a in msg.from_
    )


def _opening(msg: ParsedMessage) -> str | None:
    """Who speaks first in the body: "notice", "person", "prose" (a long sentence), or None.

    Line by line (a wrapped sentence is joined): a forward or quote marker, a question, or a
    line in the first person (other than a mail server's stock "I'm sorry to have to inform
    you") says "person"; the notice's voice found so far says "notice"; a long sentence in
    neither voice ends the opening.
    """
    seen = ""
    for line in _lines(msg):
        if _PASSED_ON.search(line) or line.endswith("?"):
            return "person"
        if _PERSON.search(line) and not _MTA_VOICE.search(line):
            return "person"
        seen = f"{seen} {line}"
        if _VOICE.search(seen) is not None:
            return "notice"
        if len(line.split()) >= OPENING_WORDS:
            return "prose"
    return None


def notice_opening(msg: ParsedMessage) -> bool:
    """The body opens in a notice's voice, before a person speaks or passes anything on."""
    return _opening(msg) == "notice"


def person_opening(msg: ParsedMessage) -> bool:
    """The body opens with a person's own words, or with what they pass on: notice wording
    further down is theirs to ask about."""
    return _opening(msg) == "person"


def notice_fields(msg: ParsedMessage) -> bool:
    """The body starts with a block of notice fields, one of which tells what went wrong."""
    names: set[str] = set()
    for number, line in enumerate(msg.text[:FIELDS_WINDOW].lstrip().splitlines()):
        field = _FIELD.match(line)
        if field is None:
            if number == 0:
                return False
            if line.strip():
                break
            continue
        names.add(field.group(1).lower())
    return len(names) >= 3 and bool(names & _TELLING_FIELDS)


def is_notice(msg: ParsedMessage) -> bool:
    """A delivery or filter notice the headers do not give away.

    Any of: a filter gateway sender with a bounce subject or notice wording; a bounce
    subject over a block of notice fields; a body that opens in a notice's voice.
    """
    if sig.FORWARD.match(msg.subject):  # a person passing a notice on asks for help
        return False
    body = msg.text[: sig.BODY_WINDOW]
    subject = sig.BOUNCE_SUBJECT.match(msg.subject) is not None
    if filter_gateway_sender(msg) and (
        subject
        or sig.BOUNCE_MACHINE_TEXT.search(body) is not None
        or sig.BOUNCE_TEXT.search(body) is not None
        or _VOICE.search(body) is not None
    ):
        return True
    if sig.REPLY.match(msg.subject):
        return False
    return (subject and notice_fields(msg)) or notice_opening(msg)
