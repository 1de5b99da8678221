"""Normalisation rules: one test per rule, with the values each rule must produce."""
import pandas as pd
import pytest

from survey_engine.identity.normalise import (
    EMAIL_PROVIDER_RULES,
    first_name_forms,
    fold_name,
    name_key,
    normalise_email,
    normalise_phone,
    normalise_postcode,
    normalise_records,
    soundex,
    umlaut_variant,
)


@pytest.mark.parametrize("raw, expected", [
    ("Anna.Rossi@Libero.IT", "anna.rossi@libero.it"),            # case
    ("  anna.rossi@libero.it \t", "anna.rossi@libero.it"),       # whitespace
    ("j.o.h.n.smith@gmail.com", "johnsmith@gmail.com"),          # gmail ignores dots
    ("johnsmith+orders@gmail.com", "johnsmith@gmail.com"),       # gmail plus-addressing
    ("John.Smith+VIP@GoogleMail.com", "johnsmith@gmail.com"),    # googlemail is gmail
    ("claire+shop@outlook.fr", "claire@outlook.fr"),             # outlook plus-addressing
    ("c.dupont+news@icloud.com", "c.dupont@icloud.com"),         # icloud keeps dots, drops tags
    ("anna.rossi+vip@libero.it", "anna.rossi+vip@libero.it"),    # no sub-addressing: tag kept
    ("first.last@yahoo.com", "first.last@yahoo.com"),            # dots matter outside gmail
])
def test_email_rules(raw, expected):
    assert normalise_email(raw) == expected


@pytest.mark.parametrize("raw", [None, float("nan"), "", "not an email", "a@b", "two@@at.com", "+tag@gmail.com"])
def test_unusable_emails_are_none(raw):
    assert normalise_email(raw) is None


def test_provider_rules_are_a_table():
    assert EMAIL_PROVIDER_RULES["googlemail.com"].canonical_domain == "gmail.com"
    assert EMAIL_PROVIDER_RULES["gmail.com"].ignore_dots
    assert not EMAIL_PROVIDER_RULES["outlook.com"].ignore_dots
    assert EMAIL_PROVIDER_RULES["icloud.com"].subaddress_separator == "+"


@pytest.mark.parametrize("raw, country, expected", [
    ("+39 320 123 4567", "IT", "+393201234567"),
    ("320 123 4567", "IT", "+393201234567"),          # national, region from the record
    ("0039 3201234567", "IT", "+393201234567"),       # 00 prefix
    ("06 12 34 56 78", "FR", "+33612345678"),
    ("+33 6 12 34 56 78", "GB", "+33612345678"),      # explicit country code wins over region
    ("07911 123456", "GB", "+447911123456"),
    ("(212) 645-1234", "US", "+12126451234"),
    ("001 212 645 1234", "US", "+12126451234"),       # 00 read as + even where 011 is the prefix
    ("079 123 45 67", "CH", "+41791234567"),
    ("050 123 4567", "AE", "+971501234567"),
    ("+971501234567", None, "+971501234567"),
])
def test_phones_to_e164(raw, country, expected):
    assert normalise_phone(raw, country) == expected


@pytest.mark.parametrize("raw, country", [
    ("0000000", "IT"), ("12", "FR"), ("call me", "GB"), ("320 123 4567", None), (None, "IT"), ("", "IT"),
])
def test_invalid_or_ambiguous_phones_are_none(raw, country):
    assert normalise_phone(raw, country) is None


@pytest.mark.parametrize("raw, folded", [
    ("Hélène", "helene"),
    ("  JÉRÔME  ", "jerome"),
    ("Niccolò", "niccolo"),
    ("Straße", "strasse"),
    ("Øster-Lund", "oster lund"),
    ("D'Angelo", "dangelo"),
    ("O’Brien", "obrien"),
    ("Gian-Luca", "gian luca"),
    ("Al   Mansoori", "al mansoori"),
])
def test_fold_name(raw, folded):
    assert fold_name(raw) == folded


def test_name_key_ignores_spaces_case_and_accents():
    assert name_key("Al-Mansoori") == name_key("AL MANSOORI") == "almansoori"
    assert name_key("Müller") == name_key("MULLER") == "muller"
    assert name_key("   ") is None and name_key(None) is None


def test_umlaut_spellings_share_a_variant():
    assert umlaut_variant(name_key("Mueller")) == umlaut_variant(name_key("Müller"))
    assert umlaut_variant(name_key("Zuercher")) == umlaut_variant(name_key("Zürcher"))
    assert umlaut_variant("rossi") == "rossi"


