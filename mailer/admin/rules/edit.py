"""``mailer rules list | add | remove | move``: edit the rules without a text editor.

Every edit is made on the text (the admins' comments and layout survive, see
``rules_edit_doc``), checked like ``mailer check`` would check it (``checks.check_all``),
and written only if it has no error, after a backup, atomically (``rules_edit_io``).
``--dry-run`` shows the diff instead. Rules are edited where they live: the file named by
``[service] rules_file``, else mailer.toml itself.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mailer.admin.rules import build
from mailer.admin.rules import files as io
from mailer.admin.rules.document import RulesText, Unsupported, parse
from mailer.errors import Problem

Change = Callable[[RulesText, io.Target], str]


def add_arguments(rules_sub: Any) -> None:
    """Add ``list``, ``add``, ``remove`` and ``move`` to the subcommands of ``mailer rules``."""
    listing = rules_sub.add_parser("list", help="the rules in match order, one line each")
    listing.add_argument("--json", action="store_true", help="one JSON object, for scripts")
    listing.set_defaults(handler=run_list)

    add = rules_sub.add_parser(
        "add", help="add a rule (default: before the first catch-all rule, else at the end)"
    )
    add.add_argument("name", help="the new rule's name, unique")
    build.add_options(add)
    _where(add, "where (default: before the first rule that matches everything, else last)")
    _dry_run(add)
    add.set_defaults(handler=run_add)

    remove = rules_sub.add_parser("remove", help="remove a rule, with its comments")
    remove.add_argument("name", help="the rule's name (see 'mailer rules list')")
    _dry_run(remove)
    remove.set_defaults(handler=run_remove)

    move = rules_sub.add_parser("move", help="move a rule, with its comments, to another place")
    move.add_argument("name", help="the rule's name (see 'mailer rules list')")
    _where(move, "where (one is required)", required=True)
    _dry_run(move)
    move.set_defaults(handler=run_move)


def _where(parser: argparse.ArgumentParser, title: str, required: bool = False) -> None:
    group = parser.add_argument_group(title).add_mutually_exclusive_group(required=required)
    group.add_argument("--before", metavar="NAME", help="just before this rule")
    group.add_argument("--after", metavar="NAME", help="just after this rule")
    group.add_argument("--position", metavar="N", type=int, help="at position N (1 = first)")


def _dry_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dry-run", action="store_true", help="print the diff and check it; write nothing"
    )


def run_list(args: argparse.Namespace, config_path: Path) -> int:
    """Print the validated rules; with errors in the config, print those instead."""
    from mailer.admin.rules import listing
    from mailer.config.load import check_settings

    settings, problems = check_settings(config_path)
    if settings is None:
        _print_problems(problems)
        print(
            "mailer: the config has errors (above); the rules are listed once it loads, "
            "fix them first (mailer check)",
            file=sys.stderr,
        )
        return 1
    if args.json:
        print(json.dumps(listing.as_json(settings), indent=2, ensure_ascii=False))
    else:
        print("\n".join(listing.table(settings)))
    return 0


def run_add(args: argparse.Namespace, config_path: Path) -> int:
    def change(doc: RulesText, target: io.Target) -> str:
        names = doc.names
        if args.name in names:
            at = names.index(args.name)
            raise io.EditError(
                f"{target.path}:{doc.line_of(at)}: a rule named '{args.name}' exists already "
                f"(position {at + 1}); choose another name, or remove that one first"
            )
        try:
            data = build.rule_data(args)
        except ValueError as exc:
            raise io.EditError(str(exc)) from None
        if (args.before, args.after, args.position) != (None, None, None):
            index, why = _position(names, args, target), ""
        else:
            index, why = _default_position(doc)
        text = build.render(data, doc.match_indent, doc.match_blank_line, doc.newline)
        doc.insert(index, text, data)
        where = why or _next_to(doc.names, index)
        return f"added rule '{args.name}' at position {index + 1} of {len(doc.names)}{where}"

    return _edit(args, config_path, change)


def run_remove(args: argparse.Namespace, config_path: Path) -> int:
    def change(doc: RulesText, target: io.Target) -> str:
        index = _find(doc.names, target, args.name)
        doc.remove(index)
        return (
            f"removed rule '{args.name}' (it was at position {index + 1} of {len(doc.names) + 1})"
        )

    return _edit(args, config_path, change)


def run_move(args: argparse.Namespace, config_path: Path) -> int:
    def change(doc: RulesText, target: io.Target) -> str:
        index = _find(doc.names, target, args.name)
        if args.name in (args.before, args.after):
            raise io.EditError(f"'{args.name}' cannot move next to itself; name another rule")
        others = [name for name in doc.names if name != args.name]
        to = _position(others, args, target)
        if to == index:
            return f"rule '{args.name}' is at position {index + 1} already"
        rule, data = doc.remove(index)
        doc.insert(to, rule, data)
        return f"moved rule '{args.name}' from position {index + 1} to {to + 1}" + _next_to(
            doc.names, to
        )

    return _edit(args, config_path, change)


def _edit(args: argparse.Namespace, config_path: Path, change: Change) -> int:
    """Read, change, check, then write (or show) the rules; the exit code."""
    try:
        target = io.find_target(config_path)
        old = io.read(target.path)
        bom = io.BOM if old.startswith(io.BOM) else ""
        text = old.removeprefix(bom)
        try:
            doc = parse(text)
        except tomllib.TOMLDecodeError:
            problems = io.errors(target.check()) or [
                Problem(str(target.path), None, None, None, "not valid TOML")
            ]
            raise io.EditError(
                *map(str, problems), f"fix {target.path} first (mailer check)"
            ) from None
        except Unsupported as exc:
            raise io.EditError(f"{target.path}: cannot edit it safely: {exc}") from None
        done = change(doc, target)
        new = doc.render()
        if new == text:
            print(f"{target.path}: {done}; nothing changed")
            return 0
        _check(target, new)
        if args.dry_run:
            sys.stdout.write(io.diff(target.path, text, new))
            print(f"{target.path}: {done} (dry run: nothing was written)")
            return 0
        backup = io.replace(target.path, old, bom + new)
    except io.EditError as exc:
        for line in exc.lines:
            print(line, file=sys.stderr)
        return 1
    except OSError as exc:
        where = exc.filename or config_path
        print(
            f"{where}: {exc.strerror or exc}; nothing was changed (run it as the user who owns "
            "the rules, or fix the permissions)",
            file=sys.stderr,
        )
        return 1
    print(f"{target.path}: {done}; the old file is kept as {backup}")
    return 0


def _check(target: io.Target, new: str) -> None:
    """Raise with the problems if ``new`` has an error; print warnings it brings."""
    problems = target.check(new)
    before = target.check()
    known = {_problem_key(p) for p in before}
    if io.errors(problems):
        lines = [str(p) for p in io.errors(problems)]
        if io.errors(before):
            lines.append(
                "(the config had errors before this edit too: fix them first, see mailer check)"
            )
        raise io.EditError(*lines, f"nothing was written to {target.path}")
    _print_problems([p for p in problems if _problem_key(p) not in known])


def _problem_key(problem: Problem) -> tuple[str, str | None, str | None, str]:
    """A problem without its line numbers, which an edit shifts."""
    return (problem.path, problem.section, problem.key, re.sub(r"\d+", "#", problem.message))


def _find(names: list[str], target: io.Target, name: str) -> int:
    """The index of rule ``name``; unknown: the names, and the closest one."""
    if name in names:
        return names.index(name)
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    listed = ", ".join(names) or "none"
    raise io.EditError(f"no rule named '{name}'{hint} in {target.path}; the rules: {listed}")


def _default_position(doc: RulesText) -> tuple[int, str]:
    """Before the first rule that matches everything (it would hide the new one), else last."""
    catch_all = next((i for i, r in enumerate(doc.data) if not build.has_conditions(r)), None)
    if catch_all is None:
        return len(doc.names), " (at the end)"
    name = doc.names[catch_all]
    return catch_all, f" (before '{name}', the first rule that matches everything)"


def _position(names: list[str], args: argparse.Namespace, target: io.Target) -> int:
    """The index ``--before``, ``--after`` or ``--position`` asks for, once a rule joins."""
    if args.position is not None:
        slots = len(names) + 1
        if not 1 <= args.position <= slots:
            raise io.EditError(f"--position {args.position}: choose a position from 1 to {slots}")
        return int(args.position) - 1
    if args.before is not None:
        return _find(names, target, args.before)
    return _find(names, target, args.after) + 1


def _next_to(names: list[str], index: int) -> str:
    return f" (before '{names[index + 1]}')" if index + 1 < len(names) else " (at the end)"


def _print_problems(problems: list[Problem]) -> None:
    for problem in problems:
        print(problem, file=sys.stderr)
