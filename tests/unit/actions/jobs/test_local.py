"""The local provider: bundled data, FTS5 search with folding and prefixes, filters, paging."""
from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import actions.jobs.local as local_module
from actions.jobs import (
    InvalidQuery,
    JobDataError,
    JobPosting,
    JobProvider,
    JobQuery,
    ProviderConfigError,
    SearchResult,
    UnknownLocation,
    get_provider,
)
from actions.jobs.cities import haversine_km, load_cities
from actions.jobs.local import DEFAULT_DATA_FILE, LocalJobProvider, load_postings
from actions.jobs.text import fold
from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT
BERLIN = (52.5200, 13.4050)


@pytest.fixture(scope="module")
def provider() -> LocalJobProvider:
    return LocalJobProvider()


def _all(provider: LocalJobProvider, **kwargs: Any) -> list[JobPosting]:
    """Every posting matching the query, over all pages."""
    postings: list[JobPosting] = []
    page = 1
    while True:
        result = provider.search(JobQuery(page=page, size=50, **kwargs))
        postings.extend(result.postings)
        if not result.has_more:
            return postings
        page += 1


def _write_jsonl(tmp_path: Path, records: list[dict[str, Any]], name: str = "jobs.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def _record(job_id: str, **overrides: Any) -> dict[str, Any]:
    record = {"id": job_id, "title": "Koch (m/w/d)", "employer": "Beispiel GmbH", "city": "Berlin",
              "postal_code": "10115", "latitude": 52.52, "longitude": 13.40, "working_time": "vollzeit",
              "remote": False, "start_date": None, "url": f"https://jobs.example.org/{job_id}",
              "description": ""}
    record.update(overrides)
    return record


# --- the bundled data -------------------------------------------------------------------

def test_bundled_data_is_large_varied_and_fictional(provider: LocalJobProvider) -> None:
    lines = DEFAULT_DATA_FILE.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert len(provider) == len(records) >= 300
    assert len({r["city"] for r in records}) >= 30
    assert set(Counter(r["working_time"] for r in records)) == {"vollzeit", "teilzeit", "minijob"}
    assert {r["remote"] for r in records} == {True, False}
    assert any(r["start_date"] is None for r in records) and any(r["start_date"] for r in records)
    assert all(r["url"].startswith("https://jobs.example.org/") for r in records)
    shown = [f"{r['title']} {r['employer']} {r['description']}" for r in records]
    assert not any("@" in text for text in shown), "no e-mail addresses"
    assert not any(re.search(r"\+?\d[\d /-]{6,}\d", text) for text in shown), "no phone numbers"
    assert DEFAULT_DATA_FILE.stat().st_size < 1_000_000


def test_bundled_data_is_reproducible_by_the_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("make_job_data", ROOT / "scripts" / "make_job_data.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "make_job_data", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    assert module.main(["--check"]) == 0


@pytest.mark.parametrize("term", [
    "Koch", "Pflegefachkraft", "Altenpfleger", "Verkäufer", "Kassierer", "Lagerist", "Lagerlogistik",
    "Berufskraftfahrer", "Elektroniker", "Mechatroniker", "Softwareentwickler", "Erzieher",
    "Reinigungskraft", "Servicekraft", "Bürokaufmann", "Buchhalter", "Friseur", "Bäcker", "Maler",
    "Tischler", "Kellner",
])
def test_every_profession_is_found(provider: LocalJobProvider, term: str) -> None:
    result = provider.search(JobQuery(what=term))
    assert result.total > 0
    top = result.postings[0]
    assert fold(term) in fold(top.title)


# --- matching ------------------------------------------------------------------------------

def test_umlauts_and_transliterations_meet(provider: LocalJobProvider) -> None:
    results = [provider.search(JobQuery(what=w, size=50)) for w in ("Bäcker", "Baecker", "Backer", "BÄCKER")]
    assert results[0].total > 0
    assert len({r.total for r in results}) == 1
    assert len({tuple(p.id for p in r.postings) for r in results}) == 1


def test_prefix_queries(provider: LocalJobProvider) -> None:
    pflege = _all(provider, what="Pflege")
    assert any("Pflegefachkraft" in p.title for p in pflege)
    assert any("Pflegefachfrau" in p.title for p in pflege)
    koch = _all(provider, what="koch")
    assert any("Köchin" in p.title for p in koch)


def test_english_keywords(provider: LocalJobProvider) -> None:
    nurses = _all(provider, what="nurse")
    assert nurses and all(re.search(r"[Pp]fleg", p.title) for p in nurses)


def test_stopwords_and_gender_suffix_are_ignored(provider: LocalJobProvider) -> None:
    plain = provider.search(JobQuery(what="Koch", size=50))
    noisy = provider.search(JobQuery(what="Job als Koch (m/w/d)", size=50))
    assert [p.id for p in noisy.postings] == [p.id for p in plain.postings]


def test_all_terms_first_then_any_term(provider: LocalJobProvider) -> None:
    both = _all(provider, what="Softwareentwickler Python")
    assert both and all("Python" in p.title for p in both)
    assert len(both) < provider.search(JobQuery(what="Softwareentwickler")).total
    fallback = provider.search(JobQuery(what="Koch Astronaut", size=50))
    assert fallback.total == provider.search(JobQuery(what="Koch")).total


def test_nothing_found(provider: LocalJobProvider) -> None:
    result = provider.search(JobQuery(what="Astronaut"))
    assert result == SearchResult(postings=(), total=0, page=1, size=5)
    assert result.has_more is False


def test_title_hits_rank_before_description_hits(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path, [
        _record("d", title="Servicekraft (m/w/d)", description="Unterstützung von Koch und Küche"),
        _record("t", title="Koch (m/w/d)"),
    ])
    result = LocalJobProvider(path).search(JobQuery(what="Koch"))
    assert [p.id for p in result.postings] == ["t", "d"]


# --- filters ---------------------------------------------------------------------------------

@pytest.mark.parametrize("working_time", ["vollzeit", "teilzeit", "minijob"])
def test_working_time_filter(provider: LocalJobProvider, working_time: str) -> None:
    filtered = _all(provider, what="", working_time=working_time)
    assert filtered and {p.working_time for p in filtered} == {working_time}
    assert len(filtered) < len(provider)


def test_remote_filter(provider: LocalJobProvider) -> None:
    remote = _all(provider, what="", remote=True)
    assert remote and all(p.remote for p in remote)
    assert provider.search(JobQuery(remote=False)).total == len(provider)  # False means "no filter"


def test_radius_around_a_known_city(provider: LocalJobProvider) -> None:
    near = _all(provider, where="Berlin", radius_km=10)
    assert near and {p.city for p in near} == {"Berlin"}
    assert all(haversine_km(*BERLIN, p.latitude, p.longitude) <= 10 for p in near)
    wide = _all(provider, where="Berlin", radius_km=40)
    assert "Potsdam" in {p.city for p in wide} and len(wide) > len(near)


def test_default_radius_is_25_km(provider: LocalJobProvider) -> None:
    default = _all(provider, where="Köln")
    explicit = _all(provider, where="Köln", radius_km=25)
    assert [p.id for p in default] == [p.id for p in explicit]
    assert all(haversine_km(50.9375, 6.9603, p.latitude, p.longitude) <= 25 for p in default)
    assert "Leverkusen" in {p.city for p in default}


def test_city_aliases_search_the_same_place(provider: LocalJobProvider) -> None:
    ids = {tuple(p.id for p in _all(provider, where=where)) for where in ("Köln", "koeln", "Cologne")}
    assert len(ids) == 1


def test_coordinates_take_precedence_over_the_place(provider: LocalJobProvider) -> None:
    potsdam = _all(provider, where="Hamburg", latitude=52.3906, longitude=13.0645, radius_km=5)
    assert potsdam and {p.city for p in potsdam} == {"Potsdam"}


def test_results_combine_text_place_and_working_time(provider: LocalJobProvider) -> None:
    found = _all(provider, what="Pflege", where="Berlin", radius_km=50, working_time="teilzeit")
    everything = _all(provider, what="Pflege")
    assert len(found) < len(everything)
    assert all(p.working_time == "teilzeit" and haversine_km(*BERLIN, p.latitude, p.longitude) <= 50
               for p in found)


def test_known_city_without_postings_is_an_empty_result(provider: LocalJobProvider) -> None:
    assert provider.search(JobQuery(what="Koch", where="Görlitz", radius_km=5)).total == 0


def test_unknown_city_matches_the_postings_city_text(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path, [
        _record("a", city="Kleinhausen", latitude=None, longitude=None, postal_code="99998"),
        _record("b", city="Kleinhausen Ost", latitude=None, longitude=None),
        _record("c"),
    ])
    provider = LocalJobProvider(path)
    assert [p.id for p in _all(provider, where="kleinhausen")] == ["a", "b"]
    assert [p.id for p in _all(provider, where="99998")] == ["a"]
    assert provider.search(JobQuery(what="Astronaut", where="Kleinhausen")).total == 0
    with pytest.raises(UnknownLocation) as caught:
        provider.search(JobQuery(what="Koch", where="Nirgendwo"))
    assert caught.value.place == "Nirgendwo"


def test_missing_coordinates_are_filled_from_the_city_list(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path, [_record("a", city="Potsdam", latitude=None, longitude=None)])
    posting = LocalJobProvider(path).details("a")
    assert posting is not None and (posting.latitude, posting.longitude) == (52.3906, 13.0645)
    assert [p.id for p in _all(LocalJobProvider(path), where="Potsdam", radius_km=1)] == ["a"]


# --- paging and details ------------------------------------------------------------------------

def test_pagination(provider: LocalJobProvider) -> None:
    first = provider.search(JobQuery(what="Pflege", size=5))
    assert first.total > 10 and len(first.postings) == 5 and first.has_more
    pages = [first] + [provider.search(JobQuery(what="Pflege", size=5, page=n)) for n in range(2, 20)]
    assert {r.total for r in pages} == {first.total}
    ids = [p.id for r in pages for p in r.postings]
    assert len(ids) == len(set(ids)) == first.total
    last_page = (first.total + 4) // 5
    assert pages[last_page - 1].has_more is False and pages[last_page - 2].has_more is True
    assert pages[last_page].postings == ()


def test_details(provider: LocalJobProvider) -> None:
    posting = provider.details("lok-0001")
    assert posting is not None and posting.id == "lok-0001" and posting.url.endswith("/lok-0001")
    assert provider.details("lok-9999") is None
    assert provider.details("") is None


def test_is_a_job_provider_and_thread_safe(provider: LocalJobProvider) -> None:
    assert isinstance(provider, JobProvider)
    expected = provider.search(JobQuery(what="Lager", where="Hamburg", radius_km=100))
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(
            lambda _: provider.search(JobQuery(what="Lager", where="Hamburg", radius_km=100)), range(40)))
    assert all(r == expected for r in results)


def test_index_is_built_once_per_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write_jsonl(tmp_path, [_record("a")])
    calls: list[Path] = []
    original = local_module.load_postings

    def counting(file: Path, cities: Any = None) -> Any:
        calls.append(Path(file))
        return original(file, cities)

    monkeypatch.setattr(local_module, "load_postings", counting)
    LocalJobProvider(path)
    LocalJobProvider(str(path))
    assert calls == [path.resolve()]


# --- configuration and data errors ------------------------------------------------------------

def test_get_provider_defaults_to_local_and_reads_jobs_data_file(tmp_path: Path) -> None:
    assert isinstance(get_provider({}), LocalJobProvider)
    path = _write_jsonl(tmp_path, [_record("x1")])
    custom = get_provider({"JOBS_PROVIDER": " LOCAL ", "JOBS_DATA_FILE": str(path)})
    assert isinstance(custom, LocalJobProvider) and len(custom) == 1
    assert custom.details("x1") is not None


def test_unknown_provider_name_is_a_config_error() -> None:
    with pytest.raises(ProviderConfigError, match="local, arbeitsagentur"):
        get_provider({"JOBS_PROVIDER": "monster"})


@pytest.mark.parametrize(("lines", "message"), [
    (['{"id": "a"'], ":1:"),
    ([json.dumps(_record("a")), json.dumps(_record("a"))], "duplicate id"),
    ([json.dumps(_record("a", working_time="halbtags"))], "working_time"),
    ([json.dumps(_record("a", remote="ja"))], "remote"),
    ([json.dumps(_record("a", start_date="morgen"))], ":1:"),
    ([json.dumps(_record("a", latitude=200))], "latitude"),
    ([json.dumps(_record("a", title=""))], "title"),
    (["[1, 2]"], "JSON object"),
    (["", "  "], "no postings"),
])
def test_malformed_data_files_are_rejected(tmp_path: Path, lines: list[str], message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(JobDataError, match=message):
        load_postings(path, load_cities())


def test_missing_data_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ProviderConfigError) as caught:
        LocalJobProvider(tmp_path / "missing.jsonl")
    assert isinstance(caught.value.__cause__, OSError)


@pytest.mark.parametrize("kwargs", [
    {"working_time": "halbtags"}, {"page": 0}, {"size": 0}, {"size": 51}, {"radius_km": 0},
    {"radius_km": 500}, {"latitude": 52.5}, {"latitude": 95.0, "longitude": 13.0},
    {"latitude": 52.0, "longitude": float("nan")},
])
def test_invalid_queries_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidQuery):
        JobQuery(what="Koch", **kwargs)
    with pytest.raises(ValueError):
        JobQuery(what="Koch", **kwargs)


