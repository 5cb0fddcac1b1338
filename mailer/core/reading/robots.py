"""Did a person write this? The checks that keep us from answering robots (RFC 3834 §2).

Pure: a ParsedMessage and the service's own addresses in, a reason code (a Robot) out. The
checks are an ordered table (standards.md A1, then C), read top to bottom; the first hit
wins, so the reason names the most specific signal. Subject and body phrases live in
signals.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from mailer.core.reading import list_servers, machine_notices
from mailer.core.reading import signals as sig
from mailer.core.reading.encoded_words import readable
from mailer.core.reading.parse import is_valid_addr, message_ids
from mailer.model import LOOP_HEADER, ParsedMessage, Robot

__all__ = [
    "BOUNCE_REASONS",
    "CHECKS",
    "DEFAULT_NO_REPLY",
    "Inbound",
    "bounce_message_ids",
    "is_own_mail",
    "robot_reason",
]

# Robots that return a message: the Message-ID inside them may be one of ours.
BOUNCE_REASONS = frozenset({"dsn", "bounce", "report"})
DEFAULT_NO_REPLY = (
    r"^(postmaster|mailer-daemon|abuse|root|noreply|no-reply.*|donotreply|do-not-reply)@",
)
_COMMENT = re.compile(r"\([^()]*\)")
_LIST_HEADERS = (
    "list-id", "list-help", "list-subscribe", "list-unsubscribe", "list-post", "list-owner",
    "list-archive", "mailing-list", "x-mailing-list", "x-beenthere",
)  # fmt: skip
_AUTO_NAME = re.compile(
    r"auto[-_]?(response|submitted|replied|reply|generated|respond)|holidayreply|machinegenerated",
    re.IGNORECASE,
)
_NEGATIVE = frozenset({"", "no", "false", "0", "none"})
_AFFIRMATIVE = frozenset({"yes", "true", "1"})


def _token(value: str) -> str:
    """A header's keyword: comments and ``;params`` dropped, lower-cased."""
    return _COMMENT.sub(" ", value).partition(";")[0].strip().lower()


def _addrs_in(value: str) -> list[str]:
    """The address-like tokens of a free-form header value."""
    return re.findall(r"[^\s<>,;()\"']+@[^\s<>,;()\"']+", value)


def _base_addr(addr: str) -> str:
    """Lower-cased address without +detail: our reply tokens live in the detail."""
    local, _, domain = addr.lower().rpartition("@")
    return f"{local.partition('+')[0]}@{domain}"


def _local(addr: str) -> str:
    return addr.rpartition("@")[0] if "@" in addr else addr


@dataclass(frozen=True)
class Inbound:
    """A message and the service identity the checks compare it with."""

    msg: ParsedMessage
    own_addresses: frozenset[str]
    own_domain: str
    loop_header: str
    no_reply: tuple[re.Pattern[str], ...]
    require_addressed: bool

    @property
    def envelope(self) -> str | None:
        """Return-Path, else the single From address (mail copied in by a client)."""
        if self.msg.return_path is not None:
            return self.msg.return_path
        sender = self.msg.sender
        return sender.addr if sender else None

    def senders(self) -> list[str]:
        found = [a.addr for a in self.msg.from_]
        if self.msg.return_path:
            found.append(self.msg.return_path)
        return found

    def values(self, *names: str) -> list[str]:
        return [v for name in names for v in self.msg.header_all(name)]

    def is_own(self, addr: str) -> bool:
        return _base_addr(addr) in {_base_addr(a) for a in self.own_addresses}


def is_own_mail(msg: ParsedMessage, own_domain: str, loop_header: str = LOOP_HEADER) -> bool:
    """Our own mail came back: our loop header, or a Message-ID in the format we generate."""
    if msg.header(loop_header) is not None:
        return True
    domain = re.escape(own_domain.lower())
    ours = re.compile(rf"<[0-9a-f]{{32}}\.[A-Za-z0-9-]+@{domain}>", re.IGNORECASE)
    return msg.message_id is not None and ours.fullmatch(msg.message_id) is not None


def _own_mail(m: Inbound) -> bool:
    return is_own_mail(m.msg, m.own_domain, m.loop_header)


