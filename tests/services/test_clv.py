"""CLV service on SQLite and PostgreSQL: streaming idempotent import with rejects, fit on stored
transactions (CDNOW reproduces the published estimates), versioned models, stored customer values."""
import importlib.util
import io
import tracemalloc
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlmodel import select

from survey_engine.clv.transactions import CurrencyRates, TransactionColumns
from survey_engine.models.clv import CLVModelRecord, CustomerValue, ImportRun, Transaction
from survey_engine.services import clv as service

RATES = CurrencyRates("EUR", {"EUR": 1.0, "USD": 0.5})
COLUMNS = TransactionColumns(customer="customer_id", date="timestamp", amount="amount", currency="currency",
                             order_id="order_id", line_id="line_id", category="category", channel="channel",
                             store="store_or_country")
HEADER = "customer_id,order_id,line_id,timestamp,amount,currency,category,channel,store_or_country\n"


@pytest.fixture(scope="module")
def cdnow_import_csv(tmp_path_factory) -> Path:
    """CDNOW_sample.txt (from the lifetimes package data) as an import file: one order per line."""
    spec = importlib.util.find_spec("lifetimes")
    raw = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "CDNOW_sample.txt"
    df = pd.read_csv(raw, sep=r"\s+", header=None, dtype=str, names=["master", "customer", "date", "cds", "amount"])
    out = pd.DataFrame({
        "customer_id": df["customer"], "order_id": [f"O{i}" for i in range(len(df))], "line_id": "1",
        "timestamp": pd.to_datetime(df["date"], format="%Y%m%d").dt.strftime("%Y-%m-%d"),
        "amount": df["amount"], "currency": "USD", "category": "music", "channel": "online", "store_or_country": "US",
    })
    path = tmp_path_factory.mktemp("cdnow") / "cdnow_import.csv"
    out.to_csv(path, index=False)
    return path


def test_import_is_idempotent_and_reports_rejects(db_engine, session, tmp_path):
    text = HEADER + (
        "C1,O1,1,2024-01-05,100,EUR,watches,store,MIL\n"
        "C1,O1,2,2024-01-05,40,USD,jewellery,store,MIL\n"
        "C2,O2,1,2024-01-06,-3,EUR,shoes,online,IT\n"
        "C2,O3,1,2024-13-01,3,EUR,shoes,online,IT\n"
        "C1,O1,2,2024-01-05,40,USD,jewellery,store,MIL\n"
    )
    source = tmp_path / "tx.csv"
    source.write_text(text)
    first = service.import_transactions_csv(db_engine, source, COLUMNS, RATES, rejects_to=tmp_path / "rej.csv")
    assert (first.rows_read, first.rows_loaded, first.rows_duplicate, first.rows_rejected) == (5, 2, 1, 2)
    assert [(r.line, r.reason) for r in first.rejects] == [(4, "negative amount -3"), (5, "unparseable date '2024-13-01'")]
    rejects = pd.read_csv(tmp_path / "rej.csv")
    assert rejects["line"].tolist() == [4, 5]
    stored = session.exec(select(Transaction).order_by(Transaction.line_id)).all()
    assert [(t.order_id, t.line_id, t.amount, t.currency, t.original_amount) for t in stored] == \
        [("O1", "1", 100.0, "EUR", 100.0), ("O1", "2", 20.0, "USD", 40.0)]
    assert stored[0].purchased_at.isoformat() == "2024-01-05T00:00:00+00:00"
    assert stored[0].category == "watches" and stored[0].store_or_country == "MIL"

    again = service.import_transactions_csv(db_engine, source, COLUMNS, RATES)
    assert (again.rows_loaded, again.rows_duplicate, again.rows_rejected) == (0, 3, 2)
    assert session.execute(sa.select(sa.func.count(Transaction.id))).scalar() == 2
    runs = session.exec(select(ImportRun).order_by(ImportRun.id)).all()
    assert [(r.status, r.rows_loaded, r.rows_rejected) for r in runs] == [("completed", 2, 2), ("completed", 0, 2)]
    assert runs[0].reject_reasons == {"negative amount": 1, "unparseable date": 1}


