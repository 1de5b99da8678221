"""Streaming transaction CSV parsing: rejects with line numbers, currency conversion, chunking."""
import io

import numpy as np
import pandas as pd
import pytest
import yaml

from survey_engine.clv.transactions import (
    DEFAULT_RATES_FILE, RATES_ENV, CurrencyRates, TransactionColumns, iter_transaction_chunks,
    load_currency_rates, parse_currency_rates, read_transactions, write_rejects,
)

RATES = CurrencyRates("EUR", {"EUR": 1.0, "USD": 0.5, "GBP": 1.25})
COLUMNS = TransactionColumns(customer="client", date="ts", amount="value", currency="ccy",
                             order_id="order", line_id="line_no", category="cat", channel="chan", store="shop")

CSV = """client,order,line_no,ts,value,ccy,cat,chan,shop
C1,O1,1,2024-03-01T10:00:00,100,EUR,watches,store,Milano
C1,O1,2,2024-03-01T10:00:00,40,usd,jewellery,store,Milano
,O2,1,2024-03-02,10,EUR,shoes,online,
C2,O3,1,yesterday,10,EUR,shoes,online,
C2,O4,1,2024-03-03,-5,EUR,shoes,app,
C2,O5,1,2024-03-03,ten,EUR,shoes,app,
C3,O6,1,2024-03-04,20,XYZ,shoes,app,
C3,O7,1,2024-03-04,20,EUR,shoes
C4,O8,1,2024-03-05T09:00:00+02:00,8,GBP,"silk
scarf",app,Paris

C5,O9,1,2024-03-06,,,shoes,app,
"""


def _read(text, **kwargs):
    return read_transactions(io.StringIO(text), COLUMNS, RATES, **kwargs)


def test_good_rows_load_and_every_bad_row_is_reported_with_line_and_reason():
    rows, rejects = _read(CSV)
    assert [(r.line, r.reason) for r in rejects] == [
        (4, "missing customer id"),
        (5, "unparseable date 'yesterday'"),
        (6, "negative amount -5"),
        (7, "amount 'ten' is not a number"),
        (8, "unknown currency 'XYZ'"),
        (9, "wrong number of fields (expected 9, got 7)"),
        (13, "missing amount"),
    ]
    assert rejects[0].raw == ("", "O2", "1", "2024-03-02", "10", "EUR", "shoes", "online", "")
    assert rows["line"].tolist() == [2, 3, 10]  # the quoted field spans lines 10-11
    np.testing.assert_allclose(rows["amount"], [100.0, 20.0, 10.0])  # USD 0.5, GBP 1.25
    assert rows["currency"].tolist() == ["EUR", "USD", "GBP"]
    np.testing.assert_allclose(rows["original_amount"], [100.0, 40.0, 8.0])
    assert rows["timestamp"].iloc[2] == pd.Timestamp("2024-03-05 07:00:00")  # converted to UTC
    assert rows["category"].iloc[2] == "silk\nscarf"
    assert rows[["customer_id", "order_id", "line_id", "channel", "store"]].iloc[0].tolist() == \
        ["C1", "O1", "1", "store", "Milano"]


def test_several_problems_in_one_row_are_all_named():
    text = "client,order,line_no,ts,value,ccy,cat,chan,shop\n,O1,,never,-1,ABC,,,\n"
    _, rejects = _read(text)
    assert rejects[0].line == 2
    assert rejects[0].reason == ("missing customer id; missing line id; unparseable date 'never'; "
                                 "negative amount -1; unknown currency 'ABC'")


def test_chunks_are_bounded_and_give_the_same_rows():
    whole, rejects = _read(CSV)
    chunks = list(iter_transaction_chunks(io.StringIO(CSV), COLUMNS, RATES, chunk_size=2))
    assert all(len(c.rows) + len(c.rejects) <= 2 for c in chunks)
    assert len(chunks) == 5
    pd.testing.assert_frame_equal(pd.concat([c.rows for c in chunks if len(c.rows)], ignore_index=True), whole)
    assert [r.line for c in chunks for r in c.rejects] == [r.line for r in rejects]


