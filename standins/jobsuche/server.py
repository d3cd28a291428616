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
"""
from __future__ import annotations

import argparse
import base64
import binascii
import json
import logging
import math
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = [
    "API_KEY",
    "BASE_PATH",
    "StandInPosting",
    "DEFAULT_POSTINGS",
    "RecordedRequest",
    "JobsucheStandIn",
    "main",
]

logger = logging.getLogger(__name__)

API_KEY: Final[str] = "jobboerse-jobsuche"
BASE_PATH: Final[str] = "/jobboerse/jobsuche-service"
MAX_SIZE: Final[int] = 100
DEFAULT_UMKREIS_KM: Final[int] = 25
_ARBEITSZEIT: Final[Mapping[str, str]] = {
    "vz": "VOLLZEIT", "tz": "TEILZEIT", "snw": "SCHICHT_NACHTARBEIT_WOCHENENDE",
    "ho": "HEIM_TELEARBEIT", "mj": "MINIJOB",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class StandInPosting:
    """A fictional posting, rendered into the search item and the JobDetails shapes."""

    refnr: str
    titel: str
    beruf: str
    arbeitgeber: str
    ort: str
    plz: str
    region: str
    lat: float
    lon: float
    arbeitszeitmodelle: tuple[str, ...]
    eintrittsdatum: str | None = None
    veroeffentlicht: str = "2025-10-01"
    beschreibung: str = ""
    externe_url: str | None = None

    def search_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "beruf": self.beruf,
            "titel": self.titel,  # not in the spec's schema, but sent by the live service
            "refnr": self.refnr,
            "arbeitsort": {
                "plz": int(self.plz),
                "ort": self.ort,
                "region": self.region,
                "land": "Deutschland",
                "koordinaten": {"lat": self.lat, "lon": self.lon},
            },
            "arbeitgeber": self.arbeitgeber,
            "aktuelleVeroeffentlichungsdatum": self.veroeffentlicht,
            "modifikationsTimestamp": f"{self.veroeffentlicht}T08:00:00.000",
            "hashId": base64.urlsafe_b64encode(self.refnr.encode()).decode(),
            "kundennummerHash": None,
        }
        if self.eintrittsdatum:
            item["eintrittsdatum"] = self.eintrittsdatum
        if self.externe_url:
            item["externeUrl"] = self.externe_url
        return item

    def details(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "aktuelleVeroeffentlichungsdatum": self.veroeffentlicht,
            "ersteVeroeffentlichungsdatum": self.veroeffentlicht,
            "angebotsart": "ARBEIT",
            "arbeitgeber": self.arbeitgeber,
            "arbeitgeberKundennummerHash": None,
            "arbeitsorte": [{
                "land": "Deutschland",
                "region": self.region,
                "plz": self.plz,
                "ort": self.ort,
                "koordinaten": {"lat": self.lat, "lon": self.lon},
            }],
            "arbeitszeitmodelle": list(self.arbeitszeitmodelle),
            "befristung": "UNBEFRISTET",
            "stellenangebotsTitel": self.titel,
            "beruf": self.beruf,
            "stellenangebotsBeschreibung": self.beschreibung,
            "referenznummer": self.refnr,
            "anzahlOffeneStellen": 1,
            "modifikationsTimestamp": f"{self.veroeffentlicht}T08:00:00.000",
        }
        if self.eintrittsdatum:
            body["eintrittsdatum"] = self.eintrittsdatum
        return body


DEFAULT_POSTINGS: Final[tuple[StandInPosting, ...]] = (
    StandInPosting(refnr="10000-1000000001-S", titel="Koch/Köchin (m/w/d) für unser Restaurant",
                   beruf="Koch/Köchin", arbeitgeber="Gasthaus Lindenhof Beispiel GmbH", ort="Berlin",
                   plz="10115", region="Berlin", lat=52.5321, lon=13.3849, arbeitszeitmodelle=("VOLLZEIT",),
                   eintrittsdatum="2099-01-15", beschreibung="Zubereitung regionaler Gerichte."),
    StandInPosting(refnr="10000-1000000002-S", titel="Beikoch/Beiköchin (m/w/d)", beruf="Koch/Köchin",
                   arbeitgeber="Restaurant Seeblick Beispiel", ort="Berlin", plz="10245", region="Berlin",
                   lat=52.5105, lon=13.4582, arbeitszeitmodelle=("TEILZEIT",)),
    StandInPosting(refnr="10000-1000000003-S", titel="Küchenhilfe Koch (m/w/d) auf Minijob-Basis",
                   beruf="Koch/Köchin", arbeitgeber="Kantine Nordlicht Beispiel", ort="Potsdam", plz="14467",
                   region="Brandenburg", lat=52.3906, lon=13.0645, arbeitszeitmodelle=("MINIJOB",)),
    StandInPosting(refnr="10000-1000000004-S", titel="Koch/Köchin (m/w/d)", beruf="Koch/Köchin",
                   arbeitgeber="Hotel Hafenblick Beispiel", ort="Hamburg", plz="20095", region="Hamburg",
                   lat=53.5511, lon=9.9937, arbeitszeitmodelle=("VOLLZEIT", "SCHICHT_NACHTARBEIT_WOCHENENDE"),
                   eintrittsdatum="2020-02-01", externe_url="https://jobs.example.org/extern/koch-hamburg"),
    StandInPosting(refnr="10000-1000000005-S", titel="Koch/Köchin (m/w/d) Kantine", beruf="Koch/Köchin",
                   arbeitgeber="Betriebsrestaurant Westend Beispiel", ort="Dresden", plz="01067",
                   region="Sachsen", lat=51.0504, lon=13.7373, arbeitszeitmodelle=("VOLLZEIT",)),
    StandInPosting(refnr="10000-1000000006-S", titel="Pflegefachkraft (m/w/d)", beruf="Pflegefachmann/-frau",
                   arbeitgeber="Pflegedienst Sonnenhang Beispiel", ort="Berlin", plz="10117", region="Berlin",
                   lat=52.5170, lon=13.3889, arbeitszeitmodelle=("VOLLZEIT", "TEILZEIT")),
    StandInPosting(refnr="10000-1000000007-S", titel="Softwareentwickler/in Python (m/w/d)",
                   beruf="Softwareentwickler/in", arbeitgeber="Kranich Software Beispiel GmbH", ort="Berlin",
                   plz="10178", region="Berlin", lat=52.5219, lon=13.4132,
                   arbeitszeitmodelle=("VOLLZEIT", "HEIM_TELEARBEIT"), beschreibung="Python, Tests, CI."),
    StandInPosting(refnr="10000-1000000008-S", titel="Lagerhelfer/in (m/w/d)", beruf="Lagerhelfer/in",
                   arbeitgeber="Mühlbach Logistik Beispiel GmbH", ort="München", plz="80331", region="Bayern",
                   lat=48.1374, lon=11.5755, arbeitszeitmodelle=("VOLLZEIT",)),
    StandInPosting(refnr="10000-1000000009-S", titel="Reinigungskraft (m/w/d)", beruf="Reinigungskraft",
                   arbeitgeber="Eichenwald Gebäudeservice Beispiel", ort="Köln", plz="50667",
                   region="Nordrhein-Westfalen", lat=50.9375, lon=6.9603, arbeitszeitmodelle=("MINIJOB",)),
)


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """What the stand-in received (for assertions on parameters, paths and headers)."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]


