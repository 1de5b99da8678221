"""`survey-engine clv analyse` on the CDNOW sample converted to a CSV file."""
import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from survey_engine.cli import cli


@pytest.fixture(scope="module")
def cdnow_csv(tmp_path_factory) -> Path:
    spec = importlib.util.find_spec("lifetimes")  # data file only; lifetimes is never imported
    raw = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "CDNOW_sample.txt"
    df = pd.read_csv(raw, sep=r"\s+", header=None, dtype=str, names=["master_id", "customer", "date", "cds", "amount"])
    path = tmp_path_factory.mktemp("cdnow") / "cdnow.csv"
    df.to_csv(path, index=False)
    return path


def _analyse(csv, tmp_path, *extra):
    args = ["clv", "analyse", "--transactions", str(csv), "--customer-col", "customer", "--date-col", "date",
            "--amount-col", "amount", "--date-format", "%Y%m%d", "--json", str(tmp_path / "report.json"), *extra]
    return CliRunner().invoke(cli, args)


def test_analyse_reproduces_the_published_parameters(cdnow_csv, tmp_path):
    result = _analyse(cdnow_csv, tmp_path, "--calibration-end", "1997-09-30", "--horizon-weeks", "39",
                      "--predictions", str(tmp_path / "pred.csv"))
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["n_customers"] == 2357
    bg = report["bgnbd"]
    assert (round(bg["r"], 3), round(bg["alpha"], 3), round(bg["a"], 3), round(bg["b"], 3)) == (0.243, 4.414, 0.793, 2.426)
    assert round(bg["log_likelihood"], 1) == -9582.4
    assert set(bg["se"]) == {"r", "alpha", "a", "b"} and all(v > 0 for v in bg["se"].values())
    gg = report["gamma_gamma"]
    assert (round(gg["p"], 2), round(gg["q"], 2), round(gg["gamma"], 2)) == (6.25, 3.74, 15.44)
    levels = report["holdout"]["comparison"]["levels"]
    assert set(levels["ultra_luxury"]) == {"n_actual_top", "predictive", "past_spend"}
    assert report["source"]["rows_loaded"] == 6919 and report["source"]["rows_rejected"] == 0
    preds = pd.read_csv(tmp_path / "pred.csv", dtype={"customer_id": str})
    assert list(preds.columns[:11]) == ["customer_id", "frequency", "recency", "T", "monetary_value", "p_alive",
                                        "expected_purchases", "expected_average_value", "clv", "tier", "rising"]
    first = preds.iloc[0]
    assert first["customer_id"] == "0001" and first["frequency"] == 2
    assert first["expected_purchases"] == pytest.approx(1.226, abs=5e-4)  # x=2, t_x=30.43, T=38.86 over 39 weeks
    assert "2357 customers; BG/NBD r=0.243 alpha=4.414 a=0.793 b=2.426" in result.output


def test_bad_rows_are_reported_and_written_to_the_reject_file(cdnow_csv, tmp_path):
    broken = tmp_path / "broken.csv"
    text = cdnow_csv.read_text().rstrip("\n") + "\n1,9999,notadate,1,5.00\n1,0001,19970301,1,-3\n"
    broken.write_text(text)
    result = _analyse(broken, tmp_path, "--rejects", str(tmp_path / "rejects.csv"))
    assert result.exit_code == 0, result.output
    assert "2 row(s) skipped" in result.output
    assert "line 6921: unparseable date 'notadate'" in result.output
    assert "line 6922: negative amount -3" in result.output
    rejects = pd.read_csv(tmp_path / "rejects.csv")
    assert rejects["line"].tolist() == [6921, 6922]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["source"]["rows_rejected"] == 2 and report["n_customers"] == 2357


def test_daily_time_unit_scales_alpha(cdnow_csv, tmp_path):
    result = _analyse(cdnow_csv, tmp_path, "--calibration-end", "1997-09-30", "--time-unit", "D")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["bgnbd"]["alpha"] == pytest.approx(7 * 4.4136, rel=1e-3)
    assert report["horizon"] == {"weeks": 52.0, "model_units": 364.0}


