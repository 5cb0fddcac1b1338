"""``mailer doctor``: a checklist of the real setup, each failure with its fix.

DNS, TCP, TLS and certificates, IMAP login and capabilities, SMTP, the store, templates.
May import: ``config``, ``transport``, ``store``, ``daemon`` helpers and the shared values.
"""
