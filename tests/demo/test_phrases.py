"""Phrase banks are rich enough and composed answers carry the noise real answers have."""
from __future__ import annotations

import numpy as np
import pytest

from survey_engine.demo import phrases, world


@pytest.mark.parametrize("bank,groups", [(phrases.STYLE_PHRASES, world.STYLE_ARCHETYPES),
                                         (phrases.SPECIAL_PHRASES, world.RELATIONSHIP_STYLES)])
def test_banks_cover_every_group_and_language(bank, groups):
    assert tuple(bank) == groups
    for group in groups:
        assert len(bank[group]["en"]) >= 15, group
        assert len(bank[group]["it"]) >= 8 and len(bank[group]["fr"]) >= 8, group
    all_phrases = [p for g in bank.values() for lang in g.values() for p in lang]
    assert len(all_phrases) == len(set(all_phrases))  # no phrase shared between groups


def test_composed_answers_mix_phrases_with_noise():
    rng = np.random.default_rng(3)
    answers = [phrases.compose_answer(phrases.STYLE_PHRASES, "bold_maximalist", "en", rng, max_chars=500)
               for _ in range(3000)]
    own = phrases.STYLE_PHRASES["bold_maximalist"]["en"]
    blank = [a for a in answers if not a.strip()]
    assert 0.01 < len(blank) / len(answers) < 0.06
    with_own = [a for a in answers if any(p.lower() in a.lower() for p in own)]
    assert len(with_own) / len(answers) > 0.8  # typos and case changes hide a few
    assert any(e in a for a in answers for e in phrases.EMOJIS)
    assert any(f in a for a in answers for f in phrases.FILLER_PHRASES["en"])
    others = [p for g, b in phrases.STYLE_PHRASES.items() if g != "bold_maximalist" for p in b["en"]]
    off = sum(any(p in a for p in others) for a in answers) / len(answers)
    assert 0.04 < off < 0.2
    assert all(len(a) <= 500 for a in answers)
    # a typo: some answers contain no bank phrase verbatim and no filler, yet are not blank
    assert any(a.strip() and not any(p.lower() in a.lower() for p in [*own, *others]) for a in answers)


def test_max_length_is_respected():
    rng = np.random.default_rng(0)
    for _ in range(200):
        text = phrases.compose_answer(phrases.SPECIAL_PHRASES, "personalised_service", "fr", rng, max_chars=20)
        assert len(text) <= 20
