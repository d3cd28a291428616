"""The job-search actions of the assistant (rasa-sdk 3.6 custom actions).

Names, slots and responses are fixed in docs/architecture.md ("Names the dialogue and
the code share"); the wording lives only in
domain.yml, so these actions send response names with variables, never text. Rasa-sdk
reference: https://rasa.com/docs/rasa/3.x/action-server/sdk-actions and, for the form
validation (``extract_<slot>``, ``validate_<slot>``, ``required_slots``),
https://rasa.com/docs/rasa/3.x/forms#advanced-usage.

The provider (``JOBS_PROVIDER``, see :func:`actions.jobs.get_provider`) is created once per
process on first use. Its calls block (HTTP, SQLite), so they run in a worker thread and the
action server's event loop stays free. No failure of a provider ever escapes an action: the
user gets ``utter_jobs_unavailable`` instead. Search words, places and coordinates are user
data and are logged at DEBUG only.
"""
from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import threading
from collections.abc import Callable
from datetime import date
from typing import Any, Final, TypeVar

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.jobs import (
    MAX_RADIUS_KM,
    JobPosting,
    JobProvider,
    JobProviderError,
    JobQuery,
    ProviderConfigError,
    SearchResult,
    UnknownLocation,
    get_provider,
)
from actions.jobs.cities import CityIndex, default_city_index
from actions.jobs.text import fold_key

__all__ = [
    "PAGE_SIZE",
    "SEARCH_SLOTS",
    "FORM_SLOTS",
    "OPTIONAL_FORM_SLOTS",
    "NEAREST_CITY_MAX_KM",
    "ActionSearchJobs",
    "ActionMoreResults",
    "ActionShowJob",
    "ActionResetSearch",
    "ValidateJobSearchForm",
    "shared_provider",
    "reset_shared_provider",
    "parse_radius_km",
    "parse_working_time",
    "parse_remote",
    "format_start_date",
    "select_job_payload",
]

logger = logging.getLogger(__name__)

PAGE_SIZE: Final[int] = 5
SEARCH_SLOTS: Final[tuple[str, ...]] = (
    "job_title", "location", "radius_km", "working_time", "remote", "search_page", "latitude", "longitude",
)
# Asked by the form when the domain does not list them itself.
FORM_SLOTS: Final[tuple[str, ...]] = ("job_title", "location")
# Normalised when set during the form, but never asked for.
OPTIONAL_FORM_SLOTS: Final[tuple[str, ...]] = ("radius_km", "working_time", "remote")
# A shared location farther than this from every listed city does not name a city.
NEAREST_CITY_MAX_KM: Final[float] = 100.0
MAX_JOB_TITLE_CHARS: Final[int] = 100

_WORKING_TIME_WORDS: Final[dict[str, dict[str | None, str]]] = {
    "de": {"vollzeit": "Vollzeit", "teilzeit": "Teilzeit", "minijob": "Minijob", None: "keine Angabe"},
    "en": {"vollzeit": "full-time", "teilzeit": "part-time", "minijob": "mini-job", None: "not specified"},
}
_IMMEDIATELY: Final[dict[str, str]] = {"de": "ab sofort", "en": "immediately"}

# Compact folded spellings (fold_key without spaces) -> slot value.
_WORKING_TIME_SYNONYMS: Final[dict[str, str]] = {
    **dict.fromkeys(("vollzeit", "fulltime", "vz", "vollzeitstelle", "vollzeitjob"), "vollzeit"),
    **dict.fromkeys(("teilzeit", "parttime", "tz", "halbtags", "teilzeitstelle", "teilzeitjob"), "teilzeit"),
    **dict.fromkeys(("minijob", "minijobs", "mj", "geringfugig", "geringfugigebeschaftigung", "450eurojob",
                     "520eurojob", "538eurojob", "556eurojob", "450job", "520job", "538job", "556job",
                     "450erjob", "520erjob"), "minijob"),
}
_REMOTE_YES: Final[frozenset[str]] = frozenset(
    {"ja", "yes", "true", "1", "remote", "homeoffice", "mobilesarbeiten", "fernarbeit", "wfh", "workfromhome"}
)
_REMOTE_NO: Final[frozenset[str]] = frozenset({"nein", "no", "false", "0", "vorort", "onsite", "prasenz"})
_RADIUS = re.compile(
    r"^\s*(?:ca\.?\s*|about\s*|within\s*|umkreis\s*(?:von\s*)?)?(\d{1,4}(?:[.,]\d+)?)\s*"
    r"(km|kilometer|kilometern|kilometers|kilometres|mi|miles|meilen)?\.?\s*$",
    re.IGNORECASE,
)
_MILE_KM: Final[float] = 1.609344

