"""The daemon: what ``mailer run`` wires together.

The service loop (IDLE, polling, back-off), the pipeline that takes each message from the
mailbox through the core to the store, the store look-ups and steps of a conversation, the
mail queue and the outbox that sends it, live reload and the admin's alert mail.

May import: ``core``, ``config``, ``store``, ``transport``, ``ops`` helpers and the shared
values; never ``admin`` or ``cli``.
"""
