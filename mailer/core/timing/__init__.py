"""Working time: calendars, durations in working time, and the due times of promises.

Pure like the rest of the core: "now" is always passed in. Instants are aware datetimes (UTC
in, UTC out); the calendar's own time zone is used only to lay out its working hours, so a
working interval that a DST change shortens or lengthens counts the real minutes in it.

May import: ``mailer.settings``, ``mailer.errors`` and the ``holidays`` package; it is used by
``deciding`` and ``writing``, and uses no other stage.
"""
