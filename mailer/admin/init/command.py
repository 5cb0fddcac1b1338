"""``mailer init DIR``: a working, commented config to start from, then ``mailer check`` on it.

Writes DIR/mailer.toml, DIR/rules.toml, DIR/templates/ and a password file, nothing else. On
a terminal it asks for the essentials; ``--defaults`` (or stdin not a terminal) takes flags,
else defaults, which pass ``mailer check`` as they are: the admin starts from green and
replaces placeholders. Files are staged in DIR and renamed in, or all removed on an error.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import shutil
import sys
import tempfile
import time
from argparse import Namespace
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from mailer.admin.init import rules_file, texts
from mailer.admin.init.texts import Answers, Secret, Server
from mailer.config import values as v
from mailer.config.transport import DEFAULT_PORTS, is_loopback
from mailer.errors import MailerError

T = TypeVar("T")
PLACEHOLDER = "REPLACE-ME-with-the-password\n"
FILE_MODE, SECRET_MODE, DIR_MODE = 0o640, 0o600, 0o750
DEFAULT_ADDRESS = "helpdesk@example.test"
DEFAULT_SECURITY = {"imap": "tls", "smtp": "starttls"}


class Refused(MailerError):
    """init will not go on; the message says what to do instead."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", metavar="DIR", help="where to write (created if missing)")
    parser.add_argument("--defaults", action="store_true", help="ask nothing: flags, else defaults")
    parser.add_argument("--force", action="store_true", help="overwrite files already in DIR")
    group = parser.add_argument_group("service")
    group.add_argument("--name", type=_arg(v.string), help="the service name people see")
    group.add_argument("--address", type=_arg(v.address), help="the shared address")
    group.add_argument("--language", choices=texts.LANGUAGES, help="default receipt language")
    staff = "staff allowed to use #keywords (repeat the flag, or separate by commas)"
    group.add_argument("--staff", type=_arg(_addresses), action="extend", help=staff)
    authserv = 'the server whose Authentication-Results prove staff mail ("microsoft365")'
    group.add_argument("--authserv-id", type=_arg(_authserv_id), metavar="ID", help=authserv)
    for section in ("imap", "smtp"):
        group = parser.add_argument_group(section.upper())
        group.add_argument(f"--{section}-host", type=_arg(v.host), metavar="HOST")
        group.add_argument(f"--{section}-port", type=_arg(_port), metavar="PORT")
        group.add_argument(f"--{section}-security", choices=("tls", "starttls", "none"))
        group.add_argument(f"--{section}-user", type=_arg(v.string), metavar="NAME")
        secret = group.add_mutually_exclusive_group()
        where = f"an existing file holding the password (default: DIR/{section}.password)"
        secret.add_argument(f"--{section}-password-file", metavar="PATH", help=where)
        variable = "an environment variable holding the password, instead of a file"
        secret.add_argument(
            f"--{section}-password-env", type=_arg(_variable), metavar="VAR", help=variable
        )


def run(args: Namespace) -> int:
    """Ask, write, check; 0 when ``mailer check`` finds no error in the result."""
    target = Path(args.directory).expanduser().absolute()
    interactive = not args.defaults and bool(sys.stdin and sys.stdin.isatty())
    try:
        if target.exists() and not target.is_dir():
            raise Refused(f"{target} is a file; give a directory (new or existing) instead")
        files = {"mailer.toml": (b"", FILE_MODE), "rules.toml": (b"", FILE_MODE)}  # for now
        files.update(_template_files())
        _refuse_existing(target, files, args.force)  # before asking anything
        answers = gather(args, Prompter(interactive))
        for secret in (answers.imap.secret, answers.smtp.secret):
            if secret and secret.content and not _kept(target, secret):
                files[secret.value] = (secret.content.encode(), SECRET_MODE)
        files["mailer.toml"] = (texts.config_text(answers).encode(), FILE_MODE)
        files["rules.toml"] = (rules_file.rules_text(answers).encode(), FILE_MODE)
        _refuse_existing(target, files, args.force)
        for kept in write_tree(target, files):
            print(f"the previous version is kept as {kept}")
    except Refused as exc:
        print(f"mailer init: {exc}", file=sys.stderr)
        return 1
    except EOFError:
        print("\nmailer init: input ended before every answer; nothing written", file=sys.stderr)
        return 1
    except OSError as exc:
        where, why = exc.filename or target, exc.strerror or exc
        print(f"mailer init: cannot write {where}: {why}; nothing written", file=sys.stderr)
        return 1
    return _report(target, answers, files)


@dataclass(frozen=True)
class Prompter:
    """Takes a flag's value as given; else asks (on a terminal) or takes the default."""

    interactive: bool

    def ask(self, given: T | None, question: str, default: str, convert: Callable[[str], T]) -> T:
        if given is not None:
            return given
        if not self.interactive:
            return convert(default)
        while True:
            raw = input(f"{question} [{default}]: ").strip() or default
            try:
                return convert(raw)
            except v.Invalid as exc:
                print(f"  {exc}; please try again")


