"""authres: parse Authentication-Results, and trust only what our own server wrote on top."""

from __future__ import annotations

import random

import pytest

from mailer.core.reading.authres import (
    MICROSOFT365,
    AuthResult,
    AuthResults,
    Verdict,
    authenticate,
    organisational_domain,
    parse_authentication_results,
)
from mailer.core.reading.parse import parse_message

OURS = "mx.example.test"
STAFF = "example.test"
RECEIVED = ("received", "from mail.example.test by mx.example.test; Mon, 1 Jan 2024 10:00:00 +0000")
FROM = ("from", "Staff <staff@example.test>")

# Real-world values, verbatim from tests/data/corpus (as ParsedMessage.headers holds them).
GMAIL = (  # auto/sisimai_bsd_rfc3464-57.eml
    "mx.google.com; dkim=pass header.i=@googlemail.com header.s=20161025 header.b=e3vuyqwS; "
    "spf=pass (google.com: best guess record for domain of postmaster@mail-sor-f69.google.com "
    "designates 209.85.220.69 as permitted sender) smtp.helo=mail-sor-f69.google.com; "
    "dmarc=pass (p=QUARANTINE sp=QUARANTINE dis=NONE) header.from=googlemail.com"
)
GMAIL_ARC = (  # human/helpdesk_pgp.eml: "dmarc=pass" inside the arc comment is no result
    "mx.google.com; dkim=pass header.i=@gmail.com header.s=20161025 header.b=AArzbi/1; "
    "arc=pass (i=1 spf=pass spfdomain=gmail.com dkim=pass dkdomain=gmail.com dmarc=pass "
    "fromdomain=gmail.com); spf=pass (google.com: domain of bugreporter@example.com designates "
    "209.85.220.41 as permitted sender) smtp.mailfrom=bugreporter@example.com; "
    "dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=gmail.com"
)
GMAIL_DKIM_ONLY = (  # human/flanker_iphone.eml
    "mx.google.com; spf=pass (google.com: domain of someone@somewhere.com designates "
    "74.125.83.176 as permitted sender) smtp.mail=someone@somewhere.com; "
    "dkim=pass (test mode) header.i=@gmail.com"
)
GMAIL_SPF_ONLY = (  # unlabelled/mikelmail_plain_emails_raw_email_trailing_dot.eml
    "mx.google.com; spf=pass (google.com: best guess record for domain of "
    "noreply@rubyforge.org designates 205.234.109.19 as permitted sender) "
    "smtp.mail=noreply@rubyforge.org"
)
MIMECAST_TOP = (  # auto/sisimai_bsd_lhost-mimecast-01.eml, first of two
    "eb.example.jp; dkim=pass (1024-bit key, unprotected) header.d=ef.example.org "
    "header.i=@ef.example.org header.a=rsa-sha256 header.s=mimecast20180622 header.b=e..."
)
MIMECAST_LOWER = (
    "smtp.example.jp; dkim=pass (1024-bit key; unprotected) header.d=ef.example.org "
    "header.i=@ef.example.org header.a=rsa-sha256 header.s=mimecast20180622 header.b=e..."
)
YAHOO = (  # auto/sisimai_bsd_lhost-yahoo-04.eml: not RFC 8601, must not confuse us
    "mta1271.mail.bf1.yahoo.com from=yahoo.com; domainkeys=pass (ok); from=yahoo.com; "
    "dkim=pass (ok)"
)
MAILRU = (  # auto/sisimai_bsd_lhost-mailru-07.eml
    "f496.i.mail.ru; auth=pass smtp.auth=mailer-daemon@corp.mail.ru "
    "smtp.mailfrom=mailer-daemon@corp.mail.ru; iprev=pass policy.iprev=127.0.0.1"
)
M365_OUTLOOK = (  # auto/sisimai_bsd_lhost-office365-04.eml: no authserv-id, a bare "outlook.com"
    "spf=pass (sender IP is 104.47.124.246) smtp.helo=APC01-HK2-obe.outbound.protection."
    "outlook.com; outlook.com; dkim=none (message not signed) header.d=none;outlook.com; "
    "dmarc=pass action=none header.from=outlook.com;"
)
M365_CONTOSO = (
    "spf=pass (sender IP is 1.2.3.4) smtp.mailfrom=contoso.com; dkim=pass (signature was "
    "verified) header.d=contoso.com;dmarc=pass action=none header.from=contoso.com;"
    "compauth=pass reason=100"
)
M365_BESTGUESS = (  # lore.kernel.org, mail from arm.com received by Exchange Online
    "spf=pass (sender IP is 63.35.35.123) smtp.mailfrom=arm.com; vger.kernel.org; dkim=pass "
    "(signature was verified) header.d=armh.onmicrosoft.com;vger.kernel.org; "
    "dmarc=bestguesspass action=none header.from=arm.com;"
)
M365_INTERNAL_AR = (  # lore.kernel.org: what EXO stamps on mail sent inside the tenant
    "dkim=none (message not signed) header.d=none;dmarc=none action=none header.from=nvidia.com;"
)
INTERNAL_MARK = (  # a message submitted with Outlook (MAPI) inside the organisation
    ("x-ms-exchange-organization-authas", "Internal"),
    ("x-ms-exchange-organization-authmechanism", "04"),
    ("x-ms-exchange-organization-authsource", "CH0PR12MB5122.namprd12.prod.outlook.com"),
)


