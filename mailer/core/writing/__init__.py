"""Writing: the mail mailer sends, as bytes, from decisions and templates.

Threading headers, the MIME writer, rendering, the receipt, the mail of a request's life
(notifications, progress, answers) and the sample contexts used to check templates.

May import: ``mailer.core.reading``, ``mailer.core.deciding`` and the shared values.
"""
