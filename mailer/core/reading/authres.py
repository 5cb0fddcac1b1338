"""Is a staff member's mail authenticated? Read from Authentication-Results (RFC 8601). Pure.

Which field: only the **topmost** ``Authentication-Results`` of the message (the first in
``ParsedMessage.headers``), and only if it carries the configured authserv-id (any case; with
none configured nothing is trusted: RFC 8601 §4.1, §7.1). Not even a second field with our id
right below counts: Gmail and Postfix milters write A-R *below* their own Received line, so the
sender's first header sits directly under ours, and a forged ``ourmx; dkim=pass`` there cannot
be told apart by position. Stripping such fields at the border (RFC 8601 §5) is the real
defence, and we cannot see whether it happened. So the MTA must put DMARC (or DKIM) in its
topmost field, as Gmail, Exchange Online, rspamd (one field each) and OpenDMARC (runs after
OpenDKIM, inserts on top) do. A-R inside attached or forwarded message/rfc822 parts is never
seen: callers pass the top-level headers only. Values must not be RFC 2047-decoded: an
encoded-word in a sender's MAIL FROM or HELO, copied by our MTA, would decode into results.

What passes, in that field (unknown methods and results are ignored):
- ``dmarc=pass`` whose ``header.from`` is the From domain, if no other dmarc result disagrees;
- ``dkim=pass`` whose ``header.d`` (else ``header.i``'s domain) is aligned with the From domain,
  unless the field says ``dmarc=fail`` or a dmarc pass for another (or no) domain: DMARC is
  authoritative (the domain may demand strict alignment, which only the evaluator knows);
- never ``spf=pass`` alone: SPF vouches for the envelope sender, not From (RFC 8601 §1.5.3);
- ``dmarc=bestguesspass`` (Microsoft: no DMARC record, would have passed) only with
  ``allow_bestguesspass``: the domain publishes no policy, Microsoft's guess is unspecified
  (standards rule 129). ``compauth`` is ignored: it mixes in reputation heuristics.

Relaxed alignment (RFC 7489 §3.2): the two domains are equal, or have the same organisational
domain: the public suffix plus one label, by the Public Suffix List that ``publicsuffixlist``
bundles (read once, on first use; never fetched). Its private section counts too, so
``a.github.io`` and ``b.github.io`` belong to different owners; siblings such as
``a.example.co.uk`` and ``b.example.co.uk`` align, as a DMARC evaluator has them. A name the
list does not know ends in a one-label suffix (``corp.internal``). A domain that is itself a
public suffix aligns only with itself. ``onmicrosoft.com`` is not on the list, so two Microsoft
tenants' names align, as they do for every DMARC evaluator using it. Domains are compared
lower-cased, with no IDNA mapping (``ß`` must not fold into ``ss``).

``authserv_id = "microsoft365"``: Exchange Online writes A-R without an authserv-id, so the
topmost A-R must have none (one with an id was written by someone else). Mail sent inside the
tenant has no useful A-R (``dkim=none ... dmarc=none``), so when the topmost A-R is absent or
id-less and not ``dmarc=fail`` we also accept Exchange's mark: exactly one
``X-MS-Exchange-Organization-AuthAs: Internal`` and one ``...-AuthSource`` host. Exchange's
header firewall strips ``X-MS-Exchange-Organization-*`` from mail entering from untrusted
sources (Internet mail gets ``Anonymous``); elsewhere they are forged at will, so only this
mode reads them. ``Internal`` means "came in by an authenticated path": a mailbox user (who may
send only as addresses they hold) or an OnPremises connector trusting a whole relay.
``X-MS-Exchange-CrossTenant-AuthAs`` goes out with outbound mail for anyone to copy: ignored.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from publicsuffixlist import PublicSuffixList

__all__ = [
    "MICROSOFT365",
    "AuthResult",
    "AuthResults",
    "Verdict",
    "authenticate",
    "organisational_domain",
    "parse_authentication_results",
]

MICROSOFT365 = "microsoft365"

_METHODS = "arc auth bimi compauth dkim dkim-adsp dkim-atps dmarc dnswl domainkeys iprev rrvs"
_KNOWN_METHODS = frozenset([*_METHODS.split(), "sender-id", "smime", "spf", "vbr"])
_METHOD = re.compile(r"([a-z0-9][a-z0-9_-]*)(?:/[0-9]+)?")  # dkim, dkim/1
_RESULT = re.compile(r"[a-z0-9][a-z0-9_-]*")
_HOST = re.compile(r"[A-Za-z0-9.-]+")
_WORD = re.compile(r'[^\s();="]+')
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_MAX_SHOWN = 80  # characters of a header-supplied value quoted in a reason


@dataclass(frozen=True)
class AuthResult:
    """One resinfo: ``method=result`` and its properties (keys lower-cased, values as sent)."""

    method: str
    result: str
    props: tuple[tuple[str, str], ...] = ()

    def prop(self, name: str) -> str | None:
        return next((value for key, value in self.props if key == name), None)


@dataclass(frozen=True)
class AuthResults:
    """One Authentication-Results field; ``authserv_id`` is None when absent (Exchange Online)."""

    authserv_id: str | None
    results: tuple[AuthResult, ...]


@dataclass(frozen=True)
class Verdict:
    """Whether From is authenticated, and why, in words fit for the log and for people."""

    passed: bool
    reason: str


class _Quoted(str):
    """A quoted-string token: never a keyword, ``=`` or ``;``."""


def _is_word(token: str) -> bool:
    return not isinstance(token, _Quoted) and token not in (";", "=")


def _tokens(value: str) -> list[str] | None:
    """Words, quoted strings, ``;`` and ``=``, comments dropped; None when unbalanced."""
    out: list[str] = []
    i, n = 0, len(value)
    while i < n:
        char = value[i]
        if char == "(":  # a comment, maybe nested; a quote inside is plain text (RFC 5322)
            depth, i = 1, i + 1
            while i < n and depth:
                depth += {"(": 1, ")": -1}.get(value[i], 0)
                i += 2 if value[i] == "\\" else 1
            if depth:
                return None
            continue
        pattern = None if char in ";=" or char.isspace() else _QUOTED if char == '"' else _WORD
        match = pattern.match(value, i) if pattern else None
        if pattern is None:
            out.extend(char.strip())  # ";" or "=" as a token; white space separates
            i += 1
        elif match is None:  # ")" outside a comment, or an unclosed quoted-string
            return None
        else:
            quoted = char == '"'
            out.append(_Quoted(_ESCAPE.sub(r"\1", match[1])) if quoted else match[0])
            i = match.end()
    return _join_dots(out)


def _join_dots(tokens: list[str]) -> list[str]:
    """``policy . expired`` and ``dkim / 1`` (RFC 8601 B.7) become one word each."""
    out: list[str] = []
    for token in tokens:
        prev = out[-1] if out else ";"
        if _is_word(prev) and _is_word(token) and (prev[-1] in "./" or token[0] in "./"):
            out[-1] = prev + token
        else:
            out.append(token)
    return out


def _pair(tokens: list[str], i: int) -> tuple[str, str, int] | None:
    """``key = value`` at ``i``: (key, value, next index); ``a=b=c`` values stay whole."""
    if i + 2 >= len(tokens) or not _is_word(tokens[i]) or tokens[i + 1] != "=":
        return None
    value, j = tokens[i + 2], i + 3
    if value in (";", "="):
        return None
    while _is_word(value) and j + 1 < len(tokens) and tokens[j] == "=":
        if not _is_word(tokens[j + 1]):
            break
        value, j = f"{value}={tokens[j + 1]}", j + 2
    return tokens[i], str(value), j


def _resinfos(tokens: list[str]) -> tuple[AuthResult, ...]:
    """The resinfos; where a ``;`` is missing, a known method name starts a new one."""
    found: list[AuthResult] = []
    method: str | None = None
    result = ""
    props: list[tuple[str, str]] = []
    i = 0
    while i < len(tokens):
        pair = _pair(tokens, i)
        if tokens[i] == ";" or pair is None:  # a bare word (Microsoft's rcpt domain, "none")
            if tokens[i] == ";" and method is not None:
                found.append(AuthResult(method, result, tuple(props)))
                method = None
            i += 1
            continue
        key, value, i = pair[0].lower(), pair[1], pair[2]
        name = _METHOD.fullmatch(key) if _RESULT.fullmatch(value.lower()) else None
        if name and (method is None or name[1] in _KNOWN_METHODS):
            if method is not None:
                found.append(AuthResult(method, result, tuple(props)))
            method, result, props = name[1], value.lower(), []
        elif method is not None:  # ptype.property, or reason=/action= after the result
            props.append((key, value))
    if method is not None:
        found.append(AuthResult(method, result, tuple(props)))
    return tuple(found)


def parse_authentication_results(value: str) -> AuthResults | None:
    """Parse one A-R field value; None when it is not one. Never raises."""
    tokens = _tokens(value)
    if not tokens or tokens[0] in (";", "=", ""):
        return None
    if _is_word(tokens[0]) and tokens[1:2] == ["="]:
        return AuthResults(None, _resinfos(tokens))  # no authserv-id: Exchange Online
    start = 2 if len(tokens) > 1 and _is_word(tokens[1]) and tokens[1].isdigit() else 1
    return AuthResults(str(tokens[0]), _resinfos(tokens[start:]))


def _domain(value: str | None) -> str:
    text = (value or "").strip().strip("<>").rpartition("@")[2].strip().lower().rstrip(".")
    return "" if any(c.isspace() for c in text) else text


@functools.cache
def _public_suffixes() -> PublicSuffixList:
    """The bundled Public Suffix List, parsed once (some 30 ms) when first needed."""
    return PublicSuffixList()


def organisational_domain(domain: str) -> str | None:
    """The public suffix plus one label (``staff.example.co.uk`` → ``example.co.uk``); None
    for a public suffix itself or a name with an empty label."""
    return _public_suffixes().privatesuffix(domain.lower())


def _aligned(a: str, b: str) -> bool:
    """Relaxed alignment, as the module docstring says."""
    if a == b:
        return True
    org = organisational_domain(a)
    return org is not None and org == organisational_domain(b)


def _clip(value: str) -> str:
    """A header-supplied value fit for a reason: never empty, never very long."""
    return (value if len(value) <= _MAX_SHOWN else value[: _MAX_SHOWN - 1] + "…") or "?"


def _judge(results: Sequence[AuthResult], domain: str, server: str, guess: bool) -> Verdict:
    """The pass rules of the module docstring, applied to the one trusted A-R field."""
    good = ("pass", "bestguesspass") if guess else ("pass",)
    dmarc = [(r.result, _domain(r.prop("header.from"))) for r in results if r.method == "dmarc"]
    for result, hfrom in dmarc:
        if result == "fail":
            return Verdict(False, f"dmarc=fail header.from={_clip(hfrom)} by {server}")
        if result in good and hfrom != domain:
            return Verdict(False, f"dmarc={result} for header.from={_clip(hfrom)}, not {domain}")
    if dmarc and all(result in good and hfrom == domain for result, hfrom in dmarc):
        return Verdict(True, f"dmarc={dmarc[0][0]} header.from={domain} by {server}")
    signers = [
        _domain(r.prop("header.d")) or _domain(r.prop("header.i"))
        for r in results
        if r.method == "dkim" and r.result == "pass"
    ]
    for signer in signers:
        if signer and _aligned(signer, domain):
            return Verdict(True, f"dkim=pass header.d={signer} aligned with {domain} by {server}")
    if signers:
        return Verdict(False, f"dkim=pass for d={_clip(signers[0])}, not aligned with {domain}")
    if dmarc:
        result, hfrom = dmarc[0]
        return Verdict(False, f"dmarc={result} header.from={_clip(hfrom)} by {server}")
    if any(r.method == "spf" and r.result == "pass" for r in results):
        return Verdict(False, f"only spf=pass by {server}: SPF vouches for the envelope, not From")
    return Verdict(False, f"no dmarc or dkim pass for {domain} by {server}")


def _foreign(writer: str | None, wanted: str) -> bool:
    """Whether an A-R field was written by another server (M365: it has an authserv-id)."""
    if wanted == MICROSOFT365:
        return writer is not None
    return writer is None or writer.lower() != wanted


def _internal_mark(headers: Sequence[tuple[str, str]]) -> str | None:
    """Exchange's mark of mail submitted inside the organisation, or None."""

    def values(name: str) -> list[str]:
        return [v.strip() for k, v in headers if k == f"x-ms-exchange-organization-{name}"]

    auth_as, source, mechanism = values("authas"), values("authsource"), values("authmechanism")
    if len(auth_as) != 1 or auth_as[0].lower() != "internal" or len(mechanism) > 1:
        return None
    if len(source) != 1 or not _HOST.fullmatch(source[0]):
        return None
    how = f", AuthMechanism {_clip(mechanism[0])}" if mechanism else ""
    return f"X-MS-Exchange-Organization-AuthAs: Internal (AuthSource {_clip(source[0])}{how})"


