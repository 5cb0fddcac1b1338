"""systemd's notify protocol without libsystemd: READY, STATUS, WATCHDOG, STOPPING.

``Notifier`` sends the datagrams to ``$NOTIFY_SOCKET`` (a path, or ``@name`` for an abstract
socket) and does nothing when it is unset (a terminal, the tests, ``run --once``). Nothing in
here may stop the mail: errors are logged once at debug and swallowed.

``SystemdLink`` is what the service talks to. Its watchdog is honest: it pings only while
the intake loop keeps its promise to beat again within ``BUSY`` seconds (each connect, each
batch, each second of an IDLE or poll wait), so a hung loop stops the pings and systemd
restarts the daemon; a blocked event loop stops them at once (the pinger runs on it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping

import structlog

log = structlog.get_logger("mailer.systemd")
# The longest quiet step a healthy intake takes: a batch of large messages on a slow link,
# the Sent copies after an outage. A hang is restarted BUSY + WatchdogSec= after it began.
BUSY = 600.0
TICK = 5.0  # STATUS refresh (the outbox count) when no watchdog asks for more


def socket_address(value: str) -> bytes | None:
    """``$NOTIFY_SOCKET`` as a ``sendto`` address; None when unset or not a unix socket."""
    if value.startswith("@") and len(value) > 1:
        return b"\0" + os.fsencode(value[1:])
    if value.startswith("/"):
        return os.fsencode(value)
    return None  # unset, or e.g. vsock:..., which this client does not speak


def watchdog_interval(environ: Mapping[str, str], pid: int) -> float | None:
    """Seconds between pings (half of ``$WATCHDOG_USEC``), or None without a watchdog.

    ``$WATCHDOG_PID`` naming another process means the watchdog is not ours (we inherited
    the variables): then we must not ping.
    """
    owner = environ.get("WATCHDOG_PID", "").strip()
    if owner and owner != str(pid):
        return None
    try:
        usec = int(environ.get("WATCHDOG_USEC", "").strip())
    except ValueError:
        return None
    return usec / 2_000_000 if usec > 0 else None


class Notifier:
    """One client of systemd's notify socket; every method is a no-op when there is none."""

    def __init__(self, environ: Mapping[str, str] | None = None, pid: int | None = None) -> None:
        env = os.environ if environ is None else environ
        self.address = socket_address(env.get("NOTIFY_SOCKET", ""))
        self.interval = watchdog_interval(env, os.getpid() if pid is None else pid)
        self.last_status: str | None = None
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._failed = False

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *assignments: str) -> bool:
        """Send ``KEY=value`` lines in one datagram; False when it was not delivered."""
        if self.address is None:
            return False
        data = "\n".join(assignments).encode()
        try:
            with self._lock:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                    self._sock.setblocking(False)  # a full queue drops a line, never waits
                self._sock.sendto(data, self.address)
        except OSError as exc:
            if not self._failed:  # once: a missing socket must not flood the journal
                self._failed = True
                log.debug("sdnotify.failed", error=f"{type(exc).__name__}: {exc}")
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.send("READY=1", *self._status_lines(status))

    def status(self, text: str) -> bool:
        """STATUS=, sent only when it changed: the ticker refreshes it every few seconds."""
        lines = self._status_lines(text)
        return self.send(*lines) if lines else True

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def stopping(self, status: str | None = None) -> bool:
        return self.send("STOPPING=1", *self._status_lines(status))

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None

    def _status_lines(self, text: str | None) -> list[str]:
        if text is None or text == self.last_status:
            return []
        self.last_status = text
        return [f"STATUS={text.replace(chr(10), ' ')}"]


