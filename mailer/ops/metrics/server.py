"""Prometheus metrics and a health check over HTTP (``/metrics``, ``/healthz``).

Counters come from the daemon's log events (``count_events``, see metrics_events.py); the
outbox and quarantine gauges, and the per-team load (``sla``), are read from the store at
scrape time, on a read-only connection per scrape, so a scrape never waits for the daemon
and never sees stale numbers (on either backend: the team load is the store's own query).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socket import AF_INET6

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from mailer.errors import StoreError
from mailer.ops.metrics.events import EVENTS, LIVE, count_events
from mailer.ops.metrics.sla import TeamLoadCollector
from mailer.settings import ImapSettings, StoreSettings
from mailer.store.probe import read_gauges

__all__ = ["Metrics", "MetricsSettings", "count_events", "parse_listen", "stale_after", "start"]

State = Callable[[], dict[str, object]]


@dataclass(frozen=True)
class MetricsSettings:
    """``[metrics] listen = "127.0.0.1:9101"``: where Prometheus scrapes."""

    listen: str

    @property
    def address(self) -> tuple[str, int]:
        return parse_listen(self.listen)


def parse_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9101`` for IPv6) -> (host, port); ValueError says what is wrong.

    The host is required: metrics on every interface should be a visible choice (``0.0.0.0``).
    """
    host, sep, port = listen.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host:
        raise ValueError(f"{listen!r}: expected HOST:PORT, e.g. 127.0.0.1:9101")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{listen!r}: the port must be a number from 0 to 65535")
    return host, int(port)


def stale_after(imap: ImapSettings, factor: float = 3.0) -> float:
    """Seconds without a mailbox check after which /healthz fails: ``factor`` waits.

    The intake waits at most min(idle_renew, catchup_interval) between polls, and at most
    poll_interval without IDLE, so ``factor`` missed rounds means trouble. A server without
    IDLE under ``idle = true`` gets the longer (IDLE) limit: late, never falsely alarmed.
    """
    wait = min(imap.idle_renew, imap.catchup_interval)
    return factor * (wait if imap.idle else min(wait, imap.poll_interval))


def _live(state: State) -> tuple[bool | None, float | None]:
    """The event-derived view, overridden by ``state()``'s "connected" / "last_check"."""
    connected, last_check = LIVE.snapshot()
    try:
        extra = state()
    except Exception:  # a broken callback must not break the scrape
        extra = {}
    if isinstance(extra.get("connected"), bool):
        connected = bool(extra["connected"])
    checked = extra.get("last_check")
    if isinstance(checked, int | float):
        last_check = float(checked)
    return connected, last_check


class _Forward:
    """Puts the process-wide event counters into a server's registry."""

    def collect(self) -> Iterator[Metric]:
        yield from EVENTS.collect()


@dataclass(frozen=True)
class _LiveCollector:
    state: State

    def collect(self) -> Iterator[GaugeMetricFamily]:
        connected, last_check = _live(self.state)
        yield GaugeMetricFamily(
            "mailer_imap_connected",
            "1 while the IMAP connection is up.",
            value=int(bool(connected)),
        )
        role = _role(self.state)
        if role is not None:  # a shared store: does this node work the mailbox now?
            yield GaugeMetricFamily(
                "mailer_node_active",
                "1 while this node holds the mailbox's lease and works it, 0 on standby.",
                value=int(role == "active"),
            )
        if last_check is not None:
            yield GaugeMetricFamily(
                "mailer_last_check_timestamp_seconds",
                "When the mailbox was last read successfully (epoch).",
                value=last_check,
            )
            yield GaugeMetricFamily(
                "mailer_last_check_age_seconds",
                "Seconds since the mailbox was last read successfully.",
                value=max(0.0, time.time() - last_check),
            )


