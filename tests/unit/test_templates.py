"""The workflow mails: each renders in every language and says what a person needs, no more."""

from __future__ import annotations

import re
from typing import cast

import jinja2
import pytest

from mailer.config import templates
from mailer.config.validate import SAMPLE
from mailer.core.writing.receipt import receipt_context
from mailer.core.writing.render import Envelope
from mailer.core.writing.samples import (
    REQUESTER_TEMPLATES,
    SAMPLE_CONTEXTS,
    SAMPLE_DUE,
    STAFF_TEMPLATES,
    SUMMARY_TEMPLATES,
)
from mailer.model import Classification
from tests.factories import settings

ENV = templates.make_environment()
LANGUAGES = ("en", "it")
PROGRESS = tuple(n for n in REQUESTER_TEMPLATES if n.startswith("progress_"))
COMMON_KEYS = {
    "service", "service_address", "signature", "contacts", "language", "reference", "subject",
    "has_subject", "category", "priority", "team", "status", "owner", "owner_name", "requester",
    "requester_name", "name", "reopen_days", "keywords", "status_headers", "opened_on",
}  # fmt: skip
# Every template a language ships, as (language, name, suffix).
ALL = [
    *((lang, name, "txt") for lang in LANGUAGES for name in REQUESTER_TEMPLATES + STAFF_TEMPLATES),
    *((lang, name, "html") for lang in LANGUAGES for name in REQUESTER_TEMPLATES),
]
TEXTS = [case for case in ALL if case[2] == "txt"]
NOTE = "Please restart the print spooler\nand try again."
KEYWORDS = cast(dict[str, list[str]], SAMPLE_CONTEXTS["notify"]["keywords"])


def render(lang: str, template: str, suffix: str = "txt", /, **overrides: object) -> str:
    context = {**SAMPLE_CONTEXTS[template], "language": lang, **overrides}
    return ENV.get_template(f"{lang}/{template}.{suffix}.j2").render(context)


def words(text: str) -> str:
    """The text with every run of white space made one space, for phrases the HTML wraps."""
    return " ".join(text.split())


def assert_well_formed(out: str, suffix: str) -> None:
    assert "{{" not in out and "{%" not in out
    assert "ticket" not in out.lower()
    assert "not reply" not in out.lower() and "non rispondere" not in out.lower()
    assert "None" not in out
    if suffix == "txt":
        long = [line for line in out.splitlines() if len(line) > 100]
        assert not long, long


# The contract


def test_every_template_has_a_sample_context_with_the_common_keys() -> None:
    assert set(SAMPLE_CONTEXTS) == {*REQUESTER_TEMPLATES, *STAFF_TEMPLATES, *SUMMARY_TEMPLATES}
    assert not set(REQUESTER_TEMPLATES) & set(STAFF_TEMPLATES)
    for name, context in SAMPLE_CONTEXTS.items():
        if name not in SUMMARY_TEMPLATES:
            assert set(context) >= COMMON_KEYS, name


@pytest.mark.parametrize("name", SUMMARY_TEMPLATES)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_summaries_to_staff_list_every_request_and_render_when_nothing_is_owned(
    lang: str, name: str
) -> None:
    out = render(lang, name)
    assert "IT-1024" in out and "IT-1019" in out
    assert_well_formed(out, "txt")
    assert f"{lang}/{name}.html.j2" not in ENV.list_templates()
    with pytest.raises(jinja2.UndefinedError):
        context = {k: v for k, v in SAMPLE_CONTEXTS[name].items() if k != "keywords"}
        ENV.get_template(f"{lang}/{name}.txt.j2").render(context)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_notice_about_one_request_names_it_and_says_what_is_due(lang: str) -> None:
    items = cast(list[dict[str, object]], SAMPLE_CONTEXTS["due_notice"]["items"])
    out = render(lang, "due_notice", items=items[1:])
    assert "IT-1019" in out and "IT-1024" not in out
    assert ("past its resolution time" in out) or ("superato il termine" in out)


def test_staff_mails_are_text_only_and_requester_mails_have_an_html_alternative() -> None:
    shipped = set(ENV.list_templates())
    for lang in LANGUAGES:
        for name in REQUESTER_TEMPLATES:
            assert {f"{lang}/{name}.txt.j2", f"{lang}/{name}.html.j2"} <= shipped
        for name in STAFF_TEMPLATES:
            assert f"{lang}/{name}.txt.j2" in shipped
            assert f"{lang}/{name}.html.j2" not in shipped


