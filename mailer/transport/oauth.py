"""XOAUTH2 access tokens: client credentials, a refresh token, or a command that prints one.

A ``TokenSource`` caches the token until 5 minutes before it expires, so IMAP and SMTP
logins do not each cost a round trip, and ``invalidate()`` drops it after a refused login
so the one retry uses a fresh token. Secrets are read at each fetch (a rotated secret is
picked up without a restart) and never appear in messages or logs.
"""

from __future__ import annotations

import json
import logging
import os
import re
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from mailer.errors import MailerError
from mailer.settings import OAuthSettings

log = logging.getLogger(__name__)
MARGIN = 300.0  # refresh this long before expiry
COMMAND_LIFETIME = 600.0  # a bare token from a command: assume it lasts this long
DEFAULT_LIFETIME = 3600.0  # a token endpoint that omits expires_in
_CREDENTIALS = re.compile(r"\$(?:\{CREDENTIALS_DIRECTORY\}|CREDENTIALS_DIRECTORY\b)")

HINTS = {
    "invalid_client": (
        "the client ID or secret was refused: in Azure (App registrations > Certificates & "
        "secrets) or Google Cloud (Credentials) check client_id and that the secret file "
        "holds the secret's current *value* (not its ID) and has not expired"
    ),
    "invalid_grant": (
        "the refresh token was refused (expired, revoked, or issued to another client_id): "
        "sign in again to get a new one and put it in refresh_token_file"
    ),
    "unauthorized_client": (
        "this app may not use this flow: in Azure add the application permissions "
        "IMAP.AccessAsApp / SMTP.SendAsApp (Office 365 Exchange Online) and grant admin consent"
    ),
    "invalid_scope": "the scope was refused: remove scope to use the provider's default",
    "invalid_request": "check tenant, token_url and client_id",
}


class OAuthError(MailerError):
    """No access token could be had; the message says what to fix."""


@dataclass(frozen=True)
class Token:
    value: str
    expires_at: float  # on the source's clock


Post = Callable[[str, Mapping[str, str], float], tuple[int, bytes]]


def http_post(url: str, form: Mapping[str, str], timeout: float) -> tuple[int, bytes]:
    """POST ``form`` url-encoded; (status, body) also for 4xx/5xx. TLS verified."""
    request = urllib.request.Request(
        url,
        data=urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        method="POST",
    )
    context = ssl.create_default_context() if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise OAuthError(f"cannot reach the token endpoint {url}: {reason}") from exc


