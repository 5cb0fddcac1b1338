"""Directory preparation and server start-up of the mail sandbox, with actionable errors.

Start-up is fast (~0.1 s) because it skips ``postfix start``: that runs ``postfix check`` and
polls in 1 s steps. We create the queue directories with Postfix's own owners and modes and run
``master -w`` (waits until the master is initialised), falling back to ``postfix check`` only to
explain a failure. Also: Postfix re-reads a main.cf younger than ~2 s, so we backdate it.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import time
from pathlib import Path

from imapclient import IMAPClient

from mailer.errors import MailerError
from sandbox.layout import (
    MAIL_USER,
    POSTFIX_QUEUE_DIRS,
    Layout,
    Ports,
    dovecot_conf,
    postfix_main_cf,
    postfix_maps,
    postfix_master_cf,
    users_file,
)
from sandbox.processes import alive, free_port, listening, read_pid, wait_listening
from sandbox.tls import make_pki

DOVECOT = "/usr/sbin/dovecot"
POSTFIX_MASTER = "/usr/lib/postfix/sbin/master"
INSTALL_HINT = (
    "run `sudo scripts/setup.sh` from the mailer repository (Debian 12: apt-get install "
    "--no-install-recommends dovecot-imapd dovecot-lmtpd postfix)"
)
_NEEDS = {
    DOVECOT: "dovecot-core",
    "/usr/lib/dovecot/imap": "dovecot-imapd",
    "/usr/lib/dovecot/lmtp": "dovecot-lmtpd",
    POSTFIX_MASTER: "postfix",
    "/usr/sbin/postsuper": "postfix",
}
_QUEUES = ("maildrop", "incoming", "active", "deferred", "hold")


class SandboxError(MailerError):
    """The mail sandbox cannot run; the message says what to do about it."""


class SandboxTimeoutError(SandboxError, TimeoutError):
    """Expected mail did not arrive in time."""


class PortBusyError(SandboxError):
    """A port the sandbox needs is taken by another program."""


def preflight() -> None:
    """Fail early, saying what to do, when this machine cannot run the sandbox."""
    if os.geteuid() != 0:
        raise SandboxError(
            "the mail sandbox must run as root (the Dovecot and Postfix masters need it): "
            "run the tests/demo with sudo or in the CI container as root"
        )
    missing = sorted({pkg for path, pkg in _NEEDS.items() if not os.path.exists(path)})
    if missing:
        raise SandboxError(f"not installed: {', '.join(missing)}; {INSTALL_HINT}")
    try:
        for user in (MAIL_USER, "dovecot", "dovenull", "postfix"):
            pwd.getpwnam(user)
        grp.getgrnam("postdrop")
    except KeyError as exc:
        raise SandboxError(f"system user/group {exc} missing; {INSTALL_HINT}") from None


def _own(path: Path, user: str, group: str, mode: int) -> None:
    os.chown(path, pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid)
    os.chmod(path, mode)


def prepare_dir(base_dir: Path | None) -> tuple[Layout, bool]:
    """A fresh sandbox directory; (layout, True) when we created it and must remove it."""
    if base_dir is None:
        root, owned = Path(tempfile.mkdtemp(prefix="mailsb-", dir="/tmp")), True
    else:
        root, owned = Path(base_dir).resolve(), False
        if str(root) in ("/", "/tmp", "/root", "/home", "/var", "/etc", "/usr"):
            raise SandboxError(f"refusing to use {root} as sandbox dir: pick e.g. /tmp/mailsb")
        lay = Layout(root)
        if any(alive(read_pid(p, root)) for p in (lay.dovecot_pidfile, lay.postfix_pidfile)):
            raise SandboxError(
                f"a sandbox is running in {root}: `python -m sandbox stop {root}` first"
            )
        root.mkdir(parents=True, exist_ok=True)
        for name in ("run", "state", "mail", "log", "pf", "spool", "pfdata", "tls"):
            shutil.rmtree(root / name, ignore_errors=True)
    if len(str(root)) > 60:
        raise SandboxError(f"sandbox dir {root} is too long for UNIX socket paths: use /tmp/X")
    for parent in root.parents:
        if not os.stat(parent).st_mode & stat.S_IXOTH:
            raise SandboxError(
                f"{parent} is not traversable by other users (dovecot, mail, "
                "postfix): chmod o+x it or pick a dir under /tmp"
            )
    lay = Layout(root)
    os.chmod(root, 0o755)
    for path in (lay.run, lay.state, lay.log, lay.pf_etc, lay.pf_spool):
        path.mkdir(mode=0o755)
        os.chmod(path, 0o755)
    lay.mail.mkdir()
    _own(lay.mail, MAIL_USER, MAIL_USER, 0o750)
    lay.pf_data.mkdir()
    _own(lay.pf_data, "postfix", "postfix", 0o700)
    for name, (user, group, mode) in POSTFIX_QUEUE_DIRS.items():
        (lay.pf_spool / name).mkdir()
        _own(lay.pf_spool / name, user, group, mode)
    lay.dovecot_log.touch()
    _own(lay.dovecot_log, "dovecot", "dovecot", 0o644)
    lay.postfix_log.touch()
    return lay, owned


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _run(args: list[str], out: Path) -> tuple[int, str]:
    """Run a command that daemonizes; its output goes to a file, since a daemon would keep a
    pipe open and make us wait forever for EOF."""
    with open(out, "w+") as f:
        code = subprocess.run(
            args,
            stdin=subprocess.DEVNULL,
            stdout=f,
            stderr=f,
            timeout=30,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        ).returncode
        f.seek(0)
        return code, f.read().strip()


def _check_free(ports: list[int]) -> None:
    busy = [p for p in ports if listening(p)]
    if busy:
        raise PortBusyError(
            f"port {busy[0]} on 127.0.0.1 is already in use: stop what listens "
            f"there (`ss -ltnp 'sport = :{busy[0]}'`) or let the sandbox pick ports"
        )


def pick_ports(wanted: Ports, tls: bool) -> Ports:
    """The wanted ports, free ones for those left 0; an imaps port only in TLS mode."""
    imap, smtp, lmtp = (p or free_port() for p in (wanted.imap, wanted.smtp, wanted.lmtp))
    return Ports(imap, smtp, lmtp, (wanted.imaps or free_port()) if tls else 0)


def launch_dovecot(lay: Layout, ports: Ports, users: tuple[str, ...], password: str) -> None:
    """Write Dovecot's config, create every INBOX (IDLE works before the first delivery), start."""
    lay.users_file.write_text(users_file(users, password))
    _own(lay.users_file, "root", "dovecot", 0o640)  # read by the auth process (user dovecot)
    lay.dovecot_conf.write_text(dovecot_conf(lay, ports))
    for user in users:
        for sub in ("", "/cur", "/new", "/tmp"):
            path = Path(f"{lay.maildir(user)}{sub}")
            if not path.exists():
                path.mkdir(parents=True)
                _own(path, MAIL_USER, MAIL_USER, 0o700)
        _own(lay.mail / user, MAIL_USER, MAIL_USER, 0o700)
    listeners = [p for p in (ports.imap, ports.lmtp, ports.imaps) if p]
    if ports.imaps:
        make_pki(lay.tls)
    _check_free(listeners)
    code, err = _run([DOVECOT, "-c", str(lay.dovecot_conf)], lay.log / "dovecot.start")
    if code != 0:
        kind = PortBusyError if "Address already in use" in err else SandboxError
        raise kind(f"dovecot failed to start: {err}\n{_tail(lay.dovecot_log)}")
    if wait_listening(listeners, 10):
        raise SandboxError(
            f"Dovecot did not listen on {'/'.join(map(str, listeners))}; "
            f"see {lay.dovecot_log}:\n{_tail(lay.dovecot_log)}"
        )


