"""Generate examples/customers.csv: realistic customers plus a few deliberately invalid rows.

Deterministic (a seeded ``random.Random``, no network, no Faker): running it again rewrites the
same bytes, so the file in the repository can always be checked against this script::

    python examples/make_customers.py                 # writes examples/customers.csv
    python examples/make_customers.py --rows 50000 -o big.csv --seed 7

The valid rows cover companies and contacts in several countries (non-ASCII names included),
billing and some shipping addresses, tags, custom fields, flags and delivery values. The invalid
rows (listed in ``INVALID``) each break one rule the importer must report with row and field.
"""

from __future__ import annotations

import argparse
import csv
import random
import unicodedata
from pathlib import Path
from typing import Final

COLUMNS: Final = (
    "external_key",
    "company",
    "superuser_first_name",
    "superuser_last_name",
    "superuser_email",
    "superuser_phone",
    "bill_addr1",
    "bill_addr2",
    "bill_city",
    "bill_state",
    "bill_postcode",
    "bill_country",
    "ship_addr1",
    "ship_city",
    "ship_postcode",
    "ship_country",
    "language_id",
    "currency_id",
    "terms_id",
    "no_taxes",
    "no_dunning",
    "invoice_delivery",
    "dunning_delivery",
    "tax_ident",
    "custom_1",
    "custom_2",
    "custom_3",
    "tags",
)

