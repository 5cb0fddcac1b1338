"""``mailer demo``: the whole flow on real local mail servers, shown step by step.

Starts Dovecot and Postfix in a temp dir on loopback, writes a config that uses the
example rules, runs the daemon (IDLE) in a child process, sends sample requests in Italian
and English for different teams, one follow-up, one out-of-office reply and one bounce,
shows what every person received and what the store knows, and stops everything.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

from sandbox.demo.requests import DOMAIN, mail, send, show
from sandbox.demo.staff import staff_at_work
from sandbox.servers import MailSandbox

ROOT = Path(__file__).resolve().parents[2]  # the checkout


def _say(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m" if sys.stdout.isatty() else f"\n== {text}", flush=True)


def write_sandbox_config(
    directory: Path,
    sandbox: MailSandbox,
    *,
    service_extra: str = "",
    imap_extra: str = "",
    extra: str = "",
    smtp_port: int | None = None,
    mailbox: str = "INBOX",
) -> Path:
    """``mailer.toml`` for a sandbox: the keys every install needs, plus what a caller adds.

    The demo and the integration tests both use it, so the tests run the config people see.
    """
    path = directory / "mailer.toml"
    path.write_text(
        f"""[service]
name = "IT Help Desk"
address = "helpdesk@{DOMAIN}"
{service_extra}
[imap]
host = "127.0.0.1"
port = {sandbox.imap_port}
security = "none"
username = "helpdesk"
password = "{sandbox.password}"
mailbox = "{mailbox}"
{imap_extra}
[smtp]
host = "127.0.0.1"
port = {smtp_port or sandbox.smtp_port}
security = "none"
[store]
path = "mailer.sqlite3"
{extra}
"""
    )
    return path


def _config(sandbox: MailSandbox, directory: Path) -> Path:
    rules = ROOT / "config" / "rules.example.toml"
    service = textwrap.dedent(f"""\
        reference_prefix = "IT"
        contacts = ["Phone: ext. 4357 (8:30-17:30)", "Walk-in: 2nd floor, room 214"]
        signature = "The Help Desk team"
        rules_file = "{rules}"
        calendar = "office"
        """)
    return write_sandbox_config(
        directory,
        sandbox,
        service_extra=service,
        imap_extra='sent_folder = "Sent"',
        extra=f'[staff]\naddresses = ["staff@{DOMAIN}"]\n' + PROMISES,
    )


PROMISES = """
[calendars.office]
timezone = "Europe/Rome"
hours = ["mon-fri 08:30-12:30", "mon-fri 13:30-17:30"]
holidays = "IT-MI"

[targets]
first_response = "4h"
resolution = "2d"

