"""Throw-away PKI for the mail sandbox's opt-in TLS mode, made with the ``openssl`` command.

A CA (``ca.pem``) signs one server certificate for ``127.0.0.1`` (IP SAN) and ``localhost``.
The extensions satisfy strict verifiers too (key usage, key identifiers), so clients can use
``ca.pem`` as their only trust anchor.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mailer.errors import MailerError

_EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
_CA_EXT = [
    "-addext", "basicConstraints=critical,CA:TRUE",
    "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    "-addext", "subjectKeyIdentifier=hash",
]  # fmt: skip
_LEAF_EXT = """\
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


@dataclass(frozen=True)
class TlsFiles:
    """The PEM files below one directory: CA certificate, server certificate and key."""

    root: Path

    @property
    def ca(self) -> Path:
        return self.root / "ca.pem"

    @property
    def cert(self) -> Path:
        return self.root / "server.pem"

    @property
    def key(self) -> Path:
        return self.root / "server.key"

    @property
    def ready(self) -> bool:
        return all(p.is_file() for p in (self.ca, self.cert, self.key))


def make_pki(directory: Path, days: int = 30) -> TlsFiles:
    """Create (or reuse) the CA and the server certificate in ``directory``."""
    files = TlsFiles(directory)
    if files.ready:
        return files
    if shutil.which("openssl") is None:
        raise MailerError(
            "the sandbox's TLS mode needs the openssl command: apt-get install openssl"
        )
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        done = subprocess.run(
            ["openssl", *args], cwd=directory, capture_output=True, text=True, timeout=60
        )
        if done.returncode != 0:
            raise MailerError(f"openssl {args[0]} failed: {done.stderr.strip()}")

    subj = ["-subj", "/CN=mailer sandbox test CA"]
    openssl("req", "-x509", *_EC, *_CA_EXT, "-days", str(days), "-keyout", "ca.key",
            "-out", "ca.pem", *subj)  # fmt: skip
    openssl("req", "-new", *_EC, "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=localhost")  # fmt: skip
    (directory / "server.ext").write_text(_LEAF_EXT)
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", str(days), "-extfile", "server.ext",
            "-out", "server.pem")  # fmt: skip
    for path in directory.iterdir():
        path.chmod(0o600)  # the key files; Dovecot's master (root) reads them at start
    files.ca.chmod(0o644)
    files.cert.chmod(0o644)
    return files
