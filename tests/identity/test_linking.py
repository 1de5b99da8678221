"""Linking: each rule on hand-made records, hard negatives, manual constraints that are never undone,
survivorship, and precision/recall/calibration on the demo population's planted duplicates."""
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from survey_engine.identity.evaluation import pairwise_scores
from survey_engine.identity.linking import LEVELS, IdentityResolver, resolve

COLUMNS = ("source", "source_record_id", "first_name", "last_name", "email", "phone", "postcode",
           "city", "country", "external_id", "created_at")


def frame(*rows):
    """Records from (source, id, first, last, email, phone, postcode, city, country, external_id, created)."""
    out = pd.DataFrame([dict(zip(COLUMNS, row)) for row in rows], columns=list(COLUMNS))
    out["created_at"] = pd.to_datetime(out["created_at"])
    return out


def persons_of(resolution):
    membership = resolution.membership
    groups = membership.groupby("person_id")["source_record_id"].apply(frozenset)
    return set(groups)


def rule_of(resolution, a, b):
    links = resolution.links
    row = links[((links.record_a == a) & (links.record_b == b)) | ((links.record_a == b) & (links.record_b == a))]
    return row["rule"].tolist()


# One family in Milan, and an unrelated client.
FAMILY = frame(
    ("crm", "CRM1", "Giuseppe", "Rossi", "giuseppe.rossi@gmail.com", "+39 320 111 2233", "20121", "Milano", "IT", "C1", "2022-01-05"),
    ("ecommerce", "WEB1", "Giuseppe", "Rossi", "Giuseppe.Rossi+shop@GoogleMail.com", None, "20121", "Milano", "IT", None, "2023-03-01"),
    ("store", "POS1", "BEPPE", "ROSSI", None, "320 111 2233", None, "Milano", "IT", None, "2024-06-01"),
    ("store", "POS2", "Giuseppe", "Rossi", None, None, None, "Milano", "IT", "C1", "2024-07-01"),
    # his wife: same surname, address and landline, her own email
    ("crm", "CRM2", "Giulia", "Rossi", "giulia.rossi@libero.it", "+39 320 111 2233", "20121", "Milano", "IT", "C2", "2022-02-01"),
    ("loyalty", "LOY2", "Giulia", "Rossi", None, "3201112233", "20121", "Milano", "IT", None, "2023-02-01"),
    # a family address used by their son
    ("ecommerce", "WEB3", "Marco", "Rossi", "giulia.rossi@libero.it", None, "20121", "Milano", "IT", None, "2024-01-01"),
    ("crm", "CRM9", "Claire", "Dupont", "claire.dupont@orange.fr", "06 12 34 56 78", "75008", "Paris", "FR", "C9", "2022-01-01"),
)


@pytest.fixture
def family():
    return resolve(FAMILY, min_training_pairs=10_000)  # tiny data: default m and u


def test_each_deterministic_rule_links_its_pair(family):
    assert rule_of(family, "CRM1", "WEB1") == ["email"]          # gmail dots, plus tag, googlemail
    assert rule_of(family, "CRM1", "POS1") == ["phone_name"]     # national format, capitals, nickname
    assert rule_of(family, "CRM1", "POS2") == ["external_id"]    # CRM number on a store receipt
    assert rule_of(family, "CRM2", "LOY2") == ["phone_name"]
    assert persons_of(family) == {frozenset({"CRM1", "WEB1", "POS1", "POS2"}), frozenset({"CRM2", "LOY2"}),
                                  frozenset({"WEB3"}), frozenset({"CRM9"})}


def test_household_members_sharing_landline_address_and_email_stay_apart(family):
    person = family.membership.set_index("source_record_id")["person_id"]
    assert person["CRM1"] != person["CRM2"]  # same phone, surname, postcode; different first names
    assert person["CRM2"] != person["WEB3"]  # same email, different first names
    assert family.rejected.empty


