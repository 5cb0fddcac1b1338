"""Service reports as values: what was opened, answered, solved and rated in a period.

Pure like the rest of the core: the requests and their steps come in as values (``facts``),
the period and its weeks are computed in a time zone (``weeks``), and the figures come out
as frozen values (``figures``) that every output (terminal, CSV, JSON, the HTML page, the
weekly mail) prints the same way. No request text ever comes in: references, teams,
categories, owners, times, and a rating's score.

May import: ``timing`` (working time in a team's calendar), ``deciding`` (a rating's score),
and the shared values; nothing above it in the core imports it.
"""
