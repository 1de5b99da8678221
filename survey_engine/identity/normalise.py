"""Normalisation of the fields identity resolution compares: emails, phone numbers, names, postcodes.

Every function maps one raw value to its canonical form, or to ``None`` when nothing usable is
left, so that two spellings of the same contact detail compare equal. The rules that depend on a
provider or a country are tables (:data:`EMAIL_PROVIDER_RULES`, :data:`POSTCODE_RULES`,
:data:`NICKNAMES`) rather than code, so a new provider or country is one line.
:func:`normalise_records` applies everything to a frame of source records, computing each distinct
raw value once.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Mapping

import numpy as np
import pandas as pd

# ---- emails -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EmailRule:
    """How one mail provider treats the local part of an address.

    Attributes
    ----------
    canonical_domain : str
        The domain the provider's aliases collapse to (``googlemail.com`` → ``gmail.com``).
    ignore_dots : bool
        Dots in the local part are not significant (Gmail: ``j.smith`` = ``jsmith``).
    subaddress_separator : str or None
        Separator of sub-addressing tags that the provider delivers to the base mailbox
        (``anna+shop@`` → ``anna@``); ``None`` where the character is a normal part of names.
    """

    canonical_domain: str
    ignore_dots: bool = False
    subaddress_separator: str | None = None


_GMAIL = EmailRule("gmail.com", ignore_dots=True, subaddress_separator="+")

#: Providers whose addresses have aliases. Sources: Gmail help "Dots don't matter in Gmail
#: addresses" and "plus addressing"; Microsoft "Plus addressing in Exchange Online / Outlook.com";
#: Apple "iCloud Mail: use plus addressing"; Fastmail, Proton and Yahoo-free lists of sub-address
#: support. Domains not listed keep their local part as typed (apart from case).
EMAIL_PROVIDER_RULES: Mapping[str, EmailRule] = MappingProxyType({
    "gmail.com": _GMAIL,
    "googlemail.com": _GMAIL,
    **{domain: EmailRule(domain, subaddress_separator="+") for domain in (
        "outlook.com", "outlook.it", "outlook.fr", "outlook.de", "outlook.es", "hotmail.com",
        "hotmail.it", "hotmail.fr", "hotmail.co.uk", "live.com", "live.it", "live.fr", "msn.com",
        "icloud.com", "me.com", "mac.com", "fastmail.com", "fastmail.fm", "protonmail.com",
        "proton.me", "pm.me",
    )},
})

_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalise_email(raw: object) -> str | None:
    """Canonical form of an email address, or ``None`` when ``raw`` is not an address.

    Whitespace is trimmed and the address lower-cased (providers treat the local part without
    regard to case, although RFC 5321 would allow otherwise); then the provider's rule from
    :data:`EMAIL_PROVIDER_RULES` removes sub-addressing tags and, for Gmail, dots, and maps alias
    domains to their canonical domain.

    Examples
    --------
    >>> normalise_email("  J.Smith+Orders@GoogleMail.com ")
    'jsmith@gmail.com'
    >>> normalise_email("anna.rossi+vip@libero.it")  # libero.it has no sub-addressing
    'anna.rossi+vip@libero.it'
    """
    if not isinstance(raw, str):
        return None
    email = raw.strip().lower()
    if not _EMAIL_SHAPE.match(email):
        return None
    local, domain = email.rsplit("@", 1)
    domain = domain.rstrip(".")
    rule = EMAIL_PROVIDER_RULES.get(domain)
    if rule is not None:
        if rule.subaddress_separator:
            local = local.split(rule.subaddress_separator, 1)[0]
        if rule.ignore_dots:
            local = local.replace(".", "")
        domain = rule.canonical_domain
    if not local:
        return None
    return f"{local}@{domain}"


# ---- phones -------------------------------------------------------------------------------------


def normalise_phone(raw: object, country: object = None) -> str | None:
    """A phone number in E.164 (``+393201234567``), or ``None`` when it is not a valid number.

    Parsed with Google's libphonenumber port (:mod:`phonenumbers`); numbers written without a
    country code are read in ``country`` (ISO 3166-1 alpha-2, the record's country). A leading
    ``00`` is read as ``+`` in every country, since people write it that way even where the
    international prefix differs (``011`` in North America). Numbers that libphonenumber does not
    consider valid for their region (filler numbers such as ``0000000``) give ``None``, so they can
    never link two records.
    """
    import phonenumbers

    if not isinstance(raw, str) or not raw.strip():
        return None
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    region = country.upper() if isinstance(country, str) and len(country) == 2 else None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# ---- names --------------------------------------------------------------------------------------

#: Letters that Unicode decomposition does not split into base letter + accent.
_SPECIAL_LETTERS = str.maketrans({"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d",
                                  "ð": "d", "þ": "th", "ı": "i"})
_APOSTROPHES = re.compile(r"['’‘`´]")
_NOT_NAME = re.compile(r"[^0-9a-z ]+")
_SPACES = re.compile(r"\s+")
#: German umlauts are written as ``ue``/``oe``/``ae`` as often as they are stripped to ``u``/``o``/
#: ``a`` (``Müller``: ``Mueller``, ``Muller``).
_UMLAUT_DIGRAPHS = re.compile(r"(?<=[a-z])([aou])e")


def fold_name(raw: object) -> str | None:
    """A name lower-cased, without accents or punctuation, with single spaces (``None`` if empty).

    Accents are removed with Unicode canonical decomposition (NFKD, dropping combining marks);
    letters that do not decompose (ß, æ, œ, ø, ł) are transliterated. Apostrophes vanish
    (``D'Angelo`` → ``dangelo``), hyphens and other punctuation become spaces
    (``Gian-Luca`` → ``gian luca``).
    """
    if not isinstance(raw, str):
        return None
    text = unicodedata.normalize("NFKD", raw.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).translate(_SPECIAL_LETTERS)
    text = _APOSTROPHES.sub("", text)
    text = _SPACES.sub(" ", _NOT_NAME.sub(" ", text)).strip()
    return text or None


def name_key(raw: object) -> str | None:
    """Comparison key of a name: folded, without spaces.

    ``Müller``, ``MULLER`` and ``Muller`` share the key ``muller``; ``Al Mansoori`` and
    ``Al-Mansoori`` share ``almansoori``.
    """
    folded = fold_name(raw)
    if folded is None:
        return None
    return folded.replace(" ", "")


def umlaut_variant(key: str) -> str:
    """A name key with ``ue``/``oe``/``ae`` contracted, so that ``mueller`` and ``muller`` agree.

    Used only to compare two keys that differ (the contraction would also merge unrelated
    spellings such as ``joel``/``jol``, so it is never a key by itself).
    """
    return _UMLAUT_DIGRAPHS.sub(r"\1", key)


#: Common short forms and spelling variants of first names (Italian, French, English, and the
#: transliteration variants of Arabic names usual in the Gulf). Keys are formal names, values their
#: short forms; all are compared folded, so accents do not matter. A short form may belong to
#: several formal names (``alex``), and then matches each of them.
NICKNAMES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    # Italian
    "giuseppe": ("beppe", "peppe", "pino", "peppino", "giusy"),
    "giuseppina": ("giusy", "pina"),
    "giovanni": ("gianni", "nanni", "vanni"),
    "giovanna": ("gianna", "vanna"),
    "alessandro": ("alex", "ale", "sandro"),
    "alessandra": ("alex", "ale", "sandra"),
    "francesca": ("franci", "fra", "francy"),
    "francesco": ("franco", "checco", "cesco", "fra"),
    "federico": ("fede", "chicco"),
    "federica": ("fede",),
    "tommaso": ("tommy", "tom", "maso"),
    "niccolo": ("nicco", "nico"),
    "nicola": ("nico",),
    "valentina": ("vale",),
    "valentino": ("vale",),
    "lorenzo": ("renzo", "lollo"),
    "gabriele": ("gabri", "lele"),
    "emanuele": ("lele", "manu"),
    "matteo": ("teo",),
    "caterina": ("cate", "rina"),
    "beatrice": ("bea",),
    "ludovica": ("ludo",),
    "elisabetta": ("betta", "elisa"),
    "roberto": ("robi", "berto"),
    "andrea": ("andre",),
    "chiara": ("chiarina",),
    "giulia": ("giuly",),
    "antonio": ("toni", "tonino", "nino"),
    "salvatore": ("toto", "turi"),
    "vincenzo": ("enzo", "vince"),
    "domenico": ("mimmo",),
    "massimiliano": ("max", "massi"),
    "margherita": ("marghe",),
    # French
    "francois": ("franck", "francky"),
    "francoise": ("franciane", "fanfan"),
    "helene": ("lene",),
    "amelie": ("meli",),
    "camille": ("cami",),
    "antoine": ("toine", "tony"),
    "elodie": ("lodie",),
    "mathilde": ("mathi", "tilde"),
    "raphael": ("raph",),
    "noemie": ("noe",),
    "benoit": ("ben",),
    "nicolas": ("nico", "nicolo"),
    "alexandre": ("alex",),
    "catherine": ("cathy", "cat", "kate", "katie"),
    "christophe": ("chris",),
    "guillaume": ("guigui", "will"),
    "jean baptiste": ("jb",),
    "dominique": ("dom",),
    "emmanuel": ("manu",),
    "frederic": ("fred",),
    "jerome": ("jerry",),
    "margaux": ("margot",),
    "sebastien": ("seb",),
    "theophile": ("theo",),
    "maximilien": ("max",),
    "matthias": ("matt", "mathis"),
    # English
    "william": ("bill", "will", "willy", "billy", "liam"),
    "elizabeth": ("liz", "beth", "lizzie", "betty", "eliza", "libby", "elisa"),
    "katherine": ("kate", "kathy", "katie", "kat", "kay", "kitty"),
    "margaret": ("maggie", "meg", "peggy", "madge", "greta"),
    "james": ("jim", "jamie", "jimmy"),
    "robert": ("bob", "rob", "bobby", "robbie", "bert"),
    "edward": ("ed", "eddie", "ted", "ned"),
    "alexander": ("alex", "al", "sandy", "xander"),
    "alexandra": ("alex", "sandra", "lexi"),
    "jonathan": ("jon", "jonny"),
    "rebecca": ("becky", "becca"),
    "victoria": ("vicky", "tori", "vic"),
    "michael": ("mike", "mick", "mikey", "mickey"),
    "christopher": ("chris", "kit", "topher"),
    "daniel": ("dan", "danny"),
    "matthew": ("matt", "matty"),
    "benjamin": ("ben", "benji", "benny"),
    "samantha": ("sam", "sammy"),
    "samuel": ("sam", "sammy"),
    "nicholas": ("nick", "nicky", "nico"),
    "jennifer": ("jen", "jenny"),
    "jessica": ("jess", "jessie"),
    "thomas": ("tom", "tommy"),
    "oliver": ("ollie", "olly"),
    "charlotte": ("lottie", "charlie"),
    "charles": ("charlie", "chuck", "chas"),
    "amelia": ("millie", "amy"),
    "harry": ("hal",),
    "henry": ("harry", "hal", "hank"),
    "eleanor": ("ellie", "nell", "nora"),
    "alice": ("ally",),
    "sophie": ("soph",),
    "olivia": ("liv", "livvy"),
    "emily": ("em", "emmy"),
    "richard": ("rick", "dick", "richie"),
    "anthony": ("tony",),
    "joseph": ("joe", "joey"),
    "madison": ("maddie",),
    "ashley": ("ash",),
    "patricia": ("pat", "patty", "trish"),
    "susan": ("sue", "suzy"),
    "deborah": ("debbie", "deb"),
    "abigail": ("abby",),
    "stephen": ("steve",),
    "steven": ("steve",),
    "timothy": ("tim",),
    "andrew": ("andy", "drew"),
    "zachary": ("zach",),
    # Arabic names: transliteration variants
    "mohammed": ("mohamed", "muhammad", "mohammad", "mohamad", "muhammed", "mo"),
    "ahmed": ("ahmad",),
    "yousef": ("youssef", "yusuf", "yousif", "yusef", "joseph"),
    "abdullah": ("abdulla", "abdallah"),
    "khalid": ("khaled",),
    "omar": ("umar",),
    "aisha": ("aysha", "ayesha", "aicha"),
    "fatima": ("fatma", "fatimah"),
    "mariam": ("maryam", "miriam"),
    "layla": ("leila", "laila", "leyla"),
    "rashid": ("rashed",),
    "saeed": ("said", "saed"),
    "hamad": ("hamed",),
    "noura": ("nora", "nura"),
})


def _build_name_groups() -> Mapping[str, frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for formal, shorts in NICKNAMES.items():
        formal_key = name_key(formal)
        groups.setdefault(formal_key, set()).add(formal_key)
        for short in shorts:
            groups.setdefault(name_key(short), set()).add(formal_key)
    return MappingProxyType({name: frozenset(g) for name, g in groups.items()})


#: Folded first-name key → the formal names it may stand for (itself included for formal names).
NAME_GROUPS: Mapping[str, frozenset[str]] = _build_name_groups()


def first_name_forms(key: str | None) -> frozenset[str]:
    """The formal names a first-name key may stand for, and the key itself.

    Two first names are nickname-equivalent when their forms intersect
    (``bill`` → {bill, william}; ``will`` → {will, william}).
    """
    if not key:
        return frozenset()
    return NAME_GROUPS.get(key, frozenset()) | {key}


# ---- postcodes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostcodeRule:
    """Formatting of one country's postcodes.

    Attributes
    ----------
    digits : int or None
        Numeric postcodes of this length: non-digits are removed and numbers that lost leading
        zeros in a spreadsheet are padded back (``186`` → ``00186``); longer values are cut
        (a US ZIP+4 ``10021-1234`` keeps the ZIP ``10021``).
    pattern : str or None
        Regular expression that a postcode without spaces must match, with two groups joined by
        one space (the GB outward and inward codes).
    prefixes : tuple of str
        Country prefixes written before the code (``CH-8001``, ``F-75008``), removed.
    """

    digits: int | None = None
    pattern: str | None = None
    prefixes: tuple[str, ...] = ()


#: Country rules; countries not listed are upper-cased with spaces and hyphens removed.
POSTCODE_RULES: Mapping[str, PostcodeRule] = MappingProxyType({
    "GB": PostcodeRule(pattern=r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$", prefixes=("GB",)),
    "US": PostcodeRule(digits=5, prefixes=("US",)),
    "IT": PostcodeRule(digits=5, prefixes=("IT", "I")),
    "FR": PostcodeRule(digits=5, prefixes=("FR", "F")),
    "DE": PostcodeRule(digits=5, prefixes=("DE", "D")),
    "ES": PostcodeRule(digits=5, prefixes=("ES", "E")),
    "CH": PostcodeRule(digits=4, prefixes=("CH",)),
    "AT": PostcodeRule(digits=4, prefixes=("AT", "A")),
    "BE": PostcodeRule(digits=4, prefixes=("BE", "B")),
    "MC": PostcodeRule(digits=5, prefixes=("MC",)),
})

_POSTCODE_JUNK = re.compile(r"[\s\-.]+")


@lru_cache(maxsize=None)
def _compiled(pattern: str) -> re.Pattern:
    return re.compile(pattern)


def normalise_postcode(raw: object, country: object = None) -> str | None:
    """A postcode in its country's canonical format, or ``None`` when empty or malformed.

    GB: upper case, one space between outward and inward code (``sw1x7xl`` → ``SW1X 7XL``).
    Numeric countries in :data:`POSTCODE_RULES`: digits only, zero-padded to the country's length,
    ZIP+4 cut to the ZIP. Elsewhere: upper case without spaces or hyphens.
    """
    if isinstance(raw, (int, np.integer)):
        raw = str(raw)
    if not isinstance(raw, str):
        return None
    code = _POSTCODE_JUNK.sub("", raw.upper())
    rule = POSTCODE_RULES.get(country.upper()) if isinstance(country, str) else None
    if rule is None:
        return code or None
    for prefix in sorted(rule.prefixes, key=len, reverse=True):
        if code.startswith(prefix) and len(code) > len(prefix) and code[len(prefix)].isdigit():
            code = code[len(prefix):]
            break
    if rule.digits is not None:
        if not code.isdigit():
            return None
        if len(code) > rule.digits:
            # ZIP+4 and similar extensions refine the code; shorter values lost leading zeros.
            if rule.digits == 5 and len(code) == 9:
                code = code[:5]
            else:
                return None
        return code.zfill(rule.digits)
    if rule.pattern is not None:
        match = _compiled(rule.pattern).match(code)
        return f"{match.group(1)} {match.group(2)}" if match else None
    return code or None


# ---- phonetic key -------------------------------------------------------------------------------

_SOUNDEX_CODES = {**dict.fromkeys("bfpv", "1"), **dict.fromkeys("cgjkqsxz", "2"),
                  **dict.fromkeys("dt", "3"), "l": "4", **dict.fromkeys("mn", "5"), "r": "6"}


def soundex(key: str | None) -> str | None:
    """American Soundex of a folded name key (Knuth, *TAOCP* vol. 3, §6.4): letter + 3 digits.

    Used only for blocking, where it groups spellings such as ``muller``/``mueller`` and
    ``smith``/``smyth`` so that their pairs are compared at all.
    """
    if not key:
        return None
    letters = [ch for ch in key if "a" <= ch <= "z"]
    if not letters:
        return None
    first = letters[0]
    digits: list[str] = []
    previous = _SOUNDEX_CODES.get(first, "")
    for ch in letters[1:]:
        code = _SOUNDEX_CODES.get(ch, "")
        if code and code != previous:
            digits.append(code)
        if ch not in "hw":  # h and w do not separate letters with the same code
            previous = code
        if len(digits) == 3:
            break
    return (first + "".join(digits)).ljust(4, "0").upper()


# ---- whole frames -------------------------------------------------------------------------------

#: Columns a source-record frame must have (values may be missing except the id and source).
RECORD_COLUMNS = ("source", "source_record_id", "first_name", "last_name", "email", "phone",
                  "postcode", "country")
#: Columns that may be present and are used when they are.
OPTIONAL_COLUMNS = ("external_id", "city", "created_at")


def _as_list(values) -> list:
    return values.tolist() if hasattr(values, "tolist") else list(values)


def _map_unique(values, function) -> np.ndarray:
    """Apply ``function`` once per distinct value (real data repeats names and postcodes a lot)."""
    cache: dict = {}
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(_as_list(values)):
        if value is None or value != value:  # None or NaN
            out[i] = None
            continue
        if value not in cache:
            cache[value] = function(value)
        out[i] = cache[value]
    return out


def _map_unique_pairs(values, countries, function) -> np.ndarray:
    cache: dict = {}
    out = np.empty(len(values), dtype=object)
    for i, (value, country) in enumerate(zip(_as_list(values), _as_list(countries))):
        if value is None or value != value:
            out[i] = None
            continue
        key = (value, country)
        if key not in cache:
            cache[key] = function(value, country)
        out[i] = cache[key]
    return out


_PHONE_PUNCTUATION = re.compile(r"[\s().\-/]+")


def _compact_phone(value: object) -> object:
    return _PHONE_PUNCTUATION.sub("", value) if isinstance(value, str) else value


def _external_id(value: object) -> str | None:
    text = str(value).strip()
    return text or None


def check_records(records: pd.DataFrame) -> None:
    """Raise ``ValueError`` naming the missing columns or the first bad row of a record frame."""
    missing = [c for c in RECORD_COLUMNS if c not in records.columns]
    if missing:
        raise ValueError(f"records: missing column(s) {missing}; expected at least {list(RECORD_COLUMNS)}")
    ids = records["source_record_id"]
    if ids.isna().any():
        raise ValueError(f"records: source_record_id is empty in row {int(np.flatnonzero(ids.isna())[0])}")
    duplicated = ids.duplicated()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated)[0])
        raise ValueError(f"records: source_record_id {ids.iloc[row]!r} appears more than once (row {row})")


def normalise_records(records: pd.DataFrame) -> pd.DataFrame:
    """Add the canonical columns that linking compares to a frame of source records.

    Parameters
    ----------
    records : DataFrame
        At least :data:`RECORD_COLUMNS`; optionally ``external_id`` (an id shared across systems,
        such as the CRM customer number printed on a store receipt), ``city`` and ``created_at``.

    Returns
    -------
    DataFrame
        A copy with ``email_norm``, ``phone_e164``, ``first_key``, ``last_key``, ``last_soundex``,
        ``postcode_norm``, ``country_norm`` and ``external_id_norm`` (missing values are ``None``).
    """
    check_records(records)
    out = records.copy()

    def put(column: str, values) -> None:
        # object dtype keeps ``None`` for missing values (pandas would infer a string dtype with NaN)
        out[column] = pd.Series(values, index=out.index, dtype=object)

    country = _map_unique(out["country"], lambda c: c.strip().upper() if isinstance(c, str) and c.strip() else None)
    put("country_norm", country)
    put("email_norm", _map_unique(out["email"], normalise_email))
    # Punctuation never changes a number; dropping it first lets one parse serve all layouts.
    compact = _map_unique(out["phone"], _compact_phone)
    put("phone_e164", _map_unique_pairs(compact, country, normalise_phone))
    put("first_key", _map_unique(out["first_name"], name_key))
    last_key = _map_unique(out["last_name"], name_key)
    put("last_key", last_key)
    put("last_soundex", _map_unique(last_key, soundex))
    put("postcode_norm", _map_unique_pairs(out["postcode"], country, normalise_postcode))
    external = (_map_unique(out["external_id"], _external_id) if "external_id" in out.columns
                else [None] * len(out))
    put("external_id_norm", external)
    return out
