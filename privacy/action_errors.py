"""Keep tracker bodies out of the error path of a failing custom action, on both sides.

Why (issue 16, finding 1): when a custom action raises, rasa-sdk 3.6 answers 500 with
``{"error": str(exception), "request_body": request.json}`` (``rasa_sdk/endpoint.py``,
``exception_handler``): the whole decrypted tracker (slots, entities, events with the
user's words and coordinates). Rasa 3.6 turns that answer into
``rasa.utils.endpoints.ClientResponseError(status, reason, text=<body>)`` whose message
is ``"500, Internal Server Error, body='<body>'"``; ``RemoteAction.run`` raises a
``RasaException`` from it and the processor logs it with ``logger.exception``, so the
tracker lands in the Rasa log at ERROR, the default level.

Two independent fixes, so that either side alone is enough:

* action server: :func:`strip_sdk_error_bodies` adds a Sanic response middleware to
  the rasa-sdk app that replaces every 5xx JSON answer of ``/webhook`` by
  ``{"error": "custom action failed", "action_name": <name>}`` (the action name only
  if it is a name the domain defines). :func:`install_action_server_hardening`
  (called from ``actions/__init__.py``, which rasa-sdk imports inside ``create_app``)
  attaches it to the app being built and wraps ``create_app`` for later apps.
* Rasa: :func:`strip_rasa_client_error_bodies` wraps ``ClientResponseError.__init__``
  so that for any status other than 400 only the ``error`` field (masked by the log
  redaction) survives in ``text``. 400 answers (``ActionExecutionRejection``) carry
  only ``error`` and ``action_name`` and are parsed by Rasa, so they are kept.
  It is called by :func:`privacy.log_redaction.install.install_redaction`, which the WhatsApp
  channel runs at start-up.

The same start hook opens the action server's operator port (issue 11):
:func:`serve_action_server_metrics` calls
``observability.exposition.serve_metrics_from_env(os.environ, "BLAUPAUSE_ACTIONS_METRICS")``,
so ``BLAUPAUSE_ACTIONS_METRICS_PORT`` (unset: no port), ``_HOST`` (default ``127.0.0.1``) and
``_TOKEN`` (bearer token) serve ``GET /metrics`` with the job provider and LLM metrics
(actions/jobs/metered.py, actions/llm/metering.py). It runs only in the action server process,
never in Rasa or in tests that merely import ``actions``; an invalid setting stops the start
with a message naming the variable. The metrics server is a thread of the process rasa-sdk
starts, so with ``ACTION_SERVER_SANIC_WORKERS`` above 1 (Sanic forks workers) the calls
counted in the workers are not seen: keep the default single worker (a warning says so).

Verified against the installed rasa 3.6 / rasa-sdk 3.6 sources named above.
"""
from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from typing import Any

from observability.correlation import bind_correlation_id, clear_correlation_id, correlation_id_of_action_call
from privacy.log_redaction.install import install_redaction
from privacy.log_redaction.sensitive import clear_sensitive, register_sensitive_values
from privacy.log_redaction.vocabulary import is_known_name, is_safe_value
from privacy.personal_values import forget_personal_values, personal_values, receive_personal_values
from rasa_compat import (
    patch_client_response_error,
    patch_sdk_create_app,
    patch_sdk_executor_run,
    running_sdk_app,
)

__all__ = [
    "GENERIC_ERROR",
    "TOKEN_ENV",
    "TOKEN_HEADER",
    "install_action_server_hardening",
    "serve_action_server_metrics",
    "require_shared_secret",
    "sanitized_error_body",
    "tracker_values",
    "strip_rasa_client_error_bodies",
    "strip_sdk_error_bodies",
    "take_personal_values",
]

logger = logging.getLogger(__name__)

GENERIC_ERROR = "custom action failed; see the action server log"
ACTION_SERVER_ENV = "BLAUPAUSE_ACTION_SERVER"
#: Prefix of the action server's operator port settings (observability/exposition.py).
METRICS_PREFIX = "BLAUPAUSE_ACTIONS_METRICS"
#: Optional shared secret between Rasa and the action server (see :func:`require_shared_secret`).
TOKEN_ENV = "ACTION_SERVER_TOKEN"
TOKEN_HEADER = "X-Action-Server-Token"
_MIN_TOKEN_CHARS = 32
_MARK = "_blaupause_error_bodies_stripped"