def authenticate(
    headers: Sequence[tuple[str, str]],
    from_domain: str,
    authserv_id: str,
    *,
    allow_bestguesspass: bool = False,
) -> Verdict:
    """Judge the From domain by the topmost A-R of ``headers`` (top first, names lower-cased)."""
    wanted, domain = authserv_id.strip().lower(), _domain(from_domain)
    if not wanted:
        return Verdict(False, "no authserv_id configured: Authentication-Results are not trusted")
    if not domain:
        return Verdict(False, "no From domain to authenticate")
    m365 = wanted == MICROSOFT365
    server = "Exchange Online (no authserv-id)" if m365 else wanted
    top = next((value for name, value in headers if name == "authentication-results"), None)
    parsed = None if top is None else parse_authentication_results(top)
    if top is None:
        verdict = Verdict(False, f"no Authentication-Results from {server}")
    elif parsed is None:
        return Verdict(False, "the topmost Authentication-Results does not parse")
    elif _foreign(parsed.authserv_id, wanted):
        writer = _clip(parsed.authserv_id or "a writer without authserv-id")
        return Verdict(False, f"the topmost Authentication-Results is from {writer}, not {server}")
    else:
        verdict = _judge(parsed.results, domain, server, allow_bestguesspass)
    if verdict.passed or not m365:
        return verdict
    if parsed and any(r.method == "dmarc" and r.result == "fail" for r in parsed.results):
        return verdict
    mark = _internal_mark(headers)
    if mark is None:
        return Verdict(False, f"{verdict.reason}; no X-MS-Exchange-Organization-AuthAs: Internal")
    return Verdict(True, f"{mark}: mail sent inside the Exchange Online organisation")
