"""Converters from raw TOML values to typed ones, with messages an admin can act on.

A converter returns the typed value or raises ``Invalid`` saying what was expected and what
was found ("expected an integer, got the string \"abc\""); ``config_table.Table`` turns
that into a ``Problem`` at the key's line. Keeping converters pure makes them reusable for
every section and trivially testable.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import TypeVar

from mailer.core.reading.charclass import ALNUM, ATEXT, beyond_ascii

T = TypeVar("T")
Convert = Callable[[object], T]

_ATEXT = beyond_ascii(ATEXT) + "+"
_ALNUM, _ALNUM_DASH = beyond_ascii(ALNUM), beyond_ascii(ALNUM + "-")
_LABEL = rf"{_ALNUM}(?:{_ALNUM_DASH}*{_ALNUM})?"
DOMAIN_RE = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_ADDRESS_RE = re.compile(
    rf'(?:{_ATEXT}(?:\.{_ATEXT})*|"(?:[^"\\\r\n]|\\.)*")@(?:{DOMAIN_RE.pattern}|\[[^\[\]\s]+\])'
)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_UNIT_NAMES = {
    "sec": "s",
    "second": "s",
    "min": "m",
    "minute": "m",
    "hr": "h",
    "hour": "h",
    "day": "d",
    "week": "w",
}
_DURATION_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*", re.IGNORECASE)
_SIZE_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?\s*", re.IGNORECASE)
_LANGUAGE_RE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,8})*")
_PREFIX_RE = re.compile(r"[A-Za-z][A-Za-z0-9]{0,15}")


class Invalid(ValueError):
    """A value cannot be used; ``str()`` says what was expected and what was found.

    ``index`` names the array item at fault, so the problem points at that item's line.
    """

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


def describe(value: object) -> str:
    """Name a TOML value the way an admin wrote it: ``the string "abc"``, ``a table``."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f"the string {json.dumps(shown, ensure_ascii=False)}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, dt.date | dt.time):
        return "a date/time"
    return repr(value)


def expected(what: str, value: object) -> Invalid:
    return Invalid(f"expected {what}, got {describe(value)}")


def text(value: object) -> str:
    if not isinstance(value, str):
        raise expected("a string", value)
    return value


def string(value: object) -> str:
    """A string that must say something."""
    if not text(value).strip():
        raise Invalid("must not be empty")
    return str(value).strip()


def boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise expected("true or false", value)
    return value