def test_query_normalises_text() -> None:
    query = JobQuery(what="  Koch ", where="   ")
    assert query.what == "Koch" and query.where is None and query.has_coordinates is False


# --- filters: search slots a designer added in YAML ------------------------------------------

def test_a_filter_naming_a_full_text_column_narrows_the_search(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path, [_record("a", employer="Gasthaus Sonne"), _record("b", employer="Hotel Mond"),
                                   _record("c", title="Kellner (m/w/d)", employer="Gasthaus Sonne")])
    provider = LocalJobProvider(path)
    narrowed = provider.search(JobQuery(what="Koch", filters=(("employer", "gasthaus sonne"),)))
    assert [p.id for p in narrowed.postings] == ["a"] and narrowed.total == 1
    assert [p.id for p in _all(provider, filters=(("employer", "Sonne"),))] == ["a", "c"]
    either = provider.search(JobQuery(what="Koch Kellner", filters=(("employer", "Sonne"),)))
    assert sorted(p.id for p in either.postings) == ["a", "c"]  # the any-term fallback keeps the filter


def test_a_filter_the_local_data_cannot_apply_is_ignored(tmp_path: Path) -> None:
    provider = LocalJobProvider(_write_jsonl(tmp_path, [_record("a"), _record("b")]))
    assert provider.search(JobQuery(what="Koch", filters=(("salary", "high"),))).total == 2


@pytest.mark.parametrize("filters", [(("employer",),), (("employer", ""),), [("employer", "x")], (("", "x"),)])
def test_malformed_filters_are_refused(filters: Any) -> None:
    with pytest.raises(InvalidQuery):
        JobQuery(what="Koch", filters=filters)
