"""Streaming parser for transaction CSV files: validated chunks in one reporting currency, and every
bad row reported with its line number and reason.

Memory use is bounded by ``chunk_size``: the file is read line by line with :mod:`csv` (so line
numbers stay exact even for quoted fields spanning lines) and each chunk is validated with
vectorised pandas operations.
"""
from __future__ import annotations

import csv
import io
import math
import os
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import IO, Iterator, Mapping

import numpy as np
import pandas as pd
import yaml

#: Environment variable naming a currency-rates YAML file that replaces the packaged one.
RATES_ENV = "SURVEY_ENGINE_CURRENCY_RATES"
DEFAULT_RATES_FILE = Path(__file__).with_name("currency_rates.yaml")
_CODE = re.compile(r"^[A-Z]{3}$")

#: Columns of a parsed chunk (``line`` is the 1-based line number in the source file).
CANONICAL_COLUMNS = (
    "line", "customer_id", "order_id", "line_id", "timestamp", "amount", "currency",
    "original_amount", "category", "channel", "store",
)


@dataclass(frozen=True)
class CurrencyRates:
    """Conversion table: ``rates[code]`` is the reporting-currency value of one unit of ``code``."""

    reporting_currency: str
    rates: Mapping[str, float]

    def __post_init__(self) -> None:
        if self.rates.get(self.reporting_currency) != 1.0:
            raise ValueError(f"rates: the reporting currency {self.reporting_currency} must have rate 1")


def parse_currency_rates(data, source: str = "<rates>") -> CurrencyRates:
    """Validate a parsed rates mapping; errors name ``source`` and the key."""
    if not isinstance(data, dict) or set(data) != {"reporting_currency", "rates"}:
        raise ValueError(f"{source}: expected exactly the keys reporting_currency and rates")
    reporting = data["reporting_currency"]
    if not isinstance(reporting, str) or not _CODE.match(reporting):
        raise ValueError(f"{source}: reporting_currency: expected a 3-letter ISO code, got {reporting!r}")
    rates = data["rates"]
    if not isinstance(rates, dict) or not rates:
        raise ValueError(f"{source}: rates: expected a mapping of currency code -> rate")
    parsed = {}
    for code, rate in rates.items():
        if not isinstance(code, str) or not _CODE.match(code):
            raise ValueError(f"{source}: rates.{code}: currency codes are 3 upper-case letters")
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate) or rate <= 0:
            raise ValueError(f"{source}: rates.{code}: must be a positive number, got {rate!r}")
        parsed[code] = float(rate)
    if parsed.get(reporting) != 1.0:
        raise ValueError(f"{source}: rates.{reporting}: the reporting currency must be listed with rate 1")
    return CurrencyRates(reporting, parsed)


