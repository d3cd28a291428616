#!/usr/bin/env bash
# Runs the assistant on embedded defaults: action server, Rasa with the WhatsApp channel and
# the encrypted SQLite tracker store, and the local Meta stand-in with a web preview or a terminal chat.
#
#   scripts/run.sh          the web preview (preview/, python -m preview): chat as WhatsApp shows it
#                           on http://127.0.0.1:8700/ (PREVIEW_PORT), through the local Meta stand-in
#                           (no Meta account, no network), voice notes transcribed by the local
#                           stand-in (standins/stt/); the response gallery on /gallery
#   scripts/run.sh terminal the same, with the terminal chat (harness/chat.py) instead of the page
#   scripts/run.sh serve    serve a real Meta app (WHATSAPP_* and PRIVACY_KEY from the environment;
#                           voice notes are transcribed only when STT_BASE_URL is set)
#
# Everything listens on 127.0.0.1 only. Logs go to var/log/.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-chat}
export RASA_TELEMETRY_ENABLED=false
# Rasa renders its structlog events as JSON when this is set (also on a terminal), which is
# the shape the log redaction can allowlist field by field (privacy/log_redaction/).
export FORCE_JSON_LOGGING=1
mkdir -p var/log
chmod 700 var

RASA_PORT=${RASA_PORT:-5005}
ACTIONS_PORT=${ACTIONS_PORT:-5055}
GRAPH_PORT=${GRAPH_PORT:-8765}
STT_PORT=${STT_PORT:-8098}
PREVIEW_PORT=${PREVIEW_PORT:-8700}
start_stt=no

if [ "$mode" = "chat" ] || [ "$mode" = "terminal" ]; then
  # Local use: a development privacy key in var/privacy.key (0600, git-ignored), and one-off
  # random credentials shared only between this script's processes. Nothing is committed.
  export BLAUPAUSE_ENV=${BLAUPAUSE_ENV:-local}
  token() { .venv/bin/python -c 'import secrets; print(secrets.token_hex(16))'; }
  export WHATSAPP_APP_SECRET=${WHATSAPP_APP_SECRET:-$(token)}
  export WHATSAPP_VERIFY_TOKEN=${WHATSAPP_VERIFY_TOKEN:-$(token)}
  export WHATSAPP_ACCESS_TOKEN=${WHATSAPP_ACCESS_TOKEN:-$(token)}
  export WHATSAPP_PHONE_NUMBER_ID=${WHATSAPP_PHONE_NUMBER_ID:-100000000000001}
  export WHATSAPP_API_BASE_URL=${WHATSAPP_API_BASE_URL:-http://127.0.0.1:$GRAPH_PORT}
  # Voice notes: the chat puts them on its Graph stand-in (the URL above, the same access
  # token), Rasa downloads and transcribes them. A STT_BASE_URL of your own (a real server, or
  # empty to play a deployment without transcription) is used as it is; otherwise the loopback
  # transcription stand-in runs, which "hears" the chat's generated voice notes.
  if [ -z "${STT_BASE_URL+set}" ]; then
    start_stt=yes
    export STT_BASE_URL=http://127.0.0.1:$STT_PORT/v1
  fi
elif [ "$mode" != "serve" ]; then
  echo "usage: scripts/run.sh [chat|terminal|serve]" >&2
  exit 2
fi

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM
logs=(var/log/rasa.log var/log/actions.log)
ready_urls=("http://127.0.0.1:$RASA_PORT/webhooks/whatsapp/" "http://127.0.0.1:$ACTIONS_PORT/health")

if [ "$start_stt" = "yes" ]; then
  echo "run: starting the transcription stand-in on 127.0.0.1:$STT_PORT (log: var/log/stt.log)"
  .venv/bin/python -m standins.stt --port "$STT_PORT" > var/log/stt.log 2>&1 &
  pids+=($!)
  logs+=(var/log/stt.log)
  ready_urls+=("http://127.0.0.1:$STT_PORT/v1/models")
fi

echo "run: starting the action server on 127.0.0.1:$ACTIONS_PORT (log: var/log/actions.log)"
# The action server gets an allowlisted environment (privacy/action_server.py): no
# PRIVACY_KEY, no PRIVACY_OLD_KEYS, no WHATSAPP_* secrets, no store URLs. It holds no key.
SANIC_HOST=127.0.0.1 .venv/bin/python -m privacy.action_server -- \
  .venv/bin/rasa run actions --actions actions --port "$ACTIONS_PORT" \
  > var/log/actions.log 2>&1 &
pids+=($!)

# endpoints.yml names the action server on port 5055; another ACTIONS_PORT gets a copy in var/.
endpoints=endpoints.yml
if [ "$ACTIONS_PORT" != "5055" ]; then
  sed "s#http://127.0.0.1:5055/webhook#http://127.0.0.1:$ACTIONS_PORT/webhook#" endpoints.yml > var/endpoints.yml
  endpoints=var/endpoints.yml
fi

echo "run: starting Rasa with the WhatsApp channel on 127.0.0.1:$RASA_PORT (log: var/log/rasa.log)"
.venv/bin/rasa run --model models/current.tar.gz --credentials credentials.yml \
  --endpoints "$endpoints" --interface 127.0.0.1 --port "$RASA_PORT" \
  > var/log/rasa.log 2>&1 &
pids+=($!)

echo -n "run: waiting for the assistant to load its model"
for _ in $(seq 1 240); do
  if .venv/bin/python - "${ready_urls[@]}" <<'PY' 2>/dev/null; then break; fi
import sys, urllib.request
for url in sys.argv[1:]:
    urllib.request.urlopen(url, timeout=1).read()
PY
  for pid in "${pids[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo; echo "run: a server stopped; the last lines of its log:" >&2
      tail -n 20 "${logs[@]}" >&2
      exit 1
    fi
  done
  echo -n "."
  sleep 1
done
echo " ready."

if [ "$mode" = "serve" ]; then
  echo "run: serving http://127.0.0.1:$RASA_PORT/webhooks/whatsapp/webhook (put a TLS proxy in front for Meta). Ctrl-C stops."
  wait
elif [ "$mode" = "chat" ]; then
  echo "run: starting the preview (Graph API stand-in on 127.0.0.1:$GRAPH_PORT). Ctrl-C stops."
  .venv/bin/python -m preview --webhook-url "http://127.0.0.1:$RASA_PORT/webhooks/whatsapp/webhook" \
    --graph-port "$GRAPH_PORT" --port "$PREVIEW_PORT"
else
  echo "run: you are a WhatsApp user (fake number). Type messages; a number taps a button or row;"
  echo "     /voice TEXT sends a voice note (transcription: ${STT_BASE_URL:-off}); /help lists all; /quit ends."
  .venv/bin/python -m harness.chat --webhook-url "http://127.0.0.1:$RASA_PORT/webhooks/whatsapp/webhook" \
    --graph-port "$GRAPH_PORT"
fi
