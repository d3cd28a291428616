#!/usr/bin/env bash
# Runs Rasa's own designer tools against the project's endpoints, locally only:
#
#   scripts/designer_tools.sh shell [RASA SHELL ARGS...]        talk to the assistant in the terminal
#                                                               (e.g. --conversation-id anna-test)
#   scripts/designer_tools.sh interactive [RASA INTERACTIVE ARGS...]   interactive learning (write stories)
#
# Both use endpoints.yml: the encrypted tracker store (var/trackers.db) and the action server,
# which this script starts on 127.0.0.1 with its allowlisted environment (privacy/action_server.py).
# Conversations of these tools have no WhatsApp user behind them; the store seals them with a
# development key derived from the conversation id (privacy/dev_context.py), which exists only
# with BLAUPAUSE_ENV=local and a WHATSAPP_API_BASE_URL that is not Meta's. Logs: var/log/.
set -euo pipefail
cd "$(dirname "$0")/.."
tool=${1:-}
if [ "$tool" != "shell" ] && [ "$tool" != "interactive" ]; then
  echo "usage: scripts/designer_tools.sh shell|interactive [RASA ARGS...]" >&2
  exit 2
fi
shift
export RASA_TELEMETRY_ENABLED=false

# Local use only. The tools never talk to Meta (the WhatsApp channel is not loaded), so the Graph
# API base URL is a loopback stand-in address, which also allows the development key
# (privacy/dev_key.py). A shell set up for real traffic is refused rather than silently changed.
export BLAUPAUSE_ENV=${BLAUPAUSE_ENV:-local}
if [ "$BLAUPAUSE_ENV" != "local" ]; then
  echo "designer tools: BLAUPAUSE_ENV=$BLAUPAUSE_ENV; rasa shell and rasa interactive run with BLAUPAUSE_ENV=local only" >&2
  exit 2
fi
GRAPH_PORT=${GRAPH_PORT:-8765}
export WHATSAPP_API_BASE_URL=${WHATSAPP_API_BASE_URL:-http://127.0.0.1:$GRAPH_PORT}
if .venv/bin/python -c 'import os, sys; from privacy.dev_key import is_meta_api; sys.exit(0 if is_meta_api(os.environ["WHATSAPP_API_BASE_URL"]) else 1)'; then
  echo "designer tools: WHATSAPP_API_BASE_URL points at Meta; run them from a shell without real Meta settings" >&2
  exit 2
fi

RASA_PORT=${RASA_PORT:-5005}
ACTIONS_PORT=${ACTIONS_PORT:-5055}
MODEL=${MODEL:-models/current.tar.gz}
mkdir -p var/log
chmod 700 var

action_pid=""
cleanup() {
  if [ -n "$action_pid" ]; then kill "$action_pid" 2>/dev/null || true; wait "$action_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT INT TERM

echo "designer tools: starting the action server on 127.0.0.1:$ACTIONS_PORT (log: var/log/actions.log)"
SANIC_HOST=127.0.0.1 .venv/bin/python -m privacy.action_server -- \
  .venv/bin/rasa run actions --actions actions --port "$ACTIONS_PORT" \
  > var/log/actions.log 2>&1 &
action_pid=$!

# endpoints.yml names the action server on port 5055; another ACTIONS_PORT gets a copy in var/.
endpoints=endpoints.yml
if [ "$ACTIONS_PORT" != "5055" ]; then
  sed "s#http://127.0.0.1:5055/webhook#http://127.0.0.1:$ACTIONS_PORT/webhook#" endpoints.yml > var/endpoints.yml
  endpoints=var/endpoints.yml
fi

for _ in $(seq 1 120); do
  if .venv/bin/python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1).read()' \
      "http://127.0.0.1:$ACTIONS_PORT/health" 2>/dev/null; then break; fi
  if ! kill -0 "$action_pid" 2>/dev/null; then
    echo "designer tools: the action server stopped; the last lines of its log:" >&2
    tail -n 20 var/log/actions.log >&2
    exit 1
  fi
  sleep 1
done

if [ "$tool" = "shell" ]; then
  # rasa shell serves the cmdline channel on 127.0.0.1 only; --conversation-id picks up a conversation.
  .venv/bin/rasa shell --model "$MODEL" --endpoints "$endpoints" --interface 127.0.0.1 --port "$RASA_PORT" "$@"
else
  # rasa interactive serves Rasa's HTTP API on 0.0.0.0:$RASA_PORT (Rasa chooses the interface);
  # the story graph (another server on 0.0.0.0, port + 1) only with DESIGNER_VISUALIZE=1.
  visualize=(--skip-visualization)
  if [ "${DESIGNER_VISUALIZE:-0}" = "1" ]; then visualize=(); fi
  .venv/bin/rasa interactive --model "$MODEL" --endpoints "$endpoints" --port "$RASA_PORT" "${visualize[@]}" "$@"
fi
