"""A logging filter that keeps only what is known to be safe in a log line.

Why a filter and not discipline alone: our own code logs pseudonyms only, but Rasa,
Sanic, rasa-sdk and HTTP clients log payloads, parse data, slot values and tracker
bodies (at DEBUG, and on the error path of a failing custom action even at ERROR). The
filter rewrites each ``LogRecord`` in place (message, arguments, exception text, stack
text and ``extra`` fields) before any handler formats it, so every handler, formatter
and log shipper downstream sees the masked version. It runs in both processes: the
WhatsApp channel installs it in Rasa, ``actions/__init__.py`` in the action server.

Allowlist, not blocklist (issue 16): a value passes only if it is known to be safe.

* A log line that is a JSON object (Rasa 3.6 renders its ``structlog`` events as JSON
  when stdout is not a terminal, see ``rasa/utils/log_utils.py``) is walked as data:
  keys are kept; a string value passes only under a key of :data:`SAFE_KEYS` *and* if
  it is a name the assistant itself defines (domain intents, entities, slots, actions,
  responses, forms; Rasa's event and action names) or has a machine shape (pseudonym,
  snake_case name, dotted module path, hex id, ISO time, short number); numbers pass
  only under :data:`SAFE_KEYS`. Everything else (``parse_data_text``, entity
  ``value``, ``slot_values``, event ``text``, ``metadata`` ...) becomes ``[redacted]``.
* In other lines every quoted literal (``'...'``, ``"..."``, ``b'...'``) is masked
  unless it passes the same test, a number after a quoted key passes only under
  :data:`SAFE_KEYS`, the JSON of an intent payload (``/share_location{...}``,
  ``/inform{...}``) is masked whole, and so is the ``body='...'`` of Rasa's
  ``ClientResponseError`` (the action server's answer to a failing action).
* Everywhere: registered values (:func:`register_sensitive`: profile name, username,
  message text of the request), phone-number-like digit runs, BSUIDs and parent
  BSUIDs (``DE.1000000000000000001``, ``US.ENT.11815799212886844830``), usernames
  (``@erika_test``), e-mail addresses and coordinate pairs are masked.

What an allowlist on free text cannot see: words a third-party library writes into a
line without quotes or structure. Rasa 3.6 logs dialogue content through structlog
(JSON, handled above) or in quotes; DEBUG in production is refused anyway
(:func:`check_log_level`) unless ``BLAUPAUSE_ALLOW_DEBUG_LOGS=1`` is set.

Phone numbers: 7-15 digits, optionally starting with ``+`` or ``(`` and joined by
spaces, dashes, slashes or parentheses (``+49 155 5000-0001``), also inside URLs,
JSON and reprs; several numbers joined into one run of more than 15 digits are masked
as a whole. Not masked: digits glued to letters or underscores (pseudonyms), decimals,
dotted values (IP addresses, versions), dates, times, ports, short numbers, single
unbroken runs of more than 15 digits (numeric ids) and job references like
``10000-1190587234-S``.

Request state: registered values live in a ``contextvars.ContextVar`` (one request's
task, never a concurrent one) together with the pattern compiled from them; nothing
is cached at module level, so no identifier or text outlives its request (issue 16,
finding 6). The only module-level cache is the domain vocabulary (names we define).

Masks (``[phone]``, ``[redacted]``, ``[bsuid]``, ``[username]``, ``[email]``) contain
no digits and pass the allowlist, so filtering an already filtered record changes
nothing.

Modules: ``patterns`` (masks and the patterns of what is masked or may pass),
``vocabulary`` (the names the assistant defines: :func:`~privacy.log_redaction.vocabulary.is_safe_value`),
``sensitive`` (the values registered for the current request), ``masking``
(:func:`~privacy.log_redaction.masking.redact`), ``install`` (the logging filter, its
installation and the DEBUG refusal).
"""
