"""The fault matrix (issue 11): a stream of requests against the real Dovecot and Postfix,
one fault in the middle of it, then the count in the requesters' mailbox: every request
answered, none twice.

How "twice" is counted: a receipt is the same hand-over to SMTP however often Postfix and
Dovecot deliver it (a server killed mid-LMTP delivers again, with the same Postfix queue
ID); each distinct Postfix queue ID among one request's receipts is one time mailer handed
the mail over and the server accepted it. So "duplicated" is mailer's doing only.

The faults: SMTP killed mid-DATA and Dovecot killed mid-FETCH (a relay in front of the real
server kills it at that exact moment, ``proxy.py``), the store's disk full then freed (a
2 MB tmpfs), the store's directory and files made read-only while the daemon runs (chattr
+i: even root cannot write them, and a running process sees it, which a chmod of files it
holds open would not show), a store with a damaged page at start (the admin restores the
backup), and the IMAP password rotated while the daemon runs.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import smtplib
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sandbox.servers import MailSandbox
from tests.factories import corrupt_pages
from tests.integration.helpers import (
    SHARED,
    fill_disk,
    log_events,
    mailer,
    parse,
    request,
    small_disk,
    start_daemon,
    stop_daemon,
    write_config,
)
from tests.integration.proxy import FaultProxy

COUNT = 10  # requests per fault
GAP = 0.2  # seconds between two requests
QUEUE_ID = re.compile(r"\(Postfix\) with E?SMTP\w* id (\w+)")


def tune(config: Path, section: str, **values: str | None) -> None:
    """Set keys of ``[section]`` to TOML values as written (None: drop the key)."""
    lines = config.read_text().splitlines(keepends=True)
    start = lines.index(f"[{section}]\n") + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("[")), len(lines))
    kept = [line for line in lines[start:end] if line.split("=")[0].strip() not in values]
    new = [f"{key} = {value}\n" for key, value in values.items() if value is not None]
    config.write_text("".join(lines[:start] + new + kept + lines[end:]))


def matrix_config(directory: Path, sandbox: MailSandbox, **ports: int) -> Path:
    """The sandbox config, retrying deferred mail after 1 s, one SMTP connection (so that
    exactly one mail is in flight when the server dies), optional relay ports."""
    config = write_config(directory, sandbox, smtp_port=ports.get("smtp"))
    tune(config, "smtp", retry_initial='"1s"', retry_max='"2s"', connections="1")
    if "imap" in ports:
        tune(config, "imap", port=str(ports["imap"]))
    return config


class Stream:
    """``COUNT`` requests, ``GAP`` apart, each from its own address (alice+N), sent from a
    thread that retries while the SMTP server is down; ``at(n, fault)`` runs ``fault`` once
    the n-th request went out."""

    def __init__(self, sandbox: MailSandbox, tag: str) -> None:
        self.sandbox, self.tag = sandbox, tag
        self.ids: list[str] = []
        self.faults: dict[int, Callable[[], None]] = {}
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.error: BaseException | None = None
        self.go = threading.Event()  # cleared: the next request waits
        self.go.set()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """No new request while inside; those sent are all delivered when it begins."""
        self.go.clear()
        try:
            assert self.sandbox.wait_delivered(10), "Postfix still holds requests"
            yield
        finally:
            self.go.set()

    def at(self, n: int, fault: Callable[[], None]) -> Stream:
        self.faults[n] = fault
        return self

    def start(self) -> Stream:
        self.thread.start()
        return self

    def join(self) -> None:
        self.thread.join(timeout=120)
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        try:
            for n in range(COUNT):
                self.go.wait(30)
                sender = f"alice+{self.tag}{n}@example.test"
                raw = request(n, sender=sender)
                self.ids.append(str(parse(raw)["Message-ID"]))
                self._send(raw, sender)
                if n in self.faults:
                    self.faults[n]()
                time.sleep(GAP)
        except BaseException as exc:  # re-raised by join()
            self.error = exc

    def _send(self, raw: bytes, sender: str) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                self.sandbox.send(raw, mail_from=sender, rcpt_to=[SHARED])
                return
            except (OSError, smtplib.SMTPException):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


def handed_over(sandbox: MailSandbox) -> Counter[str]:
    """Per request (In-Reply-To), the distinct Postfix queue IDs of its receipts."""
    seen: dict[str, set[str]] = {}
    for raw in sandbox.messages("alice"):
        msg = parse(raw)
        ids = {m.group(1) for r in msg.get_all("Received", []) if (m := QUEUE_ID.search(str(r)))}
        seen.setdefault(str(msg["In-Reply-To"]), set()).update(ids or {str(msg["Message-ID"])})
    return Counter({request_id: len(ids) for request_id, ids in seen.items()})


def settle(sandbox: MailSandbox, ids: list[str], timeout: float = 60) -> Counter[str]:
    """Wait until every request has a receipt (the servers may still be coming back), then a
    little longer for any second one; the count per request."""
    deadline = time.monotonic() + timeout
    got: Counter[str] = Counter()
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):  # a server on its way back
            got = handed_over(sandbox)
            if all(got[i] for i in ids):
                break
        time.sleep(0.25)
    time.sleep(1.5)
    return handed_over(sandbox)


def assert_exactly_once(name: str, got: Counter[str], ids: list[str], log: Path) -> None:
    lost = [i for i in ids if got[i] == 0]
    twice = {i: n for i, n in got.items() if n > 1}
    answered = sum(1 for i in ids if got[i])
    print(f"\nFAULT MATRIX {name}: sent {len(ids)}, answered {answered}, "
          f"lost {len(lost)}, duplicated {sum(n - 1 for n in twice.values())}")  # fmt: skip
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-12:]) if log.exists() else ""
    assert lost == [] and twice == {}, f"lost {lost}, twice {twice}; daemon log:\n{tail}"


@contextlib.contextmanager
def daemon(config: Path, log: Path) -> Iterator[None]:
    """A running daemon, connected to IMAP (its store open) before the stream starts."""
    proc = start_daemon(config, log=log)
    try:
        deadline = time.monotonic() + 20
        while not log_events(log, "imap.connected") and proc.poll() is None:
            assert time.monotonic() < deadline, "the daemon did not connect within 20 s"
            time.sleep(0.05)
        yield
    finally:
        code, _ = stop_daemon(proc)
        assert code == 0, log.read_text(errors="replace")[-3000:]


def test_smtp_killed_mid_data(sandbox: MailSandbox, tmp_path: Path) -> None:
    relay = FaultProxy(sandbox.smtp_port)
    config, log = matrix_config(tmp_path, sandbox, smtp=relay.port), tmp_path / "daemon.log"
    # The body of a receipt is on its way: every smtpd dies before the final dot.
    stream = Stream(sandbox, "s").at(3, lambda: relay.arm("up", b"Subject:", sandbox.kill_smtpd))
    try:
        with daemon(config, log):
            stream.start()
            assert relay.fired.wait(30), "no receipt went through the relay"
            stream.join()
            got = settle(sandbox, stream.ids)
    finally:
        relay.close()
    assert_exactly_once("SMTP killed mid-DATA", got, stream.ids, log)
    assert log_events(log, "mail.deferred")  # the cut DATA was retried, not lost


def test_dovecot_killed_mid_fetch(sandbox: MailSandbox, tmp_path: Path) -> None:
    relay = FaultProxy(sandbox.imap_port)
    config, log = matrix_config(tmp_path, sandbox, imap=relay.port), tmp_path / "daemon.log"

    def kill_and_restart() -> None:
        # Not while Postfix hands it a request: a Dovecot killed mid-LMTP may lose that one
        # itself (the sandbox trusts its maildir index: maildir_very_dirty_syncs), which is
        # no fault of mailer's. Its FETCH is what this kill is about.
        with stream.paused():
            sandbox.kill_imap()
        threading.Timer(1.0, sandbox.start_imap).start()

    stream = Stream(sandbox, "i")
    stream.at(3, lambda: relay.arm("down", b"BODY[] {", kill_and_restart))
    try:
        with daemon(config, log):
            stream.start()
            assert relay.fired.wait(30), "no FETCH went through the relay"
            stream.join()
            got = settle(sandbox, stream.ids)
    finally:
        relay.close()
    assert_exactly_once("Dovecot killed mid-FETCH", got, stream.ids, log)
    assert log_events(log, "imap.error")


# The store's faults strike as the SMTP server accepts a receipt: its "250 ... queued as"
# waits in the relay until the disk is full (the directory read-only), so the store cannot
# record that mail as sent; the intake's next batches cannot commit either.
ACCEPTED = b"Ok: queued as"


def test_the_stores_disk_full_then_freed(sandbox: MailSandbox, tmp_path: Path) -> None:
    log, relay = tmp_path / "daemon.log", FaultProxy(sandbox.smtp_port)
    with small_disk(tmp_path / "disk") as disk:
        config = matrix_config(disk, sandbox, smtp=relay.port)
        filler: list[Path] = []

        def full() -> None:
            relay.arm("down", ACCEPTED, lambda: filler.append(fill_disk(disk)), cut=False)

        stream = Stream(sandbox, "d").at(3, full)
        try:
            with daemon(config, log):
                stream.start()
                assert relay.fired.wait(30), "no receipt went through the relay"
                stream.join()
                time.sleep(2)  # full for a while: batches roll back, sending pauses
                filler[0].unlink()
                got = settle(sandbox, stream.ids)
        finally:
            relay.close()
    assert_exactly_once("store's disk full then freed", got, stream.ids, log)
    assert log_events(log, "outbox.paused") and log_events(log, "outbox.resumed")
    assert log_events(log, "store.error")


def _immutable(paths: list[Path], on: bool) -> None:
    flag = "+i" if on else "-i"
    for path in paths if on else paths[::-1]:
        if path.exists():
            subprocess.run(["chattr", flag, str(path)], check=True)


def test_the_stores_directory_made_read_only_while_running(
    sandbox: MailSandbox, tmp_path: Path
) -> None:
    """The directory and the store's files (not SQLite's -shm shared-memory index: writing
    to an immutable mapped file is a SIGBUS, which no file system does to a process)."""
    state = tmp_path / "state"
    state.mkdir()
    relay = FaultProxy(sandbox.smtp_port)
    config, log = matrix_config(state, sandbox, smtp=relay.port), tmp_path / "daemon.log"
    store = state / "mailer.sqlite3"
    locked = [state, store, state / "mailer.sqlite3-wal"]

    def read_only() -> None:
        relay.arm("down", ACCEPTED, lambda: _immutable(locked, True), cut=False)

    stream = Stream(sandbox, "r").at(3, read_only)
    try:
        with daemon(config, log):
            stream.start()
            assert relay.fired.wait(30), "no receipt went through the relay"
            stream.join()
            time.sleep(2)  # read-only for a while
            _immutable(locked, False)
            got = settle(sandbox, stream.ids)
    finally:
        _immutable(locked, False)
        relay.close()
    assert_exactly_once("store's directory read-only while running", got, stream.ids, log)
    assert log_events(log, "outbox.paused") and log_events(log, "outbox.resumed")
    assert log_events(log, "store.error")


def test_a_corrupt_store_at_start(sandbox: MailSandbox, tmp_path: Path) -> None:
    config, log = matrix_config(tmp_path, sandbox), tmp_path / "daemon.log"
    store, backup = tmp_path / "mailer.sqlite3", tmp_path / "backup.sqlite3"
    first = Stream(sandbox, "c")
    with daemon(config, log):
        first.start().join()
        settle(sandbox, first.ids)
    assert mailer(config, "backup", str(backup)).returncode == 0  # the admin's nightly copy
    corrupt_pages(store, "mailboxes")
    second = Stream(sandbox, "C").start()
    second.join()
    failed = start_daemon(config, log=log)
    try:
        assert failed.wait(timeout=20) == 1  # stops at once, visibly, having answered nothing
    finally:
        if failed.poll() is None:  # it lived on without an intake (the bug): end it
            failed.kill()
            failed.wait()
    assert log_events(log, "service.failed")
    for stale in (store.with_name(store.name + "-wal"), store.with_name(store.name + "-shm")):
        stale.unlink(missing_ok=True)
    shutil.copyfile(backup, store)  # the admin restores the copy, as the README says
    with daemon(config, log):
        got = settle(sandbox, first.ids + second.ids)
    assert_exactly_once("corrupt store at start", got, first.ids + second.ids, log)


def test_the_imap_password_rotated_while_running(sandbox: MailSandbox, tmp_path: Path) -> None:
    config, log = matrix_config(tmp_path, sandbox), tmp_path / "daemon.log"
    secret = tmp_path / "imap.password"
    secret.write_text(sandbox.password)
    secret.chmod(0o600)
    tune(config, "imap", password=None, password_file='"imap.password"')

    def rotate() -> None:  # the admin: a new password on the server, in the file, kick sessions
        sandbox.set_password("helpdesk", "rotated-Pa55")
        secret.write_text("rotated-Pa55\n")
        sandbox.restart_imap()

    stream = Stream(sandbox, "p").at(3, rotate)
    try:
        with daemon(config, log):
            stream.start()
            stream.join()
            got = settle(sandbox, stream.ids)
    finally:
        sandbox.set_password("helpdesk", sandbox.password)
    assert_exactly_once("IMAP password rotated while running", got, stream.ids, log)
    assert log_events(log, "imap.password_reread")


@pytest.fixture(autouse=True)
def _no_server_left_dead(sandbox: MailSandbox) -> Iterator[None]:
    """A fault test that failed half-way must not leave the session's servers down."""
    yield
    with contextlib.suppress(Exception):
        if not sandbox.running:
            sandbox.stop()
            sandbox.start()
