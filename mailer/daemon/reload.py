"""Live reload: take edited rules, templates and settings without a restart.

The daemon looks at a handful of file stamps every ``CHECK_INTERVAL`` seconds (no inotify,
no extra dependency) and reloads on the event loop, between batches, exactly like SIGHUP.
A broken edit changes nothing: it is logged with file and line, and the admin gets one mail
per broken version (``reload_alert``). What only a restart can change (connections, the
store, the shared address) keeps its old value, and the log says so.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jinja2
import structlog

from mailer.config.validate import check_all
from mailer.daemon.alerts import problems_key, queue_alert
from mailer.errors import Problem
from mailer.settings import Settings
from mailer.store import Store
from mailer.transport.imap import Mailbox

log = structlog.get_logger("mailer.reload")
CHECK_INTERVAL = 2.0  # seconds between looks at the files; a change waits one more look
RESTART_ONLY = ("imap", "smtp", "store")  # sections whose change needs a restart
Stamp = tuple[str, int, int, int]  # path, mtime_ns, size, inode (all -1: missing)


@dataclass(frozen=True)
class Targets:
    """What to watch: single files (config, rules) and whole trees (the admin's templates)."""

    files: tuple[Path, ...] = ()
    trees: tuple[Path, ...] = ()

    @classmethod
    def of(cls, settings: Settings, problems: Sequence[Problem] = ()) -> Targets:
        """The files in force, plus those a refused version named (say, a new rules file),
        so that fixing them is noticed too."""
        files = [p for p in (settings.config_path, settings.rules_path) if p is not None]
        files += [Path(p.path) for p in problems if Path(p.path).is_file()]
        unique = dict.fromkeys(f.absolute() for f in files)
        trees = () if settings.templates_dir is None else (settings.templates_dir,)
        return cls(tuple(unique), trees)


def _stamp(path: Path) -> Stamp:
    try:
        st = path.stat()
    except OSError:
        return (str(path), -1, -1, -1)
    return (str(path), st.st_mtime_ns, st.st_size, st.st_ino)


def _ignored(name: str) -> bool:
    """Editor droppings (.swp files, backups~) are not templates and change all the time."""
    return name.startswith(".") or name.endswith("~")


def snapshot(targets: Targets) -> frozenset[Stamp]:
    """The stamps of every watched file; a file appearing or vanishing changes the set."""
    stamps = {_stamp(path) for path in targets.files}
    for tree in targets.trees:
        for root, dirs, names in os.walk(tree):
            dirs[:] = [d for d in dirs if not _ignored(d)]
            stamps.update(_stamp(Path(root, n)) for n in names if not _ignored(n))
    return frozenset(stamps)


class ChangeDetector:
    """Says when the watched files changed and then stayed still for one more look, so an
    editor that writes in two steps (or a copy in progress) gives one reload, not two."""

    def __init__(self, targets: Targets) -> None:
        self.targets = targets
        self._seen = snapshot(targets)
        self._pending: frozenset[Stamp] | None = None

    def watch(self, targets: Targets) -> None:
        """Follow other files from now on (a new rules_file or templates_dir)."""
        if targets != self.targets:
            self.targets = targets
            self.rebase()

    def rebase(self) -> None:
        """What is on disk now is what the reload about to run judges: not a change."""
        self._seen = snapshot(self.targets)
        self._pending = None

    def changed(self) -> bool:
        """True once per settled change; call it every ``CHECK_INTERVAL``."""
        now = snapshot(self.targets)
        if now == self._seen:  # nothing, or a change undone before it settled
            self._pending = None
            return False
        if now != self._pending:  # new, or still moving: look again next time
            self._pending = now
            return False
        self._seen, self._pending = now, None
        return True


def fresh_imap_password(current: Settings) -> Settings | None:
    """After a refused IMAP login: the settings with the password read again from where the
    config says it is (``password_file``, ``password_env``, the config itself), when it has
    changed there; None otherwise. A password rotated by the admin needs no restart; every
    other [imap] key still does."""
    try:
        fresh, problems = check_all(current.config_path)
    except Exception:  # the config being edited, unreadable: keep what is in force
        return None
    if fresh is None or any(not p.warning for p in problems):
        return None
    if fresh.imap.password == current.imap.password:
        return None
    log.info("imap.password_reread", source=str(current.config_path))  # never the password
    return dataclasses.replace(
        current, imap=dataclasses.replace(current.imap, password=fresh.imap.password)
    )


def merge(current: Settings, fresh: Settings) -> Settings:
    """The fresh settings, except what only a restart can change: IMAP, SMTP, the store and
    the shared address keep their values in force (a warning names them)."""
    restart = [name for name in RESTART_ONLY if getattr(current, name) != getattr(fresh, name)]
    service = fresh.service
    if service.address != current.service.address:
        restart.append("service.address")
        service = dataclasses.replace(service, address=current.service.address)
    if restart:
        log.warning(
            "reload.restart_needed",
            changed=restart,
            action="these keep their old values until mailer is restarted",
        )
    return dataclasses.replace(
        fresh, service=service, imap=current.imap, smtp=current.smtp, store=current.store
    )


class LiveReload:
    """What reloads share: the files watched, and which broken version the admin knows of."""

    def __init__(self, settings: Settings) -> None:
        self.detector = ChangeDetector(Targets.of(settings))
        self.reported: str | None = None  # problems_key of the version last mailed about
        self.refused = False  # the last reload was refused

    def changed(self) -> bool:
        return self.detector.changed()

    def reload(self, current: Settings, store: Store, env: jinja2.Environment) -> Settings | None:
        """The settings to use from now on, or None: refused, ``current`` stays in force.

        ``env`` (the templates in force) renders the admin's alert."""
        self.detector.rebase()  # a write during the check is a change for the next look
        fresh, problems = check_all(current.config_path)
        errors = [p for p in problems if not p.warning]
        if fresh is None or errors:
            unknown = Problem(str(current.config_path), None, None, None, "cannot be read")
            self._refuse(current, store, env, errors or [unknown])
            return None
        merged = merge(current, fresh)
        self.detector.watch(Targets.of(merged))
        log.info(
            "reload.done",
            rules=len(merged.rules),
            teams=len(merged.teams),
            warnings=[str(p) for p in problems],
            after_refusal=self.refused,
        )
        self.refused = False
        self.reported = None  # a later break is news again, even the same one
        return merged

    def _refuse(
        self, current: Settings, store: Store, env: jinja2.Environment, errors: list[Problem]
    ) -> None:
        log.error(
            "reload.refused",
            problems=[str(p) for p in errors],
            action="the previous rules, templates and settings stay in force",
        )
        self.refused = True
        self.detector.watch(Targets.of(current, errors))
        admin = current.service.admin
        key = problems_key(errors)
        if admin is None or key == self.reported:
            return
        if current.service.is_own(admin):
            log.warning("reload.alert_skipped", reason="[service] admin is our own address")
            return
        try:
            message_id = queue_alert(current, store, env, admin, errors, time.time())
        except Exception as exc:  # a report must never take the daemon down
            log.error("reload.alert_failed", error=f"{type(exc).__name__}: {exc}")
            return
        self.reported = key
        log.info("reload.alert_queued", to=admin, message_id=message_id)


def reread_password(current: Settings, mailbox: Mailbox) -> Settings:
    """A refused login: the admin may have rotated the password; the mailbox logs in with
    the one read again, if it changed."""
    fresh = fresh_imap_password(current)
    if fresh is None:
        return current
    mailbox.settings = fresh.imap
    return fresh