def ar(value: str) -> tuple[str, str]:
    return ("authentication-results", value)


def check(*headers: tuple[str, str], domain: str = STAFF, server: str = OURS) -> Verdict:
    return authenticate([*headers, FROM], domain, server)


# --- parsing ----------------------------------------------------------------------------------


def r(method: str, result: str, *props: tuple[str, str]) -> AuthResult:
    return AuthResult(method, result, props)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("example.org 1; none", AuthResults("example.org", ()), id="rfc8601-b2-none"),
        pytest.param(
            "example.com; spf=pass smtp.mailfrom=example.net",
            AuthResults("example.com", (r("spf", "pass", ("smtp.mailfrom", "example.net")),)),
            id="rfc8601-b3",
        ),
        pytest.param(
            "example.com; auth=pass (cram-md5) smtp.auth=sender@example.net; "
            "spf=pass smtp.mailfrom=example.net",
            AuthResults(
                "example.com",
                (
                    r("auth", "pass", ("smtp.auth", "sender@example.net")),
                    r("spf", "pass", ("smtp.mailfrom", "example.net")),
                ),
            ),
            id="rfc8601-b4",
        ),
        pytest.param(
            'example.com; dkim=pass reason="good signature" header.i=@mail-router.example.net; '
            'dkim=fail reason="bad signature" header.i=@newyork.example.com',
            AuthResults(
                "example.com",
                (
                    r(
                        "dkim",
                        "pass",
                        ("reason", "good signature"),
                        ("header.i", "@mail-router.example.net"),
                    ),
                    r(
                        "dkim",
                        "fail",
                        ("reason", "bad signature"),
                        ("header.i", "@newyork.example.com"),
                    ),
                ),
            ),
            id="rfc8601-b6-quoted-reason",
        ),
        pytest.param(
            "foo.example.net (foobar) 1 (baz); dkim (Because I like it) / 1 (One yay) = "
            "(wait for it) fail policy (A dot can go here) . (like that) expired "
            "(this surprised me) = (as I wasn't expecting it) 1362471462",
            AuthResults("foo.example.net", (r("dkim", "fail", ("policy.expired", "1362471462")),)),
            id="rfc8601-b7-comment-heavy",
        ),
        pytest.param(
            M365_OUTLOOK,
            AuthResults(
                None,
                (
                    r(
                        "spf",
                        "pass",
                        ("smtp.helo", "APC01-HK2-obe.outbound.protection.outlook.com"),
                    ),
                    r("dkim", "none", ("header.d", "none")),
                    r("dmarc", "pass", ("action", "none"), ("header.from", "outlook.com")),
                ),
            ),
            id="m365-no-authserv-id",
        ),
        pytest.param(
            YAHOO,
            AuthResults("mta1271.mail.bf1.yahoo.com", (r("domainkeys", "pass"), r("dkim", "pass"))),
            id="yahoo-stray-from",
        ),
        pytest.param(
            MAILRU,
            AuthResults(
                "f496.i.mail.ru",
                (
                    r(
                        "auth",
                        "pass",
                        ("smtp.auth", "mailer-daemon@corp.mail.ru"),
                        ("smtp.mailfrom", "mailer-daemon@corp.mail.ru"),
                    ),
                    r("iprev", "pass", ("policy.iprev", "127.0.0.1")),
                ),
            ),
            id="mailru",
        ),
        pytest.param(
            "  MX.Example.TEST  ;DKIM = Pass   HEADER.D = Example.Test ;  ; DMARC=None",
            AuthResults(
                "MX.Example.TEST",
                (r("dkim", "pass", ("header.d", "Example.Test")), r("dmarc", "none")),
            ),
            id="odd-spacing-and-case",
        ),
        pytest.param(
            f"{OURS}; spf=pass smtp.mailfrom={STAFF} dkim=pass header.d={STAFF} "
            f"dmarc=pass header.from={STAFF}",
            AuthResults(
                OURS,
                (
                    r("spf", "pass", ("smtp.mailfrom", STAFF)),
                    r("dkim", "pass", ("header.d", STAFF)),
                    r("dmarc", "pass", ("header.from", STAFF)),
                ),
            ),
            id="missing-semicolons",
        ),
        pytest.param(
            '"mx.example.test" 1; dkim/1=pass header.d=example.test; x-vendor=pass; spf=softfail',
            AuthResults(
                OURS,
                (
                    r("dkim", "pass", ("header.d", STAFF)),
                    r("x-vendor", "pass"),
                    r("spf", "softfail"),
                ),
            ),
            id="quoted-id-method-version-unknown-method",
        ),
        pytest.param(
            "mx.google.com; spf=pass smtp.mail=help-gnu-emacs-bounces+xxxx.klub=gmail.com@gnu.org",
            AuthResults(
                "mx.google.com",
                (
                    r(
                        "spf",
                        "pass",
                        ("smtp.mail", "help-gnu-emacs-bounces+xxxx.klub=gmail.com@gnu.org"),
                    ),
                ),
            ),
            id="equals-sign-inside-a-value",
        ),
    ],
)
def test_real_and_rfc_headers_parse(value: str, expected: AuthResults) -> None:
    assert parse_authentication_results(value) == expected


