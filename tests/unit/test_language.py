"""detect_language: short help-desk requests in Italian and English, or None when unsure."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailer.core.reading.language import STOP_WORDS, detect_language


@pytest.mark.parametrize(
    "text",
    [
        "La stampante del secondo piano non funziona",
        "LA STAMPANTE DEL SECONDO PIANO NON FUNZIONA",
        "Non riesco ad accedere alla posta, perché?",
        "Il PC è lento, può aiutarmi?",
        "VPN non va più da ieri",
        "c'è un problema con l'email",
        "Buongiorno, il mio account Outlook non si sincronizza con il server Exchange",
        "Richiesta nuovo monitor\nBuongiorno, vorrei un secondo monitor per la scrivania. Grazie",
        "PERCHÉ NON POSSO STAMPARE? È URGENTE",
        "Ciao, my laptop non funziona",  # mixed, mostly Italian
    ],
)
def test_italian_requests_are_italian(text: str) -> None:
    assert detect_language(text) == "it"


@pytest.mark.parametrize(
    "text",
    [
        "My laptop won't connect to the VPN",
        "MY LAPTOP WON'T CONNECT TO THE VPN",
        "Cannot print from Excel",
        "Outlook crashes when I open attachments",
        "Hi, I can’t log in to my account since this morning. Thanks",  # typographic apostrophe
        "Password reset\nHello, please reset my password, it has expired.",
        "Il Divo tickets: the stampante page of the intranet is down, can you check?",  # mixed
    ],
)
def test_english_requests_are_english(text: str) -> None:
    assert detect_language(text) == "en"


@pytest.mark.parametrize("text", ["", "Help", "Grazie", "VPN", "Outlook 365 KB5034441", "???"])
def test_too_little_evidence_is_none(text: str) -> None:
    assert detect_language(text) is None


def test_languages_outside_the_candidates_are_not_forced_into_them() -> None:
    german = "Der Drucker im zweiten Stock funktioniert nicht, bitte helfen"
    french = "L'imprimante du deuxième étage ne fonctionne pas, merci"
    spanish = "La impresora del segundo piso no funciona, gracias"
    assert detect_language(german) is None
    assert detect_language(french) is None
    assert detect_language(spanish) is None
    assert detect_language(german, ("en", "it", "de")) == "de"
    assert detect_language(french, ("fr",)) == "fr"
    assert detect_language(spanish, ("it", "es")) == "es"


def test_quoted_history_does_not_decide_the_language() -> None:
    text = "Thanks, it works now!\n\n> Buongiorno, la stampante non funziona più.\n> Grazie, Maria"
    assert detect_language(text) == "en"


def test_only_the_start_of_a_long_text_is_read() -> None:
    text = "La stampante non funziona. " * 100 + "the and of to in " * 10_000
    assert detect_language(text) == "it"


def test_every_language_has_a_stop_word_list() -> None:
    assert {"en", "it", "de", "fr", "es"} <= STOP_WORDS.keys()


def test_a_language_is_added_with_a_words_file_and_templates(tmp_path: Path) -> None:
    """Portuguese is not built in: templates/pt/ with words.txt makes it detected."""
    import jinja2

    from mailer.config.templates import language_words

    (tmp_path / "pt").mkdir()
    (tmp_path / "pt" / "receipt.txt.j2").write_text("Olá {{ name }}\n")
    (tmp_path / "pt" / "words.txt").write_text(
        "# common Portuguese words\nnão o a os as um uma de do da em no na para com obrigado\n"
        "impressora funciona problema bom dia por favor\n"
    )
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(tmp_path)))
    text = "Bom dia, a impressora não funciona. Por favor, obrigado"
    assert detect_language(text, ("en", "it", "pt")) != "pt"
    assert detect_language(text, ("en", "it", "pt"), language_words(env)) == "pt"
