"""What mail clients write around a reply: attribution lines, header blocks, taglines.

The vocabulary of :mod:`mailer.core.reading.visible`, kept apart so the splitting logic stays
short. Every pattern is anchored or applied to one length-capped line (or its end) and has no nested
quantifiers; leading blanks are matched possessively, so a failed match does not retry them.
"""

from __future__ import annotations

import re


def _alternation(words: str) -> str:
    """A regex alternation, longest words first so that "envoyé le" wins over "envoyé"."""
    return "|".join(re.escape(w) for w in sorted(set(words.split("|")), key=len, reverse=True))


# A line of quoted history: ">" (Outlook and some web mailers indent it by a space or two).
QUOTE_LINE = re.compile(r"^ {0,3}>")

# Attribution lines: "On <date>, <name> wrote:" and its translations. The opening words are
# what the line starts with; the verbs are what it ends with (before an optional colon).
_INTROS = "on|le|am|il|el|em|op|w dniu|in data|den|dne|på|kl"
_VERBS = (
    "wrote|writes|a écrit|a ecrit|écrit|schrieb|hat geschrieben|ha scritto|scrisse|escribió"
    "|escribio|escreveu|schreef|heeft geschreven|napisał|napisała|napisał(a)|написал|написала"
    "|написал(а)|пишет|skrev|kirjoitti|írta|yazdı|napsal|napsala|a scris|έγραψε|写道|寫道"
)
INTRO = re.compile(rf"^(?:{_alternation(_INTROS)})\s", re.IGNORECASE)
VERB_END = re.compile(rf"(?<!\w)(?:{_alternation(_VERBS)})$", re.IGNORECASE)
ANGLE_ADDRESS = re.compile(r"<\s*[^<>\s]+@[^<>\s]+\s*>+$")  # ends the line: "<john@x.com>"
TIME = re.compile(r"(?<!\d)\d{1,2}[:.]\d{2}(?!\d)")  # 14:41, 18.30
DIGIT = re.compile(r"\d")

# Outlook-style header blocks ("From: … Sent: … To: … Subject: …") in the usual languages.
_FROM_KEYS = (
    "from|von|da|de|от|van|od|fra|från|lähettäjä|feladó|kimden|remitente|afzender|nadawca"
    "|发件人|寄件者|差出人"
)
_OTHER_KEYS = (
    "sent|date|to|cc|bcc|subject|reply-to|inviato|data|a|oggetto|gesendet|datum|an|betreff"
    "|kopie|envoyé|envoyé le|à|objet|enviado|enviada|enviado el|fecha|para|asunto|assunto"
    "|verzonden|aan|onderwerp|отправлено|дата|кому|тема|копия|wysłano|do|temat|skickat|sendt"
    "|till|til|ämne|emne|odesláno|komu|předmět|lähetetty|vastaanottaja|aihe|elküldve|címzett"
    "|tárgy|gönderildi|tarih|kime|konu|发送时间|收件人|主题|日期|送信日時|宛先|件名"
)
FROM_KEYS = frozenset(_FROM_KEYS.split("|"))
# "From:", "*From:*" (Outlook's bold turned into text), "De :" (French spacing), "  À :".
HEADER_KEY = re.compile(
    rf"^\s*+[*_]{{0,2}}+({_alternation(_FROM_KEYS + '|' + _OTHER_KEYS)})[*_]{{0,2}}\s*[:：]",
    re.IGNORECASE,
)
# The same keys in the middle of a line, for a block that lost its line breaks.
INLINE_KEY = re.compile(rf"\s[*_]{{0,2}}(?:{_alternation(_OTHER_KEYS)})[*_]{{0,2}}\s*:", re.I)

# "-----Original Message-----", "---------- Forwarded message ---------" and translations: a
# phrase between runs of dashes; or a phrase alone on its line ("Begin forwarded message:").
_DASHED = (
    "original message|original-nachricht|ursprüngliche nachricht|messaggio originale"
    "|messaggio inoltrato|message d'origine|message original|message transféré|mensaje original"
    "|mensaje reenviado|mensagem original|mensagem encaminhada|oorspronkelijk bericht"
    "|doorgestuurd bericht|исходное сообщение|пересылаемое сообщение|forwarded message"
    "|forwarded by|weitergeleitete nachricht|reply message"
)
_ALONE = (
    "begin forwarded message|inizio messaggio inoltrato|début du message réexpédié"
    "|début du message transféré|anfang der weitergeleiteten nachricht"
    "|comienzo del mensaje reenviado|início da mensagem reencaminhada|begin doorgestuurd bericht"
    "|original message|forwarded message|messaggio originale|messaggio inoltrato"
)
DASHED_MARKER = re.compile(r"^\s*-{2,}\s*([^-].{0,80}?)\s*-{2,}\s*$")
DASHED_PHRASE = re.compile(rf"(?:{_alternation(_DASHED)})", re.IGNORECASE)
ALONE_MARKER = re.compile(rf"^\s*+(?:{_alternation(_ALONE)})\s*:?\s*$", re.IGNORECASE)
# Help desks (and our own receipts, perhaps one day) ask for the reply above such a line.
REPLY_ABOVE = re.compile(r"reply above this line|rispond\w* sopra questa (?:riga|linea)", re.I)

SEPARATOR = re.compile(r"^\s*(?:_{10,}|-{10,})\s*$")  # Outlook's rule above a header block
FOOTER_RULE = re.compile(r"^\s*_{2,}\s*$")  # mailing-list footers start with one

# Mobile and webmail taglines: "Sent from my iPhone", "Inviato da iPhone", "Get Outlook for
# iOS", … A prefix, then a few words that name a product (capitalised, or from DEVICE_WORDS).
_TAGLINES = (
    "sent from my|sent from|sent with|sent via|sent using|get outlook for|inviato dal mio"
    "|inviato da|inviato dal|inviato tramite|scarica outlook per|ottieni outlook per"
    "|envoyé de mon|envoyé depuis mon|envoyé à partir de|envoyé depuis|envoyé de"
    "|envoyé avec|télécharger outlook pour|obtenir outlook pour|von meinem|gesendet von"
    "|gesendet mit|gesendet vom|holen sie sich outlook für|outlook für|enviado desde mi"
    "|enviado desde|enviado do meu|enviado do|enviado de mi|enviado con|obtener outlook para"
    "|verzonden vanaf mijn|verstuurd vanaf mijn|verzonden met|verzonden vanaf|verstuurd met"
    "|отправлено с|отправлено из"
)
TAGLINE = re.compile(rf"^(?:{_alternation(_TAGLINES)})\s+(.+)$", re.IGNORECASE)
TRAILING_LINK = re.compile(r"\s*(?:<[^<>]*>|\[[^\[\]]*\])$")  # "Get Outlook for iOS<https://…>"
DEVICE_WORDS = frozenset({
    "for", "on", "per", "pour", "für", "para", "de", "di", "do", "da", "mobile", "smartphone",
    "phone", "device", "tablet", "gesendet", "verzonden", "verstuurd", "wireless", "mail",
    "android", "iphone", "ipad", "ios", "app",
})  # fmt: skip
