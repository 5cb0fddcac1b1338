"""The admin's TOML turned into frozen ``Settings``, and everything that checks it.

Loading (lines, tables, values, sections), the transport, staff, rules and OAuth sections,
the templates' Jinja environment, and ``mailer check``'s validation.

May import: ``mailer.core`` (to compile rules and render samples) and the shared values;
never the store, transport, daemon, ops, admin or cli.
"""
