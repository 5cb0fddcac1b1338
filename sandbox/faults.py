"""Faults a test can cause in the running servers: a password rotated, a server killed.

A mixin of ``MailSandbox`` (servers.py), kept apart so that the everyday sandbox stays short.
Killing is SIGKILL of the server's whole session (master, login, auth, delivery processes):
a crash, not a clean stop. ``start_imap`` / ``start_smtp`` bring the server back on the same
ports with the same mail (Postfix keeps what it queued on disk).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from sandbox import setup
from sandbox.layout import Layout, Ports, check_users
from sandbox.processes import alive, read_pid, session_members, terminate


class ServerFaults:
    users: tuple[str, ...]
    password: str
    catchall: bool
    _passwords: dict[str, str]  # users whose password was changed: user -> password

    def _require(self) -> Layout:
        raise NotImplementedError

    def _ports_or_fail(self) -> Ports:
        raise NotImplementedError

    def password_of(self, user: str) -> str:
        return self._passwords.get(user, self.password)

    def set_password(self, user: str, password: str) -> None:
        """Give ``user`` another password at once, as an admin rotating it does (Dovecot
        re-reads its passwd-file at the next login; open sessions stay logged in).
        ``set_password(user, sandbox.password)`` puts the usual one back."""
        check_users((user,), password)
        if password == self.password:
            self._passwords.pop(user, None)
        else:
            self._passwords[user] = password
        self.write_passwords()

    def write_passwords(self) -> None:
        lay = self._require()
        stamp = lay.users_file.stat().st_mtime if lay.users_file.exists() else 0.0
        lines = [f"{u}:{{PLAIN}}{self.password_of(u)}::::::\n" for u in self.users]
        lay.users_file.write_text("".join(lines), encoding="utf-8")
        # Dovecot notices a change by mtime in whole seconds (and size): never the same second.
        when = max(time.time(), stamp + 1.0)
        os.utime(lay.users_file, (when, when))
        # ... and looks at the file at most once a second (its ioloop_time): a login in this
        # second may already have looked. From the next second on, every login sees it.
        time.sleep(1.02 - time.time() % 1.0)

    def restart_imap(self) -> None:
        """Stop and start Dovecot only (same ports, same mail): clients see a server restart.

        LMTP is down meanwhile too; Postfix retries deferred mail within ~2 s.
        """
        lay = self._require()
        terminate([read_pid(lay.dovecot_pidfile, lay.root)])
        setup.drop_stale_pidfiles(lay)
        self.start_imap()

    def wait_delivered(self, timeout: float) -> bool:
        """Wait until Postfix holds no mail (all handed to Dovecot); False on timeout."""
        return setup.wait_queue_empty(self._require(), timeout)

    def kill_imap(self) -> None:
        """SIGKILL Dovecot (IMAP and LMTP): clients see their connections die mid-command."""
        lay = self._require()
        _kill_session(read_pid(lay.dovecot_pidfile, lay.root))
        setup.drop_stale_pidfiles(lay)

    def start_imap(self) -> None:
        """Dovecot again, same ports and mail (after ``kill_imap``)."""
        lay = self._require()
        setup.launch_dovecot(lay, self._ports_or_fail(), self.users, self.password)
        if self._passwords:
            self.write_passwords()

    def kill_smtp(self) -> None:
        """SIGKILL Postfix (master, smtpd, queue manager): a client mid-DATA loses its
        connection; what Postfix had already queued stays on disk."""
        lay = self._require()
        _kill_session(read_pid(lay.postfix_pidfile, lay.root))
        setup.drop_stale_pidfiles(lay)

    def kill_smtpd(self) -> None:
        """SIGKILL Postfix's SMTP server processes (the master starts new ones for the next
        connections): every client mid-conversation, mid-DATA too, loses its connection, and
        nothing it had not finished is queued."""
        lay = self._require()
        master = read_pid(lay.postfix_pidfile, lay.root)
        for pid in session_members(master) if master else []:
            try:
                name = Path(f"/proc/{pid}/comm").read_text().strip()
            except OSError:
                continue
            if name == "smtpd":
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def start_smtp(self) -> None:
        """Postfix again, same ports and queue (after ``kill_smtp``)."""
        lay = self._require()
        setup.launch_postfix(lay, self._ports_or_fail(), self.users, self.catchall)


def _kill_session(master: int | None, timeout: float = 5.0) -> None:
    """SIGKILL every process of the server's session and wait until none is left."""
    if master is None:
        return
    deadline = time.monotonic() + timeout
    while (left := session_members(master)) and time.monotonic() < deadline:
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)
    if alive(master):
        time.sleep(0.05)  # a zombie until init reaps it; drop_stale_pidfiles copes
