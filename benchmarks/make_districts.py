"""Generate a realistic batch CSV: every US regular public school district, made up but plausible.

    python benchmarks/make_districts.py /tmp/districts.csv            # 13,318 rows, seed 2122
    python benchmarks/make_districts.py /tmp/small.csv --rows 500

What is realistic about it (see docs in /work/shared/docs/domain-notes.md):

* enrollment follows NCES Digest table 214.20 (2021-22): exactly 266 districts of 25,000+,
  610 of 10,000-24,999, ... 2,558 of 1-299 and 117 that report none; within a band, sizes are
  log-uniform, and the top band has a heavy tail (a few districts of several hundred thousand);
* ids are 7-digit NCES-style LEA ids (state FIPS code + 5 digits, so leading zeros), names follow
  each state's habits (Texas "ISD", California "Unified School District", New York "Central School
  District"...), with accents, apostrophes and commas that need CSV quoting;
* the SIS mix follows the market: PowerSchool most common, Infinite Campus and Synergy more common
  in big districts, Skyward and small vendors in small ones, Aeries in California, Genesis in New
  Jersey, Ascender in Texas; some blanks;
* answers are correlated with size: bigger districts more often have dedicated SIS staff, use
  Clever already, can push SFTP files daily and want sync; smaller ones lean the other way; the
  database manager's cooperation follows the staffing. Questions the rules derive from the profile
  (enrollment, SIS, Clever) are mostly left blank. About 5% of answers are blank, 3% "unknown",
  and answers are spelled as people type them (Yes, Y, TRUE, 1...).

The output is deterministic for a given seed and row count. Write it to a temporary or output
path; it is not meant to be committed.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import sys
from pathlib import Path

TOTAL_DISTRICTS = 13_318
SEED = 2122  # the school year 2021-22

# NCES Digest table 214.20, 2021-22: (low, high, districts); None = enrollment not reported.
ENROLLMENT_BANDS: list[tuple[int | None, int | None, int]] = [
    (25_000, 950_000, 266),
    (10_000, 24_999, 610),
    (5_000, 9_999, 996),
    (2_500, 4_999, 1_854),
    (1_000, 2_499, 3_185),
    (600, 999, 1_810),
    (300, 599, 1_922),
    (1, 299, 2_558),
    (None, None, 117),
]

# Regular districts per state (approximate), FIPS code, and the way the state names its districts.
STATES: dict[str, tuple[str, int, tuple[str, ...]]] = {
    "AL": ("01", 149, ("City Schools", "County Schools")),
    "AK": ("02", 53, ("School District", "Borough School District")),
    "AZ": ("04", 215, ("Unified District", "Elementary District", "Union High School District")),
    "AR": ("05", 235, ("School District",)),
    "CA": ("06", 940, ("Unified School District", "Elementary School District", "Union High School District")),
    "CO": ("08", 178, ("School District RE-1", "School District", "Consolidated School District")),
    "CT": ("09", 170, ("Public Schools", "School District")),
    "DE": ("10", 19, ("School District",)),
    "FL": ("12", 67, ("County School District",)),
    "GA": ("13", 180, ("County Schools", "City Schools")),
    "ID": ("16", 115, ("School District", "Joint School District")),
    "IL": ("17", 852, ("Community Unit School District", "School District", "Community High School District")),
    "IN": ("18", 290, ("Community Schools", "School Corporation")),
    "IA": ("19", 327, ("Community School District",)),
    "KS": ("20", 286, ("Unified School District", "USD")),
    "KY": ("21", 171, ("County Schools", "Independent Schools")),
    "LA": ("22", 69, ("Parish School Board",)),
    "ME": ("23", 180, ("School Department", "Regional School Unit")),
    "MD": ("24", 24, ("County Public Schools",)),
    "MA": ("25", 290, ("Public Schools", "Regional School District")),
    "MI": ("26", 540, ("Public Schools", "Community Schools", "Area Schools")),
    "MN": ("27", 330, ("Public Schools", "Independent School District")),
    "MS": ("28", 140, ("School District", "Separate School District")),
    "MO": ("29", 518, ("R-II School District", "School District", "C-1 School District")),
    "MT": ("30", 400, ("Public Schools", "Elementary District", "High School District")),
    "NE": ("31", 245, ("Public Schools",)),
    "NV": ("32", 17, ("County School District",)),
    "NH": ("33", 170, ("School District", "Cooperative School District")),
    "NJ": ("34", 580, ("Public Schools", "Township School District", "Board of Education")),
    "NM": ("35", 89, ("Municipal Schools", "Public Schools", "Consolidated Schools")),
    "NY": ("36", 680, ("Central School District", "Union Free School District", "City School District")),
    "NC": ("37", 115, ("County Schools", "City Schools")),
    "ND": ("38", 170, ("Public School District",)),
    "OH": ("39", 610, ("Local School District", "City School District", "Exempted Village School District")),
    "OK": ("40", 510, ("Public Schools",)),
    "OR": ("41", 180, ("School District",)),
    "PA": ("42", 500, ("Area School District", "School District")),
    "RI": ("44", 36, ("Public Schools",)),
    "SC": ("45", 78, ("County School District", "School District")),
    "SD": ("46", 149, ("School District",)),
    "TN": ("47", 142, ("County Schools", "City Schools")),
    "TX": ("48", 1_020, ("ISD", "Independent School District", "CISD")),
    "UT": ("49", 41, ("School District",)),
    "VT": ("50", 120, ("School District", "Unified Union School District")),
    "VA": ("51", 132, ("County Public Schools", "City Public Schools")),
    "WA": ("53", 295, ("School District",)),
    "WV": ("54", 55, ("County Schools",)),
    "WI": ("55", 420, ("School District", "Area School District")),
    "WY": ("56", 48, ("County School District",)),
}

PLACES = (
    "Lakeview Cedar Maple Oak Pine River Spring Green Clear Fair Rock Stone Elm Willow Brook Mill North South "
    "East West Mount Pleasant Franklin Lincoln Washington Jefferson Madison Jackson Clinton Marion Union Center "
    "Liberty Harmony Prairie Bluff Ridge Valley Hill Grove Park Bay Harbor Forest Meadow Sun Silver Gold Iron "
    "Copper Red White Black Blue Eagle Hawk Fox Deer Bear Wolf Buffalo Beaver Salem Bristol Dover Albion Troy "
    "Sparta Athens Carthage Milford Ashland Auburn Burlington Camden Dayton Eaton Fulton Greenville Hudson Kent"
).split()
SUFFIXES = (
    "", "", "", "ville", "ton", " Falls", " Springs", " Valley", " Heights", " City", " Creek", " Lake", " County",
)
SPECIAL_PLACES = (
    "Peñasco", "Española", "La Cañada", "Coeur d'Alene", "O'Neill", "St. Mary's", "Wilkes-Barre",
    "Saint-Louis", "Coös", "Añasco", "Ka'ū", "Hawthorne, Lake & Rivers", 'The "Old Mill"',
)

# (SIS as people write it, weight in small districts, weight in large ones)
SIS_MARKET = [
    ("PowerSchool", 30, 34),
    ("Infinite Campus", 10, 22),
    ("Skyward", 14, 8),
    ("Synergy", 1, 9),
    ("Aeries", 2, 3),
    ("Follett Aspen", 2, 4),
    ("FACTS", 2, 0.5),
    ("Focus", 1.5, 2),
    ("eSchoolData", 1, 1.5),
    ("Genesis", 1.5, 1.5),
    ("Ascender", 2, 1.5),
    ("Tyler SIS", 6, 2),
    ("Sapphire", 2, 0.5),
    ("JMC", 3, 0.2),
    ("ProgressBook", 3, 1),
    ("Alma", 1.5, 0.3),
    ("Frontline TEAMS", 1, 2),
    ("Other", 3, 1),
    ("", 8, 3),
]
STATE_SIS = {"CA": ("Aeries", 25), "NJ": ("Genesis", 30), "TX": ("Ascender", 30), "OH": ("ProgressBook", 20)}

QUESTIONS = (
    "mobile_population",
    "over_5000_students",
    "class_structure_matches",
    "sis_changing",
    "sis_supports_clever",
    "sftp_daily",
    "strong_desire_for_sync",
    "clever_customer",
    "dedicated_sis_staff",
    "dbm_supports_setup",
    "dbm_maintains_data",
    "teachers_resist_layout_change",
    "teachers_want_sync",
)
COLUMNS = ("district_id", "district_name", "students", "sis", "uses_clever", *QUESTIONS, "notes")
CLEVER_SIS = {  # rules/derived.yaml, catalogue clever_auto_sync_sis
    "PowerSchool", "Infinite Campus", "Skyward", "Aeries", "Synergy", "Follett Aspen", "FACTS", "Focus", "eSchoolData",
}
YES_SPELLINGS = (("yes", 66), ("Yes", 16), ("YES", 5), ("Y", 5), ("y", 2), ("TRUE", 3), ("true", 1), ("1", 2))
NO_SPELLINGS = (("no", 66), ("No", 16), ("NO", 5), ("N", 5), ("n", 2), ("FALSE", 3), ("false", 1), ("0", 2))
UNKNOWN_SPELLINGS = (("unknown", 60), ("Unknown", 20), ("?", 8), ("don't know", 7), ("N/A", 5))
NOTES = (
    "Two middle schools see heavy mid-year transfers from the neighboring district.",
    "New SIS contract signed, go-live planned for July.",
    'Board asked for "the simplest option", revisit in spring.',
    "Tech director, also the SIS admin, retires in June.",
    "Uses Clever for SSO only; rostering done by hand, per school.",
    "Multi-line note:\nfirst line about staffing,\nsecond about timing.",
    "Charter schools in the district roster separately, see contract #12, section 4.",
    "=HYPERLINK(\"http://example.invalid\") pasted by mistake",
)


def band_counts(rows: int) -> list[int]:
    """Districts per enrollment band, scaled to `rows` (exact NCES counts for 13,318)."""
    counts = [band[2] for band in ENROLLMENT_BANDS]
    if rows == TOTAL_DISTRICTS:
        return counts
    scaled = [c * rows / TOTAL_DISTRICTS for c in counts]
    out = [int(x) for x in scaled]
    for index in sorted(range(len(out)), key=lambda i: scaled[i] - out[i], reverse=True)[: rows - sum(out)]:
        out[index] += 1
    return out


def enrollment(rng: random.Random, low: int | None, high: int | None) -> int | None:
    if low is None or high is None:
        return None
    if low >= 25_000:  # heavy tail: a Pareto draw, capped at the largest US district
        return min(high, int(low / (1 - rng.random()) ** (1 / 1.15)))
    return int(math.exp(rng.uniform(math.log(low), math.log(high + 1))))


def size_factor(students: int | None) -> float:
    """0 for a district of 100 students, 1 for 100,000; unreported districts count as small-mid."""
    if students is None:
        return 0.3
    return min(1.0, max(0.0, (math.log10(max(students, 1)) - 2) / 3))


def pick(rng: random.Random, weighted: tuple[tuple[str, float], ...] | list[tuple[str, float]]) -> str:
    total = sum(w for _, w in weighted)
    point = rng.random() * total
    for value, weight in weighted:
        point -= weight
        if point <= 0:
            return value
    return weighted[-1][0]


def answer(rng: random.Random, p_yes: float, blank: float = 0.05, unknown: float = 0.03) -> str:
    roll = rng.random()
    if roll < blank:
        return ""
    if roll < blank + unknown:
        return pick(rng, UNKNOWN_SPELLINGS)
    return pick(rng, YES_SPELLINGS) if rng.random() < p_yes else pick(rng, NO_SPELLINGS)


def district_name(rng: random.Random, state: str) -> str:
    place = rng.choice(SPECIAL_PLACES) if rng.random() < 0.02 else rng.choice(PLACES) + rng.choice(SUFFIXES)
    kind = rng.choice(STATES[state][2])
    if state == "IL" and "District" in kind:
        kind += f" {rng.randint(1, 400)}"
    if state == "MN" and kind.startswith("Independent"):
        kind += f" No. {rng.randint(1, 2900)}"
    return f"{place} {kind}"


def choose_sis(rng: random.Random, state: str, s: float) -> str:
    weighted = [(name, small + (large - small) * s) for name, small, large in SIS_MARKET]
    if state in STATE_SIS:
        name, weight = STATE_SIS[state]
        weighted.append((name, weight))
    sis = pick(rng, weighted)
    if sis and rng.random() < 0.03:  # typed by hand
        sis = rng.choice((sis.lower(), sis.upper(), f" {sis}"))
    return sis


def make_row(rng: random.Random, district_id: str, state: str, students: int | None) -> list[str]:
    s = size_factor(students)
    sis = choose_sis(rng, state, s)
    uses_clever = rng.random() < 0.45 + 0.45 * s
    staff = rng.random() < 0.2 + 0.75 * s
    sftp = rng.random() < 0.3 + 0.35 * s + 0.25 * staff
    setup = rng.random() < 0.55 + 0.3 * staff
    maintain = rng.random() < (0.6 + 0.3 * staff if setup else 0.25)
    want_sync = rng.random() < 0.25 + 0.45 * s
    row = {
        "district_id": district_id,
        "district_name": district_name(rng, state),
        "students": "" if students is None else (f"{students:,}" if rng.random() < 0.1 else str(students)),
        "sis": sis,
        "uses_clever": "" if rng.random() < 0.15 else pick(rng, YES_SPELLINGS if uses_clever else NO_SPELLINGS),
        "mobile_population": answer(rng, 0.2 + 0.25 * s),
        "over_5000_students": "",
        "class_structure_matches": answer(rng, 0.6),
        "sis_changing": answer(rng, 0.07),
        "sis_supports_clever": "",
        "sftp_daily": answer(rng, 0.9 if sftp else 0.1),
        "strong_desire_for_sync": answer(rng, 0.9 if want_sync else 0.1),
        "clever_customer": "",
        "dedicated_sis_staff": answer(rng, 0.95 if staff else 0.05),
        "dbm_supports_setup": answer(rng, 0.95 if setup else 0.05),
        "dbm_maintains_data": answer(rng, 0.95 if maintain else 0.05),
        "teachers_resist_layout_change": answer(rng, 0.35 - 0.1 * s),
        "teachers_want_sync": answer(rng, 0.45 + 0.2 * s),
        "notes": rng.choice(NOTES) if rng.random() < 0.04 else "",
    }
    # Questions the rules derive from the profile: mostly left blank, sometimes answered anyway.
    if students is None or rng.random() < 0.1:
        big = students is not None and students >= 5000 or students is None and rng.random() < 0.15
        row["over_5000_students"] = answer(rng, 0.95 if big else 0.05, blank=0.3)
    if sis.strip() not in CLEVER_SIS or rng.random() < 0.15:
        row["sis_supports_clever"] = answer(rng, 0.9 if sis.strip() in CLEVER_SIS else 0.3, blank=0.3)
    if not row["uses_clever"] or rng.random() < 0.3:
        row["clever_customer"] = answer(rng, 0.9 if uses_clever else 0.1, blank=0.3)
    return [row[column] for column in COLUMNS]


def generate(rows: int = TOTAL_DISTRICTS, seed: int = SEED):
    """The header, then `rows` rows, deterministic for a seed."""
    rng = random.Random(seed)
    sizes: list[int | None] = []
    for (low, high, _), count in zip(ENROLLMENT_BANDS, band_counts(rows)):
        sizes.extend(enrollment(rng, low, high) for _ in range(count))
    rng.shuffle(sizes)
    states = list(STATES)
    weights = [STATES[s][1] for s in states]
    assigned = rng.choices(states, weights=weights, k=rows)
    numbers = {state: iter(rng.sample(range(1, 100_000), k=min(99_999, rows))) for state in states}
    yield list(COLUMNS)
    for state, students in zip(assigned, sizes):
        district_id = STATES[state][0] + f"{next(numbers[state]):05d}"
        yield make_row(rng, district_id, state, students)


def write_csv(path: Path, rows: int = TOTAL_DISTRICTS, seed: int = SEED, bom: bool = True) -> Path:
    path = Path(path)
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        csv.writer(handle).writerows(generate(rows, seed))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="CSV file to write (a temporary or output path)")
    parser.add_argument("--rows", type=int, default=TOTAL_DISTRICTS, help=f"districts (default {TOTAL_DISTRICTS:,})")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--no-bom", action="store_true", help="no byte-order mark (Excel writes one)")
    args = parser.parse_args(argv)
    write_csv(args.out, args.rows, args.seed, bom=not args.no_bom)
    print(f"wrote {args.rows:,} districts to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