def gather(args: Namespace, prompter: Prompter) -> Answers:
    """Every answer, in the order an admin thinks of them; a flag's value is not asked."""
    ask = prompter.ask
    if prompter.interactive:
        print("mailer init: press Enter to take the [default]; Ctrl-C stops, writing nothing.")
    name = ask(args.name, "Service name, shown in From", "IT Help Desk", v.string)
    address = ask(args.address, "Shared address people write to", DEFAULT_ADDRESS, v.address)
    imap = _server(prompter, args, "imap", address, None)
    smtp = _server(prompter, args, "smtp", address, imap)
    language = ask(args.language, "Default language (en/it)", "en", v.choice(*texts.LANGUAGES))
    question = "Staff addresses allowed to use #keywords, separated by commas"
    staff = ask(tuple(args.staff) if args.staff else None, question, "none", _addresses)
    question = 'authserv-id of your mail server ("microsoft365" for Exchange Online)'
    authserv_id = ask(args.authserv_id, question, "none", _optional(_authserv_id))
    return Answers(name, address, imap, smtp, language, staff, authserv_id)


def _server(
    p: Prompter, args: Namespace, section: str, address: str, imap: Server | None
) -> Server:
    """Host, security, the port it implies (993, 587 ...), then who logs in and how."""
    ask, label = p.ask, section.upper()
    flag = {k: getattr(args, f"{section}_{k}") for k in ("host", "port", "security", "user")}
    host = ask(flag["host"], f"{label} server", f"{section}.{address.split('@')[1]}", v.host)
    question = f'{label} security: "tls", "starttls" or "none"'
    security = ask(flag["security"], question, DEFAULT_SECURITY[section], _security(host))
    try:
        _security(host)(security)  # a flag has not been through the question
    except v.Invalid as exc:
        raise Refused(f"--{section}-security: {exc}") from None
    port = ask(flag["port"], f"{label} port", str(DEFAULT_PORTS[section][security]), _port)
    if imap is None:
        user = ask(flag["user"], "IMAP username", address, v.string)
        return Server(host, port, security, user, _secret(p, section, args))
    user = ask(flag["user"], 'SMTP username ("none": no login)', "none", _optional(v.string))
    given = args.smtp_password_file or args.smtp_password_env
    if user is None:
        if given:
            raise Refused("an SMTP password needs --smtp-user; without one mailer does not log in")
        return Server(host, port, security)
    if user == imap.user and imap.secret and not given:  # the same account, the same password
        return Server(host, port, security, user, replace(imap.secret, content=None))
    return Server(host, port, security, user, _secret(p, section, args))


def _secret(prompter: Prompter, section: str, args: Namespace) -> Secret:
    """A password file in DIR (typed, or a placeholder), or the file / variable given."""
    path, variable = (getattr(args, f"{section}_password_{k}") for k in ("file", "env"))
    if path:  # referenced where it is; a relative path is taken from the current directory
        found = Path(path).expanduser().absolute()
        if not found.is_file():
            raise Refused(f"{found} does not exist; create it, or drop --{section}-password-file")
        return Secret("password_file", str(found))
    if variable:
        return Secret("password_env", variable)
    name, label = f"{section}.password", section.upper()
    if prompter.interactive:
        question = f"{label} password: in a file ({name}, mode 0600) or a variable? (file/env)"
        if prompter.ask(None, question, "file", v.choice("file", "env")) == "env":
            default = f"MAILER_{label}_PASSWORD"
            return Secret("password_env", prompter.ask(None, "Variable name", default, _variable))
        typed = getpass.getpass(f"{label} password (hidden; empty: a placeholder to replace): ")
        if typed:
            return Secret("password_file", name, typed + "\n")
    return Secret("password_file", name, PLACEHOLDER)


def _security(host: str) -> Callable[[str], str]:
    def convert(raw: str) -> str:
        chosen = v.choice("tls", "starttls", "none")(raw)
        if chosen == "none" and not is_loopback(host):
            raise v.Invalid(
                f'"none" sends the password in clear text to {host}; choose "tls" or '
                '"starttls" (or set allow_insecure = true in mailer.toml later, if trusted)'
            )
        return chosen

    return convert


def _port(raw: str) -> int:
    return v.integer(1, 65535)(int(raw) if raw.strip().isdigit() else raw)


