"""Which language a request is written in, from its most common words.

Help-desk requests are short ("La stampante non funziona"), so a character n-gram model
would be guessing; counting function words and everyday help-desk words is predictable,
needs no data files and says "don't know" (None) when the evidence is thin.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

__all__ = ["STOP_WORDS", "detect_language", "words_of"]

WINDOW = 2000  # characters read: subject and the start of the body say enough
MIN_SCORE = 2  # fewer known words than this is too little evidence
MARGIN = 1.5  # the winner must beat the runner-up by this factor

_WORDS = {
    "en": """the a an and or but if of to in on at by for from with about as into over after
        since until is are was were be been being am do does did done don't doesn't didn't
        isn't aren't wasn't can can't cannot could couldn't won't will would should shall
        have has had haven't i i'm i've i'd me my mine we our us you your he she it its they
        their them this that these those there here what when where which who why how
        not no any some all still anymore again also just only please thanks thank hello hi
        dear regards kind best help need needs working work works able unable since today
        yesterday tomorrow morning get got keeps keep trying tried issue problem error
        broken connect access printer floor new request install change network""",
    "it": """il lo la i gli le un uno una un' l' di del dello della dei degli delle d' dell'
        a al allo alla ai agli alle all' da dal dallo dalla dai dagli dalle in nel nello
        nella nei negli nelle nell' con su sul sullo sulla sui sugli sulle per tra fra e ed
        o oppure ma però pero non né che chi cui come dove quando perché perche più piu già
        gia può puo è e' c'è sono sei siamo siete ho hai ha abbiamo avete hanno era mi ti si
        ci vi ne mio mia miei mie tuo tua suo sua nostro nostra vostro questo questa questi
        queste quello quella anche ancora sempre mai molto poco tutto tutti oggi ieri domani
        stamattina grazie buongiorno buonasera ciao salve gentile gentili cordiali saluti
        distinti funziona funzionano riesco riesce riusciamo problema problemi errore aiuto
        richiesta stampante piano ufficio accedere accesso posta collegare collegarsi
        potete potreste vorrei volevo sapere chiedo chiedere nuovo nuova cambio installare rete""",
    "de": """der die das den dem des ein eine einen einem einer und oder aber wenn dass
        weil ist sind war waren bin bist hat haben habe hatte wird werden kann können
        konnte nicht kein keine keinen ich du er sie es wir ihr mein meine meinen mir mich
        uns unser ihr ihre mit für auf von zu zum zur im ins am an bei beim vom über unter
        nach seit noch schon auch nur sehr bitte danke hallo guten tag morgen sehr geehrte
        geehrter grüße gruß funktioniert funktionieren drucker fehler problem hilfe""",
    "fr": """le la les l' un une des du de d' et ou mais si est sont était être ai as a
        avons avez ont je j' tu il elle nous vous ils elles me m' te t' se s' ne n' pas
        plus mon ma mes ton ta tes son sa ses notre votre leur ce cet cette ces qui que
        qu' quoi où quand comment pourquoi pour par avec sans sur sous dans chez au aux
        très aussi encore toujours déjà bonjour bonsoir merci cordialement madame monsieur
        fonctionne marche imprimante problème erreur aide impossible peux pouvez""",
    "es": """el la los las un una unos unas de del al y o pero si es son era ser estar
        está están estoy tengo tiene tienen he ha han hemos yo tú él ella nosotros ustedes
        me te se lo le les mi mis tu su sus nuestro este esta estos estas ese esa que qué
        quien cuando cómo como donde dónde porque por para con sin sobre en entre muy
        también todavía ya no hola gracias buenos días buenas tardes saludos funciona
        puedo puede impresora problema error ayuda""",
}
STOP_WORDS: dict[str, frozenset[str]] = {
    lang: frozenset(w.casefold() for w in words.split()) for lang, words in _WORDS.items()
}
_TOKEN = re.compile(r"[^\W\d_]+(?:'[^\W\d_]*)?")
_QUOTED = re.compile(r"^[ \t]*>.*$", re.MULTILINE)


def _tokens(text: str) -> list[str]:
    text = unicodedata.normalize("NFC", text[:WINDOW]).replace("’", "'").replace("`", "'")
    return _TOKEN.findall(_QUOTED.sub("", text).casefold())


def _scores(tokens: list[str], known: Mapping[str, frozenset[str]]) -> dict[str, float]:
    scores = dict.fromkeys(known, 0.0)
    for token in tokens:
        forms = [token]
        if "'" in token:  # "l'ufficio", "c'è", "won't": the whole word, else the elided part
            head, _, tail = token.partition("'")
            forms = [token] if any(token in w for w in known.values()) else [head + "'", tail]
        for form in forms:
            for lang, words in known.items():
                if form in words:
                    scores[lang] += 1
    return scores


def words_of(text: str) -> frozenset[str]:
    """A ``<lang>/words.txt`` file: common words of a language, by spaces or lines, # comments."""
    lines = (line.split("#", 1)[0] for line in text.splitlines())
    return frozenset(w.casefold() for line in lines for w in line.split())


def detect_language(
    text: str,
    candidates: tuple[str, ...] = ("en", "it"),
    extra: Mapping[str, frozenset[str]] | None = None,
) -> str | None:
    """The language of ``text`` (pass subject + body), or None when unsure.

    Every known language competes, so German text is not forced into English or Italian:
    the winner is returned only if it is among ``candidates``. Quoted lines are ignored.
    ``extra``: more words per language (the admin's ``templates/<lang>/words.txt``), which
    is how a language this module does not know is added.
    """
    known = dict(STOP_WORDS)
    for lang, words in (extra or {}).items():
        known[lang] = known.get(lang, frozenset()) | words
    scores = _scores(_tokens(text), known)
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    (best, top), (_, second) = ranked[0], ranked[1]
    if top < MIN_SCORE or top < second * MARGIN:
        return None
    return best if best in candidates else None
