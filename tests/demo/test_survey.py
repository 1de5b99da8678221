"""Survey answers: valid for the shipped questionnaire, structured by the factor model, with careless respondents."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from survey_engine.definitions.questionnaire import load_questionnaire, validate_answers
from survey_engine.demo import generate_likert_matrix, generating_model, world

ROOT = Path(__file__).resolve().parents[2]


def test_every_response_validates_against_the_shipped_questionnaire(population):
    spec = load_questionnaire(ROOT / "questionnaires" / "post_purchase_luxury.yaml")
    for status, language, answers in population.responses[["status", "language", "answers"]].itertuples(index=False):
        result = validate_answers(spec, answers, partial=(status == "draft"), lang=language)
        assert result.ok, (answers, result.errors)


def test_response_table(population):
    responses = population.responses
    assert list(responses.columns) == [
        "response_id", "customer_id", "order_id", "questionnaire_id", "status", "language",
        "started_at", "updated_at", "submitted_at", "duration_seconds", "answers"]
    assert responses["customer_id"].is_unique and responses["response_id"].is_unique
    assert len(responses) == round(0.8 * len(population.customers))
    orders = population.transactions.drop_duplicates("order_id").set_index("order_id")
    assert (orders.loc[responses["order_id"], "customer_id"].to_numpy() == responses["customer_id"].to_numpy()).all()
    order_time = orders.loc[responses["order_id"], "timestamp"].to_numpy()
    submitted = responses["status"] == "submitted"
    assert (responses.loc[submitted, "submitted_at"].to_numpy() >= order_time[submitted.to_numpy()]).all()
    assert responses.loc[~submitted, "submitted_at"].isna().all()
    assert np.allclose((responses["updated_at"] - responses["started_at"]).dt.total_seconds(),
                       responses["duration_seconds"])
    assert responses["updated_at"].max() < pd.Timestamp(population.end) + pd.Timedelta(days=1)
    assert set(responses["language"]) == set(world.LANGUAGES)
    category = orders.loc[responses["order_id"], "category"].to_numpy()
    assert (responses["answers"].map(lambda a: a["category"]).to_numpy() == category).all()
    improve = responses["answers"].map(lambda a: "improve" in a)
    nps = responses["answers"].map(lambda a: a["nps"])
    assert not improve[nps > world.IMPROVE_MAX_NPS].any() and improve[nps <= world.IMPROVE_MAX_NPS].mean() > 0.5
    assert 0.1 < (nps <= 6).mean() < 0.35


def test_careless_respondents_are_flagged_only_in_the_truth(population):
    quality = population.truth.customers.set_index("customer_id")["quality"]
    responses = population.responses.assign(quality=quality.loc[population.responses["customer_id"]].to_numpy())
    assert "quality" not in population.responses.columns
    assert quality.isna().sum() == len(population.customers) - len(population.responses)
    shares = responses["quality"].value_counts(normalize=True)
    assert shares["ok"] > 0.85 and set(shares.index) == {"ok", "failed_attention", "straight_liner",
                                                         "speeder", "missing_answers"}
    likert = population.likert_matrix()
    by_kind = {kind: group for kind, group in responses.groupby("quality")}
    attention = responses["answers"].map(lambda a: a[world.ATTENTION_ITEM])
    assert (attention[responses["quality"] == "ok"] == world.ATTENTION_EXPECTED).all()
    assert (attention[responses["quality"] == "failed_attention"] != world.ATTENTION_EXPECTED).all()
    straight = likert.loc[by_kind["straight_liner"]["response_id"]]
    assert (straight.nunique(axis=1) == 1).all()
    assert (likert.loc[by_kind["ok"]["response_id"]].nunique(axis=1) > 1).mean() > 0.99
    assert by_kind["speeder"]["duration_seconds"].max() < 80 < by_kind["ok"]["duration_seconds"].min()
    missing = likert.loc[by_kind["missing_answers"]["response_id"]].isna().mean(axis=1)
    assert missing.between(0.15, 0.9).all() and (by_kind["missing_answers"]["status"] == "draft").all()
    assert (responses.loc[responses["quality"] != "missing_answers", "status"] == "submitted").all()


def test_likert_answers_have_the_factor_structure(population):
    truth = population.truth.customers.set_index("customer_id")
    ok = truth.loc[population.responses["customer_id"], "quality"].eq("ok").to_numpy()
    likert = population.likert_matrix()[ok]
    keyed = likert.copy()
    for item in world.REVERSE_ITEMS:
        keyed[item] = 8 - keyed[item]
    corr = keyed.corr().to_numpy()
    construct = np.array([world.ITEM_CONSTRUCT[i] for i in likert.columns])
    same = (construct[:, None] == construct[None, :]) & ~np.eye(30, dtype=bool)
    assert corr[same].min() > 0.3
    assert np.abs(corr[~same & ~np.eye(30, dtype=bool)]).mean() < 0.15
    assert corr[same].mean() > 3 * np.abs(corr[~same]).mean()
    # raw reverse items correlate negatively with their construct's other items
    raw = likert.corr()
    assert raw.loc["ch4", "ch1"] < -0.2 and raw.loc["pr2", "pr1"] < -0.2
    # construct means follow the hidden latent scores
    scores = np.column_stack([keyed[list(world.CONSTRUCT_ITEMS[c])].mean(axis=1) for c in world.CONSTRUCTS])
    latent = truth.loc[population.responses["customer_id"][ok], [f"latent_{c}" for c in world.CONSTRUCTS]].to_numpy()
    for k in range(8):
        assert np.corrcoef(scores[:, k], latent[:, k])[0, 1] > 0.75, world.CONSTRUCTS[k]


def test_likert_matrix_reproduces_the_generating_model():
    model = generating_model()
    frame, latent = generate_likert_matrix(100_000, seed=1, return_latent=True)
    assert frame.shape == (100_000, 30) and tuple(frame.columns) == model.items
    assert (frame.dtypes == np.int8).all()
    assert frame.to_numpy().min() == 1 and frame.to_numpy().max() == 7
    assert np.abs(np.corrcoef(latent.T) - model.factor_correlation).max() < 0.015
    observed = np.stack([np.bincount(frame[c].to_numpy(), minlength=8)[1:] for c in frame.columns]) / len(frame)
    # marginal category shares: the latent mean is 0 and y* has unit variance
    assert np.abs(observed - model.category_probabilities()).max() < 0.01
    pd.testing.assert_frame_equal(generate_likert_matrix(1000, seed=1), generate_likert_matrix(1000, seed=1))
    assert not generate_likert_matrix(1000, seed=1).equals(generate_likert_matrix(1000, seed=2))


def test_likert_matrix_missing_values_and_chunking():
    a = generate_likert_matrix(5000, seed=3, chunk_size=700, missing_rate=0.1)
    assert a.dtypes.eq(np.float32).all()
    assert a.isna().to_numpy().mean() == pytest.approx(0.1, abs=0.01)
    # chunk size only bounds memory; small and large chunks give valid, same-shaped output
    b = generate_likert_matrix(5000, seed=3, chunk_size=5000)
    assert b.shape == a.shape
    with pytest.raises(ValueError, match="missing_rate"):
        generate_likert_matrix(10, missing_rate=1.5)