def integer(minimum: int | None = None, maximum: int | None = None) -> Convert[int]:
    def convert(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise expected("an integer", value)
        return _bounded(value, minimum, maximum)

    return convert


def _bounded(value: T, minimum: float | None, maximum: float | None, unit: str = "") -> T:
    number = float(value)  # type: ignore[arg-type]
    if minimum is not None and number < minimum:
        raise Invalid(
            f"must not be negative, got {number:g}{unit}"
            if minimum == 0
            else f"must be at least {minimum:g}{unit}, got {number:g}{unit}"
        )
    if maximum is not None and number > maximum:
        raise Invalid(f"must be at most {maximum:g}{unit}, got {number:g}{unit}")
    return value


def choice(*options: str) -> Convert[str]:
    def convert(value: object) -> str:
        if not isinstance(value, str) or value.lower() not in options:
            listed = ", ".join(f'"{o}"' for o in options)
            raise expected(f"one of {listed}", value)
        return value.lower()

    return convert


def duration(minimum: float = 0.0) -> Convert[float]:
    """Seconds as a number, or "30s", "90m", "24h", "2d", "1w", "1h30m"."""

    def convert(value: object) -> float:
        seconds: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = float(value)
        elif isinstance(value, str):
            seconds = _parse_duration(value)
        if seconds is None:
            raise expected('a duration: seconds, or a string like "30s", "90m", "24h", "2d"', value)
        return _bounded(seconds, minimum, None, "s")

    return convert


def _parse_duration(value: str) -> float | None:
    if value.strip().lstrip("-").replace(".", "", 1).isdigit():
        return float(value)
    total, pos = 0.0, 0
    while pos < len(value):
        match = _DURATION_PART.match(value, pos)
        if not match or match.end() == pos:
            return None
        unit = match.group(2).lower().rstrip("s") or "s"
        unit = _UNIT_NAMES.get(unit, unit)
        if unit not in _UNITS:
            return None
        total += float(match.group(1)) * _UNITS[unit]
        pos = match.end()
    return total if value.strip() else None


def size(value: object) -> int:
    """Bytes as an integer, or "512KB", "25MB", "1GB" (binary multiples: 1KB = 1024 bytes)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return _bounded(value, 1, None)
    match = _SIZE_RE.fullmatch(value) if isinstance(value, str) else None
    if not match:
        raise expected('a size: bytes, or a string like "512KB", "25MB"', value)
    unit = (match.group(2) or "b")[0].lower()
    factor = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit]
    return _bounded(int(float(match.group(1)) * factor), 1, None)


def address(value: object) -> str:
    """One addr-spec such as helpdesk@example.test, no display name or angle brackets."""
    found = text(value).strip()
    if "<" in found or "," in found:
        raise Invalid(
            f"expected one address like name@example.test, without a display name "
            f"or brackets; got {describe(value)}"
        )
    if not _ADDRESS_RE.fullmatch(found):
        raise Invalid(f"expected an email address like name@example.test, got {describe(value)}")
    return found


def domain(value: object) -> str:
    found = text(value).strip().lower()
    if not DOMAIN_RE.fullmatch(found):
        raise expected("a domain name like example.test", value)
    return found


def regex(value: object, compile_: Callable[[str], object] = re.compile) -> str:
    """A valid Python regex, checked by ``compile_`` (rules compile theirs their own way)."""
    pattern = text(value)
    try:
        compile_(pattern)
    except re.error as exc:
        shown = json.dumps(pattern, ensure_ascii=False)
        raise Invalid(f"invalid regular expression {shown}: {exc}") from None
    return pattern


def listing(item: Convert[T]) -> Convert[tuple[T, ...]]:
    """An array of items; a single item is accepted as an array of one."""

    def convert(value: object) -> tuple[T, ...]:
        values = value if isinstance(value, list) else [value]
        out: list[T] = []
        for index, element in enumerate(values):
            try:
                out.append(item(element))
            except Invalid as exc:
                if not isinstance(value, list):
                    raise
                raise Invalid(f"item {index + 1}: {exc}", index) from None
        return tuple(out)

    return convert


def language(value: object) -> str:
    code = string(value).lower()
    if not _LANGUAGE_RE.fullmatch(code):
        raise expected('a language code like "en" or "it"', value)
    return code


def host(value: object) -> str:
    name = string(value).strip("[]")
    if "://" in name or any(c.isspace() or c in "/@" for c in name):
        raise expected("a host name or IP address like mail.example.test", value)
    return name


def prefix(value: object) -> str:
    if not _PREFIX_RE.fullmatch(text(value)):
        raise expected('letters and digits, starting with a letter (e.g. "REQ")', value)
    return str(value)


def envelope_sender(value: object) -> str:
    word = text(value).strip()
    if word.lower() in ("service", "null"):
        return word.lower()
    try:
        return address(word)
    except Invalid:
        raise expected('"service", "null" or an email address', value) from None


Texts = tuple[str | None, tuple[tuple[str, str], ...]]
NO_TEXTS: Texts = (None, ())


def expectation(languages: tuple[str, ...], default_language: str) -> Convert[Texts]:
    """A text, or one per language: ``{ en = "...", it = "..." }``.

    Returns the text for ``default_language`` (else the first one) and all (language, text).
    """

    def convert(value: object) -> Texts:
        if isinstance(value, str):
            return string(value), ()
        if not isinstance(value, dict) or not value:
            raise expected('a string, or texts by language like { en = "...", it = "..." }', value)
        texts: list[tuple[str, str]] = []
        for code, item in value.items():
            if code not in languages:
                raise Invalid(f"'{code}' is not in [service] languages ({', '.join(languages)})")
            try:
                texts.append((code, string(item)))
            except Invalid as exc:
                raise Invalid(f"{code}: {exc}") from None
        return dict(texts).get(default_language, texts[0][1]), tuple(texts)

    return convert
