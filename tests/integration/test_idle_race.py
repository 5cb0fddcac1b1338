"""No request waits for the next mail or the catch-up poll (300 s), on real Dovecot.

Pairs of requests 1.0-1.5 s apart, each pair followed by quiet, with ``[imap] sent_folder``:
the second request of a pair lands while the daemon APPENDs the first one's Sent copy,
the window in which its EXISTS used to be dropped. Latency figures belong to the benchmark
(bench/latency.py); this test holds the line far below the catch-up interval.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import latency
from sandbox.servers import MailSandbox

pytestmark = pytest.mark.integration


def test_pairs_with_a_sent_folder_are_each_acknowledged_once_within_seconds(
    sandbox: MailSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    latency.run(sandbox, tmp_path, 4, "pairs", sent_folder=True)
    line = capsys.readouterr().out
    assert "8 requests, 0 without receipt, 0 twice" in line, line
    worst = float(line.rsplit("max ", 1)[1].split(" ms")[0])
    assert worst < 10_000, line  # the catch-up poll would have taken 300 s
