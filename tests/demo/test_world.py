"""The generating world model agrees with the shipped questionnaire and catalogs, and is identifiable."""
from __future__ import annotations

import unicodedata
from pathlib import Path

import numpy as np
import pytest

from survey_engine.definitions.archetypes import load_archetype_catalog
from survey_engine.definitions.questionnaire import load_questionnaire
from survey_engine.demo import phrases, world

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def spec():
    return load_questionnaire(ROOT / "questionnaires" / "post_purchase_luxury.yaml")


def test_likert_items_match_the_questionnaire(spec):
    likert = {item.name: item for item in spec.items if item.type == "likert"}
    assert set(likert) == set(world.LIKERT_ITEMS)
    for item_spec in world.ITEM_SPECS:
        item = likert[item_spec.name]
        assert item.construct == item_spec.construct, item_spec.name
        assert item.reverse == item_spec.reverse, item_spec.name
        assert item.points == world.SCALE_POINTS
    assert sorted({s.construct for s in world.ITEM_SPECS}) == sorted(world.CONSTRUCTS)
    assert len(world.REVERSE_ITEMS) == 7


def test_other_items_match_the_questionnaire(spec):
    items = {item.name: item for item in spec.items}
    assert spec.id == world.QUESTIONNAIRE_ID
    assert set(world.LANGUAGES) <= set(spec.languages)
    assert items[world.ATTENTION_ITEM].expected == world.ATTENTION_EXPECTED
    assert items[world.NPS_ITEM].type == "nps"
    assert [o.value for o in items["category"].options] == list(world.CATEGORIES)
    assert [o.value for o in items["channels"].options] == list(world.SURVEY_CHANNELS)
    for name, limit in world.TEXT_ITEMS.items():
        assert items[name].max_length == limit, name
    assert items["improve"].show_if.evaluate({"nps": world.IMPROVE_MAX_NPS})
    assert not items["improve"].show_if.evaluate({"nps": world.IMPROVE_MAX_NPS + 1})


def test_generating_model_is_a_valid_ordinal_factor_model():
    model = world.generating_model()
    assert model.loadings.shape == (30, 8)
    nonzero = model.loadings != 0
    assert (nonzero.sum(axis=1) == 1).all()  # simple structure
    assert (np.abs(model.loadings[nonzero]) >= 0.6).all() and (np.abs(model.loadings[nonzero]) <= 0.85).all()
    assert (np.sign(model.loadings.sum(axis=1)) == np.where(model.reverse, -1, 1)).all()
    assert (np.diff(model.thresholds, axis=1) > 0).all()
    corr = model.item_correlation()
    assert np.allclose(np.diag(corr), 1.0) and np.allclose(corr, corr.T)
    assert np.linalg.eigvalsh(corr).min() > 0.05
    assert np.allclose(model.category_probabilities().sum(axis=1), 1.0)
    assert (model.uniquenesses > 0).all()
    with pytest.raises(ValueError):
        model.loadings[0, 0] = 1.0  # read-only: nobody can mutate the reference


def test_profiles_do_not_make_factors_collinear():
    """Mixture means add between-group covariance; the total latent correlation stays well conditioned."""
    style = world.profile_frame("style").to_numpy()
    relationship = world.profile_frame("relationship").to_numpy()
    p_style = np.array(list(world.STYLE_SHARES.values()))
    p_rel = np.array(list(world.RELATIONSHIP_SHARES.values()))
    means = (style[:, None, :] + relationship[None, :, :]).reshape(-1, 8)
    weights = (p_style[:, None] * p_rel[None, :]).ravel()
    centred = means - weights @ means
    between = (centred * weights[:, None]).T @ centred
    total = world.WITHIN_GROUP_SD**2 * world.LATENT_CORRELATION + between
    sd = np.sqrt(np.diag(total))
    corr = total / np.outer(sd, sd)
    assert np.linalg.eigvalsh(corr).min() > 0.25
    assert np.abs(corr - np.eye(8)).max() < 0.6
    # every relationship style shifts its own construct the most
    for name, construct in world.RELATIONSHIP_PRIMARY_CONSTRUCT.items():
        assert world.profile_frame("relationship").loc[name].idxmax() == construct


@pytest.mark.parametrize("kind,filename", [("style", "style_archetypes.yaml"),
                                           ("relationship", "relationship_styles.yaml")])
def test_catalog_profiles_agree_with_generating_profiles(kind, filename):
    catalog = load_archetype_catalog(ROOT / "archetypes" / filename, known_factors=world.CONSTRUCTS)
    profiles = world.profile_frame(kind)
    assert {a.id for a in catalog.archetypes} == set(profiles.index)
    for archetype in catalog.archetypes:
        expected = {factor: e.signed for factor, e in archetype.profile.items()}
        mine = profiles.loc[archetype.id]
        assert max(expected, key=lambda f: abs(expected[f])) == mine.abs().idxmax(), archetype.id
        for factor, value in expected.items():
            assert np.sign(value) == np.sign(mine[factor]), (archetype.id, factor)


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


@pytest.mark.parametrize("filename,bank", [("style_archetypes.yaml", phrases.STYLE_PHRASES),
                                           ("relationship_styles.yaml", phrases.SPECIAL_PHRASES)])
def test_phrase_banks_differ_from_catalog_examples(filename, bank):
    """Text assignment tested on the demo must not be matching a catalog phrase against itself."""
    catalog = load_archetype_catalog(ROOT / "archetypes" / filename, known_factors=world.CONSTRUCTS)
    examples = {_norm(p) for a in catalog.archetypes for p in a.all_phrases()}
    examples |= {_norm(a.description[lang]) for a in catalog.archetypes for lang in a.description}
    ours = {_norm(p) for group in bank.values() for lang in group.values() for p in lang}
    assert not ours & examples
