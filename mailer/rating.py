"""Is a requester's reply only a rating or a thank-you? ("5", "5/5", "★★★★★", "grazie").

Such a reply to a resolved request is stored as the rating and must not reopen it; anything
that says more ("5 minutes later it broke again") is a real reply. So the whole visible text
must consist of rating marks, thanks and praise words, greetings and at most a short
sign-off (a name), nothing else.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

_SCORE = re.compile(r"^(?:([1-5])(?:/5|su5|outof5|stars?|stelle|stella)?|(10|[1-9])/10)$")
_STARS = re.compile(r"^([★⭐✩☆✰✯✭*]+)$")


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_WORDS = _set(
    """
    thanks thank thx ty tnx you very much many so a lot lots great excellent perfect perfectly
    ok okay good awesome super superb fantastic cheers brilliant amazing nice fine all works
    working now solved resolved fixed again indeed really wonderful top best regards kind
    it is everything that was
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


@dataclass(frozen=True)
class Rating:
    text: str  # what they wrote, shortened: stored as the rating
    value: int | None  # 1-5, None when it was only thanks or praise


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _tokens(text: str) -> list[str]:
    text = re.sub(r"(\d+)\s*/\s*(\d+)", r"\1/\2", _plain(text).replace("out of", "outof"))
    text = re.sub(r"(\d)\s*(su|outof|stars?|stelle|stella)\s*(5)?\b", r"\1\2\3", text)
    return [t for t in re.split(r"[\s,.;:!?()\"'’\-–—]+", text) if t]


def read_rating(visible: str, names: Iterable[str] = ()) -> Rating | None:
    """The rating in ``visible`` when it is only a rating or thanks, else None.

    ``names``: words of the people involved (requester, owner), allowed anywhere, as in
    "thanks Sam". A last line of one to three capitalised words is a sign-off ("Roberto").
    """
    lines = [line for line in visible.splitlines() if line.strip()]
    if len(lines) >= 2 and _is_signoff(lines[-1]):
        lines = lines[:-1]
    tokens = _tokens("\n".join(lines))
    if not tokens or len(tokens) > MAX_WORDS:
        return None
    people = {_plain(n) for n in names if n}
    value: int | None = None
    thanks = False
    for token in tokens:
        score = _score(token)
        if score is not None:
            value = value if value is not None else score
        elif token in _WORDS or _emoji(token):
            thanks = thanks or token in _THANKS or token in _PRAISE or _emoji(token)
        elif token not in people:
            return None  # a word that says more than thanks: a real reply
    if (value is None and not thanks) or any(t in _NEGATIVE for t in tokens):
        return None
    return Rating(" ".join(visible.split())[:200], value)


def _is_signoff(line: str) -> bool:
    words = [w.strip(".,;:!-–—") for w in line.split()]
    return 1 <= len(words) <= MAX_SIGNOFF and all(
        w[:1].isupper() and w.isalpha() and _plain(w) not in _WORDS for w in words
    )


def _score(token: str) -> int | None:
    match = _SCORE.match(token)
    if match:
        if match.group(1):
            return int(match.group(1))
        return max(1, round(int(match.group(2)) / 2))
    stars = _STARS.match(token)
    if stars and len(stars.group(1)) <= 5:
        filled = sum(1 for c in stars.group(1) if c in "★⭐*")
        return filled or None
    return None


def _emoji(token: str) -> bool:
    """Smileys, hearts and thumbs: praise without words."""
    return all(unicodedata.category(c) in ("So", "Sk", "Mn", "Cf") for c in token)
