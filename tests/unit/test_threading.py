"""Threading headers: Message-IDs, References, subjects and Outlook's Thread-Index."""

from __future__ import annotations

import base64
import re

import pytest

from mailer.core.writing import thread_headers as t


def test_message_ids_are_unique_well_formed_and_on_our_domain() -> None:
    import secrets

    ids = {
        t.new_message_id("IT-1024", "example.test", secrets.token_bytes(16)) for _ in range(100_000)
    }
    assert len(ids) == 100_000
    for mid in list(ids)[:1000]:
        assert re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", mid)
        assert mid.endswith(".IT-1024@example.test>")


def test_reply_references_append_the_parent_id_to_its_references() -> None:
    irt, refs = t.reply_references("<m@x>", ("<r1@x>", "<r2@x>"), ())
    assert irt == "<m@x>"
    assert refs == ("<r1@x>", "<r2@x>", "<m@x>")


def test_reply_references_use_a_single_in_reply_to_when_no_references() -> None:
    assert t.reply_references("<m@x>", (), ("<i@x>",)) == ("<m@x>", ("<i@x>", "<m@x>"))


def test_parent_without_message_id_gives_no_in_reply_to() -> None:
    assert t.reply_references(None, ("<r@x>",), ()) == (None, ("<r@x>",))
    assert t.reply_references(None, (), ()) == (None, ())


def test_long_reference_chains_keep_the_first_four_and_last_six() -> None:
    chain = tuple(f"<{i}@x>" for i in range(20))
    _, refs = t.reply_references("<m@x>", chain, ())
    assert refs == chain[:4] + chain[15:] + ("<m@x>",)


@pytest.mark.parametrize(
    ("subject", "placement", "expected"),
    [
        ("Printer broken", "suffix", "Re: Printer broken [IT-7]"),
        ("Re: Printer broken", "suffix", "Re: Printer broken [IT-7]"),
        ("RE: R: AW: Printer", "suffix", "Re: Printer [IT-7]"),
        ("Printer broken", "prefix", "Re: [IT-7] Printer broken"),
        ("Printer broken", "none", "Re: Printer broken"),
        ("Re: Printer [IT-7]", "suffix", "Re: Printer [IT-7]"),
        ("", "suffix", "Re: Your request [IT-7]"),
        ("hi\r\nBcc: evil@example.test", "suffix", "Re: hi Bcc: evil@example.test [IT-7]"),
        ("Fwd: Contract", "suffix", "Re: Fwd: Contract [IT-7]"),
    ],
)
def test_reply_subject_has_one_re_and_the_tag_once(
    subject: str, placement: str, expected: str
) -> None:
    assert t.reply_subject(subject, "IT-7", placement, "Your request") == expected


def test_reference_found_in_subject_case_insensitively() -> None:
    assert t.find_reference("Re: printer [it-0042] again", "IT") == "IT-42"
    assert t.find_reference("Re: printer [#IT-42]", "IT") == "IT-42"
    assert t.find_reference("IT-42 without brackets", "IT") is None
    assert t.find_reference("[HR-42]", "IT") is None


def test_thread_index_for_a_new_conversation_is_22_bytes() -> None:
    value = t.thread_index(None, 1_700_000_000.0, bytes(range(16)))
    raw = base64.b64decode(value)
    assert len(raw) == 22
    assert raw[0] == 1
    assert raw[6:] == bytes(range(16))


def test_thread_index_reply_appends_one_five_byte_block() -> None:
    parent = t.thread_index(None, 1_700_000_000.0, bytes(16))
    child = base64.b64decode(t.thread_index(parent, 1_700_000_060.0, bytes(16)))
    assert len(child) == 27
    assert child[:22] == base64.b64decode(parent)


def test_malformed_parent_thread_index_starts_a_new_conversation() -> None:
    raw = base64.b64decode(t.thread_index("not base64!!", 1_700_000_000.0, bytes(16)))
    assert len(raw) == 22
    raw = base64.b64decode(t.thread_index(base64.b64encode(b"x" * 23).decode(), 1.0, bytes(16)))
    assert len(raw) == 22


def test_thread_topic_prefers_the_parents_and_strips_prefixes() -> None:
    assert t.thread_topic("Printer", "Re: other") == "Printer"
    assert t.thread_topic(None, "RE: Printer") == "Printer"