def launch_postfix(lay: Layout, ports: Ports, users: tuple[str, ...], catchall: bool) -> None:
    """Write Postfix's config and run its master (``-w``: returns once it is initialised)."""
    (lay.pf_etc / "main.cf").write_text(postfix_main_cf(lay, ports, catchall))
    (lay.pf_etc / "master.cf").write_text(postfix_master_cf(ports))
    for name, text in postfix_maps(lay, users, catchall).items():
        (lay.pf_etc / name).write_text(text)
    # Postfix re-reads a main.cf younger than ~2 s in 300 ms steps (half-written file?)
    past = time.time() - 10
    for path in lay.pf_etc.iterdir():
        os.utime(path, (past, past))
    _check_free([ports.smtp])
    code, err = _run([POSTFIX_MASTER, "-c", str(lay.pf_etc), "-w"], lay.log / "postfix.start")
    if code != 0:
        if listening(ports.smtp):
            raise PortBusyError(f"port {ports.smtp} on 127.0.0.1 was taken while Postfix started")
        check = subprocess.run(
            ["/usr/sbin/postfix", "-c", str(lay.pf_etc), "check"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        raise SandboxError(
            f"postfix failed to start: {err}\n"
            f"postfix check: {check.stderr.strip() or 'ok'}\n"
            f"{_tail(lay.postfix_log)}"
        )
    if wait_listening([ports.smtp], 10):
        raise SandboxError(
            f"Postfix did not listen on {ports.smtp}; see {lay.postfix_log}:\n"
            f"{_tail(lay.postfix_log)}"
        )


def queued(lay: Layout) -> int:
    """Messages Postfix still holds (being received, waiting or being delivered)."""
    return sum(len(files) for q in _QUEUES for _, _, files in os.walk(lay.pf_spool / q))


def wait_queue_empty(lay: Layout, timeout: float) -> bool:
    """True once Postfix has handed everything to Dovecot (its queue files are removed then)."""
    deadline = time.monotonic() + timeout
    while queued(lay):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def drain_queue(lay: Layout, timeout: float = 3.0) -> None:
    """Let in-flight mail land, then delete what is stuck, so it cannot leak into a later test."""
    if not wait_queue_empty(lay, timeout):
        subprocess.run(
            ["/usr/sbin/postsuper", "-c", str(lay.pf_etc), "-d", "ALL"],
            capture_output=True,
            timeout=30,
            check=False,
        )


def selectable(client: IMAPClient, mailbox: str) -> bool:
    """The mailbox exists and holds mail (not just a parent of other folders)."""
    found = client.list_folders("", mailbox)
    return bool(found) and not {b"\\Noselect", b"\\NonExistent"} & set(found[0][0])


def empty_mailboxes(client: IMAPClient) -> None:
    """Delete every folder but INBOX, expunge INBOX, drop subscriptions."""
    for name in client.list_sub_folders():
        client.unsubscribe_folder(name[2])
    names = [name for _, _, name in client.list_folders() if name.upper() != "INBOX"]
    for name in sorted(names, key=len, reverse=True):  # children before parents
        if client.list_folders("", name):  # a parent that only held children is gone by now
            client.delete_folder(name)
    client.select_folder("INBOX")
    uids = client.search("ALL")
    if uids:
        client.delete_messages(uids)
        client.expunge()
    client.unselect_folder()


def postfix_trouble(lay: Layout) -> list[str]:
    """Postfix's last rejections and failed deliveries, and what its queues still hold: why
    awaited mail did not arrive."""
    try:
        text = lay.postfix_log.read_text(errors="replace")
    except OSError:
        return []
    lines = text.splitlines()
    bad = [ln for ln in lines if "reject" in ln or ("status=" in ln and "status=sent" not in ln)]
    held = {q: sum(len(f) for _, _, f in os.walk(lay.pf_spool / q)) for q in _QUEUES}
    sent = sum("status=sent" in ln for ln in lines)
    queues = ", ".join(f"{q} {n}" for q, n in held.items())
    return [*bad[-8:], f"queues: {queues}; {sent} deliveries logged as sent"]


def drop_stale_pidfiles(lay: Layout) -> None:
    """Remove pidfiles naming no live server: a SIGKILLed master stays a zombie until init
    reaps it, and Dovecot refuses to start while its old PID still answers kill(pid, 0)."""
    for pidfile in (lay.dovecot_pidfile, lay.postfix_pidfile):
        if pidfile.exists() and not alive(read_pid(pidfile, lay.root)):
            pidfile.unlink(missing_ok=True)


def fetch_all(client: IMAPClient, mailbox: str, at_least: int) -> list[bytes]:
    """Every message in UID order, or [] while fewer than ``at_least`` are there."""
    if not selectable(client, mailbox):
        return []
    info = client.select_folder(mailbox, readonly=True)
    if not info.get(b"EXISTS") or info[b"EXISTS"] < at_least:
        return []
    uids = sorted(client.search("ALL"))
    data = client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
    return [data[uid][b"BODY[]"] for uid in uids if uid in data]
