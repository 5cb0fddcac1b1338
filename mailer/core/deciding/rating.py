"""Is a requester's reply only a rating or a thank-you? ("5", "5/5", "★★★★★", "grazie").

Such a reply to a resolved request is stored as the rating and must not reopen it; a reply
that says more ("5 minutes later it broke again", "thanks, but it still fails") reopens it.

- A clear score (``4/5``, ``4 su 5``, ``5 stelle``, ``★★★★☆``, or a bare ``5`` followed by
  punctuation at the start) makes a rating, with any short comment ("2/5 troppo lento").
- Without a score, every word must be thanks, praise or courtesy, the name of someone in the
  request, or at most one other word ("grazie infinite").
- Any word of complaint ("but", "still", "non", "ancora", "rotto") anywhere: not a rating.
- A signature may follow: a last line of one to three capitalised words ("Roberto"), or a
  paragraph that starts with such a line (a name, then title, company, phone).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

_SCORE = re.compile(
    r"(?<![\d/])([1-5])\s*(?:/\s*5|su\s*5|out\s+of\s+5|stars?\b|stelle\b|stella\b)"
    r"|(?<![\d/])(10|[1-9])\s*/\s*10\b",
    re.IGNORECASE,
)
_BARE = re.compile(r"^\s*([1-5])[ \t]*(?:[,.;:!)\-–—]|\n|$)")
_STARS = re.compile(r"(?<!\S)([★⭐✩☆✰✯✭*]{1,5})(?!\S)")


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_WORDS = _set(
    """
    thanks thank thx ty tnx you very much many so a lot lots great excellent perfect perfectly
    ok okay good awesome super superb fantastic cheers brilliant amazing nice fine all works
    working now solved resolved fixed again indeed really wonderful top best regards kind
    it is everything that was sorted posto infinite million giornata day
    hi hello dear team guys folks everyone and for the help your support quick fast service
    grazie mille tante molte ottimo ottima perfetto perfetta benissimo bene molto eccellente
    gentilissimi gentilissimo gentilissima gentili buono buona bravissimi bravi bravo brava
    funziona funzionano adesso ora tutto risolto ciao salve buongiorno buonasera saluti
    cordiali cari care caro team tutti e per il l aiuto supporto servizio veloce rapido
    di del della vostro vostra vi ti voi grande davvero stelle stella su out of stars star
    merci beaucoup danke gracias obrigado obrigada
    """
)
_THANKS = _set("thanks thank thx ty tnx grazie merci danke gracias obrigado obrigada")
_PRAISE = _set(
    "great excellent perfect awesome super superb fantastic brilliant amazing wonderful "
    "ottimo ottima perfetto perfetta benissimo eccellente ok okay"
)
# Words that turn thanks into a complaint: "thanks, but it still fails".
_NEGATIVE = _set(
    "but however still not no never doesnt don dont cannot cant can't won't isnt"
    " problem problems issue broken error fails failed wrong ma pero però ancora non mai"
    " problema errore rotto rotta guasto niente nulla"
)
MAX_WORDS = 25
MAX_SIGNOFF = 3  # words of a sign-off line: a name under "Thanks,"
MAX_OTHER = 1  # words outside the lists in a thanks without a score


@dataclass(frozen=True)
class Rating:
    text: str  # what they wrote, shortened: stored as the rating
    value: int | None  # 1-5, None when it was only thanks or praise


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _tokens(text: str) -> list[str]:
    return [t for t in re.split(r"[\s,.;:!?()\"'’\-–—/]+", _plain(text)) if t]


def read_rating(visible: str, names: Iterable[str] = ()) -> Rating | None:
    """The rating in ``visible`` when it is only a rating or thanks, else None.

    ``names``: words naming the people of the request, allowed as in "thanks Sam".
    """
    head = _without_signature(visible)
    if head is None or any(t in _NEGATIVE for t in _tokens(visible)):
        return None
    tokens = _tokens(head)
    if not tokens or len(tokens) > MAX_WORDS:
        return None
    value = _score(head)
    if value is None and not _only_thanks(tokens, {_plain(n) for n in names if n}):
        return None
    return Rating(" ".join(visible.split())[:200], value)


def score_of(stored: str) -> int | None:
    """The score (1-5) of a rating as stored (what the requester wrote), None for thanks
    alone: what reports count, without ever showing the text."""
    return _score(_without_signature(stored) or stored)


def _score(text: str) -> int | None:
    found = _SCORE.search(text)
    if found:
        return int(found.group(1)) if found.group(1) else max(1, round(int(found.group(2)) / 2))
    bare = _BARE.match(text)
    if bare:
        return int(bare.group(1))
    stars = _STARS.search(text)
    if stars:
        return sum(1 for c in stars.group(1) if c in "★⭐*") or None
    return None


def _only_thanks(tokens: list[str], people: set[str]) -> bool:
    thanks = False
    other = 0
    for token in tokens:
        if token in _THANKS or token in _PRAISE or _emoji(token):
            thanks = True
        elif token not in _WORDS and token not in people:
            other += 1
    return thanks and other <= MAX_OTHER


def _without_signature(visible: str) -> str | None:
    """The text before a sign-off or signature block; None when a later paragraph says more."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", visible.strip()) if p.strip()]
    if not paragraphs:
        return None
    first = next((i for i, p in enumerate(paragraphs) if i and _is_signature(p)), len(paragraphs))
    if any(not _is_signature(p) for p in paragraphs[first:]):
        return None
    lines = "\n".join(paragraphs[:first]).splitlines()
    if len(lines) >= 2 and _is_signoff(lines[-1]):
        lines = lines[:-1]
    return "\n".join(lines)


def _is_signature(paragraph: str) -> bool:
    lines = [line for line in paragraph.splitlines() if line.strip()]
    return (
        1 <= len(lines) <= 8
        and _is_signoff(lines[0])
        and all(len(line.split()) <= 8 and "?" not in line for line in lines)
    )


def _is_signoff(line: str) -> bool:
    words = [w.strip(".,;:!-–—") for w in line.split()]
    return 1 <= len(words) <= MAX_SIGNOFF and all(
        w[:1].isupper() and w.isalpha() and _plain(w) not in _WORDS for w in words
    )


def _emoji(token: str) -> bool:
    """Smileys, hearts and thumbs: praise without words."""
    return all(unicodedata.category(c) in ("So", "Sk", "Mn", "Cf") for c in token)
