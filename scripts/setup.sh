#!/usr/bin/env bash
# setup.sh - make this machine ready for mailer's tests and demo (Debian 12, as root).
#
#   sudo scripts/setup.sh        (any cwd; safe to re-run; works without a terminal, e.g. CI)
#
# 1. installs Dovecot (IMAP + LMTP), Postfix, PostgreSQL and Chromium (with chromedriver) from
#    Debian, only if missing. The tests start their own throw-away instances
#    (sandbox/servers.py, sandbox/postgres.py); the system's own services (and the cluster
#    Debian's postgresql package creates) stay stopped.
# 2. creates .venv in the repository root (Python >= 3.11) if missing
# 3. pip install -e '.[test]' into it
set -euo pipefail

# systemd: systemd-analyze for the unit tests; chromium + chromium-driver: the report page is
# opened in a real headless browser (tests/integration/test_report_page.py)
PACKAGES=(dovecot-imapd dovecot-lmtpd postfix postgresql systemd chromium chromium-driver)

say() { echo "setup: $*"; }
die() { echo "setup: ERROR: $*" >&2; exit 1; }
trap 'die "failed at line $LINENO (command: $BASH_COMMAND)"' ERR

LOG=$(mktemp /tmp/mailer-setup.XXXXXX.log)
quiet() {  # run "$@" with its output in $LOG; show the end of it if it fails
  "$@" </dev/null >"$LOG" 2>&1 || { tail -n 25 "$LOG" >&2; return 1; }
}

cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."
[ -f pyproject.toml ] || die "cannot find the repository root (no pyproject.toml in $PWD)"
ROOT=$PWD

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

python_ok() {  # $1 = interpreter; true if it is Python >= 3.11
  "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}

venv_works() {  # can $1 create a venv with pip? (Debian splits this into python3-venv)
  local tmp rc=0
  tmp=$(mktemp -d)
  "$1" -m venv "$tmp/v" >/dev/null 2>&1 || rc=1
  rm -rf "$tmp"
  return $rc
}

find_python() {
  local py
  for py in python3.13 python3.12 python3.11 python3; do
    if command -v "$py" >/dev/null && python_ok "$py"; then command -v "$py"; return 0; fi
  done
  return 1
}

# --- 1. system packages -----------------------------------------------------------------------
missing=()
for pkg in "${PACKAGES[@]}"; do installed "$pkg" || missing+=("$pkg"); done
if [ -d .venv ] && python_ok .venv/bin/python; then
  :  # the venv exists: no Python packages needed from apt
elif ! PY=$(find_python); then
  missing+=(python3 python3-venv)
elif ! venv_works "$PY"; then
  missing+=(python3-venv)
fi

if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "must run as root to install ${missing[*]}: sudo $0"
  command -v apt-get >/dev/null || die "no apt-get: install ${missing[*]} by hand (Debian 12 expected)"
  export DEBIAN_FRONTEND=noninteractive
  # "No configuration": the package writes no /etc/postfix/main.cf and starts no system Postfix
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  echo "postfix postfix/mailname string localhost" | debconf-set-selections
  say "apt-get update"
  quiet apt-get update -q || die "apt-get update failed (network? apt sources?)"
  say "installing ${missing[*]}"
  quiet apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}" || die "apt-get install ${missing[*]} failed"
else
  say "Dovecot, Postfix, PostgreSQL and Chromium already installed"
fi

# --- 2. keep the system's own mail servers stopped (the tests run their own) ----------------
if [ "$(id -u)" = 0 ]; then
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    for svc in dovecot postfix postgresql; do
      if systemctl is-active --quiet "$svc" 2>/dev/null; then
        say "stopping system $svc"
        systemctl stop "$svc" >/dev/null 2>&1 || true
      fi
    done
  else  # no systemd: only the default instances (our sandboxes use their own pid files)
    pid=$(cat /run/dovecot/master.pid 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      say "stopping system dovecot"; dovecot stop >/dev/null 2>&1 || true
    fi
    pid=$(tr -d ' ' 2>/dev/null </var/spool/postfix/pid/master.pid || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      say "stopping system postfix"; postfix stop >/dev/null 2>&1 || true
    fi
  fi
  # Debian's package creates and starts a cluster (main, port 5432); the tests run their own
  if command -v pg_lsclusters >/dev/null; then
    pg_lsclusters --no-header 2>/dev/null | while read -r ver name _ status _; do
      if [ "$status" = online ]; then
        say "stopping system PostgreSQL cluster $ver/$name"
        pg_ctlcluster "$ver" "$name" stop >/dev/null 2>&1 || true
      fi
    done || true
  fi
fi

# --- 3. virtualenv + mailer with its test extras ----------------------------------------------
if [ -x .venv/bin/python ] && python_ok .venv/bin/python; then
  say "using existing $ROOT/.venv ($(.venv/bin/python -V 2>&1))"
else
  [ -e .venv ] && die "$ROOT/.venv exists but has no working Python >= 3.11: remove it and re-run"
  PY=$(find_python) || die "no Python >= 3.11 found (Debian 12: apt-get install python3)"
  say "creating $ROOT/.venv with $PY ($("$PY" -V 2>&1))"
  "$PY" -m venv .venv || die "python -m venv failed (Debian: apt-get install python3-venv)"
fi

say "pip install -e '.[test]'"
quiet .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]' \
  || die "pip install failed (network? see the output above)"

for bin in /usr/sbin/dovecot /usr/lib/dovecot/imap /usr/lib/dovecot/lmtp /usr/lib/postfix/sbin/master \
  /usr/bin/chromium /usr/bin/chromedriver; do
  [ -x "$bin" ] || die "$bin missing after install"
done
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || die "PostgreSQL's initdb missing after install"
rm -f "$LOG"
say "done: run the tests with  .venv/bin/pytest   (integration tests need root)"
