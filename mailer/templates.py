"""The Jinja environment: the admin's templates first, the shipped ones as fallback."""

from __future__ import annotations

import sys
from pathlib import Path

import jinja2

from mailer.settings import Settings


def shipped_templates_dir() -> Path:
    """``templates/`` beside the package (a checkout or editable install), else share/."""
    here = Path(__file__).resolve().parent.parent / "templates"
    if here.is_dir():
        return here
    return Path(sys.prefix) / "share" / "mailer" / "templates"


def make_environment(settings: Settings | None = None) -> jinja2.Environment:
    """Built once and passed in; StrictUndefined so a typo in a template is an error."""
    dirs = []
    if settings is not None and settings.templates_dir is not None:
        dirs.append(str(settings.templates_dir))
    dirs.append(str(shipped_templates_dir()))
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(dirs),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def available_languages(env: jinja2.Environment, template: str = "receipt") -> list[str]:
    names = env.list_templates(filter_func=lambda n: n.endswith(f"/{template}.txt.j2"))
    return sorted({n.split("/", 1)[0] for n in names})


def language_words(env: jinja2.Environment) -> dict[str, frozenset[str]]:
    """``<lang>/words.txt`` of every template language: words that tell the language apart."""
    from mailer.language import words_of

    found: dict[str, frozenset[str]] = {}
    for name in env.list_templates(filter_func=lambda n: n.endswith("/words.txt")):
        assert env.loader is not None
        source, _, _ = env.loader.get_source(env, name)
        found[name.split("/", 1)[0]] = words_of(source)
    return found
