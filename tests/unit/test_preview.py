"""``mailer templates preview``: a template as its reader would get it."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest

from mailer.admin import preview as preview_cmd
from tests.unit.test_config import config_text, write

DATA = Path(__file__).resolve().parents[1] / "data"
EXAMPLES = Path(__file__).resolve().parents[2] / "config"


@pytest.fixture(name="config")
def _config(tmp_path: Path) -> Path:
    shutil.copy(EXAMPLES / "rules.example.toml", tmp_path / "rules.toml")
    service = (
        'name = "IT Help Desk"\naddress = "helpdesk@example.test"\nrules_file = "rules.toml"\n'
    )
    return write(tmp_path, config_text(service=service, extra=""))


def preview(config: Path, name: str, **options: str | None) -> int:
    args = argparse.Namespace(name=name, lang=None, eml=None, html=None)
    for key, value in options.items():
        setattr(args, key, value)
    return preview_cmd.run(args, config)


def test_receipt_from_a_real_message_in_italian(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    eml = str(DATA / "explain" / "italian_leave_request_for_hr.eml")
    assert preview(config, "receipt", lang="it", eml=eml) == 0
    out = capsys.readouterr().out
    assert "Gentile Roberto," in out and "Human Resources" in out
    assert "----- it/receipt.html.j2, as text -----" in out


def test_progress_mail_from_its_sample_with_the_service_filled_in(
    config: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    html = tmp_path / "out.html"
    assert preview(config, "progress_resolved", lang="en", html=str(html)) == 0
    out = capsys.readouterr().out
    assert "IT Help Desk" in out and "14 days" in out
    assert html.read_text().lstrip().lower().startswith("<!doctype html>")


def test_unknown_template_suggests_the_closest(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert preview(config, "reciept") == 1
    assert "did you mean 'receipt'" in capsys.readouterr().err


def test_a_language_without_the_template_is_named(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert preview(config, "receipt", lang="fr") == 1
    assert "has no 'fr' version; it has: en, it" in capsys.readouterr().err
