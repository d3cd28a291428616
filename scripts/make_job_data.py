"""Generate the bundled, fictional job postings (actions/jobs/data/jobs.jsonl).

Why a generator: the data set must look like real German postings (professions, cities,
working times, start dates) without containing anything real: every employer is made up
from word lists, there are no contact persons, no phone numbers and no e-mail addresses.
The output is deterministic (fixed seed, fixed order), so re-running the script reproduces
the committed file byte for byte; ``--check`` verifies exactly that (useful in CI).

Usage:  python scripts/make_job_data.py [--output PATH] [--check]
"""
from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Final

__all__ = ["Profession", "PROFESSIONS", "generate", "render", "main"]

ROOT: Final[Path] = Path(__file__).resolve().parent.parent
DATA_DIR: Final[Path] = ROOT / "actions" / "jobs" / "data"
DEFAULT_OUTPUT: Final[Path] = DATA_DIR / "jobs.jsonl"
CITIES_FILE: Final[Path] = DATA_DIR / "cities.csv"
SEED: Final[int] = 20240607
COUNT: Final[int] = 360
URL_BASE: Final[str] = "https://jobs.example.org/stellen/"

# Cities with postings and their weight (bigger cities get more postings). Neighbouring
# towns (Potsdam, Offenbach, Fürth, Neuss, Leverkusen, ...) make radius searches meaningful.
CITY_WEIGHTS: Final[dict[str, int]] = {
    "Berlin": 30, "Hamburg": 20, "München": 20, "Köln": 16, "Frankfurt am Main": 14,
    "Stuttgart": 12, "Düsseldorf": 11, "Leipzig": 10, "Dortmund": 9, "Essen": 8, "Bremen": 8,
    "Dresden": 8, "Hannover": 8, "Nürnberg": 8, "Duisburg": 6, "Bochum": 5, "Wuppertal": 5,
    "Bielefeld": 5, "Bonn": 6, "Münster": 5, "Mannheim": 5, "Karlsruhe": 5, "Augsburg": 5,
    "Wiesbaden": 4, "Kiel": 4, "Chemnitz": 4, "Magdeburg": 4, "Freiburg im Breisgau": 4,
    "Mainz": 4, "Lübeck": 3, "Erfurt": 4, "Rostock": 4, "Kassel": 3, "Potsdam": 5,
    "Saarbrücken": 3, "Osnabrück": 3, "Leverkusen": 3, "Heidelberg": 3, "Regensburg": 3,
    "Offenbach am Main": 3, "Fürth": 3, "Neuss": 3, "Würzburg": 3, "Ulm": 2, "Erlangen": 3,
    "Ludwigsburg": 2, "Esslingen am Neckar": 2, "Jena": 2, "Göttingen": 2, "Halle (Saale)": 3,
}


@dataclass(frozen=True)
class Profession:
    """A job family: title variants, search keywords (German and English) and text parts.

    A title listed twice is drawn twice as often.
    """

    titles: tuple[str, ...]
    keywords: str
    employers: tuple[str, ...]
    tasks: tuple[str, ...]
    working_times: tuple[tuple[str, int], ...]
    remote_share: float
    weight: int


def _wt(vollzeit: int, teilzeit: int, minijob: int) -> tuple[tuple[str, int], ...]:
    return (("vollzeit", vollzeit), ("teilzeit", teilzeit), ("minijob", minijob))


