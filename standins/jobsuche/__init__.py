"""Loopback stand-in of the Bundesagentur für Arbeit "Jobsuche" API.

Answers like /work/shared/specs/jobsuche-openapi.yaml describes (upstream:
https://github.com/bundesAPI/jobsuche-api), from a small fixed set of fictional postings:

* ``GET /jobboerse/jobsuche-service/pc/v4/jobs`` with ``was``, ``wo``, ``umkreis``,
  ``arbeitszeit`` (``vz;tz;snw;ho;mj``, several values OR-ed), ``page`` (1-based), ``size``
  (max 100); ``stellenangebote`` is left out when nothing matches, as the live service does;
  ``maxErgebnisse``, ``page`` and ``size`` are strings, ``arbeitsort.plz`` an integer (spec);
* ``GET .../pc/v4/jobdetails/{base64(refnr)}`` (and ``v3``): the JobDetails schema with the
  v4 field names (``stellenangebotsTitel``, ``referenznummer`` ...); 404 for an unknown refnr;
* header ``X-API-Key``: 401 when missing, 403 when not ``jobboerse-jobsuche``;
* 400 for malformed parameters, 405 for other methods, 404 for other paths.

Fault injection for the client's retry logic: :meth:`JobsucheStandIn.fail_next` makes the
next N requests answer 429/500/503 (optionally with ``Retry-After``), :meth:`delay_next`
makes them answer only after a delay, :meth:`garble_next` sends HTML instead of JSON.
Every request is recorded (:attr:`requests`).
Run by hand: ``python -m standins.jobsuche --port 8089``.

Modules, by what they do: ``postings`` (the fictional data), ``search`` (parameters, matching,
paging), ``server`` (HTTP, key, routes, faults), ``cli``. This package is their one import point.
"""
from __future__ import annotations

from standins.jobsuche.cli import main
from standins.jobsuche.postings import DEFAULT_POSTINGS, StandInPosting
from standins.jobsuche.server import API_KEY, BASE_PATH, JobsucheStandIn, RecordedRequest

__all__ = [
    "API_KEY",
    "BASE_PATH",
    "StandInPosting",
    "DEFAULT_POSTINGS",
    "RecordedRequest",
    "JobsucheStandIn",
    "main",
]