def sanitized_error_body(text: Any) -> str:
    """The action server's error answer reduced to a masked ``error`` field.

    ``text`` is what Rasa read from the response (bytes or str). The ``error`` text of
    an older or foreign action server is ``str(exception)`` and may quote the user, so
    it survives only if it is our generic text or passes the log allowlist. Anything
    that is not a JSON object becomes ``{"error": "[body removed]"}``.
    """
    try:
        data = json.loads(text.decode("utf-8", "replace") if isinstance(text, (bytes, bytearray)) else str(text))
    except (ValueError, TypeError):
        data = None
    if not isinstance(data, dict):
        return json.dumps({"error": "[body removed]"})
    error = str(data.get("error", ""))
    result: dict[str, str] = {"error": error if error == GENERIC_ERROR or is_safe_value(error) else "[redacted]"}
    action_name = data.get("action_name")
    if isinstance(action_name, str) and is_safe_value(action_name):
        result["action_name"] = action_name
    return json.dumps(result, ensure_ascii=False)


def _without_tracker(status: int, text: Any) -> Any:
    """The body Rasa keeps for an action server answer: 400 as is, any other status sanitized."""
    return text if status == 400 else sanitized_error_body(text)  # 400 = ActionExecutionRejection


def strip_rasa_client_error_bodies() -> bool:
    """Patch Rasa's ``ClientResponseError`` (if Rasa is loaded); idempotent. True if patched."""
    return patch_client_response_error(_without_tracker)


_MAX_TRACKER_VALUES = 256


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, (int, float)):
        return [repr(value)] if abs(value) >= 1000 or value != int(value) else []
    if isinstance(value, dict):
        return [item for child in value.values() for item in _strings(child)]
    if isinstance(value, (list, tuple)):
        return [item for child in value for item in _strings(child)]
    return []


def tracker_values(action_call: Any) -> list[str]:
    """Every text and value a rasa-sdk action call carries about the user.

    Message texts, entity values, slot values, event texts/values and metadata,
    oldest first (so the most recent survive the bound). Names we define
    (intent, action, slot names) are not collected: they are keys or pass the allowlist.
    """
    if not isinstance(action_call, dict):
        return []
    tracker = action_call.get("tracker")
    if not isinstance(tracker, dict):
        return []
    values: list[str] = []  # not the sender id: a pseudonym, meant to stay readable in logs
    for event in tracker.get("events") or ():
        if not isinstance(event, dict):
            continue
        for key in ("text", "value", "metadata"):
            values.extend(_strings(event.get(key)))
        parse_data = event.get("parse_data")
        if isinstance(parse_data, dict):
            for entity in parse_data.get("entities") or ():
                if isinstance(entity, dict):
                    values.extend(_strings(entity.get("value")))
    latest = tracker.get("latest_message")
    if isinstance(latest, dict):
        values.extend(_strings(latest.get("text")))
        for entity in latest.get("entities") or ():
            if isinstance(entity, dict):
                values.extend(_strings(entity.get("value")))
        values.extend(_strings(latest.get("metadata")))
    values.extend(_strings(tracker.get("slots")))
    return [value for value in values if not is_known_name(value)]


def _register_call_values(action_call: Any) -> None:
    register_sensitive_values([*tracker_values(action_call), *personal_values()], limit=_MAX_TRACKER_VALUES)
    bind_correlation_id(correlation_id_of_action_call(action_call))  # the turn's id (observability.correlation)


def _forget_call_values() -> None:
    clear_sensitive()
    clear_correlation_id()


def _wrap_executor_run() -> None:
    """Register the call's tracker values for the log lines of that call.

    On success the registrations are dropped right away; on an exception they stay
    for the error handler's log line (same task) and the response middleware of
    :func:`strip_sdk_error_bodies` drops them when the answer leaves.
    """
    patch_sdk_executor_run(_register_call_values, _forget_call_values)


def strip_sdk_error_bodies(app: Any) -> None:
    """Add the 5xx-body stripping response middleware to a rasa-sdk Sanic app; idempotent."""
    if getattr(app.ctx, _MARK, False):
        return
    from sanic import response as sanic_response

    async def _strip(request: Any, response: Any) -> Any:
        _forget_call_values()  # the call is answered: its tracker values and correlation id are forgotten
        forget_personal_values()
        if response is None or response.status < 500 or request.path.rstrip("/") != "/webhook":
            return None
        action_name = None
        try:
            call = request.json
            candidate = call.get("next_action") if isinstance(call, dict) else None
            action_name = candidate if isinstance(candidate, str) and is_safe_value(candidate) else None
        except Exception:  # noqa: BLE001 - an unparsable request: answer without the name
            action_name = None
        body: dict[str, str] = {"error": GENERIC_ERROR}
        if action_name:
            body["action_name"] = action_name
        return sanic_response.json(body, status=response.status)

    app.register_middleware(_strip, "response")
    setattr(app.ctx, _MARK, True)