def test_every_link_says_which_rule_made_it_and_how_strongly(family):
    links = family.links
    assert set(links["rule"]) <= {"external_id", "email", "phone_name", "fuzzy", "manual"}
    assert links.loc[links["rule"] != "fuzzy", "score"].eq(1.0).all()
    assert not links.duplicated(["record_a", "record_b"]).any()


def test_a_namesake_at_one_landline_with_another_email_is_left_to_the_scored_rule():
    records = frame(
        ("crm", "CRM1", "Reto", "Brunner", "reto.brunner@bluewin.ch", "+41 77 169 20 87", "1206", "Genève", "CH", "C1", "2022-01-01"),
        ("crm", "CRM2", "Reto", "Brunner", "brunner.reto@gmail.com", "077 169 20 87", "1206", "Genève", "CH", "C2", "2023-01-01"),
    )
    strict = resolve(records, min_training_pairs=10_000, threshold=0.999_999_999)
    assert strict.links.empty  # not linked by phone_name; the fuzzy score is below this threshold
    scored = IdentityResolver(min_training_pairs=10_000).fit(records).score_pairs(records)
    pair = scored.iloc[0]
    assert (pair["first_name"], pair["last_name"], pair["phone"], pair["email"]) == ("exact", "exact", "exact", "different")
    assert pair["name_gate"]
    lenient = resolve(records, min_training_pairs=10_000, threshold=pair["probability"] - 1e-9)
    assert rule_of(lenient, "CRM1", "CRM2") == ["fuzzy"]


def test_fuzzy_rule_needs_names_and_a_shared_phone_or_postcode():
    records = frame(
        ("loyalty", "LOY1", "Katherine", "Fitzgerald", None, "07426 301832", "M3 4LZ", "Manchester", "GB", None, "2022-01-01"),
        # typo in the surname, no contact detail in common but the phone
        ("store", "POS1", "Kate", "Fitzegrald", None, "+44 7426 301832", None, "Manchester", "GB", None, "2023-01-01"),
        # same name, same postcode, but nothing else: the name gate passes, corroboration is the postcode
        ("ecommerce", "WEB1", "Katherine", "Fitzgerald", "kfitz@outlook.com", None, "M3 4LZ", "Manchester", "GB", None, "2023-05-01"),
        # same surname and postcode, another first name
        ("crm", "CRM2", "Eleanor", "Fitzgerald", "eleanor@fitz.co.uk", None, "M3 4LZ", "Manchester", "GB", "C2", "2022-01-01"),
    )
    resolver = IdentityResolver(min_training_pairs=10_000).fit(records)
    scored = resolver.score_pairs(records).set_index(["record_a", "record_b"])
    assert scored.loc[("LOY1", "POS1"), "last_name"] in {"close", "similar"}
    assert scored.loc[("LOY1", "POS1"), "first_name"] == "nickname"
    gated = scored[scored["name_gate"]]
    assert ("LOY1", "CRM2") not in gated.index and ("CRM2", "LOY1") not in gated.index
    resolution = resolver.predict(records)
    assert rule_of(resolution, "LOY1", "POS1") in (["fuzzy"], ["phone_name"])
    person = resolution.membership.set_index("source_record_id")["person_id"]
    assert person["CRM2"] not in {person["LOY1"], person["WEB1"]}


def test_manual_merge_joins_records_no_rule_would_join_and_is_kept_on_every_run():
    must = [("CRM9", "WEB3")]
    for _ in range(2):
        resolution = resolve(FAMILY, must_link=must, min_training_pairs=10_000)
        person = resolution.membership.set_index("source_record_id")["person_id"]
        assert person["CRM9"] == person["WEB3"]
        assert rule_of(resolution, "CRM9", "WEB3") == ["manual"]


