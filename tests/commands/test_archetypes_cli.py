"""``survey-engine archetypes`` commands against a migrated test database."""
from __future__ import annotations

from pathlib import Path

import yaml

from survey_engine.db import session_scope
from survey_engine.services.demo import seed_demo
from survey_engine.services.factors import fit_factor_model

ROOT = Path(__file__).resolve().parents[2]


def test_validate_lists_every_problem(runner, tmp_path, loaded_questionnaires):
    ok = runner.invoke(args=["archetypes", "validate", "--questionnaire", "post_purchase_luxury",
                             "--catalogs", str(ROOT / "archetypes")])
    assert ok.exit_code == 0, ok.output
    assert "valid" in ok.output
    data = yaml.safe_load((ROOT / "archetypes" / "style_archetypes.yaml").read_text(encoding="utf-8"))
    data["archetypes"][0]["profile"]["minimal"] = {"direction": "high", "strength": 0.5}
    data["archetypes"][1]["engagement"]["monthly_contact_cap"] = 50
    (tmp_path / "style.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    bad = runner.invoke(args=["archetypes", "validate", "--questionnaire", "post_purchase_luxury",
                              "--catalogs", str(tmp_path)])
    assert bad.exit_code == 1
    assert "archetypes[0].profile.minimal: unknown factor or construct 'minimal'" in bad.output
    assert "archetypes[1].engagement.monthly_contact_cap" in bad.output and "2 problem(s)" in bad.output


def test_assign_report_propose(runner, db_engine, loaded_questionnaires, tmp_path):
    missing = runner.invoke(args=["archetypes", "assign", "--questionnaire", "post_purchase_luxury"])
    assert missing.exit_code == 1 and "factors fit" in missing.output
    with session_scope(db_engine) as session:
        seed_demo(session, customers=250, seed=9, instance_dir=tmp_path, steps=())
        assert fit_factor_model(session, "post_purchase_luxury", n_factors=8).status == "fitted"
    assigned = runner.invoke(args=["archetypes", "assign", "--questionnaire", "post_purchase_luxury"])
    assert assigned.exit_code == 0, assigned.output
    assert "style_archetypes (style_archetypes@v1+" in assigned.output and "modern_minimalist" in assigned.output
    report = runner.invoke(args=["archetypes", "report", "--questionnaire", "post_purchase_luxury"])
    assert report.exit_code == 0, report.output
    assert "relationship_styles" in report.output and "confidence mean" in report.output
    out = tmp_path / "proposal.yaml"
    proposed = runner.invoke(args=["archetypes", "propose", "--questionnaire", "post_purchase_luxury",
                                   "--out", str(out), "--text-item", "special_purchase", "--max-k", "6"])
    assert proposed.exit_code == 0, proposed.output
    assert yaml.safe_load(out.read_text(encoding="utf-8"))["catalog"]["proposal"] is True
    wrong = runner.invoke(args=["archetypes", "propose", "--questionnaire", "post_purchase_luxury",
                                "--out", str(out), "--text-item", "nps"])
    assert wrong.exit_code == 1 and "not a free-text item" in wrong.output
