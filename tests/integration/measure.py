"""Run ``mailer`` in a child process and measure it: exit code, wall time, peak RSS.

Peak RSS is the child's own VmHWM, read by the child itself at exit (an ``atexit`` hook in a
small launcher): ``wait4``'s ru_maxrss would count the parent's pages too, which a forked or
vforked child carries until its exec.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

_LAUNCHER = """
import atexit, runpy, sys
def _report(path=sys.argv.pop(1)):
    with open("/proc/self/status") as status, open(path, "w") as out:
        out.write(next(line for line in status if line.startswith("VmHWM:")).split()[1])
atexit.register(_report)
sys.argv[0] = "mailer"
runpy.run_module("mailer", run_name="__main__", alter_sys=True)
"""


@dataclass(frozen=True)
class Measured:
    code: int
    seconds: float
    peak_mb: float
    output: str


def measured(config: Path, *args: str, timeout: float = 300) -> Measured:
    """``mailer --config CONFIG ARGS...``, with its peak RSS in MB."""
    report = config.with_name(f"peak-{time.monotonic_ns()}.kb")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, str(report), "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    seconds = time.monotonic() - started
    peak = int(report.read_text()) / 1024 if report.exists() else float("nan")
    return Measured(done.returncode, seconds, peak, done.stdout + done.stderr)
