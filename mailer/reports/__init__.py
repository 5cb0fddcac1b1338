"""Service reports for people: the store's steps gathered into the core's figures
(``gather``), then printed as tables and CSV (``tables``), drawn as charts (``charts``,
matplotlib, offline), laid out as one self-contained HTML page (``page``) and as the weekly
report mail (``mail``). Used by ``mailer report`` (admin) and the daemon's weekly mail.

May import: the core, the config's reading of calendars, the store's interface and the
shared values; never the daemon, admin, ops, cli or transport (pyproject.toml).
matplotlib is imported only when a chart is drawn: the daemon does not carry it otherwise.
"""
