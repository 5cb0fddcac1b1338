"""mailer.core.reading.visible: the new text of a reply, without quoted history or signature."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from mailer.core.reading.parse import parse_message
from mailer.core.reading.text import html_to_text
from mailer.core.reading.visible import split_reply, visible_text

REPLIES = Path(__file__).resolve().parents[1] / "data" / "corpus" / "replies"
MAX = 25 * 1024 * 1024
FIXTURES = sorted(path.stem for path in REPLIES.glob("*.eml"))

# Fixture expectations (taken from the source projects' tests) that we believe wrong, with the
# reason; BELIEVED holds what we assert for them instead.
DISAGREE = {
    "talon_iphone": "talon keeps 'Sent from my iPhone' in the reply; we remove mobile taglines "
    "as signatures, as github/email_reply_parser's email_iPhone fixture expects",
    "talon_html_ms_outlook_2010": "the HTML has no empty paragraph between 'Hi. I am fine.' and "
    "'Thanks,' (margin-less MsoNormal lines), so no blank line separates them on screen",
}
BELIEVED = {
    "talon_iphone": "Hello",
    "talon_html_ms_outlook_2010": "Hi. I am fine.\nThanks,\nAlex",
}


def normalise(text: str) -> str:
    """Text as a reader sees it, to compare with an expected file.

    Each line's trailing spaces are stripped, runs of blank lines become one blank line and
    both ends are stripped: the expected files come from other projects' suites, which differ
    on trailing spaces, on blank lines left at the end of a fragment and on how many blank
    lines they keep between paragraphs, and none of that changes the text or its commands.
    """
    lines = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", lines).strip()


def fixture_text(name: str) -> str:
    return parse_message((REPLIES / f"{name}.eml").read_bytes(), max_size=MAX).text


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_visible_text_matches_its_expectation(name: str) -> None:
    visible = visible_text(fixture_text(name))
    exact = REPLIES / f"{name}.expected.txt"
    contains = REPLIES / f"{name}.expected_contains.txt"
    if name in BELIEVED:
        assert normalise(visible) == normalise(BELIEVED[name])
    elif exact.exists():
        assert normalise(visible) == normalise(exact.read_text(encoding="utf-8"))
    if contains.exists():  # one regex per line, asserted on the start of the reply (JS-style ^)
        for pattern in filter(None, contains.read_text(encoding="utf-8").split("\n")):
            assert re.search(pattern, visible), pattern
    if not exact.exists() and not contains.exists():
        assert visible
        assert not any(line.startswith(">") for line in visible.split("\n"))


def test_disagreements_name_fixtures_with_an_exact_expectation() -> None:
    assert DISAGREE.keys() == BELIEVED.keys()
    assert all((REPLIES / f"{name}.expected.txt").exists() for name in DISAGREE)


def test_visible_text_is_the_visible_part_of_split_reply() -> None:
    text = "Fatto.\n\n-- \nMario\n\nIl 05/05/2020 10:00, Anna ha scritto:\n> stampante rotta"
    reply = split_reply(text)
    assert visible_text(text) == reply.visible == "Fatto."
    assert reply.signature == "-- \nMario"
    assert reply.quoted == "Il 05/05/2020 10:00, Anna ha scritto:\n> stampante rotta"


def test_italian_outlook_header_block_starts_the_quote() -> None:
    text = (
        "#risolto\n\nDa: Mario Rossi <m@example.it>\nInviato: lunedì 3 marzo 2025 10:00\n"
        "A: help@example.it\nOggetto: stampante\n\nLa stampante non va."
    )
    reply = split_reply(text)
    assert reply.visible == "#risolto"
    assert reply.quoted.startswith("Da: Mario Rossi") and reply.quoted.endswith("non va.")


@pytest.mark.parametrize(
    "block",
    [
        "From: Bob <b@x.com>\nSent: Monday, May 5, 2025 10:00 AM\nTo: Help\nSubject: Printer",
        "*From:* Bob <b@x.com>\n*Sent:* Monday\n*To:* help@x.com\n*Subject:* Printer",
        "Von: Bob <b@x.de>\nGesendet: Montag, 5. Mai 2025 10:00\nAn: Help\nBetreff: Drucker",
        "De : Bob <b@x.fr>\nEnvoyé : lundi 5 mai 2025 10:00\nÀ : Help\nObjet : Imprimante",
        "От: Bob\nОтправлено: 5 мая 2025 г. 10:00\nКому: Help",
        "From: Human Resources\n<a-long-address@example.com>\nSent: Monday\nTo: A\nSubject: B",
        "Date: Mon, 5 May 2025 10:00\nSubject: Printer\nFrom: b@x.com\nTo: help@x.com",
        "From: Bob Sent: Monday, May 5 To: Help Subject: Printer",  # line breaks lost
    ],
)
def test_outlook_header_blocks_start_the_quote(block: str) -> None:
    assert split_reply(f"Done.\n\n{block}\n\n#resolved old text").visible == "Done."


@pytest.mark.parametrize(
    "attribution",
    [
        "On Mon, May 5, 2025 at 10:00 AM Bob <b@x.com> wrote:",
        "Il giorno lun 5 mag 2025 alle ore 10:00 Mario Rossi <m@x.it> ha scritto:",
        "Il 05/05/2025 10:00, Mario Rossi ha scritto:",
        "Le lun. 5 mai 2025 à 10:00, Bob <b@x.fr> a écrit :",
        "Am 05.05.2025 um 10:00 schrieb Bob <b@x.de>:",
        "El lun, 5 may 2025 a las 10:00, Juan (<j@x.es>) escribió:",
        "Em seg., 5 de mai. de 2025 às 10:00, João <j@x.pt> escreveu:",
        "Op ma 5 mei 2025 om 10:00 schreef Jan <j@x.nl>:",
        "пн, 5 мая 2025 г. в 10:00, Иван <i@x.ru>:",
        "W dniu 2025-05-05 10:00:00 użytkownik Jan <j@x.pl> napisał:",
        "---- On Mon, 05 May 2025 10:00:00 +0200 b@x.com wrote ----",
        '30.09.2017, 18.30, "John - Doe" <j@x.com>:',
    ],
)
def test_attribution_lines_in_many_languages_start_the_quote(attribution: str) -> None:
    reply = split_reply(f"Thanks!\n\n{attribution}\n\n#resolved\nold text")
    assert reply.visible == "Thanks!"
    assert reply.quoted.startswith(attribution)


def test_attribution_wrapped_over_three_lines_starts_the_quote() -> None:
    text = "New text.\nOn Nov 21, 2014,\nat 10:18,\nJohn Doe <john@example.com> wrote:\n\n> old"
    assert split_reply(text).visible == "New text."


@pytest.mark.parametrize(
    "text",
    [
        "Here is what Bob wrote:\nthe server is down.",
        "As John wrote: we need more disks.\nOn second thought, fine.",
        "On Monday the server was down, Bob wrote:\nit is fine now",
        'They match URLs like "wrote:" in https://example.com/on-date-someone-wrote-about',
    ],
)
def test_wrote_inside_a_sentence_is_not_an_attribution(text: str) -> None:
    reply = split_reply(text)
    assert (reply.visible, reply.quoted) == (text, "")


@pytest.mark.parametrize(
    "text",
    [
        "Q: does it work?\nA: yes\nQ: really?\nA: yes",
        "I got a mail From: marketing about it.\nSent: never.",
        "From: the accounting team\nplease check the invoice",
        "Stato: risolto\nNota: cambiato il toner",
    ],
)
def test_lone_header_like_lines_are_not_a_header_block(text: str) -> None:
    assert split_reply(text).visible == text


@pytest.mark.parametrize(
    "marker",
    [
        "-----Original Message-----",
        "-----Messaggio originale-----",
        "-----Ursprüngliche Nachricht-----",
        "-------- Message d'origine --------",
        "---------- Forwarded message ---------",
        "Inizio messaggio inoltrato:",
        "Begin forwarded message:",
        "## Please reply above this line ##",
    ],
)
def test_original_message_and_forward_markers_start_the_quote(marker: str) -> None:
    reply = split_reply(f"See below.\n\n{marker}\nDa: x\n#resolved")
    assert (reply.visible, reply.quoted.split("\n")[0]) == ("See below.", marker)


def test_outlook_rule_above_a_header_block_starts_the_quote() -> None:
    rule = "_" * 32
    text = f"Ok\n\nGet Outlook for iOS\n{rule}\nFrom: Bob\nSent: Mon\n\nold"
    reply = split_reply(text)
    assert (reply.visible, reply.signature) == ("Ok", "Get Outlook for iOS")
    assert reply.quoted.startswith("_____")


def test_signature_delimiter_cuts_the_signature() -> None:
    for delimiter in ("-- ", "--"):
        reply = split_reply(f"Thanks,\nAlex\n{delimiter}\nAlex Smith\nACME Corp")
        assert reply.visible == "Thanks,\nAlex"
        assert reply.signature == f"{delimiter}\nAlex Smith\nACME Corp"


@pytest.mark.parametrize(
    "text",
    [
        "A fix -- this is not a signature.\nkthxbai",
        "Points:\n-- first\n-- second",
        "## Key Points\n----\n1. faster\n----\ndone",
    ],
)
def test_dashes_that_are_not_alone_on_a_line_are_not_a_signature(text: str) -> None:
    assert split_reply(text).visible == text


@pytest.mark.parametrize(
    "tagline",
    [
        "Sent from my iPhone",
        "Sent from my Verizon Wireless BlackBerry",
        "Sent from my Samsung Galaxy smartphone.",
        "Sent from Mail for Windows 10",
        "Get Outlook for Android<https://aka.ms/ghei36>",
        "Inviato da iPhone",
        "Envoyé de mon iPhone",
        "Von meinem iPhone gesendet",
        "Enviado desde mi iPhone",
    ],
)
def test_mobile_taglines_are_signatures(tagline: str) -> None:
    reply = split_reply(f"Thanks,\nAlex\n\n{tagline}")
    assert (reply.visible, reply.signature) == ("Thanks,\nAlex", tagline)


@pytest.mark.parametrize(
    "text",
    [
        "Here it is\n\nSent from my desk, is much easier then my mobile phone.",
        "Here it is\n\nSent from my desk because my phone died",
        "The notification was sent from my iPhone app to all users.",
        "  // Sent from my custom mailer",
    ],
)
def test_sent_from_in_a_sentence_is_not_a_tagline(text: str) -> None:
    assert split_reply(text).visible == text.strip()


def test_text_after_a_tagline_counts_as_quoted() -> None:
    reply = split_reply("Ok\n\nSent from my Wiko RIDGE 4G\n\n#resolved old message")
    assert (reply.visible, reply.quoted) == ("Ok", "#resolved old message")


def test_keyword_placed_only_in_the_quoted_part_is_not_visible() -> None:
    text = "Thanks, I will check.\n\nOn Mon, May 5, 2025 at 10:00 Anna <a@x.it> wrote:\n> #resolved"
    reply = split_reply(text)
    assert "#resolved" not in reply.visible and "#resolved" in reply.quoted


def test_bottom_posted_reply_is_found_below_the_quote() -> None:
    reply = split_reply("On 04/02/2012 06:26 PM, Megan wrote:\n> Hi\n> there\n\n#resolved\n")
    assert reply.visible == "#resolved"
    assert reply.quoted == "On 04/02/2012 06:26 PM, Megan wrote:\n> Hi\n> there"


def test_text_between_quotes_counts_as_quoted() -> None:
    reply = split_reply("Answers:\n> question one\nanswer one\n> question two\nanswer two")
    assert reply.visible == "Answers:"
    assert reply.quoted.endswith("answer two")


def test_mailing_list_footer_is_cut() -> None:
    text = "Hi folks\n\n-Abhishek\n\n___\nriak-users mailing list\nhttp://lists.example.com/x"
    reply = split_reply(text)
    assert reply.visible == "Hi folks\n\n-Abhishek"
    assert reply.signature.startswith("___\nriak-users")
    assert split_reply("____\nHello\nthere").visible == "____\nHello\nthere"  # nothing above it


@pytest.mark.parametrize(
    "text",
    ["", "\n\n", ">", "--", "\r\n> x\r\nok", "\x00\ud800", "On", "From:", "-" * 5000, "\u2028"],
)
def test_split_reply_is_total(text: str) -> None:
    reply = split_reply(text)
    assert all(isinstance(part, str) for part in (reply.visible, reply.quoted, reply.signature))


def test_huge_body_returns_quickly() -> None:
    bodies = [
        "#resolved\n" + "On 5 May 2025 the line was long, Bob <b@x.com>\n" * 200_000,
        "x" * 8_000_000,
        "From: a <b@c.d>\n" * 300_000,
        ("<" * 399 + "\n") * 20_000 + "> quoted far below the scan cap\n",
    ]
    started = time.perf_counter()
    replies = [split_reply(body) for body in bodies]
    assert time.perf_counter() - started < 5
    assert replies[0].visible.startswith("#resolved")
    assert replies[3].quoted == "> quoted far below the scan cap"


def test_html_blockquote_lines_get_one_prefix_per_level() -> None:
    html = (
        "<div>Ok</div><div>On Mon, Bob &lt;b@x.com&gt; wrote:<br>"
        "<blockquote type=cite><div>first</div><blockquote class=gmail_quote>"
        "<p>inner</p></blockquote>last</blockquote></div><div>after</div>"
    )
    assert html_to_text(html) == (
        "Ok\nOn Mon, Bob <b@x.com> wrote:\n> first\n> > inner\n> last\nafter"
    )


def test_html_indent_blockquote_is_not_a_quote() -> None:
    html = '<blockquote style="margin:0 0 0 40px;border:none;padding:0px">indented</blockquote>'
    assert html_to_text(html) == "indented"


def test_html_lines_render_as_a_browser_shows_them() -> None:
    html = (
        "<div>Hi. I am fine.</div><div><br></div><div>Thanks,</div><div>Alex</div>"
        "<p class=MsoNormal>one</p><p class=MsoNormal><o:p></o:p></p><p class=MsoNormal>two</p>"
        "<p>source\n   line   breaks</p>"
    )
    assert html_to_text(html) == "Hi. I am fine.\n\nThanks,\nAlex\none\n\ntwo\n\nsource line breaks"


def test_outlook_html_separator_becomes_a_plain_line() -> None:
    html = (
        "<p>Done</p><div id=appendonsend></div><hr tabindex=-1 style='width:98%'>"
        "<div id=divRplyFwdMsg><b>From:</b> Bob<br><b>Sent:</b> Mon<br><b>To:</b> Help<br>"
        "<b>Subject:</b> Printer</div><div>#resolved</div>"
    )
    text = html_to_text(html)
    assert text.startswith("Done\n\n" + "_" * 32 + "\nFrom: Bob\nSent: Mon\n")
    assert visible_text(text) == "Done"


def test_gmail_html_reply_splits_like_plain_text() -> None:
    html = (
        '<div dir="ltr">#resolved<br>Grazie</div><br><div class="gmail_quote">'
        '<div dir="ltr" class="gmail_attr">Il giorno lun 5 mag 2025 alle ore 10:00 Anna '
        '&lt;<a href="mailto:a@x.it">a@x.it</a>&gt; ha scritto:<br></div>'
        '<blockquote class="gmail_quote" style="border-left:1px solid #ccc">#reopen</blockquote>'
    )
    reply = split_reply(html_to_text(html))
    assert (reply.visible, reply.quoted.split("\n")[-1]) == ("#resolved\nGrazie", "> #reopen")