def test_custom_date_format_and_default_currency():
    columns = TransactionColumns(customer="id", date="date", amount="amt")
    rows, rejects = read_transactions(io.StringIO("id,date,amt\n7,19970101,29.33\n7,1997-01-02,1\n"), columns, RATES,
                                      date_format="%Y%m%d", default_currency="USD")
    assert [r.reason for r in rejects] == ["unparseable date '1997-01-02'"]
    assert rows["timestamp"].tolist() == [pd.Timestamp("1997-01-01")]
    assert rows["amount"].tolist() == [pytest.approx(29.33 * 0.5)]
    assert rows["order_id"].isna().all()


def test_missing_columns_and_empty_files_name_the_file():
    with pytest.raises(ValueError, match="no column 'ccy' for currency"):
        _read("client,order,line_no,ts,value,cat,chan,shop\n")
    with pytest.raises(ValueError, match="the file is empty"):
        _read("")
    with pytest.raises(ValueError, match="default currency 'CHF' is not in the rates table"):
        _read(CSV, default_currency="chf")


def test_reject_file_has_line_reason_and_raw_fields():
    _, rejects = _read(CSV)
    out = io.StringIO()
    write_rejects(rejects[:2], out)
    back = pd.read_csv(io.StringIO(out.getvalue()), dtype=str, keep_default_na=False)
    assert back.columns.tolist() == ["line", "reason", "raw_fields"]
    assert back["line"].tolist() == ["4", "5"]
    assert back["raw_fields"].iloc[1] == "C2,O3,1,yesterday,10,EUR,shoes,online,"


def test_rates_file_packaged_env_and_path(tmp_path, monkeypatch):
    packaged = load_currency_rates()
    assert packaged.rates[packaged.reporting_currency] == 1.0
    assert load_currency_rates(DEFAULT_RATES_FILE) == packaged
    own = tmp_path / "rates.yaml"
    own.write_text(yaml.safe_dump({"reporting_currency": "USD", "rates": {"USD": 1, "EUR": 1.1}}))
    monkeypatch.setenv(RATES_ENV, str(own))
    assert load_currency_rates() == CurrencyRates("USD", {"USD": 1.0, "EUR": 1.1})
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump({"reporting_currency": "GBP", "rates": {"GBP": 1}}))
    assert load_currency_rates(other).reporting_currency == "GBP"  # an explicit path beats the environment


@pytest.mark.parametrize(
    "data, message",
    [
        ({"reporting_currency": "EUR", "rates": {"EUR": 1, "USD": 0}}, "rates.USD: must be a positive number"),
        ({"reporting_currency": "EUR", "rates": {"EUR": 1, "usd": 1}}, "rates.usd: currency codes"),
        ({"reporting_currency": "EUR", "rates": {"USD": 1}}, "rates.EUR: the reporting currency must be listed"),
        ({"reporting_currency": "euro", "rates": {"EUR": 1}}, "reporting_currency: expected a 3-letter"),
        ({"rates": {"EUR": 1}}, "expected exactly the keys"),
    ],
)
def test_invalid_rates_name_the_key(data, message):
    with pytest.raises(ValueError, match=message):
        parse_currency_rates(data, "rates.yaml")


def test_json_records_are_validated_like_csv_rows():
    from survey_engine.clv.transactions import validate_records

    parsed = validate_records(
        [{"customer_id": "C1", "order_id": "O1", "line_id": 1, "timestamp": "2024-03-01", "amount": 10, "currency": "usd"},
         {"customer_id": "C2", "order_id": "O2", "line_id": "1", "timestamp": "2024-03-01", "amount": "x"}],
        RATES,
    )
    assert parsed.rows["amount"].tolist() == [5.0] and parsed.rows["line_id"].tolist() == ["1"]
    assert [(r.line, r.problems) for r in parsed.rejects] == [(2, (("amount", "amount 'x' is not a number"),))]