def test_a_result_inside_a_comment_is_not_a_result() -> None:
    parsed = parse_authentication_results(GMAIL_ARC)
    assert parsed is not None
    assert [(x.method, x.result) for x in parsed.results] == [
        ("dkim", "pass"),
        ("arc", "pass"),
        ("spf", "pass"),
        ("dmarc", "pass"),
    ]
    assert parsed.results[1].props == ()
    assert parsed.results[3].prop("header.from") == "gmail.com"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "(only a comment)",
        f"{OURS}; dkim=pass (unclosed comment",
        f'{OURS}; dkim=pass reason="unclosed',
        f"{OURS}; dkim=pass header.d=x)",
        "; dkim=pass",
        "= pass",
        '""; dkim=pass',
    ],
)
def test_values_that_are_not_authentication_results_give_none(value: str) -> None:
    assert parse_authentication_results(value) is None


def test_garbage_never_raises() -> None:
    rng = random.Random(8601)
    alphabet = ' ;=()"\\./@abdikmps\t\u00e9\u200b'
    for _ in range(5000):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        parsed = parse_authentication_results(value)
        assert parsed is None or isinstance(parsed, AuthResults)
        for server in (OURS, MICROSOFT365):
            assert isinstance(authenticate([ar(value), (value, value)], value, server), Verdict)


def test_huge_hostile_values_parse_quickly() -> None:
    for value in ('"' * 65536, "(" * 65536, "a=" * 32768, "mx; dkim=pass header.d=a.b " * 3000):
        parse_authentication_results(value)  # the pytest timeout catches quadratic behaviour


# --- which header is trusted ------------------------------------------------------------------


def test_dmarc_pass_from_our_server_passes() -> None:
    verdict = check(RECEIVED, ar(f"{OURS}; dmarc=pass (p=reject) header.from={STAFF}"))
    assert verdict == Verdict(True, f"dmarc=pass header.from={STAFF} by {OURS}")


def test_forged_pass_below_our_real_fail_does_not_pass() -> None:
    forged = ar(f"{OURS}; dmarc=pass header.from={STAFF}")
    real = ar(f"{OURS}; dmarc=fail (p=reject) header.from={STAFF}")
    verdict = check(real, RECEIVED, forged)
    assert verdict == Verdict(False, f"dmarc=fail header.from={STAFF} by {OURS}")


def test_forged_field_directly_below_ours_is_not_read() -> None:
    """Gmail and Postfix milters write A-R below their Received: the sender's headers follow."""
    real = ar(f"{OURS}; spf=pass smtp.mailfrom=evil.test; dkim=none")
    forged = ar(f"{OURS}; dkim=pass header.d={STAFF}")
    assert not check(RECEIVED, real, forged).passed