@pytest.mark.parametrize(("lang", "name", "suffix"), ALL)
def test_sample_renders_cleanly_and_names_the_request(lang: str, name: str, suffix: str) -> None:
    out = render(lang, name, suffix)
    assert "IT-1024" in out
    assert_well_formed(out, suffix)


@pytest.mark.parametrize(("lang", "name", "suffix"), ALL)
def test_a_missing_variable_is_an_error_not_a_blank(lang: str, name: str, suffix: str) -> None:
    context = {k: v for k, v in SAMPLE_CONTEXTS[name].items() if k != "reference"}
    with pytest.raises(jinja2.UndefinedError, match="reference"):
        ENV.get_template(f"{lang}/{name}.{suffix}.j2").render(context)


@pytest.mark.parametrize(("lang", "name", "suffix"), ALL)
def test_renders_without_owner_team_name_contacts_or_subject(
    lang: str, name: str, suffix: str
) -> None:
    out = render(
        lang,
        name,
        suffix,
        owner=None,
        owner_name="",
        team=None,
        name="",
        requester_name="",
        contacts=[],
        subject="",
        has_subject=False,
    )
    assert_well_formed(out, suffix)
    if name in REQUESTER_TEMPLATES:
        greeting = "Hello," if lang == "en" else "Buongiorno,"
        assert greeting in out
        assert "Maria" not in out.replace("Hi Maria", "")  # the answer's own note greets her


# Notes and attachments


@pytest.mark.parametrize("suffix", ["txt", "html"])
@pytest.mark.parametrize("name", [*PROGRESS, "answer"])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_staff_note_is_shown_in_full(lang: str, name: str, suffix: str) -> None:
    out = render(lang, name, suffix, note=NOTE)
    assert "Please restart the print spooler" in out and "and try again." in out