@pytest.mark.parametrize("a, b", [
    ("bill", "william"), ("will", "william"), ("beppe", "giuseppe"), ("gianni", "giovanni"),
    ("sandro", "alessandro"), ("tommy", "tommaso"), ("nicco", "niccolo"), ("liz", "elizabeth"),
    ("mike", "michael"), ("muhammad", "mohammed"), ("mohamed", "muhammad"), ("youssef", "yusuf"),
    ("fede", "federico"), ("becky", "rebecca"), ("alex", "alessandro"), ("alex", "alexander"),
])
def test_nicknames_share_a_formal_name(a, b):
    assert first_name_forms(name_key(a)) & first_name_forms(name_key(b))


def test_unrelated_first_names_share_nothing():
    assert not first_name_forms("giulia") & first_name_forms("giuseppe")
    assert not first_name_forms("alessandro") & first_name_forms("alexander")  # only through "alex"
    assert first_name_forms(None) == frozenset()


@pytest.mark.parametrize("raw, country, expected", [
    ("sw1x7xl", "GB", "SW1X 7XL"),       # GB: outward/inward with one space
    (" SW1X   7XL ", "GB", "SW1X 7XL"),
    ("m23aw", "GB", "M2 3AW"),
    ("EC1A 1BB", "gb", "EC1A 1BB"),
    ("not a code", "GB", None),
    ("10021-1234", "US", "10021"),       # ZIP+4 keeps the ZIP
    ("186", "IT", "00186"),              # leading zeros lost in a spreadsheet
    (" 20121", "IT", "20121"),
    ("I-20121", "IT", "20121"),
    ("75 008", "FR", "75008"),
    ("6000", "FR", "06000"),
    ("CH-8001", "CH", "8001"),
    (8001, "CH", "8001"),
    ("1234 ab", "NL", "1234AB"),          # other countries: upper case, no spaces or hyphens
    ("", "AE", None),
    (None, "GB", None),
])
def test_postcodes(raw, country, expected):
    assert normalise_postcode(raw, country) == expected


@pytest.mark.parametrize("name, code", [
    # Knuth, TAOCP vol. 3 (2nd ed.), §6.4, and the US National Archives' Soundex examples
    ("robert", "R163"), ("rupert", "R163"), ("rubin", "R150"), ("ashcraft", "A261"),
    ("ashcroft", "A261"), ("tymczak", "T522"), ("pfister", "P236"), ("lee", "L000"),
])
def test_soundex_reference_codes(name, code):
    assert soundex(name) == code


def test_soundex_groups_spellings_that_blocking_must_bring_together():
    assert soundex(name_key("Müller")) == soundex(name_key("Mueller")) == soundex(name_key("MULLER"))
    assert soundex(None) is None and soundex("") is None


def test_normalise_records_adds_the_canonical_columns():
    records = pd.DataFrame({
        "source": ["crm", "store"], "source_record_id": ["CRM1", "POS1"],
        "first_name": ["Hélène", "HELENE "], "last_name": ["Lefèvre", "LEFEVRE"],
        "email": ["Helene.Lefevre+shop@Gmail.com", None], "phone": [None, "06 12 34 56 78"],
        "postcode": ["75008", "75 008"], "country": ["FR", "fr"], "external_id": ["C1", " C1 "],
    })
    out = normalise_records(records)
    assert out["email_norm"].tolist() == ["helenelefevre@gmail.com", None]
    assert out["phone_e164"].tolist() == [None, "+33612345678"]
    assert out["first_key"].tolist() == ["helene", "helene"]
    assert out["last_key"].tolist() == ["lefevre", "lefevre"]
    assert out["postcode_norm"].tolist() == ["75008", "75008"]
    assert out["country_norm"].tolist() == ["FR", "FR"]
    assert out["external_id_norm"].tolist() == ["C1", "C1"]
    assert out["last_soundex"].tolist() == ["L116", "L116"]
    assert "email_norm" not in records.columns  # the input is not modified


def test_normalise_records_names_missing_columns_and_bad_ids():
    good = pd.DataFrame({c: ["x"] for c in ("source", "source_record_id", "first_name", "last_name",
                                            "email", "phone", "postcode", "country")})
    with pytest.raises(ValueError, match=r"missing column\(s\) \['phone'\]"):
        normalise_records(good.drop(columns="phone"))
    with pytest.raises(ValueError, match="'x' appears more than once"):
        normalise_records(pd.concat([good, good]))
    with pytest.raises(ValueError, match="source_record_id is empty in row 0"):
        normalise_records(good.assign(source_record_id=[None]))
