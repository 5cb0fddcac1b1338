"""The words robots write: bounce, out-of-office, recall, read-receipt and meeting-response
subjects and body phrases, in the languages our users' mail servers speak.

Kept apart from robots.py so the check table stays readable and these lists can grow.
Subject phrases alone are weak (people write "Out of office not working"), so most
detectors below want two signals that agree.
"""

from __future__ import annotations

import re

from mailer.model import ParsedMessage, Robot

_I = re.IGNORECASE
_IM = re.IGNORECASE | re.MULTILINE
BODY_WINDOW = 4000  # characters of body the phrase checks read; robots say it early

SYSTEM_LOCAL = re.compile(r"^(?:mailer-daemon|listserv|majordomo)$|-request|^owner-", _I)
PRECEDENCE = frozenset({"bulk", "list", "junk", "auto_reply", "auto-reply"})
REPORT_KINDS = {  # multipart/report's report-type; any other is Robot.REPORT
    "delivery-status": Robot.DSN,
    "global-delivery-status": Robot.DSN,
    "disposition-notification": Robot.MDN,
    "global-disposition-notification": Robot.MDN,
    "feedback-report": Robot.ARF,
}
TEXT_MSGID = re.compile(r"^[ \t>]*(?:original-)?message-id:[ \t]*(<[^<>\s]+>)", _IM)

