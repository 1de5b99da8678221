"""Customers and their source-system copies: valid identifiers, realistic variations, planted traps."""
from __future__ import annotations

import phonenumbers
import pandas as pd

from survey_engine.demo.people import SOURCES, strip_accents


def _normalise_email(email: str) -> str:
    local, domain = email.strip().lower().split("@")
    local = local.split("+")[0]
    if domain in ("gmail.com", "googlemail.com"):
        domain, local = "gmail.com", local.replace(".", "")
    return f"{local}@{domain}"


def _records_with_master(population) -> pd.DataFrame:
    truth = population.truth.records[["source_record_id", "customer_id", "variations"]]
    master = population.customers.add_prefix("master_").rename(columns={"master_customer_id": "customer_id"})
    return population.source_records.merge(truth, on="source_record_id").merge(master, on="customer_id")


def test_master_records_have_valid_identifiers(population):
    customers = population.customers
    assert customers["customer_id"].is_unique and customers["email"].is_unique
    assert customers["customer_id"].str.fullmatch(r"C\d{6}").all()
    for phone in customers["phone"]:
        assert phonenumbers.is_valid_number(phonenumbers.parse(phone)), phone
    assert set(customers["country"]) == {"IT", "FR", "GB", "US", "CH", "AE"}
    assert set(customers["preferred_language"]) == {"en", "it", "fr"}
    assert customers.loc[customers["country"] == "IT", "preferred_language"].eq("it").mean() > 0.8
    assert customers.loc[customers["country"] == "AE", "postcode"].isna().all()
    assert 0.5 < customers["consent_marketing"].mean() < 0.85
    assert customers["consent_profiling"].mean() > customers["consent_marketing"].mean()


def test_source_records_hide_the_true_person(population):
    records = population.source_records
    assert "customer_id" not in records.columns
    assert records["source_record_id"].is_unique
    assert set(records["source"]) == set(SOURCES)
    truth = population.truth.records
    assert set(truth["source_record_id"]) == set(records["source_record_id"])
    per_customer = truth.groupby("customer_id")["source"].nunique()
    assert per_customer.index.size == len(population.customers)
    assert per_customer.between(1, 4).all() and set(per_customer) == {1, 2, 3, 4}
    crm = truth[truth["source"] == "crm"]
    assert crm["customer_id"].is_unique and len(crm) == len(population.customers)
    # a few people have two records in one system (a second card, a guest checkout)
    assert (truth.groupby(["customer_id", "source"]).size() > 1).sum() > 0.03 * len(population.customers)
    # only CRM and identified store records know the CRM customer number
    known = records.dropna(subset=["customer_ref"])
    assert set(known["source"]) == {"crm", "store"}


def test_copies_vary_but_stay_linkable(population):
    merged = _records_with_master(population)
    variations = set(",".join(merged["variations"]).split(",")) - {""}
    for expected in ("email_case", "email_gmail_dots", "email_plus_tag", "phone_national",
                     "phone_international", "phone_00_prefix", "first_name_typo", "first_name_nickname",
                     "first_name_accent", "first_name_whitespace", "last_name_typo", "last_name_case",
                     "postcode_format", "phone_missing"):
        assert expected in variations, expected
    copies = merged[merged["variations"] != ""]
    assert (copies["email"].fillna("") != copies["master_email"]).mean() > 0.2
    assert (copies["first_name"] != copies["master_first_name"]).mean() > 0.1
    # every email, however written, normalises to the person's address
    emailed = merged.dropna(subset=["email"])
    assert (emailed["email"].map(_normalise_email) == emailed["master_email"].map(_normalise_email)).all()
    # every phone, in whatever format, parses to the person's E.164 number given the record's country
    phoned = merged.dropna(subset=["phone"])
    parsed = [phonenumbers.format_number(phonenumbers.parse(p, c), phonenumbers.PhoneNumberFormat.E164)
              for p, c in zip(phoned["phone"], phoned["country"])]
    assert parsed == phoned["master_phone"].tolist()
    assert (phoned["phone"] != phoned["master_phone"]).mean() > 0.5
    # no copy lacks both email and phone
    assert not (merged["email"].isna() & merged["phone"].isna()).any()
    # typos transpose two letters, as in Giuseppe -> Guiseppe
    typo = copies[copies["variations"].str.contains("first_name_typo")
                  & ~copies["variations"].str.contains("first_name_nickname")
                  & (copies["master_first_name"].str.len() >= 4)]
    letters = lambda s: "".join(sorted(strip_accents(s.strip()).lower()))  # noqa: E731
    assert len(typo) > 10
    assert (typo["first_name"].map(letters) == typo["master_first_name"].map(letters)).all()
    assert (typo["first_name"].str.strip().str.lower() != typo["master_first_name"].str.lower()).mean() > 0.8


def test_hard_negatives_look_alike_but_are_different_people(population):
    negatives = population.truth.hard_negatives
    assert set(negatives["kind"]) == {"household", "household_shared_phone", "namesake"}
    customers = population.customers.set_index("customer_id")
    a = customers.loc[negatives["customer_id_a"]].reset_index()
    b = customers.loc[negatives["customer_id_b"]].reset_index()
    assert (a["customer_id"] != b["customer_id"]).all()
    assert (a["last_name"] == b["last_name"]).all() and (a["city"] == b["city"]).all()
    assert (a["email"] != b["email"]).all()
    household = negatives["kind"].str.startswith("household").to_numpy()
    assert (a["first_name"][household] != b["first_name"][household]).all()
    assert (a["postcode"].fillna("")[household] == b["postcode"].fillna("")[household]).all()
    shared = (negatives["kind"] == "household_shared_phone").to_numpy()
    assert (a["phone"][shared] == b["phone"][shared]).all()
    namesake = (negatives["kind"] == "namesake").to_numpy()
    assert (a["first_name"][namesake] == b["first_name"][namesake]).all()
    assert (a["phone"][namesake] != b["phone"][namesake]).all()
    assert 0.04 < household.mean() * len(negatives) / len(customers) < 0.1


def test_strip_accents():
    assert strip_accents("Hélène Lefèvre") == "Helene Lefevre"
    assert strip_accents("Niccolò") == "Niccolo"
