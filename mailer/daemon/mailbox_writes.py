"""What the daemon writes to the mailbox, only after the store committed: moves and copies.

``[imap] move_to`` moves handled mail out of the shared mailbox (UID MOVE, or COPY and
EXPUNGE of those UIDs only); ``[imap] sent_folder`` keeps a \\Seen copy of everything sent.
A NO from the server (quota, rights) is logged once and never retried in a loop.
"""

from __future__ import annotations

import asyncio
import threading

import structlog

from mailer.settings import Settings
from mailer.store import Store
from mailer.transport.imap import Mailbox, RefusedByServer

log = structlog.get_logger("mailer.service")
REFUSED = RefusedByServer


class MailboxWrites:
    settings: Settings
    store: Store
    mailbox: Mailbox
    connected: bool
    wake_intake: threading.Event

    async def _moves(self, uidvalidity: int) -> None:
        s = self.settings
        assert s.imap.move_to is not None
        uids = self.store.pending_moves(s.imap.mailbox, uidvalidity)
        if uids:
            try:
                await asyncio.to_thread(self.mailbox.move, uids, s.imap.move_to)
            except REFUSED as exc:  # a NO from the server: retrying will not help
                log.error(
                    "imap.move_refused",
                    uids=len(uids),
                    folder=s.imap.move_to,
                    error=str(exc),
                    action="the messages stay in the mailbox",
                )
            self.store.moves_done(s.imap.mailbox, uids)

    async def _copies(self) -> None:
        """APPEND a \\Seen copy of each sent mail to the Sent folder, when configured."""
        folder = self.settings.imap.sent_folder
        if folder is None or not self.connected:
            return
        self.wake_intake.clear()
        for row in self.store.copies_pending():
            try:
                await asyncio.to_thread(self.mailbox.append, folder, row.raw, row.created_at)
            except REFUSED as exc:  # quota, rights: log it once, never loop on it
                log.error(
                    "imap.append_refused", message_id=row.message_id, folder=folder, error=str(exc)
                )
                self.store.mark_copied(row.id, status="refused")
                continue
            self.store.mark_copied(row.id)