# C85: the subjects MTAs put on bounces, at the start (after an optional [tag]).
BOUNCE_SUBJECT = re.compile(
    r"^(?:\[[^\]]*\]\s*)?(?:(?:[^\s:]+\.[^\s:]+|e-?mail)\s+)?"  # "[Postmaster] host.example "
    r"(?:undeliverable|undelivered mail|non[- ]?delivery|"
    r"mail delivery (?:failed|failure|problem|warning|status)|delivery (?:status notification|"
    r"failure|failed|report|notification|problem|has failed)|failed (?:mail|delivery)|"
    r"failure (?:notice|delivery)|delivery status|returned mail|returned message|"
    r"mail (?:system )?error|mail (?:could not|not) (?:be )?delivered|"
    r"message (?:delivery has failed|not delivered|delayed|undeliverable|status - undeliverable)|"
    r"postmaster notify|"
    r"warning: (?:could not send|message)|delayed mail|could not send message|"
    r"permanent delivery failure|mail failure|sorry, your message could not|"
    r"non recapitabile|non remis|unzustellbar|nicht zustellbar|"
    r"недоставленное сообщение|ваше сообщение не доставлено|メールエラー)",
    _I,
)
# What mail servers write in bounces and people do not: MTA boilerplate, DSN fields, and
# "*your* message could not be delivered" (a person asking for help says "my message").
BOUNCE_MACHINE_TEXT = re.compile(
    r"this is the mail system at host|mail delivery (?:software|subsystem)|"
    r"this (?:message|mail|e-?mail) was (?:created|generated) automatically|"
    r"automatically generated (?:delivery|message|notification)|"
    r"i'?m sorry to (?:have to )?inform you|qmail-send program|transcript of session follows|"
    r"the original message was received at|diagnostic-code:|final-recipient:|remote-mta:|"
    r"delivery to the following recipients? (?:failed|has failed|was unsuccessful)|"
    r"delivery has failed to these recipients|failed permanently|"
    r"your (?:message|mail|e-?mail)\b[^.]{0,120}?\b(?:could ?n[o']t|cannot|can't|was not|"
    r"wasn'?t|did not|didn'?t|has not|hasn'?t|were not)\b.{0,20}?(?:be )?(?:delivered|reach)|"
    r"n'a pas pu [eê]tre (?:d[ée]livr[ée]|remis)|non [èe]'? stato (?:possibile )?recapitat|"
    r"could not deliver (?:the )?message to the following|failed recipients?:|"
    r"remote host said|the header and top \d+ lines|-{2,} ?(?:returned mail|original message)|"
    r"^received: from \S+.{0,200}?\bby\b",  # the returned message's header, inline
    _I | re.DOTALL | re.MULTILINE,
)
# Error wording a person may well paste into a request: a signal only with a daemon sender.
BOUNCE_TEXT = re.compile(
    r"could not be delivered|(?:was|were|been) not delivered|undeliverable|undelivered|"
    r"permanent (?:error|fatal error|failure)|(?:user|recipient|address|mailbox) unknown|"
    r"unknown (?:user|recipient|mailbox)|no such (?:user|mailbox|address)|"
    r"mailbox (?:is )?(?:unavailable|full|not found)|recipient address rejected|"
    r"returned to (?:the )?sender|(?:couldn'?t|can(?:not|'t)) be delivered|"
    r"not a valid (?:user|recipient|address)|there is no user|delivery status notification|"
    r"non[- ]?delivery|message (?:could not|cannot) be|"
    r"\b[45]\d\d[ -][45]\.\d{1,3}\.\d{1,3}\b|\b55[0-4]\b.{0,80}(?:user|mailbox|recipient)",
    _I | re.DOTALL,
)
# A gateway that annotates the original subject: "RE: Your order : non remis (delivery failed)".
_BOUNCE_SUFFIX = re.compile(
    r"[:(\[-]\s*(?:non remis|non recapitabile|unzustellbar|undeliverable|undelivered|"
    r"delivery (?:failed|failure)|returned mail)\s*[)\]]?\s*$",
    _I,
)
_BOUNCE_HEADERS = ("x-failed-recipients", "x-ms-exchange-message-is-ndr")
_BOUNCE_SENDER = re.compile(r"^(?:mailer-daemon|post[_.-]?master|mail-?daemon|mdaemon)(?:@|$)", _I)
# A person forwarding (or replying to) a bounce wants help: that is a request, not a bounce.
FORWARD = re.compile(r"^\s*(?:fwd?|wg|i|tr|rv|enc|vs|vl|doorst|pd|ilt|转发|轉寄)\s*[:：]", _I)
REPLY = re.compile(r"^\s*(?:re|aw|sv|r|rif|antw|odp|ynt)\s*[:：]", _I)
# Challenge-response robots: they open by talking about *your* message, then want a click.
_CHALLENGE_OPENING = re.compile(
    r"\A\s*(?:(?:hello|hi|dear)\b[^\n]*\n\s*)?your (?:message|e-?mail)\b[^\n]{0,80}\b(?:was "
    r"received|has been (?:received|held|waitlisted|quarantined|queued|blocked)|is (?:being )?held"
    r"|awaits|is pending)",
    _I,
)
_CHALLENGE_ACTION = re.compile(
    r"(?:allowed|guest|approved|safe|white)[- ]?(?:senders?[- ])?list|verify|verification|"
    r"confirm (?:that )?you",
    _I,
)

