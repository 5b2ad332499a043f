#!/usr/bin/env bash
# Create .venv and install the project into it (with extras "$1", e.g. "test").
# Idempotent and quick when nothing changed: the install is redone only when pyproject.toml
# changes. Used by ./run.sh and ./test.sh so both work on a fresh Debian box with Python 3.11.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -m venv .venv 2>/dev/null; then
    # Debian splits venv out of the interpreter package.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "bootstrap: installing python3-venv" >&2
      apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
      rm -rf .venv && "$PYTHON" -m venv .venv
    else
      echo "bootstrap: '$PYTHON -m venv' failed; install python3-venv (sudo apt-get install python3-venv)" >&2
      exit 1
    fi
  fi
fi
# The sandbox jails student code with bubblewrap; without it, it runs with a loud warning.
if ! command -v bwrap >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "bootstrap: installing bubblewrap (the sandbox's jail)" >&2
    apt-get install -y -qq bubblewrap >/dev/null 2>&1 \
      || { apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null; } \
      || echo "bootstrap: could not install bubblewrap; the sandbox will run without its jail" >&2
  else
    echo "bootstrap: bubblewrap (bwrap) is missing: sudo apt-get install bubblewrap" >&2
  fi
fi
# The browser tests drive Debian's Chromium (never a downloaded browser build).
if [ "$extras" = "test" ] && ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "bootstrap: installing chromium for the browser tests" >&2
    apt-get install -y -qq chromium >/dev/null 2>&1 \
      || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
  else
    echo "bootstrap: chromium is missing: sudo apt-get install chromium" >&2
  fi
fi
stamp=".venv/.installed-${extras:-base}"
digest=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
  spec="."
  [ -n "$extras" ] && spec=".[$extras]"
  echo "bootstrap: installing backprop-grader${extras:+[$extras]} into .venv (torch==2.13.0 CPU)…" >&2
  .venv/bin/python -m pip install -q --disable-pip-version-check -e "$spec" 2>&1 \
    | grep -v "is ignored: it is neither a file nor a directory" >&2 || true
  .venv/bin/python -c "import torch, grader" >/dev/null
  echo "$digest" > "$stamp"
fi