_T = TypeVar("_T")

# --- the shared provider ---------------------------------------------------------------------

_shared: JobProvider | None = None
_shared_lock = threading.Lock()


def shared_provider() -> JobProvider:
    """The process-wide provider, created from the environment on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = get_provider()
        return _shared


def reset_shared_provider(provider: JobProvider | None = None) -> None:
    """Replace (or forget) the shared provider; for tests and for re-configuration."""
    global _shared
    with _shared_lock:
        _shared = provider


class _UsesProvider:
    """Mixin: an injected provider (tests) or the shared one. Not an Action itself, so the
    action server does not try to register it."""

    def __init__(self, provider: JobProvider | None = None, cities: CityIndex | None = None) -> None:
        self._provider = provider
        self._cities = cities

    def provider(self) -> JobProvider:
        return self._provider if self._provider is not None else shared_provider()

    def cities(self) -> CityIndex:
        return self._cities if self._cities is not None else default_city_index()

    async def _call(self, function: Callable[[JobProvider], _T]) -> _T:
        """Run a blocking provider call (including lazy creation) in a worker thread."""
        return await asyncio.to_thread(lambda: function(self.provider()))


# --- slot value parsing ------------------------------------------------------------------------

def parse_radius_km(value: Any) -> float | None:
    """"50 km" -> 50.0, "10 miles" -> 16.1, 30 -> 30.0; clamped to the providers' maximum.

    Anything that is not a positive distance gives ``None`` (the slot is then left empty
    and the providers use their default radius).
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        number = float(value)
        unit = None
    elif isinstance(value, str):
        match = _RADIUS.match(value)
        if not match:
            return None
        number = float(match.group(1).replace(",", "."))
        unit = (match.group(2) or "").lower()
    else:
        return None
    if unit in ("mi", "miles", "meilen"):
        number *= _MILE_KM
    if not math.isfinite(number) or number <= 0:
        return None
    return round(min(number, float(MAX_RADIUS_KM)), 1)


def parse_working_time(value: Any) -> str | None:
    """Teilzeit/part-time/part time -> teilzeit; Vollzeit/full-time -> vollzeit;
    Minijob/mini-job/450-Euro-Job/520-Euro-Job -> minijob; anything else -> None."""
    if not isinstance(value, str):
        return None
    return _WORKING_TIME_SYNONYMS.get(fold_key(value).replace(" ", ""))


def parse_remote(value: Any) -> bool | None:
    """A bool stays; "ja"/"yes"/"Homeoffice"/"remote" -> True; "nein"/"no"/"vor Ort" -> False."""
    if isinstance(value, bool):
        return value
    if not isinstance(value, str):
        return None
    key = fold_key(value).replace(" ", "")
    if key in _REMOTE_YES:
        return True
    if key in _REMOTE_NO:
        return False
    return None


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _as_text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    return text or None


def _language(tracker: Tracker) -> str:
    language = tracker.get_slot("language")
    return language if language in _IMMEDIATELY else "de"


def format_start_date(start: date | None, language: str, today: date | None = None) -> str:
    """dd.mm.yyyy for a future start, else "ab sofort" / "immediately"."""
    today = today or date.today()
    if start is None or start <= today:
        return _IMMEDIATELY.get(language, _IMMEDIATELY["de"])
    return start.strftime("%d.%m.%Y")


def select_job_payload(job_id: str) -> str:
    """The button payload of docs/architecture.md: ``/select_job{"job_id":"<id>"}``."""
    return "/select_job" + json.dumps({"job_id": job_id}, ensure_ascii=False, separators=(",", ":"))


# --- building the query and the answer ---------------------------------------------------------

def _coordinates(tracker: Tracker, location: str | None, cities: CityIndex) -> tuple[float | None, float | None]:
    """Use a shared location only if it still fits the place in the ``location`` slot.

    A user who shared their position and later typed another city means the typed city.
    """
    latitude, longitude = _as_float(tracker.get_slot("latitude")), _as_float(tracker.get_slot("longitude"))
    if latitude is None or longitude is None or not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None, None
    if location is None:
        return latitude, longitude
    typed = cities.resolve(location)
    nearest = cities.nearest(latitude, longitude, max_km=NEAREST_CITY_MAX_KM)
    if typed is not None and nearest is not None and typed.name == nearest.name:
        return latitude, longitude
    return None, None