# country label as people write it, currency_id, language_id, phone prefix, first names,
# last names, company suffixes, cities as (city, state, postcode pattern), street pattern.
COUNTRIES: Final = [
    (
        "US",
        1,
        1,
        "+1",
        ["James", "Mary", "Robert", "Linda", "Zoë", "Michael", "Jennifer", "David"],
        ["Smith", "Johnson", "Williams", "Brown", "Garcia", "O'Connor", "Nguyen", "Miller"],
        ["Inc.", "LLC", "Corp.", "& Sons", "Co."],
        [("Austin", "TX", "787##"), ("Denver", "CO", "802##"), ("Portland", "OR", "972##")],
        "{n} {street} {kind}",
    ),
    (
        "United States",
        1,
        1,
        "+1",
        ["Emily", "Daniel", "Sofía", "Chris"],
        ["Martinez", "Anderson", "Taylor", "Lee"],
        ["Inc.", "LLC"],
        [("Boston", "MA", "021##"), ("Madison", "WI", "537##")],
        "{n} {street} {kind}",
    ),
    (
        "Canada",
        2,
        1,
        "+1",
        ["Olivia", "Liam", "Émilie", "Noah", "Chloé"],
        ["Tremblay", "Gagnon", "Roy", "Côté", "MacDonald"],
        ["Ltd.", "Inc.", "Ltée"],
        [("Montréal", "QC", "H2X #A#"), ("Toronto", "ON", "M5V #B#"), ("Halifax", "NS", "B3H #C#")],
        "{n} {street} {kind}",
    ),
    (
        "UK",
        3,
        1,
        "+44",
        ["Oliver", "Amelia", "Harry", "Isla", "Siobhán"],
        ["Jones", "Davies", "Evans", "Wilson", "Ó Briain"],
        ["Ltd", "PLC", "LLP"],
        [("Manchester", "", "M1 #AB"), ("Bristol", "", "BS1 #XY"), ("Leeds", "", "LS1 #QT")],
        "{n} {street} {kind}",
    ),
    (
        "Deutschland",
        4,
        2,
        "+49",
        ["Jürgen", "Anna", "Lukas", "Käthe", "Maximilian"],
        ["Müller", "Schäfer", "Groß", "Weiß", "Becker"],
        ["GmbH", "AG", "KG", "GmbH & Co. KG"],
        [("München", "BY", "80###"), ("Köln", "NW", "50###"), ("Düsseldorf", "NW", "40###")],
        "{street}straße {n}",
    ),
    (
        "France",
        4,
        3,
        "+33",
        ["François", "Amélie", "Hélène", "Jérôme", "Anaïs"],
        ["Lefèvre", "Dubois", "Moreau", "Girard", "Bérenger"],
        ["SARL", "SA", "SAS"],
        [("Paris", "", "750##"), ("Lyon", "", "6900#"), ("Besançon", "", "25000")],
        "{n} rue {street}",
    ),
    (
        "España",
        4,
        4,
        "+34",
        ["José", "María", "Íñigo", "Lucía", "Begoña"],
        ["Núñez", "García", "Fernández", "López", "Ibáñez"],
        ["S.L.", "S.A."],
        [("Madrid", "M", "280##"), ("Sevilla", "SE", "410##"), ("A Coruña", "C", "150##")],
        "Calle {street} {n}",
    ),
    (
        "Sverige",
        5,
        5,
        "+46",
        ["Björn", "Åsa", "Sören", "Märta", "Linnéa"],
        ["Andersson", "Öberg", "Ekström", "Lindqvist", "Åkesson"],
        ["AB", "HB"],
        [("Göteborg", "", "41# ##"), ("Malmö", "", "21# ##"), ("Umeå", "", "90# ##")],
        "{street}gatan {n}",
    ),
    (
        "Polska",
        6,
        6,
        "+48",
        ["Łukasz", "Agnieszka", "Paweł", "Małgorzata", "Zbigniew"],
        ["Wiśniewski", "Kowalczyk", "Wójcik", "Dąbrowska", "Łęcki"],
        ["sp. z o.o.", "S.A."],
        [("Kraków", "MA", "30-###"), ("Łódź", "LD", "90-###"), ("Gdańsk", "PM", "80-###")],
        "ul. {street} {n}",
    ),
    (
        "Česko",
        7,
        7,
        "+420",
        ["Jiří", "Petra", "Tomáš", "Zuzana"],
        ["Dvořák", "Novák", "Černý", "Procházková"],
        ["s.r.o.", "a.s."],
        [("Praha", "", "110 00"), ("Brno", "", "602 00")],
        "{street} {n}",
    ),
    (
        "日本",
        8,
        8,
        "+81",
        ["太郎", "花子", "Haruto", "Yui"],
        ["山田", "佐藤", "Suzuki", "Takahashi"],
        ["株式会社", "K.K.", "G.K."],
        [("東京", "東京都", "100-####"), ("大阪", "大阪府", "530-####")],
        "{street} {n}-{n}",
    ),
    (
        "Brasil",
        9,
        4,
        "+55",
        ["João", "Conceição", "Thiago", "Letícia"],
        ["Gonçalves", "Araújo", "Simões", "Magalhães"],
        ["Ltda.", "S.A.", "ME"],
        [("São Paulo", "SP", "01###-###"), ("Curitiba", "PR", "80###-###")],
        "Rua {street}, {n}",
    ),
    (
        "Ísland",
        10,
        9,
        "+354",
        ["Guðrún", "Þórður", "Sigríður"],
        ["Jónsdóttir", "Ólafsson", "Þorsteinsson"],
        ["ehf.", "hf."],
        [("Reykjavík", "", "10#"), ("Akureyri", "", "600")],
        "{street}gata {n}",
    ),
]
STREETS: Final = [
    "Maple",
    "Oak",
    "Linden",
    "Birch",
    "Harbour",
    "Mill",
    "Station",
    "Church",
    "Garden",
    "Lake",
    "Market",
    "Bridge",
]
KINDS: Final = ["Street", "Avenue", "Road", "Lane", "Boulevard", "Drive"]
TRADES: Final = [
    "Widgets",
    "Logistics",
    "Bakery",
    "Software",
    "Dental Care",
    "Architects",
    "Solar",
    "Print Shop",
    "Consulting",
    "Coffee Roasters",
    "Bicycles",
    "Veterinary Clinic",
]
INDUSTRIES: Final = ["retail", "health", "manufacturing", "services", "hospitality", "tech"]
MANAGERS: Final = ["A. Ruiz", "B. Okafor", "C. Lindgren", "D. Kowalski", "E. Tanaka"]
SOURCES: Final = ["web", "referral", "trade show", "partner", "outbound"]
VAT_PREFIX: Final = {
    "Canada": "CA",
    "UK": "GB",
    "Deutschland": "DE",
    "France": "FR",
    "España": "ES",
    "Sverige": "SE",
    "Polska": "PL",
    "Česko": "CZ",
    "日本": "JP",
    "Brasil": "BR",
    "Ísland": "IS",
}
TAGS: Final = ["vip", "trial", "annual", "monthly", "wholesale", "nonprofit", "migrated", "eu"]

# (column overrides, what is wrong) — one deliberately invalid row each, spread through the file.
INVALID: Final[list[tuple[dict[str, str], str]]] = [
    ({"company": ""}, "company missing"),
    ({"language_id": "abc"}, "language_id is not a number"),
    ({"currency_id": "-3"}, "currency_id is negative"),
    ({"terms_id": "Net 30"}, "terms_id holds the terms' name, not their id"),
    ({"invoice_delivery": "fax"}, "invoice_delivery is neither email nor print"),
    ({"dunning_delivery": "EMAIL"}, "dunning_delivery must be lower case"),
    ({"no_taxes": "maybe"}, "no_taxes is not a flag"),
    ({"company": "   "}, "company is only spaces: trimmed, it is missing"),
    ({"company": "Carriage\rReturn Ltd"}, "CR inside a quoted cell"),
    ({"superuser_last_name": "Line\nBreak"}, "LF in a name, which reaches e-mail headers"),
    ({"superuser_email": "not-an-address"}, "superuser_email is not an e-mail address"),
    ({"no_dunning": "2", "language_id": "1.5"}, "two bad fields in one row"),
]


