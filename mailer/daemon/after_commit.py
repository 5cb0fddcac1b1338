"""IMAP writes that follow a commit: processed mail moved to ``move_to``, sent mail copied
to ``sent_folder``. The store says what is still to do, so a crash repeats at most the
last step; a NO from the server (rights, quota) is logged once and never looped on.
"""

from __future__ import annotations

import asyncio

import structlog

from mailer.settings import ImapSettings
from mailer.store import Store
from mailer.transport.imap import Mailbox, RefusedByServer

log = structlog.get_logger("mailer.service")


async def move_processed(
    mailbox: Mailbox, store: Store, settings: ImapSettings, uidvalidity: int
) -> None:
    """Move the messages the store queued for moving (committed batches only)."""
    assert settings.move_to is not None
    uids = store.pending_moves(settings.mailbox, uidvalidity)
    if not uids:
        return
    try:
        await asyncio.to_thread(mailbox.move, uids, settings.move_to)
    except RefusedByServer as exc:  # a NO from the server: retrying will not help
        log.error(
            "imap.move_refused",
            uids=len(uids),
            folder=settings.move_to,
            error=str(exc),
            action="the messages stay in the mailbox",
        )
    store.moves_done(settings.mailbox, uids)


async def copy_sent(mailbox: Mailbox, store: Store, folder: str) -> None:
    """APPEND a \\Seen copy of each sent mail still waiting for one."""
    for row in store.copies_pending():
        try:
            await asyncio.to_thread(mailbox.append, folder, row.raw, row.created_at)
        except RefusedByServer as exc:  # quota, rights: log it once, never loop on it
            log.error(
                "imap.append_refused", message_id=row.message_id, folder=folder, error=str(exc)
            )
            store.mark_copied(row.id, status="refused")
            continue
        store.mark_copied(row.id)
