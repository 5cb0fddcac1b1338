"""XOAUTH2 tokens: the three flows against a local token endpoint, caching, errors, config."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from mailer.config.load import check_settings
from mailer.config.oauth import GOOGLE_SCOPE, GOOGLE_URL, MICROSOFT_APP_SCOPE
from mailer.settings import OAuthSettings
from mailer.transport.oauth import OAuthError, TokenSource
from tests.unit.test_config import config_text, errors, write


class Endpoint:
    """A token endpoint on 127.0.0.1: records each form, answers from ``replies``."""

    def __init__(self) -> None:
        self.forms: list[dict[str, str]] = []
        self.replies: list[tuple[int, dict[str, object]]] = []
        self.issued = 0
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                form = parse_qs(self.rfile.read(length).decode())
                endpoint.forms.append({k: v[0] for k, v in form.items()})
                endpoint.issued += 1
                status, body = (
                    endpoint.replies.pop(0)
                    if endpoint.replies
                    else (200, {"access_token": f"tok-{endpoint.issued}", "expires_in": 3600})
                )
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    served = Endpoint()
    yield served
    served.server.shutdown()
    served.server.server_close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def secret_file(tmp_path: Path, name: str, value: str) -> str:
    path = tmp_path / name
    path.write_text(value + "\n", encoding="utf-8")
    return str(path)


# ---- flows -------------------------------------------------------------------------------


def test_client_credentials_posts_the_app_secret_and_caches(
    endpoint: Endpoint, tmp_path: Path
) -> None:
    settings = OAuthSettings(
        "client_credentials",
        token_url=endpoint.url,
        client_id="app",
        client_secret_file=secret_file(tmp_path, "secret", "s3cret"),
        scope=MICROSOFT_APP_SCOPE,
    )
    clock = Clock()
    source = TokenSource(settings, clock=clock)
    assert source.token() == "tok-1"
    assert source.token() == "tok-1"
    assert endpoint.forms == [
        {
            "client_id": "app",
            "client_secret": "s3cret",
            "scope": MICROSOFT_APP_SCOPE,
            "grant_type": "client_credentials",
        }
    ]
    clock.now += 3600 - 301
    assert source.token() == "tok-1"
    clock.now += 2  # within 5 minutes of expiry: refreshed ahead of time
    assert source.token() == "tok-2"
    source.invalidate()
    assert source.token() == "tok-3"


def test_refresh_token_flow_keeps_a_rotated_refresh_token(
    endpoint: Endpoint, tmp_path: Path
) -> None:
    file = secret_file(tmp_path, "refresh", "r1")
    settings = OAuthSettings(
        "refresh_token",
        token_url=endpoint.url,
        client_id="desk",
        client_secret_env="SECRET",
        refresh_token_file=file,
        scope=GOOGLE_SCOPE,
    )
    endpoint.replies.append((200, {"access_token": "a1", "expires_in": 60, "refresh_token": "r2"}))
    clock = Clock()
    source = TokenSource(settings, clock=clock, environ={"SECRET": "cs"})
    assert source.token() == "a1"
    clock.now += 31  # a short-lived token is refreshed at half its life
    assert source.token() == "tok-2"
    first, second = endpoint.forms
    assert first["grant_type"] == "refresh_token" and first["refresh_token"] == "r1"
    assert first["client_secret"] == "cs"
    assert second["refresh_token"] == "r2"
    assert Path(file).read_text() == "r2\n"
    assert Path(file).stat().st_mode & 0o077 == 0
    assert [p.name for p in Path(file).parent.iterdir() if p.name.startswith(".")] == []
    Path(file).write_text("r9\n")  # the admin signed in again: the file wins over memory
    clock.now += 3600
    source.token()
    assert endpoint.forms[2]["refresh_token"] == "r9"


def test_command_flow_runs_the_program_and_uses_stdout(tmp_path: Path) -> None:
    settings = OAuthSettings("command", command=(sys.executable, "-c", "print('cmd-token')"))
    assert TokenSource(settings).token() == "cmd-token"
    as_json = 'import json; print(json.dumps({"access_token": "j", "expires_in": 900}))'
    source = TokenSource(OAuthSettings("command", command=(sys.executable, "-c", as_json)))
    assert source.token(now=0) == "j"
    assert source.cached is not None and source.cached.expires_at == 600


@pytest.mark.parametrize(
    ("script", "says"),
    [
        (
            "import sys; sys.stderr.write('no such mailbox'); sys.exit(3)",
            "failed \\(3\\): no such mailbox",
        ),
        ("pass", "printed no token"),
        ("import time; time.sleep(5)", "did not finish within 1 s"),
    ],
)
def test_command_failures_say_why(script: str, says: str) -> None:
    settings = OAuthSettings("command", command=(sys.executable, "-c", script), timeout=1)
    with pytest.raises(OAuthError, match=says):
        TokenSource(settings).token()


def test_a_missing_command_is_named() -> None:
    settings = OAuthSettings("command", command=("/nonexistent/get-token",))
    with pytest.raises(OAuthError, match="/nonexistent/get-token not found"):
        TokenSource(settings).token()


# ---- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "hint"),
    [
        ("invalid_client", "secret's current \\*value\\*"),
        ("invalid_grant", "get a new one"),
        ("unauthorized_client", "IMAP.AccessAsApp"),
    ],
)
def test_refusals_say_what_to_fix_and_never_the_secret(
    endpoint: Endpoint, tmp_path: Path, error: str, hint: str
) -> None:
    endpoint.replies.append((400, {"error": error, "error_description": "AADSTS7000215: x\ny"}))
    settings = OAuthSettings(
        "client_credentials",
        token_url=endpoint.url,
        client_id="app",
        client_secret_file=secret_file(tmp_path, "secret", "s3cret"),
    )
    with pytest.raises(OAuthError, match=hint) as caught:
        TokenSource(settings).token()
    assert f"HTTP 400, {error}: AADSTS7000215: x)" in str(caught.value)
    assert "s3cret" not in str(caught.value)


def test_unreachable_endpoint_and_missing_secrets_are_reported(tmp_path: Path) -> None:
    closed = OAuthSettings("client_credentials", token_url="http://127.0.0.1:9/t", timeout=2)
    with pytest.raises(OAuthError, match="cannot reach the token endpoint"):
        TokenSource(closed).token()
    no_env = OAuthSettings("client_credentials", client_secret_env="NOPE")
    with pytest.raises(OAuthError, match="environment variable NOPE"):
        TokenSource(no_env, environ={}).token()
    no_file = OAuthSettings("client_credentials", client_secret_file=str(tmp_path / "x"))
    with pytest.raises(OAuthError, match="cannot read client_secret from"):
        TokenSource(no_file).token()


# ---- config ------------------------------------------------------------------------------

IMAP_OAUTH = 'host = "127.0.0.1"\nport = 10143\nsecurity = "none"\nusername = "desk@x.test"\n'


def load(tmp_path: Path, imap: str, smtp: str | None = None) -> tuple[object, list[str]]:
    text = config_text(imap=imap) if smtp is None else config_text(imap=imap, smtp=smtp)
    settings, problems = check_settings(write(tmp_path, text), environ={})
    return settings, [str(p) for p in errors(problems)]


def test_microsoft_client_credentials_config(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("s\n")
    imap = IMAP_OAUTH + (
        'auth = "xoauth2"\n[imap.oauth]\nflow = "client_credentials"\ntenant = "contoso.com"\n'
        'client_id = "app"\nclient_secret_file = "secret"\n'
    )
    settings, problems = load(tmp_path, imap)
    assert problems == []
    oauth = settings.imap.oauth  # type: ignore[attr-defined]
    assert oauth.token_url == "https://login.microsoftonline.com/contoso.com/oauth2/v2.0/token"
    assert oauth.scope == MICROSOFT_APP_SCOPE
    assert oauth.client_secret_file == str(tmp_path / "secret")
    assert settings.imap.password == ""  # type: ignore[attr-defined]


def test_google_refresh_token_and_smtp_command_config(tmp_path: Path) -> None:
    imap = IMAP_OAUTH + (
        'auth = "xoauth2"\noauth = { flow = "refresh_token", client_id = "c", '
        'client_secret_env = "S", refresh_token_env = "R" }\n'
    )
    smtp = (
        'host = "127.0.0.1"\nport = 10025\nsecurity = "none"\nusername = "desk@x.test"\n'
        'auth = "xoauth2"\noauth = { flow = "command", command = ["get-token"] }\n'
    )
    settings, problems = load(tmp_path, imap, smtp)
    assert problems == []
    oauth = settings.imap.oauth  # type: ignore[attr-defined]
    assert (oauth.token_url, oauth.scope) == (GOOGLE_URL, GOOGLE_SCOPE)
    assert settings.smtp.oauth.command == ("get-token",)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("oauth", "expected"),
    [
        ('flow = "client_credentials"\nclient_id = "a"\nclient_secret_env = "S"\n', "tenant"),
        ('flow = "refresh_token"\nclient_id = "a"\n', "oauth.refresh_token_file: required"),
        ('flow = "command"\ncomand = ["x"]\n', "oauth.comand: unknown key (did you mean 'command'"),
        ('flow = "device"\n', "oauth.flow: expected one of"),
        ('flow = "command"\ncommand = []\n', "oauth.command: expected the program"),
        (
            'flow = "refresh_token"\nclient_id = "a"\nrefresh_token_env = "R"\n'
            'token_url = "http://login.example.test/token"\n',
            "oauth.token_url: expected an",
        ),
    ],
)
def test_oauth_config_problems_point_at_the_key(tmp_path: Path, oauth: str, expected: str) -> None:
    imap = IMAP_OAUTH + f'auth = "xoauth2"\n[imap.oauth]\n{oauth}'
    _, problems = load(tmp_path, imap)
    assert any(expected in p and "[imap]" in p for p in problems), problems
    assert all(":0:" not in p for p in problems), problems


def test_xoauth2_without_a_table_says_what_to_add(tmp_path: Path) -> None:
    _, problems = load(tmp_path, IMAP_OAUTH + 'auth = "xoauth2"\n')
    assert any("needs an [imap.oauth] table" in p for p in problems), problems


def test_smtp_xoauth2_needs_a_username(tmp_path: Path) -> None:
    smtp = (
        'host = "127.0.0.1"\nport = 10025\nsecurity = "none"\n'
        'auth = "xoauth2"\noauth = { flow = "command", command = ["get-token"] }\n'
    )
    _, problems = load(tmp_path, IMAP_OAUTH + 'password = "x"\n', smtp)
    assert any("[smtp] username: required with auth" in p for p in problems), problems
