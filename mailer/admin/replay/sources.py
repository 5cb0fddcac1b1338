"""Where a replay reads past mail from: an mbox, a Maildir, a folder of .eml files, one .eml.

Messages are read one at a time (an mbox through ``mailbox.mbox``, which indexes the file
and reads each message when asked), so a replay never holds the whole input in memory.
Nothing is ever written: no lock, no flag, no moved file.
"""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mailer.errors import MailerError

Kind = Literal["mbox", "maildir", "folder", "file"]
DESCRIPTIONS: dict[Kind, str] = {
    "mbox": "an mbox",
    "maildir": "a Maildir (cur/ and new/)",
    "folder": "a folder of .eml files",
    "file": "one .eml file",
}


class NotMail(MailerError):
    """PATH is none of the inputs a replay reads."""


@dataclass(frozen=True)
class Source:
    path: Path
    kind: Kind
    files: tuple[Path, ...] = ()  # every message file, in reading order (not for an mbox)

    @property
    def description(self) -> str:
        return DESCRIPTIONS[self.kind]


@dataclass(frozen=True)
class RawMessage:
    source: str  # the file relative to PATH, or "#N" (1-based) in an mbox
    data: bytes | None  # None when it could not be read
    error: str = ""


def find_source(path: Path) -> Source:
    """What ``path`` is, or ``NotMail`` saying what was expected."""
    if path.is_dir():
        if (path / "cur").is_dir() and (path / "new").is_dir():
            files = [f for sub in ("cur", "new") for f in _visible_files(path / sub)]
            return Source(path, "maildir", tuple(files))
        emls = sorted(
            (f for f in path.rglob("*") if f.suffix.lower() == ".eml" and f.is_file()),
            key=lambda f: f.relative_to(path).parts,
        )
        if not emls:
            raise NotMail(
                f"{path}: no .eml files in this folder (searched recursively), "
                "and it is not a Maildir (no cur/ and new/)"
            )
        return Source(path, "folder", tuple(emls))
    if not path.exists():
        raise NotMail(f"{path}: no such file or directory")
    if not path.is_file():
        raise NotMail(f"{path}: not a regular file or a directory")
    if _starts_like_mbox(path):
        return Source(path, "mbox")
    if path.suffix.lower() == ".eml":
        return Source(path, "file", (path,))
    raise NotMail(
        f"{path}: not an mbox (it does not start with a 'From ' line), "
        "a Maildir, a folder of .eml files or a .eml file"
    )


@contextmanager
def reading(source: Source) -> Iterator[tuple[int, Iterator[RawMessage]]]:
    """(how many messages, the messages one by one); an mbox stays open meanwhile."""
    if source.kind != "mbox":
        yield len(source.files), _files(source)
        return
    try:
        box = mailbox.mbox(source.path, create=False)
        total = len(box)  # one pass over the file to index it
    except (OSError, mailbox.Error) as exc:
        raise NotMail(f"{source.path}: cannot read the mbox: {_why(exc)}") from exc
    try:
        yield total, _mbox_messages(box)
    finally:
        box.close()


def _files(source: Source) -> Iterator[RawMessage]:
    base = source.path if source.kind != "file" else source.path.parent
    for path in source.files:
        name = str(path.relative_to(base))
        try:
            yield RawMessage(name, path.read_bytes())
        except OSError as exc:
            yield RawMessage(name, None, f"cannot read: {_why(exc)}")


def _mbox_messages(box: mailbox.mbox) -> Iterator[RawMessage]:
    for number, key in enumerate(box.iterkeys(), 1):
        try:
            yield RawMessage(f"#{number}", box.get_bytes(key))
        except (OSError, mailbox.Error) as exc:
            yield RawMessage(f"#{number}", None, f"cannot read: {_why(exc)}")


def _visible_files(folder: Path) -> list[Path]:
    """A Maildir folder's messages: every regular file but dot files, by name."""
    return sorted(f for f in folder.iterdir() if not f.name.startswith(".") and f.is_file())


def _starts_like_mbox(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError as exc:
        raise NotMail(f"{path}: cannot read: {_why(exc)}") from exc
    return head.lstrip(b"\r\n").startswith(b"From ")


def _why(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
