"""A TCP relay in front of a real server that can kill the server at an exact moment.

The fault matrix needs "SMTP killed mid-DATA" and "Dovecot killed mid-FETCH": a kill at a
random time rarely lands there. The relay passes bytes both ways untouched until it sees the
armed pattern (client to server: ``"up"``, server to client: ``"down"``); then it passes
what came before the pattern, runs the action (the kill) and drops both connections, as a
dying server does. Nothing here speaks SMTP or IMAP: mailer's own clients talk to the real
Dovecot and Postfix through it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable

Action = Callable[[], None]


class FaultProxy:
    def __init__(self, target_port: int, host: str = "127.0.0.1") -> None:
        self.target = (host, target_port)
        self.listener = socket.create_server((host, 0))
        self.port = int(self.listener.getsockname()[1])
        self._armed: tuple[str, bytes, Action, bool] | None = None
        self._lock = threading.Lock()
        self.fired = threading.Event()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def arm(self, direction: str, pattern: bytes, action: Action, *, cut: bool = True) -> None:
        """Once: when ``pattern`` passes in ``direction``, cut there and run ``action``;
        ``cut=False``: run ``action`` before those bytes pass on, then relay as before."""
        assert direction in ("up", "down")
        self.fired.clear()
        with self._lock:
            self._armed = (direction, pattern, action, cut)

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self.listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()  # the server is down: so is the relay's connection
                continue
            server.settimeout(None)
            pair = (client, server)
            threading.Thread(
                target=self._pump, args=(client, server, "up", pair), daemon=True
            ).start()
            threading.Thread(
                target=self._pump, args=(server, client, "down", pair), daemon=True
            ).start()

    def _take(self, direction: str, data: bytes) -> tuple[int | None, Action] | None:
        """Where to cut ``data`` (None: nowhere) and what to do, when the armed pattern is in
        it; None when it is not."""
        with self._lock:
            if self._armed is None or self._armed[0] != direction:
                return None
            _, pattern, action, cut = self._armed
            found = data.find(pattern)
            if found < 0:
                return None
            self._armed = None
        return (found if cut else None), action

    def _pump(
        self,
        src: socket.socket,
        dst: socket.socket,
        direction: str,
        pair: tuple[socket.socket, ...],
    ) -> None:
        try:
            while data := src.recv(65536):
                armed = self._take(direction, data)
                if armed is None:
                    dst.sendall(data)
                    continue
                where, action = armed
                if where is None:  # the fault happens just before these bytes arrive
                    action()
                    self.fired.set()
                    dst.sendall(data)
                    continue
                dst.sendall(data[:where])  # what came before: the other side is mid-way
                action()
                self.fired.set()
                break
        except OSError:
            pass
        for sock in pair:  # shutdown wakes the other direction's recv; close alone would not
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