@dataclass(frozen=True)
class _StoreCollector:
    path: Path | StoreSettings

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            gauges = read_gauges(self.path, timeout=2.0)
        except StoreError:
            yield GaugeMetricFamily("mailer_store_readable", "1 if the store could be read.", 0)
            return
        yield GaugeMetricFamily("mailer_store_readable", "1 if the store could be read.", 1)
        pending, oldest = gauges.pending, gauges.oldest_pending
        yield GaugeMetricFamily("mailer_outbox_pending", "Mails waiting to be sent.", pending)
        yield GaugeMetricFamily(
            "mailer_outbox_oldest_pending_age_seconds",
            "Age of the oldest mail waiting to be sent (0 when none).",
            0.0 if oldest is None else max(0.0, time.time() - oldest),
        )
        yield GaugeMetricFamily(
            "mailer_outbox_dead", "Dead letters kept in the outbox.", gauges.dead
        )
        yield GaugeMetricFamily(
            "mailer_quarantined_messages",
            "Inbound messages that failed too often.",
            gauges.quarantined,
        )


def _role(state: State) -> str | None:
    """ "active" or "standby" on a shared store (two nodes), else None."""
    try:
        role = state().get("role")
    except Exception:
        return None
    return role if isinstance(role, str) else None


def health(state: State, max_age: float, now: float | None = None) -> str | None:
    """None when healthy, else why not (the /healthz body). ``state()``'s "failed" (the
    intake met an error it cannot recover from; the daemon is about to exit) wins."""
    try:
        failed = state().get("failed")
    except Exception:
        failed = None
    if failed:
        return f"intake failed: {failed}"
    connected, last_check = _live(state)
    if not connected:
        return "imap not connected"
    if last_check is None:
        return "mailbox not checked yet"
    age = (time.time() if now is None else now) - last_check
    if age > max_age:
        return f"last mailbox check {age:.0f} s ago (limit {max_age:.0f} s)"
    return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    registry: CollectorRegistry
    state: State
    max_age: float


class _Server6(_Server):
    address_family = AF_INET6


class _Handler(BaseHTTPRequestHandler):
    timeout = 10  # a scraper that connects and says nothing does not hold a thread
    server: _Server

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._reply(HTTPStatus.OK, generate_latest(self.server.registry), CONTENT_TYPE_LATEST)
        elif path == "/healthz" and _role(self.server.state) == "standby":
            holder = self.server.state().get("holder") or "another node"
            self._reply(HTTPStatus.OK, f"ok: standby, {holder} is active\n".encode())
        elif path == "/healthz":
            problem = health(self.server.state, self.server.max_age)
            code = HTTPStatus.OK if problem is None else HTTPStatus.SERVICE_UNAVAILABLE
            good = "ok: active" if _role(self.server.state) == "active" else "ok"
            self._reply(code, f"{problem or good}\n".encode())
        else:
            self._reply(HTTPStatus.NOT_FOUND, b"try /metrics or /healthz\n")

    def _reply(
        self, code: HTTPStatus, body: bytes, ctype: str = "text/plain; charset=utf-8"
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Scrapes every 15 s are not news; the default writes each one to stderr."""


@dataclass(frozen=True)
class Metrics:
    """A running metrics server; ``stop()`` closes the port."""

    server: _Server
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5.0)


def start(
    listen: str,
    store_path: Path | StoreSettings,
    state: State = dict,
    *,
    max_check_age: float = 900.0,
) -> Metrics:
    """Serve /metrics and /healthz on ``listen`` from a daemon thread.

    ``state()`` may return "connected" (bool) and "last_check" (epoch seconds) to override
    what the log events say, and "failed" (why the intake stopped, else None);
    ``max_check_age`` (see ``stale_after``) is when /healthz fails.
    OSError when the port is taken, ValueError for a bad ``listen``.
    """
    host, port = parse_listen(listen)
    server = (_Server6 if ":" in host else _Server)((host, port), _Handler)
    registry = CollectorRegistry()
    collectors: tuple[Collector, ...] = (
        _Forward(),
        _LiveCollector(state),
        _StoreCollector(store_path),
        TeamLoadCollector(store_path),
    )
    for collector in collectors:
        registry.register(collector)
    server.registry, server.state, server.max_age = registry, state, max_check_age
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()
    return Metrics(server, thread)
