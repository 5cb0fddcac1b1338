"""The admin's commands: init, config, rules …, templates …, doctor, purge, backup, report.

Each command's module adds its own arguments and sets ``handler``, called as
``handler(args, config_path) -> exit code``; modules are imported when the parser is built,
and import nothing heavy at module level, so ``mailer --help`` stays fast.
"""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    """Add ``init``, ``config``, ``rules`` and ``templates`` to the top-level subcommands."""
    from mailer.admin import preview, purge, show_config, storecopy
    from mailer.admin import report as report_cmd
    from mailer.admin.explain import command as explain_cmd
    from mailer.admin.init import command as init_cmd
    from mailer.admin.replay import command as replay
    from mailer.admin.rules import edit as rules_edit
    from mailer.ops.doctor import run as doctor

    init = sub.add_parser(
        "init", help="write a new config, rules file and templates into a directory"
    )
    init_cmd.add_arguments(init)
    init.set_defaults(handler=lambda args, path: init_cmd.run(args))

    config = sub.add_parser(
        "config", help="print the configuration in force as TOML, passwords masked"
    )
    show_config.add_arguments(config)
    config.set_defaults(handler=show_config.run)

    rules = sub.add_parser("rules", help="test, replay and edit the rules")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    test = rules_sub.add_parser(
        "test", help="explain what mailer would do with one message (touches nothing)"
    )
    explain_cmd.add_arguments(test)
    test.set_defaults(handler=explain_cmd.run)
    replay_parser = rules_sub.add_parser(
        "replay", help="run the rules over past mail (mbox, Maildir or a folder of .eml)"
    )
    replay.add_arguments(replay_parser)
    replay_parser.set_defaults(handler=replay.run)
    rules_edit.add_arguments(rules_sub)

    check_setup = sub.add_parser(
        "doctor", help="check the real setup (DNS, TLS, login, capabilities, store) with fixes"
    )
    doctor.add_arguments(check_setup)
    check_setup.set_defaults(handler=doctor.run)
    purge_parser = sub.add_parser(
        "purge", help="remove requests and bodies past [store] retention_days"
    )
    purge.add_arguments(purge_parser)
    purge_parser.set_defaults(handler=purge.run)
    backup = sub.add_parser("backup", help="copy the store while the daemon runs (online backup)")
    purge.add_backup_arguments(backup)
    backup.set_defaults(handler=purge.run_backup)

    report = sub.add_parser(
        "report", help="service report: volumes, response times, SLA, ratings, backlog (charts)"
    )
    report_cmd.add_arguments(report)
    report.set_defaults(handler=report_cmd.run)

    store = sub.add_parser("store", help="move the store: copy SQLite into PostgreSQL")
    storecopy.add_arguments(store)
    templates = sub.add_parser("templates", help="look at the mail templates")
    templates_sub = templates.add_subparsers(
        dest="templates_command", required=True, metavar="ACTION"
    )
    preview_parser = templates_sub.add_parser(
        "preview", help="render a template as its reader would see it (text and HTML)"
    )
    preview.add_arguments(preview_parser)
    preview_parser.set_defaults(handler=preview.run)


def has_handler(args: argparse.Namespace) -> bool:
    return callable(getattr(args, "handler", None))
