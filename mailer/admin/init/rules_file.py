"""The starter rules.toml that ``mailer init`` writes: the syntax in comments, and rules."""

from __future__ import annotations

from mailer.admin.init.texts import Answers, q


def team_address(local: str, shared: str) -> str:
    """A placeholder in the shared address's domain that is never the shared address."""
    found = f"{local}@{shared.rpartition('@')[2]}"
    return found if found.lower() != shared.lower() else f"{local}-staff@{found.split('@')[1]}"


def rules_text(a: Answers) -> str:
    """rules.toml: the syntax in comments, and a starter to adapt."""
    it_team = team_address("it-team", a.address)
    facilities = team_address("facilities-team", a.address)
    return f"""\
# rules.toml -- who handles what, and what the requester is told (mailer.toml names it).
# After every change:  mailer --config mailer.toml check; to try a saved message:
#                      mailer --config mailer.toml rules test some.eml
#
# TEAMS: [teams.KEY]; rules name a team by its KEY.
#   name     what requesters read ("IT Support"); default: the key
#   address  the team's own address: new requests are sent there, staff reply to them
#   calendar  its [calendars.NAME] (default: [service] calendar); escalate_to: a lead's
#            addresses, told once when a due time passes; first_response, resolution: targets
#
# RULES: [[rules]], tried from top to bottom; the FIRST rule that matches wins. When none
# matches, the built-in rule "default" applies: category "general", no team.
#   name         unique, shown in logs and by `mailer rules test` (required)
#   category     free text for reports (default "general")
#   team         a KEY of [teams.*] (default: none)
#   priority     "low", "normal", "high" or "urgent" (default "normal")
#   language     force the receipt's language, e.g. "it" (default: the requester's)
#   receipt      false = route and record, but send no receipt (default true)
#   template     the receipt template: templates/<language>/<template>.txt.j2 ("receipt")
#   expectation  when to expect an answer: a text, or {{ en = "...", it = "..." }}
#   first_response, resolution  this rule's targets in working time: "4h", "30m", "2d"
#
# CONDITIONS: [rules.match] right under its [[rules]]. Every condition given must hold; a
# list means "any of these". A rule without [rules.match] matches everything (last only!).
#   subject, body, text        words or phrases in the subject, the body, or either
#   subject_regex, body_regex  Python regexes (they see lower case without accents)
#   sender                     the From address, or a glob: "*@hr.{a.domain}"
#   sender_domain              the From domain, subdomains included: "{a.domain}"
#   to                         the address written to (To, Cc, Delivered-To): address or glob
#   header                     a header by name, a regex on its value: {{ "X-Priority" = "^1" }}
#   has_attachments            true or false
#   language                   the detected language of the request: ["it"]
# Words ignore case and accents and match whole words ("print*" finds "printers"). In
# regexes double the backslashes ("\\\\bdesk\\\\b") or use 'single quotes' ('\\bdesk\\b').

[teams.it]
name = "IT Support"
address = {q(it_team):<34} # CHANGE: the team's real address

[teams.facilities]
name = "Facilities"
address = {q(facilities):<34} # CHANGE: the team's real address

# Flagged as urgent in the subject: IT triages, whatever it is about.
[[rules]]
name = "urgent"
category = "urgent"
team = "it"
priority = "urgent"
  [rules.match]
  subject_regex = ['^\\s*(urgent|urgente)\\b', '\\[(urgent|urgente)\\]']

[[rules]]
name = "passwords-accounts"
category = "accounts"
team = "it"
  [rules.expectation]
  en = "Password and account requests are handled within two working hours."
  it = "Le richieste su password e account vengono gestite entro due ore lavorative."
  [rules.match]
  text = ["password", "account", "login", "locked out", "bloccat*", "credenziali", "mfa", "2fa"]

[[rules]]
name = "building"
category = "building"
team = "facilities"
priority = "low"
  [rules.expectation]             # or one text for all: expectation = "..."
  en = "Facilities usually answers within two working days."
  it = "Di solito il servizio tecnico risponde entro due giorni lavorativi."
  [rules.match]
  text = ["heating", "riscaldamento", "air conditioning", "aria condizionata", "badge*", "sedia"]

# More conditions, to copy and adapt:
# [[rules]]
# name = "monitoring-alerts"
# team = "it"
# receipt = false                  # robots get no receipt
#   [rules.match]
#   sender = ["alerts@monitoring.{a.domain}"]
"""