# C87 and the decision: an OOF client's prefix with a colon, at the very start.
OOF_PREFIX = re.compile(
    r"^\[(?:automatyczna odpowied[źz]|auto[- ]?reply|automatic reply|out of office)\]|"
    r"^(?:automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|automatische antwort|"
    r"risposta automatica|r[ée]ponse automatique|respuesta autom[áa]tica|"
    r"resposta autom[áa]tica|autosvar|automatisk svar|automatisch antwoord|"
    r"abwesenheitsnotiz|abwesend|out of (?:the )?office(?: reply| autoreply)?|fuori sede|"
    r"fuori ufficio|fr[åa]nvaro|frav[æe]r|poissaolo|automatyczna odpowied[źz]|"
    r"odpowied[źz] automatyczna|automatikus v[áa]lasz|otomatik yan[ıi]t|자동 회신|自動応答|"
    r"自动回复|自動回覆)\s*[:：]",
    _I,
)
# Words that name an auto-reply; "vacation", "absence" or "Urlaub" are left out on purpose:
# people write them in requests ("Vacation request for August").
OOF_SUBJECT_PHRASE = re.compile(
    r"\b(?:out of (?:the )?office|auto[- ]?reply|automatic reply|auto[- ]?response|"
    r"autoresponder|away until|abwesenheit\w*|abwesend|fuori (?:sede|ufficio)|"
    r"risposta automatica|r[ée]ponse automatique|respuesta autom[áa]tica|"
    r"fora do escrit[óo]rio)\b|\[automatyczna odpowied[źz]\]",
    _I,
)
# Idioms of auto-reply texts, not of people asking about one: a return date, "for urgent
# matters contact", "I will reply when I return", "this is an automatic reply".
OOF_BODY = re.compile(
    r"\bi(?: am|'m) (?:currently )?(?:out of (?:the )?office|away from (?:the|my) (?:office|desk)|"
    r"on (?:annual |parental |sick |maternity )?leave|on (?:vacation|holiday)|absent)\b"
    r"[^.]{0,40}\b(?:until|till|through|returning|back on|and will)\b|"
    r"\b(?:will|shall) (?:reply|respond|get back to you|answer)\b[^.]{0,60}\b(?:on|upon|after|"
    r"when) (?:my|i) return|(?:limited|no) access to (?:my )?e-?mail|"
    r"\b(?:in|for) (?:urgent|emergency) (?:matters|cases|issues|requests|queries)?,? ?(?:please )?"
    r"(?:contact|call|reach|e-?mail|write to)\b|"
    r"\b(?:this is an|an) auto(?:mated|matic|matically generated)[- ](?:reply|response|message)|"
    r"\bsono (?:attualmente )?(?:fuori (?:sede|ufficio)|assente|in ferie)\b[^.]{0,40}\b(?:fino|"
    r"al|dal|e rientrer)|risponder[òo] (?:al mio rientro|appena rientr)|"
    r"(?:per|in caso di) (?:urgenze|questioni urgenti),? (?:contattare|rivolgersi|scrivere)|"
    r"\bich bin (?:bis|vom|derzeit|zurzeit|momentan) .{0,40}?(?:nicht im b[üu]ro|abwesend|"
    r"im urlaub)|in dringenden f[äa]llen|\bje suis (?:actuellement )?absente?\b|"
    r"en cas d'urgence|je serai de retour|\bestoy (?:fuera de la oficina|de vacaciones)|"
    r"en caso de urgencia",
    _I,
)
_OOF_WEAK_HEADERS = ("x-ms-exchange-inbox-rules-loop", "x-ms-exchange-generated-message-source")

CALENDAR_SUBJECT = re.compile(
    r"^(?:accepted|declined|tentative(?:ly accepted)?|new time proposed|accettato|rifiutato|"
    r"provvisorio|accettato con riserva|angenommen|abgelehnt|mit vorbehalt angenommen|"
    r"vorl[äa]ufig|accept[ée]|refus[ée]|provisoire|aceptado|rechazado|provisional|"
    r"nuovo orario proposto|neue uhrzeit vorgeschlagen)\s*[:：]",
    _I,
)
_RECALL_SUBJECT = re.compile(r"^(?:recall|richiamo|rückruf|rappel|recuperar|retirada)\s*[:：]", _I)
_RECALL_BODY = re.compile(
    r"would like to recall the message|desidera richiamare il messaggio|"
    r"vorrebbe richiamare il messaggio|m[öo]chte die nachricht .{0,60}zur[üu]ckrufen|"
    r"souhaite rappeler le message|desea recuperar el mensaje|ipm\.outlook\.recall",
    _I | re.DOTALL,
)
_READ_SUBJECT = re.compile(
    r"^(?:read|not read|letto|non letto|gelesen|ungelesen|lu|non lu|le[íi]do|no le[íi]do|"
    r"läst|gelezen|lido)\s*[:：]",
    _I,
)
_READ_BODY = re.compile(
    r"was read on|was deleted without being read|[èe] stato letto|stato eliminato senza|"
    r"wurde am .{0,60}gelesen|gelesen am|a [ée]t[ée] lu|fue le[íi]do|was read at|"
    r"return receipt|disposition: ",
    _I | re.DOTALL,
)
_COMPLAINT_SUBJECT = re.compile(
    r"^(?:complaint about message from|abuse report|email feedback report|"
    r"dmarc forensic report|spamtrap ?hit)",
    _I,
)


