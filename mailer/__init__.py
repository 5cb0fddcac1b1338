"""mailer: a shared help mailbox that answers like a great internal service desk.

The shipped templates and example configs are in ``shipped_dir()`` (``templates/<lang>/``
and ``config/*.example.toml``); to find them after ``pip install``::

    python -c "import mailer; print(mailer.shipped_dir())"
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def checkout() -> Path | None:
    """The repository root when running from a checkout (or an editable install)."""
    root = _HERE.parent
    if (root / "pyproject.toml").is_file() and (root / "templates").is_dir():
        return root
    return None


def shipped_dir() -> Path:
    """Where ``templates/`` and ``config/`` are: the checkout's own, else the wheel's copy.

    A checkout wins so that editing ``templates/`` takes effect without reinstalling; a wheel
    carries them as ``mailer/_shipped/`` (pyproject's package-dir maps them there).
    """
    return checkout() or _HERE / "_shipped"


@cache
def version() -> str:
    """The installed distribution's version; a plain checkout reads pyproject.toml."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("mailer")
    except PackageNotFoundError:
        pass
    root = checkout()
    if root is None:
        return "0+unknown"
    import tomllib

    with (root / "pyproject.toml").open("rb") as f:
        return str(tomllib.load(f)["project"]["version"])


def __getattr__(name: str) -> str:
    """``mailer.__version__``, looked up only when asked: importing mailer stays cheap."""
    if name == "__version__":
        return version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
