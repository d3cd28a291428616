"""Custom actions of the Blaupause job-search assistant (served by ``rasa run actions``).

rasa-sdk imports every module of this package and registers each action it finds. It
imports this package inside ``rasa_sdk.endpoint.create_app``, after logging is
configured and before the server starts: the hook below installs the log redaction
in the action server process (DEBUG refused in production) and strips tracker bodies
from the server's 500 answers (:mod:`privacy.action_errors`), and opens the operator port
``GET /metrics`` when ``BLAUPAUSE_ACTIONS_METRICS_PORT`` is set (job provider and LLM metrics,
see docs/architecture.md). Imported anywhere else (unit tests), it only wraps ``create_app``
and installs no process-wide filter and no port.
"""
from privacy.action_errors import install_action_server_hardening as _install_hardening

_install_hardening()