PROFESSIONS: Final[tuple[Profession, ...]] = (
    Profession(("Koch/Köchin (m/w/d)", "Koch/Köchin (m/w/d)", "Jungkoch/Jungköchin (m/w/d)", "Beikoch/Beiköchin (m/w/d)"),
               "Koch Köchin Küche Gastronomie cook chef kitchen",
               ("Gasthaus {n}", "Restaurant {n}", "Hotel {n}", "Brauhaus {n}"),
               ("Zubereitung regionaler und saisonaler Gerichte", "Mitarbeit bei Menüplanung und Warenbestellung",
                "Einhaltung der Hygienestandards (HACCP)"), _wt(6, 3, 1), 0.0, 5),
    Profession(("Pflegefachkraft (m/w/d)", "Pflegefachfrau/Pflegefachmann (m/w/d)",
                "Gesundheits- und Krankenpfleger/in (m/w/d)"),
               "Pflege Krankenpflege Pflegefachkraft Krankenhaus Klinik nurse nursing healthcare",
               ("Klinikum {n}", "Pflegedienst {n}", "Krankenhaus {n}"),
               ("Grund- und Behandlungspflege", "Dokumentation der Pflegemaßnahmen",
                "Zusammenarbeit mit Ärztinnen, Ärzten und Therapeuten"), _wt(6, 4, 0), 0.0, 5),
    Profession(("Altenpfleger/in (m/w/d)", "Pflegehelfer/in in der Altenpflege (m/w/d)"),
               "Altenpflege Pflege Seniorenheim Pflegeheim elderly care caregiver nurse",
               ("Seniorenresidenz {n}", "Pflegeheim {n}", "Ambulanter Pflegedienst {n}"),
               ("Betreuung und Pflege unserer Bewohnerinnen und Bewohner", "Unterstützung im Alltag",
                "Pflegedokumentation"), _wt(5, 4, 1), 0.0, 4),
    Profession(("Verkäufer/in (m/w/d)", "Verkäufer/in Lebensmittel (m/w/d)", "Fachverkäufer/in (m/w/d)"),
               "Verkauf Verkäufer Einzelhandel Laden Filiale sales retail shop assistant",
               ("{n} Markt", "Modehaus {n}", "Drogerie {n}", "Frischemarkt {n}"),
               ("Beratung unserer Kundinnen und Kunden", "Warenpräsentation und Auffüllen der Regale",
                "Kassiertätigkeiten"), _wt(4, 4, 2), 0.0, 5),
    Profession(("Kassierer/in (m/w/d)", "Mitarbeiter/in Kasse (m/w/d)"),
               "Kasse Kassierer Kassiererin Supermarkt Einzelhandel cashier checkout retail",
               ("{n} Markt", "Verbrauchermarkt {n}", "Baumarkt {n}"),
               ("Kassieren und Abrechnen", "Freundlicher Kundenservice an der Kasse",
                "Unterstützung beim Warenverräumen"), _wt(2, 4, 4), 0.0, 3),
    Profession(("Lagerist/in (m/w/d)", "Lagerhelfer/in (m/w/d)", "Kommissionierer/in (m/w/d)"),
               "Lager Lagerist Lagerhelfer Kommissionierer Logistik Stapler warehouse worker picker forklift",
               ("{n} Logistik GmbH", "Logistikzentrum {n}", "{n} Versand GmbH"),
               ("Warenannahme und Einlagerung", "Kommissionierung mit Handscanner",
                "Verpackung und Versandvorbereitung"), _wt(6, 2, 2), 0.0, 5),
    Profession(("Fachkraft für Lagerlogistik (m/w/d)", "Fachlagerist/in (m/w/d)"),
               "Lager Logistik Lagerlogistik Fachlagerist Staplerschein warehouse logistics specialist",
               ("{n} Logistik GmbH", "Spedition {n}", "{n} Distribution GmbH"),
               ("Steuerung der Warenflüsse im Lager", "Bestandskontrolle und Inventur",
                "Bedienung von Flurförderzeugen"), _wt(8, 2, 0), 0.0, 3),
    Profession(("Berufskraftfahrer/in CE (m/w/d)", "LKW-Fahrer/in Nahverkehr (m/w/d)"),
               "Berufskraftfahrer Kraftfahrer LKW Fahrer Führerschein CE truck driver lorry",
               ("Spedition {n}", "{n} Transporte GmbH", "{n} Logistik GmbH"),
               ("Nah- und Regionalverkehr mit Rückkehr am selben Tag", "Be- und Entladen",
                "Pflege des Fahrzeugs"), _wt(8, 1, 1), 0.0, 4),
    Profession(("Elektroniker/in für Energie- und Gebäudetechnik (m/w/d)", "Elektriker/in (m/w/d)"),
               "Elektroniker Elektriker Elektroinstallation Gebäudetechnik electrician",
               ("Elektro {n} GmbH", "{n} Elektrotechnik", "{n} Haustechnik GmbH"),
               ("Installation elektrischer Anlagen in Neubau und Bestand", "Fehlersuche und Wartung",
                "Prüfung nach DGUV V3"), _wt(9, 1, 0), 0.0, 4),
    Profession(("Mechatroniker/in (m/w/d)", "Kfz-Mechatroniker/in (m/w/d)"),
               "Mechatroniker Kfz Mechaniker Werkstatt Autowerkstatt mechatronics technician mechanic",
               ("Autohaus {n}", "{n} Automotive GmbH", "Kfz-Werkstatt {n}"),
               ("Wartung, Diagnose und Reparatur", "Inbetriebnahme von Anlagen",
                "Arbeit mit modernen Diagnosesystemen"), _wt(9, 1, 0), 0.0, 4),
    Profession(("Softwareentwickler/in (m/w/d)", "Softwareentwickler/in Python (m/w/d)",
                "Softwareentwickler/in Java (m/w/d)", "Frontend-Entwickler/in (m/w/d)"),
               "Software Entwickler Softwareentwicklung Programmierer IT developer software engineer programmer",
               ("{n} Software GmbH", "{n} Digital GmbH", "{n} IT-Services GmbH"),
               ("Entwicklung und Pflege unserer Webanwendungen", "Code-Reviews im Team",
                "Automatisierte Tests und Continuous Integration"), _wt(8, 2, 0), 0.7, 4),
    Profession(("Erzieher/in (m/w/d)", "Pädagogische Fachkraft Kita (m/w/d)"),
               "Erzieher Erzieherin Kita Kindergarten Kindertagesstätte Pädagogik educator childcare",
               ("Kita {n}", "Kinderhaus {n}", "Familienzentrum {n}"),
               ("Begleitung und Förderung der Kinder im Alltag", "Elternarbeit",
                "Beobachtung und Dokumentation"), _wt(5, 5, 0), 0.0, 4),
    Profession(("Reinigungskraft (m/w/d)", "Gebäudereiniger/in (m/w/d)", "Unterhaltsreinigungskraft (m/w/d)"),
               "Reinigung Reinigungskraft Gebäudereinigung Putzkraft cleaner cleaning janitorial",
               ("{n} Gebäudeservice GmbH", "Reinigungsdienst {n}", "{n} Facility Services"),
               ("Unterhaltsreinigung von Büroflächen", "Reinigung von Sanitärbereichen",
                "Sorgfältiger Umgang mit Reinigungsmitteln"), _wt(2, 4, 4), 0.0, 5),
    Profession(("Servicekraft (m/w/d)", "Servicemitarbeiter/in Gastronomie (m/w/d)"),
               "Service Servicekraft Gastronomie Bedienung waiter waitress server hospitality",
               ("Café {n}", "Restaurant {n}", "Hotel {n}", "Biergarten {n}"),
               ("Bewirtung unserer Gäste", "Aufnahme von Bestellungen und Abrechnung",
                "Vor- und Nachbereitung des Gastraums"), _wt(3, 3, 4), 0.0, 4),
    Profession(("Kaufmann/-frau für Büromanagement (m/w/d)", "Bürokaufmann/-frau (m/w/d)",
                "Sachbearbeiter/in Verwaltung (m/w/d)"),
               "Büro Bürokaufmann Bürokauffrau Büromanagement Verwaltung Sachbearbeitung office clerk administration",
               ("{n} Verwaltungs GmbH", "Hausverwaltung {n}", "{n} Immobilien GmbH", "Steuerkanzlei {n}"),
               ("Allgemeine Büro- und Verwaltungsaufgaben", "Korrespondenz und Terminplanung",
                "Pflege von Daten im ERP-System"), _wt(6, 4, 1), 0.4, 4),
    Profession(("Buchhalter/in (m/w/d)", "Finanzbuchhalter/in (m/w/d)"),
               "Buchhaltung Buchhalter Finanzbuchhaltung Rechnungswesen accountant bookkeeper accounting",
               ("Steuerkanzlei {n}", "{n} Treuhand GmbH", "{n} Industrie GmbH"),
               ("Kreditoren- und Debitorenbuchhaltung", "Vorbereitung der Monatsabschlüsse",
                "Zahlungsverkehr"), _wt(6, 4, 0), 0.6, 3),
    Profession(("Friseur/in (m/w/d)", "Friseur/in mit Berufserfahrung (m/w/d)"),
               "Friseur Friseurin Frisör Salon Haare hairdresser hair stylist barber",
               ("Salon {n}", "Friseur {n}", "Haarstudio {n}"),
               ("Schneiden, Färben und Stylen", "Beratung unserer Kundschaft",
                "Terminplanung im Salon"), _wt(5, 4, 1), 0.0, 3),
    Profession(("Bäcker/in (m/w/d)", "Bäckergeselle/Bäckergesellin (m/w/d)"),
               "Bäcker Bäckerei Backwaren Brot Konditorei baker bakery",
               ("Bäckerei {n}", "Backstube {n}", "Landbäckerei {n}"),
               ("Herstellung von Brot, Brötchen und Feingebäck", "Arbeit nach traditionellen Rezepten",
                "Bedienung der Backöfen"), _wt(5, 3, 2), 0.0, 3),
    Profession(("Maler/in und Lackierer/in (m/w/d)", "Maler/in (m/w/d)"),
               "Maler Lackierer Malerbetrieb Anstrich Handwerk painter decorator",
               ("Malerbetrieb {n}", "{n} Malerfachbetrieb", "Farbwerk {n} GmbH"),
               ("Innen- und Fassadenarbeiten", "Tapezieren und Lackieren",
                "Untergrundvorbereitung"), _wt(9, 1, 0), 0.0, 3),
    Profession(("Tischler/in (m/w/d)", "Schreiner/in (m/w/d)"),
               "Tischler Schreiner Tischlerei Schreinerei Holz Möbel carpenter joiner woodworker",
               ("Tischlerei {n}", "Schreinerei {n}", "{n} Möbelwerkstatt"),
               ("Fertigung von Möbeln und Innenausbauten", "Montage beim Kunden",
                "Arbeit an CNC-Maschinen"), _wt(9, 1, 0), 0.0, 3),
    Profession(("Kellner/in (m/w/d)", "Kellner/in Restaurant (m/w/d)"),
               "Kellner Kellnerin Bedienung Restaurant Gastronomie waiter waitress",
               ("Restaurant {n}", "Wirtshaus {n}", "Ristorante {n}"),
               ("Empfang und Bewirtung der Gäste", "Getränkeservice",
                "Abrechnung am Tisch"), _wt(3, 3, 4), 0.0, 3),
    Profession(("Mitarbeiter/in Kundenservice (m/w/d)", "Kundenberater/in Telefon (m/w/d)"),
               "Kundenservice Kundenberater Callcenter Hotline customer service support agent",
               ("{n} Service GmbH", "{n} Direkt GmbH", "{n} Energie GmbH"),
               ("Beantwortung von Anfragen per Telefon und E-Mail", "Pflege der Kundendaten",
                "Lösungsorientierte Beratung"), _wt(5, 4, 1), 0.6, 3),
    Profession(("Medizinische/r Fachangestellte/r (m/w/d)", "MFA für Hausarztpraxis (m/w/d)"),
               "MFA Arzthelferin Arzthelfer Praxis Medizin medical assistant doctor's office",
               ("Hausarztpraxis {n}", "Praxisgemeinschaft {n}", "Medizinisches Versorgungszentrum {n}"),
               ("Empfang und Terminvergabe", "Assistenz bei Untersuchungen",
                "Blutabnahme und Laborarbeiten"), _wt(5, 5, 0), 0.0, 3),
    Profession(("IT-Systemadministrator/in (m/w/d)", "IT-Support Mitarbeiter/in (m/w/d)"),
               "IT Administrator Systemadministrator Support Helpdesk Netzwerk sysadmin IT support",
               ("{n} IT-Services GmbH", "{n} Systemhaus", "{n} Digital GmbH"),
               ("Betreuung der Server- und Netzwerkinfrastruktur", "First- und Second-Level-Support",
                "Einrichtung von Arbeitsplätzen"), _wt(8, 2, 0), 0.5, 3),
    Profession(("Paketzusteller/in (m/w/d)", "Kurierfahrer/in (m/w/d)"),
               "Zusteller Paketzusteller Kurier Fahrer Auslieferung courier delivery driver parcel",
               ("{n} Kurierdienst", "{n} Express GmbH", "{n} Zustellservice"),
               ("Zustellung von Paketen im festen Tourgebiet", "Beladen des Fahrzeugs",
                "Freundlicher Kontakt zu Empfängern"), _wt(5, 3, 2), 0.0, 3),
    Profession(("Küchenhilfe (m/w/d)", "Spülkraft (m/w/d)"),
               "Küchenhilfe Küche Spülkraft Gastronomie kitchen helper dishwasher kitchen porter",
               ("Kantine {n}", "Restaurant {n}", "Hotel {n}"),
               ("Vorbereitung von Zutaten", "Reinigung von Geschirr und Küche",
                "Unterstützung des Küchenteams"), _wt(2, 4, 4), 0.0, 3),
    Profession(("Anlagenmechaniker/in SHK (m/w/d)", "Installateur/in Sanitär und Heizung (m/w/d)"),
               "Anlagenmechaniker SHK Installateur Sanitär Heizung Klima plumber heating engineer",
               ("{n} Haustechnik GmbH", "Sanitär {n}", "{n} Heizungsbau"),
               ("Installation von Heizungs- und Sanitäranlagen", "Wartung und Kundendienst",
                "Einbau von Wärmepumpen"), _wt(9, 1, 0), 0.0, 3),
    Profession(("Busfahrer/in (m/w/d)", "Omnibusfahrer/in Linienverkehr (m/w/d)"),
               "Busfahrer Omnibus Linienverkehr ÖPNV Fahrer bus driver public transport",
               ("{n} Verkehrsbetriebe", "Busreisen {n}", "{n} Nahverkehr GmbH"),
               ("Sicheres Führen von Linienbussen", "Fahrscheinverkauf und Auskünfte",
                "Fahrzeugkontrolle vor Fahrtantritt"), _wt(7, 3, 0), 0.0, 2),
)

