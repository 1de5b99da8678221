"""Synthetic customers and their messy copies in source systems, for identity resolution tests.

Each customer has one clean master record (the ``customers`` table, keyed by the CRM customer
number) and appears in one to four source systems (crm, loyalty, ecommerce, store), sometimes more
than once in one system (a guest checkout beside an account, a second loyalty card). Copies differ
the way real systems differ: email case, Gmail dots and plus-addressing, phone numbers in national
or international formats, name typos, nicknames, dropped accents, reformatted postcodes, missing
fields. Hard negatives are planted too: household members who share a surname, postcode and often a
phone number, and namesakes in the same city. Which record belongs to whom is ground truth and is
returned separately from the records.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Mapping

import numpy as np
import pandas as pd

SOURCES: tuple[str, ...] = ("crm", "loyalty", "ecommerce", "store")
_SOURCE_PREFIX = {"crm": "CRM", "loyalty": "LOY", "ecommerce": "WEB", "store": "POS"}


def _group(digits: str, sizes: tuple[int, ...], sep: str = " ") -> str:
    parts, i = [], 0
    for size in sizes:
        parts.append(digits[i:i + size])
        i += size
    return sep.join(parts)


@dataclass(frozen=True)
class Country:
    """Everything country-specific the generator needs (names, cities, phones, emails)."""

    code: str
    calling_code: str
    currency: str
    languages: Mapping[str, float]
    cities: Mapping[str, tuple[str, ...]]
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    email_domains: tuple[str, ...]
    mobile_prefixes: tuple[str, ...]
    nsn_length: int
    national: Callable[[str], str]
    international: Callable[[str], str]


def _paris_codes() -> tuple[str, ...]:
    return tuple(f"750{d:02d}" for d in (1, 3, 4, 6, 7, 8, 16, 17))


COUNTRIES: Mapping[str, Country] = MappingProxyType({
    "IT": Country(
        "IT", "39", "EUR", {"it": 0.9, "en": 0.1},
        {"Milano": ("20121", "20122", "20123", "20129", "20145", "20154"),
         "Roma": ("00186", "00187", "00197", "00198", "00161"),
         "Firenze": ("50122", "50123", "50125"),
         "Napoli": ("80121", "80122")},
        ("Giuseppe", "Giovanni", "Alessandro", "Francesca", "Chiara", "Giulia", "Lorenzo", "Matteo",
         "Sofia", "Elena", "Niccolò", "Beatrice", "Federico", "Caterina", "Tommaso", "Ludovica",
         "Marco", "Valentina", "Andrea", "Gabriele"),
        ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci",
         "Marino", "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa", "Giordano",
         "Rizzo", "Lombardi", "Moretti", "D'Angelo", "Fabbri"),
        ("gmail.com", "libero.it", "outlook.it", "icloud.com", "virgilio.it"),
        ("320", "328", "329", "333", "334", "335", "338", "339", "340", "347", "348", "349",
         "366", "388", "389", "391", "392", "393"),
        10,
        lambda n: _group(n, (3, 3, 4)),
        lambda n: "+39 " + _group(n, (3, 3, 4)),
    ),
    "FR": Country(
        "FR", "33", "EUR", {"fr": 0.9, "en": 0.1},
        {"Paris": _paris_codes(), "Lyon": ("69002", "69006"), "Nice": ("06000", "06300"),
         "Bordeaux": ("33000",)},
        ("François", "Hélène", "Amélie", "Léa", "Chloé", "Camille", "Louis", "Hugo", "Théo",
         "Céline", "Jérôme", "Margaux", "Antoine", "Élodie", "Julien", "Inès", "Mathilde",
         "Raphaël", "Noémie", "Benoît"),
        ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
         "Moreau", "Lefèvre", "Fournier", "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine",
         "Rousseau", "Mercier", "Chevalier", "Béranger", "Gauthier"),
        ("gmail.com", "orange.fr", "free.fr", "outlook.fr", "icloud.com", "laposte.net"),
        ("60", "61", "62", "64", "65", "66", "67", "68", "75", "76", "77", "78"),
        9,
        lambda n: "0" + n[0] + " " + _group(n[1:], (2, 2, 2, 2)),
        lambda n: "+33 " + n[0] + " " + _group(n[1:], (2, 2, 2, 2)),
    ),
    "GB": Country(
        "GB", "44", "GBP", {"en": 1.0},
        {"London": ("SW1X 7XL", "SW3 1AA", "W1K 4HR", "W1S 2ES", "NW3 6XH", "EC1A 1BB", "SW7 2RL"),
         "Manchester": ("M2 3AW", "M3 4LZ"),
         "Edinburgh": ("EH3 7RN", "EH2 2ER")},
        ("William", "Elizabeth", "Charlotte", "James", "Oliver", "Amelia", "Harry", "Katherine",
         "Margaret", "Edward", "Victoria", "Thomas", "Alexander", "Sophie", "Robert", "Eleanor",
         "Henry", "Alice", "Rebecca", "Jonathan"),
        ("Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas",
         "Roberts", "Johnson", "Wright", "Walker", "Hughes", "Edwards", "Green", "Hall", "Wood",
         "Clarke", "Harrison", "O'Brien", "Fitzgerald"),
        ("gmail.com", "outlook.com", "icloud.com", "btinternet.com", "yahoo.co.uk"),
        ("74", "75", "78", "790", "792", "795", "797"),
        10,
        lambda n: "0" + n[:4] + " " + n[4:],
        lambda n: "+44 " + n[:4] + " " + n[4:],
    ),
    "US": Country(
        "US", "1", "USD", {"en": 1.0},
        {"New York": ("10021", "10022", "10065", "10013", "10011"),
         "Los Angeles": ("90210", "90069", "90049"),
         "Miami": ("33139", "33131"), "Chicago": ("60611", "60614")},
        ("Michael", "Jennifer", "Elizabeth", "Robert", "William", "Jessica", "Ashley",
         "Christopher", "Daniel", "Katherine", "Madison", "Emily", "Matthew", "Olivia", "Benjamin",
         "Samantha", "Alexander", "Rebecca", "Nicholas", "Margaret"),
        ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
         "Rodriguez", "Martinez", "Wilson", "Anderson", "Taylor", "Moore", "Jackson", "Lee",
         "Harris", "Clark", "Lewis", "Cohen", "Goldberg", "Nguyen"),
        ("gmail.com", "yahoo.com", "icloud.com", "outlook.com", "aol.com"),
        ("212", "646", "917", "310", "213", "424", "305", "786", "312", "773"),
        10,
        lambda n: f"({n[:3]}) {n[3:6]}-{n[6:]}",
        lambda n: f"+1 {n[:3]}-{n[3:6]}-{n[6:]}",
    ),
    "CH": Country(
        "CH", "41", "CHF", {"fr": 0.4, "it": 0.15, "en": 0.45},
        {"Zürich": ("8001", "8002", "8008"), "Genève": ("1204", "1201", "1206"),
         "Lugano": ("6900",)},
        ("Lukas", "Noah", "Léa", "Mia", "Luca", "Élise", "Jürg", "Anna", "Nicolas", "Laura",
         "Matthias", "Chiara", "Céline", "Reto", "Sophie", "Marco", "Noémie", "Stefan", "Julia",
         "Gian-Luca"),
        ("Müller", "Meier", "Schmid", "Keller", "Weber", "Huber", "Schneider", "Meyer", "Steiner",
         "Fischer", "Gerber", "Brunner", "Baumann", "Favre", "Rochat", "Rossi", "Bernasconi",
         "Zürcher", "Frei", "Moser"),
        ("gmail.com", "bluewin.ch", "icloud.com", "gmx.ch", "outlook.com"),
        ("75", "76", "77", "78", "79"),
        9,
        lambda n: "0" + n[:2] + " " + _group(n[2:], (3, 2, 2)),
        lambda n: "+41 " + n[:2] + " " + _group(n[2:], (3, 2, 2)),
    ),
    "AE": Country(
        "AE", "971", "AED", {"en": 0.9, "fr": 0.1},
        {"Dubai": ("",), "Abu Dhabi": ("",)},
        ("Mohammed", "Ahmed", "Fatima", "Aisha", "Omar", "Khalid", "Mariam", "Layla", "Rashid",
         "Noura", "Hamad", "Sara", "Yousef", "Hessa", "Saeed", "Latifa", "Sultan", "Maitha",
         "Abdullah", "Reem"),
        ("Al Mansoori", "Al Hashimi", "Al Mazrouei", "Al Shamsi", "Al Falasi", "Al Suwaidi",
         "Al Ketbi", "Al Dhaheri", "Al Qasimi", "Khan", "Haddad", "Nasser", "Al Marri", "Saleh"),
        ("gmail.com", "outlook.com", "icloud.com", "yahoo.com", "eim.ae"),
        ("50", "52", "54", "55", "56", "58"),
        9,
        lambda n: "0" + n[:2] + " " + _group(n[2:], (3, 4)),
        lambda n: "+971 " + n[:2] + " " + _group(n[2:], (3, 4)),
    ),
})
COUNTRY_SHARES: Mapping[str, float] = MappingProxyType(
    {"IT": 0.28, "FR": 0.20, "GB": 0.15, "US": 0.15, "CH": 0.10, "AE": 0.12})

#: Short forms and spelling variants respondents and clerks use for first names.
NICKNAMES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "Giuseppe": ("Beppe", "Peppe"), "Giovanni": ("Gianni",), "Alessandro": ("Alex", "Sandro"),
    "Francesca": ("Franci",), "Federico": ("Fede",), "Tommaso": ("Tommy",),
    "Niccolò": ("Nicco",), "Valentina": ("Vale",), "William": ("Bill", "Will"),
    "Elizabeth": ("Liz", "Beth"), "Katherine": ("Kate", "Kathy"), "Margaret": ("Maggie",),
    "James": ("Jim", "Jamie"), "Robert": ("Bob", "Rob"), "Edward": ("Ed", "Eddie"),
    "Alexander": ("Alex",), "Jonathan": ("Jon",), "Rebecca": ("Becky",), "Victoria": ("Vicky",),
    "Michael": ("Mike",), "Christopher": ("Chris",), "Daniel": ("Dan",), "Matthew": ("Matt",),
    "Benjamin": ("Ben",), "Samantha": ("Sam",), "Nicholas": ("Nick",), "Jennifer": ("Jen",),
    "Mohammed": ("Mohamed", "Muhammad"), "Yousef": ("Youssef", "Yusuf"), "Abdullah": ("Abdulla",),
    "Nicolas": ("Nico",), "Matthias": ("Matthi",),
})

_PLUS_PROVIDERS = frozenset({"gmail.com", "outlook.com", "outlook.it", "outlook.fr", "icloud.com"})
_PLUS_TAGS = ("shop", "orders", "luxury", "news", "vip")


def strip_accents(text: str) -> str:
    """Remove diacritics the way many point-of-sale systems do (``Hélène`` → ``Helene``)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _ascii_local(text: str) -> str:
    return "".join(ch for ch in strip_accents(text).lower() if ch.isalnum())


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def _transpose_typo(word: str, rng: np.random.Generator) -> str:
    """Swap two neighbouring letters, as in ``Giuseppe`` → ``Guiseppe``."""
    if len(word) < 4:
        return word + word[-1]
    i = int(rng.integers(1, len(word) - 2))
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]


