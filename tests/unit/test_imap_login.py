"""Which IMAP login carries the credentials (issue 11: a non-ASCII password killed the intake)."""

from __future__ import annotations

import pytest

from mailer.transport.imap import CannotLogIn, login_mechanism

CAPS = frozenset({b"IMAP4REV1", b"IDLE", b"AUTH=PLAIN", b"AUTH=LOGIN"})


def test_ascii_credentials_use_login() -> None:
    assert login_mechanism(CAPS, "helpdesk", "s3cr3t!") == "LOGIN"
    assert login_mechanism(frozenset(), "helpdesk", "s3cr3t!") == "LOGIN"


@pytest.mark.parametrize(("username", "password"), [("helpdesk", "pässwörd-€"), ("jörg", "x")])
def test_non_ascii_credentials_use_authenticate_plain(username: str, password: str) -> None:
    assert login_mechanism(CAPS, username, password) == "PLAIN"


def test_non_ascii_credentials_without_auth_plain_cannot_log_in() -> None:
    with pytest.raises(CannotLogIn, match=r"non-ASCII.*AUTHENTICATE PLAIN") as found:
        login_mechanism(frozenset({b"IMAP4REV1", b"AUTH=LOGIN"}), "helpdesk", "pässwörd")
    assert "ASCII" in found.value.hint and "mailer doctor" in found.value.hint


def test_a_nul_character_cannot_be_carried_at_all() -> None:
    with pytest.raises(CannotLogIn, match="NUL"):
        login_mechanism(CAPS, "helpdesk", "se\0cret")
