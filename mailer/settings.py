"""The configuration as frozen, typed objects; ``config.py`` builds them from TOML.

Every default lives here, next to the key it belongs to, and `config/mailer.example.toml`
documents the same keys for admins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Literal

Security = Literal["tls", "starttls", "none"]
Auth = Literal["password", "xoauth2"]
Flow = Literal["client_credentials", "refresh_token", "command"]
TagPlacement = Literal["suffix", "prefix", "none"]


@dataclass(frozen=True)
class ServiceSettings:
    name: str
    address: str  # the shared address; also the From of everything we send
    aliases: tuple[str, ...] = ()  # other addresses that reach the same mailbox
    reference_prefix: str = "REQ"  # references look like REQ-1024
    reference_start: int = 1000
    subject_tag: TagPlacement = "suffix"  # where "[REQ-1024]" goes in our subjects
    default_language: str = "en"
    languages: tuple[str, ...] = ("en", "it")
    signature: str = ""  # free text under every mail; default: the service name
    contacts: tuple[str, ...] = ()  # other ways to reach the team, one line each
    admin: str | None = None  # gets one mail per refused rules/templates change; logs always
    hostname: str | None = None  # right side of our Message-IDs; default: address domain
    require_addressed: bool = True  # no receipt unless one of our addresses is in To/Cc
    no_reply_senders: tuple[str, ...] = (
        r"^(postmaster|mailer-daemon|abuse|root|noreply|no-reply.*|donotreply|do-not-reply)@",
    )

    @property
    def domain(self) -> str:
        return (self.hostname or self.address.rpartition("@")[2]).lower()

    @property
    def own_addresses(self) -> frozenset[str]:
        return frozenset(a.lower() for a in (self.address, *self.aliases))

    def is_own(self, address: str) -> bool:
        """One of our addresses, +detail ignored: helpdesk+it@ reaches the same mailbox."""
        return _base(address) in {_base(a) for a in self.own_addresses}


def _base(address: str) -> str:
    local, _, domain = address.lower().partition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


@dataclass(frozen=True)
class OAuthSettings:
    """Where [imap.oauth] / [smtp.oauth] get an XOAUTH2 access token; see ``oauth``.

    Secrets are kept as *where to read them*, read at each token fetch: a rotated client
    secret or refresh token is picked up without a restart, and never sits in settings."""

    flow: Flow
    token_url: str = ""  # Microsoft's from ``tenant``, else Google's
    client_id: str = ""
    client_secret_file: str | None = None
    client_secret_env: str | None = None
    refresh_token_file: str | None = None  # rewritten when the server rotates the token
    refresh_token_env: str | None = None
    scope: str = ""
    command: tuple[str, ...] = ()  # prints the access token on stdout
    timeout: float = 30.0  # HTTP request or command


@dataclass(frozen=True)
class ImapSettings:
    host: str
    username: str
    password: str
    port: int = 993
    security: Security = "tls"
    allow_insecure: bool = False
    mailbox: str = "INBOX"
    backlog: float = 24 * 3600.0  # seconds; older mail at first sight gets no receipt
    batch_size: int = 100  # UIDs per FETCH
    idle: bool = True  # use IDLE when the server has it
    idle_renew: float = 600.0  # seconds; RFC 2177 wants < 29 min, imapclient suggests 10
    poll_interval: float = 60.0  # seconds between polls without IDLE
    catchup_interval: float = 300.0  # a full poll even while IDLE runs
    timeout: float = 30.0
    move_to: str | None = None  # folder for processed mail
    sent_folder: str | None = None  # APPEND a copy of every sent mail here, \Seen
    ca_file: str | None = None
    auth: Auth = "password"  # "xoauth2": log in with a token from ``oauth``
    oauth: OAuthSettings | None = None


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    security: Security = "starttls"
    allow_insecure: bool = False
    username: str | None = None
    password: str | None = None
    envelope_sender: str = "service"  # "service", "null" or an address
    timeout: float = 30.0
    retry_initial: float = 30.0  # seconds before the first retry of a 4xx
    retry_max: float = 1800.0
    retry_for: float = 4 * 3600.0  # give up (dead letter) after this long
    ca_file: str | None = None
    helo: str | None = None
    connections: int = 4  # SMTP connections kept open in parallel by the outbox
    auth: Auth = "password"  # "xoauth2": AUTH XOAUTH2 with a token from ``oauth``
    oauth: OAuthSettings | None = None


@dataclass(frozen=True)
class StoreSettings:
    path: Path
    retention_days: int | None = None  # `mailer purge`: bodies and closed requests older go
    url: str | None = None  # "postgresql://user@host/db": a shared PostgreSQL store, not path
    password: str | None = None  # for url, from password / password_file / password_env
    # Who this config is in a shared store (from [service] and [imap]; set by the loader):
    # (derived from other sections: not compared, so a reload sees only [store] itself)
    mailbox: str = field(default="", compare=False)  # the shared address: its rows and lease
    prefix: str = field(default="", compare=False)  # reference_prefix: one mailbox per prefix
    imap: str = field(default="", compare=False)  # user@host:port/folder: one config each

    @property
    def where(self) -> str:
        """The store as people name it: the URL without a password, or the file."""
        if self.url is None:
            return str(self.path)
        scheme, sep, rest = self.url.partition("://")
        user, at, host = rest.rpartition("@")
        return f"{scheme}{sep}{user.split(':')[0]}{at}{host}" if at else self.url


@dataclass(frozen=True)
class LimitsSettings:
    max_message_size: int = 25 * 1024 * 1024  # bytes parsed; the rest is cut and noted
    receipts_per_sender: int = 20  # per day, keyed on the full lower-cased address
    auto_per_thread: int = 3  # inbound automatic messages in a thread ...
    auto_per_thread_window: float = 24 * 3600.0  # ... in this window, no human between
    max_attempts: int = 3  # processing failures before quarantine


@dataclass(frozen=True)
class MetricsSettings:
    listen: str | None = None  # "127.0.0.1:9101": serve /metrics and /healthz there


@dataclass(frozen=True)
class PromiseSettings:
    """``[promises]``: reminders before a due time, what happens when one passes, the digest."""

    remind_before: str = "1h"  # working time before a due time: the owner (or team) is reminded
    tell_requester_when_late: bool = False  # one honest mail to the requester when late
    digest_at: time | None = None  # each working day at this local time: the team's digest


@dataclass(frozen=True)
class ReportSettings:
    """``[reports]``: the weekly report mail, to whom (per team and for all) and when."""

    to: tuple[str, ...] = ()  # every team in one report
    teams: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (team key, its recipients)
    weekday: str = "mon"  # mon ... sun, in the calendar's time zone
    hour: int = 8  # 0-23, local

    @property
    def wanted(self) -> bool:
        return bool(self.to or self.teams)


@dataclass(frozen=True)
class StaffSettings:
    """Who may run status keywords; see ``staffauth`` for what proves a mail is theirs."""

    addresses: tuple[str, ...] = ()  # lower-cased
    domains: tuple[str, ...] = ()  # every address of these domains, lower-cased
    authserv_id: str | None = None  # trust Authentication-Results from this server only

    def lists(self, address: str) -> bool:
        address = address.lower()
        return address in self.addresses or address.rpartition("@")[2] in self.domains

    @property
    def configured(self) -> bool:
        return bool(self.addresses or self.domains)


# What each action is called in mail; a language is added by adding words here (or in the
# [workflow.keywords] table of the config), never in code.
DEFAULT_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("in_progress", ("#in-progress", "#in-corso")),
    ("waiting", ("#waiting", "#in-attesa")),
    ("resolved", ("#resolved", "#risolto")),
    ("closed", ("#closed", "#chiuso")),
    ("reopen", ("#reopen", "#riapri")),
    ("take", ("#take", "#prendo")),
    ("assign", ("#assign", "#assegna")),
    ("internal", ("#internal", "#interno")),
    ("status", ("#status", "#stato")),
    ("close", ("#close", "#chiudi")),
)


@dataclass(frozen=True)
class WorkflowSettings:
    reopen_days: int = 14  # a requester's reply within this many days reopens a resolved request
    forward_attachments: bool = False  # attach a request's files to the team's notification
    keywords: tuple[tuple[str, tuple[str, ...]], ...] = DEFAULT_KEYWORDS
    status_headers: tuple[str, ...] = ("Status", "Stato")  # "Status: resolved" pseudo-headers


@dataclass(frozen=True)
class ClosedSpan:
    """A closed day (``start`` and ``end`` None) or part of one, in the calendar's local time."""

    day: date
    start: time | None = None  # closed from (None: from the start of the day)
    end: time | None = None  # closed until (None: to the end of the day)


