"""Status keywords at the top of a staff mail: which words count, and what is left as note."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailer.core.deciding.commands import Keywords, normalize, parse_commands
from mailer.core.reading.parse import parse_message
from mailer.core.reading.visible import split_reply, visible_text
from mailer.settings import DEFAULT_KEYWORDS

KEYWORDS = Keywords(DEFAULT_KEYWORDS, ("Status", "Stato"))


def actions(text: str) -> list[str]:
    return [c.action for c in parse_commands(text, KEYWORDS).commands]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#in-progress", ["in_progress"]),
        ("#in-corso", ["in_progress"]),
        ("#waiting", ["waiting"]),
        ("#in-attesa", ["waiting"]),
        ("#resolved", ["resolved"]),
        ("#risolto", ["resolved"]),
        ("#closed", ["closed"]),
        ("#chiuso", ["closed"]),
        ("#reopen", ["reopen"]),
        ("#riapri", ["reopen"]),
        ("#take", ["take"]),
        ("#prendo", ["take"]),
        ("#internal", ["internal"]),
        ("#interno", ["internal"]),
        ("#status", ["status"]),
        ("#stato", ["status"]),
        ("#close", ["close"]),
        ("#chiudi", ["close"]),
    ],
)
def test_every_default_keyword_in_english_and_italian(text: str, expected: list[str]) -> None:
    assert actions(text) == expected


@pytest.mark.parametrize(
    "word", ["#RESOLVED", "#Risolto", "#in_progress", "#inprogress", "#IN-CORSO", "#rísolto"]
)
def test_keywords_ignore_case_accents_and_separators(word: str) -> None:
    assert actions(word) != []


def test_normalize_drops_case_accents_and_separators() -> None:
    assert normalize("#In-Córso") == normalize("#in_corso") == "incorso"


def test_pseudo_header_status_and_stato() -> None:
    assert actions("Status: resolved") == ["resolved"]
    assert actions("Stato: risolto") == ["resolved"]
    assert actions("stato: In Corso\nci sto lavorando") == ["in_progress"]


def test_pseudo_header_with_a_sentence_is_text() -> None:
    parsed = parse_commands("Status: the printer is still broken after the reboot", KEYWORDS)
    assert parsed.commands == () and parsed.unknown == ()
    assert parsed.note.startswith("Status: the printer")


def test_several_commands_on_one_line_and_the_note_after_them() -> None:
    parsed = parse_commands("\n\n#take #in-progress\nI am on it.\nMario", KEYWORDS)
    assert [c.action for c in parsed.commands] == ["take", "in_progress"]
    assert parsed.note == "I am on it.\nMario"


def test_text_after_the_keywords_on_the_same_line_is_the_note() -> None:
    parsed = parse_commands("#resolved replaced the toner cartridge", KEYWORDS)
    assert [c.action for c in parsed.commands] == ["resolved"]
    assert parsed.note == "replaced the toner cartridge"


def test_commands_on_consecutive_lines() -> None:
    parsed = parse_commands("#take\nStato: in attesa\n\nPuoi mandarmi una foto?", KEYWORDS)
    assert [c.action for c in parsed.commands] == ["take", "waiting"]
    assert parsed.note == "Puoi mandarmi una foto?"


def test_assign_takes_an_address() -> None:
    parsed = parse_commands("#assign <Luca.Bianchi@Example.org>", KEYWORDS)
    assert parsed.commands[0].action == "assign"
    assert parsed.commands[0].argument == "luca.bianchi@example.org"
    assert actions("#assegna mailto:anna@example.org") == ["assign"]


def test_assign_without_an_address_is_a_problem() -> None:
    parsed = parse_commands("#assign Luca", KEYWORDS)
    assert parsed.commands == ()
    assert parsed.problems and "needs an address" in parsed.problems[0]


def test_unknown_keyword_suggests_the_closest() -> None:
    parsed = parse_commands("#resolvd\nfixed", KEYWORDS)
    assert parsed.commands == ()
    assert parsed.unknown[0].word == "#resolvd"
    assert parsed.unknown[0].suggestion == "#resolved"


def test_keyword_below_the_first_text_is_not_a_command() -> None:
    parsed = parse_commands("Hello,\nI looked at it.\n#resolved", KEYWORDS)
    assert parsed.commands == () and not parsed.any
    assert parsed.note.endswith("#resolved")


def test_hash_number_is_text_not_a_keyword() -> None:
    parsed = parse_commands("#1 priority for us, we are on it", KEYWORDS)
    assert not parsed.any


def test_no_commands_leaves_the_whole_text_as_note() -> None:
    parsed = parse_commands("  \nThe new laptop is ready at the desk.\n", KEYWORDS)
    assert not parsed.any
    assert parsed.note == "The new laptop is ready at the desk."


def test_configured_words_replace_the_defaults() -> None:
    table = dict(DEFAULT_KEYWORDS)
    table["resolved"] = ("#done", "#fatto")
    custom = Keywords(tuple(table.items()), ("Status",))
    assert [c.action for c in parse_commands("#fatto", custom).commands] == ["resolved"]
    assert parse_commands("#resolved", custom).unknown[0].word == "#resolved"
    assert [c.action for c in parse_commands("Status: done", custom).commands] == ["resolved"]


# ---- real replies from the shared corpus: a keyword counts only in the visible top text ----

REPLIES = Path(__file__).resolve().parents[1] / "data" / "corpus" / "replies"
FIXTURES = sorted(path.stem for path in REPLIES.glob("*.eml"))


def reply_text(name: str) -> str:
    return parse_message((REPLIES / f"{name}.eml").read_bytes(), max_size=1 << 24).text


@pytest.mark.parametrize("name", FIXTURES)
def test_real_reply_as_written_holds_no_command(name: str) -> None:
    assert parse_commands(visible_text(reply_text(name)), KEYWORDS).commands == ()


@pytest.mark.parametrize("name", FIXTURES)
def test_keyword_on_top_of_a_real_reply_is_a_command(name: str) -> None:
    text = "#resolved\n" + reply_text(name)
    parsed = parse_commands(visible_text(text), KEYWORDS)
    assert [c.action for c in parsed.commands] == ["resolved"]


@pytest.mark.parametrize("name", FIXTURES)
def test_keyword_in_the_quoted_history_of_a_real_reply_is_not_a_command(name: str) -> None:
    reply = split_reply(reply_text(name))
    if not reply.quoted:  # nothing quoted: the keyword lands below the text instead
        text = f"{reply_text(name)}\n#resolved"
    else:
        first, _, rest = reply.quoted.partition("\n")
        prefix = "> " if rest.lstrip().startswith(">") else ""
        text = f"{reply.visible}\n\n{first}\n{prefix}#resolved\n{rest}\n{prefix}#closed"
    parsed = parse_commands(visible_text(text), KEYWORDS)
    assert not parsed.has("resolved", "closed"), name


def test_a_hostile_line_of_thousands_of_hash_words_is_cut_short() -> None:
    parsed = parse_commands(" ".join(f"#x{i}" for i in range(300_000)), KEYWORDS)
    assert len(parsed.unknown) == 10 and parsed.commands == ()