@pytest.mark.parametrize("suffix", ["txt", "html"])
@pytest.mark.parametrize("name", PROGRESS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_an_empty_note_leaves_no_empty_quote(lang: str, name: str, suffix: str) -> None:
    out = render(lang, name, suffix, note="")
    assert "writes:" not in out and "scrive:" not in out
    assert "<blockquote" not in out
    with_note = render(lang, name, suffix, note=NOTE, staff_name="")
    assert ("Our team writes:" in with_note) or ("Il nostro team scrive:" in with_note)


@pytest.mark.parametrize("suffix", ["txt", "html"])
@pytest.mark.parametrize("name", [*PROGRESS, "answer"])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_attachments_are_mentioned_only_when_there_are_some(
    lang: str, name: str, suffix: str
) -> None:
    marker = "Attached to this message" if lang == "en" else "In allegato a questo messaggio"
    out = render(lang, name, suffix, attachments=["log.txt", "screen.png"])
    assert marker in out and "log.txt, screen.png" in out
    assert marker not in render(lang, name, suffix, attachments=[])


@pytest.mark.parametrize("name", [*PROGRESS, "answer"])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_html_escapes_what_people_wrote(lang: str, name: str) -> None:
    out = render(
        lang,
        name,
        "html",
        note="<script>alert(1)</script>\nsecond line",
        staff_name="<b>Eve</b>",
        attachments=["<img src=x>.png"],
    )
    assert "<script>" not in out and "&lt;script&gt;alert(1)&lt;/script&gt;<br>second line" in out
    assert "<b>Eve</b>" not in out and "<img" not in out


def test_a_long_note_keeps_its_lines_and_is_set_off_by_indentation() -> None:
    out = render("en", "progress_update", note="First line\n\nSecond paragraph")
    assert "\n    First line\n\n    Second paragraph\n" in out


# What each requester mail says


@pytest.mark.parametrize("suffix", ["txt", "html"])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_resolved_mail_explains_reopening_and_asks_for_a_rating(lang: str, suffix: str) -> None:
    out = words(render(lang, "progress_resolved", suffix, reopen_days=9))
    assert ("within 9 days" in out) if lang == "en" else ("entro 9 giorni" in out)
    assert "1 (" in out and "5 (" in out and "★★★★★" in out
    one = words(render(lang, "progress_resolved", suffix, reopen_days=1))
    assert ("within 1 day " in one) if lang == "en" else ("entro 1 giorno " in one)


@pytest.mark.parametrize("suffix", ["txt", "html"])
@pytest.mark.parametrize("name", PROGRESS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_status_and_close_keywords_are_offered_only_while_the_request_is_open(
    lang: str, name: str, suffix: str
) -> None:
    status, close = ("#status", "#close") if lang == "en" else ("#stato", "#chiudi")
    out = render(lang, name, suffix)
    offered = name in ("progress_in_progress", "progress_waiting", "progress_update")
    offered = offered or name == "progress_reopened"
    assert (status in out and close in out) == offered


@pytest.mark.parametrize("lang", LANGUAGES)
def test_keyword_hints_disappear_when_no_words_are_configured(lang: str) -> None:
    keywords = {**KEYWORDS, "status": [], "close": []}
    out = render(lang, "progress_waiting", keywords=keywords)
    assert "#stat" not in out and "#clos" not in out and "#chiud" not in out


@pytest.mark.parametrize("suffix", ["txt", "html"])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_in_progress_names_who_works_on_it_or_speaks_for_the_team(lang: str, suffix: str) -> None:
    assert "Luca Bianchi" in render(lang, "progress_in_progress", suffix, note="")
    anon = render(lang, "progress_in_progress", suffix, owner="x@example.test", owner_name="")
    assert "x@example.test" in anon
    out = render(lang, "progress_in_progress", suffix, owner=None, owner_name="", note="")
    assert "Luca" not in out
    assert ("we have picked up" in out) if lang == "en" else ("abbiamo preso in carico" in out)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_waiting_asks_for_a_reply_that_resumes_the_request(lang: str) -> None:
    for note in (NOTE, ""):
        out = render(lang, "progress_waiting", note=note)
        assert ("back in progress" in out) if lang == "en" else ("in lavorazione" in out)


@pytest.mark.parametrize("suffix", ["txt", "html"])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_closed_mail_says_a_reply_opens_a_new_linked_request(lang: str, suffix: str) -> None:
    out = render(lang, "progress_closed", suffix)
    assert ("new request" in out) if lang == "en" else ("nuova richiesta" in out)


@pytest.mark.parametrize("suffix", ["txt", "html"])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_reopened_thanks_the_requester_only_when_they_reopened_it(lang: str, suffix: str) -> None:
    thanks = "thank you for letting us know" if lang == "en" else "grazie per avercelo segnalato"
    assert thanks in render(lang, "progress_reopened", suffix, reopened_by_requester=True)
    by_staff = render(lang, "progress_reopened", suffix, reopened_by_requester=False)
    assert thanks not in by_staff
    assert ("the team has been told" in by_staff) if lang == "en" else ("avvisato" in by_staff)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_update_says_who_handles_it_now_or_just_relays_the_note(lang: str) -> None:
    assert "Anna Verdi" in render(lang, "progress_update", note="")
    note_only = render(lang, "progress_update", owner_changed=False, note=NOTE)
    assert "Please restart the print spooler" in note_only
    unassigned = render(lang, "progress_update", owner=None, owner_name="", note="")
    assert "Anna" not in unassigned


@pytest.mark.parametrize("suffix", ["txt", "html"])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_answer_starts_with_who_answered(lang: str, suffix: str) -> None:
    out = render(lang, "answer", suffix)
    assert (
        "Luca Bianchi answered your request" if lang == "en" else "Luca Bianchi ha risposto"
    ) in out
    anon = render(lang, "answer", suffix, staff_name="")
    assert ("our team answered" if lang == "en" else "il nostro team ha risposto") in anon


@pytest.mark.parametrize("suffix", ["txt", "html"])
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize(
    ("rating", "value", "sorry"), [("thanks", None, False), ("1", 1, True), ("5/5", 5, False)]
)
def test_rating_thanks_apologises_only_for_a_low_rating(
    lang: str, suffix: str, rating: str, value: int | None, sorry: bool
) -> None:
    out = render(lang, "rating_thanks", suffix, rating=rating, rating_value=value)
    apology = "sorry" if lang == "en" else "ci dispiace"
    assert (apology in out) == sorry
    if value is not None:
        assert f"({rating})" in out


@pytest.mark.parametrize("suffix", ["txt", "html"])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_status_reply_describes_every_status_in_words(lang: str, suffix: str) -> None:
    phrases = {
        "en": {
            "new": "waiting to be picked up",
            "acknowledged": "waiting to be picked up",
            "in_progress": "someone is working on it",
            "waiting": "on hold",
            "resolved": "reopens it",
            "closed": "opens a new request",
        },
        "it": {
            "new": "in attesa di essere presa in carico",
            "acknowledged": "in attesa di essere presa in carico",
            "in_progress": "qualcuno ci sta lavorando",
            "waiting": "ci serve qualcosa",
            "resolved": "riaprirà la richiesta",
            "closed": "aprirà una nuova richiesta",
        },
    }[lang]
    for status, phrase in phrases.items():
        out = render(lang, "status", suffix, status=status)
        assert phrase in out, status
        assert "in_progress" not in out and "acknowledged" not in out
        assert "2026-11-24" in out  # opened on
        if status in ("resolved", "closed"):
            assert "#close" not in out and "#chiudi" not in out


@pytest.mark.parametrize("suffix", ["txt", "html"])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_status_reply_lists_other_contacts_only_when_configured(lang: str, suffix: str) -> None:
    assert "room 204" in render(lang, "status", suffix)
    out = render(lang, "status", suffix, contacts=[])
    assert "room 204" not in out and "Other ways" not in out and "Altri modi" not in out


# What the team gets


@pytest.mark.parametrize("lang", LANGUAGES)
def test_notify_shows_the_request_and_a_keyword_cheat_sheet(lang: str) -> None:
    out = render(lang, "notify")
    assert "Maria Rossi <maria.rossi@example.test>" in out
    assert "The printer on the 2nd floor is jammed" in out
    assert "keeps jamming since this" in out
    assert "We answer within a working day." in out
    for words in KEYWORDS.values():
        for word in words:
            if word not in ("#close", "#chiudi"):  # the requester's word, not the team's
                assert word in out, word
    assert ("#assign ADDRESS" if lang == "en" else "#assegna INDIRIZZO") in out
    assert ('"Status: resolved"' if lang == "en" else '"Stato: risolto"') in out
    assert "printer-display.jpg (image/jpeg, 120 KB)" in out


@pytest.mark.parametrize("lang", LANGUAGES)
def test_notify_says_when_the_text_was_cut_and_where_the_files_are(lang: str) -> None:
    out = render(lang, "notify", truncated=True, attached=False)
    assert ("was cut" in out) if lang == "en" else ("tagliato" in out)
    assert ("shared mailbox" in out) if lang == "en" else ("casella condivisa" in out)
    attached = render(lang, "notify", attached=True)
    assert ("attached to this mail" in attached) if lang == "en" else ("allegati a" in attached)
    assert "shared mailbox" not in render(lang, "notify", files=[], truncated=False)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_notify_without_expectation_or_owner(lang: str) -> None:
    out = render(lang, "notify", expectation=None)
    assert "Promised" not in out and "Promesso" not in out
    assert ("nobody yet" in out) if lang == "en" else ("nessuno per ora" in out)


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize(
    "event",
    [
        "follow_up",
        "reopened",
        "closed_by_requester",
        "waiting_answered",
        "not_staff",
        "not_authenticated",
    ],
)
def test_forward_headline_says_what_happened(lang: str, event: str) -> None:
    out = render(lang, "forward", event=event)
    first = out.splitlines()[0]
    assert first.startswith("Maria Rossi <maria.rossi@example.test>") and "IT-1024" in first
    assert "E-204" in out
    expected = {
        "en": {
            "follow_up": "added a message",
            "reopened": "reopened",
            "closed_by_requester": "closed",
            "waiting_answered": "in progress again",
            "not_staff": "not on the staff list",
            "not_authenticated": "from a staff address",
        },
        "it": {
            "follow_up": "ha aggiunto un messaggio",
            "reopened": "ha riaperto",
            "closed_by_requester": "ha chiuso",
            "waiting_answered": "di nuovo in corso",
            "not_staff": "non è nell'elenco dello staff",
            "not_authenticated": "da un indirizzo dello staff",
        },
    }[lang][event]
    assert expected in first
    if event in ("not_staff", "not_authenticated"):
        assert "ignor" in out.splitlines()[1]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_forward_reminds_of_the_keywords_in_one_line(lang: str) -> None:
    out = render(lang, "forward", text="", files=[])
    line = next(x for x in out.splitlines() if x.startswith("#"))
    assert ("#take" if lang == "en" else "#prendo") in line
    assert ("#assign ADDRESS" if lang == "en" else "#assegna INDIRIZZO") in line
    assert "(no text)" in out or "(nessun testo)" in out


@pytest.mark.parametrize("lang", LANGUAGES)
def test_feedback_suggests_the_keyword_it_resembles(lang: str) -> None:
    out = render(lang, "feedback")
    assert "#resolvd" in out and "#resolved?" in out
    assert ("did you mean" if lang == "en" else "forse intendevi") in out
    assert ("send your reply again" if lang == "en" else "invia di nuovo") in out
    bare = render(lang, "feedback", unknown=[{"word": "#zzz", "suggestion": None}])
    assert "#zzz" in bare and "?" not in bare.split("#zzz")[1].splitlines()[0]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_feedback_lists_what_was_done_and_refused_and_if_the_requester_was_told(
    lang: str,
) -> None:
    out = render(
        lang,
        "feedback",
        done=["#take: owner is now luca.bianchi@example.test"],
        refused=["#waiting: refused, the request is resolved; reopen it first (#reopen)"],
        unknown=[],
        problems=["#assign: needs an address, as in '#assign name@example.org'"],
        nothing_changed=False,
        requester_told=True,
    )
    done, refused = ("Done:", "Not done:") if lang == "en" else ("Fatto:", "Non fatto:")
    assert done in out and refused in out
    assert out.index("#take: owner") < out.index("#waiting: refused") < out.index("#assign: needs")
    assert "maria.rossi@example.test" in out  # the requester was told
    assert "Nothing was changed" not in out and "Non è stato cambiato" not in out
    quiet = render(lang, "feedback", unknown=[], nothing_changed=True)
    assert ("Nothing was changed." in quiet) or ("Non è stato cambiato nulla." in quiet)
    assert "send your reply again" not in quiet and "invia di nuovo" not in quiet


@pytest.mark.parametrize("lang", LANGUAGES)
def test_feedback_without_a_request_says_how_to_point_at_one(lang: str) -> None:
    out = render(lang, "feedback", missing_thread=True, reference="", unknown=[])
    assert ("notification mail" in out) if lang == "en" else ("mail di notifica" in out)
    assert ("square brackets" in out) if lang == "en" else ("parentesi quadre" in out)
    assert_well_formed(out, "txt")


# The receipt


def receipt(lang: str, suffix: str, previous_reference: str | None, **overrides: object) -> str:
    envelope = Envelope(
        SAMPLE.from_[0], "helpdesk@example.test", "<x@example.test>", 0.0, bytes(16)
    )
    context = receipt_context(
        settings(),
        SAMPLE,
        Classification(rule="sample", team_name="IT"),
        envelope,
        "REQ-1000",
        lang,
    )
    context = {**context, "previous_reference": previous_reference, **overrides}
    return ENV.get_template(f"{lang}/receipt.{suffix}.j2").render(context)


# What a reader sees of an HTML mail: block elements end a line, inline ones are nothing.
_BLOCK = re.compile(r"</?(?:p|br|blockquote|div|ul|ol|li|table|tr|td|h\d)\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]+>")
_GLUED = re.compile(r"[\w)][.!?:][A-ZÀ-Ý]")  # "pick it up.We will": a sentence without a space


def visible_text(html: str) -> str:
    return _TAG.sub("", _BLOCK.sub(" ", html.split("<body", 1)[-1]))


@pytest.mark.parametrize(
    "due", [dict.fromkeys(SAMPLE_DUE, ""), SAMPLE_DUE, {**SAMPLE_DUE, "back_at": ""}]
)
@pytest.mark.parametrize("team", ["IT", None])
@pytest.mark.parametrize("expectation", ["", "Most requests are answered the same day."])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_html_receipt_sentences_are_separated_whatever_is_shown(
    lang: str, expectation: str, team: str | None, due: dict[str, object]
) -> None:
    out = receipt(lang, "html", None, team=team, due=due, expectation=expectation)
    assert not _GLUED.findall(visible_text(out)), visible_text(out)


@pytest.mark.parametrize(
    ("lang", "name"), [(lang, n) for lang in LANGUAGES for n in REQUESTER_TEMPLATES]
)
def test_html_mails_separate_their_sentences(lang: str, name: str) -> None:
    text = visible_text(render(lang, name, "html"))
    assert not _GLUED.findall(text), text


@pytest.mark.parametrize("suffix", ["txt", "html"])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_receipt_mentions_the_earlier_request_it_continues(lang: str, suffix: str) -> None:
    sentence = (
        "This continues your earlier request REQ-0999."
        if lang == "en"
        else "Questa richiesta fa seguito alla tua precedente REQ-0999."
    )
    assert sentence in receipt(lang, suffix, "REQ-0999")
    plain = receipt(lang, suffix, None)
    assert "REQ-0999" not in plain and "earlier request" not in plain
    assert "precedente" not in plain


@pytest.mark.parametrize("lang", ["en", "it"])
def test_notification_of_a_continued_request_names_the_earlier_one(lang: str) -> None:
    assert "IT-0999" in render(lang, "notify", previous_reference="IT-0999")
    assert "IT-0999" not in render(lang, "notify")
