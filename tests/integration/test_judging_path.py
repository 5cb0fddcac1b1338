"""One judging path: the daemon and ``mailer rules replay`` decide alike, message by message.

The whole test corpus is delivered to the sandbox's shared mailbox the way the acceptance
check delivers it and processed by the real daemon (``mailer run --once``). The same bytes,
as the mailbox holds them, are then replayed with ``mailer rules replay --csv``. Every
message gets the same rule and language from both, and the same decision wherever the
daemon knew nothing a replay cannot know.

A replay judges each message as if it arrived now as a new one; the daemon also knows its
store. So the config lifts the per-sender receipt cap (many corpus messages share a sender),
and two kinds of message are told apart, each checked for what it is: a repeated Message-ID
(``duplicate``, recorded once by design) and a reply or bounce that names an earlier message
the daemon put in a request (``follow-up``).
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections import Counter
from pathlib import Path

from mailer.core.reading.parse import parse_message
from mailer.core.reading.robots import bounce_message_ids
from mailer.model import ParsedMessage
from sandbox.servers import MailSandbox
from tests.integration.helpers import SHARED, mailer, write_config

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "data" / "corpus"
SERVICE = f'reference_prefix = "IT"\nrules_file = "{ROOT / "config" / "rules.example.toml"}"\n'
NO_CAP = "[limits]\nreceipts_per_sender = 1000000\n"
DUPLICATE = "duplicate: already processed"

Said = tuple[str, str, str]  # (decision as a replay writes it, rule, language)


def test_the_daemon_and_the_replay_judge_every_corpus_message_alike(
    sandbox: MailSandbox, tmp_path: Path
) -> None:
    paths = sorted(CORPUS.rglob("*.eml"))
    assert len(paths) > 1000, "the whole corpus, every folder"
    for path in paths:
        sandbox.deliver_as_acceptance(path.read_bytes(), SHARED)
    sandbox.wait_for_messages("helpdesk", len(paths), timeout=300)
    config = write_config(tmp_path, sandbox, service_extra=SERVICE, extra=NO_CAP)
    run = mailer(config, "--json-logs", "run", "--once")
    assert run.returncode == 0, run.stderr[-3000:]
    mailbox = stored(sandbox)
    assert len(mailbox) == len(paths)
    daemon = processed(run.stdout)
    assert sorted(daemon) == sorted(mailbox)
    replay = replayed(config, mailbox, tmp_path / "mailbox")
    assert sorted(replay) == sorted(mailbox)

    db = sqlite3.connect(tmp_path / "mailer.sqlite3")
    assert db.execute("SELECT count(*) FROM failures").fetchone()[0] == 0
    recorded = {
        uid: (key, thread_id, (as_replay_says(reason, rule), rule, language))
        for uid, key, reason, rule, language, thread_id in db.execute(
            "SELECT uid, key, reason, rule, language, thread_id FROM messages"
            " WHERE direction = 'in'"
        )
    }
    in_requests: set[str] = set()  # Message-IDs of earlier mail the daemon put in a request
    seen: set[str] = set()
    kinds: Counter[str] = Counter()
    differ: dict[int, tuple[Said, Said, str]] = {}
    for uid in sorted(mailbox):  # the daemon's order
        msg, said, judged = parse(mailbox[uid]), daemon[uid], replay[uid]
        if said[0] == DUPLICATE:
            kind = "duplicate" if msg.key in seen else "duplicate of nothing"
            alike = said[1:] == judged[1:]
        elif said[0].startswith(("follow-up", "bounce of our mail")):
            names = {*msg.references, *msg.in_reply_to, *bounce_message_ids(msg)}
            kind = "joined a request" if names & in_requests else "joined no known request"
            alike = said[1:] == judged[1:]
        else:
            kind, alike = "judged alike", said == judged
        if not alike or kind.endswith("nothing") or kind.endswith("no known request"):
            differ[uid] = (said, judged, kind)
        kinds[kind] += 1
        if uid in recorded:  # what the store says is what the daemon said
            key, thread_id, stored_as = recorded[uid]
            assert (key, stored_as) == (msg.key, said), uid
            if thread_id is not None:
                in_requests.add(key)
        seen.add(msg.key)
    assert differ == {}
    assert len(recorded) == len(mailbox) - kinds["duplicate"]
    assert kinds["judged alike"] > 0.8 * len(mailbox), kinds
    print(f"\n{len(mailbox)} corpus messages through the daemon and the replay: {dict(kinds)}")


def stored(sandbox: MailSandbox) -> dict[int, bytes]:
    """Every message of the shared mailbox by UID, exactly as the daemon fetched it."""
    with sandbox.imap("helpdesk") as client:
        client.select_folder("INBOX", readonly=True)
        found = client.fetch(client.search("ALL"), ["BODY.PEEK[]"])
    return {int(uid): bytes(data[b"BODY[]"]) for uid, data in found.items()}


def processed(log: str) -> dict[int, Said]:
    """The daemon's ``message.processed`` lines: UID -> what it decided, for every message."""
    out: dict[int, Said] = {}
    for line in log.splitlines():
        event = json.loads(line) if line.startswith("{") else {}
        if event.get("event") == "message.processed":
            rule = event["rule"]
            out[event["uid"]] = (as_replay_says(event["decision"], rule), rule, event["language"])
    return out


def replayed(config: Path, mailbox: dict[int, bytes], folder: Path) -> dict[int, Said]:
    """``mailer rules replay --csv`` of the mailbox's messages: UID -> what it decided."""
    folder.mkdir()
    for uid, raw in mailbox.items():
        (folder / f"{uid}.eml").write_bytes(raw)
    result = mailer(config, "rules", "replay", str(folder), "--csv")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = csv.DictReader(io.StringIO(result.stdout))
    return {int(Path(r["source"]).stem): (r["outcome"], r["rule"], r["language"]) for r in rows}


def as_replay_says(reason: str, rule: str) -> str:
    """The daemon's "no receipt: rule R" is the replay's "no receipt (rule R)"."""
    return f"no receipt (rule {rule})" if reason == f"no receipt: rule {rule}" else reason


def parse(raw: bytes) -> ParsedMessage:
    return parse_message(raw, max_size=1 << 26)