def test_topmost_field_from_another_server_fails_even_with_ours_below() -> None:
    verdict = check(ar(f"mx.other.test; dmarc=pass header.from={STAFF}"), ar(f"{OURS}; none"))
    assert verdict == Verdict(
        False, f"the topmost Authentication-Results is from mx.other.test, not {OURS}"
    )


def test_wrong_configured_authserv_id_fails() -> None:
    assert not check(ar(GMAIL), domain="googlemail.com", server="mx.example.test").passed


def test_no_authentication_results_fails() -> None:
    verdict = check(RECEIVED)
    assert verdict == Verdict(False, f"no Authentication-Results from {OURS}")


def test_no_configured_authserv_id_trusts_nothing() -> None:
    verdict = check(ar(f"{OURS}; dmarc=pass header.from={STAFF}"), server=" ")
    assert not verdict.passed and "no authserv_id configured" in verdict.reason


def test_unparseable_topmost_field_fails() -> None:
    verdict = check(ar(f"{OURS}; dmarc=pass (header.from={STAFF}"))
    assert verdict == Verdict(False, "the topmost Authentication-Results does not parse")


def test_server_domain_and_values_compare_case_insensitively() -> None:
    verdict = authenticate(
        [ar("MX.Example.TEST; DMARC=PASS header.from=EXAMPLE.test")],
        "Example.TEST",
        "mx.EXAMPLE.test",
    )
    assert verdict == Verdict(True, f"dmarc=pass header.from={STAFF} by {OURS}")


def test_arc_and_forwarded_copies_of_the_field_are_not_read() -> None:
    """ARC-Authentication-Results is another field; message/rfc822 parts never reach us."""
    fake = f"{OURS}; dmarc=pass header.from={STAFF}"
    assert not check(("arc-authentication-results", f"i=1; {fake}"), RECEIVED).passed
    inner = f"Authentication-Results: {fake}\r\nFrom: {FROM[1]}\r\nSubject: fw\r\n\r\nhi\r\n"
    raw = (
        f"From: {FROM[1]}\r\nTo: help@example.test\r\nSubject: Fwd\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n'
        f"\r\n#resolved\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n{inner}--b--\r\n"
    ).encode()
    msg = parse_message(raw, max_size=1 << 20)
    assert msg.header_all("authentication-results") == ()
    assert authenticate(msg.headers, STAFF, OURS) == Verdict(
        False, f"no Authentication-Results from {OURS}"
    )


def test_encoded_words_in_our_field_are_not_decoded_into_results() -> None:
    field = (
        f"Authentication-Results: {OURS}; spf=pass smtp.mailfrom="
        "=?utf-8?q?x=3B_dkim=3Dpass_header.d=3Dexample.test_header.s=3D?=@evil.test; dkim=none"
    )
    raw = f"{field}\r\nFrom: {FROM[1]}\r\nSubject: x\r\n\r\nbody\r\n".encode()
    assert not authenticate(parse_message(raw, max_size=1 << 20).headers, STAFF, OURS).passed


# --- what passes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "domain", "reason"),
    [
        (GMAIL, "googlemail.com", "dmarc=pass header.from=googlemail.com by mx.google.com"),
        (GMAIL_ARC, "gmail.com", "dmarc=pass header.from=gmail.com by mx.google.com"),
        (
            GMAIL_DKIM_ONLY,
            "gmail.com",
            "dkim=pass header.d=gmail.com aligned with gmail.com by mx.google.com",
        ),
        (
            MIMECAST_TOP,
            "ef.example.org",
            "dkim=pass header.d=ef.example.org aligned with ef.example.org by eb.example.jp",
        ),
    ],
)
def test_real_gmail_and_postfix_results_pass(value: str, domain: str, reason: str) -> None:
    server = value.split(";")[0]
    assert check(ar(value), domain=domain, server=server) == Verdict(True, reason)


def test_lower_field_of_our_own_inner_hop_is_not_read() -> None:
    headers = (RECEIVED, ar(MIMECAST_TOP), RECEIVED, ar(MIMECAST_LOWER))
    verdict = check(*headers, domain="ef.example.org", server="smtp.example.jp")
    assert (
        verdict.reason
        == "the topmost Authentication-Results is from eb.example.jp, not smtp.example.jp"
    )


