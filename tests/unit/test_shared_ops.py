"""What a shared store shows people: /healthz and the metrics of an active and a standby node,
``mailer status``, and ``mailer threads --mailbox all`` across mailboxes."""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path

import pytest

from mailer.cli.main import main
from mailer.model import Status
from mailer.ops.metrics import server as metrics
from mailer.store import open_store
from sandbox.postgres import Postgres

DATA = Path(__file__).parents[1] / "data" / "config"


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.mark.parametrize(
    ("state", "body", "active"),
    [
        ({"role": "standby", "holder": "node-b:7"}, "ok: standby, node-b:7 is active", 0),
        ({"role": "active", "connected": True, "last_check": 9e99}, "ok: active", 1),
    ],
)
def test_healthz_and_the_metrics_say_active_or_standby(
    tmp_path: Path, state: dict[str, object], body: str, active: int
) -> None:
    running = metrics.start("127.0.0.1:0", tmp_path / "absent.sqlite3", lambda: state)
    try:
        base = f"http://127.0.0.1:{running.port}"
        assert get(f"{base}/healthz") == (200, body + "\n")
        assert f"mailer_node_active {active}.0" in get(f"{base}/metrics")[1]
    finally:
        running.stop()


def config(directory: Path, url: str, address: str, prefix: str) -> Path:
    directory.mkdir()
    text = (DATA / "minimal.toml").read_text()
    text = text.replace('address = "helpdesk@example.test"', f'address = "{address}"\n'
                        f'reference_prefix = "{prefix}"')  # fmt: skip
    text = text.replace('username = "helpdesk"', f'username = "{prefix.lower()}"')
    text = text.replace('path = "mailer.sqlite3"', f'url = "{url}"')
    (directory / "mailer.toml").write_text(text)
    return directory / "mailer.toml"


def test_threads_and_status_span_the_mailboxes_of_a_shared_store(
    tmp_path: Path, postgres: Postgres, capsys: pytest.CaptureFixture[str]
) -> None:
    from mailer.config.load import load_settings

    url = postgres.create_database("spanning")
    for address, prefix in (("it@example.test", "IT"), ("hr@example.test", "HR")):
        settings = load_settings(config(tmp_path / prefix, url, address, prefix))
        store = open_store(settings.store, lock=True)
        assert store.take_lease()
        with store.transaction():
            store.create_thread(
                reference=f"{prefix}-1000", requester="maria@example.org", requester_name="M",
                subject="VPN", category="general", team=None, team_address=None,
                priority="normal", rule="default", language="en", status=Status.NEW,
                root_message_id=None, root_references=None, root_thread_index=None,
                parent_reference=None, created_at=1.0, updated_at=1.0,
            )  # fmt: skip
        store.close()
    it = str(tmp_path / "IT" / "mailer.toml")
    assert main(["--config", it, "threads", "--mailbox", "all", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["mailbox"], r["reference"]) for r in rows] == [
        ("hr@example.test", "HR-1000"),
        ("it@example.test", "IT-1000"),
    ]
    assert main(["--config", it, "threads", "--mailbox", "hr@example.test"]) == 0
    assert "HR-1000" in capsys.readouterr().out
    assert main(["--config", it, "threads"]) == 0  # this mailbox only, as always
    out = capsys.readouterr().out
    assert "IT-1000" in out and "HR-1000" not in out
    assert main(["--config", it, "status", "--json"]) == 0
    leases = json.loads(capsys.readouterr().out)
    assert [(r["mailbox"], r["prefix"]) for r in leases] == [
        ("hr@example.test", "HR"),
        ("it@example.test", "IT"),
    ]
    assert all(r["node"].startswith("(none") for r in leases)  # closed: the leases were given up


def test_status_of_a_sqlite_store_names_its_daemon(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(DATA / "minimal.toml", tmp_path / "mailer.toml")
    assert main(["--config", str(tmp_path / "mailer.toml"), "status"]) == 0
    out = capsys.readouterr().out
    assert "helpdesk@example.test" in out and "(no daemon)" in out
