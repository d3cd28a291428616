"""The bundled city list, spelling resolution, distances and text folding."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actions.jobs import JobDataError
from actions.jobs.cities import (
    DEFAULT_CITIES_FILE,
    City,
    CityIndex,
    default_city_index,
    haversine_km,
    load_cities,
)
from actions.jobs.local import DEFAULT_DATA_FILE
from actions.jobs.text import fold, fold_key, tokens

HEADER = "name,aliases,state,postal_code,latitude,longitude\n"


@pytest.fixture(scope="module")
def cities() -> CityIndex:
    return load_cities()


def test_bundled_list_is_large_enough(cities: CityIndex) -> None:
    assert len(cities) >= 80
    assert all(isinstance(city, City) for city in cities)
    assert all(47.0 < c.latitude < 55.5 and 5.5 < c.longitude < 15.5 for c in cities), "outside Germany"


def test_every_city_of_the_bundled_postings_is_listed(cities: CityIndex) -> None:
    used = {json.loads(line)["city"] for line in DEFAULT_DATA_FILE.read_text(encoding="utf-8").splitlines()}
    assert len(used) >= 30
    unresolved = sorted(name for name in used if cities.resolve(name) is None or cities.resolve(name).name != name)
    assert unresolved == []


@pytest.mark.parametrize(("typed", "canonical"), [
    ("Köln", "Köln"), ("koeln", "Köln"), ("KOELN", "Köln"), ("Koln", "Köln"), ("Cologne", "Köln"),
    ("München", "München"), ("Muenchen", "München"), ("munchen", "München"), ("Munich", "München"),
    ("Nürnberg", "Nürnberg"), ("Nuernberg", "Nürnberg"), ("Nuremberg", "Nürnberg"),
    ("Frankfurt", "Frankfurt am Main"), ("Frankfurt am Main", "Frankfurt am Main"),
    ("frankfurt a.M.", "Frankfurt am Main"), ("Frankfurt/Main", "Frankfurt am Main"),
    ("Frankfurt (Oder)", "Frankfurt (Oder)"), ("Frankfurt/Oder", "Frankfurt (Oder)"),
    ("  düsseldorf ", "Düsseldorf"), ("Duesseldorf", "Düsseldorf"), ("Gießen", "Gießen"), ("Giessen", "Gießen"),
    ("in Köln", "Köln"), ("near Munich", "München"), ("50667 Köln", "Köln"), ("Halle", "Halle (Saale)"),
])
def test_spellings_resolve_to_the_canonical_name(cities: CityIndex, typed: str, canonical: str) -> None:
    city = cities.resolve(typed)
    assert city is not None and city.name == canonical
    assert cities.canonical_name(typed) == canonical


@pytest.mark.parametrize("typed", ["Atlantis", "Kleinhausen", "", None, "   ", "Köln Bonn Aachen"])
def test_unknown_places_resolve_to_none(cities: CityIndex, typed: str | None) -> None:
    assert cities.resolve(typed) is None


def test_canonical_name_keeps_unknown_text_as_typed(cities: CityIndex) -> None:
    assert cities.canonical_name("  Kleinhausen an der Au ") == "Kleinhausen an der Au"


def test_haversine_matches_known_distances() -> None:
    assert haversine_km(52.5200, 13.4050, 48.1374, 11.5755) == pytest.approx(504, abs=5)  # Berlin - München
    assert haversine_km(50.9375, 6.9603, 50.7374, 7.0982) == pytest.approx(24.4, abs=1)  # Köln - Bonn
    assert haversine_km(52.52, 13.405, 52.52, 13.405) == 0.0


def test_nearest_city(cities: CityIndex) -> None:
    assert cities.nearest(52.39, 13.07).name == "Potsdam"
    assert cities.nearest(50.10, 8.77).name == "Offenbach am Main"
    assert cities.nearest(52.53, 13.38).name == "Berlin"
    madrid = (40.4168, -3.7038)
    assert cities.nearest(*madrid, max_km=150) is None
    assert cities.nearest(*madrid) is not None


def test_city_distance(cities: CityIndex) -> None:
    berlin = cities.resolve("Berlin")
    assert berlin is not None
    assert berlin.distance_km(52.3906, 13.0645) == pytest.approx(27, abs=2)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cities.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_custom_file_loads(tmp_path: Path) -> None:
    index = load_cities(_write(tmp_path, HEADER + "Kleinhausen,Klein-Hausen|KH,BY,99999,48.1,11.2\n"))
    city = index.resolve("klein hausen")
    assert city is not None and city.aliases == ("Klein-Hausen", "KH") and city.postal_code == "99999"


def test_ambiguous_spelling_is_rejected(tmp_path: Path) -> None:
    text = HEADER + "Aberg,Stadt,BY,1,48,11\nBberg,stadt,BY,2,49,12\n"
    with pytest.raises(JobDataError, match="ambiguous"):
        load_cities(_write(tmp_path, text))


@pytest.mark.parametrize("body", [
    "Aberg,,BY,1,north,11\n",       # not a number
    "Aberg,,BY,1,91,11\n",          # out of range
    ",,BY,1,48,11\n",               # no name
    "",                             # no cities at all
])
def test_malformed_files_are_rejected(tmp_path: Path, body: str) -> None:
    with pytest.raises(JobDataError):
        load_cities(_write(tmp_path, HEADER + body))


def test_missing_file_keeps_the_cause(tmp_path: Path) -> None:
    with pytest.raises(JobDataError) as caught:
        load_cities(tmp_path / "nope.csv")
    assert isinstance(caught.value.__cause__, OSError)


def test_default_index_is_cached_and_overridable(tmp_path: Path) -> None:
    assert default_city_index({}) is default_city_index({"JOBS_CITIES_FILE": str(DEFAULT_CITIES_FILE)})
    custom = default_city_index({"JOBS_CITIES_FILE": str(_write(tmp_path, HEADER + "Aberg,,BY,1,48,11\n"))})
    assert len(custom) == 1 and custom.resolve("aberg") is not None


@pytest.mark.parametrize(("a", "b"), [
    ("Bäcker", "Baecker"), ("Bäcker", "Backer"), ("KÖCHIN", "koechin"), ("Straße", "strasse"),
    ("Müller", "Mueller"), ("Café", "cafe"),
])
def test_fold_makes_spellings_meet(a: str, b: str) -> None:
    assert fold(a) == fold(b)


def test_fold_key_and_tokens() -> None:
    assert fold_key("Frankfurt a.M.") == "frankfurt a m"
    assert fold_key("  Halle (Saale) ") == "halle saale"
    assert tokens("Verkäufer/in (m/w/d), Teilzeit_Job") == ["verkaufer", "in", "m", "w", "d", "teilzeit", "job"]


@given(st.text())
def test_fold_is_idempotent(text: str) -> None:
    assert fold(fold(text)) == fold(text)
    assert fold_key(fold_key(text)) == fold_key(text)


@given(st.sampled_from(sorted(city.name for city in load_cities())))
def test_every_canonical_name_resolves_in_any_case(name: str) -> None:
    index = default_city_index({})
    for variant in (name, name.upper(), name.lower()):
        city = index.resolve(variant)
        assert city is not None and city.name == name
