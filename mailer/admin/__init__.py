"""The admin's commands: init, rules test (explain), rules replay, rules editing,
templates preview, purge and backup, one request's timeline.

May import: ``core``, ``config``, ``store``, ``daemon`` helpers and the shared values; never
``ops`` or ``cli``.
"""