def _variable(raw: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", raw):
        raise v.expected("a variable name like MAILER_IMAP_PASSWORD", raw)
    return raw


def _addresses(raw: str) -> tuple[str, ...]:
    listed = raw.strip().lower() not in ("", "none", "-")
    return tuple(v.address(a).lower() for a in re.split(r"[,;\s]+", raw.strip()) if a and listed)


def _authserv_id(raw: str) -> str:
    found = v.string(raw)
    if any(c.isspace() or c in ';()"' for c in found):
        raise v.expected('a server name like "mx.example.org", or "microsoft365"', raw)
    return found.lower()


def _optional(convert: Callable[[str], T]) -> Callable[[str], T | None]:
    return lambda raw: None if raw.strip().lower() in ("", "none", "-") else convert(raw)


def _arg(convert: Callable[[str], T]) -> Callable[[str], T]:
    """A converter as an argparse ``type``: its message becomes the usage error."""

    def parse(raw: str) -> T:
        try:
            return convert(raw)
        except v.Invalid as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def _template_files() -> dict[str, tuple[bytes, int]]:
    """The shipped templates, to be copied into DIR/templates, and the README about them."""
    from mailer.config.templates import shipped_templates_dir

    root = shipped_templates_dir()
    found = {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.j2"))}
    files = {f"templates/{name}": (data, FILE_MODE) for name, data in found.items()}
    if not files:
        raise Refused(f"no shipped templates in {root}; reinstall mailer")
    files["templates/README.txt"] = (texts.TEMPLATES_README.encode(), FILE_MODE)
    return files


def _kept(target: Path, secret: Secret) -> bool:
    """A placeholder never replaces a password file already there."""
    return secret.content == PLACEHOLDER and (target / secret.value).exists()


def _refuse_existing(target: Path, files: Mapping[str, object], force: bool) -> None:
    found = [name for name in files if (target / name).exists()]
    if found and not force:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise Refused(
            f"{target / found[0]} exists{more}; move it away, choose another directory, "
            "or pass --force to overwrite"
        )


def write_tree(target: Path, files: Mapping[str, tuple[bytes, int]]) -> list[Path]:
    """All files or none (staged, then renamed; on an error what was added is removed). A file
    --force replaces with other content is kept as ``NAME.YYYYmmdd-HHMMSS.bak`` (returned)."""
    fresh = not target.exists()
    target.mkdir(DIR_MODE, parents=True, exist_ok=True)
    if fresh:
        target.chmod(DIR_MODE)  # whatever the umask
    stage = Path(tempfile.mkdtemp(prefix=".mailer-init-", dir=target))
    added: list[Path] = []
    kept: list[Path] = []
    stamp = time.strftime("%Y%m%d-%H%M%S")
    try:
        for name, (data, mode) in files.items():
            (stage / name).parent.mkdir(parents=True, exist_ok=True)
            with os.fdopen(os.open(stage / name, os.O_WRONLY | os.O_CREAT, mode), "wb") as out:
                out.write(data)
            (stage / name).chmod(mode)
        for name in files:
            for folder in (target / p for p in reversed(Path(name).parents[:-1])):
                if not folder.exists():
                    folder.mkdir(DIR_MODE)
                    folder.chmod(DIR_MODE)
                    added.append(folder)
            old = target / name
            if not old.exists():
                added.append(old)
            elif old.is_file() and old.read_bytes() != files[name][0]:
                backup = old.with_name(f"{old.name}.{stamp}.bak")
                shutil.copy2(old, backup)
                kept.append(backup)
            os.replace(stage / name, old)
    except BaseException:
        for path in [target] if fresh else reversed(added):
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return kept


def _report(target: Path, answers: Answers, files: Mapping[str, object]) -> int:
    """What was written, what ``mailer check`` says about it, and what to do next."""
    from mailer.config.validate import check_all

    config = target / "mailer.toml"
    written = ", ".join(name for name in files if not name.startswith("templates/"))
    print(f"Wrote {target}: {written}, templates/ (see templates/README.txt)")
    problems = check_all(config)[1]
    for problem in problems:
        print(problem, file=sys.stdout if problem.warning else sys.stderr)
    errors = [p for p in problems if not p.warning]
    print(f"mailer check: {len(errors)} problem(s)" if errors else "mailer check: OK")
    steps = [_password_step(target, s, files) for s in (answers.imap.secret, answers.smtp.secret)]
    if "example.test" in config.read_text(encoding="utf-8"):
        steps.append(f"replace the example.test placeholders in {config}")
    steps += [
        f"adapt the teams (their addresses are placeholders) and rules in {target / 'rules.toml'}",
        f"mailer --config {config} check",
        f"mailer --config {config} rules test some.eml    (what would happen to that mail)",
        f"mailer --config {config} run --once",
    ]
    print("Next steps:")
    for number, step in enumerate(dict.fromkeys(s for s in steps if s), 1):  # env: once
        print(f"  {number}. {step}")
    return 1 if errors else 0


def _password_step(target: Path, secret: Secret | None, files: Mapping[str, object]) -> str:
    if secret is not None and secret.key == "password_env":
        return f"export {secret.value}=... where mailer runs (systemd: EnvironmentFile=)"
    if secret is None or secret.content != PLACEHOLDER:
        return ""  # no login, typed in, or the admin's own file (check has read it)
    if secret.value in files:
        return f"put the password into {target / secret.value} instead of its placeholder"
    return f"check that {target / secret.value} (kept as it was) holds the password"
