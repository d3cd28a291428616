"""Every adjustment Blaupause makes to Rasa 3.6 internals, in one place, each guarded by its version.

Why one module: these reach into attributes and wrappers Rasa does not promise to keep
(private names, the wrappers ``rasa.core.agent.Agent`` puts around a tracker store). An
upgrade of Rasa must meet them all at once, and fail loudly instead of silently losing a
privacy guarantee (a store that no longer fails closed, an erasure that no longer finds
the store). Each adjustment therefore calls :func:`require_rasa` with the Rasa version it
was written for and checked against (the pinned version in requirements.lock); any other
version raises :class:`RasaVersionError` naming the adjustment to re-check.

Adjustments:

- :func:`unwrap_tracker_store`: Rasa's
  ``FailSafeTrackerStore`` / ``AwaitableTrackerStore`` keep the configured store in the
  private attribute ``_tracker_store``; the channel's privacy requests need the store
  itself (:mod:`privacy.requests.hook`).
- :func:`make_fail_closed`: sets ``FailSafeTrackerStore._on_tracker_store_error`` so the
  wrapper re-raises instead of hiding storage errors.
- :func:`patch_client_response_error`: rewrites the body Rasa keeps in
  ``rasa.utils.endpoints.ClientResponseError`` (a failing action's answer, with the
  tracker; :mod:`privacy.action_errors`).
- :func:`patch_action_call_headers`: adds headers to Rasa's calls of the action server
  (``EndpointConfig.request``; :mod:`privacy.personal_values`).
- :func:`log_lock_deletion`: Rasa's own debug line of a deleted lock (the private
  ``LockStore._log_deletion``), for ``locking.redis_lock_store.AtomicRedisLockStore``,
  which overrides Rasa 3.6's ``RedisLockStore`` internals and checks the version itself.
- :func:`compile_action_result_validation`: replaces
  ``RemoteAction._validate_action_result``, which calls ``jsonschema.validate`` on every
  custom action result (re-checking the schema against the meta-schema and building a new
  validator each time: 27-37 % of the Rasa process's CPU under load, issue 12), by a
  validator built once for the same schema; same result, same ``ValidationError`` and
  message.
- :func:`cache_event_type_lookup`: replaces ``Event.resolve_by_type``, which walks every
  ``Event`` subclass (with ``inspect.isabstract``) for each event read from a store, by a
  table built once in the same order (rebuilt when a new subclass appears); same result.
- :func:`parse_payloads_without_nlu`: replaces ``MessageProcessor._parse_message_with_graph``
  for a button payload ("/intent{...}") whose intent is in the domain: Rasa runs the whole NLU
  graph and then throws its result away for the payload's (``RegexMessageHandler``); the
  replacement unpacks the payload with Rasa's own function directly; same parse data.
- :func:`defer_ted_predictions`: ``TEDPolicy.predict_action_probabilities`` returns a prediction
  computed on first read, and ``DefaultPolicyPredictionEnsemble.combine_predictions`` leaves it
  out when a rule, a memorised story or a loop already decides (TED cannot win and adds no
  event); same pick, same events (:mod:`rasa_compat.deferred_ted`).
- :func:`rasa_compat.serving_load.load_models_without_training_step`: ``RasaModel.load`` builds
  DIET's and TED's variables with one eager forward pass instead of tracing and running a
  training step before loading the trained weights (71 % of a Rasa start); same weights, same
  predictions; fine-tuning keeps Rasa's path.
  These five live in :mod:`rasa_compat.hot_path`, :mod:`rasa_compat.deferred_ted` and
  :mod:`rasa_compat.serving_load`; :func:`install_hot_path` installs them (the channel calls it
  once at start-up).
- :func:`install_seeded_folds`: replaces ``rasa.nlu.test.generate_folds``, which shuffles the
  cross-validation folds without a seed (another split, another F1 on every run), by Rasa's
  function with ``random_state=seed``, or by a split that keeps each example in a fold fixed
  by a hash of it (``split="stable"``, so data rounds are compared on the same folds)
  (:mod:`rasa_compat.seeded_folds`; only scripts/nlu_cross_validation.py installs it, for
  ``make nlu-report``, issue 13).
- rasa-sdk (the action server, guarded by :func:`require_rasa_sdk`):
  :func:`patch_sdk_executor_run` (``ActionExecutor.run``), :func:`patch_sdk_create_app`
  (``rasa_sdk.endpoint.create_app``) and :func:`running_sdk_app` (Sanic's private app
  registry), so :mod:`privacy.action_errors` can harden the action server's app.

The *what* (which body, which header, which middleware, which store) stays in privacy/ and
the channel; this module only knows *where* Rasa 3.6 and rasa-sdk 3.6 can be hooked, and
imports nothing of ours, so privacy/ may use it without an import cycle.
"""
from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable, Mapping
from typing import Any, Optional, TypeVar