def _query(tracker: Tracker, page: int, cities: CityIndex) -> JobQuery:
    location = _as_text(tracker.get_slot("location"))
    latitude, longitude = _coordinates(tracker, location, cities)
    radius = parse_radius_km(tracker.get_slot("radius_km"))
    return JobQuery(
        what=_as_text(tracker.get_slot("job_title")) or "",
        where=location,
        radius_km=max(1, round(radius)) if radius is not None else None,
        working_time=parse_working_time(tracker.get_slot("working_time")),
        remote=parse_remote(tracker.get_slot("remote")),
        latitude=latitude,
        longitude=longitude,
        page=page,
        size=PAGE_SIZE,
    )


def _result_line(number: int, posting: JobPosting) -> str:
    where = ", ".join(part for part in (posting.employer, posting.city) if part)
    return f"{number}. {posting.title} – {where}" if where else f"{number}. {posting.title}"


def _utter_results(dispatcher: CollectingDispatcher, tracker: Tracker, result: SearchResult) -> None:
    first = (result.page - 1) * result.size + 1
    last = first + len(result.postings) - 1
    dispatcher.utter_message(
        response="utter_job_results",
        # The numbered line as the title: unique even for equal job titles, and on WhatsApp the
        # row shows its start while the description carries employer and place.
        buttons=[
            {"title": _result_line(first + i, p), "payload": select_job_payload(p.id)}
            for i, p in enumerate(result.postings)
        ],
        total=result.total,
        job_title=_as_text(tracker.get_slot("job_title")) or "",
        location=_as_text(tracker.get_slot("location")) or "",
        first=first,
        last=last,
        results="\n".join(_result_line(first + i, p) for i, p in enumerate(result.postings)),
    )
    dispatcher.utter_message(response="utter_results_nav_more" if result.has_more else "utter_results_nav_last")


def _log_failure(action: str, exc: BaseException) -> None:
    if isinstance(exc, ProviderConfigError):
        # An operator must fix this; the message names settings and files, never user data.
        logger.error("%s: job provider is misconfigured: %s", action, exc)
    else:
        logger.warning("%s: job provider failed (%s)", action, type(exc).__name__)
    logger.debug("%s: provider failure details", action, exc_info=exc)


def _filled_fields(query: object) -> str:
    """The names of the query's non-empty fields, e.g. ``"title,location,radius_km"``."""
    fields = getattr(query, "__dataclass_fields__", None) or vars(query)
    names = [name for name in fields if getattr(query, name, None) not in (None, "", (), [], {})]
    return ",".join(names) or "no fields"


class _SearchBase(_UsesProvider):
    """Shared search step of action_search_jobs and action_more_results."""

    async def _search(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, page: int, action: str
    ) -> SearchResult | UnknownLocation | None:
        """The result page, the UnknownLocation raised, or None after uttering unavailability."""
        try:
            query = _query(tracker, page, self.cities())
            # Field names and the page only: the values are what the user asked for (issue 16, finding 2).
            logger.debug("%s: query page %d with %s", action, page, _filled_fields(query))
            return await self._call(lambda provider: provider.search(query))
        except UnknownLocation as exc:
            return exc
        except JobProviderError as exc:
            _log_failure(action, exc)
        except Exception as exc:  # noqa: BLE001 - an action must answer, whatever the provider did
            _log_failure(action, exc)
        dispatcher.utter_message(response="utter_jobs_unavailable")
        return None


# --- the actions ---------------------------------------------------------------------------------

class ActionSearchJobs(_SearchBase, Action):
    """First page of results for the slots of the job search form."""

    def name(self) -> str:
        return "action_search_jobs"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        result = await self._search(dispatcher, tracker, 1, self.name())
        if result is None:
            return []
        if isinstance(result, UnknownLocation) or not result.postings:
            dispatcher.utter_message(
                response="utter_no_results",
                job_title=_as_text(tracker.get_slot("job_title")) or "",
                location=_as_text(tracker.get_slot("location")) or "",
            )
            # Forget the paging of an earlier search, so "more" does not page this one.
            return [SlotSet("search_page", None)]
        logger.info("%s: %d postings shown of %d", self.name(), len(result.postings), result.total)
        _utter_results(dispatcher, tracker, result)
        return [SlotSet("search_page", 1.0)]


class ActionMoreResults(_SearchBase, Action):
    """The page after ``search_page`` for the same slots."""

    def name(self) -> str:
        return "action_more_results"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        current = _as_float(tracker.get_slot("search_page"))
        if current is None or current < 1:
            dispatcher.utter_message(response="utter_no_more_results")
            return []
        page = int(current) + 1
        result = await self._search(dispatcher, tracker, page, self.name())
        if result is None:
            return []
        if isinstance(result, UnknownLocation) or not result.postings:
            dispatcher.utter_message(response="utter_no_more_results")
            return []
        _utter_results(dispatcher, tracker, result)
        return [SlotSet("search_page", float(page))]