def _own_address(m: Inbound) -> bool:
    return any(m.is_own(addr) for addr in m.senders())


def _auto_submitted(m: Inbound) -> bool:
    return any(_token(v) != "no" for v in m.values("auto-submitted"))


def _null_sender(m: Inbound) -> bool:
    return m.msg.return_path == ""


def _system_sender(m: Inbound) -> bool:
    return any(sig.SYSTEM_LOCAL.search(_local(addr)) for addr in m.senders())


def _no_valid_sender(m: Inbound) -> bool:
    envelope = m.envelope
    return m.msg.sender is None or envelope is None or not is_valid_addr(envelope)


def _no_reply_sender(m: Inbound) -> bool:
    return any(p.search(addr.lower()) for addr in m.senders() for p in m.no_reply)


def _list(m: Inbound) -> bool:
    return any(m.msg.header(name) is not None for name in _LIST_HEADERS)


def _precedence(m: Inbound) -> bool:
    return any(_token(v) in sig.PRECEDENCE for v in m.values("precedence"))


def _suppress_tokens(m: Inbound) -> set[str]:
    return {
        t.strip(" \t").lower() for v in m.values("x-auto-response-suppress") for t in v.split(",")
    }


def _suppress(m: Inbound) -> bool:
    return bool(_suppress_tokens(m) & {"all", "autoreply", "oof"})


def _loop_header(m: Inbound) -> bool:
    """X-Loop only when it says yes (A1.10) or names us: procmail and list servers put
    their own address there, also on a person's mail they merely pass on."""
    for value in m.values("x-loop"):
        if _token(value) in _AFFIRMATIVE or any(m.is_own(a) for a in _addrs_in(value)):
            return True
    if any(_token(v) not in _NEGATIVE for v in m.values("x-otrs-loop")):
        return True
    return m.msg.header("x-rt-loop-prevention") is not None or any(
        _token(v) == "no" for v in m.values("x-ack")
    )


def _auto_header(m: Inbound) -> bool:
    if any(_token(v) == "vacation" for v in m.values("x-apple-action")):
        return True
    return any(
        _AUTO_NAME.search(name) and _token(value) not in _NEGATIVE
        for name, value in m.msg.headers
        # Auto-Submitted and X-Auto-Response-Suppress have rules of their own; a *-Suppress
        # header asks others not to auto-reply, it says nothing about who wrote the mail.
        if name != "auto-submitted" and not name.endswith("suppress")
    )


def _spam(m: Inbound) -> bool:
    return (
        any(_token(v) == "yes" for v in m.values("x-spam-flag"))
        or any(v.strip().lower().startswith("yes") for v in m.values("x-spam-status"))
        or any(_token(v) == "fail" for v in m.values("x-ses-spam-verdict"))
    )


def _report(kind: Robot) -> Callable[[Inbound], bool]:
    def check(m: Inbound) -> bool:
        report = m.msg.report
        if report is None:
            return kind is Robot.REPORT and m.msg.content_type.startswith("message/")
        return sig.REPORT_KINDS.get(report.report_type, Robot.REPORT) is kind

    return check


def _bounce(m: Inbound) -> bool:
    person = machine_notices.person_opening(m.msg)
    return sig.is_bounce(m.msg, system_sender=_system_sender(m), person=person)


def _notice(m: Inbound) -> bool:
    return machine_notices.is_notice(m.msg)


def _list_server(m: Inbound) -> bool:
    return list_servers.is_list_server(m.msg)


def _challenge(m: Inbound) -> bool:
    return sig.is_challenge(m.msg)


def _out_of_office(m: Inbound) -> bool:
    return sig.is_out_of_office(m.msg, weak_header=bool(_suppress_tokens(m) - {"none", ""}))


def _calendar(m: Inbound) -> bool:
    return m.msg.has_calendar or bool(sig.CALENDAR_SUBJECT.match(m.msg.subject))


def _recall(m: Inbound) -> bool:
    return sig.is_recall(m.msg)


def _read_receipt(m: Inbound) -> bool:
    return sig.is_read_receipt(m.msg)


def _arf_like(m: Inbound) -> bool:
    return sig.is_complaint(m.msg)


