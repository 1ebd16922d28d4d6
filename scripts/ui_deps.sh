#!/usr/bin/env bash
# What the headless-browser UI tests need (tests/stack/test_ui_browser.py): Debian's chromium
# (/usr/bin/chromium; Playwright's own browser download is never used) and Playwright for Python in
# .venv. Idempotent and quiet when everything is there; called by the UI tests' fixture.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "ui-deps: installing Debian chromium" >&2
  $SUDO apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends chromium >&2
fi
if ! "$ROOT/.venv/bin/python" -c "import playwright" 2>/dev/null; then
  # Until `playwright` is in requirements-dev.txt / the lock, install it into the venv directly.
  echo "ui-deps: installing playwright into .venv" >&2
  uv pip install -q -p "$ROOT/.venv/bin/python" playwright >&2
fi