__all__ = [
    "WRITTEN_FOR",
    "RasaVersionError",
    "require_rasa",
    "unwrap_tracker_store",
    "innermost_tracker_store",
    "make_fail_closed",
    "require_rasa_sdk",
    "patch_client_response_error",
    "patch_action_call_headers",
    "patch_sdk_executor_run",
    "patch_sdk_create_app",
    "running_sdk_app",
    "log_lock_deletion",
    "compile_action_result_validation",
    "cache_event_type_lookup",
    "install_hot_path",
    "defer_ted_predictions",
    "parse_payloads_without_nlu",
    "seeded_generate_folds",
    "stable_generate_folds",
    "install_seeded_folds",
]

#: The Rasa minor version every adjustment here was written for and tested against.
WRITTEN_FOR = "3.6"
_WRAPPER_DEPTH = 4
_F = TypeVar("_F", bound=Callable[..., Any])


class RasaVersionError(RuntimeError):
    """The installed Rasa is not the version an adjustment was written for."""


def _require(package: str, written_for: str, adjustment: str) -> None:
    module = __import__(package)
    installed = str(getattr(module, "__version__", "unknown"))
    if installed != written_for and not installed.startswith(written_for + "."):
        raise RasaVersionError(
            f"rasa_compat.{adjustment} was written for {package} {written_for}.x, but {package} {installed} is "
            f"installed: re-check it against the new version (see rasa_compat/__init__.py) before upgrading"
        )


def require_rasa(written_for: str, adjustment: str) -> None:
    """Raise :class:`RasaVersionError` unless the installed Rasa is ``written_for`` (e.g. "3.6")."""
    _require("rasa", written_for, adjustment)


def require_rasa_sdk(written_for: str, adjustment: str) -> None:
    """Raise :class:`RasaVersionError` unless the installed rasa-sdk is ``written_for``."""
    _require("rasa_sdk", written_for, adjustment)


