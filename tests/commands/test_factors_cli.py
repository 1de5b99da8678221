"""``survey-engine factors analyse``: a response file from another survey tool in, report and JSON out."""
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from survey_engine.cli import cli

BFI = Path(__file__).resolve().parents[1] / "psychometrics" / "data" / "bfi.csv"
ITEMS = ",".join(f"{t}{i}" for t in "ACENO" for i in range(1, 6))


def invoke(*args):
    return CliRunner().invoke(cli, ["factors", "analyse", *args])


def test_analyse_writes_report_and_prints_summary(tmp_path):
    scales = tmp_path / "scales.yaml"
    scales.write_text("agreeableness: [-A1, A2, A3, A4, A5]\n")
    out = tmp_path / "report.json"
    result = invoke("--csv", str(BFI), "--items", ITEMS, "--reverse", "C4,C5,E1,E2,O2,O5",
                    "--scale-min", "1", "--scale-max", "6", "--scales", str(scales),
                    "--n-factors", "5", "--correlation", "pearson", "--json", str(out))
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    for key in ("n_respondents", "kmo", "bartlett", "parallel_analysis", "loadings", "communalities",
                "factor_correlations", "fit", "reliability", "exclusions"):
        assert key in report
    assert set(report["kmo"]) == {"overall", "per_item"}
    assert set(report["bartlett"]) == {"chi2", "df", "p"}
    assert {"suggested_factors", "eigenvalues", "simulated"} <= set(report["parallel_analysis"])
    assert {"rmsr", "tli", "rmsea", "bic"} <= set(report["fit"])
    assert report["n_factors"] == 5 and len(report["loadings"]["A2"]) == 5
    agree = report["reliability"]["agreeableness"]
    assert agree["items"] == ["-A1", "A2", "A3", "A4", "A5"]
    assert agree["alpha"] == pytest.approx(0.70, abs=0.01)  # psych::alpha(bfi[1:5], check.keys=TRUE): 0.70
    assert "Parallel analysis suggests" in result.output and "KMO overall" in result.output
    assert "agreeableness (scale)" in result.output and "missing data: pairwise" in result.output


@pytest.mark.parametrize("content, message", [
    ("A1,A2,A3\n1,2,3\n4,x,6\n", "column 'A2', line 3: 'x' is not a number"),
    ("A1,A2,A3\n1,2,3\n4,9,6\n", "column 'A2', line 3: 9 is above the scale 1–6"),
    ("A1,A2\n1,2\n", "item column(s) not found: A3"),
])
def test_bad_input_names_the_column_and_line(tmp_path, content, message):
    path = tmp_path / "answers.csv"
    path.write_text(content)
    result = invoke("--csv", str(path), "--items", "A1,A2,A3", "--scale-min", "1", "--scale-max", "6",
                    "--json", str(tmp_path / "out.json"))
    assert result.exit_code != 0
    assert message in result.output and str(path) in result.output
    assert not (tmp_path / "out.json").exists()


def test_option_errors(tmp_path):
    result = invoke("--csv", str(BFI), "--items", ITEMS, "--n-factors", "many", "--json", str(tmp_path / "o"))
    assert result.exit_code == 2 and "neither a whole number nor 'auto'" in result.output
    result = invoke("--csv", str(BFI), "--items", ITEMS, "--reverse", "Z9", "--json", str(tmp_path / "o"))
    assert result.exit_code == 2 and "Z9" in result.output
    scales = tmp_path / "scales.yaml"
    scales.write_text("nonsense: [A1, Q7]\n")
    result = invoke("--csv", str(BFI), "--items", ITEMS, "--scales", str(scales), "--n-factors", "5",
                    "--json", str(tmp_path / "o"))
    assert result.exit_code == 1 and "item 'Q7' is not among the analysed items" in result.output
    assert str(scales) in result.output
