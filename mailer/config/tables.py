"""Reading one TOML table while collecting every problem, each at its key's real line.

``Table`` applies converters key by key; a failure becomes a ``Problem`` and the dataclass
default stands in, so reading goes on and the admin sees all mistakes at once. Keys nobody
asked for are reported when the table is opened, with a did-you-mean.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from mailer.config.lines import KeyPath, line_of
from mailer.config.values import Convert, Invalid, string
from mailer.errors import Problem

T = TypeVar("T")
_MISSING = object()


def default(cls: type, name: str) -> Any:
    """The default of a settings dataclass field: settings.py stays the one place for them."""
    return next(f.default for f in fields(cls) if f.name == name)


@dataclass
class Report:
    """The problems found in one file, with the key lines needed to place them."""

    path: Path
    lines: Mapping[KeyPath, int]
    problems: list[Problem] = field(default_factory=list)

    def add(
        self,
        keypath: KeyPath,
        section: str | None,
        key: str | None,
        message: str,
        warning: bool = False,
    ) -> None:
        line = line_of(self.lines, keypath)
        self.problems.append(Problem(str(self.path), line, section, key, message, warning))


def did_you_mean(word: str, candidates: Iterable[str], elsewhere: Mapping[str, str]) -> str:
    """ " (did you mean 'host'?)", else the ``elsewhere`` hint for ``word``, else ""."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    if close:
        return f" (did you mean '{close[0]}'?)"
    if word in elsewhere:
        return f" ({elsewhere[word]})"
    return ""


class Table:
    """One TOML table being read; unknown keys are reported as soon as it is opened."""

    def __init__(
        self,
        report: Report,
        keypath: KeyPath,
        data: Mapping[str, object],
        section: str | None,
        known: Iterable[str],
        elsewhere: Mapping[str, str] | None = None,
        what: str = "key",
    ) -> None:
        self.report, self.keypath, self.data, self.section = report, keypath, data, section
        self.known = tuple(known)
        self.ok = True
        for key in data:
            if key not in self.known:
                hint = did_you_mean(key, self.known, elsewhere or {})
                if what == "section":  # reads "[imapp] unknown section (did you mean ...)"
                    report.add((*keypath, key), key, None, f"unknown section{hint}")
                    self.ok = False
                else:
                    self.problem(key, f"unknown {what}{hint}")

    def problem(
        self, key: str | None, message: str, warning: bool = False, index: int | None = None
    ) -> None:
        keypath = self.keypath if key is None else (*self.keypath, key)
        keypath = keypath if index is None else (*keypath, index)
        self.report.add(keypath, self.section, key, message, warning)
        self.ok = self.ok and warning

    def get(self, key: str, convert: Convert[T], default: T) -> T:
        """The converted value, or ``default`` when it is missing or wrong (then reported)."""
        if key not in self.data:
            return default
        try:
            return convert(self.data[key])
        except Invalid as exc:
            self.problem(key, str(exc), index=exc.index)
            return default

    def fill(self, out: dict[str, object], key: str, convert: Convert[object]) -> None:
        """Set ``out[key]`` when the key is given and valid; else the dataclass default holds."""
        if key in self.data:
            value = self.get(key, convert, _MISSING)
            if value is not _MISSING:
                out[key] = value

    def require(self, key: str, convert: Convert[T], default: T) -> T:
        if key not in self.data:
            self.problem(key, "required key is missing")
            return default
        return self.get(key, convert, default)

    def path(self, key: str, base: Path) -> Path | None:
        """A path key, resolved against ``base`` (the config file's directory)."""
        raw = self.get(key, string, "")
        return (base / Path(raw).expanduser()) if raw else None