def test_import_needs_order_and_line_columns(db_engine):
    columns = TransactionColumns(customer="customer_id", date="timestamp", amount="amount")
    with pytest.raises(ValueError, match="--order-col and --line-col"):
        service.import_transactions_csv(db_engine, io.StringIO(HEADER), columns, RATES)


def test_a_failed_import_writes_nothing_and_records_the_failure(db_engine, session):
    text = HEADER + "C1,O1,1,2024-01-05,100,EUR,,,\n" + "C2,O2,1,2024-01-05,100,EUR,,,\n"
    long_id = "C" * 500  # longer than the column on PostgreSQL; SQLite does not enforce lengths
    text += f"{long_id},O3,1,2024-01-05,1,EUR,,,\n"
    columns_bad = TransactionColumns(customer="customer_id", date="timestamp", amount="amount",
                                     order_id="order_id", line_id="line_id")
    if db_engine.dialect.name == "sqlite":
        # SQLite does not enforce the length: make the third insert fail with a trigger instead
        with db_engine.begin() as connection:
            connection.execute(sa.text("CREATE TRIGGER fail_third BEFORE INSERT ON clv_transaction "
                                       "WHEN NEW.order_id = 'O3' BEGIN SELECT RAISE(ABORT, 'boom'); END"))
    try:
        with pytest.raises(Exception):
            service.import_transactions_csv(db_engine, io.StringIO(text), columns_bad, RATES, chunk_size=1)
    finally:
        if db_engine.dialect.name == "sqlite":
            with db_engine.begin() as connection:
                connection.execute(sa.text("DROP TRIGGER fail_third"))
    assert session.execute(sa.select(sa.func.count(Transaction.id))).scalar() == 0
    run = session.exec(select(ImportRun)).one()
    assert run.status == "failed" and run.error


def test_import_memory_does_not_grow_with_file_size(db_engine, tmp_path):
    def write(path, n, offset):
        with open(path, "w") as handle:
            handle.write(HEADER)
            for i in range(n):
                handle.write(f"C{i % 500},O{offset + i},1,2024-01-{1 + i % 28:02d},{10 + i % 90},EUR,shoes,app,IT\n")

    peaks = []
    for n, offset in ((4_000, 0), (16_000, 100_000)):
        path = tmp_path / f"tx{n}.csv"
        write(path, n, offset)
        tracemalloc.start()
        summary = service.import_transactions_csv(db_engine, path, COLUMNS, RATES, chunk_size=1_000)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert summary.rows_loaded == n
    # four times the rows, about the same peak (bounded by the chunk, not the file)
    assert peaks[1] < 1.5 * peaks[0], peaks


def test_records_import_is_all_or_nothing(db_engine, session):
    good = {"customer_id": "C1", "order_id": "A1", "line_id": "1", "timestamp": "2024-02-01T10:00:00+01:00",
            "amount": 12.5, "currency": "USD", "channel": "app"}
    bad = {"customer_id": "", "order_id": "A2", "line_id": "", "timestamp": "soon", "amount": "-1"}
    with pytest.raises(service.InvalidRecords) as info:
        service.import_transaction_records(db_engine, [good, bad], RATES)
    assert info.value.errors == {
        "transactions[1].customer_id": "missing customer id",
        "transactions[1].line_id": "missing line id",
        "transactions[1].timestamp": "unparseable date 'soon'",
        "transactions[1].amount": "negative amount -1",
    }
    assert session.execute(sa.select(sa.func.count(Transaction.id))).scalar() == 0
    summary = service.import_transaction_records(db_engine, [good], RATES)
    assert (summary.rows_loaded, summary.rows_duplicate) == (1, 0)
    stored = session.exec(select(Transaction)).one()
    assert stored.amount == 6.25 and stored.purchased_at.isoformat() == "2024-02-01T09:00:00+00:00"
    assert service.import_transaction_records(db_engine, [good], RATES).rows_duplicate == 1


