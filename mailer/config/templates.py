"""The Jinja environment: the admin's templates first, the shipped ones as fallback."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

import jinja2

from mailer import shipped_dir
from mailer.config.checked import cache_dir
from mailer.settings import Settings


def shipped_templates_dir() -> Path:
    """The checkout's ``templates/`` (edits count at once), else the wheel's packaged copy."""
    return shipped_dir() / "templates"


def make_environment(settings: Settings | None = None) -> jinja2.Environment:
    """Built once and passed in; StrictUndefined so a typo in a template is an error.

    The template files are read now, once (``SnapshotLoader``): a file edited on disk takes
    effect only when a reload has checked it and built a new environment, so a refused
    change can never slip into the running daemon.
    """
    dirs = []
    if settings is not None and settings.templates_dir is not None:
        dirs.append(settings.templates_dir)
    dirs.append(shipped_templates_dir())
    return jinja2.Environment(
        loader=SnapshotLoader(dirs),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        cache_size=-1,
        bytecode_cache=compiled_templates(),
    )


def compiled_templates() -> jinja2.BytecodeCache | None:
    """Jinja's own cache of compiled templates (keyed by each source's checksum) in the
    cache directory: a start compiles only what changed. None when it cannot be made."""
    where = cache_dir()
    if where is None:
        return None
    folder = where / "jinja"
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if folder.is_dir() and os.access(folder, os.W_OK):
            return jinja2.FileSystemBytecodeCache(str(folder))
    return None


class SnapshotLoader(jinja2.BaseLoader):
    """The templates of ``dirs`` (the first that has a name wins), read once into memory."""

    def __init__(self, dirs: list[Path]) -> None:
        self.sources: dict[str, tuple[str, str]] = {}
        for base in dirs:
            if not base.is_dir():
                continue
            for path in sorted(base.rglob("*")):
                name = path.relative_to(base).as_posix()
                if name in self.sources or not path.is_file() or name.startswith("."):
                    continue
                try:
                    self.sources[name] = (path.read_text(encoding="utf-8"), str(path))
                except (OSError, UnicodeError):
                    continue  # unreadable: "template not found" when it is needed

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        if template not in self.sources:
            raise jinja2.TemplateNotFound(template)
        source, filename = self.sources[template]
        return source, filename, lambda: True

    def list_templates(self) -> list[str]:
        return sorted(self.sources)


def serving_languages(env: jinja2.Environment, settings: Settings) -> tuple[str, ...]:
    """The languages mail is written in: listed in [service] languages and with templates."""
    have = set(available_languages(env))
    found = tuple(lang for lang in settings.service.languages if lang in have)
    return found or (settings.service.default_language,)


def available_languages(env: jinja2.Environment, template: str = "receipt") -> list[str]:
    names = env.list_templates(filter_func=lambda n: n.endswith(f"/{template}.txt.j2"))
    return sorted({n.split("/", 1)[0] for n in names})


def language_words(env: jinja2.Environment) -> dict[str, frozenset[str]]:
    """``<lang>/words.txt`` of every template language: words that tell the language apart."""
    from mailer.core.reading.language import words_of

    found: dict[str, frozenset[str]] = {}
    for name in env.list_templates(filter_func=lambda n: n.endswith("/words.txt")):
        assert env.loader is not None
        source, _, _ = env.loader.get_source(env, name)
        found[name.split("/", 1)[0]] = words_of(source)
    return found
