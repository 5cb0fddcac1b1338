"""mailer: a shared help mailbox that answers like a great internal service desk."""

__version__ = "0.1.0"
