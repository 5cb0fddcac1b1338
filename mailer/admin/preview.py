"""``mailer templates preview NAME --lang LANG [--eml FILE] [--html OUT]``.

Renders a template as its reader would get it: the receipt from a real message (``--eml``,
classified by the rules) or from a sample request, the other mails from their sample
context (``template_samples``), with the request's subject and requester taken from
``--eml`` when given. Text first, then the HTML alternative shown as text; ``--html`` also
writes the HTML to a file to open in a browser.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path
from typing import Any

import jinja2

from mailer.config import templates
from mailer.core.writing import thread_headers
from mailer.model import ParsedMessage
from mailer.settings import Settings

NON_TEMPLATES = ("admin_alert",)  # mail to the admin, previewed with the sample alert


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the template: receipt, progress_resolved, notify, ...")
    parser.add_argument("--lang", help="the language (default: [service] default_language)")
    parser.add_argument("--eml", metavar="FILE", help="a real message to fill it from")
    parser.add_argument("--html", metavar="OUT", help="also write the HTML to this file")


def run(args: argparse.Namespace, config_path: Path) -> int:
    from mailer.config.load import load_settings

    settings = load_settings(config_path, reach_secrets=False)
    env = templates.make_environment(settings)
    names = template_names(env)
    if args.name not in names:
        close = difflib.get_close_matches(args.name, names, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        print(f"mailer: no template '{args.name}'{hint}; there are: {', '.join(names)}",
              file=sys.stderr)  # fmt: skip
        return 1
    language = args.lang or settings.service.default_language
    if not _exists(env, f"{language}/{args.name}.txt.j2"):
        have = [lang for lang in templates.available_languages(env, args.name)]
        print(f"mailer: '{args.name}' has no '{language}' version; it has: {', '.join(have)}",
              file=sys.stderr)  # fmt: skip
        return 1
    msg = _message(args.eml, settings) if args.eml else None
    context = preview_context(settings, env, args.name, language, msg)
    try:
        return _show(env, args, language, context)
    except jinja2.TemplateError as exc:
        where = (
            f"{exc.filename}:{exc.lineno or 0}: "
            if isinstance(exc, jinja2.TemplateSyntaxError)
            else ""
        )
        print(f"mailer: {where}{exc}; run 'mailer check' for every problem", file=sys.stderr)
        return 1


def _show(
    env: jinja2.Environment, args: argparse.Namespace, language: str, context: dict[str, Any]
) -> int:
    text = env.get_template(f"{language}/{args.name}.txt.j2").render(context)
    print(f"----- {language}/{args.name}.txt.j2 -----\n{text.rstrip()}")
    if _exists(env, f"{language}/{args.name}.html.j2"):
        from mailer.core.reading.text import html_to_text

        html = env.get_template(f"{language}/{args.name}.html.j2").render(context)
        print(f"\n----- {language}/{args.name}.html.j2, as text -----\n{html_to_text(html)}")
        if args.html:
            Path(args.html).write_text(html, encoding="utf-8")
            print(f"\n(HTML written to {args.html})")
    return 0


def template_names(env: jinja2.Environment) -> list[str]:
    found = env.list_templates(filter_func=lambda n: n.endswith(".txt.j2") and "/" in n)
    return sorted({n.split("/", 1)[1].removesuffix(".txt.j2") for n in found})


def _exists(env: jinja2.Environment, name: str) -> bool:
    try:
        env.get_template(name)
    except jinja2.TemplateNotFound:
        return False
    return True


def _message(path: str, settings: Settings) -> ParsedMessage:
    from mailer.core.reading.parse import parse_message

    return parse_message(Path(path).read_bytes(), max_size=settings.limits.max_message_size)


def preview_context(
    settings: Settings,
    env: jinja2.Environment,
    name: str,
    language: str,
    msg: ParsedMessage | None,
) -> dict[str, Any]:
    """The receipt's context from the message (or the sample request); the others' samples."""
    from mailer.config.validate import SAMPLE
    from mailer.core.writing.samples import SAMPLE_CONTEXTS

    if name not in SAMPLE_CONTEXTS and name not in NON_TEMPLATES:
        return _receipt_context(settings, msg or SAMPLE, language, env)
    context: dict[str, Any] = {**SAMPLE_CONTEXTS.get(name, {}), "language": language}
    context.update(
        service=settings.service.name,
        service_address=settings.service.address,
        signature=settings.service.signature or settings.service.name,
        contacts=list(settings.service.contacts),
        reopen_days=settings.workflow.reopen_days,
        keywords={action: list(words) for action, words in settings.workflow.keywords},
        status_headers=list(settings.workflow.status_headers),
    )
    if msg is not None and msg.sender is not None:
        from mailer.core.writing.render import greeting_name

        subject = thread_headers.strip_reply_prefixes(msg.subject)
        context.update(subject=subject, has_subject=bool(subject), requester=msg.sender.key,
                       requester_name=msg.sender.name, name=greeting_name(msg.sender))  # fmt: skip
    return context


def _receipt_context(
    settings: Settings, msg: ParsedMessage, language: str, env: jinja2.Environment
) -> dict[str, Any]:
    from mailer.core.deciding import rules
    from mailer.core.deciding.decide import receipt_address
    from mailer.core.writing.receipt import receipt_context
    from mailer.core.writing.render import Envelope
    from mailer.model import Address

    classification = rules.classify(
        msg,
        settings.rules,
        settings.teams,
        language=language,
        default_expectation=settings.default_expectation,
        default_expectations=dict(settings.default_expectations),
    )
    to = receipt_address(msg) or Address("", "someone@example.org")
    envelope = Envelope(to, settings.service.address, "<preview@example.org>", 0.0, bytes(16))
    reference = f"{settings.service.reference_prefix}-{settings.service.reference_start}"
    return receipt_context(settings, msg, classification, envelope, reference, language)
