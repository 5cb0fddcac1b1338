"""Many messages into a sandbox mailbox at once, for benchmarks of big mailboxes.

APPEND over IMAP stores about a hundred messages a second on a busy machine: 100,000 take
a quarter of an hour. ``doveadm import`` copies a whole maildir in one process instead, and
keeps each file's modification time as the message's INTERNALDATE, so old mail stays old.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from sandbox.layout import MAIL_USER, Layout
from sandbox.setup import SandboxError


def import_messages(root: Path, user: str, raws: Iterable[bytes], when: datetime) -> int:
    """Store ``raws`` in ``user``'s INBOX of the sandbox at ``root`` with INTERNALDATE
    ``when``; returns how many. The sandbox must be running."""
    mail = pwd.getpwnam(MAIL_USER)
    stamp = when.timestamp()
    source = Path(tempfile.mkdtemp(prefix="import-", dir=root))
    try:
        for sub in ("cur", "new", "tmp"):
            (source / sub).mkdir()
            os.chown(source / sub, mail.pw_uid, mail.pw_gid)
        os.chown(source, mail.pw_uid, mail.pw_gid)
        count = 0
        for count, raw in enumerate(raws, start=1):
            path = source / "cur" / f"{int(stamp)}.M{count}P{os.getpid()}.bulk:2,"
            path.write_bytes(raw)
            os.chown(path, mail.pw_uid, mail.pw_gid)
            os.utime(path, (stamp, stamp))
        conf = Layout(root).dovecot_conf
        done = subprocess.run(
            ["doveadm", "-c", str(conf), "import", "-u", user, f"maildir:{source}", "", "all"],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SandboxError(f"doveadm import failed: {done.stderr.strip()}")
        return count
    finally:
        shutil.rmtree(source, ignore_errors=True)
