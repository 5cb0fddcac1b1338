"""What [imap] and [smtp] share: host, port by security, clear-text refusal, secrets.

A password comes from exactly one of ``password``, ``password_file`` or ``password_env``,
so the admin can keep it out of the config. ``security = "none"`` is refused off loopback
unless ``allow_insecure = true``: credentials in clear text must be a conscious choice.
"""

from __future__ import annotations

import ipaddress
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mailer.config import values as v
from mailer.config.tables import Table, default

SECRET_KEYS = ("password", "password_file", "password_env")
MASK = "********"  # how ``mailer config`` shows a password written in the config
CONNECTION_KEYS = (
    "host",
    "port",
    "security",
    "allow_insecure",
    "username",
    *SECRET_KEYS,
    "timeout",
    "ca_file",
    "auth",
    "oauth",
)
DEFAULT_PORTS = {
    "imap": {"tls": 993, "starttls": 143, "none": 143},
    "smtp": {"tls": 465, "starttls": 587, "none": 25},
}


def is_loopback(name: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: clear text never leaves the machine."""
    if name.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def read_connection(table: Table, section: str, base: Path, out: dict[str, Any], cls: type) -> None:
    """Fill host, port, security, allow_insecure, timeout and ca_file into ``out``."""
    out["host"] = table.require("host", v.host, "")
    table.fill(out, "security", v.choice("tls", "starttls", "none"))
    table.fill(out, "allow_insecure", v.boolean)
    table.fill(out, "timeout", v.duration(0.1))
    table.fill(out, "port", v.integer(1, 65535))
    security = out.get("security", default(cls, "security"))
    out.setdefault("port", DEFAULT_PORTS[section][security])
    remote = bool(out["host"]) and not is_loopback(out["host"])
    if security == "none" and remote and not out.get("allow_insecure", False):
        table.problem(
            "security" if "security" in table.data else "host",
            f'"none" sends mail and passwords in clear text to {out["host"]}; use "tls" or '
            '"starttls", or set allow_insecure = true if that network is trusted',
        )
    ca_file = table.path("ca_file", base)
    if ca_file is not None:
        if not ca_file.is_file():
            table.problem("ca_file", f"file {ca_file} does not exist")
        out["ca_file"] = str(ca_file)
    _read_auth(table, section, base, out)


def _read_auth(table: Table, section: str, base: Path, out: dict[str, Any]) -> None:
    """``auth = "xoauth2"`` needs [section.oauth] and a username, and takes no password."""
    from mailer.config.oauth import read_oauth  # it needs is_loopback from here

    table.fill(out, "auth", v.choice("password", "xoauth2"))
    if out.get("auth") != "xoauth2":
        if "oauth" in table.data:
            message = 'is ignored unless auth = "xoauth2"'
            table.problem("oauth", message, warning=True)
        return
    oauth = read_oauth(table, section, base)
    if oauth is not None:
        out["oauth"] = oauth
    if section == "smtp" and "username" not in table.data:
        table.problem(
            "username",
            'required with auth = "xoauth2": the mailbox address the token is for',
        )


def read_secret(
    table: Table, base: Path, environ: Mapping[str, str], required: bool, *, reach: bool = True
) -> str | None:
    """The password from exactly one of password, password_file, password_env.

    ``reach=False`` (commands that never connect: rules test, replay, preview) names the
    source without reading it: an admin's shell need not see the daemon's secret."""
    given = [key for key in SECRET_KEYS if key in table.data]
    if table.data.get("auth") == "xoauth2":
        for key in given:
            section = table.section or "imap"
            message = f'is ignored with auth = "xoauth2": the token comes from [{section}.oauth]'
            table.problem(key, message, warning=True)
        return "" if required else None
    if len(given) > 1:
        table.problem(given[1], f"give only one of {', '.join(given)}; they all set the password")
        return None
    if not given:
        if required:
            table.problem(
                "password",
                "required key is missing: set password, password_file "
                "(a file holding it) or password_env (a variable holding it)",
            )
        return None
    if given[0] == "password":
        password = table.get("password", v.text, None)
        if password == MASK:
            message = f'is "{MASK}", the mask `mailer config` prints: put the real one back'
            table.problem("password", message, warning=True)
        return password
    if not reach:
        return ""
    if given[0] == "password_env":
        name = table.get("password_env", v.string, "")
        if name and name not in environ:
            table.problem(
                "password_env",
                f"environment variable {name} is not set; export "
                "it where mailer runs (EnvironmentFile= in the systemd unit)",
            )
        return environ.get(name) if name else None
    return _password_file(table, base, environ)


def check_carried(table: Table, section: str, password: str | None) -> None:
    """A password the login cannot carry is found here, not at the first connect: a NUL or a
    line break (no login carries them; a password file holds one line), and for IMAP a
    non-ASCII one, which LOGIN cannot carry (mailer then uses AUTHENTICATE PLAIN, UTF-8)."""
    key = next((k for k in SECRET_KEYS if k in table.data), "password")
    if not password:
        return
    if "\0" in password:
        table.problem(key, "the password holds a NUL character, which no login can carry")
    elif "\n" in password or "\r" in password:
        table.problem(
            key,
            "the password holds a line break, which IMAP and SMTP logins cannot carry; "
            "a password file must hold the password alone, on one line",
        )
    elif section == "imap" and not password.isascii():
        table.problem(
            key,
            "the password has non-ASCII characters, which IMAP LOGIN cannot carry: mailer "
            "logs in with AUTHENTICATE PLAIN (UTF-8) instead, so the server must offer "
            "AUTH=PLAIN (`mailer doctor` tries the login)",
            warning=True,
        )


# systemd's LoadCredential= puts the secret in a directory only the unit sees.
CREDENTIALS = re.compile(r"\$(?:\{CREDENTIALS_DIRECTORY\}|CREDENTIALS_DIRECTORY\b)")


def _password_file(table: Table, base: Path, environ: Mapping[str, str]) -> str | None:
    raw = table.get("password_file", v.string, "")
    if CREDENTIALS.search(raw):
        where = environ.get("CREDENTIALS_DIRECTORY", "")
        if not where:
            table.problem(
                "password_file",
                "$CREDENTIALS_DIRECTORY is not set: systemd sets it for a unit with "
                "LoadCredential= (systemd/mailer.service); outside the unit, give the file's "
                "own path or set CREDENTIALS_DIRECTORY to the directory holding it",
            )
            return None
        raw = CREDENTIALS.sub(lambda _: where, raw)
    if not raw:
        return None
    path = base / Path(raw).expanduser()
    try:
        secret = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode
    except (OSError, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        table.problem(
            "password_file",
            f"cannot read {path}: {reason}; create it holding only "
            "the password (readable by mailer alone), or fix the path",
        )
        return None
    if mode & stat.S_IROTH:
        message = f"{path} is readable by every user; chmod 600 it"
        table.problem("password_file", message, warning=True)
    # Editors add a final newline; it is never part of the password.
    return secret.removesuffix("\n").removesuffix("\r")
