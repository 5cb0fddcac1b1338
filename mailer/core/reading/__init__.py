"""Reading a message: bytes to a ``ParsedMessage`` and what can be said of it.

Parsing and MIME walking, text and charset helpers, the visible (unquoted) text of a reply,
language detection, robots and their signals (machine notices, list servers, encoded-words read
leniently), Authentication-Results and staff authentication, attachments.

May import: ``mailer.model``, ``mailer.settings``, ``mailer.errors``; nothing of the other
stages.
"""