def test_invalid_tiers_file_is_a_clear_error(cdnow_csv, tmp_path):
    tiers = tmp_path / "tiers.yaml"
    tiers.write_text(yaml.safe_dump({"weights": {"clv": 1}, "top_shares": {"ultra_luxury": 0.5, "luxury": 0.2,
                                                                            "premium": 0.9},
                                     "lapse_risk": {"p_alive_below": 0.5}}))
    result = _analyse(cdnow_csv, tmp_path, "--tiers", str(tiers))
    assert result.exit_code == 1
    assert f"{tiers}: top_shares: cumulative shares must increase" in result.output
    missing_column = CliRunner().invoke(cli, ["clv", "analyse", "--transactions", str(cdnow_csv), "--customer-col",
                                              "client", "--date-col", "date", "--amount-col", "amount", "--json",
                                              str(tmp_path / "r.json")])
    assert missing_column.exit_code == 1 and "no column 'client' for customer" in missing_column.output


def _import_file(tmp_path) -> Path:
    path = tmp_path / "tx.csv"
    path.write_text(
        "client,order,line,when,value,ccy\n"
        "C1,O1,1,2024-01-05,100,EUR\n"
        "C1,O2,1,2024-02-05,50,EUR\n"
        "C2,O3,1,2024-01-06,abc,EUR\n"
        "C2,O4,1,2024-01-07,10,XXX\n"
    )
    return path


IMPORT_COLUMNS = ["--customer-col", "client", "--order-col", "order", "--line-col", "line", "--date-col", "when",
                  "--amount-col", "value", "--currency-col", "ccy", "--category-col", "", "--channel-col", "",
                  "--store-col", ""]


def test_import_command_is_idempotent_and_lists_rejects(runner, session, tmp_path):
    from sqlmodel import select

    from survey_engine.models.clv import Transaction

    source = _import_file(tmp_path)
    args = ["clv", "import", "--csv", str(source), *IMPORT_COLUMNS, "--rejects", str(tmp_path / "rej.csv")]
    first = runner.invoke(args=args)
    assert first.exit_code == 0, first.output
    assert "4 rows read, 2 loaded, 0 already stored, 2 rejected (amounts in EUR)" in first.output
    assert "line 4: amount 'abc' is not a number" in first.output
    assert "line 5: unknown currency 'XXX'" in first.output
    assert pd.read_csv(tmp_path / "rej.csv")["line"].tolist() == [4, 5]
    again = runner.invoke(args=args)
    assert "4 rows read, 0 loaded, 2 already stored, 2 rejected" in again.output
    assert len(session.exec(select(Transaction)).all()) == 2


def test_import_command_names_a_missing_column(runner, tmp_path):
    result = runner.invoke(args=["clv", "import", "--csv", str(_import_file(tmp_path))])
    assert result.exit_code == 1
    assert "no column 'customer_id' for customer" in result.output


def test_fit_command_on_stored_cdnow(runner, cdnow_csv, tmp_path):
    lines = pd.read_csv(cdnow_csv, dtype=str)
    lines["order"] = [f"O{i}" for i in range(len(lines))]
    lines["line"] = "1"
    source = tmp_path / "cdnow_orders.csv"
    lines.to_csv(source, index=False)
    args = ["clv", "import", "--csv", str(source), "--customer-col", "customer", "--order-col", "order",
            "--line-col", "line", "--date-col", "date", "--date-format", "%Y%m%d", "--amount-col", "amount",
            "--currency-col", "", "--category-col", "", "--channel-col", "", "--store-col", "",
            "--currency-rates", str(_usd_rates(tmp_path))]
    imported = runner.invoke(args=args)
    assert imported.exit_code == 0, imported.output
    assert "6919 rows read, 6919 loaded" in imported.output and "(amounts in USD)" in imported.output
    validation = runner.invoke(args=["clv", "fit", "--calibration-end", "1997-09-30", "--horizon-weeks", "39"])
    assert validation.exit_code == 0, validation.output
    assert "CLV model version 1 (validation): 2357 customers; BG/NBD r=0.243 alpha=4.414 a=0.793 b=2.426" in validation.output
    assert "Gamma-Gamma p=6.25 q=3.74 gamma=15.44" in validation.output
    assert "hold-out ultra_luxury: predictive tiers held" in validation.output
    production = runner.invoke(args=["clv", "fit"])
    assert "CLV model version 2 (production, active): 2357 customers" in production.output


def _usd_rates(tmp_path) -> Path:
    path = tmp_path / "usd.yaml"
    path.write_text("reporting_currency: USD\nrates:\n  USD: 1.0\n")
    return path


def test_fit_command_without_data(runner):
    result = runner.invoke(args=["clv", "fit"])
    assert result.exit_code == 1 and "no stored transactions to fit" in result.output