@pytest.mark.parametrize(
    ("signer", "domain", "aligned"),
    [
        ("example.test", "example.test", True),
        ("mail.example.test", "example.test", True),
        ("example.test", "staff.example.test", True),
        ("example.co.uk", "staff.example.co.uk", True),
        ("other.test", "example.test", False),
        ("evilexample.test", "example.test", False),  # a suffix, not a subdomain
        ("example.test.evil.test", "example.test", False),
        ("a.example.test", "b.example.test", True),  # siblings: one organisational domain
        ("mail.example.co.uk", "staff.example.co.uk", True),
        ("example.com.au", "help.example.com.au", True),
        ("mail.example.it", "example.it", True),
        ("example.co.uk", "other.co.uk", False),
        ("example.com.au", "other.com.au", False),
        ("co.uk", "example.co.uk", False),  # public suffix
        ("com.au", "example.com.au", False),
        ("it", "example.it", False),
        ("github.io", "staff.github.io", False),  # shared hosting suffix (private section)
        ("alice.github.io", "bob.github.io", False),
        ("a.blogspot.com", "b.blogspot.com", False),
        ("bucket.s3.amazonaws.com", "other.s3.amazonaws.com", False),
        ("x.city.kawasaki.jp", "city.kawasaki.jp", True),  # !city.kawasaki.jp: an exception
        ("a.kawasaki.jp", "b.kawasaki.jp", False),  # *.kawasaki.jp: a wildcard
        ("test", "example.test", False),  # a single label
        ("a..example.test", "example.test", False),  # an empty label
    ],
)
def test_dkim_pass_counts_only_when_aligned(signer: str, domain: str, aligned: bool) -> None:
    verdict = check(ar(f"{OURS}; dkim=pass header.d={signer} header.s=sel"), domain=domain)
    assert verdict.passed is aligned
    if not aligned:
        assert verdict.reason == f"dkim=pass for d={signer}, not aligned with {domain}"


@pytest.mark.parametrize(
    ("domain", "org"),
    [
        ("example.co.uk", "example.co.uk"),
        ("a.b.example.co.uk", "example.co.uk"),
        ("Staff.Example.COM.AU", "example.com.au"),
        ("help.example.it", "example.it"),
        ("mail.corp.internal", "corp.internal"),  # unknown to the list: a one-label suffix
        ("staff.github.io", "staff.github.io"),  # private section: each owner has a name
        ("www.staff.github.io", "staff.github.io"),
        ("co.uk", None),
        ("github.io", None),
        ("it", None),
        ("", None),
        ("a..example.it", None),
    ],
)
def test_organisational_domain_follows_the_public_suffix_list(domain: str, org: str | None) -> None:
    assert organisational_domain(domain) == org


def test_dkim_identity_falls_back_to_header_i() -> None:
    assert check(ar(f"{OURS}; dkim=pass header.i=staff@mail.{STAFF}")).passed


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (GMAIL_SPF_ONLY, "only spf=pass by mx.google.com: SPF vouches for the envelope, not From"),
        (
            "mx.google.com; spf=pass smtp.mailfrom=example.test; iprev=pass; auth=pass",
            "only spf=pass",
        ),
        (
            "mx.google.com; dmarc=fail header.from=example.test; dkim=pass header.d=example.test",
            "dmarc=fail",
        ),
        (
            "mx.google.com; dmarc=pass header.from=other.test; dkim=pass header.d=example.test",
            "not example.test",
        ),
        (
            "mx.google.com; dmarc=pass; dkim=fail header.d=example.test",
            "dmarc=pass for header.from=?",
        ),
        (
            "mx.google.com; dmarc=none header.from=example.test",
            "dmarc=none header.from=example.test",
        ),
        ("mx.google.com; dkim=fail header.d=example.test; dkim=neutral", "no dmarc or dkim pass"),
        (
            "mx.google.com; x-fancy=pass header.from=example.test; compauth=pass reason=100",
            "no dmarc",
        ),
        ("mx.google.com; none", "no dmarc or dkim pass for example.test by mx.google.com"),
    ],
)
def test_anything_else_fails(value: str, reason: str) -> None:
    verdict = check(ar(value), server="mx.google.com")
    assert not verdict.passed
    assert reason in verdict.reason


def test_conflicting_dmarc_results_in_one_field_never_pass() -> None:
    """Text injected into a comment or an encoded-word could add a second dmarc result."""
    value = f"{OURS}; dmarc=none header.from={STAFF}; dmarc=pass header.from={STAFF}"
    assert not check(ar(value)).passed


# --- Microsoft 365 ----------------------------------------------------------------------------


