"""Look up what the store knows about an inbound message: every read judging needs, at once.

The one place between parsing and judging that reads the store (``core.deciding.judge`` is
pure): duplicate?, which request?, the one a [REF] names, a bounce's request, how many
receipts this sender got today, how many automatic messages in a row, whether it replies to
a mail we sent the request's requester (what a requester's command must do). ``mailer rules
test`` reads a read-only store through the same function.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from mailer.core.deciding.decide import receipt_address
from mailer.core.deciding.judge import Known
from mailer.core.reading import robots
from mailer.core.reading.parse import parse_inbound
from mailer.core.writing import outgoing, thread_headers
from mailer.model import InboundMail, ParsedMessage, ThreadInfo
from mailer.settings import Settings
from mailer.store import Store

DAY = 86400.0
WINDOW = 25  # messages parsed ahead of judging: their arrival facts come in one read
# The mail a request's requester gets from us: a reply to one of them is the requester's.
TO_REQUESTER = frozenset({"receipt", *outgoing.REQUESTER_KINDS})


def look_up(s: Settings, store: Store, msg: ParsedMessage, now: float, *, backlog: bool) -> Known:
    """Read everything judging ``msg`` may need; ``backlog`` comes from the mailbox state."""
    named = None
    thread = store.thread_by_message_ids((*msg.references, *msg.in_reply_to))
    ref = thread_headers.find_reference(msg.subject, s.service.reference_prefix)
    if thread is None and ref is not None:
        named = store.thread_by_reference(ref)
        thread = named if _from_requester(msg, named) else None
    returned_ids = robots.bounce_message_ids(msg)  # they count only if it is a bounce
    to = receipt_address(msg)
    window = now - s.limits.auto_per_thread_window
    ours = [m for m in store.thread_messages(thread.id) if m.direction == "out"] if thread else []
    named_ids = {*msg.references, *msg.in_reply_to}
    duplicate, receipts = store.arrival_facts(msg.key, to.key if to else None, now - DAY)
    return Known(
        duplicate=duplicate,
        backlog=backlog,
        thread=thread,
        named=named,
        returned=store.thread_by_message_ids(returned_ids),
        returned_ids=returned_ids,
        receipts_to_sender=receipts,
        automatic_in_thread=store.automatic_in_a_row(thread.id, window) if thread else 0,
        replies_to_requester_mail=any(
            m.key in named_ids and m.decision in TO_REQUESTER for m in ours
        ),
        confirmations_today=sum(m.decision == "confirm" and m.at > now - DAY for m in ours),
    )


def _from_requester(msg: ParsedMessage, thread: ThreadInfo | None) -> bool:
    """A [REF] in the subject counts only from the requester (standards D101): a reference
    quoted by somebody else does not put their mail into another person's request."""
    sender = receipt_address(msg)
    if thread is None or sender is None:
        return False
    return thread.requester in {sender.key, *(a.key for a in msg.from_)}


def windows(batch: Iterable[InboundMail]) -> Iterator[list[InboundMail]]:
    """The batch in windows of ``WINDOW`` messages, for ``read_ahead``."""
    window: list[InboundMail] = []
    for item in batch:
        window.append(item)
        if len(window) == WINDOW:
            yield window
            window = []
    if window:
        yield window


def read_ahead(
    s: Settings, store: Store, window: list[InboundMail], now: float
) -> list[tuple[InboundMail, ParsedMessage | Exception]]:
    """Parse a few messages before judging them, so that the store reads what judging them
    needs in one round trip (``Store.expect_arrivals``). A message that cannot be parsed
    keeps its exception: it fails in its own turn, inside its fault boundary, as before."""
    parsed: list[ParsedMessage | Exception] = []
    for item in window:
        try:
            parsed.append(parse_inbound(item, max_size=s.limits.max_message_size))
        except Exception as exc:  # that message's own failure, raised in its turn
            parsed.append(exc)
    arrivals = [
        (msg.key, to.key if (to := receipt_address(msg)) else None)
        for msg in parsed
        if isinstance(msg, ParsedMessage)
    ]
    store.expect_arrivals(arrivals, now - DAY)
    return list(zip(window, parsed, strict=True))
