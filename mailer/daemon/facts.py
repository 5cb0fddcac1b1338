"""Gather what the store knows about an inbound message, for the pure decision table.

The only reads ``decide`` needs: duplicate?, robot?, which thread?, a bounce of ours?,
how many receipts this sender got today, how many automatic messages in a row.
"""

from __future__ import annotations

from mailer.core.deciding.decide import Facts, receipt_address
from mailer.core.reading import robots
from mailer.core.writing import thread_headers
from mailer.core.writing.render import LOOP_HEADER
from mailer.model import ParsedMessage, ThreadInfo
from mailer.settings import Settings
from mailer.store import Store

DAY = 86400.0
# Robots that return a message: the Message-ID inside them may be one of ours.
BOUNCE_REASONS = frozenset({"dsn", "bounce", "report"})


def gather_facts(
    s: Settings, store: Store, msg: ParsedMessage, now: float, *, backlog: bool
) -> Facts:
    duplicate = store.knows_inbound(msg.key)
    robot = robots.robot_reason(
        msg,
        own_addresses=s.service.own_addresses,
        own_domain=s.service.domain,
        loop_header=LOOP_HEADER,
        no_reply_patterns=s.service.no_reply_senders,
        require_addressed=s.service.require_addressed,
    )
    bounced = None
    if robot in BOUNCE_REASONS:  # it returns our mail: tie it to that thread
        bounced = store.thread_by_message_ids(robots.bounce_message_ids(msg))
    thread = None if bounced else thread_for(s, store, msg)
    to = receipt_address(msg)
    return Facts(
        robot=robot,
        thread=thread,
        backlog=backlog,
        duplicate=duplicate,
        receipts_to_sender=store.receipts_sent_to(to.key, now - DAY) if to else 0,
        automatic_in_thread=(
            store.automatic_in_a_row(thread.id, now - s.limits.auto_per_thread_window)
            if thread
            else 0
        ),
        bounced_thread=bounced,
    )


def thread_for(s: Settings, store: Store, msg: ParsedMessage) -> ThreadInfo | None:
    """Our Message-IDs in In-Reply-To/References, then [REF] in the subject from the requester.

    Never the subject alone (standards D101): a reference quoted by somebody else does
    not put their mail into another person's request.
    """
    thread = store.thread_by_message_ids((*msg.references, *msg.in_reply_to))
    if thread is not None:
        return thread
    ref = thread_headers.find_reference(msg.subject, s.service.reference_prefix)
    if ref is None:
        return None
    thread = store.thread_by_reference(ref)
    sender = receipt_address(msg)
    if thread is None or sender is None:
        return None
    senders = {sender.key, *(a.key for a in msg.from_)}
    return thread if thread.requester in senders else None
