"""The wheel is what admins install: built from the repo, in a fresh venv, it must work alone.

No network: the wheel is built with this venv's setuptools (no build isolation) and installed
with ``--no-index``; its dependencies come from this venv, linked into a directory that holds
them and nothing of mailer, so only the installed copy of mailer can answer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from sandbox.servers import MailSandbox
from tests.integration.helpers import receipts, request, write_config

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
NOT_SOURCE = ("*.egg-info", "build", "dist", ".venv", ".git", "*cache*", "*.sqlite3*", "demo-run")
CONFIG = """\
[service]
name = "IT Help Desk"
address = "helpdesk@example.test"
[imap]
host = "127.0.0.1"
port = 10143
security = "none"
username = "helpdesk"
password = "secret"
[smtp]
host = "127.0.0.1"
port = 10025
security = "none"
[store]
path = "mailer.sqlite3"
[teams.it]
name = "IT Support"
address = "it-team@example.test"
[[rules]]
name = "printers"
team = "it"
  [rules.match]
  subject = ["printer"]
"""


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Outside the repo, without PYTHONPATH or $MAILER_CONFIG: nothing but the venv counts."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MAILER_CONFIG")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def build_wheel(tmp: Path) -> Path:
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    pip = (sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index")
    done = run(*pip, "-w", tmp / "dist", src, cwd=tmp)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (wheel,) = (tmp / "dist").glob("mailer-*.whl")
    return wheel


def link_dependencies(wheel: Path, target: Path) -> None:
    """This venv's copies of the wheel's dependencies (and theirs), as links in ``target``."""
    with zipfile.ZipFile(wheel) as zf:
        meta = zf.read(f"mailer-{VERSION}.dist-info/METADATA").decode()
    # (requirement, the extras its parent asked for: psycopg[binary] brings psycopg-binary)
    todo = [(r, frozenset[str]()) for r in Parser().parsestr(meta).get_all("Requires-Dist") or []]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        text, extras = todo.pop()
        req = Requirement(text)
        wanted = {"", *extras}
        if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in wanted):
            continue
        name = canonicalize_name(req.name)
        if (name, frozenset(req.extras)) in seen:
            continue
        seen.add((name, frozenset(req.extras)))
        dist = metadata.distribution(name)
        todo.extend((r, frozenset(req.extras)) for r in dist.requires or [])
        for top in {f.parts[0] for f in dist.files or []}:
            if top not in ("..", "__pycache__") and not top.endswith(".pth"):
                link = target / top
                if not link.exists():
                    link.symlink_to(Path(str(dist.locate_file(top))))


def test_the_wheel_installs_alone_and_renders_its_templates(
    tmp_path: Path, sandbox: MailSandbox
) -> None:
    wheel = build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(ROOT).as_posix() for p in ROOT.glob("mailer/**/*.py")}
    assert modules <= names, sorted(modules - names)  # every subpackage is carried
    assert not any(n.startswith("sandbox/") for n in names)
    shipped = [p.relative_to(ROOT).as_posix() for p in sorted(ROOT.glob("templates/*/*.j2"))]
    shipped += [p.relative_to(ROOT).as_posix() for p in sorted(ROOT.glob("config/*.example.toml"))]
    assert shipped and {f"mailer/_shipped/{name}" for name in shipped} <= names
    assert not any(n.startswith(("templates/", "config/", "tests/")) for n in names)

    venv, deps, work = tmp_path / "venv", tmp_path / "deps", tmp_path / "work"
    deps.mkdir()
    work.mkdir()
    assert run(sys.executable, "-m", "venv", venv, cwd=work).returncode == 0
    link_dependencies(wheel, deps)
    site = venv / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    (site / "mailer_test_deps.pth").write_text(f"{deps}\n", encoding="utf-8")
    bin_ = venv / "bin"
    done = run(bin_ / "python", "-m", "pip", "install", "--no-index", wheel, cwd=work)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert run(bin_ / "python", "-m", "pip", "check", cwd=work).returncode == 0

    for version in (run(bin_ / "mailer", "--version", cwd=work),
                    run(bin_ / "python", "-m", "mailer", "--version", cwd=work)):  # fmt: skip
        assert (version.returncode, version.stdout) == (0, f"mailer {VERSION}\n"), version.stderr
    where = run(bin_ / "python", "-c", "import mailer; print(mailer.__file__)", cwd=work)
    assert Path(where.stdout.strip()).is_relative_to(site), where
    found = run(bin_ / "python", "-c", "import mailer; print(mailer.shipped_dir())", cwd=work)
    examples = Path(found.stdout.strip()) / "config"
    assert sorted(p.name for p in examples.glob("*.example.toml")) == sorted(
        Path(name).name for name in shipped if name.startswith("config/")
    )

    config = work / "mailer.toml"
    config.write_text(CONFIG, encoding="utf-8")
    check = run(bin_ / "mailer", "--config", config, "check", cwd=work)
    assert check.returncode == 0 and "OK" in check.stdout, check.stdout + check.stderr
    preview = run(bin_ / "mailer", "--config", config, "templates", "preview", "receipt",
                  "--lang", "it", cwd=work)  # fmt: skip
    assert preview.returncode == 0, preview.stderr
    assert "it/receipt.txt.j2" in preview.stdout and "Gentile" in preview.stdout
    shown = run(bin_ / "mailer", "--config", config, "config", cwd=work)  # tomli-w is there
    assert shown.returncode == 0 and 'password = "********"' in shown.stdout, shown.stderr
    (work / "printed.toml").write_text(shown.stdout, encoding="utf-8")
    check = run(bin_ / "mailer", "--config", work / "printed.toml", "check", cwd=work)
    assert check.returncode == 0 and "OK (1 rules)" in check.stdout, check.stdout + check.stderr
    psl = "from mailer.core.reading.authres import *; print(organisational_domain('x.b.co.uk'))"
    found = run(bin_ / "python", "-c", psl, cwd=work)  # the Public Suffix List came along
    assert found.stdout == "b.co.uk\n", found.stderr

    # The test and demo mail servers are not part of the product.
    for module in ("sandbox", "sandbox.servers", "mailer.sandbox"):
        imported = run(bin_ / "python", "-c", f"import {module}", cwd=work)
        assert imported.returncode == 1 and "ModuleNotFoundError" in imported.stderr, module
    demo = run(bin_ / "mailer", "demo", cwd=work)
    assert demo.returncode != 0 and "scripts/demo.sh" in demo.stderr, demo.stderr

    # The installed daemon does its job against real servers.
    (work / "real").mkdir()
    real = write_config(work / "real", sandbox)
    sandbox.send(request(1), mail_from="alice@example.test", rcpt_to=["helpdesk@example.test"])
    sandbox.wait_for_messages("helpdesk", 1)
    assert run(bin_ / "mailer", "--config", real, "check", cwd=work).returncode == 0
    once = run(bin_ / "mailer", "--config", real, "run", "--once", cwd=work)
    assert once.returncode == 0, once.stdout[-2000:] + once.stderr[-2000:]
    sandbox.wait_for_messages("alice", 1)
    assert len(receipts(sandbox, "alice")) == 1