def load_currency_rates(path: str | Path | None = None) -> CurrencyRates:
    """Load rates from ``path``, else from ``$SURVEY_ENGINE_CURRENCY_RATES``, else the packaged file."""
    chosen = Path(path) if path is not None else Path(os.environ.get(RATES_ENV) or DEFAULT_RATES_FILE)
    try:
        data = yaml.safe_load(chosen.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{chosen}: cannot read currency rates ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{chosen}: invalid YAML: {exc}") from None
    return parse_currency_rates(data, str(chosen))


@dataclass(frozen=True)
class TransactionColumns:
    """Source column names. ``customer``, ``date`` and ``amount`` are required; an optional column
    left as None is not read (no ``currency`` column means every amount is in ``default_currency``
    or the reporting currency)."""

    customer: str
    date: str
    amount: str
    currency: str | None = None
    order_id: str | None = None
    line_id: str | None = None
    category: str | None = None
    channel: str | None = None
    store: str | None = None

    def named(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


@dataclass(frozen=True)
class RejectedRow:
    """A source row that was not loaded: its line number, its problems and its raw fields.

    ``problems`` pairs each offending field (``customer``, ``date``, ``amount``, ``currency``,
    ``order_id``, ``line_id`` or ``row``) with a message; ``reason`` joins the messages.
    """

    line: int
    problems: tuple[tuple[str, str], ...]
    raw: tuple[str, ...]

    @property
    def reason(self) -> str:
        return "; ".join(message for _, message in self.problems)


@dataclass(frozen=True)
class ParsedChunk:
    """Valid rows (columns :data:`CANONICAL_COLUMNS`) and the rejects of one chunk."""

    rows: pd.DataFrame
    rejects: list[RejectedRow]


def _validate_chunk(
    records: list[list[str]],
    lines: list[int],
    index: dict[str, int],
    rates: CurrencyRates,
    default_currency: str,
    date_format: str | None,
) -> ParsedChunk:
    frame = pd.DataFrame(records, dtype=object)
    n = len(records)
    reasons: list[list[tuple[str, str]]] = [[] for _ in range(n)]

    def col(name: str) -> pd.Series:
        return frame[index[name]].astype(str).str.strip() if name in index else pd.Series([""] * n)

    def flag(mask: np.ndarray, field: str, message) -> None:
        for i in np.flatnonzero(mask):
            reasons[i].append((field, message(i) if callable(message) else message))

    customer = col("customer")
    flag((customer == "").to_numpy(), "customer", "missing customer id")
    for key in ("order_id", "line_id"):
        if key in index:
            flag((col(key) == "").to_numpy(), key, f"missing {key.replace('_', ' ')}")

    raw_date = col("date")
    fmt = date_format or "ISO8601"
    timestamp = pd.to_datetime(raw_date, format=fmt, errors="coerce", utc=True)
    bad_date = timestamp.isna().to_numpy()
    flag(bad_date, "date", lambda i: f"unparseable date {raw_date.iat[i]!r}" if raw_date.iat[i] else "missing date")

    raw_amount = col("amount")
    amount = pd.to_numeric(raw_amount, errors="coerce").to_numpy(dtype=float)
    non_numeric = ~np.isfinite(amount)
    flag(non_numeric, "amount", lambda i: f"amount {raw_amount.iat[i]!r} is not a number" if raw_amount.iat[i] else "missing amount")
    negative = ~non_numeric & (amount < 0)
    flag(negative, "amount", lambda i: f"negative amount {raw_amount.iat[i]}")

    currency = col("currency").str.upper() if "currency" in index else pd.Series([default_currency] * n)
    currency = currency.where(currency != "", default_currency)
    rate = currency.map(rates.rates).to_numpy(dtype=float)
    flag(np.isnan(rate), "currency", lambda i: f"unknown currency {currency.iat[i]!r}")

    bad = np.array([bool(r) for r in reasons], dtype=bool)
    rejects = [RejectedRow(lines[i], tuple(reasons[i]), tuple(records[i])) for i in np.flatnonzero(bad)]
    good = ~bad
    rows = pd.DataFrame(
        {
            "line": np.asarray(lines, dtype=np.int64)[good],
            "customer_id": customer[good].to_numpy(),
            "order_id": col("order_id")[good].to_numpy() if "order_id" in index else None,
            "line_id": col("line_id")[good].to_numpy() if "line_id" in index else None,
            "timestamp": timestamp[good].dt.tz_localize(None).to_numpy(),
            "amount": amount[good] * rate[good],
            "currency": currency[good].to_numpy(),
            "original_amount": amount[good],
            "category": col("category")[good].replace("", None).to_numpy() if "category" in index else None,
            "channel": col("channel")[good].replace("", None).to_numpy() if "channel" in index else None,
            "store": col("store")[good].replace("", None).to_numpy() if "store" in index else None,
        },
        columns=list(CANONICAL_COLUMNS),
    )
    return ParsedChunk(rows.reset_index(drop=True), rejects)


def iter_transaction_chunks(
    source: str | Path | IO[str],
    columns: TransactionColumns,
    rates: CurrencyRates,
    *,
    chunk_size: int = 50_000,
    date_format: str | None = None,
    default_currency: str | None = None,
    delimiter: str = ",",
) -> Iterator[ParsedChunk]:
    """Stream a transaction CSV as validated chunks of at most ``chunk_size`` source rows.

    Parameters
    ----------
    source : path or text file object
        CSV with a header row.
    columns : TransactionColumns
        Which header names hold which field.
    rates : CurrencyRates
        Amounts are converted into ``rates.reporting_currency`` (``amount``); the source amount and
        currency are kept in ``original_amount`` and ``currency``.
    date_format : str, optional
        ``strftime`` format of the date column (e.g. ``"%Y%m%d"``); ISO 8601 when omitted. Dates
        with a UTC offset are converted to UTC; the stored timestamps are naive UTC.
    default_currency : str, optional
        Currency of rows with an empty currency field or of all rows without a currency column;
        defaults to the reporting currency.

    Yields
    ------
    ParsedChunk
        Every row appears exactly once, either in ``rows`` or in ``rejects`` (with its 1-based line
        number and the reasons: missing customer id, missing order/line id, unparseable date,
        non-numeric or negative amount, unknown currency, wrong number of fields).

    Raises
    ------
    ValueError
        When the file is empty or lacks a configured column (message names the file and column).
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    default_currency = (default_currency or rates.reporting_currency).upper()
    if default_currency not in rates.rates:
        raise ValueError(f"default currency {default_currency!r} is not in the rates table")
    owns = not hasattr(source, "read")
    handle = open(source, newline="", encoding="utf-8-sig") if owns else source
    name = str(source) if owns else getattr(source, "name", "<stream>")
    try:
        reader = csv.reader(handle, delimiter=delimiter)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{name}: the file is empty (a header row is required)")
        header = [h.strip() for h in header]
        index: dict[str, int] = {}
        for key, column in columns.named().items():
            if column not in header:
                raise ValueError(f"{name}: no column {column!r} for {key} (header: {header})")
            index[key] = header.index(column)
        width = len(header)
        records: list[list[str]] = []
        lines: list[int] = []
        rejects: list[RejectedRow] = []
        last_line = reader.line_num
        for row in reader:
            start, last_line = last_line + 1, reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != width:
                problem = ("row", f"wrong number of fields (expected {width}, got {len(row)})")
                rejects.append(RejectedRow(start, (problem,), tuple(row)))
            else:
                records.append(row)
                lines.append(start)
            if len(records) + len(rejects) >= chunk_size:
                yield _flush(records, lines, rejects, index, rates, default_currency, date_format)
                records, lines, rejects = [], [], []
        if records or rejects:
            yield _flush(records, lines, rejects, index, rates, default_currency, date_format)
    finally:
        if owns:
            handle.close()


def _flush(records, lines, rejects, index, rates, default_currency, date_format) -> ParsedChunk:
    if records:
        chunk = _validate_chunk(records, lines, index, rates, default_currency, date_format)
        merged = sorted(rejects + chunk.rejects, key=lambda r: r.line)
        return ParsedChunk(chunk.rows, merged)
    empty = pd.DataFrame(columns=list(CANONICAL_COLUMNS))
    return ParsedChunk(empty, sorted(rejects, key=lambda r: r.line))


#: Keys of a transaction record posted as JSON (``customer_id``, ``timestamp`` and ``amount`` required).
RECORD_KEYS: dict[str, str] = {
    "customer_id": "customer", "order_id": "order_id", "line_id": "line_id", "timestamp": "date",
    "amount": "amount", "currency": "currency", "category": "category", "channel": "channel", "store": "store",
}


def validate_records(
    records: list[Mapping], rates: CurrencyRates, *, default_currency: str | None = None
) -> ParsedChunk:
    """Validate transaction records given as mappings (the JSON API) exactly like CSV rows.

    Keys are those of :data:`RECORD_KEYS`; ``line`` in the result is the 1-based position of the
    record. Values are converted to text first, so ``12.5`` and ``"12.5"`` are the same amount;
    timestamps are ISO 8601.
    """
    default_currency = (default_currency or rates.reporting_currency).upper()
    keys = list(RECORD_KEYS)
    index = {RECORD_KEYS[k]: i for i, k in enumerate(keys)}
    rows = [["" if record.get(k) is None else str(record.get(k)) for k in keys] for record in records]
    if not rows:
        return ParsedChunk(pd.DataFrame(columns=list(CANONICAL_COLUMNS)), [])
    return _validate_chunk(rows, list(range(1, len(rows) + 1)), index, rates, default_currency, None)


def write_rejects(rejects: list[RejectedRow], handle: IO[str], *, header: bool = True) -> None:
    """Append rejects to a CSV reject file with columns ``line``, ``reason``, ``raw_fields``
    (the original fields joined by the CSV writer into one quoted cell)."""
    writer = csv.writer(handle)
    if header:
        writer.writerow(["line", "reason", "raw_fields"])
    for rej in rejects:
        writer.writerow([rej.line, rej.reason, _join_fields(rej.raw)])


def _join_fields(fields_: tuple[str, ...]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerow(fields_)
    return buf.getvalue().rstrip("\r\n")


def read_transactions(
    source: str | Path | IO[str],
    columns: TransactionColumns,
    rates: CurrencyRates,
    **kwargs,
) -> tuple[pd.DataFrame, list[RejectedRow]]:
    """Parse a whole transaction file into one frame (for analyses that need all rows at once)."""
    parts, rejects = [], []
    for chunk in iter_transaction_chunks(source, columns, rates, **kwargs):
        if not chunk.rows.empty:
            parts.append(chunk.rows)
        rejects.extend(chunk.rejects)
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(CANONICAL_COLUMNS))
    return rows, rejects
