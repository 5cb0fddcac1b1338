"""The mailbox watermark: (UIDVALIDITY, last UID, first seen) per mailbox, kept by the store.

Set at the first start on a mailbox, moved by every committed batch, reset (and the mailbox
rescanned, the Message-ID dedupe sending nothing twice) when the server changes UIDVALIDITY.
"""

from __future__ import annotations

import time

import structlog

from mailer.store import MailboxState, Store
from mailer.transport.imap import Selected

log = structlog.get_logger("mailer.service")


def check_uidvalidity(store: Store, name: str, selected: Selected) -> MailboxState:
    """The watermark for ``selected``: the stored one, a first one, or a reset one."""
    state = store.mailbox_state(name)
    with store.transaction():
        if state is None:
            state = MailboxState(selected.uidvalidity, 0, time.time())
            store.set_mailbox_state(name, state)
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