def test_fit_on_stored_cdnow_reproduces_the_paper_and_versions_models(db_engine, session, cdnow_import_csv):
    rates = CurrencyRates("USD", {"USD": 1.0})
    summary = service.import_transactions_csv(db_engine, cdnow_import_csv, COLUMNS, rates)
    assert summary.rows_loaded == 6919

    validation = service.fit_clv_model(db_engine, calibration_end="1997-09-30", observation_end="1998-06-30")
    bg, gg = validation.params["bgnbd"], validation.params["gamma_gamma"]
    assert (round(bg["r"], 3), round(bg["alpha"], 3), round(bg["a"], 3), round(bg["b"], 3)) == (0.243, 4.414, 0.793, 2.426)
    assert round(validation.log_likelihood["bgnbd"], 1) == -9582.4
    assert (round(gg["p"], 2), round(gg["q"], 2), round(gg["gamma"], 2)) == (6.25, 3.74, 15.44)
    assert validation.kind == "validation" and not validation.is_active
    assert validation.report["holdout"]["comparison"]["levels"]["ultra_luxury"]["n_actual_top"] > 0

    first = service.fit_clv_model(db_engine)
    second = service.fit_clv_model(db_engine, horizon_weeks=26)
    models = session.exec(select(CLVModelRecord).order_by(CLVModelRecord.version)).all()
    assert [(m.version, m.kind, m.is_active) for m in models] == \
        [(1, "validation", False), (2, "production", False), (3, "production", True)]
    assert service.active_model(session).id == second.id
    assert models[1].options["horizon_weeks"] == 52.0 and models[2].options["horizon_weeks"] == 26
    assert models[1].data["n_transactions"] == 6919 and models[1].data["last_purchase"] == "1998-06-30"
    values = session.exec(select(CustomerValue).where(CustomerValue.model_id == first.id)).all()
    assert len(values) == 2357
    one = next(v for v in values if v.customer_external_id == "0001")
    assert one.frequency == 3 and one.tier in ("ultra_luxury", "luxury", "premium", "entry")
    assert 0 < one.p_alive <= 1 and one.clv > 0
    assert sum(v.tier == "ultra_luxury" for v in values) == 48


def test_stored_models_are_immutable(db_engine, session, cdnow_import_csv):
    service.import_transactions_csv(db_engine, cdnow_import_csv, COLUMNS, CurrencyRates("USD", {"USD": 1.0}))
    record = service.fit_clv_model(db_engine)
    model = session.get(CLVModelRecord, record.id)
    model.params = {"bgnbd": {}}
    with pytest.raises(ValueError, match="immutable"):
        session.flush()
    session.rollback()
    with pytest.raises(sa.exc.IntegrityError):  # a second active model violates the partial unique index
        session.add(CLVModelRecord(version=99, is_active=True))
        session.flush()
    session.rollback()


def test_a_failed_fit_keeps_the_active_model(db_engine, session, cdnow_import_csv):
    service.import_transactions_csv(db_engine, cdnow_import_csv, COLUMNS, CurrencyRates("USD", {"USD": 1.0}))
    active = service.fit_clv_model(db_engine)
    with pytest.raises(ValueError, match="no transactions on or before observation_end 1990-01-01"):
        service.fit_clv_model(db_engine, observation_end="1990-01-01")
    assert [m.id for m in session.exec(select(CLVModelRecord)).all()] == [active.id]
    assert service.active_model(session).id == active.id


def test_fit_without_transactions_is_a_clear_error(db_engine):
    with pytest.raises(ValueError, match="no stored transactions to fit"):
        service.fit_clv_model(db_engine)