# Made-up name parts for employers; combinations are fictional.
NAME_PARTS: Final[tuple[str, ...]] = (
    "Lindenhof", "Am Markt", "Zum Anker", "Seeblick", "Rosengarten", "Kastanienhof", "Sonnenhang",
    "Mühlbach", "Eichenwald", "Birkenweg", "Nordlicht", "Westend", "Altstadt", "Hafenblick",
    "Lerchenfeld", "Brunnenhof", "Tannengrund", "Auenland", "Falkenstein", "Wiesengrund",
    "Rheinblick", "Elbufer", "Schlossgarten", "Lindenblüte", "Morgenrot", "Sternwarte",
    "Kranich", "Silberdistel", "Bergfried", "Kornblume", "Holunder", "Ahornweg",
)

BENEFITS: Final[tuple[str, ...]] = (
    "tarifliche Vergütung", "30 Tage Urlaub", "Zuschuss zum Deutschlandticket", "betriebliche Altersvorsorge",
    "ein kollegiales Team", "flexible Arbeitszeiten", "Weiterbildungsmöglichkeiten", "Fahrradleasing",
    "kostenlose Getränke", "eine unbefristete Anstellung", "eine strukturierte Einarbeitung",
    "Zuschläge für Wochenendarbeit",
)

WORKING_TIME_WORDS: Final[dict[str, str]] = {
    "vollzeit": "in Vollzeit", "teilzeit": "in Teilzeit", "minijob": "als Minijob",
}


