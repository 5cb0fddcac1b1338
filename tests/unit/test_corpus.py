"""Real mail written by others (tests/data/corpus, see its README and MANIFEST.tsv).

Every file parses without an exception; robots (auto/) never get a receipt and people
(human/, replies/) always do, delivered the way the acceptance check delivers them.
"""

from __future__ import annotations

import csv
import re
import time
from pathlib import Path

import pytest

from mailer.core.reading.parse import parse_message
from mailer.core.reading.robots import robot_reason
from mailer.model import ParsedMessage

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"
MAX = 25 * 1024 * 1024
OWN = frozenset({"helpdesk@example.test"})
DOMAIN = "example.test"

# Labels we believe are wrong, by an honest reading of the message: file -> reason.
# They are expected to fail (xfail), never special-cased in the code. Keep this short and
# explain every entry; an entry that starts passing fails the run (strict xfail).
WRONG_LABELS: dict[str, str] = {}


def _manifest() -> list[dict[str, str]]:
    with (CORPUS / "MANIFEST.tsv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


MANIFEST = _manifest()


def files(label: str) -> list[str]:
    return sorted(row["file"] for row in MANIFEST if row["label"] == label)


def params(label: str) -> list[object]:
    return [
        pytest.param(name, marks=pytest.mark.xfail(reason=WRONG_LABELS[name], strict=True))
        if name in WRONG_LABELS
        else name
        for name in files(label)
    ]


_DROP = frozenset({b"to", b"cc", b"bcc", b"delivered-to", b"x-original-to", b"return-path"})


def deliver(raw: bytes) -> bytes:
    """The message as Dovecot LMTP stores it after the acceptance check sends it to us.

    To/Cc/Bcc/Delivered-To/X-Original-To/Return-Path go; ``To: helpdesk@example.test`` is
    added, and ``Return-Path`` is the original one (``<>`` stays null) when it holds an
    address, else the From address (a bare ``<MAILER-DAEMON>`` is not an envelope sender).
    """
    original = parse_message(raw, max_size=MAX)
    envelope = original.return_path
    if envelope is None or (envelope and "@" not in envelope):  # absent, or "<MAILER-DAEMON>"
        envelope = original.from_[0].addr if original.from_ else ""
    end = re.search(rb"\r?\n\r?\n", raw)
    head, rest = (raw[: end.start()], raw[end.start() :]) if end else (raw, b"\n\n")
    newline = b"\r\n" if b"\r\n" in head else b"\n"
    lines = head.splitlines(keepends=True)
    if lines and lines[0].startswith(b"From "):  # mbox separator, not a header
        lines = lines[1:]
    kept: list[bytes] = []
    dropping = False
    for line in lines:
        if line[:1] not in (b" ", b"\t"):
            dropping = line.split(b":", 1)[0].strip().lower() in _DROP
        if not dropping:
            kept.append(line if line.endswith(b"\n") else line + newline)
    return_path = b"Return-Path: <" + envelope.encode("utf-8", "surrogateescape") + b">"
    return return_path + newline + b"".join(kept) + b"To: helpdesk@example.test" + rest


def reason_for(msg: ParsedMessage) -> str | None:
    return robot_reason(msg, own_addresses=OWN, own_domain=DOMAIN, require_addressed=True)


def delivered(name: str) -> ParsedMessage:
    return parse_message(deliver((CORPUS / name).read_bytes()), max_size=MAX)


def test_manifest_names_every_file_and_nothing_else() -> None:
    listed = {row["file"] for row in MANIFEST}
    present = {
        str(path.relative_to(CORPUS)) for path in CORPUS.glob("*/*") if ".expected" not in path.name
    }
    assert listed == present
    assert all(row["file"].startswith(row["label"] + "/") for row in MANIFEST)
    assert all(row["license"] for row in MANIFEST)


@pytest.mark.parametrize("name", [row["file"] for row in MANIFEST])
def test_every_file_parses_and_classifies_without_an_exception(name: str) -> None:
    raw = (CORPUS / name).read_bytes()
    msg = parse_message(raw, max_size=MAX)
    assert msg.size == len(raw)
    assert not any(d.startswith("parse failed") for d in msg.defects), msg.defects
    reason_for(msg)
    robot_reason(msg, own_addresses=OWN, own_domain=DOMAIN)  # not delivered: as stored


@pytest.mark.parametrize("name", params("auto"))
def test_robots_never_get_a_receipt(name: str) -> None:
    assert reason_for(delivered(name)) is not None


@pytest.mark.parametrize("name", params("human"))
def test_people_get_a_receipt(name: str) -> None:
    assert reason_for(delivered(name)) is None


@pytest.mark.parametrize("name", params("replies"))
def test_people_replying_are_people(name: str) -> None:
    assert reason_for(delivered(name)) is None


def _must_not_ack(row: dict[str, str]) -> bool:
    return row["label"] == "malformed" and "must also not be acknowledged" in row["note"]


@pytest.mark.parametrize("name", [row["file"] for row in MANIFEST if _must_not_ack(row)])
def test_malformed_robot_mail_is_still_recognised(name: str) -> None:
    msg = parse_message((CORPUS / name).read_bytes(), max_size=MAX)
    assert reason_for(msg) is not None


def _expected_texts() -> list[tuple[str, Path]]:
    out = []
    for path in sorted((CORPUS / "replies").glob("*.expected*.txt")):
        out.append((f"replies/{path.name.split('.expected')[0]}.eml", path))
    return out


@pytest.mark.parametrize(("name", "expected"), _expected_texts())
def test_reply_text_keeps_the_visible_new_text(name: str, expected: Path) -> None:
    """Nothing of what the person wrote is lost (compare ignoring whitespace, as the source
    tests do; some sources give one regular expression per line instead of literal text)."""
    text = parse_message((CORPUS / name).read_bytes(), max_size=MAX).text
    want = expected.read_text(encoding="utf-8")
    squeeze = re.compile(r"\s+")
    if squeeze.sub("", want) not in squeeze.sub("", text):
        for pattern in filter(None, want.splitlines()):
            assert re.search(pattern, text, re.MULTILINE), (pattern, text[:500])


def test_the_whole_corpus_parses_in_a_few_seconds() -> None:
    raws = [(CORPUS / row["file"]).read_bytes() for row in MANIFEST]
    start = time.perf_counter()
    for raw in raws:
        parse_message(raw, max_size=MAX)
    assert time.perf_counter() - start < 20  # about 2 s on a laptop; generous for slow CI
