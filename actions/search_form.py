"""``validate_job_search_form``: cleans the job search form's slots (rasa-sdk 3.6).

Form validation reference: https://rasa.com/docs/rasa/3.x/forms#advanced-usage
(``extract_<slot>``, ``validate_<slot>``, ``required_slots``). The form asks for the slots
its domain.yml entry lists (``required_slots``); the other search slots labels.yml lists
(actions/search/slots.py) are normalised too when a message sets them during the form. A
search slot without a ``validate_<slot>`` method of its own below, e.g. one a designer
added in YAML, is cleaned as text.
"""
from __future__ import annotations

from typing import Any, Callable, Final

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.jobs.cities import CityIndex, default_city_index
from actions.search.query import NEAREST_CITY_MAX_KM, shared_coordinates
from actions.search.slot_values import as_text, parse_radius_km, parse_remote, parse_working_time
from actions.search.slots import SEARCH_FORM, filter_slots, form_required_slots, search_slots

__all__ = ["ValidateJobSearchForm", "SHARE_LOCATION_INTENT", "MAX_TEXT_CHARS"]

SHARE_LOCATION_INTENT: Final[str] = "share_location"
# A job title (or another text criterion) longer than this is cut: no search needs more.
MAX_TEXT_CHARS: Final[int] = 100

_Validator = Callable[[Any, CollectingDispatcher, Tracker, DomainDict], dict[str, Any]]


def _text_validator(slot: str) -> _Validator:
    def validate(value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        text = as_text(value)
        return {slot: text[:MAX_TEXT_CHARS] if text else None}

    return validate


class ValidateJobSearchForm(FormValidationAction):
    """Cleans the form's slots: canonical city names, nearest city for a shared location,
    numeric radius and the working-time vocabulary of the providers."""

    def __init__(self, cities: CityIndex | None = None) -> None:
        self._cities = cities

    def name(self) -> str:
        return "validate_" + SEARCH_FORM

    def cities(self) -> CityIndex:
        return self._cities if self._cities is not None else default_city_index()

    def __getattr__(self, attribute: str) -> Any:
        """``validate_<slot>`` for a search slot added in YAML: clean it as text.

        rasa-sdk looks validators up with ``getattr(self, "validate_<slot>", None)``.
        """
        slot = attribute.removeprefix("validate_")
        if attribute.startswith("validate_") and slot in filter_slots():
            return _text_validator(slot)
        raise AttributeError(attribute)

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        """The domain's required slots (from the domain file when the call carries no domain)."""
        return list(domain_slots) or list(form_required_slots())

    async def extract_location(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Fill the location from a shared WhatsApp location (nearest listed city).

        A location shared in this very message replaces a place given earlier; otherwise
        coordinates only fill an empty location.
        """
        shared_now = ((tracker.latest_message or {}).get("intent") or {}).get("name") == SHARE_LOCATION_INTENT
        if as_text(tracker.get_slot("location")) and not shared_now:
            return {}
        latitude, longitude = shared_coordinates(tracker)
        if latitude is None or longitude is None:
            return {}
        city = self.cities().nearest(latitude, longitude, max_km=NEAREST_CITY_MAX_KM)
        return {"location": city.name} if city is not None else {}

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """rasa-sdk validates only required slots; also normalise the other search slots."""
        events = await super().get_validation_events(dispatcher, tracker, domain)
        required = await self.required_slots(self.domain_slots(domain), dispatcher, tracker, domain)
        searched = search_slots()
        extra: dict[str, Any] = {}
        for slot, value in tracker.slots_to_validate().items():
            validator = getattr(self, f"validate_{slot}", None)
            if slot in searched and slot not in required and validator is not None:
                output = validator(value, dispatcher, tracker, domain)
                extra.update(output)
                tracker.slots.update(output)
        return events + [SlotSet(slot, value) for slot, value in extra.items()]

    def validate_job_title(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return _text_validator("job_title")(value, dispatcher, tracker, domain)

    def validate_location(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = as_text(value)
        if text is None:
            return {"location": None}
        cities = self.cities()
        location = cities.canonical_name(text)
        result: dict[str, Any] = {"location": location}
        latitude, longitude = shared_coordinates(tracker)
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
