"""The fictional postings the Jobsuche stand-in serves, in the API's two shapes.

A search item (``stellenangebote[]`` of ``GET .../pc/v4/jobs``) and the JobDetails schema of
``GET .../pc/v4/jobdetails/{base64(refnr)}``, field names as in
/work/shared/specs/jobsuche-openapi.yaml (upstream https://github.com/bundesAPI/jobsuche-api).
Every employer, number and address is invented (``… Beispiel``).
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["StandInPosting", "DEFAULT_POSTINGS"]


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