@dataclass(frozen=True)
class CalendarSettings:
    """``[calendars.NAME]``: when a team works. ``hours[0]`` is Monday's intervals."""

    name: str
    timezone: str = "UTC"
    hours: tuple[tuple[tuple[time, time], ...], ...] = ((),) * 7
    holidays: str | None = None  # the holidays package's country code, optionally -subdivision
    closed: tuple[ClosedSpan, ...] = ()


@dataclass(frozen=True)
class Targets:
    """``first_response`` and ``resolution`` in working time ("4h", "2d"); None: no promise."""

    first_response: str | None = None
    resolution: str | None = None


@dataclass(frozen=True)
class Team:
    key: str
    name: str
    address: str | None = None
    calendar: str | None = None  # [teams.X] calendar: overrides [service] calendar
    targets: Targets = Targets()
    escalate_to: tuple[str, ...] = ()  # who hears of a missed due time (a lead)


@dataclass(frozen=True)
class Condition:
    """One condition of a rule. ``kind`` names the matcher in ``rules.MATCHERS``."""

    kind: str  # sender, sender_domain, to, subject, body, subject_regex, body_regex, header,
    # has_attachments, ...
    values: tuple[str, ...] = ()
    header: str | None = None  # for kind == "header"
    flag: bool | None = None  # for boolean kinds
    line: int | None = None


