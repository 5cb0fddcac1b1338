"""``mailer rules test FILE.eml``: what mailer would do with one message, and why."""
