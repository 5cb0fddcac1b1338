"""``python -m sandbox start|stop|status DIR``: a mail sandbox for humans and the demo.

``start`` leaves the servers running after it exits; ``stop`` ends them; other processes can use
``MailSandbox.attach(DIR)`` to send and read mail.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mailer.errors import MailerError
from sandbox.servers import MailSandbox


def main(argv: list[str] | None = None) -> int:
    """Exit status 0 on success, 1 on a sandbox error, 2 on bad usage, 3: not running."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] not in ("start", "stop", "status"):
        print("usage: python -m sandbox start|stop|status DIR", file=sys.stderr)
        return 2
    command, base = args[0], Path(args[1])
    try:
        if command == "start":
            sb = MailSandbox(base_dir=base, guard=False).start()
        else:
            sb = MailSandbox.attach(base)
            if command == "stop":
                sb.stop()
                print(f"mail sandbox in {base} stopped")
                return 0
        running = sb.running
        print(
            f"mail sandbox in {sb.dir} {'running' if running else 'NOT running'}\n"
            f"  IMAP {sb.host}:{sb.imap_port}  SMTP {sb.host}:{sb.smtp_port}  "
            f"LMTP {sb.host}:{sb.lmtp_port}\n"
            f"  users {' '.join(sb.users)}  password {sb.password}\n"
            f"  logs {sb.dir}/log/dovecot.log {sb.dir}/log/postfix.log"
        )
    except MailerError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 1
    return 0 if running else 3
