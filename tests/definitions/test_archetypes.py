"""Archetype catalogs: the shipped catalogs load, and every kind of error is reported with file, path, reason."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from survey_engine.definitions.archetypes import (
    ArchetypeCatalog,
    dump_archetype_catalog,
    load_archetype_catalog,
    load_archetype_catalogs,
    parse_archetype_catalog,
    validate_archetype_catalog_data,
)
from survey_engine.definitions.errors import DefinitionError

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = ROOT / "archetypes"
CONSTRUCTS = ("craftsmanship_heritage", "exclusivity_status", "novelty_trends", "minimalism", "sustainability",
              "digital_community", "personal_service", "privacy_discretion")
TEXT_ITEMS = ("style_words", "special_purchase", "improve")


def _style_data() -> dict:
    return yaml.safe_load((CATALOGS / "style_archetypes.yaml").read_text(encoding="utf-8"))


def _issues(data, **kwargs):
    kwargs.setdefault("known_factors", CONSTRUCTS)
    return [(i.path, i.reason) for i in validate_archetype_catalog_data(data, "cat.yaml", **kwargs)]


def test_shipped_catalogs_load_against_the_questionnaire_constructs():
    catalogs = load_archetype_catalogs(CATALOGS, known_factors=CONSTRUCTS, known_text_items=TEXT_ITEMS,
                                       languages=("en", "it", "fr"))
    style, relationship = catalogs["style_archetypes"], catalogs["relationship_styles"]
    assert style.archetype_ids == ("modern_minimalist", "vintage_romantic", "bold_maximalist", "classic_heritage",
                                   "avant_garde_creative", "ethical_luxury_seeker")
    assert relationship.archetype_ids == ("heritage_appreciation", "status_exclusivity", "personalised_service",
                                          "digital_community", "discreet_privacy")
    for catalog in catalogs.values():
        assert not catalog.catalog.proposal and catalog.file.endswith(".yaml")
        for archetype in catalog.archetypes:
            assert set(archetype.name) == set(archetype.description) == set(archetype.phrases) == {"en", "it", "fr"}
            assert all(len(p) >= 4 for p in archetype.phrases.values())
            assert 0 < archetype.engagement.monthly_contact_cap <= 6
    minimalist = style.archetype("modern_minimalist")
    assert minimalist.profile["minimalism"].signed == pytest.approx(0.9)
    assert minimalist.profile["exclusivity_status"].signed == pytest.approx(-0.2)
    matrix = style.profile_matrix(["minimalism", "personal_service"])
    np.testing.assert_allclose(matrix[:, 1], 0.0)
    assert matrix[0, 0] == pytest.approx(0.9) and matrix[2, 0] == pytest.approx(-0.85)


def test_catalogs_are_frozen_and_versioned():
    catalog = load_archetype_catalog(CATALOGS / "style_archetypes.yaml", known_factors=CONSTRUCTS)
    with pytest.raises(Exception):
        catalog.archetypes[0].id = "other"
    assert catalog.version_label.startswith("style_archetypes@v1+") and len(catalog.content_hash) == 64
    edited = _style_data()
    edited["archetypes"][0]["engagement"]["monthly_contact_cap"] = 3
    other = parse_archetype_catalog(yaml.safe_dump(edited), known_factors=CONSTRUCTS)
    assert other.content_hash != catalog.content_hash


def test_dump_round_trips():
    catalog = load_archetype_catalog(CATALOGS / "relationship_styles.yaml", known_factors=CONSTRUCTS)
    again = parse_archetype_catalog(dump_archetype_catalog(catalog), known_factors=CONSTRUCTS)
    assert isinstance(again, ArchetypeCatalog) and again.content_hash == catalog.content_hash


def test_unknown_factor_is_named_with_a_suggestion():
    data = _style_data()
    data["archetypes"][1]["profile"]["novelty_trend"] = {"direction": "low", "strength": 0.3}
    with pytest.raises(DefinitionError) as raised:
        parse_archetype_catalog(yaml.safe_dump(data, sort_keys=False), "style.yaml", known_factors=CONSTRUCTS)
    (issue,) = raised.value.issues
    assert issue.file == "style.yaml"
    assert issue.path == "archetypes[1].profile.novelty_trend"
    assert "unknown factor or construct 'novelty_trend'" in issue.reason and "did you mean 'novelty_trends'" in issue.reason
    assert issue.line is not None
    # Without a questionnaire the catalog is checked on its own.
    parse_archetype_catalog(yaml.safe_dump(data), known_factors=None)


@pytest.mark.parametrize("edit,path,reason", [
    (lambda d: d["catalog"].pop("id"), "catalog.id", "required field is missing"),
    (lambda d: d["catalog"].update(version=0), "catalog.version", "greater than or equal to 1"),
    (lambda d: d["catalog"].update(kind="mood"), "catalog.kind", "expected"),
    (lambda d: d["catalog"].update(languages=["en", "it", "fr", "en"]), "catalog.languages", "listed twice"),
    (lambda d: d["catalog"].update(languages=["en", "it", "fr", "EN"]), "catalog.languages[3]", "two-letter"),
    (lambda d: d["catalog"].update(text_items=["style_word"]), "catalog.text_items[0]",
     "unknown free-text item 'style_word' (did you mean 'style_words'?)"),
    (lambda d: d.update(archetypes=d["archetypes"][:1]), "archetypes", "at least 2"),
    (lambda d: d["archetypes"][2].update(id="modern_minimalist"), "archetypes[2].id",
     "duplicate archetype id 'modern_minimalist' (also archetypes[0])"),
    (lambda d: d["archetypes"][0].update(id="Modern Minimalist"), "archetypes[0].id", "not valid"),
    (lambda d: d["archetypes"][0]["name"].pop("fr"), "archetypes[0].name", "missing language 'fr'"),
    (lambda d: d["archetypes"][0]["description"].update(de="Minimalist"), "archetypes[0].description.de",
     "language 'de' is not in catalog.languages"),
    (lambda d: d["archetypes"][0]["description"].update(it="  "), "archetypes[0].description.it", "must not be empty"),
    (lambda d: d["archetypes"][0]["phrases"].update(fr=[]), "archetypes[0].phrases.fr", "at least 1 phrase"),
    (lambda d: d["archetypes"][0]["phrases"]["en"].append(" "), "archetypes[0].phrases.en[7]", "must not be empty"),
    (lambda d: d["archetypes"][0].update(profile={}), "archetypes[0].profile", "at least 1"),
    (lambda d: d["archetypes"][0]["profile"]["minimalism"].update(direction="up"),
     "archetypes[0].profile.minimalism.direction", "expected 'high' or 'low'"),
    (lambda d: d["archetypes"][0]["profile"]["minimalism"].update(strength=1.5),
     "archetypes[0].profile.minimalism.strength", "less than or equal to 1"),
    (lambda d: d["archetypes"][0]["profile"]["minimalism"].update(strength=0),
     "archetypes[0].profile.minimalism.strength", "greater than 0"),
    (lambda d: d["archetypes"][0]["engagement"].update(channels=["emial"]), "archetypes[0].engagement.channels[0]",
     "unknown channel 'emial' (did you mean 'email'?)"),
    (lambda d: d["archetypes"][0]["engagement"].update(channels=["email", "email"]),
     "archetypes[0].engagement.channels[1]", "listed twice"),
    (lambda d: d["archetypes"][0]["engagement"].update(channels=[]), "archetypes[0].engagement.channels",
     "at least 1"),
    (lambda d: d["archetypes"][0]["engagement"].update(monthly_contact_cap=40),
     "archetypes[0].engagement.monthly_contact_cap", "less than or equal to 31"),
    (lambda d: d["archetypes"][0]["engagement"].update(monthly_contact_cap=-1),
     "archetypes[0].engagement.monthly_contact_cap", "greater than or equal to 0"),
    (lambda d: d["archetypes"][0]["engagement"]["tone"].pop("it"), "archetypes[0].engagement.tone",
     "missing language 'it'"),
    (lambda d: d["archetypes"][0].update(colour="grey"), "archetypes[0].colour", "unknown field"),
    (lambda d: d["archetypes"][0].update(discovery={"size": 3, "share": 0.1}), "archetypes[0].discovery",
     "only allowed in a proposal catalog"),
])
def test_each_error_is_reported_with_path_and_reason(edit, path, reason):
    data = _style_data()
    edit(data)
    issues = _issues(data, known_text_items=TEXT_ITEMS)
    assert any(p == path and reason in r for p, r in issues), issues


def test_all_problems_are_listed_together_with_lines():
    data = _style_data()
    data["catalog"]["version"] = 0
    data["archetypes"][0]["profile"]["minimalsm"] = data["archetypes"][0]["profile"].pop("minimalism")
    data["archetypes"][3]["engagement"]["monthly_contact_cap"] = 99
    data["archetypes"][4]["name"].pop("it")
    with pytest.raises(DefinitionError) as raised:
        parse_archetype_catalog(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), "style.yaml",
                                known_factors=CONSTRUCTS)
    paths = {issue.path for issue in raised.value.issues}
    assert paths == {"catalog.version", "archetypes[0].profile.minimalsm",
                     "archetypes[3].engagement.monthly_contact_cap", "archetypes[4].name"}
    assert all(issue.line for issue in raised.value.issues)
    assert "4 problems" in str(raised.value)


def test_file_level_problems(tmp_path):
    bad_yaml = tmp_path / "broken.yaml"
    bad_yaml.write_text("catalog: [unclosed\n", encoding="utf-8")
    with pytest.raises(DefinitionError) as raised:
        load_archetype_catalog(bad_yaml, known_factors=CONSTRUCTS)
    assert "YAML syntax error" in raised.value.issues[0].reason and raised.value.issues[0].file == str(bad_yaml)
    (tmp_path / "empty.yaml").write_text("", encoding="utf-8")
    (tmp_path / "list.yaml").write_text("- a\n- b\n", encoding="utf-8")
    (tmp_path / "dup1.yaml").write_text((CATALOGS / "style_archetypes.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "dup2.yaml").write_text((CATALOGS / "style_archetypes.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    bad_yaml.unlink()
    with pytest.raises(DefinitionError) as raised:
        load_archetype_catalogs(tmp_path, known_factors=CONSTRUCTS)
    reasons = {Path(i.file).name: i.reason for i in raised.value.issues}
    assert reasons["empty.yaml"] == "file is empty"
    assert "expected a mapping" in reasons["list.yaml"]
    assert "catalog id 'style_archetypes' is also used by" in reasons["dup2.yaml"]
    with pytest.raises(DefinitionError, match="does not exist"):
        load_archetype_catalogs(tmp_path / "nowhere", known_factors=CONSTRUCTS)
