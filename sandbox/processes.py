"""Process plumbing of the mail sandbox: ports, PIDs, stopping whole server trees, watchdog.

Standard library only: this file is also run as a script (the watchdog), without the package
on the path.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the kernel's pick; tiny race until we bind it)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def listening(port: int, host: str = "127.0.0.1") -> bool:
    """True if a TCP socket listens on host:port.

    Reads /proc/net/tcp rather than connecting: a probe connection would show up as noise
    ("lost connection after CONNECT") in the servers' logs.
    """
    want = f"{socket.inet_aton(host)[::-1].hex().upper()}:{port:04X}"
    anyaddr = f"00000000:{port:04X}"
    try:
        with open("/proc/net/tcp") as f:
            for line in f:
                fields = line.split()
                if len(fields) > 3 and fields[3] == "0A" and fields[1] in (want, anyaddr):
                    return True
        return False
    except OSError:
        with socket.socket() as s:
            s.settimeout(0.3)
            return s.connect_ex((host, port)) == 0


def wait_listening(ports: Iterable[int], timeout: float) -> list[int]:
    """Wait until every port listens; return the ones that still do not."""
    deadline = time.monotonic() + timeout
    missing = list(ports)
    while True:
        missing = [p for p in missing if not listening(p)]
        if not missing or time.monotonic() > deadline:
            return missing
        time.sleep(0.01)


def read_pid(pidfile: Path, owner: Path | None = None) -> int | None:
    """The PID in ``pidfile``; with ``owner``, only if that process was started with a path
    below ``owner`` on its command line (a stale pidfile may name a reused PID)."""
    try:
        pid = int(pidfile.read_text().split()[0])
        if owner is not None and f"{owner}/" not in Path(f"/proc/{pid}/cmdline").read_text():
            return None
        return pid
    except (OSError, ValueError, IndexError):
        return None


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is gone for our purposes
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def session_members(sid: int) -> list[int]:
    """PIDs in session ``sid``: both masters call setsid(), so this is a server's whole tree."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        # fields after "(comm)": state ppid pgrp session ...
        if fields[0] != "Z" and int(fields[3]) == sid:
            found.append(int(entry))
    return found


def terminate(masters: Iterable[int | None], timeout: float = 8.0) -> list[int]:
    """SIGTERM each master, wait until its whole session is gone, SIGKILL what is left.

    Dovecot's master lingers: it keeps its log process, then idles on a fixed ~1 s timer
    after its last child is gone. So after 0.1 s the remaining children get SIGTERM too, and a
    master left alone for 0.3 s gets SIGKILL (it has nothing left to stop). Returns the PIDs
    killed after the timeout (none normally).
    """
    sids = [p for p in masters if p and alive(p)]
    _signal(sids, signal.SIGTERM)
    start = time.monotonic()
    nudged = False
    alone_since: float | None = None
    while True:
        left = [m for sid in sids for m in session_members(sid)]
        now = time.monotonic()
        if not left or now - start > timeout:
            break
        if now - start > 0.1 and not nudged:
            _signal([m for m in left if m not in sids], signal.SIGTERM)
            nudged = True
        if set(left) <= set(sids):
            alone_since = alone_since or now
            if now - alone_since > 0.3:
                _signal(left, signal.SIGKILL)
        else:
            alone_since = None
        time.sleep(0.01)
    _signal(left, signal.SIGKILL)
    return left


def _signal(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def start_watchdog(root: Path, pidfiles: list[Path], remove: bool) -> subprocess.Popen[bytes]:
    """A helper process that stops the servers if we die without stopping them.

    It blocks reading a pipe from us; EOF (our exit, even by SIGKILL or os._exit) makes it
    terminate whatever the pidfiles still name, then remove ``root`` if asked to. stop() kills
    it first. Run as a script with -I: stdlib only, nothing shadowed from this directory.
    """
    args = [
        sys.executable,
        "-I",
        __file__,
        "watch",
        str(root),
        "1" if remove else "0",
        *map(str, pidfiles),
    ]
    return subprocess.Popen(
        args,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


def _watch(root: str, remove: str, pidfiles: list[str]) -> None:
    sys.stdin.buffer.read()  # returns at EOF: our parent closed the pipe or died
    terminate([read_pid(Path(p), Path(root)) for p in pidfiles])
    if remove == "1":
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__" and len(sys.argv) >= 4 and sys.argv[1] == "watch":
    _watch(sys.argv[2], sys.argv[3], sys.argv[4:])
