"""Read status keywords from the top of a mail's visible text.

Commands are the first non-empty lines of the new text (the caller removes quoted history
and the signature first): ``#keyword`` words, ``#assign ADDRESS``, or a pseudo-header
``Status: resolved``. The first line that is not a command ends them; the rest is the note.
Keywords compare without case, accents, ``-``, ``_`` or spaces: ``#In_Corso`` is
``#in-corso``. Pure: the keyword table comes from the settings.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

# A word that is meant as a command: '#' then a letter ("#1" or "#" alone are text).
_HASH_WORD = re.compile(r"#[^\W\d_]")
_ADDRESS = re.compile(r"^<?(?:mailto:)?([^\s<>@,;]+@[^\s<>@,;]+\.[^\s<>@,;.]+)>?[.,;]?$", re.I)
STATUS_ACTIONS = ("in_progress", "waiting", "resolved", "closed", "reopen")
MAX_COMMAND_LINES = 10
MAX_WORDS = 30  # keywords read from one line; hostile lines of thousands stop here
MAX_UNKNOWN = 10


def normalize(word: str) -> str:
    """Case-, accent- and separator-free form of a keyword: '#In-Corso' -> 'incorso'."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[\s#_\-–—.:;,!?]+", "", letters)


@dataclass(frozen=True)
class Command:
    action: str  # a key of the keyword table: "resolved", "take", "assign", ...
    word: str  # as written, for feedback: "#risolto", "Stato: risolto"
    argument: str | None = None  # the address of "#assign ADDRESS"


@dataclass(frozen=True)
class Unknown:
    word: str
    suggestion: str | None  # the keyword it most resembles, as configured


@dataclass(frozen=True)
class Commands:
    commands: tuple[Command, ...]
    unknown: tuple[Unknown, ...]
    problems: tuple[str, ...]  # "#assign: needs an address"
    note: str  # the visible text after the commands

    @property
    def any(self) -> bool:
        return bool(self.commands or self.unknown or self.problems)

    def has(self, *actions: str) -> bool:
        return any(c.action in actions for c in self.commands)


class Keywords:
    """The keyword table, indexed once per settings: normalised word -> action."""

    def __init__(
        self, table: Iterable[tuple[str, tuple[str, ...]]], status_headers: Iterable[str]
    ) -> None:
        self.words: dict[str, tuple[str, str]] = {}  # normal -> (action, as configured)
        self.values: dict[str, str] = {}  # "Status:" values: normal -> action
        for action, words in table:
            for word in words:
                self.words[normalize(word)] = (action, word)
                if action in STATUS_ACTIONS:
                    self.values[normalize(word)] = action
            if action in STATUS_ACTIONS:
                self.values[normalize(action)] = action
        self.headers = {normalize(h) for h in status_headers}

    def suggest(self, word: str) -> str | None:
        found = difflib.get_close_matches(normalize(word), list(self.words), n=1, cutoff=0.6)
        return self.words[found[0]][1] if found else None

    def first_word(self, action: str) -> str:
        return next((w for a, w in self.words.values() if a == action), f"#{action}")


def parse_commands(visible: str, keywords: Keywords) -> Commands:
    """The commands at the top of ``visible`` and the note that follows them."""
    lines = visible.splitlines()
    commands: list[Command] = []
    unknown: list[Unknown] = []
    problems: list[str] = []
    index = 0
    while index < len(lines) and not lines[index].strip():
        index += 1
    rest: list[str] = []  # text written after the commands on their last line
    seen = 0
    while index < len(lines) and seen < MAX_COMMAND_LINES and not rest:
        line = lines[index].strip()
        if line:
            found = _command_line(line, keywords, commands, unknown, problems)
            if found is None:
                break
            seen += 1
            if found:
                rest.append(found)
        index += 1
    note = "\n".join([*rest, *lines[index:]]).strip()
    return Commands(tuple(commands), tuple(unknown), tuple(problems), note)


def _command_line(
    line: str,
    keywords: Keywords,
    commands: list[Command],
    unknown: list[Unknown],
    problems: list[str],
) -> str | None:
    """Consume one line of commands; None if it is not one, else the text left after them."""
    header = _pseudo_header(line, keywords, commands, unknown)
    if header is not None:
        return header
    if not _HASH_WORD.match(line):
        return None
    tokens = line.split(maxsplit=MAX_WORDS)
    position = 0
    while position < min(len(tokens), MAX_WORDS) and _HASH_WORD.match(tokens[position]):
        word = tokens[position].rstrip(".,;:!?")[:100]
        position += 1
        entry = keywords.words.get(normalize(word))
        if entry is None:
            if len(unknown) < MAX_UNKNOWN:
                unknown.append(Unknown(word, keywords.suggest(word)))
            continue
        action = entry[0]
        argument = None
        if action == "assign":
            match = _ADDRESS.match(tokens[position]) if position < len(tokens) else None
            if match is None:
                problems.append(f"{word}: needs an address, as in '{word} name@example.org'")
                continue
            argument = match.group(1).lower()
            position += 1
        commands.append(Command(action, word, argument))
    return " ".join(tokens[position:])


def _pseudo_header(
    line: str, keywords: Keywords, commands: list[Command], unknown: list[Unknown]
) -> str | None:
    """``Status: resolved`` / ``Stato: risolto``; a long value is a sentence, not a command."""
    name, colon, value = line.partition(":")
    if not colon or normalize(name) not in keywords.headers or len(name) > 20:
        return None
    value = value.strip()
    if not value or len(value.split()) > 3:
        return None
    action = keywords.values.get(normalize(value))
    if action is None:
        unknown.append(Unknown(line, keywords.suggest(value)))
        return ""
    commands.append(Command(action, line))
    return ""