def test_manual_split_is_never_undone_even_through_a_third_record():
    # CRM1-WEB1 by email, CRM1-POS1 by phone and name: a split of WEB1 from POS1 must not be
    # undone through CRM1, whichever way CRM1 goes.
    resolution = resolve(FAMILY, cannot_link=[("WEB1", "POS1")], min_training_pairs=10_000)
    person = resolution.membership.set_index("source_record_id")["person_id"]
    assert person["WEB1"] != person["POS1"]
    assert person["CRM1"] == person["POS2"]  # the external id (strongest rule) still holds
    assert person["CRM1"] == person["WEB1"]  # email outranks phone_name, so POS1 is the one split off
    blocked = resolution.rejected
    assert not blocked.empty and set(blocked["rule"]) == {"phone_name"}
    assert all(set(pair) == {"WEB1", "POS1"} for pair in blocked["blocked_by"])


def test_manual_split_wins_over_the_strongest_automatic_rule():
    resolution = resolve(FAMILY, cannot_link=[("CRM1", "POS2")], min_training_pairs=10_000)
    person = resolution.membership.set_index("source_record_id")["person_id"]
    assert person["CRM1"] != person["POS2"]


def test_contradictory_or_unknown_constraints_are_refused():
    with pytest.raises(ValueError, match="contradict"):
        resolve(FAMILY, must_link=[("CRM9", "WEB3"), ("WEB3", "CRM2")], cannot_link=[("CRM9", "CRM2")])
    with pytest.raises(ValueError, match=r"unknown source record\(s\) \['NOPE'\]"):
        resolve(FAMILY, must_link=[("CRM1", "NOPE")])
    with pytest.raises(ValueError, match="same record twice"):
        resolve(FAMILY, cannot_link=[("CRM1", "CRM1")])


def test_golden_record_follows_the_survivorship_rules(family):
    person = family.membership.set_index("source_record_id")["person_id"]["CRM1"]
    golden = family.persons.set_index("person_id").loc[person]
    assert (golden["first_name"], golden["last_name"]) == ("Giuseppe", "Rossi")  # CRM is the system of record
    assert golden["email"] == "giusepperossi@gmail.com"                           # canonical, most recent
    assert golden["phone"] == "+393201112233"
    assert (golden["postcode"], golden["city"], golden["country"]) == ("20121", "Milano", "IT")
    assert golden["external_id"] == "C1" and golden["external_ids"] == ["C1"]
    assert golden["sources"] == ["crm", "ecommerce", "store"] and golden["n_records"] == 4
    assert golden["first_seen"] == pd.Timestamp("2022-01-05", tz="UTC")
    assert golden["last_seen"] == pd.Timestamp("2024-07-01", tz="UTC")
    assert golden["provenance"]["email"] == "WEB1" and golden["provenance"]["first_name"] == "CRM1"
    assert golden["provenance"]["address"] == "WEB1"  # newest record with a postcode


def test_golden_names_prefer_the_complete_spelling_within_the_best_source():
    records = frame(
        ("store", "POS1", "HELENE", "LEFEVRE", "h.lefevre@free.fr", None, None, "Paris", "FR", None, "2024-01-01"),
        ("store", "POS2", "Hélène", "Lefèvre", "h.lefevre@free.fr", None, "75008", "Paris", "FR", None, "2023-01-01"),
    )
    golden = resolve(records).persons.iloc[0]
    assert (golden["first_name"], golden["last_name"]) == ("Hélène", "Lefèvre")
    assert golden["postcode"] == "75008"


def test_parameters_are_checked_and_predict_needs_fit():
    with pytest.raises(ValueError, match=r"rules: unknown rule\(s\) \['soundex'\]"):
        IdentityResolver(rules=("email", "soundex")).fit(FAMILY)
    with pytest.raises(ValueError, match="threshold"):
        IdentityResolver(threshold=1.0).fit(FAMILY)
    with pytest.raises(NotFittedError):
        IdentityResolver().predict(FAMILY)


def test_estimator_contract():
    resolver = IdentityResolver(threshold=0.95, rules=("email",))
    assert clone(resolver).get_params() == resolver.get_params()
    assert resolver.fit(FAMILY) is resolver
    assert not hasattr(IdentityResolver(), "m_")
    only_email = resolver.predict(FAMILY)
    assert set(only_email.links["rule"]) == {"email"}


