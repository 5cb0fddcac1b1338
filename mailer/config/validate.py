"""Checks of templates for ``mailer check``: each compiles and renders with sample data."""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
from jinja2 import meta

from mailer.config import templates
from mailer.core.writing.receipt import receipt_context
from mailer.core.writing.render import Envelope
from mailer.core.writing.samples import (
    REQUESTER_TEMPLATES,
    SAMPLE_CONTEXTS,
    SAMPLE_DUE,
    STAFF_TEMPLATES,
    SUMMARY_TEMPLATES,
)
from mailer.errors import Problem
from mailer.model import Address, Attachment, Classification, ParsedMessage
from mailer.settings import Settings

SAMPLE = ParsedMessage(
    key="<sample@example.test>",
    message_id="<sample@example.test>",
    in_reply_to=(),
    references=(),
    subject="The printer on the 2nd floor is jammed",
    raw_subject=None,
    from_=(Address("Maria Rossi", "maria.rossi@example.test"),),
    reply_to=(),
    return_path="maria.rossi@example.test",
    recipients=(),
    delivered_to=(),
    headers=(),
    content_type="text/plain",
    text="Hello, the printer keeps jamming since this morning.",
    html_only=False,
    attachments=(Attachment("photo.jpg", "image/jpeg", 1000),),
    has_calendar=False,
    report=None,
    size=100,
    truncated=False,
)


def check_all(
    path: Path | None,
    *,
    rules_text: str | None = None,
    config_text: str | None = None,
    reach_secrets: bool = True,
) -> tuple[Settings | None, list[Problem]]:
    """Config, rules and templates: what ``mailer check`` prints and SIGHUP must pass.

    ``rules_text`` / ``config_text`` stand in for the files (see ``config.check_settings``)."""
    from mailer.config.load import check_settings

    settings, problems = check_settings(
        path, rules_text=rules_text, config_text=config_text, reach_secrets=reach_secrets
    )
    if settings is not None:
        problems = [*problems, *check_templates(settings)]
    return settings, problems


def check_templates(settings: Settings, env: jinja2.Environment | None = None) -> list[Problem]:
    """Every template a rule names must exist and render in every language we ship.

    ``env``: the environment to check (its templates then stay compiled for the daemon,
    which uses exactly what was checked); by default one made for ``settings``."""
    env = env or templates.make_environment(settings)
    problems: list[Problem] = []
    have = templates.available_languages(env)
    for absent in [lang for lang in settings.service.languages if lang not in have]:
        problems.append(
            Problem(
                str(settings.config_path),
                None,
                "service",
                "languages",
                f"'{absent}' has no templates: add {absent}/receipt.txt.j2 (and the other "
                "files of a language) to the templates directory, or remove it",
            )
        )
    languages = list(templates.serving_languages(env, settings))
    if settings.service.default_language not in languages:
        problems.append(
            Problem(
                str(settings.config_path),
                None,
                "service",
                "default_language",
                f"no receipt template for {settings.service.default_language!r} "
                f"(templates exist for {', '.join(languages)})",
            )
        )
    missing = _missing_rule_templates(env, settings, languages)
    problems.extend(missing.values())
    names = sorted({"receipt", *(r.template for r in settings.rules)} - set(missing))
    envelope = Envelope(
        SAMPLE.from_[0], settings.service.address, "<x@example.test>", 0.0, bytes(16)
    )
    for name in names:
        for language, due in ((lang, due) for lang in languages for due in (None, SAMPLE_DUE)):
            context = _receipt_sample(settings, envelope, language, due)
            for suffix in ("txt.j2", "html.j2"):
                problem = _render(env, f"{language}/{name}.{suffix}", context)
                if problem and problem not in problems:
                    problems.append(problem)
    problems.extend(_check_workflow(env, languages, settings.service.default_language))
    return problems


def _missing_rule_templates(
    env: jinja2.Environment, settings: Settings, languages: list[str]
) -> dict[str, Problem]:
    """A rule naming a template that some language lacks, reported at the rule's line."""
    found: dict[str, Problem] = {}
    where = str(settings.rules_path or settings.config_path)
    for rule in settings.rules:
        lacking = [lang for lang in languages if not _exists(env, f"{lang}/{rule.template}.txt.j2")]
        if lacking and rule.template not in found:
            files = ", ".join(f"{lang}/{rule.template}.txt.j2" for lang in lacking)
            message = f"no template '{rule.template}': add {files} to the templates directory"
            found[rule.template] = Problem(where, rule.line, "rules", "template", message)
    return found


def _exists(env: jinja2.Environment, name: str) -> bool:
    try:
        env.get_template(name)
    except jinja2.TemplateNotFound:
        return False
    except jinja2.TemplateError:
        return True  # it exists; its own error is reported when it is rendered
    return True


def _check_workflow(
    env: jinja2.Environment, languages: list[str], default_language: str
) -> list[Problem]:
    """Progress mail in every language; staff mail in the default language, which it uses."""
    problems: list[Problem] = []
    wanted = [(n, lang) for n in REQUESTER_TEMPLATES for lang in languages]
    wanted += [(n, default_language) for n in (*STAFF_TEMPLATES, *SUMMARY_TEMPLATES)]
    for name, language in wanted:
        context = {**SAMPLE_CONTEXTS[name], "language": language}
        for suffix in ("txt.j2", "html.j2"):
            problem = _render(env, f"{language}/{name}.{suffix}", context)
            if problem:
                problems.append(problem)
    return problems


def _receipt_sample(
    settings: Settings, envelope: Envelope, language: str, due: dict[str, object] | None
) -> dict[str, object]:
    """A receipt's context, without a promise and (``due``) with one made outside hours."""
    classification = Classification(rule="sample", team_name="IT")
    return receipt_context(
        settings, SAMPLE, classification, envelope, "REQ-1000", language, None, due
    )


def _render(env: jinja2.Environment, path: str, context: dict[str, object]) -> Problem | None:
    """Render with the sample; every variable the template names must be one it is given,
    also in branches the sample does not take (jinja2.meta finds them all)."""
    assert env.loader is not None
    try:
        source, found, _ = env.loader.get_source(env, path)
    except jinja2.TemplateNotFound:
        if path.endswith(".html.j2"):
            return None
        return Problem(path, None, "templates", None, "template not found")
    filename = found or path  # the real file: the admin's copy or the shipped one
    try:
        env.get_template(path).render(context)
        unknown = sorted(
            meta.find_undeclared_variables(env.parse(source)) - set(context) - set(env.globals)
        )
    except jinja2.TemplateSyntaxError as exc:
        return Problem(filename, exc.lineno, "templates", None, exc.message or str(exc))
    except jinja2.UndefinedError as exc:
        name = re.search(r"'(\w+)'", str(exc))
        line = _line_of(source, name.group(1)) if name else None
        return Problem(filename, line, "templates", None, f"{exc} (see the variables in the docs)")
    except Exception as exc:
        return Problem(filename, None, "templates", None, f"{type(exc).__name__}: {exc}")
    if unknown:
        message = f"unknown variable {', '.join(unknown)} (see the variables in the docs)"
        return Problem(filename, _line_of(source, unknown[0]), "templates", None, message)
    return None


def _line_of(source: str, name: str) -> int | None:
    """The first line that uses ``name`` inside ``{{ }}`` or ``{% %}``."""
    pattern = re.compile(rf"{{[{{%][^}}]*\b{re.escape(name)}\b")
    for number, line in enumerate(source.splitlines(), 1):
        if pattern.search(line):
            return number
    return None