class TokenSource:
    """One cached access token; thread-safe, as IMAP runs in a worker thread."""

    def __init__(
        self,
        settings: OAuthSettings,
        *,
        clock: Callable[[], float] = time.time,
        post: Post = http_post,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.clock, self.post = clock, post
        self.environ = os.environ if environ is None else environ
        self.cached: Token | None = None
        self.rotated: str | None = None  # a refresh token the server handed back
        self.in_file: str | None = None  # the file's content when we last read or wrote it
        self.lock = threading.Lock()

    def token(self, now: float | None = None) -> str:
        now = self.clock() if now is None else now
        with self.lock:
            if self.cached is None or now >= self.cached.expires_at:
                value, lifetime = self._fetch()
                margin = min(MARGIN, lifetime / 2)
                self.cached = Token(value, now + lifetime - margin)
            return self.cached.value

    def invalidate(self) -> None:
        with self.lock:
            self.cached = None

    def _fetch(self) -> tuple[str, float]:
        s = self.settings
        if s.flow == "command":
            return run_command(s.command, s.timeout)
        form = {"client_id": s.client_id, "scope": s.scope}
        secret = self._secret("client_secret", s.client_secret_file, s.client_secret_env)
        if secret:
            form["client_secret"] = secret
        if s.flow == "client_credentials":
            form["grant_type"] = "client_credentials"
        else:
            given = self._secret("refresh_token", s.refresh_token_file, s.refresh_token_env)
            if given != self.in_file:  # an admin wrote a new one (a fresh sign-in): it wins
                self.rotated, self.in_file = None, given
            refresh = self.rotated or given
            form |= {"grant_type": "refresh_token", "refresh_token": refresh or ""}
        status, body = self.post(s.token_url, form, s.timeout)
        data = _json(body)
        if status != 200 or not isinstance(data.get("access_token"), str):
            raise OAuthError(_refusal(s.token_url, status, data))
        new_refresh = data.get("refresh_token")
        if isinstance(new_refresh, str) and new_refresh and s.flow == "refresh_token":
            self._keep_refresh_token(new_refresh)
        return str(data["access_token"]), _lifetime(data.get("expires_in"), DEFAULT_LIFETIME)

    def _secret(self, name: str, file: str | None, env: str | None) -> str | None:
        if env:
            if env not in self.environ:
                raise OAuthError(
                    f"environment variable {env} ({name}) is not set; export it where mailer "
                    "runs (EnvironmentFile= in the systemd unit)"
                )
            return self.environ[env]
        if not file:
            return None
        path = self._path(file)
        try:
            return path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise OAuthError(
                f"cannot read {name} from {path}: {reason}; create it holding only the "
                f"{name.replace('_', ' ')} (readable by mailer alone), or fix the path"
            ) from exc

    def _path(self, raw: str) -> Path:
        where = self.environ.get("CREDENTIALS_DIRECTORY", "")
        return Path(_CREDENTIALS.sub(lambda _: where, raw))

    def _keep_refresh_token(self, value: str) -> None:
        """Microsoft rotates refresh tokens: keep the newest, in the file when there is one."""
        if value == self.rotated:
            return
        self.rotated = value
        file = self.settings.refresh_token_file
        if not file or _CREDENTIALS.search(file):
            return  # an env variable or a read-only systemd credential: memory only
        path = self._path(file)
        try:  # a unique temp file, synced, then renamed: the only token is never half-written
            fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(value + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, 0o600)
            os.replace(temporary, path)
            folder = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
            self.in_file = value
        except OSError as exc:
            log.warning("cannot save the new refresh token to %s: %s", path, exc.strerror)


def run_command(argv: tuple[str, ...], timeout: float) -> tuple[str, float]:
    """Run the token command: stdout is the token, or JSON with access_token/expires_in."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise OAuthError(
            f"token command {argv[0]} not found; fix command in [imap.oauth] or [smtp.oauth]"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise OAuthError(f"token command {argv[0]} did not finish within {timeout:g} s") from exc
    except OSError as exc:
        raise OAuthError(f"cannot run token command {argv[0]}: {exc.strerror}") from exc
    error = done.stderr.strip()[-500:]
    if done.returncode != 0:
        raise OAuthError(f"token command {argv[0]} failed ({done.returncode}): {error}")
    out = done.stdout.strip()
    if out.startswith("{"):
        data = _json(out.encode())
        if isinstance(data.get("access_token"), str):
            token = str(data["access_token"])
            return token, _lifetime(data.get("expires_in"), COMMAND_LIFETIME)
    if not out or any(c.isspace() for c in out):
        shown = f": {error}" if error else ""
        raise OAuthError(
            f"token command {argv[0]} printed no token (expected one line holding it){shown}"
        )
    return out, COMMAND_LIFETIME


def _json(body: bytes) -> dict[str, object]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _lifetime(value: object, fallback: float) -> float:
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return fallback
    return seconds if seconds > 0 else fallback


def _refusal(url: str, status: int, data: Mapping[str, object]) -> str:
    """What the endpoint said, and what to change; never the request (it holds secrets)."""
    error = str(data.get("error") or "")
    description = str(data.get("error_description") or "").splitlines()
    said = f"{error}: {description[0]}" if description else error or "no access_token"
    hint = HINTS.get(error, "check the oauth settings against the README")
    return f"token endpoint {url} refused (HTTP {status}, {said}); {hint}"


_sources: dict[OAuthSettings, TokenSource] = {}
_sources_lock = threading.Lock()


def source_for(settings: OAuthSettings) -> TokenSource:
    """One source per settings, so reconnects and SMTP connections share a cached token."""
    with _sources_lock:
        if settings not in _sources:
            _sources[settings] = TokenSource(settings)
        return _sources[settings]
