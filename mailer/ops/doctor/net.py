"""What the IMAP and SMTP checks of ``mailer doctor`` share: DNS, TCP, TLS, the password.

Each failure is turned into what it means for the admin: "connection refused" is a wrong
port or a stopped server, a self-signed certificate wants ``ca_file``, and so on. The
password itself never appears in a message, only where it comes from.
"""

from __future__ import annotations

import datetime as dt
import errno
import ipaddress
import os
import socket
import ssl
import threading
import time
import tomllib
from pathlib import Path
from typing import Any

from mailer.config.transport import DEFAULT_PORTS
from mailer.ops.doctor.checklist import Outcome, fail, ok, warn
from mailer.settings import Security

STEP_CAP = 10.0  # seconds: one slow step must not make the doctor look hung
EXPIRY_WARNING_DAYS = 14
_NOT_TLS = ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG")
_OLD_TLS = ("TLSV1_ALERT_PROTOCOL_VERSION", "UNSUPPORTED_PROTOCOL", "NO_PROTOCOLS_AVAILABLE")


def step_timeout(configured: float) -> float:
    return min(configured, STEP_CAP)


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def port_hint(section: str, port: int, security: Security) -> str:
    usual = DEFAULT_PORTS[section][security]
    if port == usual:
        return f'check [{section}] port ({port}, the usual one for security = "{security}")'
    return f'check [{section}] port ({port}; {usual} is usual for security = "{security}")'


def resolve(section: str, host: str, timeout: float) -> Outcome:
    """getaddrinfo in a thread: the resolver has no timeout of its own."""
    found: list[Any] = []

    def lookup() -> None:
        try:
            found.append(socket.getaddrinfo(host, None, type=socket.SOCK_STREAM))
        except OSError as exc:
            found.append(exc)

    worker = threading.Thread(target=lookup, daemon=True)
    worker.start()
    worker.join(timeout)
    if not found:
        return fail(
            f"no answer from DNS within {timeout:g} s",
            "check /etc/resolv.conf and that this machine reaches its DNS server",
        )
    if isinstance(found[0], OSError):
        exc = found[0]
        if isinstance(exc, socket.gaierror) and exc.errno == socket.EAI_AGAIN:
            return fail(f"temporary DNS failure: {exc.strerror}", "try again; check the DNS server")
        return fail(
            f"{host} does not resolve ({getattr(exc, 'strerror', None) or exc})",
            f"check [{section}] host for typos (`getent hosts {host}` must print an address)",
        )
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found[0]))
    return ok(", ".join(addresses[:4]) + (" …" if len(addresses) > 4 else ""))


def tcp_connect(section: str, host: str, port: int, security: Security, timeout: float) -> Outcome:
    """A plain TCP connection, opened and closed: tells "nothing listens" from "no answer"."""
    try:
        with socket.create_connection((host.strip("[]"), port), timeout=timeout) as sock:
            peer = sock.getpeername()[0]
    except ConnectionRefusedError:
        return fail(
            "connection refused (nothing listens there)",
            f"{port_hint(section, port, security)} and that the server runs on {host}",
        )
    except TimeoutError:
        return fail(
            f"no answer within {timeout:g} s",
            f"a firewall may drop the connection, or [{section}] host or port is wrong",
        )
    except OSError as exc:
        if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return fail(
                f"{exc.strerror}", f"check the network route to {host} and [{section}] host"
            )
        return fail(f"{exc.strerror or exc}", f"check [{section}] host and port")
    return ok(f"connected to {peer} port {port}")


def tls_failure(exc: BaseException, section: str, host: str, ca_file: str | None) -> Outcome | None:
    """What a failed TLS handshake means and how to fix it; None when it was not TLS."""
    error = _ssl_error(exc)
    if error is None:
        return None
    if isinstance(error, ssl.SSLCertVerificationError):
        return _verification(error, section, host, ca_file)
    reason = str(getattr(error, "reason", "") or "")
    if reason in _NOT_TLS:
        return fail(
            "the server did not answer in TLS on this port",
            f'this port speaks plain text first: set [{section}] security = "starttls", or use '
            f"port {DEFAULT_PORTS[section]['tls']} for TLS",
        )
    if reason in _OLD_TLS:
        return fail(
            f"no TLS version in common ({reason})",
            "the server offers only old TLS versions: enable TLS 1.2 or later there",
        )
    if isinstance(error, ssl.SSLEOFError) or "EOF" in reason:
        return fail(
            "the server closed the connection during the TLS handshake",
            f"check that [{section}] port speaks TLS, and the server's log",
        )
    return fail(f"TLS handshake failed: {reason or error}", "check the server's TLS set-up")


