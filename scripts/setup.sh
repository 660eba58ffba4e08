#!/usr/bin/env bash
# scripts/setup.sh demo|test — everything `make demo` / `make test` need on a fresh Debian 12 or Ubuntu
# machine that has python3 (3.11+), python3-venv, pip, git, make and sudo.
#
#   1. system packages, with apt-get, only those that are missing:
#        demo: mosquitto (the hub starts it as its embedded broker)
#        test: mosquitto, mosquitto-clients, postgresql, ffmpeg, chromium, libatomic1, fonts-noto-cjk,
#              prometheus (the tests start their own servers, scrape the hub with a real Prometheus,
#              check the alert rules with promtool, and drive the console in headless chromium)
#   2. .venv with the hub installed editable, with its test tools (`pip install -e .[test]`); for
#      `test`, also dc09-spt (an independent SIA DC-09 transmitter), without its dependencies.
#
# Idempotent and quick when nothing changed: apt-get is skipped when the programs are there, pip when
# .venv/.installed is newer than pyproject.toml (dc09-spt when .venv has it). Starts no system service:
# the hub runs its own broker and the tests their own Mosquitto and PostgreSQL as plain child processes.
set -euo pipefail

profile=${1:-test}
case $profile in
  demo | test) ;;
  *) echo "usage: $0 demo|test" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*"; }

# -- 1. system packages -----------------------------------------------------------------------------

have_cmd() { # a program on PATH or in the sbin directories a non-root PATH leaves out
  command -v "$1" >/dev/null 2>&1 || [[ -x /usr/sbin/$1 || -x /usr/local/sbin/$1 || -x /sbin/$1 ]]
}

have_postgres() {
  compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || command -v pg_ctl >/dev/null 2>&1
}

missing=()
have_cmd mosquitto || missing+=(mosquitto)
if [[ $profile == test ]]; then
  have_cmd mosquitto_pub || missing+=(mosquitto-clients)
  have_postgres || missing+=(postgresql)
  have_cmd ffprobe || missing+=(ffmpeg)  # the tests check that ffprobe reads the camera simulator
  have_cmd chromium || missing+=(chromium)  # Playwright drives Debian's browser (never a downloaded one)
  # Playwright's own driver (a node binary in its wheel) links libatomic, which minimal systems lack
  compgen -G "/usr/lib/*/libatomic.so.1" >/dev/null || missing+=(libatomic1)
  # Chinese text in the console's screenshots (without a CJK font chromium draws boxes)
  compgen -G "/usr/share/fonts/opentype/noto/NotoSansCJK*" >/dev/null || missing+=(fonts-noto-cjk)
  have_cmd promtool || missing+=(prometheus)  # prometheus and promtool: started by the tests, not as a service
fi

if ((${#missing[@]})); then
  command -v apt-get >/dev/null || {
    echo "setup: missing ${missing[*]} and no apt-get here: install them by hand" >&2
    exit 1
  }
  sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null || { echo "setup: need root or sudo to install ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  mkdir -p var
  apt_log=$PWD/var/setup-apt.log
  : >"$apt_log"
  # Keep the packages' maintainer scripts from starting their system services (Mosquitto on port 1883
  # would take the embedded broker's port; the tests need no system PostgreSQL): policy-rc.d exit 101
  # means "not allowed" to invoke-rc.d and deb-systemd-invoke. Only while we install, and only when the
  # machine has no policy of its own (container images often do).
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# temporary, from pingan-hub scripts/setup.sh\nexit 101\n' \
      | "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod 755 "$policy"
    own_policy=1
    trap '"${sudo[@]}" rm -f "$policy"' EXIT
  fi
  say "installing ${missing[*]} (apt-get; output in $apt_log)"
  apt_get() {
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q "$@" >>"$apt_log" 2>&1 || {
      echo "setup: 'apt-get $*' failed; its output:" >&2
      tail -n 40 "$apt_log" >&2
      exit 1
    }
  }
  apt_get update
  apt_get install -y --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
  if ((own_policy)); then
    "${sudo[@]}" rm -f "$policy"
    trap - EXIT
  fi
  # On a systemd machine the package also enables mosquitto.service for the next boot, where it would
  # hold 127.0.0.1:1883 and keep `hub demo` from starting its own broker. We installed it only for the
  # hub, so switch that off again (an already installed Mosquitto is never touched).
  if [[ " ${missing[*]} " == *" mosquitto "* && -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
    "${sudo[@]}" systemctl disable --now mosquitto.service >/dev/null 2>&1 || true
  fi
  # Likewise Prometheus (and the node exporter it may bring): the tests start their own.
  if [[ " ${missing[*]} " == *" prometheus "* && -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
    "${sudo[@]}" systemctl disable --now prometheus.service >/dev/null 2>&1 || true
  fi
  have_cmd mosquitto || { echo "setup: mosquitto is still missing after apt-get" >&2; exit 1; }
  if [[ $profile == test ]]; then
    have_cmd mosquitto_pub || { echo "setup: mosquitto_pub is still missing after apt-get" >&2; exit 1; }
    have_postgres || { echo "setup: PostgreSQL is still missing after apt-get" >&2; exit 1; }
    have_cmd ffprobe || { echo "setup: ffprobe is still missing after apt-get" >&2; exit 1; }
    have_cmd promtool || { echo "setup: promtool is still missing after apt-get" >&2; exit 1; }
  fi
fi

# -- 2. Python virtual environment ------------------------------------------------------------------

python_ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }

if [[ -x .venv/bin/python ]] && ! python_ok .venv/bin/python; then
  say ".venv has an old or broken Python: recreating it"
  rm -rf .venv
fi
if [[ ! -x .venv/bin/python ]]; then
  python=
  for candidate in "${PYTHON:-}" python3 python3.13 python3.12 python3.11; do
    if [[ -n $candidate ]] && command -v "$candidate" >/dev/null && python_ok "$candidate"; then
      python=$candidate
      break
    fi
  done
  [[ -n $python ]] || { echo "setup: Python 3.11 or newer is required (python3 is $(python3 -V 2>&1))" >&2; exit 1; }
  say "creating .venv with $($python -V)"
  if ! "$python" -m venv .venv; then
    rm -rf .venv
    echo "setup: '$python -m venv' failed: install python3-venv (apt-get install python3-venv)" >&2
    exit 1
  fi
  rm -f .venv/.installed
fi

if [[ ! -f .venv/.installed || pyproject.toml -nt .venv/.installed ]]; then
  say "installing the hub and its test tools into .venv (pip)"
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-input -e '.[test]'
  touch .venv/.installed
fi

# dc09-spt: the tests' second, independent SIA DC-09 transmitter (tests/test_sia_dc09_spt.py). It declares
# pycrypto, which no longer builds, so it goes in without dependencies: pycryptodome (a dependency of
# pysiaalarm, in the test extras) provides the same `Crypto` module, enough for its clear-text messages.
# Checked on its own, not by the stamp, so that a .venv made before it was added gets it too.
has_dc09_spt='import importlib.util, sys; sys.exit(importlib.util.find_spec("dc09_spt") is None)'
if [[ $profile == test ]] && ! .venv/bin/python -c "$has_dc09_spt" 2>/dev/null; then
  say "installing dc09-spt into .venv (pip, without its dependencies)"
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-input --no-deps 'dc09-spt==0.0.4'
  .venv/bin/python -c 'import dc09_spt' 2>/dev/null \
    || { echo "setup: dc09-spt does not import: is pycryptodome (the Crypto module) in .venv?" >&2; exit 1; }
fi