@dataclass(slots=True)
class _Fault:
    status: int | None = None
    retry_after: str | None = None
    delay_s: float = 0.0
    html: bool = False


@dataclass
class _State:
    postings: tuple[StandInPosting, ...]
    api_key: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    faults: list[_Fault] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)


class _BadRequest(Exception):
    """A parameter the live service would refuse with 400."""


def _distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((phi2 - phi1) / 2) ** 2
         + math.cos(phi1) * math.cos(phi2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(a)))


def _int_param(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise _BadRequest(f"{name} must be an integer") from exc
    if not low <= value <= high:
        raise _BadRequest(f"{name} must be between {low} and {high}")
    return value


def _search(postings: Iterable[StandInPosting], query: Mapping[str, str]) -> dict[str, Any]:
    postings = tuple(postings)
    page = _int_param(query, "page", 1, 1, 10_000)
    size = _int_param(query, "size", 25, 1, MAX_SIZE)
    umkreis = _int_param(query, "umkreis", DEFAULT_UMKREIS_KM, 0, 1_000)
    codes = [code for code in (query.get("arbeitszeit") or "").split(";") if code]
    unknown = [code for code in codes if code not in _ARBEITSZEIT]
    if unknown:
        raise _BadRequest("arbeitszeit must be a ;-separated list of vz, tz, snw, ho, mj")
    wanted_models = {_ARBEITSZEIT[code] for code in codes}
    words = (query.get("was") or "").casefold().split()
    where = (query.get("wo") or "").strip().casefold()
    matches = []
    centre: tuple[float, float] | None = None
    if where:
        centre = next(((p.lat, p.lon) for p in postings if p.ort.casefold() == where), None)
    for posting in postings:
        haystack = f"{posting.titel} {posting.beruf} {posting.arbeitgeber}".casefold()
        if any(word not in haystack for word in words):
            continue
        if wanted_models and not wanted_models.intersection(posting.arbeitszeitmodelle):
            continue
        if where:
            if centre is None or _distance_km(centre[0], centre[1], posting.lat, posting.lon) > umkreis:
                continue
        matches.append(posting)
    page_items = matches[(page - 1) * size: page * size]
    body: dict[str, Any] = {"maxErgebnisse": str(len(matches)), "page": str(page), "size": str(size), "facetten": []}
    if page_items:
        body["stellenangebote"] = [posting.search_item() for posting in page_items]
    return body


def _decode_refnr(code: str) -> str | None:
    raw = unquote(code)
    try:
        return base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


class _Handler(BaseHTTPRequestHandler):
    server_version = "JobsucheStandIn/1.0"
    state: _State  # set on the subclass made per server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("jobsuche stand-in: " + format, *args)

    def _send_json(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            logger.debug("jobsuche stand-in: client went away")

    def _send_html(self) -> None:
        """A 200 with an HTML page, as a captive portal or a misconfigured proxy would send."""
        payload = b"<html><body>Wartungsarbeiten</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _error(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        self._send_json(status, {"status": status, "error": HTTPStatus(status).phrase, "message": message}, headers)

    def _record(self) -> tuple[str, dict[str, str]]:
        parts = urlsplit(self.path)
        query = {name: values[-1] for name, values in parse_qs(parts.query, keep_blank_values=True).items()}
        record = RecordedRequest(self.command, parts.path, query, {k: v for k, v in self.headers.items()})
        with self.state.lock:
            self.state.requests.append(record)
        return parts.path, query

    def _next_fault(self) -> _Fault | None:
        with self.state.lock:
            return self.state.faults.pop(0) if self.state.faults else None

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        path, query = self._record()
        fault = self._next_fault()
        if fault is not None:
            if fault.delay_s:
                self.state.stopping.wait(fault.delay_s)
            if fault.html:
                self._send_html()
                return
            if fault.status is not None:
                headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
                self._error(fault.status, "injected fault", headers)
                return
        key = self.headers.get("X-API-Key")
        if not key:
            self._error(401, "X-API-Key header missing")
            return
        if key != self.state.api_key:
            self._error(403, "invalid client id")
            return
        if not path.startswith(BASE_PATH + "/"):
            self._error(404, "not found")
            return
        route = path[len(BASE_PATH):]
        try:
            if route == "/pc/v4/jobs":
                self._send_json(200, _search(self.state.postings, query))
                return
        except _BadRequest as exc:
            self._error(400, str(exc))
            return
        for prefix in ("/pc/v4/jobdetails/", "/pc/v3/jobdetails/"):
            if route.startswith(prefix) and len(route) > len(prefix):
                refnr = _decode_refnr(route[len(prefix):])
                posting = next((p for p in self.state.postings if p.refnr == refnr), None)
                if posting is None:
                    self._error(404, "Stellenangebot nicht gefunden")
                else:
                    self._send_json(200, posting.details())
                return
        self._error(404, "not found")

    def _not_allowed(self) -> None:
        self._record()
        self._error(405, "method not allowed", {"Allow": "GET"})

    do_POST = do_PUT = do_DELETE = do_PATCH = _not_allowed  # noqa: N815 - stdlib names


class JobsucheStandIn:
    """The stand-in server; use as a context manager or call :meth:`start`/:meth:`stop`."""

    def __init__(
        self,
        postings: Iterable[StandInPosting] = DEFAULT_POSTINGS,
        *,
        api_key: str = API_KEY,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._state = _State(postings=tuple(postings), api_key=api_key)
        handler = type("JobsucheHandler", (_Handler,), {"state": self._state})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """What ``JOBS_API_BASE_URL`` should be set to."""
        return f"http://127.0.0.1:{self.port}{BASE_PATH}"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._state.lock:
            return list(self._state.requests)

    def clear_requests(self) -> None:
        with self._state.lock:
            self._state.requests.clear()

    def fail_next(self, status: int, count: int = 1, *, retry_after: str | None = None) -> None:
        """Answer the next ``count`` requests with ``status`` (e.g. 429, 500, 503)."""
        with self._state.lock:
            self._state.faults.extend(_Fault(status=status, retry_after=retry_after) for _ in range(count))

    def garble_next(self, count: int = 1) -> None:
        """Answer the next ``count`` requests with 200 and an HTML page instead of JSON."""
        with self._state.lock:
            self._state.faults.extend(_Fault(html=True) for _ in range(count))

    def delay_next(self, seconds: float, count: int = 1) -> None:
        """Answer the next ``count`` requests normally, but only after ``seconds``."""
        with self._state.lock:
            self._state.faults.extend(_Fault(delay_s=seconds) for _ in range(count))

    @property
    def pending_faults(self) -> int:
        with self._state.lock:
            return len(self._state.faults)

    def start(self) -> "JobsucheStandIn":
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="jobsuche-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, release the port and wake up any delayed answer."""
        self._state.stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> "JobsucheStandIn":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the Jobsuche API stand-in on loopback.")
    parser.add_argument("--port", type=int, default=8089)
    args = parser.parse_args(argv)
    stand_in = JobsucheStandIn(port=args.port).start()
    print(f"JOBS_API_BASE_URL={stand_in.base_url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        stand_in.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
