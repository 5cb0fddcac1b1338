"""Real Dovecot (IMAP + LMTP) and Postfix (SMTP) on loopback, for tests and the demo.

mailer must be tested against real servers (UIDVALIDITY, IDLE, a real queue with 250 after
fsync), not mocks. ``MailSandbox`` runs both from Debian's packages as root, from a fresh
directory under /tmp, on free 127.0.0.1 ports, without systemd and without touching the
system's own mail setup. Routing: the recipient's domain is ignored, the local part (minus
``+detail``) is the Dovecot user; unknown local parts go to user ``catchall`` (or get 550).

    with MailSandbox() as sb:
        sb.send(raw, mail_from="alice@example.org", rcpt_to=["helpdesk@example.org"])
        sb.wait_for_messages("helpdesk", 1)
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import shutil
import smtplib
import subprocess
import time
import weakref
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from types import TracebackType

from imapclient import IMAPClient

from sandbox import setup
from sandbox.faults import ServerFaults
from sandbox.layout import HOST, Layout, Ports, check_users
from sandbox.mail import parse_deliveries, prepare_acceptance, to_crlf
from sandbox.processes import alive, read_pid, start_watchdog, terminate
from sandbox.setup import INSTALL_HINT, PortBusyError, SandboxError, SandboxTimeoutError

__all__ = ["DEFAULT_USERS", "INSTALL_HINT", "MailSandbox", "SandboxError", "SandboxTimeoutError"]

DEFAULT_USERS = ("helpdesk", "alice", "bob", "carol", "staff", "it-team", "hr-team", "facilities")

_LIVE: weakref.WeakSet[MailSandbox] = weakref.WeakSet()


def _keep() -> bool:
    """MAILER_SANDBOX_KEEP=1 keeps the directory (configs, logs, mail) after stop()."""
    return bool(os.environ.get("MAILER_SANDBOX_KEEP"))


@atexit.register
def _stop_all() -> None:
    """Safety net for runs that forget stop(); the watchdog covers hard crashes."""
    for sandbox in list(_LIVE):
        with contextlib.suppress(Exception):
            sandbox.stop()


class MailSandbox(ServerFaults):
    """Dovecot + Postfix in one directory; a context manager (start on enter, stop on exit).

    Faults on purpose (a rotated password, a killed server): see ``ServerFaults``.
    """

    host = HOST

    def __init__(
        self,
        base_dir: Path | None = None,
        users: Sequence[str] = DEFAULT_USERS,
        password: str = "secret",
        catchall: bool = True,
        *,
        imap_port: int = 0,
        smtp_port: int = 0,
        lmtp_port: int = 0,
        guard: bool = True,
        tls: bool = False,
    ) -> None:
        """Ports 0 = pick free ones. ``guard=False``: no atexit/watchdog safety net, the
        servers outlive this process until someone calls stop() (the CLI does that)."""
        names = tuple(dict.fromkeys(u.lower() for u in users))
        if catchall and "catchall" not in names:
            names += ("catchall",)
        check_users(names, password)
        self.users, self.password, self.catchall = names, password, catchall
        self._passwords: dict[str, str] = {}
        self._base_dir, self._guard, self.tls = base_dir, guard, tls
        self._wanted = Ports(imap_port, smtp_port, lmtp_port)
        self._ports: Ports | None = None
        self._lay: Layout | None = None
        self._owned_dir = False
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._log_mark = 0

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> MailSandbox:
        """Write configs, start both masters, wait until IMAP, LMTP and SMTP listen (~0.1 s).

        On failure everything started is stopped and the error shows the servers' last log
        lines; MAILER_SANDBOX_KEEP=1 keeps the directory too.
        """
        if self.running:
            raise SandboxError(f"sandbox in {self.dir} is already running")
        setup.preflight()
        self._passwords = {}
        self._lay, self._owned_dir = setup.prepare_dir(self._base_dir)
        explicit = any((self._wanted.imap, self._wanted.smtp, self._wanted.lmtp))
        for attempt in range(3):
            self._ports = setup.pick_ports(self._wanted, self.tls)
            try:
                setup.launch_dovecot(self._lay, self._ports, self.users, self.password)
                setup.launch_postfix(self._lay, self._ports, self.users, self.catchall)
                break
            except PortBusyError as race:  # someone took a port between our pick and the bind
                terminate(self._pids())
                if explicit or attempt == 2:
                    self._abort()
                    raise SandboxError(str(race)) from None
            except BaseException:
                self._abort()
                raise
        ports = [self.imap_port, self.smtp_port, self.lmtp_port, self.imaps_port]
        info = {"ports": ports, "users": self.users, "password": self.password}
        self._lay.info.write_text(json.dumps({**info, "catchall": self.catchall}))
        if self._guard:
            _LIVE.add(self)
            self._watchdog = start_watchdog(
                self._lay.root,
                [self._lay.postfix_pidfile, self._lay.dovecot_pidfile],
                remove=self._owned_dir and not _keep(),
            )
        return self

    def stop(self) -> None:
        """Stop both servers gracefully, wait until every process is gone (SIGKILL after 8 s)."""
        if self._lay is None:
            return
        terminate(self._pids())
        setup.drop_stale_pidfiles(self._lay)
        if self._watchdog is not None:  # not needed any more: no crash to clean up after
            self._watchdog.kill()
            self._watchdog.wait()
            self._watchdog = None
        if self._owned_dir and not _keep():
            shutil.rmtree(self._lay.root, ignore_errors=True)
        _LIVE.discard(self)
        self._lay = None

    def _abort(self) -> None:
        """Undo a failed start()."""
        terminate(self._pids())
        if self._owned_dir and not _keep():
            shutil.rmtree(self._require().root, ignore_errors=True)
        self._lay = None

    @classmethod
    def attach(cls, base_dir: Path) -> MailSandbox:
        """A handle on a sandbox another process started in ``base_dir`` (CLI, demo)."""
        lay = Layout(Path(base_dir).resolve())
        try:
            info = json.loads(lay.info.read_text())
        except (OSError, ValueError) as exc:
            raise SandboxError(f"no mail sandbox in {base_dir}: {exc}") from None
        sandbox = cls(
            users=info["users"], password=info["password"], catchall=info["catchall"], guard=False
        )
        sandbox._lay, sandbox._ports, sandbox._owned_dir = lay, Ports(*info["ports"]), False
        return sandbox

    def __enter__(self) -> MailSandbox:
        return self if self.running else self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- where it is ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._lay is not None and all(alive(p) for p in self._pids())

    @property
    def dir(self) -> Path:
        return self._require().root

    @property
    def imap_port(self) -> int:
        return self._ports_or_fail().imap

    @property
    def smtp_port(self) -> int:
        return self._ports_or_fail().smtp

    @property
    def lmtp_port(self) -> int:
        return self._ports_or_fail().lmtp

    @property
    def imaps_port(self) -> int:  # implicit TLS (tls=True: TLS also via STARTTLS); else 0
        return self._ports_or_fail().imaps

    @property
    def ca_file(self) -> Path | None:  # PEM of the CA that signed the server's certificate
        return self._require().tls / "ca.pem" if self.imaps_port else None

    @property
    def imap_url(self) -> str:
        return f"imap://{self.host}:{self.imap_port}"

    @property
    def smtp_url(self) -> str:
        return f"smtp://{self.host}:{self.smtp_port}"

    # -- mail in -------------------------------------------------------------------------------

    def send(self, raw: bytes, *, mail_from: str, rcpt_to: list[str], wait: bool = False) -> None:
        """Submit over SMTP (line endings become CRLF); refused recipients raise.

        Postfix delivers in parallel, so messages sent one after the other may get UIDs in
        another order; ``wait=True`` returns only once Postfix has delivered (~20 ms), which
        keeps the order of sequential sends.
        """
        self._smtp(to_crlf(raw), mail_from, rcpt_to, wait)

    def deliver_as_acceptance(self, raw: bytes, to: str, *, wait: bool = False) -> None:
        """Deliver real-world mail as the acceptance check does: original recipients and
        traces removed, ``To: <to>`` added, envelope sender from Return-Path or From."""
        sender, data = prepare_acceptance(raw, to)
        self._smtp(data, sender, [to], wait)

    def append(
        self,
        user: str,
        raw: bytes,
        mailbox: str = "INBOX",
        flags: Sequence[str | bytes] = (),
        internaldate: datetime | None = None,
    ) -> int | None:
        """IMAP APPEND (e.g. old backlog mail with an old INTERNALDATE); returns the UID."""
        with self.imap(user) as client:
            if mailbox.upper() != "INBOX" and not setup.selectable(client, mailbox):
                client.create_folder(mailbox)
            reply = client.append(mailbox, raw, tuple(flags), msg_time=internaldate)
        found = re.search(rb"APPENDUID \d+ (\d+)", reply or b"")
        return int(found.group(1)) if found else None

    # -- mail out ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def imap(self, user: str) -> Iterator[IMAPClient]:
        """A logged-in IMAPClient for ``user`` (plaintext, loopback); logs out on exit."""
        client = IMAPClient(self.host, self.imap_port, ssl=False, timeout=30)
        try:
            client.login(user, self.password_of(user))
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def messages(self, user: str, mailbox: str = "INBOX") -> list[bytes]:
        """Every message of the mailbox in UID order (BODY.PEEK[]: flags untouched)."""
        with self.imap(user) as client:
            return setup.fetch_all(client, mailbox, 0)

    def wait_for_messages(
        self, user: str, count: int, timeout: float = 10.0, mailbox: str = "INBOX"
    ) -> list[bytes]:
        """Poll until the mailbox holds at least ``count`` messages; return them all."""
        deadline = time.monotonic() + timeout
        with self.imap(user) as client:
            while True:
                found = setup.fetch_all(client, mailbox, count)
                if len(found) >= count:
                    return found
                if time.monotonic() > deadline:
                    hints = "\n".join(setup.postfix_trouble(self._require())) or "(nothing)"
                    raise SandboxTimeoutError(
                        f"{user}/{mailbox}: {len(found)} of {count} messages after {timeout}s; "
                        f"Postfix says:\n{hints}"
                    )
                time.sleep(0.05)

    def deliveries(self) -> list[tuple[float, str, str, str]]:
        """(epoch with µs, user, Message-ID, mailbox) per LMTP save since start/reset()."""
        with open(self._require().dovecot_log, "rb") as log:
            log.seek(self._log_mark)
            return parse_deliveries(log.read().decode("utf-8", "replace"))

    def reset(self) -> None:
        """Clean slate between tests: empty queue, no mail, no folders, no old deliveries."""
        lay = self._require()
        if self._passwords:  # a test that rotated one did not put it back
            self._passwords = {}
            self.write_passwords()
        setup.drain_queue(lay)

        def empty(user: str) -> None:
            with self.imap(user) as client:
                setup.empty_mailboxes(client)

        with ThreadPoolExecutor(len(self.users)) as pool:
            list(pool.map(empty, self.users))  # list(): re-raise the first error
        self._log_mark = lay.dovecot_log.stat().st_size

    # -- internals -----------------------------------------------------------------------------

    def _smtp(self, data: bytes, sender: str, rcpts: list[str], wait: bool) -> None:
        options = [] if data.isascii() else ["BODY=8BITMIME"]
        with smtplib.SMTP(self.host, self.smtp_port, timeout=60) as smtp:
            refused = smtp.sendmail(sender, rcpts, data, mail_options=options)
        if refused:
            raise smtplib.SMTPRecipientsRefused(refused)
        lay = self._require()
        if wait and not setup.wait_queue_empty(lay, 10.0):
            hints = "\n".join(setup.postfix_trouble(lay)) or "(nothing)"
            raise SandboxTimeoutError(f"Postfix still holds mail after 10 s:\n{hints}")

    def _pids(self) -> list[int | None]:
        lay = self._require()
        return [read_pid(lay.postfix_pidfile, lay.root), read_pid(lay.dovecot_pidfile, lay.root)]

    def _require(self) -> Layout:
        if self._lay is None:
            raise SandboxError("mail sandbox not started: call start() or use `with`")
        return self._lay

    def _ports_or_fail(self) -> Ports:
        self._require()
        assert self._ports is not None
        return self._ports