@dataclass
class _Person:
    first_name: str
    last_name: str
    email: str
    nsn: str
    postcode: str
    city: str
    country: str


def _new_email(first: str, last: str, country: Country, rng: np.random.Generator, taken: set[str]) -> str:
    f, l = _ascii_local(first), _ascii_local(last)
    pattern = int(rng.integers(5))
    local = (f"{f}.{l}", f"{f}{l}{int(rng.integers(60, 100))}", f"{f[0]}.{l}", f"{f}_{l}",
             f"{l}.{f}")[pattern]
    domain = _pick(rng, country.email_domains)
    email = f"{local}@{domain}"
    while email in taken:
        email = f"{local}{int(rng.integers(1, 1000))}@{domain}"
    taken.add(email)
    return email


def _new_nsn(country: Country, rng: np.random.Generator, taken: set[str]) -> str:
    while True:
        prefix = _pick(rng, country.mobile_prefixes)
        rest = "".join(str(d) for d in rng.integers(0, 10, size=country.nsn_length - len(prefix)))
        if country.code == "US" and rest[0] in "01":
            continue
        nsn = prefix + rest
        if nsn not in taken:
            taken.add(nsn)
            return nsn


def e164(country: str, nsn: str) -> str:
    return f"+{COUNTRIES[country].calling_code}{nsn}"