# Letters NFKD does not decompose into an ASCII base.
_FOLD: Final = str.maketrans({"ł": "l", "ß": "ss", "ø": "o", "æ": "ae", "þ": "th", "ð": "d"})


def _fill(rng: random.Random, pattern: str) -> str:
    # "#" is a digit and "A".."Z" in a pattern are kept, like a postcode mask.
    return "".join(str(rng.randrange(10)) if ch == "#" else ch for ch in pattern)


def _valid_row(rng: random.Random, i: int) -> dict[str, str]:
    country, currency, language, phone, firsts, lasts, suffixes, cities, street = rng.choice(
        COUNTRIES
    )
    first, last = rng.choice(firsts), rng.choice(lasts)
    trade = rng.choice(TRADES)
    company = rng.choice(
        [f"{last} {trade} {rng.choice(suffixes)}", f"{trade} {last} {rng.choice(suffixes)}"]
    )
    city, state, postcode = rng.choice(cities)
    address = street.format(
        n=rng.randint(1, 400), street=rng.choice(STREETS), kind=rng.choice(KINDS)
    )
    # E-mail local parts stay ASCII: fold accents away (Müller -> muller), drop the rest.
    folded = unicodedata.normalize("NFKD", last.lower().translate(_FOLD))
    ascii_last = "".join(c for c in folded if c.isascii() and c.isalnum()) or "contact"
    row = dict.fromkeys(COLUMNS, "")
    row.update(
        external_key=f"crm-{i:06d}",
        company=company,
        superuser_first_name=first,
        superuser_last_name=last,
        superuser_email=f"{ascii_last}.{i}@example.com",
        superuser_phone=f"{phone} {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
        bill_addr1=address,
        bill_addr2=rng.choice(["", "", "", f"Suite {rng.randint(1, 900)}", "2nd floor"]),
        bill_city=city,
        bill_state=state,
        bill_postcode=_fill(rng, postcode),
        bill_country=country,
        language_id=str(language),
        currency_id=str(currency),
        custom_1=rng.choice(INDUSTRIES),
        custom_2=rng.choice(MANAGERS),
        custom_3=rng.choice(SOURCES),
        tags=";".join(rng.sample(TAGS, rng.randint(0, 3))),
    )
    if rng.random() < 0.25:  # a separate shipping address
        ship_city, _, ship_pc = rng.choice(cities)
        row.update(
            ship_addr1=street.format(
                n=rng.randint(1, 400), street=rng.choice(STREETS), kind=rng.choice(KINDS)
            ),
            ship_city=ship_city,
            ship_postcode=_fill(rng, ship_pc),
            ship_country=country,
        )
    if rng.random() < 0.3:
        row["terms_id"] = str(rng.randint(1, 4))
    if rng.random() < 0.2:
        row["no_taxes"] = rng.choice(["true", "false", "1", "0", "yes", "no"])
    if rng.random() < 0.1:
        row["no_dunning"] = rng.choice(["true", "no"])
    if rng.random() < 0.6:
        row["invoice_delivery"] = rng.choice(["email", "email", "email", "print"])
    if rng.random() < 0.4:
        row["dunning_delivery"] = rng.choice(["email", "print"])
    if country in VAT_PREFIX and rng.random() < 0.5:
        row["tax_ident"] = f"{VAT_PREFIX[country]}{rng.randint(10**8, 10**9 - 1)}"
    return row


def generate(rows: int, seed: int) -> list[dict[str, str]]:
    """Build the rows: valid ones, with the invalid ones spread evenly through them.

    Args:
        rows: How many rows in all (invalid ones included).
        seed: The random seed.

    Returns:
        The rows, each a dict of column to cell text.
    """
    rng = random.Random(seed)
    step = max(rows // (len(INVALID) + 1), 1)
    bad_at = {step * (k + 1) - 1: k for k in range(len(INVALID)) if step * (k + 1) - 1 < rows}
    out = []
    for i in range(1, rows + 1):
        row = _valid_row(rng, i)
        k = bad_at.get(i - 1)
        if k is not None:
            row.update(INVALID[k][0])
        out.append(row)
    return out


def main() -> None:
    """Write the CSV (see the module docstring for the options)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=20240501)
    parser.add_argument(
        "-o", "--output", type=Path, default=Path(__file__).with_name("customers.csv")
    )
    args = parser.parse_args()
    with args.output.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        # With "\n" line endings the csv module does not quote a lone CR; the CR row must be
        # quoted to stay one record (and then be rejected by the importer, not split by it).
        quoted = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n", quoting=csv.QUOTE_ALL)
        writer.writeheader()
        for row in generate(args.rows, args.seed):
            (quoted if any("\r" in v for v in row.values()) else writer).writerow(row)


if __name__ == "__main__":
    main()
