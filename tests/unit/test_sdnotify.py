"""sd_notify: what systemd receives on a real unix datagram socket, and the honest watchdog."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailer.ops.systemd import Notifier, SystemdLink, socket_address, watchdog_interval


class Listener:
    """Plays systemd: a datagram socket to read what the daemon sends."""

    def __init__(self, address: str | bytes) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(2.0)

    def next(self) -> str:
        return self.sock.recv(4096).decode()

    def all(self) -> list[str]:
        """Every datagram waiting now."""
        found: list[str] = []
        self.sock.setblocking(False)
        try:
            while True:
                found.append(self.sock.recv(4096).decode())
        except BlockingIOError:
            return found
        finally:
            self.sock.settimeout(2.0)


@pytest.fixture
def systemd(tmp_path: Path) -> Iterator[Listener]:
    listener = Listener(str(tmp_path / "notify"))
    yield listener
    listener.sock.close()


def notifier(path: Path, **env: str) -> Notifier:
    return Notifier({"NOTIFY_SOCKET": str(path), **env}, pid=os.getpid())


def test_ready_status_watchdog_and_stopping_arrive(systemd: Listener, tmp_path: Path) -> None:
    sd = notifier(tmp_path / "notify")
    assert sd.enabled
    assert sd.ready("idle on IMAP, 0 in outbox")
    assert systemd.next() == "READY=1\nSTATUS=idle on IMAP, 0 in outbox"
    assert sd.status("sending 3")
    assert systemd.next() == "STATUS=sending 3"
    assert sd.watchdog()
    assert systemd.next() == "WATCHDOG=1"
    assert sd.stopping("stopping, 3 in outbox")
    assert systemd.next() == "STOPPING=1\nSTATUS=stopping, 3 in outbox"
    sd.close()


def test_an_unchanged_status_is_not_sent_again(systemd: Listener, tmp_path: Path) -> None:
    sd = notifier(tmp_path / "notify")
    sd.status("idle on IMAP, 0 in outbox")
    sd.status("idle on IMAP, 0 in outbox")
    sd.status("line\nbreak")
    assert systemd.all() == ["STATUS=idle on IMAP, 0 in outbox", "STATUS=line break"]


def test_an_abstract_socket_is_named_with_an_at_sign() -> None:
    name = f"mailer-test-{os.getpid()}-{time.monotonic_ns()}"
    listener = Listener(b"\0" + name.encode())
    try:
        sd = Notifier({"NOTIFY_SOCKET": f"@{name}"})
        assert sd.ready()
        assert listener.next() == "READY=1"
    finally:
        listener.sock.close()


def test_without_notify_socket_everything_is_a_quiet_no_op() -> None:
    for env in ({}, {"NOTIFY_SOCKET": ""}, {"NOTIFY_SOCKET": "vsock:2:1234"}):
        sd = Notifier(env)
        assert not sd.enabled
        assert not sd.ready() and not sd.watchdog() and not sd.stopping()


def test_a_missing_socket_never_raises_and_is_logged_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mailer.ops import logs as log

    log.configure(json=True, level=10)
    sd = notifier(tmp_path / "gone")
    assert not sd.ready()
    assert not sd.watchdog()
    assert capsys.readouterr().out.count('"sdnotify.failed"') == 1  # --json-logs: stdout


def test_socket_addresses() -> None:
    assert socket_address("/run/systemd/notify") == b"/run/systemd/notify"
    assert socket_address("@abstract") == b"\0abstract"
    assert socket_address("") is None
    assert socket_address("@") is None


@pytest.mark.parametrize(
    ("env", "interval"),
    [
        ({"WATCHDOG_USEC": "60000000"}, 30.0),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "4242"}, 30.0),  # ours: pid 4242
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "1"}, None),  # another process's
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_the_watchdog_interval_is_half_of_watchdog_usec(
    env: dict[str, str], interval: float | None
) -> None:
    assert watchdog_interval(env, 4242) == interval


def link(path: Path, busy: float = 600.0, watchdog_usec: str = "200000") -> SystemdLink:
    sd = notifier(path, WATCHDOG_USEC=watchdog_usec)
    return SystemdLink(lambda: 3, lambda: False, notifier=sd, busy=busy)


def test_the_link_says_what_the_daemon_does(systemd: Listener, tmp_path: Path) -> None:
    sd = link(tmp_path / "notify")
    sd.retrying(8.2, OSError("connection refused"))
    assert systemd.next() == (
        "READY=1\nSTATUS=reconnecting to IMAP in 8 s (connection refused), 3 in outbox"
    )
    sd.connected()
    assert systemd.next() == "STATUS=fetching new mail, 3 in outbox"
    sd.waiting(True, 600)
    assert systemd.next() == "STATUS=idle on IMAP, 3 in outbox"
    sd.waiting(False, 60)
    assert systemd.next() == "STATUS=polling IMAP every 60 s, 3 in outbox"
    sd.stopping()
    sd.waiting(True, 600)  # the last steps after SIGTERM: still "stopping"
    assert systemd.all() == ["STOPPING=1\nSTATUS=stopping, 3 in outbox"]


def test_ready_is_sent_once(systemd: Listener, tmp_path: Path) -> None:
    sd = link(tmp_path / "notify")
    sd.connected()
    sd.retrying(2, OSError("reset"))
    sd.connected()
    assert [m.startswith("READY=1") for m in systemd.all()] == [True, False, False]


def test_a_ping_needs_a_kept_promise_and_a_broken_one_is_logged_once(
    systemd: Listener, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mailer.ops import logs as log

    log.configure(json=True)
    sd = link(tmp_path / "notify")
    sd.beat("processing 5 new messages", within=0.05)
    sd._ping()
    time.sleep(0.1)  # the promised beat did not come
    sd._ping()
    sd._ping()
    assert systemd.all() == ["WATCHDOG=1"]
    assert capsys.readouterr().out.count('"watchdog.stale"') == 1
    sd.beat()
    sd._ping()
    assert systemd.all() == ["WATCHDOG=1"]


def test_the_pings_stop_when_the_intake_loop_hangs(systemd: Listener, tmp_path: Path) -> None:
    sd = link(tmp_path / "notify", busy=0.3)  # a ping every 0.1 s, a beat due within 0.3 s
    stop = False

    async def intake() -> None:
        sd.start(lambda: stop)
        check = sd.beating(lambda: False)
        for _ in range(10):  # one second of a wait whose stop check runs every 0.1 s
            check()
            await asyncio.sleep(0.1)
        await asyncio.sleep(2.0)  # then it hangs: no more beats, the event loop still runs

    asyncio.run(intake())
    stop = True
    got = systemd.all()
    pings = got.count("WATCHDOG=1")
    assert "STATUS=connecting to IMAP, 3 in outbox" in got  # the ticker refreshes STATUS too
    # about 10 while it beat and 3 more until its promise ran out; never the 30 of 3 s
    assert 8 <= pings <= 16, pings


def test_a_failed_intake_says_why_and_pings_no_more(systemd: Listener, tmp_path: Path) -> None:
    """Issue 11: the intake had died and the watchdog was still fed."""
    sd = link(tmp_path / "notify")
    sd.connected()
    sd._ping()
    sd.failed("StoreCorrupt: database disk image is malformed")
    sd._ping()
    sd.waiting(True, 600)  # nothing may make it look alive again
    sd._ping()
    assert systemd.all() == [
        "READY=1\nSTATUS=fetching new mail, 3 in outbox",
        "WATCHDOG=1",
        "STATUS=failed: StoreCorrupt: database disk image is malformed, 3 in outbox",
    ]


def test_no_task_without_systemd() -> None:
    sd = SystemdLink(lambda: 0, lambda: False, notifier=Notifier({}))

    async def run() -> None:
        sd.start(lambda: False)

    asyncio.run(run())
    assert sd._task is None
