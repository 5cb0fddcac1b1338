"""``mailer rules test FILE.eml [--sender ADDR] [--recipient ADDR] [--json]``.

Like ``sieve-test -f/-r``: the envelope sender and recipient stand in for what the mail
server would add. Touches no server and writes nothing; exit 0 whenever it could explain.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import TemplateSyntaxError

from mailer.admin.explain.trace import Explanation, Rendered, explain_message
from mailer.config import templates
from mailer.core.reading.parse import parse_message
from mailer.core.writing.readdress import readdressed
from mailer.errors import StoreError
from mailer.settings import Settings

_BLANK_LINE = re.compile(rb"\n\r?\n")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE.eml", help="the message, as a file (- for stdin)")
    parser.add_argument("--sender", "-f", metavar="ADDR", help="envelope sender (Return-Path)")
    parser.add_argument(
        "--recipient", "-r", metavar="ADDR", help="envelope recipient (Delivered-To)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object, for scripts")
    parser.add_argument(
        "--as-is",
        action="store_true",
        help="judge the headers exactly as they are, even when To/Cc do not name the service",
    )


def run(args: argparse.Namespace, config_path: Path) -> int:
    from mailer.config.load import load_settings
    from mailer.store import open_store

    settings = load_settings(config_path, reach_secrets=False)
    limit = settings.limits.max_message_size
    try:
        raw, size = _read(args.file, limit)
    except OSError as exc:
        print(f"mailer: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    notes: list[str] = []
    if size > len(raw):
        notes.append(f"{size} bytes: judged on the first {len(raw)}, as the daemon fetches them")
    msg = parse_message(raw, max_size=limit)
    to = args.recipient or settings.service.address
    original, body = _head_and_body(raw)
    if not args.as_is and not any(settings.service.is_own(a.key) for a in msg.recipients):
        # A file saved from elsewhere: judge it as a colleague's mail to the service.
        sender, head = readdressed(original, to)
        head = with_envelope(head, args.sender or sender, None)
        notes.append(f"To/Cc did not name the service: judged as sent to {to} (see --as-is)")
    else:
        head = with_envelope(original, args.sender, None)
    head = with_envelope(head, None, args.recipient)
    if head != original:  # only the header changed: the body is copied once, not split
        raw = b"".join((head, body))
        msg = parse_message(raw, max_size=limit)
    del body
    env = templates.make_environment(settings)
    store = None
    if settings.store.path.exists():
        try:
            store = open_store(settings.store, read_only=True)
        except StoreError as exc:
            notes.append(f"the store could not be read ({exc}): thread lookup skipped")
    try:
        result = explain_message(settings, env, msg, store, time.time(), _languages(env, settings))
    except jinja2.TemplateError as exc:
        where = (
            f"{exc.filename}:{exc.lineno or 0}: " if isinstance(exc, TemplateSyntaxError) else ""
        )
        print(f"mailer: {where}a template failed: {exc}; run 'mailer check'", file=sys.stderr)
        return 1
    except StoreError as exc:
        print(f"mailer: the store {settings.store.path} could not be read: {exc}", file=sys.stderr)
        return 1
    finally:
        if store is not None:
            store.close()
    result = dataclasses.replace(result, notes=(*notes, *result.notes))
    print(
        json.dumps(as_json(result), ensure_ascii=False, indent=2) if args.json else as_text(result)
    )
    return 0


def _read(file: str, limit: int) -> tuple[bytes, int]:
    """(the first ``limit`` bytes, the whole size): what the daemon fetches of a message."""
    if file == "-":
        raw = sys.stdin.buffer.read(limit) if limit > 0 else sys.stdin.buffer.read()
        rest = sum(len(chunk) for chunk in iter(lambda: sys.stdin.buffer.read(1 << 20), b""))
        return raw, len(raw) + rest
    with open(file, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        return (handle.read(limit) if limit > 0 else handle.read()), size


def _head_and_body(raw: bytes) -> tuple[bytes, memoryview]:
    """The header (up to and with its blank line) and the body, not copied: only the header
    is edited, and a 25 MB body is not split into lines for that."""
    found = _BLANK_LINE.search(raw)
    at = found.end() if found is not None else len(raw)
    return raw[:at], memoryview(raw)[at:]


def _languages(env: Any, settings: Settings) -> tuple[str, ...]:
    return templates.serving_languages(env, settings)


def with_envelope(raw: bytes, sender: str | None, recipient: str | None) -> bytes:
    """The headers a delivery adds: Return-Path (replacing any) and Delivered-To."""
    head = b""
    if sender is not None:
        lines = raw.split(b"\n")
        end = next((i for i, line in enumerate(lines) if not line.strip(b"\r")), len(lines))
        kept = [
            line
            for i, line in enumerate(lines)
            if i >= end or not line.lower().startswith(b"return-path:")
        ]
        raw = b"\n".join(kept)
        head += f"Return-Path: <{sender.strip('<>')}>\r\n".encode()
    if recipient is not None:
        head += f"Delivered-To: {recipient.strip('<>')}\r\n".encode()
    return head + raw


def as_text(e: Explanation) -> str:
    c = e.rule
    reason = e.reason.removeprefix("suppressed: ")
    out = [f"receipt: {e.receipt}" + (f" ({reason})" if e.receipt != "would be sent" else "")]
    team = f", team {c.team_name or c.team}" if c.team else ", no team"
    out.append(f"rule: {c.rule} (category {c.category}{team}, priority {c.priority})")
    for trial in e.trials:
        if trial.name == c.rule:
            break
        held = [f"{cond}: {'yes' if ok else 'no'}" for cond, ok in trial.conditions]
        out.append(f"  not {trial.name}: " + "; ".join(held or ["did not match"]))
    if e.thread is not None:
        t = e.thread
        out.append(f'thread: {t.reference} ({t.status.value}), "{t.subject}" from {t.requester}')
    else:
        out.append("thread: none, a new request")
    forced = f"forced by rule {c.rule}" if c.language else f"detected: {e.detected or 'unsure'}"
    out.append(f"language: {e.language} ({forced})")
    if e.keywords:
        out.append("keywords on top: " + " ".join(e.keywords))
    if e.step:
        out.append(f"in the request: {e.step}")
    for target, due in e.due:
        out.append(f"{target.replace('_', ' ')} due: {due}")
    out += [f"note: {note}" for note in e.notes]
    for title, mail in (("receipt", e.receipt_mail), ("team notification", e.notification)):
        if mail is not None:
            out += ["", *_mail_text(title, mail)]
    return "\n".join(out)


def _mail_text(title: str, mail: Rendered) -> list[str]:
    html = f" (+ HTML alternative, {len(mail.html)} characters)" if mail.html else ""
    return [
        f"----- {title} to {mail.to}{html} -----",
        f"Subject: {mail.subject}",
        "",
        mail.text.rstrip(),
        "-" * 20,
    ]


def as_json(e: Explanation) -> dict[str, Any]:
    c = e.rule
    return {
        "receipt": e.receipt,
        "reason": e.reason,
        "rule": c.rule,
        "category": c.category,
        "team": c.team,
        "priority": c.priority,
        "rules": [
            {
                "name": t.name,
                "matched": t.matched,
                "conditions": [{"condition": k, "held": ok} for k, ok in t.conditions],
            }
            for t in e.trials
        ],
        "thread": None
        if e.thread is None
        else {"ref": e.thread.reference, "status": e.thread.status.value},
        "language": e.language,
        "detected_language": e.detected,
        "keywords": list(e.keywords),
        "step": e.step,
        "receipt_mail": _mail_json(e.receipt_mail),
        "notification": _mail_json(e.notification),
        "notes": list(e.notes),
        "due": dict(e.due),
    }


def _mail_json(mail: Rendered | None) -> dict[str, Any] | None:
    if mail is None:
        return None
    return {"to": mail.to, "subject": mail.subject, "text": mail.text, "html": mail.html}