class SystemdLink:
    """The daemon's side of Type=notify: when it is ready, what it does, that it lives.

    READY comes once the first IMAP connection is settled (selected, or failed and now
    retrying): the daemon rides out outages by design, so a mail server that is down must
    not hold the start job until systemd kills a process that would have recovered.
    """

    def __init__(
        self,
        pending: Callable[[], int],
        smtp_down: Callable[[], bool],
        notifier: Notifier | None = None,
        busy: float = BUSY,
    ) -> None:
        self.notifier = notifier or Notifier()
        self.pending = pending  # the store's outbox count: call it on the event loop only
        self.smtp_down = smtp_down
        self.busy = busy
        self.phase = "connecting to IMAP"
        self.last_beat = time.monotonic()
        self.due = self.last_beat + busy
        self.is_ready = False
        self.is_stopping = False
        self.is_failed = False  # the intake stopped for good: never alive again
        self.stale_logged = False
        self._task: asyncio.Task[None] | None = None

    # ---- heartbeat (any thread) ------------------------------------------------------------

    def beat(self, phase: str | None = None, within: float | None = None) -> None:
        """The intake loop promises its next beat within ``within`` (default BUSY) seconds."""
        self.last_beat = time.monotonic()
        self.due = self.last_beat + (self.busy if within is None else within)
        if phase is not None and not self.is_stopping:  # the last steps stay "stopping"
            self.phase = phase

    def beating(self, check: Callable[[], bool]) -> Callable[[], bool]:
        """``check`` (called about every second during a wait) that also beats."""

        def beat_then_check() -> bool:
            self.beat()
            return check()

        return beat_then_check

    def alive(self) -> bool:
        return not self.is_failed and time.monotonic() <= self.due

    # ---- state changes (event loop) --------------------------------------------------------

    def connected(self) -> None:
        self.beat("fetching new mail")
        self._ready()

    def waiting(self, idle: bool, timeout: float) -> None:
        how = "idle on IMAP" if idle else f"polling IMAP every {timeout:.0f} s"
        self.beat(how)
        self.publish()

    def retrying(self, delay: float, error: BaseException) -> None:
        self.beat(f"reconnecting to IMAP in {delay:.0f} s ({error})", within=delay + self.busy)
        self._ready()

    def failed(self, error: str) -> None:
        """The intake stopped for good: say why, and ping no more (the process exits)."""
        self.phase, self.is_stopping, self.is_failed = f"failed: {error}", True, True
        self.publish()

    def standing_by(self, text: str) -> None:
        """A second node: ready, and waiting for the mailbox's lease."""
        self.beat(text, within=self.busy)
        self._ready()

    def stopping(self) -> None:
        self.phase, self.is_stopping = "stopping", True
        if self.notifier.enabled:
            self.notifier.stopping(self.describe())

    def describe(self) -> str:
        """``idle on IMAP, 3 in outbox``: what ``systemctl status`` shows as Status."""
        try:
            outbox = f"{self.pending()} in outbox"
        except Exception:  # a locked or closing store must not break the report
            outbox = "outbox unknown"
        smtp = ", SMTP unreachable" if self.smtp_down() else ""
        return f"{self.phase}, {outbox}{smtp}"

    def publish(self) -> None:
        if self.notifier.enabled:
            self.notifier.status(self.describe())

    def _ready(self) -> None:
        if self.is_ready or not self.notifier.enabled:
            self.publish()
        else:
            self.is_ready = True
            self.notifier.ready(self.describe())

    # ---- the ticker ------------------------------------------------------------------------

    def start(self, stopped: Callable[[], bool]) -> None:
        """Start pinging and refreshing STATUS on the running loop (nothing without systemd)."""
        if self.notifier.enabled and self._task is None:
            self.beat()
            self._task = asyncio.get_running_loop().create_task(self._tick(stopped))

    async def _tick(self, stopped: Callable[[], bool]) -> None:
        interval = self.notifier.interval
        step = TICK if interval is None else min(TICK, interval)
        while not stopped():
            with contextlib.suppress(Exception):  # the pinger must outlive any surprise
                if interval is not None:
                    self._ping()
                self.publish()
            await asyncio.sleep(step)

    def _ping(self) -> None:
        if self.is_failed:
            return  # service.failed said why; the process is on its way out
        if self.alive():
            self.stale_logged = False
            self.notifier.watchdog()
        elif not self.stale_logged:
            self.stale_logged = True
            log.warning(
                "watchdog.stale",
                phase=self.phase,
                silent_for=round(time.monotonic() - self.last_beat),
                action="no more watchdog pings: systemd restarts mailer",
            )
