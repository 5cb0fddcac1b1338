"""A clean template check is remembered; any change to what it depends on checks again."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from mailer.config import checked, templates
from mailer.config.validate import check_templates
from tests.factories import settings


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    where = tmp_path / "cache"
    monkeypatch.setenv("CACHE_DIRECTORY", str(where))
    return where


def own_templates(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "templates" / "en"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "receipt.txt.j2").write_text(text)
    return folder.parent


def test_a_clean_check_is_remembered_for_the_same_templates_and_settings(
    cache: Path, tmp_path: Path
) -> None:
    s = settings(tmp_path)
    env = templates.make_environment(s)
    assert not checked.known_clean(s, env)
    assert check_templates(s, env) == []
    checked.remember_clean(s, env)
    assert checked.known_clean(s, templates.make_environment(s))
    assert len(list(cache.glob("templates-checked-*"))) == 1


def test_an_edited_template_is_checked_again(cache: Path, tmp_path: Path) -> None:
    s = dataclasses.replace(
        settings(tmp_path), templates_dir=own_templates(tmp_path, "Hello {{ name }}\n")
    )
    env = templates.make_environment(s)
    checked.remember_clean(s, env)
    own_templates(tmp_path, "Hello {{ nmae }}\n")  # a typo the check must see
    edited = templates.make_environment(s)
    assert not checked.known_clean(s, edited)
    assert any("nmae" in p.message for p in check_templates(s, edited))


def test_changed_settings_are_checked_again(cache: Path, tmp_path: Path) -> None:
    s = settings(tmp_path)
    checked.remember_clean(s, templates.make_environment(s))
    other = settings(tmp_path, default_language="it")
    assert not checked.known_clean(other, templates.make_environment(other))


def test_a_cache_that_cannot_be_written_only_costs_the_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("CACHE_DIRECTORY", str(blocker / "cache"))
    s = settings(tmp_path)
    env = templates.make_environment(s)
    checked.remember_clean(s, env)  # no error
    assert not checked.known_clean(s, env)


def test_the_cache_follows_systemd_then_xdg() -> None:
    assert checked.cache_dir({"CACHE_DIRECTORY": "/var/cache/mailer/it:/x"}) == Path(
        "/var/cache/mailer/it"
    )
    assert checked.cache_dir({"XDG_CACHE_HOME": "/home/a/.cache"}) == Path("/home/a/.cache/mailer")
    assert checked.cache_dir({"HOME": "/home/b"}) == Path("/home/b/.cache/mailer")
    assert checked.cache_dir({}) is None


def test_the_mark_follows_the_settings_not_where_the_files_are(cache: Path, tmp_path: Path) -> None:
    here = settings(tmp_path / "a")
    checked.remember_clean(here, templates.make_environment(here))
    moved = settings(tmp_path / "b")  # another store path: no template sees it
    assert checked.known_clean(moved, templates.make_environment(moved))
    renamed = settings(tmp_path / "b", default_language="it")  # a setting templates see
    assert not checked.known_clean(renamed, templates.make_environment(renamed))
