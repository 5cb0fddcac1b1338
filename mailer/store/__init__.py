"""The store: every request, message, step and queued mail, behind one interface.

SQLite by default (schema and migrations, outbox and quarantine queues, retention). This is
the only package that speaks SQL.

May import: the shared values (``mailer.model``, ``mailer.errors``, ``mailer.settings``).
"""
