"""Remember a clean template check, so that the next start with the same inputs skips it.

``check_templates`` renders every template in every language with sample contexts: about
half of what a ``mailer run --once`` from a timer spends before its first IMAP command. Its
outcome depends only on the templates, the settings a template can see and the versions of
mailer and Jinja, so a clean outcome is remembered under a digest of exactly those, in the cache
directory (systemd's ``CacheDirectory=``, else ``$XDG_CACHE_HOME/mailer``). Any change, or
no writable cache, means a full check; an unclean check is never remembered, so its
problems are reported on every start. A reload (SIGHUP, an edited file) always checks.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from dataclasses import fields
from pathlib import Path

import jinja2

from mailer import version
from mailer.settings import Settings

__all__ = ["known_clean", "remember_clean"]
STALE = 86400.0  # seconds after which another config's mark goes


def cache_dir(environ: dict[str, str] | None = None) -> Path | None:
    env = os.environ if environ is None else environ
    systemd = env.get("CACHE_DIRECTORY", "").split(":")[0]
    if systemd:
        return Path(systemd)
    home = env.get("HOME", "")
    xdg = env.get("XDG_CACHE_HOME") or (str(Path(home) / ".cache") if home else "")
    return Path(xdg) / "mailer" if xdg else None


# What no template sees: connections, the store, where the files are (a clean check names
# no file); the templates themselves count by name and text, wherever they live.
UNSEEN = frozenset({"imap", "smtp", "store", "templates_dir", "config_path", "rules_path"})


def digest(settings: Settings, env: jinja2.Environment) -> str:
    """What the check's outcome depends on: every template's name and text, every setting a
    template or the check can see (their repr: frozen values), the versions of mailer and
    Jinja. Moving the config elsewhere keeps the mark; any edit of those drops it."""
    seen = [(f.name, getattr(settings, f.name)) for f in fields(settings) if f.name not in UNSEEN]
    h = hashlib.sha256()
    for part in (version(), jinja2.__version__, repr(seen)):
        h.update(part.encode("utf-8", "surrogatepass") + b"\0")
    loader = env.loader
    assert loader is not None
    for name in sorted(loader.list_templates()):
        source, _, _ = loader.get_source(env, name)
        h.update(f"{name}\0{source}\0".encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def _marker(settings: Settings, env: jinja2.Environment) -> Path | None:
    where = cache_dir()
    return None if where is None else where / f"templates-checked-{digest(settings, env)}"


def known_clean(settings: Settings, env: jinja2.Environment) -> bool:
    """True when these very templates and settings passed the check before."""
    marker = _marker(settings, env)
    if marker is None or not marker.is_file():
        return False
    with contextlib.suppress(OSError):
        os.utime(marker)  # in use: not stale
    return True


def remember_clean(settings: Settings, env: jinja2.Environment) -> None:
    """Keep the mark of a clean check; older marks go (one per config is plenty). A cache
    that cannot be written only costs the check next time."""
    marker = _marker(settings, env)
    if marker is None:
        return
    with contextlib.suppress(OSError):
        marker.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        for old in marker.parent.glob("templates-checked-*"):  # other configs' stay a day
            if old != marker and time.time() - old.stat().st_mtime > STALE:
                old.unlink(missing_ok=True)
        fd, tmp = tempfile.mkstemp(dir=marker.parent, prefix=".checked-")
        os.close(fd)
        os.replace(tmp, marker)
