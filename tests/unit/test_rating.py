"""A reply that is only a rating or thanks is a rating; anything more is a real reply."""

from __future__ import annotations

import pytest

from mailer.core.deciding.rating import read_rating


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("5", 5),
        ("5/5", 5),
        ("4 / 5", 4),
        ("★★★★★", 5),
        ("★★★☆☆", 3),
        ("*****", 5),
        ("4 out of 5", 4),
        ("5 stelle", 5),
        ("3 su 5", 3),
        ("10/10", 5),
        ("5/5 great service, thanks!", 5),
        ("4\n\nGrazie,\nRoberto", 4),
    ],
)
def test_ratings_give_their_value(text: str, value: int) -> None:
    rating = read_rating(text)
    assert rating is not None and rating.value == value


@pytest.mark.parametrize(
    "text",
    ["thanks", "Thanks!", "Thank you very much", "grazie", "Grazie mille!", "ottimo", "great",
     "Perfetto, grazie", "It works now, thanks", "Grazie\nRoberto", "👍", "ok"],
)  # fmt: skip
def test_thanks_and_praise_count_without_a_value(text: str) -> None:
    rating = read_rating(text)
    assert rating is not None and rating.value is None


@pytest.mark.parametrize(
    "text",
    [
        "5 minutes later it broke again",
        "Thanks, but the printer still jams",
        "non funziona ancora",
        "Hi, I still cannot log in",
        "",
        "   ",
        "Grazie, ma il problema si ripresenta ogni mattina alle 9",
        "Can you also install Visio? Thanks",
        "thanks but still broken",
        "Thanks. VPN disconnects hourly",
        "Ok, one more question",
        "Thanks, same thing happens",
        "grazie, si blocca sempre",
        "thanks for the help. the vpn drops hourly",
        "Grazie, ma non va",
    ],
)
def test_anything_more_is_a_real_reply(text: str) -> None:
    assert read_rating(text) is None


def test_a_name_is_allowed_as_a_sign_off_line_or_when_it_is_someone_involved() -> None:
    assert read_rating("thanks Sam Rivera") is None
    assert read_rating("thanks Sam Rivera", names=("sam", "rivera")) is not None
    assert read_rating("thanks\nRoberto Bianchi") is not None
    assert read_rating("Roberto Bianchi\nthanks") is None
    assert read_rating("Thanks.\nVPN disconnects hourly") is None


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("5 - ottimo lavoro", 5),
        ("4/5, a bit slow", 4),
        ("2/5 troppo lento", 2),
        ("5, molto gentili e veloci", 5),
        ("Grazie mille, buona giornata!", None),
        ("Grazie infinite", None),
        ("Thanks a million", None),
        ("Grazie, tutto a posto!", None),
        ("Thanks, all sorted", None),
        ("Grazie Roberto!", None),
        ("ok thanks", None),
        ("Thanks!\n\nMaria Rossi\nAccounts Payable\nExample Ltd\nTel +39 02 1234", None),
    ],
)
def test_a_short_comment_or_courtesy_keeps_it_a_rating(text: str, value: int | None) -> None:
    rating = read_rating(text)
    assert rating is not None and rating.value == value


@pytest.mark.parametrize(
    "text",
    [
        "Grazie.\nRotto",
        "Thanks\nNo",
        "Grazie\nNon Ancora",
        "Thanks\nStill Broken",
        "Grazie\nNiente",
        "5\nNo",
        "Thanks!\n\nCan you also install Visio",
        "thank you, but can you also reset my password?",
    ],
)
def test_a_complaint_under_thanks_is_a_real_reply(text: str) -> None:
    assert read_rating(text) is None


def test_long_text_is_never_a_rating() -> None:
    assert read_rating("thanks " * 40) is None
