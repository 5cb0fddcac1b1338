"""``mailer config [--defaults]``: the configuration in force, as TOML, secrets masked.

Like ``postconf -n`` (and ``doveconf -n``): what the admin set, with the value mailer uses;
``--defaults`` adds every other key with its default. The config is read as ``mailer check``
reads it, but password files and variables are never opened: the output names them, and
shows an inline password as ``"********"``. Only the TOML goes to stdout, so it can be saved
and diffed: ``mailer check`` accepts it unchanged (and warns about the masked password).
Problems go to stderr, warnings included; an invalid config prints no TOML (exit 2).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--defaults",
        action="store_true",
        help="also every key the config leaves out, with its default",
    )


def run(args: argparse.Namespace, config_path: Path) -> int:
    from mailer.config.dump import effective_toml
    from mailer.config.load import check_settings
    from mailer.errors import ConfigError

    settings, problems = check_settings(config_path, reach_secrets=False)
    if settings is None:
        raise ConfigError(problems)
    for problem in problems:
        print(problem, file=sys.stderr)
    sys.stdout.write(effective_toml(settings, defaults=args.defaults))
    return 0