def test_fit_estimates_m_and_u_on_enough_data(demo_resolution):
    resolver, _ = demo_resolution
    assert all(resolver.u_estimated_.values()) and all(resolver.m_estimated_.values())
    weights = resolver.match_weights_.set_index(["comparison", "level"])["weight"]
    for comparison in LEVELS:
        assert weights[(comparison, "exact")] > 0 > weights[(comparison, "different")]
        assert weights[(comparison, "missing")] == 0
    assert 0 < resolver.prior_ < 0.01


def test_demo_population_precision_and_recall(demo, demo_resolution):
    _, resolution = demo_resolution
    predicted = resolution.membership.set_index("source_record_id")["person_id"]
    truth = demo["truth"].set_index("source_record_id")["customer_id"]
    scores = pairwise_scores(predicted, truth)
    message = (f"pairwise precision {scores['precision']:.4f}, recall {scores['recall']:.4f} on "
               f"{len(predicted)} records ({scores['true_pairs']} true pairs, {scores['predicted_pairs']} predicted)")
    print(message)
    assert scores["precision"] >= 0.99, message
    assert scores["recall"] >= 0.95, message


def test_demo_population_hard_negatives_stay_apart(demo, demo_resolution):
    _, resolution = demo_resolution
    person = resolution.membership.set_index("source_record_id")["person_id"]
    persons_of_customer = demo["truth"].assign(person=demo["truth"]["source_record_id"].map(person)) \
        .groupby("customer_id")["person"].apply(set)
    negatives = demo["hard_negatives"]
    merged = [(a, b, kind) for a, b, kind in negatives.itertuples(index=False)
              if persons_of_customer[a] & persons_of_customer[b]]
    kinds = negatives["kind"].value_counts().to_dict()
    assert len(negatives) >= 150 and {"household", "household_shared_phone", "namesake"} <= set(kinds)
    assert len(merged) <= 0.01 * len(negatives), f"{len(merged)} of {len(negatives)} hard negatives merged: {merged[:5]}"


def test_demo_population_fuzzy_probabilities_are_calibrated(demo, demo_resolution):
    resolver, _ = demo_resolution
    scored = resolver.score_pairs(demo["records"])
    truth = demo["truth"].set_index("source_record_id")["customer_id"]
    scored["match"] = scored["record_a"].map(truth).to_numpy() == scored["record_b"].map(truth).to_numpy()
    gated = scored[scored["name_gate"]]
    bands = pd.cut(gated["probability"], [0, 0.01, 0.1, 0.5, 0.9, 0.99, 1.0], include_lowest=True)
    table = gated.groupby(bands, observed=True).agg(n=("match", "size"), observed=("match", "mean"),
                                                   predicted=("probability", "mean"))
    populated = table[table["n"] >= 50]
    assert len(populated) >= 3, table
    gap = (populated["observed"] - populated["predicted"]).abs()
    assert (gap <= 0.1).all(), f"observed vs predicted match rate by probability band:\n{table}"
    above = gated[gated["probability"] >= resolver.threshold]
    assert above["match"].mean() >= 0.99, f"precision of fuzzy-scored pairs above the threshold: {above['match'].mean()}"


def test_a_value_shared_by_too_many_records_is_not_evidence():
    # walk-in clients all given the shop's own number, with the same surname by coincidence
    shop_phone = "+39 02 7600 1234"
    rows = [("store", f"POS{k}", first, "Ricci", None, shop_phone, None, "Milano", "IT", None, "2024-01-01")
            for k, first in enumerate(["Marco", "Marco", "Giulia", "Sofia", "Elena"])]
    resolution = resolve(frame(*rows), max_block_size=4, min_training_pairs=10_000)
    assert len(resolution.persons) == 5 and resolution.links.empty
    assert set(resolution.skipped_blocks["rule"]) >= {"phone_name"}
    assert resolution.skipped_blocks["size"].eq(5).all()
    linked = resolve(frame(*rows), max_block_size=5, min_training_pairs=10_000)
    assert rule_of(linked, "POS0", "POS1") == ["phone_name"]
