"""The commented files ``mailer init`` writes: mailer.toml, rules.toml, templates/README.txt.

Apart from the prompting, so the text reads like the file it becomes. Every key of
``SECTION_KEYS`` appears, set or commented, with what it does (a test holds us to that); no
password is ever written inline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

LANGUAGES = ("en", "it")  # the shipped templates, and the texts below, exist in these


@dataclass(frozen=True)
class Secret:
    """A password's source; ``content``: the text of a file init creates in DIR, if any."""

    key: str
    value: str
    content: str | None = None


@dataclass(frozen=True)
class Server:
    """[imap] or [smtp] as answered; no ``user`` means no login (SMTP only)."""

    host: str
    port: int
    security: str
    user: str | None = None
    secret: Secret | None = None


@dataclass(frozen=True)
class Answers:
    """Everything init asked for (or took from flags and defaults)."""

    name: str
    address: str
    imap: Server
    smtp: Server
    language: str
    staff: tuple[str, ...]
    authserv_id: str | None

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2]


def q(value: str) -> str:
    """A TOML basic string: JSON's escapes are valid TOML; DEL must be escaped too."""
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def q_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(q(v) for v in values) + "]"


def _secret_lines(section: str, secret: Secret | None) -> str:
    """All three ways to give a password; the one chosen set, the others commented."""
    examples = {
        "password": ("...", "inline: avoid, this file is no secret"),
        "password_file": (f"{section}.password", "mode 0600: readable by mailer alone"),
        "password_env": (f"MAILER_{section.upper()}_PASSWORD", "exported where mailer runs"),
    }
    lines = []
    for key, (example, note) in examples.items():
        chosen = secret.value if secret is not None and secret.key == key else None
        line = f"{key} = {q(chosen)}" if chosen else f"# {key} = {q(example)}"
        lines.append(f"{line:<35} # {note}")
    return "\n".join(lines)


EXPECTATION = {
    "en": "We usually answer within one working day.",
    "it": "Di solito rispondiamo entro un giorno lavorativo.",
}