def _read_cities(path: Path) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return {row["name"]: row for row in csv.DictReader(handle)}


def _weighted(rng: random.Random, options: tuple[tuple[str, int], ...]) -> str:
    names = [name for name, weight in options if weight > 0]
    weights = [weight for _, weight in options if weight > 0]
    return rng.choices(names, weights=weights, k=1)[0]


def generate(cities: dict[str, dict[str, str]], *, count: int = COUNT, seed: int = SEED) -> list[dict[str, object]]:
    """Build ``count`` postings as dicts in the column order documented in actions/jobs/data/README.md."""
    rng = random.Random(seed)
    city_names = list(CITY_WEIGHTS)
    missing = [name for name in city_names if name not in cities]
    if missing:
        raise SystemExit(f"cities missing from {CITIES_FILE}: {missing}")
    city_weights = [CITY_WEIGHTS[name] for name in city_names]
    prof_weights = [profession.weight for profession in PROFESSIONS]
    first_start = date(2025, 9, 1)
    postings: list[dict[str, object]] = []
    for number in range(1, count + 1):
        # Every profession at least twice, then weighted at random.
        profession = PROFESSIONS[(number - 1) % len(PROFESSIONS)] if number <= 2 * len(PROFESSIONS) \
            else rng.choices(PROFESSIONS, weights=prof_weights, k=1)[0]
        # The first postings cover every city once, the rest follow the weights.
        city_name = city_names[number - 1] if number <= len(city_names) \
            else rng.choices(city_names, weights=city_weights, k=1)[0]
        city = cities[city_name]
        title = rng.choice(profession.titles)
        employer = rng.choice(profession.employers).format(n=rng.choice(NAME_PARTS))
        working_time = _weighted(rng, profession.working_times)
        remote = rng.random() < profession.remote_share
        start = None if rng.random() < 0.35 else first_start + timedelta(days=rng.randrange(0, 480))
        latitude = round(float(city["latitude"]) + rng.uniform(-0.025, 0.025), 5)
        longitude = round(float(city["longitude"]) + rng.uniform(-0.035, 0.035), 5)
        tasks = rng.sample(profession.tasks, k=2)
        benefits = rng.sample(BENEFITS, k=3)
        when = "ab sofort" if start is None else f"ab dem {start:%d.%m.%Y}"
        description = (
            f"{employer} sucht {when} Verstärkung {WORKING_TIME_WORDS[working_time]} in {city_name}. "
            f"Ihre Aufgaben: {tasks[0]}; {tasks[1]}. "
            f"Wir bieten {benefits[0]}, {benefits[1]} und {benefits[2]}."
            + (" Homeoffice ist nach Absprache möglich." if remote else "")
        )
        job_id = f"lok-{number:04d}"
        postings.append({
            "id": job_id,
            "title": title,
            "employer": employer,
            "city": city_name,
            "postal_code": city["postal_code"],
            "latitude": latitude,
            "longitude": longitude,
            "working_time": working_time,
            "remote": remote,
            "start_date": start.isoformat() if start else None,
            "url": URL_BASE + job_id,
            "description": description,
            "keywords": profession.keywords,
        })
    return postings


def render(postings: list[dict[str, object]]) -> str:
    """JSON Lines, UTF-8 text, one posting per line, stable key order."""
    return "".join(json.dumps(posting, ensure_ascii=False) + "\n" for posting in postings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--check", action="store_true", help="fail if the output file differs")
    args = parser.parse_args(argv)
    text = render(generate(_read_cities(CITIES_FILE)))
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date; run scripts/make_job_data.py", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {text.count(chr(10))} postings to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