def _not_addressed(m: Inbound) -> bool:
    return m.require_addressed and not any(m.is_own(a.addr) for a in m.msg.recipients)


Check = Callable[[Inbound], bool]
# Every check below is a "no receipt"; the order only decides which reason is logged, so the
# most specific come first: our own mail (log "looped back"), then what a report or bounce
# says (the caller ties those to threads), then standards A1 in its order, then C.
CHECKS: tuple[tuple[Robot, Check], ...] = (
    (Robot.OWN_MAIL_LOOPED, _own_mail),  # A1.11
    (Robot.OWN_ADDRESS, _own_address),  # A1.12
    (Robot.DSN, _report(Robot.DSN)),  # C78-80
    (Robot.MDN, _report(Robot.MDN)),  # C83
    (Robot.ARF, _report(Robot.ARF)),  # C84
    (Robot.REPORT, _report(Robot.REPORT)),  # any other multipart/report or bare message/* body
    (Robot.ARF, _arf_like),  # C84: complaint mails that are not multipart/report
    (Robot.BOUNCE, _bounce),  # C85
    (Robot.AUTO_SUBMITTED, _auto_submitted),  # A1.1-2
    (Robot.NULL_SENDER, _null_sender),  # A1.3
    (Robot.SYSTEM_SENDER, _system_sender),  # A1.5
    (Robot.NO_VALID_SENDER, _no_valid_sender),  # A1.4 (From fallback), rule 123
    (Robot.NO_REPLY_SENDER, _no_reply_sender),  # A1.6
    (Robot.LIST, _list),  # A1.7
    (Robot.LIST_SERVER, _list_server),  # A1.7: the list software's own mail
    (Robot.BOUNCE, _notice),  # C85: a notice that only its sender or body gives away
    (Robot.PRECEDENCE, _precedence),  # A1.8
    (Robot.X_AUTO_RESPONSE_SUPPRESS, _suppress),  # A1.9
    (Robot.LOOP_HEADER, _loop_header),  # A1.10
    (Robot.AUTO_HEADER, _auto_header),  # A1.10
    (Robot.SPAM, _spam),  # A1.14
    (Robot.OUT_OF_OFFICE, _out_of_office),  # C86-87
    (Robot.CHALLENGE_RESPONSE, _challenge),
    (Robot.CALENDAR, _calendar),
    (Robot.RECALL, _recall),
    (Robot.READ_RECEIPT, _read_receipt),
    (Robot.NOT_ADDRESSED, _not_addressed),  # A1.13, last: it still means "ingest"
)


def robot_reason(
    msg: ParsedMessage,
    *,
    own_addresses: frozenset[str],
    own_domain: str,
    loop_header: str = LOOP_HEADER,
    no_reply_patterns: tuple[str, ...] = DEFAULT_NO_REPLY,
    require_addressed: bool = False,
) -> Robot | None:
    """None when a person wrote ``msg`` (a receipt may go out), else the first reason code.

    The checks read the message with encoded-words decoded leniently (encoded_words).
    """
    inbound = Inbound(
        msg=readable(msg),
        own_addresses=frozenset(a.lower() for a in own_addresses),
        own_domain=own_domain.lower(),
        loop_header=loop_header,
        no_reply=tuple(_compile(p) for p in no_reply_patterns),
        require_addressed=require_addressed,
    )
    for reason, check in CHECKS:
        if check(inbound):
            return reason
    return None


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error:  # config validation reports it; here a bad pattern matches nothing
        return re.compile(r"(?!)")


def bounce_message_ids(msg: ParsedMessage) -> tuple[str, ...]:
    """Message-IDs of the mail a bounce returns, so a bounce of our mail finds its thread.

    From the report, else from attached/returned messages, else ``Message-ID:`` lines in a
    non-standard bounce body, else the bounce's own In-Reply-To (some MTAs set it).
    """
    if msg.report and msg.report.original_message_ids:
        return msg.report.original_message_ids
    if msg.embedded_message_ids:
        return msg.embedded_message_ids
    found = tuple(
        dict.fromkeys(i for line in sig.TEXT_MSGID.findall(msg.text) for i in message_ids(line))
    )
    return found or msg.in_reply_to
