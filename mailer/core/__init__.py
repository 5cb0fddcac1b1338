"""The pure core: values in, values out.

It reads a message, decides what it means and writes the mail that answers it, with no
sockets, no SQL, no files and no clock: "now" and the settings are passed in. Three stages,
each a subpackage that may use the ones before it: ``reading`` → ``deciding`` → ``writing``.

May import: the standard library's pure parts, jinja2's types, and of mailer only ``core``
itself and the shared values ``mailer.model``, ``mailer.settings``, ``mailer.errors``.
"""