class ActionShowJob(_UsesProvider, Action):
    """Details of the job whose button the user pressed (entity ``job_id``)."""

    def name(self) -> str:
        return "action_show_job"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        raw = next(tracker.get_latest_entity_values("job_id"), None)
        job_id = str(raw).strip() if raw is not None else ""
        if not job_id:
            dispatcher.utter_message(response="utter_job_not_found")
            return []
        try:
            posting = await self._call(lambda provider: provider.details(job_id))
        except JobProviderError as exc:
            _log_failure(self.name(), exc)
            dispatcher.utter_message(response="utter_jobs_unavailable")
            return []
        except Exception as exc:  # noqa: BLE001 - an action must answer, whatever the provider did
            _log_failure(self.name(), exc)
            dispatcher.utter_message(response="utter_jobs_unavailable")
            return []
        if posting is None:
            dispatcher.utter_message(response="utter_job_not_found")
            return []
        language = _language(tracker)
        dispatcher.utter_message(
            response="utter_job_details",
            title=posting.title,
            employer=posting.employer,
            place=" ".join(part for part in (posting.postal_code, posting.city) if part),
            start_date=format_start_date(posting.start_date, language),
            working_time=_WORKING_TIME_WORDS[language].get(posting.working_time, _WORKING_TIME_WORDS[language][None]),
            url=posting.url,
        )
        return []


class ActionResetSearch(Action):
    """Forget the current search so the form asks again."""

    def name(self) -> str:
        return "action_reset_search"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        return [SlotSet(slot, None) for slot in SEARCH_SLOTS]


SHARE_LOCATION_INTENT = "share_location"


class ValidateJobSearchForm(FormValidationAction):
    """Cleans the form's slots: canonical city names, nearest city for a shared location,
    numeric radius and the working-time vocabulary of the providers."""

    def __init__(self, cities: CityIndex | None = None) -> None:
        self._cities = cities

    def name(self) -> str:
        return "validate_job_search_form"

    def cities(self) -> CityIndex:
        return self._cities if self._cities is not None else default_city_index()

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        """The domain's required slots; job_title and location when the domain lists none."""
        return list(domain_slots) or list(FORM_SLOTS)

    async def extract_location(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Fill the location from a shared WhatsApp location (nearest listed city).

        A location shared in this very message replaces a place given earlier; otherwise
        coordinates only fill an empty location.
        """
        shared_now = ((tracker.latest_message or {}).get("intent") or {}).get("name") == SHARE_LOCATION_INTENT
        if _as_text(tracker.get_slot("location")) and not shared_now:
            return {}
        latitude, longitude = _as_float(tracker.get_slot("latitude")), _as_float(tracker.get_slot("longitude"))
        if latitude is None or longitude is None:
            return {}
        city = self.cities().nearest(latitude, longitude, max_km=NEAREST_CITY_MAX_KM)
        return {"location": city.name} if city is not None else {}

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """rasa-sdk validates only required slots; also normalise the optional ones."""
        events = await super().get_validation_events(dispatcher, tracker, domain)
        required = await self.required_slots(self.domain_slots(domain), dispatcher, tracker, domain)
        extra: dict[str, Any] = {}
        for slot, value in tracker.slots_to_validate().items():
            if slot in OPTIONAL_FORM_SLOTS and slot not in required:
                output = getattr(self, f"validate_{slot}")(value, dispatcher, tracker, domain)
                extra.update(output)
                tracker.slots.update(output)
        return events + [SlotSet(slot, value) for slot, value in extra.items()]

    def validate_job_title(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = _as_text(value)
        return {"job_title": text[:MAX_JOB_TITLE_CHARS] if text else None}

    def validate_location(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = _as_text(value)
        if text is None:
            return {"location": None}
        cities = self.cities()
        location = cities.canonical_name(text)
        result: dict[str, Any] = {"location": location}
        latitude, longitude = _as_float(tracker.get_slot("latitude")), _as_float(tracker.get_slot("longitude"))
        if latitude is not None and longitude is not None:
            nearest = cities.nearest(latitude, longitude, max_km=NEAREST_CITY_MAX_KM)
            if nearest is None or nearest.name != location:
                # The typed place wins over an older shared position.
                result.update(latitude=None, longitude=None)
        return result

    def validate_radius_km(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"radius_km": parse_radius_km(value)}

    def validate_working_time(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"working_time": parse_working_time(value)}

    def validate_remote(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"remote": parse_remote(value)}
