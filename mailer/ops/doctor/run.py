"""``mailer doctor [--send-test] [--json]``: check the real set-up, say how to fix what fails.

``mailer check`` validates files; the doctor goes further and talks to the servers the way
the daemon will: DNS, TCP, TLS and the certificate, login, the IMAP capabilities mailer
relies on, the mailbox and folders, SMTP EHLO/STARTTLS/AUTH (and, when asked, a test mail
to the service's own address), then the store and the templates. Each line is
``[ ok ]``, ``[warn]`` (works, with a cost worth knowing), ``[FAIL] ...: what → fix`` or
``[skip]`` (not tried: an earlier step of its chain failed). Exit 1 on any FAIL.

No password is ever printed: a login failure names where the password comes from.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

from mailer.errors import Problem
from mailer.ops.doctor.checklist import Check, exit_code, render_json, run_chain, scrub, summary
from mailer.ops.doctor.imap import ImapProbe
from mailer.ops.doctor.local import store_checks, template_checks
from mailer.ops.doctor.net import password_source
from mailer.ops.doctor.smtp import SmtpProbe
from mailer.settings import Settings

__all__ = ["add_arguments", "diagnose", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--send-test",
        action="store_true",
        help="also submit a short test mail to the service's own address (not answered)",
    )
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")


def run(args: argparse.Namespace, config_path: Path) -> int:
    """Print the checklist (each line as soon as it is known); 0 if nothing failed."""
    as_json = bool(getattr(args, "json", False))
    checks: list[Check] = []
    for check in diagnose(config_path, send_test=bool(getattr(args, "send_test", False))):
        checks.append(check)
        if not as_json:
            print(check.line(), flush=True)
    print(render_json(checks) if as_json else f"\n{summary(checks)}")
    return exit_code(checks)


def diagnose(config_path: Path, *, send_test: bool = False) -> Iterator[Check]:
    """Every check, in checklist order, with passwords blanked."""
    from mailer.config.load import check_settings

    settings, problems = check_settings(config_path)
    secrets = (settings.imap.password, settings.smtp.password) if settings else ()
    for check in _checks(config_path, settings, problems, send_test):
        yield scrub(check, secrets)


def _checks(
    config_path: Path, settings: Settings | None, problems: list[Problem], send_test: bool
) -> Iterator[Check]:
    yield from config_checks(config_path, settings, problems)
    if settings is None:
        name = "IMAP, SMTP, store and templates"
        yield Check("config", name, "skip", "not tried: config failed")
        return
    imap = ImapProbe(settings.imap, password_source(settings.config_path, "imap"))
    try:
        yield from run_chain("imap", imap.steps())
    finally:
        imap.close()
    smtp = SmtpProbe(settings, password_source(settings.config_path, "smtp"), send_test=send_test)
    try:
        yield from run_chain("smtp", smtp.steps())
    finally:
        smtp.close()
    if settings.store.url:
        from mailer.ops.doctor.postgres import pg_store_checks

        yield from pg_store_checks(settings.store)
    else:
        yield from store_checks(settings.store.path)
    yield from template_checks(settings)


def config_checks(
    config_path: Path, settings: Settings | None, problems: list[Problem]
) -> Iterator[Check]:
    """One line per problem, as ``mailer check`` prints it (PATH:LINE: ...)."""
    if settings is not None:
        yield Check("config", "config is valid", "ok", str(config_path))
    for problem in problems:
        yield Check("config", "config", "warn" if problem.warning else "fail", str(problem))


if __name__ == "__main__":  # pragma: no cover - the CLI wires ``run``; this helps try it
    parser = argparse.ArgumentParser(prog="mailer doctor")
    parser.add_argument("config", type=Path)
    add_arguments(parser)
    arguments = parser.parse_args()
    sys.exit(run(arguments, arguments.config))