[promises]
remind_before = "1h"
"""


def _remind(sandbox: MailSandbox, config: Path, clock: Path) -> None:
    """Move the daemon's clock to just before Carla's first-response due time: one reminder
    goes to Facilities, who have not answered her yet."""
    listed = subprocess.run(
        [sys.executable, "-m", "mailer", "--config", str(config), "threads", "--json"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    carla = next(t for t in json.loads(listed.stdout) if t["requester"].startswith("carol"))
    due = carla["first_response_due"]
    print(f"  {carla['reference']}: first response due {_local(due)} (Europe/Rome)")
    print(f"  moving the daemon's clock to {_local(due - 60)}: one minute before")
    before = len(sandbox.messages("facilities"))
    clock.write_text(f"{due - 60}\n")
    sandbox.wait_for_messages("facilities", before + 1, timeout=30)


def _local(epoch: float) -> str:
    zone = ZoneInfo("Europe/Rome")
    return datetime.fromtimestamp(epoch, zone).strftime("%a %d %b %H:%M")


def _mailer(config: Path, *args: str, clock: Path) -> subprocess.Popen[bytes]:
    """The daemon, with a clock the demo can move (MAILER_FAKE_CLOCK; real time until then)."""
    cmd = [sys.executable, "-m", "mailer", "--config", str(config), *args]
    return subprocess.Popen(cmd, env={**os.environ, "MAILER_FAKE_CLOCK": str(clock)})


def _alice() -> EmailMessage:
    return mail(
        "alice",
        "My laptop won't connect to the VPN",
        "Hi,\n\nsince this morning my laptop can't connect to the VPN: it says "
        "'authentication failed'. I have a customer call at 3pm.\n\nThanks,\nAlice",
    )


def _requests(sandbox: MailSandbox) -> None:
    send(sandbox, _alice(), f"alice@{DOMAIN}")
    send(
        sandbox,
        mail(
            "bob",
            "Richiesta ferie per agosto",
            "Buongiorno,\n\nvorrei sapere come richiedere le ferie per le due "
            "settimane centrali di agosto e quanti giorni mi restano.\n\nGrazie,\n"
            "Roberto",
            charset="iso-8859-1",
        ),
        f"bob@{DOMAIN}",
    )
    send(
        sandbox,
        mail(
            "carol",
            "Il riscaldamento in sala riunioni non funziona",
            "Ciao,\n\nin sala riunioni al terzo piano il riscaldamento è spento da "
            "ieri e fa molto freddo.\n\nCarla",
        ),
        f"carol@{DOMAIN}",
    )


def _robots_and_follow_up(sandbox: MailSandbox) -> None:
    receipt = email.message_from_bytes(sandbox.messages("alice")[0], policy=email.policy.default)
    follow = mail(
        "alice",
        str(receipt["Subject"]),
        "One more detail: the error code is 809.\n\nAlice",
        headers={"In-Reply-To": receipt["Message-ID"], "References": receipt["Message-ID"]},
    )
    send(sandbox, follow, f"alice@{DOMAIN}")
    bob_receipt = email.message_from_bytes(sandbox.messages("bob")[0], policy=email.policy.default)
    oof = mail(
        "bob",
        f"Risposta automatica: {bob_receipt['Subject']}",
        "Sono fuori ufficio fino al 2 settembre, con accesso limitato alla posta.",
        headers={
            "Auto-Submitted": "auto-replied",
            "In-Reply-To": bob_receipt["Message-ID"],
            "X-Auto-Response-Suppress": "All",
        },
    )
    send(sandbox, oof, f"bob@{DOMAIN}")
    send(sandbox, _bounce(receipt["Message-ID"]), "")


def _bounce(message_id: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Mail Delivery System <MAILER-DAEMON@mx.{DOMAIN}>"
    msg["To"] = f"helpdesk@{DOMAIN}"
    msg["Subject"] = "Undelivered Mail Returned to Sender"
    msg["Message-ID"] = email.utils.make_msgid(domain=f"mx.{DOMAIN}")
    msg["Auto-Submitted"] = "auto-replied"
    msg.set_content("This is the mail system. Your message could not be delivered.")
    msg.make_mixed()
    report = EmailMessage()
    report.set_content(
        "Reporting-MTA: dns; mx.example.test\n\nFinal-Recipient: rfc822; "
        "alice.old@example.test\nAction: failed\nStatus: 5.1.1\n"
    )
    msg.attach(report)
    original = EmailMessage()
    original["Message-ID"] = message_id
    original["Subject"] = "(the receipt)"
    original.set_content("...")
    msg.add_attachment(original.as_bytes(), maintype="text", subtype="rfc822-headers")
    msg.replace_header(
        "Content-Type",
        f'multipart/report; report-type="delivery-status"; boundary="{msg.get_boundary()}"',
    )
    return msg


def run_demo(*, keep: bool = False) -> int:
    directory = Path(tempfile.mkdtemp(prefix="mailer-demo-", dir="/tmp"))
    os.chmod(directory, 0o755)
    _say("Starting real mail servers (Dovecot IMAP + Postfix SMTP) on 127.0.0.1")
    with MailSandbox(directory / "rig") as sandbox:
        print(f"  IMAP 127.0.0.1:{sandbox.imap_port}  SMTP 127.0.0.1:{sandbox.smtp_port}")
        config = _config(sandbox, directory)
        _say(f"Checking the config: mailer --config {config} check")
        subprocess.run(
            [sys.executable, "-m", "mailer", "--config", str(config), "check"], check=True
        )
        saved = directory / "alice.eml"
        saved.write_bytes(_alice().as_bytes())
        _say(f"What would happen to a message, before any is sent: mailer rules test {saved.name}")
        subprocess.run(
            [sys.executable, "-m", "mailer", "--config", str(config), "rules", "test", str(saved)],
            check=True,
        )
        _say("Starting the daemon: mailer run (IMAP IDLE)")
        clock = directory / "clock"
        daemon = _mailer(config, "run", clock=clock)
        try:
            time.sleep(1.5)
            _say("Colleagues write to helpdesk@example.test")
            _requests(sandbox)
            for user in ("alice", "bob", "carol"):
                sandbox.wait_for_messages(user, 1, timeout=20)
            _say("A follow-up, an out-of-office reply and a bounce (these get nothing)")
            _robots_and_follow_up(sandbox)
            time.sleep(2)
            staff_at_work(sandbox, _say)
            _say("Promises kept: a reminder before a due time")
            _remind(sandbox, config, clock)
        finally:
            _say("Stopping the daemon (SIGTERM)")
            daemon.send_signal(signal.SIGTERM)
            code = daemon.wait(timeout=15)
            print(f"  exit code {code}")
        _say("What each person received")
        for user in ("alice", "bob", "carol", "it-team", "hr-team", "facilities", "staff"):
            show(sandbox, user)
        _say("What mailer decided for each message: mailer messages")
        subprocess.run(
            [sys.executable, "-m", "mailer", "--config", str(config), "messages"], check=False
        )
        _say("What the help desk knows: mailer threads")
        subprocess.run(
            [sys.executable, "-m", "mailer", "--config", str(config), "threads"], check=False
        )
        _say("One request's story: mailer thread IT-1000")
        subprocess.run(
            [sys.executable, "-m", "mailer", "--config", str(config), "thread", "IT-1000"],
            check=False,
        )
        _say("Copies of what was sent, in the shared mailbox's Sent folder")
        print(f"  {len(sandbox.messages('helpdesk', 'Sent'))} messages in helpdesk/Sent")
    _say("Done: servers stopped" + (f", files kept in {directory}" if keep else ""))
    if not keep:
        import shutil

        shutil.rmtree(directory, ignore_errors=True)
    return 0
