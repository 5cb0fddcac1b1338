"""Mail the list software itself sends: loop alerts, moderation and subscription notices,
command results, bounce warnings (Mailman, fml, Majordomo, Sympa, LISTSERV, ezmlm, Google
Groups and the like).

A post that went through a list is the List-* headers' business (robots._list). This is the
mail a list server writes in its own name, which may carry no List-* header at all. Its
mark is a From that is the list's administrative address (``dev-admin@``, ``dev-bounces@``,
``owner-dev@``, ``dev-request@``, ``majordomo@``) together with a second signal: a header
only list software writes, or a subject or body in the list software's voice.

Neither signal is enough alone. A person's post keeps the list's ``-bounces`` or
``-owner`` address in Return-Path (so only From counts here), list archives keep some of
the software's headers on people's posts, and ``it-admin@`` may be a colleague asking for
help: only the two together say that the list server wrote the mail.
"""

from __future__ import annotations

import re

from mailer.model import Address, ParsedMessage

__all__ = ["is_list_address", "is_list_server", "list_signature"]

_I = re.IGNORECASE
WINDOW = 4000  # characters of body read; the software says what it is in the first lines

_SOFTWARE = r"mailman|majordomo|listserv|sympa|ezmlm|fml|listproc|smartlist|ecartis|mlmmj|lyris"
# The local part of a list's administrative addresses (+detail already dropped): the suffixes
# Mailman, Majordomo, fml, Sympa and ezmlm give them, or the software's own name.
_LIST_LOCAL = re.compile(
    r"^(?:owner-[^@\s]+|[^@\s]+-(?:admin|bounces?|owner|request|help|return(?:-[^@\s]*)?|confirm)|"
    rf"(?:{_SOFTWARE})(?:-[^@\s]+)?)$",
    _I,
)
# Google Groups: the group's owners (group+owners@) and its bounce addresses (group+bnc...@);
# not the group's own address, which DMARC rewriting puts in From on members' posts.
_GROUP_HOSTS = ("googlegroups.com",)
_GROUP_ADMIN = re.compile(r"\+(?:owners?|managers?|bnc)|^(?:noreply|no-reply)", _I)
# Headers that only list software writes (on posts and on its own notices alike).
_SIGNATURE_NAME = re.compile(
    r"^(?:list-[\w-]+|x-mailman-[\w-]+|x-list-administrivia|x-beenthere|x-ml-[\w-]+|x-mlserver|"
    r"x-mail-count|x-sympa-[\w-]+|x-listserver|x-listserv-[\w-]+|x-lsv-[\w-]+|"
    r"x-listprocessor-version|x-ezmlm-[\w-]+|x-google-group-id|x-google-groups-[\w-]+|"
    r"x-majordomo[\w-]*|mailing-list|x-mailing-list[\w-]*|errors-to|x-sequence|x-loop)$",
    _I,
)
# Headers naming the program that wrote the mail.
_AGENT_HEADERS = ("x-mailer", "user-agent", "x-mlserver", "mailing-list", "x-list-server")
_SOFTWARE_NAME = re.compile(rf"\b(?:{_SOFTWARE}|google groups)\b", _I)
# Subjects list servers put on their own notices.
_NOTICE_SUBJECT = re.compile(
    r"loop alert|mail loop detected|awaits moderator|held for moderation|"
    r"moderator(?:'s)? (?:approval|decision)|post from \S+ requires approval|"
    r"(?:mailing[- ])?list (?:subscription|unsubscription|membership|removal)|"
    r"memberships? reminder|^confirm [0-9a-f]{8,}|welcome to (?:the )?\S+ (?:mailing[- ])?list|"
    r"bounce action notification|uncaught bounce|results of your (?:e-?mail )?commands|"
    rf"\b(?:{_SOFTWARE}) (?:results|response|status|report|command|error)|rejected posting|"
    r"posting (?:rejected|refused)|you are now (?:un)?subscribed to",
    _I,
)
# Up to 100 characters of one sentence: a dot inside a token (an address, a host) goes on.
_CLAUSE = r"(?:[^.\n]|\.(?=\S)){0,100}?"
# What list servers write and people do not: the software's stock sentences.
_NOTICE_BODY = re.compile(
    r"(?:is being|been|was|is) held (?:until|for) (?:the )?(?:list )?moderat|"
    r"awaits? (?:the )?(?:list )?moderator|moderator(?:'s)? (?:approval|review|decision)|"
    r"post by non-?member to a members[- ]only list|"
    r"your (?:message|mail|e-?mail|post(?:ing)?|request|command|subscription)s? (?:to|for|on)\b"
    rf"{_CLAUSE}\b(?:mailing[- ])?list\b|your mail to '[^'\n]{{1,100}}' with the subject|"
    r"mailing list (?:subscription|removal|membership)s? (?:confirmation|reminder)|"
    r"results of your (?:e-?mail )?commands|^\*{4} |"
    rf"\bthis is the (?:{_SOFTWARE}) (?:program|server|robot)|"
    r"i'?m managing the \S+ (?:mailing )?list|seem to have been bouncing|"
    r"the distribution of your message|"
    rf"you are not (?:authori[sz]ed|allowed|permitted) to (?:post|send)\b{_CLAUSE}\blist|"
    r"has been forwarded to (?:the )?(?:list )?(?:editor|moderator|owner)|"
    r"(?:do not|don'?t) have permission to post|you tried to contact a group",
    _I | re.MULTILINE,
)


def _local(addr: str) -> str:
    return addr.rpartition("@")[0].partition("+")[0]


def is_list_address(address: Address) -> bool:
    """A list's administrative address (Google Groups' too)."""
    if address.domain in _GROUP_HOSTS:
        return _GROUP_ADMIN.search(address.local) is not None
    return _LIST_LOCAL.match(_local(address.addr)) is not None


def list_signature(msg: ParsedMessage) -> bool:
    """A header only list software writes, or one that names the list software."""
    if any(_SIGNATURE_NAME.match(name) for name, _ in msg.headers):
        return True
    return any(_SOFTWARE_NAME.search(v) for name in _AGENT_HEADERS for v in msg.header_all(name))


def is_list_server(msg: ParsedMessage) -> bool:
    """The list server wrote it: From its administrative address, and the software's headers
    or its wording (subject or the first lines of the body) to confirm."""
    if not any(is_list_address(a) for a in msg.from_):
        return False
    if list_signature(msg) or _NOTICE_SUBJECT.search(msg.subject):
        return True
    return _NOTICE_BODY.search(msg.text[:WINDOW]) is not None
