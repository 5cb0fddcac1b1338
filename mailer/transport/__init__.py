"""The wire: IMAP (imapclient), SMTP (aiosmtplib) and OAuth 2.0 tokens for both.

May import: the shared values and ``mailer.config``; never the daemon, admin, ops or cli.
"""