def require_shared_secret(app: Any, token: str) -> None:
    """Answer 401 to ``/webhook`` calls without ``X-Action-Server-Token: <token>``; idempotent.

    Opt-in defence in depth for deployments where the action server is reachable by more
    than Rasa (a shared private network): set ``ACTION_SERVER_TOKEN`` (32+ characters)
    for the action server and send the same value from Rasa with
    ``action_endpoint: {url: ..., headers: {X-Action-Server-Token: ${ACTION_SERVER_TOKEN}}}``
    in endpoints.yml (Rasa expands ``${VAR}`` there). ``/health`` stays open.
    """
    if len(token) < _MIN_TOKEN_CHARS:
        raise ValueError(f"{TOKEN_ENV} must be at least {_MIN_TOKEN_CHARS} characters")
    if getattr(app.ctx, "_blaupause_token_required", False):
        return
    import hmac

    from sanic import response as sanic_response

    expected = token.encode("utf-8")

    async def _check(request: Any) -> Any:
        if request.path.rstrip("/") != "/webhook":
            return None
        given = (request.headers.get(TOKEN_HEADER) or "").encode("utf-8")
        if not hmac.compare_digest(given, expected):
            return sanic_response.json({"error": "unauthorized"}, status=401)
        return None

    app.register_middleware(_check, "request")
    setattr(app.ctx, "_blaupause_token_required", True)


def take_personal_values(app: Any) -> None:
    """Read each ``/webhook`` call's known personal values (privacy/personal_values.py); idempotent.

    They are kept in the call's context for the LLM fallback and forgotten by
    :func:`strip_sdk_error_bodies`' response middleware when the answer leaves.
    """
    if getattr(app.ctx, "_blaupause_personal_values", False):
        return

    async def _take(request: Any) -> None:
        if request.path.rstrip("/") == "/webhook":
            receive_personal_values(request)

    app.register_middleware(_take, "request")
    setattr(app.ctx, "_blaupause_personal_values", True)


def _harden(app: Any) -> None:
    take_personal_values(app)
    strip_sdk_error_bodies(app)
    token = os.environ.get(TOKEN_ENV, "")
    if token:
        require_shared_secret(app, token)


def _attach_to_running_sdk_app() -> bool:
    app = running_sdk_app()
    if app is None:
        return False
    _harden(app)
    return True


def _wrap_create_app() -> None:
    patch_sdk_create_app(_harden)


def serve_action_server_metrics(environ: Mapping[str, str] | None = None) -> Any:
    """Open the action server's operator port (``BLAUPAUSE_ACTIONS_METRICS_*``) once per process.

    Returns the :class:`observability.exposition.MetricsServer` or None (no port set). An
    invalid port, or one that cannot be bound, raises ``SystemExit`` with a message naming the
    variable: rasa-sdk imports the actions package inside ``create_app``, so this stops the
    start before the action server answers anything.
    """
    from observability.exposition import MetricsConfigError, serve_metrics_from_env

    env = os.environ if environ is None else environ
    try:
        server = serve_metrics_from_env(env, METRICS_PREFIX)
    except MetricsConfigError as error:
        logger.error("action server not started: %s", error)
        raise SystemExit(f"action server not started: {error}") from error
    if server is not None:
        # The action server has no stores of its own to check: it is ready once it serves, and its
        # series of blaupause_ready must not read 0 (the BlaupauseNotReady alert reads every job).
        from observability.metrics import initialise_action_series, ready

        ready.set(1)
        initialise_action_series()  # the LLM outcomes; the provider's come with its wrapper (actions/jobs/metered.py)
    if server is not None and (env.get("ACTION_SERVER_SANIC_WORKERS") or "1").strip() not in ("", "1"):
        logger.warning("%s_PORT serves the main process only; with ACTION_SERVER_SANIC_WORKERS > 1 the "
                       "workers' job provider and LLM calls are not counted", METRICS_PREFIX)
    return server


def install_action_server_hardening() -> None:
    """Everything the action server process needs; called from ``actions/__init__.py``.

    Strips tracker bodies from 5xx answers of the app rasa-sdk is building right now
    (rasa-sdk imports the actions package inside ``create_app``) and of apps created
    later. Installs the log redaction (refusing DEBUG in production) only inside an
    action server process, recognised by that app or by ``BLAUPAUSE_ACTION_SERVER=1``:
    importing the actions package elsewhere (unit tests, tools) must not install a
    process-wide log filter, nor open the operator port (:func:`serve_action_server_metrics`,
    in the same branch, after the redaction so its log line is filtered).
    """
    _wrap_create_app()
    _wrap_executor_run()
    if _attach_to_running_sdk_app() or os.environ.get(ACTION_SERVER_ENV, "") == "1":
        install_redaction(role="actions")
        serve_action_server_metrics()