def generate_customers(
    n: int, rng: np.random.Generator, created_at: pd.Series | np.ndarray,
    *, household_rate: float = 0.07, namesake_rate: float = 0.015,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Draw clean customer master records and the planted hard-negative pairs.

    Parameters
    ----------
    n : int
        Number of customers.
    rng : numpy.random.Generator
    created_at : array of datetime64
        Creation time of each customer (its first purchase).
    household_rate : float
        Share of customers created as a household member of an earlier customer (same surname,
        postcode and city; the phone number is shared in 60% of households).
    namesake_rate : float
        Share of customers given the full name of an earlier customer in the same city.

    Returns
    -------
    customers : DataFrame
        customer_id, first_name, last_name, email, phone (E.164), postcode, city, country,
        preferred_language, created_at (consent columns are added by the caller).
    hard_negatives : DataFrame
        customer_id_a, customer_id_b, kind (``household_shared_phone``, ``household`` or
        ``namesake``): distinct people that a resolver must keep apart.
    """
    width = max(6, len(str(n)))
    ids = [f"C{i + 1:0{width}d}" for i in range(n)]
    codes = list(COUNTRY_SHARES)
    country_of = rng.choice(codes, size=n, p=list(COUNTRY_SHARES.values()))
    emails: set[str] = set()
    phones: set[str] = set()
    people: list[_Person] = []
    languages: list[str] = []
    negatives: list[tuple[str, str, str]] = []
    for i in range(n):
        country = COUNTRIES[str(country_of[i])]
        kind = rng.random()
        same_country = [j for j in range(max(0, i - 200), i) if people[j].country == country.code]
        if kind < household_rate and same_country:
            j = _pick(rng, same_country)
            other = people[j]
            first = _pick(rng, [f for f in country.first_names if f != other.first_name])
            shared_phone = rng.random() < 0.6
            nsn = other.nsn if shared_phone else _new_nsn(country, rng, phones)
            person = _Person(first, other.last_name, _new_email(first, other.last_name, country, rng, emails),
                             nsn, other.postcode, other.city, country.code)
            negatives.append((ids[j], ids[i], "household_shared_phone" if shared_phone else "household"))
        elif kind < household_rate + namesake_rate and same_country:
            j = _pick(rng, same_country)
            other = people[j]
            postcodes = [p for p in country.cities[other.city] if p != other.postcode] or [other.postcode]
            person = _Person(other.first_name, other.last_name,
                             _new_email(other.first_name, other.last_name, country, rng, emails),
                             _new_nsn(country, rng, phones), _pick(rng, postcodes), other.city, country.code)
            negatives.append((ids[j], ids[i], "namesake"))
        else:
            first, last = _pick(rng, country.first_names), _pick(rng, country.last_names)
            city = _pick(rng, list(country.cities))
            person = _Person(first, last, _new_email(first, last, country, rng, emails),
                             _new_nsn(country, rng, phones), _pick(rng, country.cities[city]), city,
                             country.code)
        people.append(person)
        langs = list(country.languages)
        languages.append(str(rng.choice(langs, p=list(country.languages.values()))))
    customers = pd.DataFrame({
        "customer_id": ids,
        "first_name": [p.first_name for p in people],
        "last_name": [p.last_name for p in people],
        "email": [p.email for p in people],
        "phone": [e164(p.country, p.nsn) for p in people],
        "postcode": [p.postcode or None for p in people],
        "city": [p.city for p in people],
        "country": [p.country for p in people],
        "preferred_language": languages,
        "created_at": pd.to_datetime(np.asarray(created_at)),
    })
    hard_negatives = pd.DataFrame(negatives, columns=["customer_id_a", "customer_id_b", "kind"])
    return customers, hard_negatives


# ---- messy copies ------------------------------------------------------------------------------

def _vary_email(email: str, source: str, rng: np.random.Generator, notes: list[str]) -> str:
    local, domain = email.split("@")
    if domain == "gmail.com":
        if rng.random() < 0.3:
            local = local.replace(".", "") if "." in local else local[:2] + "." + local[2:]
            notes.append("email_gmail_dots")
        if rng.random() < 0.05:
            domain = "googlemail.com"
            notes.append("email_googlemail")
    if domain in _PLUS_PROVIDERS and rng.random() < (0.35 if source == "ecommerce" else 0.08):
        local = f"{local}+{_pick(rng, _PLUS_TAGS)}"
        notes.append("email_plus_tag")
    email = f"{local}@{domain}"
    roll = rng.random()
    if roll < 0.12:
        email = email.upper()
        notes.append("email_case")
    elif roll < 0.25:
        email = local[:1].upper() + local[1:] + "@" + domain.capitalize()
        notes.append("email_case")
    if rng.random() < 0.04:
        email = f" {email} "
        notes.append("email_whitespace")
    return email


def _vary_phone(country: Country, nsn: str, rng: np.random.Generator, notes: list[str]) -> str:
    fmt = int(rng.choice(5, p=[0.2, 0.3, 0.3, 0.1, 0.1]))
    notes.append(("phone_e164", "phone_international", "phone_national", "phone_00_prefix",
                  "phone_compact_national")[fmt])
    if fmt == 0:
        return f"+{country.calling_code}{nsn}"
    if fmt == 1:
        return country.international(nsn)
    if fmt == 2:
        return country.national(nsn)
    if fmt == 3:  # dialled from abroad; North America writes a leading 1 instead of 00 1
        return f"1-{nsn[:3]}-{nsn[3:6]}-{nsn[6:]}" if country.code == "US" else f"00{country.calling_code} {nsn}"
    return country.national(nsn).replace(" ", "").replace("(", "").replace(")", "").replace("-", "")


def _vary_postcode(postcode: str | None, country: str, rng: np.random.Generator, notes: list[str]) -> str | None:
    if not isinstance(postcode, str) or not postcode:
        return None
    if rng.random() > 0.35:
        return postcode
    notes.append("postcode_format")
    if country == "GB":
        return postcode.replace(" ", "") if rng.random() < 0.5 else postcode.lower()
    if country == "US":
        return f"{postcode}-{int(rng.integers(1000, 10000))}"
    if country == "CH":
        return f"CH-{postcode}"
    if country == "FR":
        return f"{postcode[:2]} {postcode[2:]}"
    # Italian postcodes lose their leading zeros in spreadsheets.
    return postcode.lstrip("0") if postcode.startswith("0") else f" {postcode}"


def _vary_first_name(name: str, rng: np.random.Generator, notes: list[str]) -> str:
    roll = rng.random()
    if roll < 0.08 and name in NICKNAMES:
        notes.append("first_name_nickname")
        name = _pick(rng, NICKNAMES[name])
    elif roll < 0.13:
        notes.append("first_name_typo")
        name = _transpose_typo(name, rng)
    if strip_accents(name) != name and rng.random() < 0.5:
        notes.append("first_name_accent")
        name = strip_accents(name)
    roll = rng.random()
    if roll < 0.06:
        notes.append("first_name_whitespace")
        name = f"{name} "
    elif roll < 0.12:
        notes.append("first_name_case")
        name = name.upper()
    return name


def _vary_last_name(name: str, source: str, rng: np.random.Generator, notes: list[str]) -> str:
    if rng.random() < 0.03:
        notes.append("last_name_typo")
        name = _transpose_typo(name, rng)
    if strip_accents(name) != name and rng.random() < 0.5:
        notes.append("last_name_accent")
        if rng.random() < 0.5:  # German transliteration: Müller -> Mueller
            name = name.replace("ü", "ue").replace("ö", "oe").replace("ä", "ae")
        name = strip_accents(name)
    if source == "store" and rng.random() < 0.5:
        notes.append("last_name_case")
        name = name.upper()
    return name


_PRESENT = {  # probability that each field is filled in, per source
    "crm": {"email": 0.97, "phone": 0.92, "postcode": 0.95},
    "loyalty": {"email": 0.90, "phone": 0.85, "postcode": 0.80},
    "ecommerce": {"email": 1.00, "phone": 0.70, "postcode": 0.90},
    "store": {"email": 0.55, "phone": 0.80, "postcode": 0.40},
}


def _copy_record(p: pd.Series, nsn: str, source: str, rng: np.random.Generator, *, exact: bool) -> tuple[dict, list[str]]:
    """One source system's copy of a customer, with the variations applied listed in notes."""
    country = COUNTRIES[p["country"]]
    notes: list[str] = []
    present = {k: rng.random() < v for k, v in _PRESENT[source].items()}
    if not isinstance(p["postcode"], str):
        present["postcode"] = False  # the country has no postcodes
    if not (present["email"] or present["phone"]):
        present["email"] = True  # a copy nobody could ever link is not a duplicate, it is noise
    if exact:
        record = {"first_name": p["first_name"], "last_name": p["last_name"],
                  "email": p["email"] if present["email"] else None,
                  "phone": country.international(nsn) if present["phone"] else None,
                  "postcode": p["postcode"] if present["postcode"] else None}
    else:
        record = {
            "first_name": _vary_first_name(p["first_name"], rng, notes),
            "last_name": _vary_last_name(p["last_name"], source, rng, notes),
            "email": _vary_email(p["email"], source, rng, notes) if present["email"] else None,
            "phone": _vary_phone(country, nsn, rng, notes) if present["phone"] else None,
            "postcode": _vary_postcode(p["postcode"], p["country"], rng, notes) if present["postcode"] else None,
        }
    for field, shown in present.items():
        if not shown:
            notes.append(f"{field}_missing")
    record.update(city=p["city"], country=p["country"])
    return record, notes


def generate_source_records(
    customers: pd.DataFrame, rng: np.random.Generator, end: pd.Timestamp,
    *, source_rates: Mapping[str, float] | None = None, extra_copy_rate: float = 0.10,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Spread every customer over 1–4 source systems with realistic variations.

    Every customer has a CRM record (the CRM customer number is ``customer_ref``, how transactions
    and survey invitations refer to a person); loyalty, ecommerce and store copies are drawn
    independently with the probabilities in ``source_rates``, and ``extra_copy_rate`` of customers
    get a second copy in loyalty or ecommerce (a second card, a guest checkout). Store records
    carry the CRM number when the client was identified at the till (half of them); loyalty and
    ecommerce records do not know it. Copies are created after the master record, never after
    ``end``.

    Returns
    -------
    records : DataFrame
        source, source_record_id, customer_ref, first_name, last_name, email, phone, postcode,
        city, country, created_at. No column reveals the true person of a non-CRM record.
    truth : DataFrame
        source_record_id, customer_id, source, variations (comma-separated list of what was
        changed with respect to the master record).
    """
    rates = {"loyalty": 0.50, "ecommerce": 0.55, "store": 0.45}
    rates.update(source_rates or {})
    prefix_counter = {s: 0 for s in SOURCES}
    rows: list[dict] = []
    truth: list[tuple[str, str, str, str]] = []
    width = max(6, len(str(len(customers) * 3)))
    for _, p in customers.iterrows():
        nsn = p["phone"][1 + len(COUNTRIES[p["country"]].calling_code):]
        copies = ["crm"] + [s for s in ("loyalty", "ecommerce", "store") if rng.random() < rates[s]]
        if rng.random() < extra_copy_rate:
            copies.append("ecommerce" if rng.random() < 0.6 else "loyalty")
        for k, source in enumerate(copies):
            record, notes = _copy_record(p, nsn, source, rng, exact=(k == 0))
            prefix_counter[source] += 1
            record_id = f"{_SOURCE_PREFIX[source]}{prefix_counter[source]:0{width}d}"
            if source == "crm":
                ref = p["customer_id"]
            elif source == "store" and rng.random() < 0.5:
                ref = p["customer_id"]
            else:
                ref = None
            delay = pd.Timedelta(days=float(rng.exponential(120.0))) if k else pd.Timedelta(0)
            created = min(p["created_at"] + delay, max(end, p["created_at"]))
            rows.append({"source": source, "source_record_id": record_id, "customer_ref": ref,
                         **record, "created_at": created.floor("s")})
            truth.append((record_id, p["customer_id"], source, ",".join(notes)))
    records = pd.DataFrame(rows)
    records["created_at"] = records["created_at"].astype("datetime64[s]")
    order = rng.permutation(len(records))  # systems do not list copies next to each other
    records = records.iloc[order].reset_index(drop=True)
    truth_frame = pd.DataFrame(truth, columns=["source_record_id", "customer_id", "source", "variations"])
    return records, truth_frame
