#!/usr/bin/env bash
# Starts the loopback PostgreSQL and Redis used by the scale-out tests, if they are installed
# here and not running; under CI=true installs Prometheus (and promtool) and Chromium if missing. On a machine without them nothing happens: those tests then skip with
# a message (or fail under CI=true, where they must run).
set -uo pipefail
if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "services: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  fi
fi
if command -v redis-cli >/dev/null && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  if command -v redis-server >/dev/null; then
    echo "services: starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no || true
  fi
fi
# Prometheus (tests/e2e/test_prometheus_scrape.py) and promtool (tests/unit/observability/test_ops_files.py)
# come from Debian's prometheus package. Installed only under CI=true, where those tests must run.
if [ "${CI:-}" = "true" ] && [ ! -x /usr/bin/prometheus ]; then
  echo "services: installing Debian's prometheus package (for the Prometheus e2e test and promtool)"
  SUDO=""
  if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
  if ! { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus \
         || { $SUDO apt-get update -q && $SUDO env DEBIAN_FRONTEND=noninteractive \
              apt-get install -y --no-install-recommends prometheus; }; }; then
    echo "services: ERROR: apt-get could not install prometheus; the Prometheus e2e test and the promtool" >&2
    echo "services: checks will fail under CI=true. Install it by hand: apt-get install prometheus" >&2
  fi
fi
# Chromium and its driver (tests/browser/, driven by Playwright: harness/chromium.py) come from
# Debian's packages, never from a browser download. Installed only under CI=true, where the browser
# tests must run; elsewhere they skip and say how to install it.
if [ "${CI:-}" = "true" ] && [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  echo "services: installing Debian's chromium and chromium-driver packages (for the browser tests)"
  SUDO=""
  if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
  if ! { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver \
         || { $SUDO apt-get update -q && $SUDO env DEBIAN_FRONTEND=noninteractive \
              apt-get install -y --no-install-recommends chromium chromium-driver; }; }; then
    echo "services: ERROR: apt-get could not install chromium; the browser tests will fail under CI=true." >&2
    echo "services: Install it by hand: apt-get install chromium chromium-driver" >&2
  fi
fi
exit 0
