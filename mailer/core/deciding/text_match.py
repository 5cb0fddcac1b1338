"""Text matching for rules: case- and accent-free normalisation, words, phrases, regexes.

Both sides are normalised the same way (NFKD, casefold, combining marks dropped), so
"caffe" finds "CAFFÈ". Word lists are compiled once per value tuple into a set lookup for
plain words, a sorted-prefix lookup for ``word*``, and a regex only for phrases, whose
words must all be present before the regex runs: a body is tokenised once and each
rule costs a few set lookups, not a scan of the text.
"""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from dataclasses import dataclass

_WORD = re.compile(r"\w+")
_PLAIN = re.compile(r"\w+\Z")
_PREFIX = re.compile(r"(\w+)\*\Z")


@functools.cache
def _marks() -> re.Pattern[str]:
    """Every combining mark of the Basic Multilingual Plane, as one character class."""
    found = "".join(chr(c) for c in range(0x10000) if unicodedata.combining(chr(c)))
    return re.compile(f"[{re.escape(found)}]+")


def _strip_marks(text: str) -> str:
    if text and max(text) > "\uffff":  # rare: astral scripts have marks outside the class
        return "".join(c for c in text if not unicodedata.combining(c))
    return _marks().sub("", text)


def normalise(text: str) -> str:
    """Casefold and drop accents, so "Caffè" and "CAFFE" compare equal."""
    if text.isascii():
        return text.lower()
    return _strip_marks(unicodedata.normalize("NFKD", text).casefold())


def strip_accents(pattern: str) -> str:
    """Accents off but case kept: casefolding a regex would turn ``\\S`` into ``\\s``."""
    if pattern.isascii():
        return pattern
    return _strip_marks(unicodedata.normalize("NFKD", pattern))


@functools.lru_cache(maxsize=8192)
def compile_regex(pattern: str) -> re.Pattern[str]:
    """The admin's regex as applied to normalised text; raises ``re.error`` when invalid."""
    return re.compile(strip_accents(pattern), re.IGNORECASE)


@dataclass(frozen=True)
class Tokens:
    """One normalised text with its words, indexed for lookups."""

    text: str
    words: frozenset[str]
    ordered: tuple[str, ...]

    @classmethod
    def of(cls, text: str) -> Tokens:
        normalised = normalise(text)
        words = frozenset(_WORD.findall(normalised))
        return cls(normalised, words, tuple(sorted(words)))

    def has_prefix(self, prefix: str) -> bool:
        at = bisect.bisect_left(self.ordered, prefix)
        return at < len(self.ordered) and self.ordered[at].startswith(prefix)


@dataclass(frozen=True)
class Words:
    """A compiled list of words and phrases: does any of them occur in a text?"""

    exact: frozenset[str]
    prefixes: tuple[str, ...]
    phrases: tuple[tuple[frozenset[str], re.Pattern[str]], ...]

    def search(self, tokens: Tokens) -> bool:
        if not self.exact.isdisjoint(tokens.words):
            return True
        if any(tokens.has_prefix(p) for p in self.prefixes):
            return True
        return any(need <= tokens.words and rx.search(tokens.text) for need, rx in self.phrases)


@functools.lru_cache(maxsize=4096)
def compile_words(values: tuple[str, ...]) -> Words:
    """Split ``values`` into plain words, ``word*`` prefixes and phrases (regexes)."""
    exact: set[str] = set()
    prefixes: set[str] = set()
    phrases: list[tuple[frozenset[str], re.Pattern[str]]] = []
    for value in values:
        norm = " ".join(normalise(value).split())
        if _PLAIN.match(norm):
            exact.add(norm)
        elif found := _PREFIX.match(norm):
            prefixes.add(found.group(1))
        elif norm:
            phrases.append((_required(norm), re.compile(_phrase_regex(norm))))
    return Words(frozenset(exact), tuple(sorted(prefixes)), tuple(phrases))


def _phrase_regex(norm: str) -> str:
    """Whole words, any blanks between them, ``*`` standing for more word letters."""
    words = (re.escape(word).replace(r"\*", r"\w*") for word in norm.split())
    return r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)"


def _required(norm: str) -> frozenset[str]:
    """Words that must be tokens of any text the phrase occurs in (none next to a ``*``)."""
    return frozenset(w for word in norm.split() if "*" not in word for w in _WORD.findall(word))