def _written_for(version: str) -> Callable[[_F], _F]:
    """Decorator: the adjustment checks the Rasa version on every call (cheap: one attribute)."""

    def decorate(function: _F) -> _F:
        @functools.wraps(function)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            require_rasa(version, function.__name__)
            return function(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate


@_written_for(WRITTEN_FOR)
def unwrap_tracker_store(store: Any, wanted: type) -> Any:
    """The ``wanted`` store inside Rasa's tracker store wrappers; ``TypeError`` if there is none.

    Why: ``rasa.core.agent.Agent`` always wraps the configured store
    (``FailSafeTrackerStore`` around ``AwaitableTrackerStore``), and Rasa 3.6 keeps the
    wrapped store in the private attribute ``_tracker_store``.
    """
    seen = 0
    while not isinstance(store, wanted):
        inner = getattr(store, "_tracker_store", None)
        if inner is None or seen > _WRAPPER_DEPTH:
            raise TypeError(f"the agent's tracker store is not an {wanted.__name__}")
        store, seen = inner, seen + 1
    return store


def innermost_tracker_store(store: Any) -> Any:
    """The configured store inside Rasa's tracker store wrappers (``store`` itself if unwrapped).

    Like :func:`unwrap_tracker_store`, for a caller that does not know the store's type (the
    readiness check asks whatever Rasa was configured with).
    """
    for _ in range(_WRAPPER_DEPTH + 1):
        inner = getattr(store, "_tracker_store", None)
        if inner is None:
            return store
        store = inner
    return store


def _reraise(error: Exception) -> None:
    raise error


@_written_for(WRITTEN_FOR)
def make_fail_closed(store: Any, inner: type) -> bool:
    """Make Rasa's ``FailSafeTrackerStore`` wrapper pass our store's errors on.

    Why: ``rasa.core.agent.Agent`` wraps every tracker store in ``FailSafeTrackerStore``,
    which turns a failed ``retrieve`` into "no conversation" (the user silently starts
    afresh) and a failed ``save`` into a plaintext copy in an in-memory store, while the
    webhook is acknowledged. For an encrypted store neither is acceptable: a missing key
    must fail closed, and a database that is down must make the webhook fail so Meta
    redelivers the message later (nothing lost). The Rasa 3.6 wrapper calls its private
    ``_on_tracker_store_error`` instead of logging when it is set; setting it to re-raise
    keeps the wrapper in place for everything else.

    Returns True when a wrapper around a store of type ``inner`` (the channel passes
    :class:`privacy.store.encrypted.EncryptedTrackerStore`) was changed (idempotent); False
    when no such store is configured. The type is passed in so this module imports nothing
    of ours (no import cycle with privacy/).
    """
    from rasa.core.tracker_store import FailSafeTrackerStore

    try:
        unwrap_tracker_store(store, inner)
    except TypeError:
        return False
    changed = False
    seen = 0
    while store is not None and not isinstance(store, inner) and seen <= _WRAPPER_DEPTH:
        if isinstance(store, FailSafeTrackerStore):
            store._on_tracker_store_error = _reraise
            changed = True
        store, seen = getattr(store, "_tracker_store", None), seen + 1
    return changed


# ----------------------------------------------------------------------------- the Rasa process

#: Marks a wrapped Rasa/rasa-sdk function, so each patch is applied once (idempotent).
_CLIENT_ERROR_MARK = "_blaupause_error_bodies_stripped"
_ACTION_CALL_MARK = "_blaupause_personal_values"
_SDK_MARK = "_blaupause_error_bodies_stripped"
_SDK_APP_NAME = "rasa_sdk"


def _wrap_once(owner: Any, name: str, mark: str, wrap: Callable[[Any], Any]) -> None:
    """Replace ``owner.<name>`` by ``wrap(original)`` unless it is already a wrapper of ours.

    A classmethod stays a classmethod: ``wrap`` gets its function (``cls`` first) and the
    wrapper is bound to the class again (e.g. ``RasaModel.load``, rasa_compat.serving_load).
    """
    declared = inspect.getattr_static(owner, name)
    is_classmethod = isinstance(declared, classmethod)
    original = declared.__func__ if is_classmethod else getattr(owner, name)
    if getattr(original, mark, False):
        return
    wrapper = functools.wraps(original)(wrap(original))
    setattr(wrapper, mark, True)
    setattr(owner, name, classmethod(wrapper) if is_classmethod else wrapper)


def patch_client_response_error(rewrite_text: Callable[[int, Any], Any]) -> bool:
    """Let ``rewrite_text(status, text)`` replace the body Rasa keeps in ``ClientResponseError``.

    Why: Rasa 3.6 (``rasa.utils.endpoints``) builds ``ClientResponseError(status, reason,
    text=<body>)`` from a failing action server answer, and the body lands in the log at
    ERROR (see :mod:`privacy.action_errors`). Wraps ``ClientResponseError.__init__``;
    idempotent. False when Rasa is not loaded (the action server): nothing to patch.
    """
    if "rasa" not in sys.modules:
        return False
    try:
        from rasa.utils.endpoints import ClientResponseError
    except Exception:  # noqa: BLE001 - a partial Rasa install must not stop logging setup
        return False
    require_rasa(WRITTEN_FOR, "patch_client_response_error")

    def wrap(original: Any) -> Any:
        def __init__(self: Any, status: int, message: str, text: Any) -> None:
            original(self, status, message, rewrite_text(status, text))

        return __init__

    _wrap_once(ClientResponseError, "__init__", _CLIENT_ERROR_MARK, wrap)
    return True


def _is_action_call(kwargs: Mapping[str, Any]) -> bool:
    """Rasa 3.6's call of the action server: a JSON body naming the ``next_action``."""
    body = kwargs.get("json")
    return isinstance(body, dict) and isinstance(body.get("next_action"), str)


def patch_action_call_headers(extra_headers: Callable[[], Optional[Mapping[str, str]]]) -> bool:
    """Add ``extra_headers()`` (when not None) to every call Rasa makes to the action server.

    Why: values that must reach the action server beside the tracker, never inside it
    (:mod:`privacy.personal_values`), go in a header of the call Rasa 3.6 makes through
    ``rasa.utils.endpoints.EndpointConfig.request``. Wraps that method; idempotent. False
    when Rasa is not importable (e.g. inside the action server).
    """
    try:
        from rasa.utils.endpoints import EndpointConfig
    except ImportError:
        return False
    require_rasa(WRITTEN_FOR, "patch_action_call_headers")

    def wrap(original: Any) -> Any:
        async def request(self: Any, *args: Any, **kwargs: Any) -> Any:
            headers = extra_headers() if _is_action_call(kwargs) else None
            if headers:
                kwargs["headers"] = {**(kwargs.get("headers") or {}), **headers}
            return await original(self, *args, **kwargs)

        return request

    _wrap_once(EndpointConfig, "request", _ACTION_CALL_MARK, wrap)
    return True


@_written_for(WRITTEN_FOR)
def log_lock_deletion(lock_store: Any, conversation_id: str, deleted: bool) -> None:
    """Log a lock deletion the way Rasa 3.6's ``LockStore.cleanup`` does (its private ``_log_deletion``).

    Why: ``AtomicRedisLockStore.cleanup`` replaces Rasa's and should leave the same debug line.
    """
    lock_store._log_deletion(conversation_id, deleted)


# ----------------------------------------------------------------------------- the action server


def patch_sdk_executor_run(before: Callable[[Any], None], after: Callable[[], None]) -> None:
    """Call ``before(action_call)`` before and ``after()`` after each successful action run.

    Why: the action server's log lines of one call must know that call's tracker values
    (:mod:`privacy.action_errors`); rasa-sdk 3.6 runs every call through
    ``rasa_sdk.executor.ActionExecutor.run``. On an exception ``after`` is not called (the
    error handler's log line still needs the values). Idempotent; nothing without rasa-sdk.
    """
    try:
        from rasa_sdk.executor import ActionExecutor
    except ImportError:
        return
    require_rasa_sdk(WRITTEN_FOR, "patch_sdk_executor_run")

    def wrap(original: Any) -> Any:
        async def run(self: Any, action_call: Any) -> Any:
            before(action_call)
            result = await original(self, action_call)
            after()
            return result

        return run

    _wrap_once(ActionExecutor, "run", _SDK_MARK, wrap)


def patch_sdk_create_app(harden: Callable[[Any], None]) -> None:
    """Call ``harden(app)`` on every Sanic app rasa-sdk 3.6's ``rasa_sdk.endpoint.create_app`` builds.

    Why: the action server's app is created inside rasa-sdk; wrapping ``create_app`` is the
    only place to add middleware to apps created later. Idempotent; nothing without rasa-sdk.
    """
    try:
        import rasa_sdk.endpoint as endpoint
    except ImportError:
        return
    require_rasa_sdk(WRITTEN_FOR, "patch_sdk_create_app")

    def wrap(original: Any) -> Any:
        def create_app(*args: Any, **kwargs: Any) -> Any:
            app = original(*args, **kwargs)
            harden(app)
            return app

        return create_app

    _wrap_once(endpoint, "create_app", _SDK_MARK, wrap)


def running_sdk_app() -> Any:
    """The Sanic app rasa-sdk is building right now (``None`` if none).

    Why: rasa-sdk 3.6 imports the actions package *inside* ``create_app``, after it
    registered the app under the name ``rasa_sdk``; Sanic keeps that registry in the
    private ``Sanic._app_registry``.
    """
    try:
        from sanic import Sanic
    except ImportError:
        return None
    if "rasa_sdk" in sys.modules:
        require_rasa_sdk(WRITTEN_FOR, "running_sdk_app")
    return Sanic._app_registry.get(_SDK_APP_NAME)


# The hot-path adjustments live in their own module; imported last because they use the
# helpers above (require_rasa, _wrap_once).
from rasa_compat.hot_path import (  # noqa: E402
    cache_event_type_lookup,
    compile_action_result_validation,
    install_hot_path,
    parse_payloads_without_nlu,
)
from rasa_compat.deferred_ted import defer_ted_predictions  # noqa: E402
from rasa_compat.seeded_folds import install_seeded_folds, seeded_generate_folds, stable_generate_folds  # noqa: E402