def _body(msg: ParsedMessage) -> str:
    return msg.text[:BODY_WINDOW]


def _has_header(msg: ParsedMessage, names: tuple[str, ...]) -> bool:
    return any(msg.header(name) is not None for name in names)


def _returns_message(msg: ParsedMessage) -> bool:
    """An attached message or returned header block: what bounces and complaints carry."""
    attached = any(a.content_type in ("message/rfc822", "message/global") for a in msg.attachments)
    return attached or bool(msg.embedded_message_ids)


def is_bounce(msg: ParsedMessage, *, system_sender: bool, person: bool = False) -> bool:
    """A non-standard bounce (C85): a bounce subject or header confirmed by a daemon sender,
    a returned message or mail-server wording; error words alone may be a person asking, and
    so may mail-server wording below a ``person``'s own opening words."""
    sender = (
        system_sender
        or msg.return_path == ""
        or any(_BOUNCE_SENDER.match(a.addr) for a in msg.from_)
    )
    body = _body(msg)
    machine = not person and BOUNCE_MACHINE_TEXT.search(body) is not None
    header = _has_header(msg, _BOUNCE_HEADERS)
    forwarded = FORWARD.match(msg.subject) is not None
    subject = not forwarded and BOUNCE_SUBJECT.match(msg.subject) is not None
    if subject or header:
        return sender or machine or (header and subject) or _returns_message(msg)
    if not forwarded and _BOUNCE_SUFFIX.search(msg.subject):
        return machine
    return sender and (machine or BOUNCE_TEXT.search(body) is not None)


def is_challenge(msg: ParsedMessage) -> bool:
    """A challenge-response robot asking the sender to click to be allowed through."""
    body = _body(msg)
    return bool(
        _CHALLENGE_OPENING.search(body)
        and _CHALLENGE_ACTION.search(body)
        and re.search(r"https?://", body)
    )


def is_out_of_office(msg: ParsedMessage, *, weak_header: bool) -> bool:
    """An OOF client prefix at the start, or an OOF phrase in the subject that a second
    signal confirms (an OOF body phrase, or an Exchange auto-reply header)."""
    if OOF_PREFIX.match(msg.subject):
        return True
    if not OOF_SUBJECT_PHRASE.search(msg.subject) or REPLY.match(msg.subject):
        return False
    weak = weak_header or _has_header(msg, _OOF_WEAK_HEADERS)
    return weak or OOF_BODY.search(_body(msg)) is not None


def is_recall(msg: ParsedMessage) -> bool:
    """Outlook's "Recall:" request: the subject prefix plus Outlook's recall wording."""
    if not _RECALL_SUBJECT.match(msg.subject):
        return False
    values = " ".join(value for _, value in msg.headers)
    return bool(_RECALL_BODY.search(_body(msg)) or _RECALL_BODY.search(values))


def is_read_receipt(msg: ParsedMessage) -> bool:
    """A read (or not-read) receipt sent as plain mail, not as an MDN report."""
    return bool(_READ_SUBJECT.match(msg.subject) and _READ_BODY.search(_body(msg)))


def is_complaint(msg: ParsedMessage) -> bool:
    """An abuse/complaint report that is not a multipart/report (Hotmail, SES, spamtraps)."""
    if any(v.strip().lower() == "true" for v in msg.header_all("x-apple-unsubscribe")):
        return True
    return bool(_COMPLAINT_SUBJECT.match(msg.subject) and _returns_message(msg))
