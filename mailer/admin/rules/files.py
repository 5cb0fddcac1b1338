"""Which file holds the rules, checking an edit, and replacing the file without a torn write.

The daemon may reload the rules at any moment (SIGHUP), and a crash must never leave half
a file: the new text goes to a temp file in the same directory, is fsynced, gets the old
file's mode, and replaces it with ``os.replace``. The old text is kept first as a
timestamped backup next to it (``rules.toml.20261124-101500.bak``), so every edit can be
undone by hand, even the third one in a row.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import shutil
import tempfile
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from mailer.errors import Problem

BOM = "\ufeff"


class EditError(Exception):
    """The edit cannot be made; each line says what to do."""

    def __init__(self, *lines: str) -> None:
        self.lines = list(lines)
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class Target:
    """The file holding the ``[[rules]]``: ``rules_file``, or the config itself (inline)."""

    config: Path
    path: Path
    inline: bool

    def check(self, text: str | None = None) -> list[Problem]:
        """Every problem of the config with ``text`` standing in for this file (None: as is)."""
        from mailer.config.validate import check_all

        if self.inline:
            return check_all(self.config, config_text=text, reach_secrets=False)[1]
        return check_all(self.config, rules_text=text, reach_secrets=False)[1]


def find_target(config: Path) -> Target:
    """Where the rules live, read from the config as tomllib sees it."""
    try:
        data = tomllib.loads(read(config).removeprefix(BOM))
    except (OSError, UnicodeError, tomllib.TOMLDecodeError):
        from mailer.config.validate import check_all

        problems = check_all(config, reach_secrets=False)[1]
        raise EditError(*map(str, problems), "fix the config first (mailer check)") from None
    service = data.get("service")
    raw = service.get("rules_file") if isinstance(service, dict) else None
    if isinstance(raw, str) and raw:
        path = config.absolute().parent / Path(raw).expanduser()  # as mailer check says
        if not path.exists():
            raise EditError(
                f"{path}: [service] rules_file names a file that does not exist; create it "
                "(see config/rules.example.toml) or remove rules_file to keep rules in "
                f"{config}"
            )
        return Target(config, path, inline=False)
    return Target(config, config, inline=True)


def read(path: Path) -> str:
    """The text exactly as stored (CRLF stays CRLF), a leading BOM included."""
    return path.read_bytes().decode("utf-8")


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if not p.warning]


def diff(path: Path, old: str, new: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=str(path),
        tofile=f"{path} (edited)",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def backup_path(path: Path, now: datetime | None = None) -> Path:
    """``NAME.YYYYMMDD-HHMMSS.bak`` next to ``path``; ``-2``, ``-3`` … within one second."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    found = path.with_name(f"{path.name}.{stamp}.bak")
    count = 1
    while found.exists():
        count += 1
        found = path.with_name(f"{path.name}.{stamp}-{count}.bak")
    return found


def replace(path: Path, old: str, new: str) -> Path:
    """Back up ``path`` and put ``new`` in its place atomically; the backup's path.

    ``old`` is the text the edit started from: if the file changed since (another admin,
    an editor), nothing is written. A symlink is followed, so the link stays a link."""
    real = Path(os.path.realpath(path))
    if read(real) != old:
        raise EditError(
            f"{path} changed while this edit was being made; nothing was written, run the "
            "command again"
        )
    info = real.stat()
    backup = backup_path(real)
    shutil.copy2(real, backup)  # the mode too: a config may hold passwords
    handle, temp = tempfile.mkstemp(prefix=f".{real.name}.", suffix=".tmp", dir=real.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(new.encode("utf-8"))
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, info.st_mode & 0o7777)
        with contextlib.suppress(OSError):  # only root may give a file away
            os.chown(temp, info.st_uid, info.st_gid)
        os.replace(temp, real)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _sync_directory(real.parent)
    return backup


def _sync_directory(directory: Path) -> None:
    """The rename itself survives a power cut only once the directory is synced."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