@dataclass(frozen=True)
class Rule:
    name: str
    conditions: tuple[Condition, ...] = ()  # all must hold; an empty tuple matches everything
    category: str = "general"
    team: str | None = None
    priority: str = "normal"
    template: str = "receipt"
    language: str | None = None
    receipt: bool = True
    expectation: str | None = None  # in the default language, or the only text given
    line: int | None = None  # where the rule starts in its file, for messages
    expectations: tuple[tuple[str, str], ...] = ()  # (language, text) when given per language
    targets: Targets = Targets()  # the most specific promise: rule, then priority, team, default


@dataclass(frozen=True)
class Settings:
    service: ServiceSettings
    imap: ImapSettings
    smtp: SmtpSettings
    store: StoreSettings
    limits: LimitsSettings = field(default_factory=LimitsSettings)
    staff: StaffSettings = field(default_factory=StaffSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    promises: PromiseSettings = field(default_factory=PromiseSettings)
    reports: ReportSettings = field(default_factory=ReportSettings)
    workflow: WorkflowSettings = field(default_factory=WorkflowSettings)
    teams: tuple[Team, ...] = ()
    rules: tuple[Rule, ...] = ()
    calendars: tuple[CalendarSettings, ...] = ()
    default_calendar: str | None = None  # [service] calendar
    targets: Targets = Targets()  # [targets]: the defaults
    priority_targets: tuple[tuple[str, Targets], ...] = ()  # [targets.PRIORITY]
    default_expectation: str | None = None
    default_expectations: tuple[tuple[str, str], ...] = ()  # (language, text), per language
    templates_dir: Path | None = None  # admin's overrides; shipped templates are the fallback
    config_path: Path | None = None
    rules_path: Path | None = None

    def calendar(self, name: str | None) -> CalendarSettings | None:
        for calendar in self.calendars:
            if calendar.name == name:
                return calendar
        return None

    def team(self, key: str | None) -> Team | None:
        for team in self.teams:
            if team.key == key:
                return team
        return None