def config_text(a: Answers) -> str:
    """mailer.toml: the answers set, every other key commented with its default."""
    expectation = ", ".join(f"{code} = {q(EXPECTATION[code])}" for code in LANGUAGES)
    user = f"username = {q(a.smtp.user or str(a.imap.user))}"
    authserv = f"authserv_id = {q(a.authserv_id or 'mx.' + a.domain)}"
    authserv = authserv if a.authserv_id else f"# {authserv}"
    return f"""\
# mailer.toml -- written by `mailer init`; every setting, with what it does and its default.
# Check it after every change:   mailer --config THIS-FILE check
#
# Formats:
#   durations  seconds (90), or a string: "30s", "90m", "24h", "2d", "1w", "1h30m"
#   sizes      bytes, or a string: "512KB", "25MB", "1GB" (1KB = 1024 bytes)
#   addresses  one plain address: name@{a.domain} (no display name, no <brackets>)
#   paths      relative paths are relative to the directory of THIS file
# A list given as a single string is taken as a list of one.

[service]
# The name people see in From and in every mail we send.
name = {q(a.name)}
# The shared address people write to; also the From of everything we send.
address = {q(a.address)}
# aliases = ["help@{a.domain}"]  # other addresses of this mailbox ("addressed to us"); []
# References look like REQ-1024: a prefix of letters/digits and a first number.
# reference_prefix = "REQ"          # default "REQ"
# reference_start = 1000            # default 1000
# subject_tag = "suffix"           # where "[REQ-1024]" goes in subjects: or "prefix", "none"
# Receipts are written in the requester's language when it is one of `languages` (a
# template folder must exist for each, see templates/README.txt), else in default_language.
default_language = {q(a.language)}
languages = {q_list(LANGUAGES)}
# signature = {q(a.name)}  # free text under every mail; default: the service name
# Other ways to reach you, one line each, listed in receipts. Default: [].
# contacts = ["Phone: +1 555 0100 (Mon-Fri 9-17)"]
# Where alerts go by mail (they always go to the log too). Default: none.
# admin = "it-admin@{a.domain}"
# Right-hand side of our Message-IDs. Default: the domain of `address`.
# hostname = "mailer.{a.domain}"
# true: no receipt unless one of our addresses is in To or Cc (so Bcc copies, lists and
# misdirected mail get none). Default: true.
# require_addressed = true
# Senders that never get a receipt: Python regexes on the lower-cased address.
# no_reply_senders = [
#   "^(postmaster|mailer-daemon|abuse|root|noreply|no-reply.*|donotreply|do-not-reply)@",
# ]
# The teams and rules, explained in that file.
rules_file = "rules.toml"
# Your copy of the mail templates; the shipped ones fill in whatever is missing there.
templates_dir = "templates"
# What receipts say about when to expect an answer when a rule says nothing: one text, or
# one per language. Default: none (the template's own sentence).
expectation = {{ {expectation} }}
# The [calendars.NAME] that working time and due times are counted in. Default: none.
# calendar = "office"

[imap]
# The server holding the shared mailbox.
host = {q(a.imap.host)}
# Default by security: 993 for "tls", 143 for "starttls" and "none".
port = {a.imap.port}
# "tls" (implicit TLS), "starttls" or "none". Default "tls". "none" is refused for any host
# but loopback (127.0.0.0/8, ::1, localhost) unless allow_insecure = true.
security = {q(a.imap.security)}
# allow_insecure = false            # default false: clear text only on loopback
username = {q(str(a.imap.user))}
# The password: exactly one of password, password_file (a file holding only it; one final
# newline is ignored) or password_env (an environment variable holding it).
{_secret_lines("imap", a.imap.secret)}
# mailbox = "INBOX"                 # the folder watched; default "INBOX"
# Mail older than this when first seen gets no receipt (so starting on a full mailbox does
# not answer last year's mail; `mailer run --backfill` overrides it once). Default "24h".
# backlog = "24h"
# batch_size = 100                  # messages per FETCH; default 100
# idle = true                       # use IMAP IDLE when the server has it; default true
# idle_renew = "10m"                # re-issue IDLE this often (under 29 min); default "10m"
# poll_interval = "60s"             # between polls when IDLE is off or missing; default "60s"
# catchup_interval = "5m"           # a full poll even while IDLE runs; default "5m"
# timeout = "30s"                   # network timeout; default "30s"
# move_to = "INBOX/Processed"       # move processed mail there; default: it stays put
# sent_folder = "Sent"              # append a copy (\\Seen) of all we send; default: none
# ca_file = "/etc/ssl/certs/corp-ca.pem"   # CA bundle to verify the server; default: system
# auth = "password"                # or "xoauth2": an OAuth token (Microsoft 365, Gmail)
# oauth = (a table)                 # with "xoauth2": [imap.oauth], see the README

[smtp]
# The server we send through.
host = {q(a.smtp.host)}
# Default by security: 465 for "tls", 587 for "starttls", 25 for "none".
port = {a.smtp.port}
# "tls", "starttls" or "none"; default "starttls". Same loopback rule as [imap].
security = {q(a.smtp.security)}
# allow_insecure = false            # default false
# Authentication is optional: give username and then exactly one of password,
# password_file or password_env (as in [imap]).
{user if a.smtp.user else "# " + user}
{_secret_lines("smtp", a.smtp.secret)}
# Envelope sender (MAIL FROM): "service" (our address), "null" (<>, so bounces never come
# back) or an address for bounces. Default "service".
# envelope_sender = "service"
# timeout = "30s"                   # default "30s"
# A temporary failure (4xx) is retried after retry_initial, doubling up to retry_max, for
# retry_for in all; then the mail is dead-lettered. Defaults "30s", "30m", "4h".
# retry_initial = "30s"
# retry_max = "30m"
# retry_for = "4h"
# ca_file = "/etc/ssl/certs/corp-ca.pem"   # as in [imap]; default: system CAs
# helo = "mailer.{a.domain}"  # name sent in EHLO; default: this machine's name
# connections = 4                   # SMTP connections kept open in parallel; default 4
# auth = "password"                # or "xoauth2" with an [smtp.oauth] table, as in [imap]
# oauth = (a table)                 # with "xoauth2": [smtp.oauth], see the README

[store]
# The SQLite database of requests and outgoing mail; mailer creates it. A relative path is
# relative to the directory of this file, which mailer must then be able to write. Under
# systemd (systemd/mailer.service: /etc/mailer read-only, StateDirectory=mailer) use
# path = "/var/lib/mailer/mailer.sqlite3" (or leave path out: $STATE_DIRECTORY is used).
path = "mailer.sqlite3"
# Or PostgreSQL, for many shared mailboxes in one database and two nodes per mailbox
# (README "Outgrowing one machine"); the password as for [imap], or none (trust, .pgpass):
# url = "postgresql://mailer@db.example.test/mailer?target_session_attrs=read-write"
# password = "..."                   # or password_file = "...", or password_env = "VAR"
# password_file = "$CREDENTIALS_DIRECTORY/store-password"
# password_env = "MAILER_STORE_PASSWORD"
# `mailer purge` removes message bodies and closed requests older than this; default: never.
# retention_days = 365

[metrics]
# Prometheus metrics (/metrics) and a health check (/healthz) on this address; default: off.
# listen = "127.0.0.1:9101"

[promises]
# Due times need [calendars.NAME] and [targets] (see the README); then:
# remind_before = "1h"              # working time before a due time: one reminder
# tell_requester_when_late = false  # one honest mail to the requester when a due time passes
# digest_at = "08:45"               # each working day: due today, overdue, unowned, waiting

[reports]
# The weekly report mail: the week's figures as text, the main charts as pictures, and the
# whole report as an HTML page attached; sent once a week (never twice), the week that was
# missed while mailer was down once when it is back. Default: nobody (no mail).
# to = ["lead@example.test"]        # every team in one report
# teams = {{ it = ["it-lead@example.test"] }}  # one team's report, per team key
# weekday = "mon"                   # when, in the calendar's time zone; default "mon"
# hour = 8                          # 0-23, local; default 8: last week's report on Monday 08:00

[limits]
# max_message_size = "25MB"         # bytes of a message parsed; the rest is cut
# receipts_per_sender = 20          # receipts per sender address per day
# At most this many automatic messages in one thread within the window, with no human in
# between, before we stop answering it (mail loops). Defaults 3 and "24h".
# auto_per_thread = 3
# auto_per_thread_window = "24h"
# max_attempts = 3                  # processing failures before a message is quarantined

[staff]
# Who may change a request by replying with a keyword (#take, #in-progress, #resolved ...).
# Anyone else's keywords are ignored; their mail counts as an ordinary message.
addresses = {q_list(a.staff)}
# domains = [{q(a.domain)}]  # every address of these domains is staff; default []
# Strongly advised with staff: without it a forged From runs commands (`mailer check`
# warns). With it, a command also needs DMARC pass (or an aligned DKIM pass) in the topmost
# Authentication-Results written by this server; "microsoft365": Exchange Online's own.
{authserv}

[workflow]
# reopen_days = 14                  # a reply within this many days reopens a resolved request
# forward_attachments = false       # attach a request's files to the team's notification
# Words of the pseudo-header form "Status: resolved" / "Stato: risolto".
# status_headers = ["Status", "Stato"]
# Each action's keywords (in_progress, waiting, resolved, closed, reopen, take, assign,
# internal, status, close), compared without case, accents, "-" or "_". Giving an action
# replaces its words; add a language by adding words:
# keywords = {{ resolved = ["#resolved", "#risolto", "#done"] }}
"""


TEMPLATES_README = """\
The mail templates mailer sends, copied here by `mailer init` for you to edit.

mailer looks in this folder first (mailer.toml: [service] templates_dir = "templates") and
takes the templates shipped with mailer for any file missing here: delete the files you do
not change to get the shipped ones, updated with mailer. Each language is a folder (en/,
it/) of Jinja templates with the same names: <template>.txt.j2 the plain text,
<template>.html.j2 the HTML version (optional).

To add a language (say German): copy en/ to de/, translate every file, add "de" to
[service] languages in mailer.toml, and run   mailer --config mailer.toml check
which renders every template with sample data and names any mistake.
"""
