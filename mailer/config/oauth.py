"""Reading [imap.oauth] / [smtp.oauth]: how mailer gets an XOAUTH2 access token.

One table per section rather than a shared [oauth]: Microsoft 365 and Gmail happen to use
one token for both, but SMTP often goes through another relay or stays on a password, and
a table next to the connection it serves is read without looking elsewhere. Secrets stay
paths or variable names here; ``oauth`` reads them at each fetch.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mailer.config import values as v
from mailer.config.tables import Report, Table
from mailer.config.transport import is_loopback
from mailer.config.values import Invalid
from mailer.settings import OAuthSettings

OAUTH_KEYS = (
    "flow",
    "token_url",
    "tenant",
    "client_id",
    "client_secret_file",
    "client_secret_env",
    "refresh_token_file",
    "refresh_token_env",
    "scope",
    "command",
    "timeout",
)
MICROSOFT_URL = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
GOOGLE_URL = "https://oauth2.googleapis.com/token"
MICROSOFT_APP_SCOPE = "https://outlook.office365.com/.default"
MICROSOFT_USER_SCOPE = "https://outlook.office365.com/.default offline_access"
GOOGLE_SCOPE = "https://mail.google.com/"
# What each flow reads; any other key given is ignored, and said so.
USES = {
    "client_credentials": {"token_url", "tenant", "client_id", "client_secret", "scope"},
    "refresh_token": {"token_url", "tenant", "client_id", "client_secret", "refresh_token"},
    "command": {"command"},
}
_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-]*")
_CREDENTIALS = "CREDENTIALS_DIRECTORY"


class SubTable(Table):
    """A table inside a section: problems read ``[imap] oauth.client_id: ...``."""

    def __init__(self, parent: Table, key: str, data: dict[str, object]) -> None:
        self.prefix = key
        super().__init__(parent.report, (*parent.keypath, key), data, parent.section, OAUTH_KEYS)

    def problem(
        self, key: str | None, message: str, warning: bool = False, index: int | None = None
    ) -> None:
        keypath = self.keypath if key is None else (*self.keypath, key)
        keypath = keypath if index is None else (*keypath, index)
        shown = self.prefix if key is None else f"{self.prefix}.{key}"
        Report.add(self.report, keypath, self.section, shown, message, warning)
        self.ok = self.ok and warning


def token_url(value: object) -> str:
    """https, or plain http to a loopback host only (a test or a local token helper)."""
    url = v.string(value)
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname):
        return url
    raise Invalid(f'expected an "https://..." URL (plain http only to loopback), got "{url}"')


def command(value: object) -> tuple[str, ...]:
    argv = v.listing(v.string)(value)
    if not argv:
        raise Invalid('expected the program and its arguments, e.g. ["/usr/local/bin/get-token"]')
    return argv


def read_oauth(table: Table, section: str, base: Path) -> OAuthSettings | None:
    """The [section.oauth] table; None (with problems reported) when it cannot be used."""
    raw = table.data.get("oauth")
    if not isinstance(raw, dict):
        table.problem(
            "oauth" if "oauth" in table.data else "auth",
            f'auth = "xoauth2" needs an [{section}.oauth] table with flow = '
            '"client_credentials", "refresh_token" or "command" (see the README)',
        )
        return None
    sub = SubTable(table, "oauth", raw)
    out: dict[str, Any] = {"flow": sub.require("flow", v.choice(*USES), "command")}
    flow = out["flow"]
    for key in OAUTH_KEYS[1:]:
        family = key.removesuffix("_file").removesuffix("_env")
        if key in sub.data and key != "flow" and family not in USES[flow] and key != "timeout":
            sub.problem(key, f'is not used with flow = "{flow}"', warning=True)
    sub.fill(out, "timeout", v.duration(1))
    if flow == "command":
        nothing: tuple[str, ...] = ()
        out["command"] = sub.require("command", command, nothing)
    else:
        _read_http(sub, flow, base, out)
    if not sub.ok:
        table.ok = False
        return None
    return OAuthSettings(**out)


def _read_http(sub: Table, flow: str, base: Path, out: dict[str, Any]) -> None:
    tenant = sub.get("tenant", v.string, "")
    if tenant and not _TENANT.fullmatch(tenant):
        sub.problem("tenant", "expected the directory (tenant) ID or a domain like example.com")
    url = sub.get("token_url", token_url, "")
    if not url and tenant:
        url = MICROSOFT_URL.format(tenant=tenant)
    elif not url and flow == "client_credentials":
        sub.problem(
            "tenant",
            "required for the client_credentials flow: the Directory (tenant) ID from the "
            "app registration's Overview in Azure (or give token_url)",
        )
    out["token_url"] = url or GOOGLE_URL
    out["client_id"] = sub.require("client_id", v.string, "")
    microsoft = "login.microsoftonline.com" in out["token_url"]
    if flow == "client_credentials":
        fallback = MICROSOFT_APP_SCOPE
    else:
        fallback = MICROSOFT_USER_SCOPE if microsoft else GOOGLE_SCOPE
    out["scope"] = sub.get("scope", v.string, "") or fallback
    _secret_source(sub, "client_secret", base, out, required=flow == "client_credentials")
    _secret_source(sub, "refresh_token", base, out, required=flow == "refresh_token")


def _secret_source(
    sub: Table, name: str, base: Path, out: dict[str, Any], *, required: bool
) -> None:
    """Exactly one of ``name``_file / ``name``_env when required, at most one otherwise."""
    keys = [f"{name}_file", f"{name}_env"]
    given = [k for k in keys if k in sub.data]
    if len(given) > 1:
        sub.problem(given[1], f"give only one of {' or '.join(keys)}")
        return
    if not given:
        if required:
            sub.problem(
                keys[0],
                f"required key is missing: set {keys[0]} (a file holding it) or {keys[1]} "
                "(an environment variable holding it)",
            )
        return
    value = sub.get(given[0], v.string, "")
    if not value:
        return
    if given[0].endswith("_env"):
        out[given[0]] = value
        return
    if _CREDENTIALS in value:  # systemd's LoadCredential=; resolved where the unit runs
        out[given[0]] = value
        return
    path = base / Path(value).expanduser()
    if not path.exists():
        sub.problem(given[0], f"file {path} does not exist (yet?)", warning=True)
    out[given[0]] = str(path)
