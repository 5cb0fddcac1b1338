"""The mailbox watermark: (UIDVALIDITY, last UID, first seen) per mailbox, kept by the store.

Set at the first start on a mailbox, moved by every committed batch, reset (and the mailbox
rescanned, the Message-ID dedupe sending nothing twice) when the server changes UIDVALIDITY.

A first start acknowledges the mail younger than ``[imap] backlog``. So it must be one: a
store without the mailbox's watermark that is not new (``awaits_first_start``) lost it, and
if the mailbox holds mail older than the backlog window (it has been served before), the
daemon stops with ``StoreMismatch`` rather than answer the recent requests a second time.
"""

from __future__ import annotations

import asyncio
import time

import structlog

from mailer.errors import StoreMismatch
from mailer.settings import ImapSettings
from mailer.store import MailboxState, Store
from mailer.transport.imap import Mailbox, Selected

log = structlog.get_logger("mailer.service")


def check_uidvalidity(store: Store, name: str, selected: Selected) -> MailboxState:
    """The watermark for ``selected``: the stored one, a first one, or a reset one."""
    state = store.mailbox_state(name)
    with store.transaction():
        if state is None:
            state = MailboxState(selected.uidvalidity, 0, time.time())
            store.set_mailbox_state(name, state)
            store.first_start_done()
        elif state.uidvalidity != selected.uidvalidity:
            log.warning(
                "imap.uidvalidity_changed",
                old=state.uidvalidity,
                new=selected.uidvalidity,
                action="rescan; known messages are skipped",
            )
            state = MailboxState(selected.uidvalidity, 0, state.first_seen)
            store.set_mailbox_state(name, state)
            store.drop_moves(name, selected.uidvalidity)
    return state


async def guard_first_start(
    store: Store, mailbox: Mailbox, settings: ImapSettings, *, forced: bool = False
) -> None:
    """Before a first watermark is set: StoreMismatch unless this is a first start (a new
    store, an empty or recent mailbox, or the admin's ``--first-start``)."""
    if forced or store.mailbox_state(settings.mailbox) is not None or store.awaits_first_start():
        return
    cutoff = time.time() - settings.backlog
    if not await asyncio.to_thread(mailbox.holds_mail_before, cutoff):
        return  # nothing was ever left for a first start to skip: nothing to tell apart
    raise StoreMismatch(
        f"the store has no watermark for mailbox {settings.mailbox!r} and is no new store, "
        f"yet the mailbox holds mail older than [imap] backlog ({settings.backlog / 3600:g} h): "
        "this is not a first start, and taking it for one would acknowledge the mailbox's "
        "recent requests again"
    )