def _ssl_error(exc: BaseException | None) -> ssl.SSLError | None:
    """The ssl error inside a library's wrapper exception, if there is one."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, ssl.SSLError):
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def _verification(
    error: ssl.SSLCertVerificationError, section: str, host: str, ca_file: str | None
) -> Outcome:
    code, message = error.verify_code, str(error.verify_message)
    untrusted = f"ca_file {ca_file} does not hold the CA that signed it" if ca_file else ""
    set_ca = (
        f"put the CA certificate (PEM) that signed the server's certificate in {ca_file}"
        if ca_file
        else f"set [{section}] ca_file to the CA certificate (PEM) that signed it"
    )
    if code == 10:
        return fail("the server's certificate has expired", "renew the certificate on the server")
    if code == 9:
        return fail(
            "the server's certificate is not valid yet",
            "check the clock of this machine and of the server",
        )
    if code == 18:
        detail = "the server's certificate is self-signed"
        if not ca_file:
            fix = f"if you trust it, save it as PEM and set [{section}] ca_file to that file"
            return fail(detail, fix)
        return fail(f"{detail}; {untrusted}", f"save the server's certificate as PEM in {ca_file}")
    if code in (19, 2, 20, 21):
        kind = "a self-signed CA" if code == 19 else "a CA"
        detail = f"the certificate is signed by {kind} this machine does not trust"
        if ca_file:
            detail = f"{detail} ({untrusted})"
        return fail(detail, f"{set_ca}, or have the server send its intermediate certificates")
    if code in (62, 64):
        what = "IP address" if code == 64 else "name"
        return fail(
            f"hostname mismatch: the certificate does not list the {what} {host}",
            f"set [{section}] host to a name the server's certificate lists",
        )
    return fail(f"certificate not accepted: {message}", set_ca)


def describe_tls(conn: ssl.SSLSocket | ssl.SSLObject | None) -> Outcome:
    """The TLS version and the certificate's names and end; warn when it ends soon."""
    if conn is None:
        return warn("no TLS session found after the handshake")
    cert: Any = conn.getpeercert() or {}
    names = [str(v) for k, v in cert.get("subjectAltName", ()) if k in ("DNS", "IP Address")]
    detail = f"{conn.version()}, certificate verified"
    if names:
        detail += f" for {', '.join(names[:3])}" + (" …" if len(names) > 3 else "")
    if "notAfter" in cert:
        ends = ssl.cert_time_to_seconds(cert["notAfter"])
        day = dt.datetime.fromtimestamp(ends, dt.UTC).date().isoformat()
        detail += f", valid until {day}"
        left = (ends - time.time()) / 86400
        if left < EXPIRY_WARNING_DAYS:
            return warn(f"{detail} ({left:.0f} days left)", "renew the certificate on the server")
    return ok(detail)


def password_source(config: Path | None, section: str) -> str:
    """Where the password was read from, for "check ... and the password in X" hints."""
    table: Any = {}
    if config is not None:
        try:
            table = tomllib.loads(config.read_text(encoding="utf-8-sig")).get(section, {})
        except (OSError, UnicodeError, tomllib.TOMLDecodeError):
            table = {}
    if not isinstance(table, dict):
        table = {}
    if isinstance(table.get("password_file"), str):
        # $CREDENTIALS_DIRECTORY (systemd's LoadCredential=) stays as written when unset
        expanded = os.path.expandvars(table["password_file"])
        path = Path(expanded).expanduser()
        if config is not None and not path.is_absolute() and "$" not in expanded:
            path = config.parent / path
        return f"the password in {path} (password_file)"
    if isinstance(table.get("password_env"), str):
        return f"the password in ${table['password_env']} (password_env)"
    return f"[{section}] password in {config}" if config else f"[{section}] password"


def tls_context(security: str, ca_file: str | None) -> ssl.SSLContext | None:
    """The verifying context the daemon uses (None for plain); OSError/SSLError on a bad
    ``ca_file``, which the caller turns into its FAIL line."""
    return ssl.create_default_context(cafile=ca_file) if security != "none" else None