def m365(*headers: tuple[str, str], domain: str, guess: bool = False) -> Verdict:
    return authenticate([*headers, FROM], domain, "Microsoft365", allow_bestguesspass=guess)


EXO = "Exchange Online (no authserv-id)"


@pytest.mark.parametrize(
    ("value", "domain", "reason"),
    [
        (M365_CONTOSO, "contoso.com", f"dmarc=pass header.from=contoso.com by {EXO}"),
        (M365_OUTLOOK, "outlook.com", f"dmarc=pass header.from=outlook.com by {EXO}"),
    ],
)
def test_m365_field_without_authserv_id_passes(value: str, domain: str, reason: str) -> None:
    assert m365(RECEIVED, ar(value), domain=domain) == Verdict(True, reason)


def test_m365_topmost_field_with_an_authserv_id_fails() -> None:
    verdict = m365(
        ar(f"mx.other.test; dmarc=pass header.from={STAFF}"), ar(M365_CONTOSO), domain=STAFF
    )
    assert verdict.reason == f"the topmost Authentication-Results is from mx.other.test, not {EXO}"


def test_field_without_authserv_id_fails_outside_m365_mode() -> None:
    assert not check(ar(M365_CONTOSO), domain="contoso.com").passed


def test_m365_bestguesspass_needs_the_policy_switch() -> None:
    verdict = m365(ar(M365_BESTGUESS), domain="arm.com")
    assert not verdict.passed
    assert verdict.reason.startswith(
        "dkim=pass for d=armh.onmicrosoft.com, not aligned with arm.com"
    )
    allowed = m365(ar(M365_BESTGUESS), domain="arm.com", guess=True)
    assert allowed == Verdict(True, f"dmarc=bestguesspass header.from=arm.com by {EXO}")


def test_m365_internal_mark_passes_mail_sent_inside_the_tenant() -> None:
    verdict = m365(ar(M365_INTERNAL_AR), RECEIVED, *INTERNAL_MARK, domain="nvidia.com")
    assert verdict == Verdict(
        True,
        "X-MS-Exchange-Organization-AuthAs: Internal (AuthSource "
        "CH0PR12MB5122.namprd12.prod.outlook.com, AuthMechanism 04): "
        "mail sent inside the Exchange Online organisation",
    )
    assert m365(RECEIVED, *INTERNAL_MARK, domain=STAFF).passed  # no A-R at all


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(
            (  # malformed/rt_outlook-rfc822.eml: cross-tenant headers survive outbound mail
                ("x-ms-exchange-crosstenant-authas", "Internal"),
                ("x-ms-exchange-crosstenant-authsource", "MN6PR12MB8566.namprd12.prod.outlook.com"),
            ),
            id="cross-tenant-header",
        ),
        pytest.param(
            (  # a phishing mail on lists.ozlabs.org, 2025: forged by the sender
                ("x-ms-exchange-organization-authas", "Internal74"),
                ("x-ms-exchange-organization-authmechanism", "19"),
                (
                    "x-ms-exchange-organization-authsource",
                    "AM86PR65MB0179.eurprd34.prod.outlook.com",
                ),
            ),
            id="forged-value",
        ),
        pytest.param(
            (("x-ms-exchange-organization-authas", "Anonymous"), *INTERNAL_MARK), id="two-authas"
        ),
        pytest.param(INTERNAL_MARK[:2], id="no-authsource"),
        pytest.param((ar("mx.other.test; dmarc=none"), *INTERNAL_MARK), id="foreign-topmost-ar"),
        pytest.param(
            (ar(f"dmarc=fail action=oreject header.from={STAFF}"), *INTERNAL_MARK), id="dmarc-fail"
        ),
        pytest.param((ar("dkim=pass (unclosed"), *INTERNAL_MARK), id="unparseable-topmost-ar"),
    ],
)
def test_m365_internal_mark_is_refused_when_doubtful(headers: tuple[tuple[str, str], ...]) -> None:
    assert not m365(RECEIVED, *headers, domain=STAFF).passed


def test_internal_mark_is_ignored_outside_m365_mode() -> None:
    assert not check(RECEIVED, *INTERNAL_MARK).passed


def test_m365_failure_explains_both_checks() -> None:
    verdict = m365(ar(M365_INTERNAL_AR), domain="nvidia.com")
    assert verdict == Verdict(
        False,
        f"dmarc=none header.from=nvidia.com by {EXO}; "
        "no X-MS-Exchange-Organization-AuthAs: Internal",
    )
